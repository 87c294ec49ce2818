//! `switchboard expr` run as a program: output, exit codes, and which context each option picks.

use std::process::Command;

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn expr(args: &[&str]) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("expr")
        .args(args)
        .output()
        .expect("run switchboard");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn assert_prints(args: &[&str], expected: &str) {
    let out = expr(args);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), expected),
        "args {args:?}, stderr {:?}",
        out.stderr
    );
}

fn assert_usage_error(args: &[&str], stderr_contains: &str) {
    let out = expr(args);
    assert_eq!(out.code, Some(2), "args {args:?}");
    assert_eq!(out.stdout, "", "args {args:?}");
    assert!(
        out.stderr.contains(stderr_contains),
        "args {args:?}: stderr {:?} lacks {stderr_contains:?}",
        out.stderr
    );
}

#[test]
fn constant_expressions() {
    assert_prints(&["1 == 1"], "true\n");
    assert_prints(&["1 == 2"], "false\n");
    // Neither --task nor --worker: a filter over `{}`, so any key is missing.
    assert_prints(&["type == null"], "true\n");
}

#[test]
fn task_only_is_a_filter() {
    let task = r#"{"type": "support", "langs": ["en", "fr"]}"#;
    assert_prints(
        &["type == 'support' AND langs HAS 'fr'", "--task", task],
        "true\n",
    );
    assert_prints(&["type == 'sales'", "--task", task], "false\n");
}

#[test]
fn worker_only_is_target_workers() {
    let worker = r#"{"skills": ["support"], "activity_name": "Busy"}"#;
    assert_prints(&["skills HAS 'support'", "--worker", worker], "true\n");
    // No worker built-ins here: activity_name reads the attribute.
    assert_prints(&["activity_name == 'Busy'", "--worker", worker], "true\n");
    assert_usage_error(
        &["taskrouter.currentHour == '08'", "--worker", worker],
        "invalid expression: 'taskrouter.currentHour' cannot be used in target_workers",
    );
}

#[test]
fn task_and_worker_is_a_target() {
    let task = r#"{"lang": "fr", "worker_sid": "WK1"}"#;
    let worker = r#"{"langs": ["en", "fr"], "sid": "WK1"}"#;
    let args = |e| vec![e, "--task", task, "--worker", worker];
    assert_prints(
        &args("task.lang IN worker.langs AND task.worker_sid == worker.sid"),
        "true\n",
    );
    assert_prints(&args("task.lang NOT IN worker.langs"), "false\n");
    assert_usage_error(
        &args("lang == 'fr'"),
        "keys in a target expression must start with",
    );
}

#[test]
fn now_with_offset() {
    // 01:30 at -05:00 is 06:30 UTC, still Friday; 23:30 at -05:00 is Saturday 04:30 UTC.
    let at = |now, e| expr(&[e, "--now", now]);
    let friday = "2024-03-15T01:30:00-05:00";
    assert_eq!(
        at(friday, "taskrouter.currentHour == '06'").stdout,
        "true\n"
    );
    assert_eq!(at(friday, "taskrouter.currentTime == 630").stdout, "true\n");
    assert_eq!(at(friday, "taskrouter.dayOfWeek == 'Fri'").stdout, "true\n");
    let saturday = "2024-03-15T23:30:00-05:00";
    assert_eq!(
        at(
            saturday,
            "taskrouter.dayOfWeek == 'Sat' AND taskrouter.currentHour < 5"
        )
        .stdout,
        "true\n"
    );
    assert_eq!(
        at("2024-03-15T23:30:00Z", "taskrouter.dayOfWeek == 'Fri'").stdout,
        "true\n"
    );
    assert_usage_error(
        &["1 == 1", "--now", "yesterday"],
        "--now: invalid RFC 3339 time",
    );
}

#[test]
fn invalid_expression() {
    let out = expr(&["type IN", "--task", "{}"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(2), ""));
    assert_eq!(
        out.stderr,
        "invalid expression: expected a value after IN at column 8\n"
    );
    assert_usage_error(
        &["is_vip"],
        "expected an operator after 'is_vip' at column 1",
    );
}

#[test]
fn invalid_json() {
    assert_usage_error(&["1 == 1", "--task", "{not json"], "--task: invalid JSON: ");
    assert_usage_error(
        &["1 == 1", "--worker", "{\"a\": }"],
        "--worker: invalid JSON: ",
    );
}

#[test]
fn json_that_is_not_an_object() {
    assert_usage_error(
        &["1 == 1", "--task", "[1, 2]"],
        "--task: expected a JSON object",
    );
    assert_usage_error(
        &["1 == 1", "--worker", "\"x\""],
        "--worker: expected a JSON object",
    );
}
