//! `switchboard generate-env`: write the internal call's SIDs to a .env file (see
//! docs/provisioning.md).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use switchboard_provision::env::{find_variables, merge_env_file};
use switchboard_provision::Client;

use crate::twilio_args::{credentials_from_env, http_api, ConnectionArgs};

/// Options of `generate-env`.
#[derive(clap::Args, Debug)]
pub struct GenerateEnvArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The .env file to write (other lines in it are kept). Default: print to stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `generate-env`.
pub fn run(args: &GenerateEnvArgs) -> anyhow::Result<ExitCode> {
    let target = args.connection.target()?;
    let credentials = credentials_from_env()?;
    let account_sid = credentials.account_sid.clone();
    let api = http_api(credentials)?;
    let client = Client::new(&api, target, account_sid);
    let variables = find_variables(&client, &args.connection.workspace)
        .context("cannot generate the .env variables")?;
    match &args.output {
        None => {
            let mut stdout = std::io::stdout().lock();
            for (name, value) in &variables {
                writeln!(stdout, "{name}={value}")?;
            }
        }
        Some(path) => {
            let existing = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => {
                    return Err(e).with_context(|| format!("reading {}", path.display()));
                }
            };
            let merged = merge_env_file(&existing, &variables);
            std::fs::write(path, merged).with_context(|| format!("writing {}", path.display()))?;
            for (name, value) in &variables {
                println!("{name}={value}");
            }
            println!("Wrote {} variables to {}.", variables.len(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
