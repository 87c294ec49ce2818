//! Old data still opens: the database release 0.1 wrote (`fixtures/legacy-v0.1`) replays through
//! this release's center into the same state. With the clock set, for each request, to the
//! instant the old server answered it, every one of the 258 recorded GETs answers the same now
//! (ages and windows included).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchboard_server::driver::Clock;
use switchboard_server::{prepare, Config, Limits};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/legacy-v0.1");

fn normalize(v: &mut Value) {
    // Object key order is not part of the answer.
    if let Value::Object(m) = v {
        let sorted: BTreeMap<String, Value> = std::mem::take(m).into_iter().collect();
        for (k, mut x) in sorted {
            normalize(&mut x);
            m.insert(k, x);
        }
    } else if let Value::Array(a) = v {
        a.iter_mut().for_each(normalize);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_release_0_1_replays_into_the_same_state() {
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURE}/state.json")).unwrap())
            .unwrap();
    let meta = &state["meta"];
    let captured = state["captured_at_ms"].as_i64().unwrap();
    let clock_ms = Arc::new(AtomicI64::new(captured));
    let read = clock_ms.clone();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    std::fs::copy(format!("{FIXTURE}/switchboard.db"), &db).unwrap();
    let prepared = prepare(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{}", db.display()),
        public_url: Some(meta["public_url"].as_str().unwrap().to_owned()),
        account_sid: Some(meta["account_sid"].as_str().unwrap().to_owned()),
        auth_token: Some(meta["auth_token"].as_str().unwrap().to_owned()),
        webhook_attempts: 1,
        webhook_backoff: Duration::from_millis(10),
        fetch_timeout: Duration::from_secs(1),
        internal_call_workflow_sid: None,
        demo: true,
        queue_call_timeout: Duration::from_secs(120),
        limits: Limits::default(),
        clock: Clock::from_fn(move || read.load(Ordering::SeqCst)),
        media: None,
    })
    .await
    .expect("the old database opens");
    let base = format!("http://{}", prepared.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(prepared.serve(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let (account, token) = (
        meta["account_sid"].as_str().unwrap(),
        meta["auth_token"].as_str().unwrap(),
    );
    let mut compared = 0;
    let mut differences = Vec::new();
    // In the order the old server was asked: the server's clock never goes back.
    let mut paths: Vec<(&String, &Value)> = state
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with('/'))
        .collect();
    paths.sort_by_key(|(p, _)| meta["request_ms"][p.as_str()][0].as_i64());
    for (path, old) in paths {
        // The old server read its clock at some instant between sending and answering this
        // request: the new one must answer the same at one of the two ends of that window.
        let window = &meta["request_ms"][path];
        let mut tried = Vec::new();
        let mut same = false;
        for at in [window[0].as_i64(), window[1].as_i64()]
            .into_iter()
            .flatten()
        {
            clock_ms.store(at, Ordering::SeqCst);
            let r = client
                .get(format!("{base}{path}"))
                .basic_auth(account, Some(token))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let want_status = meta["status"][path].as_u64().unwrap_or(200) as u16;
            let mut now: Value =
                serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
            normalize(&mut now);
            let mut want = old.clone();
            normalize(&mut want);
            // Release 0.1 answered with the keys it stored; this one answers every key of
            // Twilio's document: the old keys must answer the same.
            if path == "/v1/Configuration" {
                if let (Value::Object(now), Value::Object(want)) = (&mut now, &want) {
                    now.retain(|k, _| want.contains_key(k));
                }
            }
            if status == want_status && now == want {
                same = true;
                break;
            }
            tried.push(format!(
                "at {at}: {status} (was {want_status})\n  now: {now}\n  was: {want}"
            ));
        }
        if !same {
            differences.push(format!("{path}:\n{}", tried.join("\n")));
        }
        compared += 1;
    }
    let _ = stop.send(());
    let _ = server.await;
    assert!(compared >= 250, "only {compared} answers were compared");
    assert!(
        differences.is_empty(),
        "{} of {compared} answers differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
