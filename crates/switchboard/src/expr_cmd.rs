//! `switchboard expr`: evaluate one expression and print `true` or `false`.
//!
//! The context follows from what is given: `--task` alone is a workflow filter, `--worker` alone
//! a queue's `target_workers`, both a workflow target expression; with neither, a filter over
//! `{}`. Mistakes in the arguments go to stderr with exit code 2 and nothing on stdout.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchboard_expr::{Clock, Context, Expression, Scope, TaskScope};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Arguments of `switchboard expr`.
#[derive(clap::Args, Debug)]
pub struct ExprArgs {
    /// The expression.
    pub expression: String,
    /// The task's attributes, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub task: Option<String>,
    /// The worker's attributes, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub worker: Option<String>,
    /// The time `taskrouter.*` reads, RFC 3339 with any offset (default: now).
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
}

/// Runs the subcommand.
pub fn run(args: &ExprArgs) -> ExitCode {
    match evaluate(args) {
        Ok(result) => {
            println!("{result}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn object(argument: &str, text: Option<&str>) -> Result<Option<Value>, String> {
    let Some(text) = text else { return Ok(None) };
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("{argument}: invalid JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!("{argument}: expected a JSON object"));
    }
    Ok(Some(value))
}

fn clock(now: Option<&str>) -> Result<Clock, String> {
    let unix_millis = match now {
        Some(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|e| format!("--now: invalid RFC 3339 time {text:?}: {e}"))?;
            i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000))
                .map_err(|_| "--now: time out of range".to_owned())?
        }
        None => {
            let since = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        }
    };
    Ok(Clock::from_unix_millis(unix_millis))
}

fn evaluate(args: &ExprArgs) -> Result<bool, String> {
    let task = object("--task", args.task.as_deref())?;
    let worker = object("--worker", args.worker.as_deref())?;
    let now = clock(args.now.as_deref())?;
    let context = match (&task, &worker) {
        (Some(_), Some(_)) => Context::Target,
        (None, Some(_)) => Context::TargetWorkers,
        _ => Context::Filter,
    };
    let expression = Expression::parse(&args.expression, context)
        .map_err(|e| format!("invalid expression: {e}"))?;
    let empty = Value::Object(serde_json::Map::new());
    let task_attributes = match (&task, &worker) {
        (Some(task), _) => Some(task),
        (None, None) => Some(&empty),
        (None, Some(_)) => None,
    };
    let scope = Scope {
        task: task_attributes.map(|attributes| TaskScope {
            attributes,
            sid: None,
        }),
        worker: worker
            .as_ref()
            .map(|w| w as &dyn switchboard_expr::WorkerFacts),
        workers: None,
        now: Some(now),
    };
    Ok(expression.evaluate(&scope))
}
