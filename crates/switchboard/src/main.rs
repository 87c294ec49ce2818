//! The `switchboard` binary: command-line parsing and glue. The work lives in the library crates
//! (see ARCHITECTURE.md); each subcommand is a module here that turns arguments into calls on them
//! and outcomes into output and exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod expr_cmd;

/// Switchboard: agents call agents and queues, routed by a TaskRouter-compatible engine.
#[derive(Parser, Debug)]
#[command(name = "switchboard", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Evaluate a TaskRouter expression against task and/or worker attributes.
    Expr(expr_cmd::ExprArgs),
    /// Seed the demo workspace "Flex Task Assignment" and route two internal calls.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Expr(args) => expr_cmd::run(&args),
        Command::Demo => match demo::run() {
            Ok(code) => code,
            Err(e) => {
                eprintln!("switchboard demo: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
