//! Switchboard's whole-server measurements as a library: the server process a measurement
//! starts (`server`), REST helpers (`client`), SVG plots (`plot`), `load`, the load generator
//! behind `switchboard load` (simulated agent desktops over the real desktop protocol, internal
//! calls, REST load; latency per phase, server CPU and memory, JSON and a plot), and `peer`, the
//! simulated agents' audio that `load --media` and the relay benchmark share.
//!
//! The `switchboard-bench` binary (src/main.rs) adds the benchmarks that are not part of the
//! product's command line (`desktops`, `reads`, `relay`).

pub mod client;
pub mod load;
pub mod peer;
pub mod plot;
pub mod server;
