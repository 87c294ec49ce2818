//! Switchboard's server: the driver of the contact-center core (`switchboard-center`) and
//! everything that touches the world for it: HTTP and WebSocket, the store, the clock, webhooks
//! and TwiML fetches.
//!
//! Layout:
//! - `driver`: the one thread that owns the center and the store, feeds the center its inputs
//!   with the time, commits what it makes durable, and carries out the rest.
//! - `api`: the routes (TaskRouter v1, Flex Configuration, API keys, Voice, access tokens, the
//!   desktop WebSocket, built-in functions, the desktop app); `http`: the wire they share
//!   (Twilio's error body, form parameters, paging); `app`: what every handler can reach.
//! - `render`: resources as Twilio's JSON shapes; `events`: events as stored rows and webhook
//!   parameters, and the webhook sender; `fetcher`: TwiML requests for the voice layer.
//! - `prepare`: starting a server (store, replay, relay, recorder) and serving it.
//! - `reader`: slow reads off the core thread; `conn`: accepting connections (the cap,
//!   timeouts, graceful shutdown); `config`: how a server is set up.
//! - `cluster`: several nodes on one PostgreSQL database: the lease, and the front that
//!   forwards every request to the node that holds it.
//! - `credentials`, `tokens`, `signature`, `ids`: authentication, desktop access tokens,
//!   `X-Twilio-Signature`, random identifiers. `demo`: seeding the demo workspace.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
pub mod clock;
pub mod cluster;
pub mod config;
mod conn;
pub mod credentials;
pub mod demo;
pub mod driver;
pub mod events;
pub mod fetcher;
pub mod http;
pub mod ids;
mod prepare;
pub mod reader;
pub mod recordings;
pub mod render;
pub mod signature;
pub mod tokens;

pub use crate::config::{Config, Limits, MediaConfig, SnapshotPolicy};
pub use crate::prepare::{prepare, prepare_with_store, Prepared, StartError};
