//! `switchboard-bench relay` end to end at a small size: 4 forwarded calls through the real
//! server (this workspace's `switchboard`, built beside the bench binary) and one mixed room of
//! three through the in-process relay, Janus off, nothing pinned; and 2 forwarded calls whose
//! peers reach the relay over ICE-TCP. Only that the audio went through is checked (every row
//! present, its frames received), never how fast anything was.

use std::path::Path;
use std::process::Command;

/// The cells of the Markdown table row that starts with `| {system} | {n} |`.
fn row(table: &str, system: &str, n: usize) -> Option<Vec<String>> {
    let start = format!("| {system} | {n} |");
    table.lines().find(|l| l.starts_with(&start)).map(|l| {
        l.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    })
}

fn number(cells: &[String], i: usize) -> f64 {
    cells
        .get(i)
        .and_then(|c| c.split_whitespace().next())
        .and_then(|c| c.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Runs `switchboard-bench relay` small, unpinned, Janus off, with `args`; its table.
fn relay(args: &[&str]) -> String {
    let bench = env!("CARGO_BIN_EXE_switchboard-bench");
    let server = Path::new(bench).with_file_name("switchboard");
    assert!(
        server.exists(),
        "{} is missing: build the workspace (cargo build --workspace) first",
        server.display()
    );
    let out = Command::new(bench)
        .arg("relay")
        .arg("--bin")
        .arg(&server)
        .args(args)
        .args(["--seconds", "2", "--settle", "0.5", "--janus", "off"])
        .args(["--server-cpus", "", "--client-cpus", ""])
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("TWILIO_AUTH_TOKEN")
        .output()
        .expect("running switchboard-bench relay");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "relay failed: {stderr}\n{stdout}");
    stdout
}

/// The forwarding row of `system` at `n` calls got its frames through, with a delay.
fn forwarded(stdout: &str, system: &str, n: usize) {
    // system, calls, CPU %, µs per call-second, calls per core, loss %, p50, p99…
    let forward =
        row(stdout, system, n).unwrap_or_else(|| panic!("no {system} forwarding row:\n{stdout}"));
    let loss = number(&forward, 5);
    assert!(
        (0.0..5.0).contains(&loss),
        "forwarded loss {loss}%:\n{stdout}"
    );
    let p50 = number(&forward, 6);
    assert!(
        p50.is_finite() && p50 >= 0.0,
        "no delay measured:\n{stdout}"
    );
}

#[test]
fn relay_forwards_and_mixes_a_few_calls() {
    let stdout = relay(&["--calls", "4", "--participants", "3", "--room", "3"]);
    forwarded(&stdout, "switchboard", 4);

    // Mixing: system, participants, CPU %, µs per participant-second, per core, loss %.
    let mix = row(&stdout, "switchboard", 3).unwrap_or_else(|| panic!("no mixing row:\n{stdout}"));
    let loss = number(&mix, 5);
    assert!((0.0..5.0).contains(&loss), "mixed loss {loss}%:\n{stdout}");
}

/// The same calls with every peer on ICE-TCP (the server offering only its TCP listener).
#[test]
fn relay_forwards_a_few_calls_over_ice_tcp() {
    let stdout = relay(&["--only", "forward", "--calls", "2", "--transport", "tcp"]);
    forwarded(&stdout, "switchboard (ICE-TCP)", 2);
}
