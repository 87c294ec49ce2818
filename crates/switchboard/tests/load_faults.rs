//! `switchboard load --fault kill-server`, bounded: 60 desktops, 20 calls connected at once, the
//! server killed with SIGKILL and started again on the same database. Checks outcomes only
//! (every desktop back, no stuck task, no task accepted twice, new calls ring), never timings.

use std::process::Command;

use serde_json::Value;

#[test]
fn kill_server_during_calls_leaves_nothing_stuck() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let json_path = dir.path().join("fault.json");
    let bin = env!("CARGO_BIN_EXE_switchboard");
    let out = Command::new(bin)
        .args(["load", "--bin", bin, "--fault", "kill-server"])
        .args(["--agents", "60", "--call-rate", "40", "--fault-calls", "20"])
        .args(["--fault-sample", "10"])
        .arg("--json")
        .arg(&json_path)
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("TWILIO_AUTH_TOKEN")
        .output()
        .expect("running switchboard load --fault kill-server");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let doc: Value = std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    assert!(
        out.status.success(),
        "the fault run failed:\n{stdout}\n{stderr}\n{doc:#}"
    );
    assert_eq!(doc["calls_connected_at_kill"], 20, "{doc:#}");
    assert_eq!(doc["desktops_reconnected"], 60, "{doc:#}");
    assert_eq!(doc["stuck_tasks"], Value::Array(vec![]), "{doc:#}");
    assert_eq!(doc["tasks_accepted_twice"], Value::Array(vec![]), "{doc:#}");
    // Both sides of every call connected before the kill were accepted once.
    assert!(
        doc["reservation_accepted_events"].as_u64().unwrap_or(0) >= 40,
        "{doc:#}"
    );
    assert_eq!(doc["sample"]["placed"], 10, "{doc:#}");
    assert_eq!(doc["sample"]["rang"], 10, "{doc:#}");
    assert_eq!(doc["sample"]["completed"], 10, "{doc:#}");
    assert_eq!(doc["passed"], true, "{doc:#}");
}
