//! The `switchboard` binary: command-line parsing and glue. The work lives in the library crates
//! (see ARCHITECTURE.md); each subcommand is a module here that turns arguments into calls on them
//! and outcomes into output and exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod expr_cmd;
mod generate_env_cmd;
mod provision_cmd;
mod serve;
mod twilio_args;

/// Switchboard: agents call agents and queues, routed by a TaskRouter-compatible engine.
#[derive(Parser, Debug)]
#[command(name = "switchboard", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Run the server with the demo workspace "Flex Task Assignment" seeded.
    Demo(serve::DemoArgs),
    /// Evaluate a TaskRouter expression against task and/or worker attributes.
    Expr(expr_cmd::ExprArgs),
    /// Create or update the internal call's application, queue, workflow and Flex flags, on
    /// Twilio or a Switchboard server (credentials from TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN,
    /// or TWILIO_API_KEY and TWILIO_API_SECRET).
    Provision(provision_cmd::ProvisionArgs),
    /// Write the internal call's SIDs to a .env file (or stdout), found by friendly name.
    GenerateEnv(generate_env_cmd::GenerateEnvArgs),
    /// Load a server on this machine: simulated agent desktops over the desktop protocol,
    /// internal calls to agents and queues at a rate, REST requests; latency per phase
    /// (p50/p99/p99.9/max), errors, server CPU and memory, as JSON and an SVG plot.
    Load(switchboard_bench::load::Args),
}

/// mimalloc rather than glibc's malloc: the relay's per-packet work costs about 10 % less CPU on
/// it (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Expr(args) => return expr_cmd::run(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Demo(args) => serve::demo(&args),
        Command::Provision(args) => provision_cmd::run(&args),
        Command::GenerateEnv(args) => generate_env_cmd::run(&args),
        Command::Load(args) => switchboard_bench::load::main(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}
