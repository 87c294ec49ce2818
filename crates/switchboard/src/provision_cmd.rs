//! `switchboard provision`: create or update the internal call's resources (see
//! docs/provisioning.md).

use std::process::ExitCode;

use anyhow::Context as _;
use switchboard_provision::{provision, Client, OutboundCallFlow, ProvisionOptions};

use crate::twilio_args::{credentials_from_env, http_api, ConnectionArgs};

/// Options of `provision`.
#[derive(clap::Args, Debug)]
pub struct ProvisionArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Where the enqueue function is deployed (the serverless domain, e.g.
    /// https://custom-flex-extensions-serverless-1234-dev.twil.io). Required against Twilio; on a
    /// Switchboard server the default is the server's built-in function.
    #[arg(long, value_name = "URL")]
    pub functions_base_url: Option<String>,
    /// A queue agents may call (repeatable). Default: every queue but "Internal Calls".
    #[arg(long = "queue", value_name = "NAME")]
    pub queues: Vec<String>,
    /// Print the plan (create / update / unchanged per resource) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Set the Flex Configuration's outbound_call_flows.default when it is missing.
    #[arg(long, requires = "caller_id")]
    pub set_outbound_call_flow: bool,
    /// The caller ID (E.164) for --set-outbound-call-flow.
    #[arg(long, value_name = "E164")]
    pub caller_id: Option<String>,
}

/// Runs `provision`.
pub fn run(args: &ProvisionArgs) -> anyhow::Result<ExitCode> {
    let target = args.connection.target()?;
    let credentials = credentials_from_env()?;
    let account_sid = credentials.account_sid.clone();
    let api = http_api(credentials)?;
    let client = Client::new(&api, target, account_sid);
    let outbound_call_flow = match (&args.caller_id, args.set_outbound_call_flow) {
        (Some(caller_id), true) => OutboundCallFlow::Set {
            caller_id: caller_id.clone(),
        },
        _ => OutboundCallFlow::Report,
    };
    let options = ProvisionOptions {
        workspace: args.connection.workspace.clone(),
        functions_base_url: args.functions_base_url.clone(),
        queues: args.queues.clone(),
        dry_run: args.dry_run,
        outbound_call_flow,
    };
    let mut stdout = std::io::stdout().lock();
    provision(&client, &options, &mut stdout)
        .context("provisioning stopped (finished steps stay done; run again to continue)")?;
    Ok(ExitCode::SUCCESS)
}
