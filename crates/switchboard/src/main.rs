//! The `switchboard` binary: command-line parsing and glue. The work lives in the library crates
//! (see ARCHITECTURE.md); each subcommand is a module here that turns arguments into calls on them
//! and outcomes into output and exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod expr_cmd;
mod serve;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Expr(args) => return expr_cmd::run(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Demo(args) => serve::demo(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}
