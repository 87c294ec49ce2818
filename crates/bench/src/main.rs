//! `switchboard-bench`: measures a real Switchboard server over loopback and prints what it
//! measured (and, with `--plot`, draws it). Not a test: its numbers go to docs/benchmarks.md.
//!
//! - `desktops`: GET throughput and the latency of an unrelated write with N connected agent
//!   desktops and R live reservations, against the same workspace with none.
//! - `reads`: the latency of an unrelated GET while clients loop on 30-day statistics.
//! - `writes`: durable task creations per second from many concurrent clients, and their
//!   latency.
//! - `relay`: server CPU, loss, delay and jitter of N forwarded two-party calls and of mixed
//!   rooms, against Janus (videocall, AudioBridge) on the same load.
//!
//! Every run starts its own server (`--bin`, default the release build) on 127.0.0.1 with a
//! fresh database in a temporary folder, and stops it at the end.

mod audio_plot;
mod desktops;
mod reads;
mod relay;
mod routing_plot;
mod writes;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "switchboard-bench",
    about = "Load benchmarks for Switchboard (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Requests and writes with many connected desktops and live reservations.
    Desktops(desktops::Args),
    /// Unrelated GETs while clients loop on heavy statistics.
    Reads(reads::Args),
    /// Audio relay capacity: forwarded calls and mixed participants per core, against Janus.
    Relay(relay::Args),
    /// Durable task creations per second from many concurrent clients.
    Writes(writes::Args),
    /// Draws several `switchboard load --media` runs against the calls talking at once.
    AudioPlot(audio_plot::Args),
    /// Draws the routing engine's Criterion results beside their targets.
    RoutingPlot(routing_plot::Args),
}

/// mimalloc rather than glibc's malloc, as the server: the simulated agents need about 10 % less
/// CPU on it, which leaves the client more headroom (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Desktops(a) => desktops::run(a).await,
            Command::Reads(a) => reads::run(a).await,
            Command::Relay(a) => relay::run(a).await,
            Command::Writes(a) => writes::run(a).await,
            Command::AudioPlot(a) => audio_plot::run(a),
            Command::RoutingPlot(a) => routing_plot::run(a),
        }
    })
}
