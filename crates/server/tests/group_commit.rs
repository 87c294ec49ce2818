//! Group commit: the driver commits the changes of every job waiting in its queue in one
//! transaction and answers them only then. These tests hold it to "no acknowledged write is
//! lost": many concurrent creations, then a restart; the same under `kill -9` of a server
//! process; a commit that fails, which must acknowledge nobody of its group (nor of the
//! group collected while it was being committed); and a store that refuses every write for a
//! while (a full disk), after which the server accepts changes again by itself.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::process::{free_port, ServerProcess};
use support::{Server, ACCOUNT, TOKEN};
use switchboard_server::driver::Clock;
use switchboard_server::{Config, Limits};
use switchboard_store::{
    Batch, EventQuery, EventRow, LogEntry, PruneReport, Reads, SnapshotInfo, Store, StoreError,
    StoredSnapshot, TaskQuery, TaskRow,
};

/// Concurrent clients.
const CLIENTS: usize = 64;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
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

async fn post(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// A workspace with a queue nobody matches and a workflow to it: `(workspace, workflow)`.
async fn workspace(base: &str) -> (String, String) {
    let (s, v) = post(base, "/v1/Workspaces", &[("FriendlyName", "group commit")]).await;
    assert_eq!(s, 201, "{v}");
    let ws = v["sid"].as_str().unwrap().to_owned();
    let (s, v) = post(
        base,
        &format!("/v1/Workspaces/{ws}/TaskQueues"),
        &[
            ("FriendlyName", "nobody"),
            ("TargetWorkers", "skills HAS 'nobody'"),
        ],
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let queue = v["sid"].as_str().unwrap().to_owned();
    let config = json!({"task_routing": {"filters": [], "default_filter": {"queue": queue}}});
    let (s, v) = post(
        base,
        &format!("/v1/Workspaces/{ws}/Workflows"),
        &[
            ("FriendlyName", "nobody"),
            ("Configuration", &config.to_string()),
        ],
    )
    .await;
    assert_eq!(s, 201, "{v}");
    (ws, v["sid"].as_str().unwrap().to_owned())
}

/// What the creations of one client saw.
#[derive(Default)]
struct Seen {
    /// SIDs answered 201.
    acked: Vec<String>,
    /// Statuses other than 201, with the body.
    refused: Vec<(u16, String)>,
}

/// Creates tasks in a loop (each with a unique attribute) until `count` are sent, `stop` is set
/// or the connection fails; what came back goes to `seen`.
async fn creator(
    base: String,
    ws: String,
    wf: String,
    id: usize,
    count: usize,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) {
    // One client per creator: its own keep-alive connection.
    let c = client();
    for n in 0..count {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let attributes = json!({"client": id, "n": n}).to_string();
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
        let status = r.status().as_u16();
        let Ok(text) = r.text().await else {
            break;
        };
        let mut seen = seen.lock().unwrap();
        if status == 201 {
            let v: Value = serde_json::from_str(&text).unwrap();
            seen.acked.push(v["sid"].as_str().unwrap().to_owned());
        } else {
            seen.refused.push((status, text));
        }
    }
}

/// Runs `CLIENTS` creators of `count` tasks each at once, until done or `stop`.
async fn create_concurrently(
    base: &str,
    ws: &str,
    wf: &str,
    count: usize,
    stop: Arc<AtomicBool>,
) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|id| {
            tokio::spawn(creator(
                base.to_owned(),
                ws.to_owned(),
                wf.to_owned(),
                id,
                count,
                stop.clone(),
                seen.clone(),
            ))
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    seen
}

/// The SIDs of every task in the workspace.
async fn present(base: &str, ws: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut next = Some(format!("/v1/Workspaces/{ws}/Tasks?PageSize=1000"));
    while let Some(path) = next.take() {
        let v = get(base, &path).await.expect("listing the tasks");
        for t in v["tasks"].as_array().unwrap() {
            out.insert(t["sid"].as_str().unwrap().to_owned());
        }
        next = v["meta"]["next_page_url"]
            .as_str()
            .and_then(|u| u.find("/v1/").map(|i| u[i..].to_owned()));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Concurrent creations and a restart

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_concurrent_creation_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir, Limits::default(), Clock::default()).await;
    let (ws, wf) = workspace(&server.base).await;
    let seen =
        create_concurrently(&server.base, &ws, &wf, 25, Arc::new(AtomicBool::new(false))).await;
    let (acked, refused) = {
        let s = seen.lock().unwrap();
        (s.acked.clone(), s.refused.clone())
    };
    assert!(refused.is_empty(), "refused: {refused:?}");
    assert_eq!(acked.len(), CLIENTS * 25);
    assert_eq!(
        acked.iter().collect::<BTreeSet<_>>().len(),
        acked.len(),
        "every creation has a SID of its own"
    );
    let dir = server.stop_keeping_data().await;
    let server = Server::start_in(dir, Limits::default(), Clock::default()).await;
    let after = present(&server.base, &ws).await;
    let missing: Vec<_> = acked.iter().filter(|s| !after.contains(*s)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged tasks are gone after the restart: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(after.len(), acked.len());
    // The tasks' attributes came through too.
    let one = get(
        &server.base,
        &format!("/v1/Workspaces/{ws}/Tasks/{}", acked[acked.len() / 2]),
    )
    .await
    .unwrap();
    assert!(one["attributes"].as_str().unwrap().contains("client"));
    assert!(server.stop().await);
}

// ---------------------------------------------------------------------------------------------
// kill -9 under concurrent load

/// Set in a server process: where it listens and its database (JSON).
const NODE_ENV: &str = "SWITCHBOARD_GROUP_COMMIT_TEST_NODE";

/// Not a test on its own: the body of a server process (a no-op unless `NODE_ENV` is set).
#[test]
fn group_commit_node_process() {
    let Ok(spec) = std::env::var(NODE_ENV) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_ansi(false)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let config = config(
            spec["listen"].as_str().unwrap(),
            spec["database"].as_str().unwrap(),
        );
        let prepared = switchboard_server::prepare(config).await.unwrap();
        println!("READY");
        prepared.serve(std::future::pending()).await.unwrap();
    });
}

/// A server's configuration for these tests.
fn config(listen: &str, database: &str) -> Config {
    Config {
        listen: listen.parse().unwrap(),
        database: database.to_owned(),
        public_url: None,
        account_sid: Some(ACCOUNT.into()),
        auth_token: Some(TOKEN.into()),
        webhook_attempts: 1,
        webhook_backoff: Duration::from_millis(10),
        fetch_timeout: Duration::from_secs(2),
        internal_call_workflow_sid: None,
        demo: false,
        queue_call_timeout: Duration::from_secs(120),
        limits: Limits::default(),
        clock: Clock::default(),
        media: None,
    }
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
            "group_commit_node_process",
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

    /// Waits until it serves.
    async fn ready(&mut self, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.0.exited() {
                panic!("the server exited ({status}) at start:\n{}", self.text());
            }
            if self.text().contains("READY") && get(base, "/v1/Workspaces").await.is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not start in time:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_concurrent_creations_loses_no_acknowledged_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<String> = Vec::new();
    let mut ws_wf: Option<(String, String)> = None;
    let rounds = 4;
    for round in 0..=rounds {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut p = Process::start(dir.path(), round, port);
        p.ready(&base).await;
        let (ws, wf) = match &ws_wf {
            Some(x) => x.clone(),
            None => {
                let x = workspace(&base).await;
                ws_wf = Some(x.clone());
                x
            }
        };
        // Every creation acknowledged before the kills is there.
        let after = present(&base, &ws).await;
        let missing: Vec<_> = acked.iter().filter(|s| !after.contains(*s)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} of {} acknowledged tasks are gone after kill -9: {:?}\n{}",
            missing.len(),
            acked.len(),
            &missing[..missing.len().min(5)],
            p.text()
        );
        if round == rounds {
            break;
        }
        // Load from every client at once, then kill -9 in the middle of it.
        let stop = Arc::new(AtomicBool::new(false));
        let load = {
            let (base, ws, wf, stop) = (base.clone(), ws.clone(), wf.clone(), stop.clone());
            tokio::spawn(
                async move { create_concurrently(&base, &ws, &wf, usize::MAX, stop).await },
            )
        };
        tokio::time::sleep(Duration::from_millis(600 + 150 * round as u64)).await;
        p.kill9();
        stop.store(true, Ordering::SeqCst);
        let seen = load.await.unwrap();
        let got = seen.lock().unwrap().acked.clone();
        assert!(
            !got.is_empty(),
            "round {round}: no creation was acknowledged before the kill"
        );
        eprintln!(
            "round {round}: {} creations acknowledged before kill -9",
            got.len()
        );
        acked.extend(got);
    }
}

// ---------------------------------------------------------------------------------------------
// A failing commit

/// A store that, once armed, fails the first commit carrying at least two log entries (a group
/// of several jobs) and records how many it carried.
struct FailingStore {
    inner: Box<dyn Store>,
    armed: Arc<AtomicBool>,
    failed_entries: Arc<AtomicUsize>,
    /// While set, every commit fails, as on a full disk (`refused` counts them).
    full: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl FailingStore {
    /// Over the SQLite database `database`, neither armed nor full.
    fn open(database: &str) -> FailingStore {
        FailingStore {
            inner: switchboard_store::open(database).unwrap(),
            armed: Arc::new(AtomicBool::new(false)),
            failed_entries: Arc::new(AtomicUsize::new(0)),
            full: Arc::new(AtomicBool::new(false)),
            refused: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Reads for FailingStore {
    fn events(
        &mut self,
        query: &EventQuery,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.inner.events(query, offset, limit)
    }
    fn event_counts(&mut self, query: &EventQuery) -> Result<Vec<(String, i64)>, StoreError> {
        self.inner.event_counts(query)
    }
    fn finished_task(
        &mut self,
        workspace_sid: &str,
        sid: &str,
    ) -> Result<Option<TaskRow>, StoreError> {
        self.inner.finished_task(workspace_sid, sid)
    }
    fn finished_tasks(&mut self, query: &TaskQuery) -> Result<Vec<TaskRow>, StoreError> {
        self.inner.finished_tasks(query)
    }
    fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.setting(key)
    }
}

impl Store for FailingStore {
    fn commit(&mut self, batch: &Batch) -> Result<i64, StoreError> {
        if self.full.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Visit(
                "injected: database or disk is full".into(),
            ));
        }
        if batch.log.len() >= 2 && self.armed.swap(false, Ordering::SeqCst) {
            self.failed_entries.store(batch.log.len(), Ordering::SeqCst);
            return Err(StoreError::Visit("injected commit failure".into()));
        }
        self.inner.commit(batch)
    }
    fn read_log_after(
        &mut self,
        after: i64,
        visit: &mut dyn FnMut(LogEntry) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        self.inner.read_log_after(after, visit)
    }
    fn log_bounds(&mut self) -> Result<Option<(i64, i64)>, StoreError> {
        self.inner.log_bounds()
    }
    fn write_snapshot(
        &mut self,
        through_seq: i64,
        format: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.inner.write_snapshot(through_seq, format, bytes)
    }
    fn snapshots(&mut self) -> Result<Vec<SnapshotInfo>, StoreError> {
        self.inner.snapshots()
    }
    fn read_snapshot(&mut self, seq: i64) -> Result<Option<StoredSnapshot>, StoreError> {
        self.inner.read_snapshot(seq)
    }
    fn prune_log(&mut self, limit: usize) -> Result<usize, StoreError> {
        self.inner.prune_log(limit)
    }
    fn prune(&mut self, before_ms: i64, limit: usize) -> Result<PruneReport, StoreError> {
        self.inner.prune(before_ms, limit)
    }
}

/// Serves a prepared server until the sender fires; its base URL.
async fn serve(
    prepared: switchboard_server::Prepared,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let base = format!("http://{}", prepared.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        prepared
            .serve(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (base, stop, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_commit_acknowledges_nobody_in_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = FailingStore::open(&database);
    let (armed, failed_entries) = (store.armed.clone(), store.failed_entries.clone());
    // Without recovery: changes stay refused until the restart below.
    let mut without_recovery = config("127.0.0.1:0", &database);
    without_recovery.limits.recovery = None;
    let prepared = switchboard_server::prepare_with_store(without_recovery, Box::new(store))
        .await
        .unwrap();
    let (base, stop, done) = serve(prepared).await;
    let (ws, wf) = workspace(&base).await;
    // Some creations stored before the failure.
    let before = create_concurrently(&base, &ws, &wf, 5, Arc::new(AtomicBool::new(false))).await;
    let before = before.lock().unwrap().acked.clone();
    assert_eq!(before.len(), CLIENTS * 5);
    // Then a group fails: every client at once, so the failing commit carries several.
    armed.store(true, Ordering::SeqCst);
    let seen = create_concurrently(&base, &ws, &wf, 20, Arc::new(AtomicBool::new(false))).await;
    let (acked, refused) = {
        let s = seen.lock().unwrap();
        (s.acked.clone(), s.refused.clone())
    };
    let lost = failed_entries.load(Ordering::SeqCst);
    assert!(lost >= 2, "the failing commit carried {lost} entries");
    // The group's creations were answered "could not be stored", and so were those of the group
    // collected while it was being committed (applied on top of it, so lost with it); every
    // later one "unavailable".
    let not_stored = refused.iter().filter(|(s, _)| *s == 500).count();
    assert!(
        not_stored >= lost,
        "{not_stored} creations answered 500, fewer than the {lost} of the failed group"
    );
    let odd: Vec<_> = refused
        .iter()
        .filter(|(s, body)| !((*s == 500 && body.contains("could not be stored")) || *s == 503))
        .take(3)
        .collect();
    assert!(odd.is_empty(), "{odd:?}");
    let ready = client()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        ready.as_u16(),
        503,
        "a failed commit makes the server not ready"
    );
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), done).await;

    // A restart over the same database: exactly what was acknowledged is there.
    let prepared = switchboard_server::prepare(config("127.0.0.1:0", &database))
        .await
        .unwrap();
    let (base, stop, done) = serve(prepared).await;
    let after = present(&base, &ws).await;
    let expected: BTreeSet<String> = before.iter().chain(&acked).cloned().collect();
    let missing: Vec<_> = expected.difference(&after).collect();
    assert!(missing.is_empty(), "acknowledged but gone: {missing:?}");
    let extra: Vec<_> = after.difference(&expected).collect();
    assert!(
        extra.is_empty(),
        "stored but never acknowledged (the failed group): {extra:?}"
    );
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), done).await;
}

/// Sequential creations: `(status, sid or body)` of each.
async fn create_in_turn(base: &str, ws: &str, wf: &str, tag: &str, n: usize) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let attributes = json!({"tag": format!("{tag}-{i}")}).to_string();
        let (status, v) = post(
            base,
            &format!("/v1/Workspaces/{ws}/Tasks"),
            &[("WorkflowSid", wf), ("Attributes", &attributes)],
        )
        .await;
        let what = match v["sid"].as_str() {
            Some(sid) if status == 201 => sid.to_owned(),
            _ => v.to_string(),
        };
        out.push((status, what));
    }
    out
}

async fn ready(base: &str) -> u16 {
    client()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// Waits (up to `within`) until `done` holds, checking every 20 ms; whether it did.
async fn wait_until<F: std::future::Future<Output = bool>>(
    within: Duration,
    mut done: impl FnMut() -> F,
) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_disk_the_server_accepts_changes_again_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = FailingStore::open(&database);
    let (full, refused) = (store.full.clone(), store.refused.clone());
    let mut c = config("127.0.0.1:0", &database);
    c.limits.recovery = Some(Duration::from_millis(50));
    let prepared = switchboard_server::prepare_with_store(c, Box::new(store))
        .await
        .unwrap();
    let (base, stop, done) = serve(prepared).await;
    let (ws, wf) = workspace(&base).await;
    let before = create_in_turn(&base, &ws, &wf, "before", 10).await;
    assert!(before.iter().all(|(s, _)| *s == 201), "{before:?}");

    // The disk fills: the first change is not stored, every later one is refused with a reason.
    full.store(true, Ordering::SeqCst);
    let during = create_in_turn(&base, &ws, &wf, "during", 10).await;
    assert_eq!(during[0].0, 500, "{:?}", during[0]);
    assert!(
        during[0].1.contains("could not be stored"),
        "{:?}",
        during[0]
    );
    for (status, body) in &during[1..] {
        assert_eq!(*status, 503, "{body}");
        assert!(body.contains("tries again by itself"), "{body}");
    }
    assert_eq!(ready(&base).await, 503);
    // The driver keeps trying the store (each try is a refused write) while it stays full.
    let tried_before = refused.load(Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            refused.load(Ordering::SeqCst) >= tried_before + 2
        })
        .await,
        "no recovery tries while the store was full"
    );
    assert_eq!(
        ready(&base).await,
        503,
        "ready while the store still refuses writes"
    );

    // Space returns: without a restart, the server is ready again and changes are stored.
    full.store(false, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            ready(&base).await == 200
        })
        .await,
        "the server did not accept changes again after the store did"
    );
    let after = create_in_turn(&base, &ws, &wf, "after", 10).await;
    assert!(after.iter().all(|(s, _)| *s == 201), "{after:?}");

    // Exactly the acknowledged creations exist, now and after a restart.
    let acked: BTreeSet<String> = before
        .iter()
        .chain(&after)
        .map(|(_, sid)| sid.clone())
        .collect();
    assert_eq!(present(&base, &ws).await, acked);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), done).await;
    let prepared = switchboard_server::prepare(config("127.0.0.1:0", &database))
        .await
        .unwrap();
    let (base, stop, done) = serve(prepared).await;
    assert_eq!(present(&base, &ws).await, acked, "after a restart");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), done).await;
}
