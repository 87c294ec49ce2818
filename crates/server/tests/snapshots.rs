//! Snapshots and the log's pruning, end to end.
//!
//! - A server snapshotting every 50 entries under a REST workload (tasks created, updated and
//!   canceled, workers' attributes and activities changed), restarted several times: after
//!   each start the REST reads (workspaces, workers, tasks, queues, events, ...) are the ones
//!   read before it stopped, the log holds fewer entries than were ever logged, and numbering
//!   goes on where it was.
//! - Real server processes (this test binary run again as a server) snapshotting every 20
//!   entries, each snapshot write held open a moment inside its transaction, killed with
//!   `kill -9` at random moments and in the middle of snapshot writes, and started again: every
//!   start succeeds and every acknowledged write is there.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::process::{free_port, ServerProcess};
use support::{Server, ACCOUNT, TOKEN};
use switchboard_server::driver::Clock;
use switchboard_server::{Limits, SnapshotPolicy};
use switchboard_store::{SqliteStore, Store};

// ---------------------------------------------------------------------------------------------
// Restarts in process

fn every(entries: u64) -> SnapshotPolicy {
    SnapshotPolicy {
        every_entries: Some(entries),
        every: None,
        ..SnapshotPolicy::default()
    }
}

/// Drops what depends on the moment of reading (a task's age).
fn steady(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("age");
            m.values_mut().for_each(steady);
        }
        Value::Array(items) => items.iter_mut().for_each(steady),
        _ => {}
    }
}

/// Everything the REST API shows of the workspaces, as text (the server's base URL, which
/// changes with its port, left out).
async fn observed(server: &Server) -> String {
    let mut parts = vec![server.get(&format!("{}/v1/Workspaces", server.base)).await];
    for path in [
        "",
        "/Workers?PageSize=1000",
        "/Tasks?PageSize=1000",
        "/TaskQueues?PageSize=1000",
        "/Workflows?PageSize=1000",
        "/Activities?PageSize=1000",
        "/TaskChannels?PageSize=1000",
        "/Events?PageSize=1000",
    ] {
        parts.push(server.get(&server.ws_url(path)).await);
    }
    let mut all = Value::Array(parts);
    steady(&mut all);
    serde_json::to_string_pretty(&all)
        .unwrap()
        .replace(&server.base, "BASE")
}

/// The demo's workflow that routes any task.
fn anyone(workflows: &Value) -> String {
    workflows["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["friendly_name"] == "Assign to Anyone")
        .and_then(|w| w["sid"].as_str())
        .unwrap()
        .to_owned()
}

/// One round of changes: tasks created, some updated, some canceled; workers changed.
async fn workload(server: &Server, round: usize) -> usize {
    let mut changes = 0;
    let workflow = anyone(&server.get(&server.ws_url("/Workflows")).await);
    let workers = server.get(&server.ws_url("/Workers?PageSize=1000")).await;
    let workers: Vec<String> = workers["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["sid"].as_str().unwrap().to_owned())
        .collect();
    let activities = server.get(&server.ws_url("/Activities")).await;
    let activities: Vec<String> = activities["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sid"].as_str().unwrap().to_owned())
        .collect();
    for i in 0..30 {
        let attributes = json!({"type": "snapshot-test", "round": round, "i": i}).to_string();
        let (status, task) = server
            .post(
                &server.ws_url("/Tasks"),
                &[
                    ("Attributes", attributes.as_str()),
                    ("WorkflowSid", workflow.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 201, "{task}");
        changes += 1;
        let sid = task["sid"].as_str().unwrap().to_owned();
        if i % 3 == 0 {
            let (status, v) = server
                .post(
                    &server.ws_url(&format!("/Tasks/{sid}")),
                    &[("Priority", &format!("{}", i + round))],
                )
                .await;
            assert_eq!(status, 200, "{v}");
            changes += 1;
        }
        if i % 4 == 0 {
            let (status, v) = server
                .post(
                    &server.ws_url(&format!("/Tasks/{sid}")),
                    &[("AssignmentStatus", "canceled"), ("Reason", "test")],
                )
                .await;
            assert_eq!(status, 200, "{v}");
            changes += 1;
        }
        let worker = &workers[(i + round) % workers.len()];
        let attributes = json!({"skills": ["sales"], "round": round, "i": i}).to_string();
        let activity = &activities[(i + round) % activities.len()];
        let (status, v) = server
            .post(
                &server.ws_url(&format!("/Workers/{worker}")),
                &[
                    ("Attributes", attributes.as_str()),
                    ("ActivitySid", activity.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 200, "{v}");
        changes += 1;
    }
    changes
}

/// The log's bounds and the snapshots kept, read from the database file (server stopped).
fn on_disk(db: &Path) -> (Option<(i64, i64)>, Vec<i64>, usize) {
    let mut s = SqliteStore::open(db).unwrap();
    let mut n = 0;
    s.read_log(&mut |_| {
        n += 1;
        Ok(())
    })
    .unwrap();
    let kept = s.snapshots().unwrap().iter().map(|i| i.seq).collect();
    (s.log_bounds().unwrap(), kept, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_from_snapshots_show_the_same_state() {
    let limits = Limits {
        retention: None,
        snapshots: every(50),
        ..Limits::default()
    };
    let mut dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let mut before: Option<String> = None;
    let mut last_seq = 0;
    let mut changes = 0;
    for round in 0..5 {
        let server = Server::start_in(dir, limits.clone(), Clock::default()).await;
        let now = observed(&server).await;
        if let Some(before) = &before {
            assert!(
                *before == now,
                "round {round}: the state differs after a restart:\n{}",
                first_difference(before, &now)
            );
        }
        changes += workload(&server, round).await;
        before = Some(observed(&server).await);
        dir = server.stop_keeping_data().await;
        let (bounds, kept, held) = on_disk(&db);
        let (first, last) = bounds.unwrap();
        assert!(
            last > last_seq,
            "numbering goes on: {last} after {last_seq}"
        );
        last_seq = last;
        assert_eq!(
            usize::try_from(last - first + 1).unwrap(),
            held,
            "the log has no gap"
        );
        if round >= 1 {
            assert_eq!(kept.len(), 2, "two snapshots are kept: {kept:?}");
            assert!(first > 1, "the log's front is deleted");
            assert!(
                first <= kept[1] + 1,
                "the log keeps every entry after the older snapshot: {first} {kept:?}"
            );
            assert!(
                held < changes,
                "the log holds {held} entries for {changes} changes"
            );
        }
    }
    // One more start, then the state is read once more against the last round's.
    let server = Server::start_in(dir, limits, Clock::default()).await;
    assert_eq!(before.unwrap(), observed(&server).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_snapshots_the_log_is_kept_whole_and_a_later_snapshot_restarts_the_same() {
    let mut dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let never = Limits {
        retention: None,
        snapshots: SnapshotPolicy::never(),
        ..Limits::default()
    };
    let server = Server::start_in(dir, never.clone(), Clock::default()).await;
    workload(&server, 0).await;
    let before = observed(&server).await;
    dir = server.stop_keeping_data().await;
    let (bounds, kept, _) = on_disk(&db);
    assert_eq!(bounds.unwrap().0, 1);
    assert!(kept.is_empty());
    // Snapshots switched on: the first comes at once (the log is past the threshold).
    let server = Server::start_in(
        dir,
        Limits {
            snapshots: every(10),
            ..never
        },
        Clock::default(),
    )
    .await;
    assert_eq!(before, observed(&server).await);
    dir = server.stop_keeping_data().await;
    let (_, kept, _) = on_disk(&db);
    assert_eq!(kept.len(), 1, "{kept:?}");
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_snapshots_mean_a_full_replay_or_a_clear_refusal() {
    let mut dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let never = Limits {
        retention: None,
        snapshots: SnapshotPolicy::never(),
        ..Limits::default()
    };
    let server = Server::start_in(dir, never.clone(), Clock::default()).await;
    workload(&server, 0).await;
    let before = observed(&server).await;
    dir = server.stop_keeping_data().await;
    let (bounds, _, _) = on_disk(&db);
    let last = bounds.unwrap().1;
    {
        let mut s = SqliteStore::open(&db).unwrap();
        s.write_snapshot(last - 10, 1, b"not a snapshot").unwrap();
        s.write_snapshot(last - 5, 99, b"{}").unwrap();
    }
    // Neither can be used, but the log is whole: it is replayed, and nothing of it deleted.
    let server = Server::start_in(dir, never.clone(), Clock::default()).await;
    assert_eq!(before, observed(&server).await);
    dir = server.stop_keeping_data().await;
    assert_eq!(on_disk(&db).0.unwrap().0, 1, "the log is kept whole");
    // With the log's front gone, the start is refused, and says why.
    assert!(SqliteStore::open(&db).unwrap().prune_log(100_000).unwrap() > 0);
    let err = switchboard_server::prepare(switchboard_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{}", db.display()),
        public_url: None,
        account_sid: Some(ACCOUNT.into()),
        auth_token: Some(TOKEN.into()),
        webhook_attempts: 1,
        webhook_backoff: Duration::from_millis(10),
        fetch_timeout: Duration::from_secs(2),
        internal_call_workflow_sid: None,
        demo: false,
        queue_call_timeout: Duration::from_secs(120),
        limits: never,
        clock: Clock::default(),
        media: None,
    })
    .await
    .err()
    .expect("a start without a usable snapshot or the whole log is refused")
    .to_string();
    for part in [
        format!(
            "the snapshot through log entry {} cannot be used: it is in format 99",
            last - 5
        ),
        format!(
            "the snapshot through log entry {} cannot be used: the snapshot cannot be read",
            last - 10
        ),
        format!("it starts at entry {}", last - 9),
    ] {
        assert!(err.contains(&part), "{part:?} is not in: {err}");
    }
    drop(dir);
}

/// Where two texts first differ, with some context.
fn first_difference(a: &str, b: &str) -> String {
    let (a, b): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    let at = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let from = at.saturating_sub(8);
    format!(
        "before:\n{}\nafter:\n{}",
        a[from..(at + 8).min(a.len())].join("\n"),
        b[from..(at + 8).min(b.len())].join("\n")
    )
}

// ---------------------------------------------------------------------------------------------
// kill -9

/// Set in a server process: what to run (JSON).
const NODE_ENV: &str = "SWITCHBOARD_SNAPSHOT_TEST_NODE";

/// How long each snapshot write sleeps inside its transaction in the server processes, so
/// kills land inside some.
const PAUSE_INSIDE_WRITE: Duration = Duration::from_millis(40);

/// Not a test on its own: the body of a server process (a no-op unless `NODE_ENV` is set).
#[test]
fn snapshot_node_process() {
    let Ok(spec) = std::env::var(NODE_ENV) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,switchboard_server::driver=debug",
        ))
        .with_ansi(false)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let config = switchboard_server::Config {
            listen: spec["listen"].as_str().unwrap().parse().unwrap(),
            database: spec["database"].as_str().unwrap().to_owned(),
            public_url: None,
            account_sid: Some(ACCOUNT.into()),
            auth_token: Some(TOKEN.into()),
            webhook_attempts: 1,
            webhook_backoff: Duration::from_millis(10),
            fetch_timeout: Duration::from_secs(2),
            internal_call_workflow_sid: None,
            demo: true,
            queue_call_timeout: Duration::from_secs(120),
            limits: Limits {
                snapshots: SnapshotPolicy {
                    every_entries: Some(20),
                    every: None,
                    test_pause_inside_write: PAUSE_INSIDE_WRITE,
                },
                ..Limits::default()
            },
            clock: Default::default(),
            media: None,
        };
        let prepared = switchboard_server::prepare(config).await.unwrap();
        switchboard_server::demo::seed(&prepared.core)
            .await
            .unwrap();
        println!("READY");
        prepared.serve(std::future::pending()).await.unwrap();
    });
}

/// A server process on the database in `dir` (`s.db`), its `n`th start.
struct Process(ServerProcess);

impl Process {
    fn start(dir: &Path, n: usize, port: u16) -> Process {
        let spec = json!({
            "listen": format!("127.0.0.1:{port}"),
            "database": format!("sqlite://{}", dir.join("s.db").display()),
        });
        let log = dir.join(format!("server-{n}.log"));
        Process(ServerProcess::spawn(
            "snapshot_node_process",
            NODE_ENV,
            &spec,
            dir,
            log,
        ))
    }

    fn text(&self) -> String {
        self.0.text()
    }

    fn kill9(&mut self) {
        self.0.kill9();
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.exited()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(base: &str, path: &str) -> Option<Value> {
    let r = client()
        .get(format!("{base}{path}"))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    serde_json::from_str(&r.text().await.ok()?).ok()
}

/// Waits until the server answers with its workspace and workflow.
async fn ready(p: &mut Process, base: &str) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = p.exited() {
            panic!("the server exited ({status}) at start:\n{}", p.text());
        }
        if p.text().contains("READY") {
            if let Some(v) = get(base, "/v1/Workspaces").await {
                let ws = v["workspaces"][0]["sid"].as_str().unwrap().to_owned();
                if let Some(w) = get(base, &format!("/v1/Workspaces/{ws}/Workflows")).await {
                    return (ws, anyone(&w));
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the server did not start in time:\n{}",
            p.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates tasks until told to stop; the SIDs of those acknowledged go to `acked`.
async fn writer(
    base: String,
    ws: String,
    wf: String,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    id: usize,
) {
    let c = client();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let attributes = json!({"writer": id, "n": n}).to_string();
        let sent = c
            .post(format!("{base}/v1/Workspaces/{ws}/Tasks"))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .form(&[
                ("Attributes", attributes.as_str()),
                ("WorkflowSid", wf.as_str()),
            ])
            .send()
            .await;
        let Ok(r) = sent else {
            break;
        };
        if r.status().as_u16() != 201 {
            if !stop.load(Ordering::SeqCst) {
                eprintln!(
                    "writer {id}: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                );
            }
            break;
        }
        let Ok(text) = r.text().await else {
            break;
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        acked
            .lock()
            .unwrap()
            .push(v["sid"].as_str().unwrap().to_owned());
    }
}

/// Whether the last snapshot line of a server's log says a write had begun and not ended.
fn inside_a_write(log: &str) -> bool {
    log.lines()
        .rev()
        .find(|l| l.contains("writing a snapshot") || l.contains("snapshot written"))
        .is_some_and(|l| l.contains("writing a snapshot"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_moment_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut kills_inside_writes = 0;
    let mut seed = 0x5eed_u64;
    let mut random = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let rounds = 30;
    for round in 0..=rounds {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut p = Process::start(dir.path(), round, port);
        let (ws, wf) = ready(&mut p, &base).await;
        // Every write acknowledged before any earlier kill is there.
        let tasks = get(&base, &format!("/v1/Workspaces/{ws}/Tasks?PageSize=1000"))
            .await
            .unwrap();
        let present: std::collections::BTreeSet<String> = tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["sid"].as_str().unwrap().to_owned())
            .collect();
        let unlisted: Vec<String> = acked
            .lock()
            .unwrap()
            .iter()
            .filter(|s| !present.contains(*s))
            .cloned()
            .collect();
        // Beyond the first page: one by one.
        let mut missing = Vec::new();
        for sid in unlisted {
            if get(&base, &format!("/v1/Workspaces/{ws}/Tasks/{sid}"))
                .await
                .is_none()
            {
                missing.push(sid);
            }
        }
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged tasks lost: {missing:?}\n{}",
            p.text()
        );
        if round == rounds {
            break;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..3)
            .map(|id| {
                tokio::spawn(writer(
                    base.clone(),
                    ws.clone(),
                    wf.clone(),
                    acked.clone(),
                    stop.clone(),
                    id,
                ))
            })
            .collect();
        let writes_before = p.text().matches("writing a snapshot").count();
        if round % 2 == 0 {
            // At a random moment.
            tokio::time::sleep(Duration::from_millis(100 + random(500))).await;
        } else {
            // As soon as a new snapshot write begins (it holds its transaction open a moment).
            let deadline = Instant::now() + Duration::from_secs(5);
            while p.text().matches("writing a snapshot").count() == writes_before
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(random(
                PAUSE_INSIDE_WRITE.as_millis() as u64 / 2,
            )))
            .await;
        }
        p.kill9();
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            w.await.unwrap();
        }
        if inside_a_write(&p.text()) {
            kills_inside_writes += 1;
        }
    }
    let acked = acked.lock().unwrap().len();
    println!(
        "{rounds} kills ({kills_inside_writes} inside a snapshot write), {acked} acknowledged \
         tasks, all there, in {:.1?}",
        started.elapsed()
    );
    assert!(acked > 100, "only {acked} writes were acknowledged");
    assert!(
        kills_inside_writes >= 3,
        "only {kills_inside_writes} kills landed inside a snapshot write"
    );
    let (bounds, kept, held) = on_disk(&dir.path().join("s.db"));
    assert!(!kept.is_empty(), "snapshots were written");
    assert!(bounds.unwrap().0 > 1, "the log's front was deleted");
    assert!(
        held < acked,
        "the log holds {held} entries for {acked} tasks"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

// ---------------------------------------------------------------------------------------------
// Start-up benchmark (not a timed test: run it by hand, in release)
//
// `cargo test --release -p switchboard-server --test snapshots startup_benchmark -- --ignored
// --nocapture [ENTRIES]` (default 1,000,000; `SWITCHBOARD_BENCH_ENTRIES`)

/// The snapshot example's log generator (a million entries of routing churn on a modest state).
#[path = "../../center/examples/snapshot_size.rs"]
#[allow(dead_code)]
mod churn;

/// Set in a measuring process: the database to open (JSON).
const BENCH_ENV: &str = "SWITCHBOARD_SNAPSHOT_BENCH_OPEN";

fn bench_account() -> switchboard_sid::Sid<switchboard_sid::Account> {
    switchboard_sid::Sid::from_u128(1)
}

/// A driver over the database at `path`, its clock pinned at `at_ms` (the log's last time, so
/// nothing falls due at start).
fn bench_driver(path: &Path, at_ms: i64) -> switchboard_server::driver::Driver {
    let credentials = Arc::new(std::sync::RwLock::new(
        switchboard_server::credentials::Credentials {
            account_sid: bench_account(),
            auth_token: TOKEN.into(),
            api_keys: Default::default(),
        },
    ));
    switchboard_server::driver::Driver::open(
        Box::new(SqliteStore::open(path).unwrap()),
        credentials,
        Clock::from_fn(move || at_ms),
        7,
        Default::default(),
        "http://127.0.0.1:0".into(),
        Default::default(),
    )
    .unwrap()
}

/// Appends log entries through the store, 10,000 to a transaction.
fn append(path: &Path, log: &[(switchboard_routing::Timestamp, switchboard_center::Entry)]) {
    let mut s = SqliteStore::open(path).unwrap();
    for chunk in log.chunks(10_000) {
        let batch = switchboard_store::Batch {
            log: chunk
                .iter()
                .map(|(at, e)| switchboard_store::LogEntry {
                    seq: 0,
                    at_ms: at.0,
                    body: serde_json::to_string(e).unwrap(),
                })
                .collect(),
            ..Default::default()
        };
        s.commit(&batch).unwrap();
    }
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Not a test on its own: opens a driver in a fresh process and prints the time and memory.
#[test]
fn snapshot_bench_process() {
    let Ok(spec) = std::env::var(BENCH_ENV) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let path = PathBuf::from(spec["path"].as_str().unwrap());
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let driver = bench_driver(&path, spec["at_ms"].as_i64().unwrap());
    let open = started.elapsed();
    let workers: usize = driver
        .center()
        .model()
        .workspaces()
        .map(|(_, w)| w.engine.workers().count())
        .sum();
    println!(
        "BENCH {}",
        json!({
            "open_ms": open.as_secs_f64() * 1e3,
            "peak_rss_kib": status_kib("VmHWM:"),
            "rss_kib": status_kib("VmRSS:"),
            "rss_before_kib": before,
            "workers": workers,
        })
    );
}

fn measure(path: &Path, at_ms: i64) -> Value {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "snapshot_bench_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BENCH_ENV, json!({"path": path, "at_ms": at_ms}).to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.split_once("BENCH ").map(|(_, figures)| figures))
        .unwrap_or_else(|| panic!("no figures: {text}{}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(line).unwrap()
}

#[test]
#[ignore = "a benchmark: run it by hand, in release"]
fn startup_benchmark() {
    let entries: usize = std::env::var("SWITCHBOARD_BENCH_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let every = entries / 10;
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let log = churn::build_log(entries).unwrap();
    let at_ms = log.last().unwrap().0 .0;
    println!("log: {} entries, built in {:.1?}", log.len(), t.elapsed());

    // The whole log, never snapshotted.
    let full = dir.path().join("full.db");
    let t = Instant::now();
    append(&full, &log);
    println!("written through the store in {:.1?}", t.elapsed());

    // The same changes on a server snapshotting every `every` entries, at its worst: the two
    // snapshots kept are at 80% and 90% of the log, and the newest is `every` entries behind.
    let snap = dir.path().join("snap.db");
    let policy = every_entries(every as u64);
    let (a, b) = (log.len() - 2 * every, log.len() - every);
    append(&snap, &log[..a]);
    for (from, to) in [(a, b), (b, log.len())] {
        let mut d = bench_driver(&snap, log[from - 1].0 .0);
        d.set_snapshots(policy);
        let t = Instant::now();
        d.snapshot_if_due();
        let took = t.elapsed();
        // Then the log behind the older snapshot goes, a batch per call.
        for _ in 0..log.len() / switchboard_server::driver::LOG_PRUNE_BATCH + 1 {
            d.snapshot_if_due();
        }
        println!("snapshot through entry {from} (taken, encoded and stored in {took:.1?})");
        drop(d);
        append(&snap, &log[from..to]);
    }
    let (bounds, kept, held) = on_disk(&snap);
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / 1048576.0;
    println!(
        "with snapshots: kept {kept:?}, log {bounds:?} ({held} entries), file {:.0} MiB; without: {} entries, file {:.0} MiB",
        size(&snap),
        log.len(),
        size(&full)
    );
    for (name, path) in [("full replay", &full), ("snapshot + tail", &snap)] {
        let m = measure(path, at_ms);
        println!(
            "{name}: start-up {:.0} ms, peak RSS {:.0} MiB, RSS after {:.0} MiB (process baseline {:.0} MiB); {} workers",
            m["open_ms"].as_f64().unwrap(),
            m["peak_rss_kib"].as_f64().unwrap() / 1024.0,
            m["rss_kib"].as_f64().unwrap() / 1024.0,
            m["rss_before_kib"].as_f64().unwrap() / 1024.0,
            m["workers"],
        );
    }
}

fn every_entries(n: u64) -> SnapshotPolicy {
    every(n)
}
