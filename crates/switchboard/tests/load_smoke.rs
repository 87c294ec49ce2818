//! `switchboard load` end to end: it starts a server of its own (this build), signs in 20
//! desktops, places calls at 5 per second for 3 s with some REST load, and writes its figures.
//! Only that figures were produced is checked, never how fast anything was. With `--media`, 6
//! desktops place a few calls of 1.5 s that carry audio through the server's relay.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

#[test]
fn load_produces_figures_json_and_a_plot() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let json_path = dir.path().join("load.json");
    let svg_path = dir.path().join("load.svg");
    let bin = env!("CARGO_BIN_EXE_switchboard");
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["load", "--bin", bin])
        .args(["--agents", "20", "--call-rate", "5", "--duration-s", "3"])
        .args([
            "--talk-ms",
            "300",
            "--queue-share",
            "0.3",
            "--rest-rate",
            "30",
        ])
        .arg("--json")
        .arg(&json_path)
        .arg("--plot")
        .arg(&svg_path)
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("TWILIO_AUTH_TOKEN")
        .output()
        .expect("running switchboard load");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "switchboard load failed: {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the smoke run took {:?}",
        started.elapsed()
    );

    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("the JSON file"))
            .expect("the JSON parses");
    let step = &doc["steps"][0];
    assert_eq!(step["connected_desktops"], 20, "{step:#}");
    assert!(
        step["calls"]["completed"].as_u64().unwrap_or(0) > 0,
        "{step:#}"
    );
    for phase in ["click_to_ring", "accept_to_connected", "hangup_to_wrapped"] {
        let p = &step["phases"][phase];
        assert!(p["count"].as_u64().unwrap_or(0) > 0, "{phase}: {p}");
        assert!(p["p99_ms"].as_f64().is_some(), "{phase}: {p}");
    }
    for op in ["create", "update", "list"] {
        let r = &step["rest"][op];
        assert!(r["count"].as_u64().unwrap_or(0) > 0, "REST {op}: {r}");
    }
    assert!(
        step["server"]["rss_mib"].as_f64().unwrap_or(0.0) > 0.0,
        "{step:#}"
    );
    let svg = std::fs::read_to_string(&svg_path).expect("the SVG file");
    assert!(svg.len() > 1000 && svg.contains("<svg"), "{svg}");
    // The Markdown table on stdout has the step's row.
    assert!(String::from_utf8_lossy(&out.stdout).contains("| 20 | 20 |"));
}

#[test]
fn load_with_media_carries_audio_both_ways() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let json_path = dir.path().join("media.json");
    let bin = env!("CARGO_BIN_EXE_switchboard");
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["load", "--bin", bin, "--media"])
        .args(["--agents", "6", "--call-rate", "2", "--duration-s", "2"])
        .args(["--talk-ms", "1500"])
        .arg("--json")
        .arg(&json_path)
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("TWILIO_AUTH_TOKEN")
        .output()
        .expect("running switchboard load --media");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "switchboard load --media failed: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the media smoke run took {:?}",
        started.elapsed()
    );

    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("the JSON file"))
            .expect("the JSON parses");
    let step = &doc["steps"][0];
    let media = &step["media"];
    let n = |k: &str| media[k].as_u64().unwrap_or(0);
    // Calls with audio: both sides received frames stamped by the other, through the relay.
    assert!(n("calls_with_audio") > 0, "{media:#}");
    assert!(n("max_concurrent_calls_with_audio") > 0, "{media:#}");
    assert!(
        n("calls_with_audio") <= step["calls"]["completed"].as_u64().unwrap_or(0),
        "{step:#}"
    );
    assert!(n("min_frames_from_party_per_side") > 0, "{media:#}");
    assert!(n("frames_received") > 0, "{media:#}");
    assert!(n("frames_received") <= n("frames_sent"), "{media:#}");
    // Loss under a generous bound, and delays were measured.
    let loss = media["loss_percent"].as_f64().expect("a loss figure");
    assert!((0.0..10.0).contains(&loss), "{media:#}");
    assert!(
        media["one_way_delay"]["p50_ms"].as_f64().is_some(),
        "{media:#}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("calls with audio"),
        "the summary has the audio table"
    );
}

#[test]
fn load_says_which_server_is_unreachable() {
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("http://127.0.0.1:{port}");
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "load",
            "--url",
            &url,
            "--account-sid",
            "AC1",
            "--auth-token",
            "t",
        ])
        .args(["--agents", "2", "--duration-s", "1"])
        .output()
        .expect("running switchboard load");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not reachable") && stderr.contains(&format!("{url}/readyz")),
        "{stderr}"
    );
}
