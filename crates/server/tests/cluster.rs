//! Three nodes on one PostgreSQL, under faults: real node processes (this test binary run again
//! as a node) on a private PostgreSQL cluster of the test's own (`initdb`/`pg_ctl` from
//! Debian's binaries, a free port, a temporary directory), so restarting it disturbs no other
//! test.
//!
//! A write load (tasks created, reservations accepted and tasks completed, worker attributes
//! updated) goes round-robin through the three nodes; a few desktop WebSockets stay connected,
//! reconnecting on their own. Then: `kill -9` the owner; `SIGSTOP` the next owner past its
//! lease, hand writes to its own server while it is stopped, `SIGCONT` it; restart PostgreSQL
//! (immediate stop: a crash). The checker reads everything back: every acknowledged write is
//! there, no task was accepted by two workers, terms never go back in the log (nothing a fenced
//! node did after losing the lease is stored), the stopped node's writes were refused, every
//! desktop reconnected; takeover times are printed (target ≤ 5 s).
//!
//! Without Debian's PostgreSQL server binaries (`/usr/lib/postgresql/*/bin`) the test fails
//! and says how to get them.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use support::process::{free_port, ServerProcess};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "secret-token";
/// Set in a node process: what to run (JSON).
const NODE_ENV: &str = "SWITCHBOARD_CLUSTER_TEST_NODE";
const LEASE_MS: u64 = 2000;

// ---------------------------------------------------------------------------------------------
// The node process

/// Not a test on its own: the body of a node process (a no-op unless `NODE_ENV` is set).
#[test]
fn cluster_node_process() {
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
        use switchboard_server::cluster::{self, ClusterConfig};
        let listen: std::net::SocketAddr = spec["listen"].as_str().unwrap().parse().unwrap();
        let config = switchboard_server::Config {
            listen,
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
            limits: switchboard_server::Limits::default(),
            clock: Default::default(),
            media: None,
        };
        let mut c = ClusterConfig::new(spec["id"].as_str().unwrap(), format!("http://{listen}"));
        c.lease = Duration::from_millis(LEASE_MS);
        let hook: cluster::OwnerHook = Arc::new(|owner| {
            let core = owner.core;
            Box::pin(async move {
                match switchboard_server::demo::seed(&core).await {
                    Ok((ws, true)) => {
                        let _ = core
                            .run(move |d| {
                                let entries = switchboard_center::demo::everyone_available(
                                    d.center().model(),
                                    ws,
                                );
                                d.execute_many(entries)
                            })
                            .await;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!("seeding: {}", e.message),
                }
            })
        });
        cluster::run(config, c, Some(hook), std::future::pending())
            .await
            .unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL

struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
    as_postgres: bool,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .unwrap_or_else(|| {
                panic!(
                    "the cluster test runs a PostgreSQL of its own: install Debian's server \
                     binaries (apt-get install postgresql), which give /usr/lib/postgresql/*/bin"
                )
            });
        let dir = tempfile::Builder::new()
            .prefix("sb-cluster-pg")
            .tempdir()
            .unwrap();
        // initdb refuses to run as root: run it, and the server, as the postgres user.
        let as_postgres = std::env::var("USER").is_ok_and(|u| u == "root")
            || Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown of the PostgreSQL directory");
        }
        let pg = Postgres {
            bin,
            data: dir.path().join("data"),
            port: free_port(),
            _dir: dir,
            as_postgres,
        };
        let data = pg.data.to_str().unwrap().to_owned();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        pg.pg_ctl_start();
        pg
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl_start(&self) {
        let data = self.data.to_str().unwrap();
        let log = self.data.join("server.log");
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=60",
            self.port, data
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                data,
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    /// Stops as a crash would (no checkpoint), then starts again.
    fn crash_restart(&self) {
        let data = self.data.to_str().unwrap();
        self.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        self.pg_ctl_start();
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap_or_default().to_owned();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

// ---------------------------------------------------------------------------------------------
// Nodes

struct Node {
    id: String,
    port: u16,
    /// The running process, if any (each start logs to a file of its own).
    child: Option<ServerProcess>,
    logs: Vec<PathBuf>,
    dir: tempfile::TempDir,
}

impl Node {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self, database: &str) {
        let log = self
            .dir
            .path()
            .join(format!("{}-{}.log", self.id, self.logs.len()));
        let spec = json!({
            "id": self.id,
            "listen": format!("127.0.0.1:{}", self.port),
            "database": database,
        });
        self.logs.push(log.clone());
        self.child = Some(ServerProcess::spawn(
            "cluster_node_process",
            NODE_ENV,
            &spec,
            self.dir.path(),
            log,
        ));
    }

    fn signal(&self, sig: &str) {
        let ok = self.child.as_ref().is_some_and(|c| c.signal(sig));
        assert!(ok, "kill -{sig} {}", self.id);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill9();
        }
    }

    fn log_text(&self) -> String {
        self.logs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Value, String> {
    let r = http
        .request(method, url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .form(form)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = r.status();
    let text = r.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    } else {
        Err(format!("{url}: {status} {text}"))
    }
}

async fn get(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    request(http, reqwest::Method::GET, url, &[]).await
}

async fn post(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Result<Value, String> {
    request(http, reqwest::Method::POST, url, form).await
}

/// What the writers had acknowledged.
#[derive(Default)]
struct Acked {
    tasks: BTreeSet<String>,
    /// worker → the highest `load_seq` acknowledged.
    worker_seq: BTreeMap<String, u64>,
    /// task → the worker whose acceptance was acknowledged.
    accepted: BTreeMap<String, String>,
    completed: BTreeSet<String>,
    ok: u64,
    failed: u64,
}

struct Load {
    bases: Vec<String>,
    ws: String,
    workflow: String,
    workers: Vec<(String, Value)>,
}

/// One writer: create a task, accept a reservation of an earlier one and complete it, update a
/// worker, through the nodes in turn, until `stop`.
async fn writer(n: usize, load: Arc<Load>, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>) {
    let http = client();
    let mut turn = n;
    let mut seq = 0u64;
    let mut open: Vec<String> = Vec::new();
    let (worker, attrs) = load.workers[n % load.workers.len()].clone();
    while !stop.load(Ordering::Relaxed) {
        let mut next = || {
            turn += 1;
            format!(
                "{}/v1/Workspaces/{}",
                load.bases[turn % load.bases.len()],
                load.ws
            )
        };
        let attributes = json!({"load": n, "i": seq}).to_string();
        let r = post(
            &http,
            &format!("{}/Tasks", next()),
            &[
                ("WorkflowSid", &load.workflow),
                ("TaskChannel", "default"),
                ("Attributes", &attributes),
            ],
        )
        .await;
        record(&acked, &r, |a, v| {
            if let Some(sid) = v["sid"].as_str() {
                a.tasks.insert(sid.to_owned());
                open.push(sid.to_owned());
            }
        });
        if let Some(task) = open.first().cloned() {
            let rs = get(&http, &format!("{}/Tasks/{task}/Reservations", next())).await;
            let pending = rs.ok().and_then(|v| {
                v["reservations"].as_array()?.iter().find_map(|r| {
                    (r["reservation_status"] == "pending").then(|| {
                        (
                            r["sid"].as_str().unwrap_or_default().to_owned(),
                            r["worker_sid"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                })
            });
            if let Some((res, w)) = pending {
                let r = post(
                    &http,
                    &format!("{}/Tasks/{task}/Reservations/{res}", next()),
                    &[("ReservationStatus", "accepted")],
                )
                .await;
                let accepted = r.is_ok();
                record(&acked, &r, |a, _| {
                    a.accepted.insert(task.clone(), w.clone());
                });
                if accepted {
                    let r = post(
                        &http,
                        &format!("{}/Tasks/{task}", next()),
                        &[("AssignmentStatus", "completed"), ("Reason", "load")],
                    )
                    .await;
                    record(&acked, &r, |a, _| {
                        a.completed.insert(task.clone());
                    });
                    open.remove(0);
                }
            } else if open.len() > 3 {
                // Nobody free for it: leave it waiting.
                open.remove(0);
            }
        }
        seq += 1;
        let mut a = attrs.clone();
        a["load_seq"] = json!(seq);
        let r = post(
            &http,
            &format!("{}/Workers/{worker}", next()),
            &[("Attributes", &a.to_string())],
        )
        .await;
        record(&acked, &r, |a, _| {
            let e = a.worker_seq.entry(worker.clone()).or_default();
            *e = (*e).max(seq);
        });
    }
}

fn record(acked: &Mutex<Acked>, r: &Result<Value, String>, f: impl FnOnce(&mut Acked, &Value)) {
    let mut a = acked.lock().unwrap();
    match r {
        Ok(v) => {
            a.ok += 1;
            f(&mut a, v);
        }
        Err(_) => a.failed += 1,
    }
}

/// A desktop that stays connected: it reconnects (through the nodes in turn) whenever its
/// socket closes, as the web desktop does.
struct Desktop {
    reconnects: AtomicU64,
    states: AtomicU64,
    connected: AtomicBool,
}

async fn desktop(bases: Vec<String>, token: String, me: Arc<Desktop>, stop: Arc<AtomicBool>) {
    let mut turn = 0usize;
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let base = bases[turn % bases.len()].replace("http://", "ws://");
        turn += 1;
        let url = format!("{base}/v1/Desktop?token={token}");
        let Ok(Ok((mut socket, _))) = tokio::time::timeout(
            Duration::from_secs(15),
            tokio_tungstenite::connect_async(url),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        if !first {
            me.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        me.connected.store(true, Ordering::Relaxed);
        loop {
            match tokio::time::timeout(Duration::from_millis(200), socket.next()).await {
                Err(_) if stop.load(Ordering::Relaxed) => return,
                Err(_) => {}
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                    if t.as_str().contains("\"type\":\"state\"") {
                        me.states.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(_) => break,
            }
        }
        me.connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The node that owns the state, as the nodes say (the one that calls itself the owner).
async fn owner(http: &reqwest::Client, nodes: &[Node]) -> Option<(usize, i64, String)> {
    for (i, n) in nodes.iter().enumerate() {
        if n.child.is_none() {
            continue;
        }
        let Ok(Ok(r)) = tokio::time::timeout(
            Duration::from_millis(500),
            http.get(format!("{}/cluster", n.base())).send(),
        )
        .await
        else {
            continue;
        };
        let Ok(v) = r
            .text()
            .await
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
        else {
            continue;
        };
        if v["role"] == "owner" {
            return Some((
                i,
                v["token"].as_i64().unwrap_or(0),
                v["internal"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    None
}

/// How long until a write (a task created) goes through one of `bases` again, from `since`.
async fn until_writes_pass(
    http: &reqwest::Client,
    bases: &[String],
    load: &Load,
    acked: &Mutex<Acked>,
    since: Instant,
) -> Duration {
    for i in 0.. {
        let base = &bases[i % bases.len()];
        let url = format!("{base}/v1/Workspaces/{}/Tasks", load.ws);
        let attributes = json!({"probe": i}).to_string();
        let r = post(
            http,
            &url,
            &[
                ("WorkflowSid", &load.workflow),
                ("TaskChannel", "default"),
                ("Attributes", &attributes),
            ],
        )
        .await;
        if let Ok(v) = &r {
            if let Some(sid) = v["sid"].as_str() {
                acked.lock().unwrap().tasks.insert(sid.to_owned());
            }
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "no write went through for 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!()
}

// ---------------------------------------------------------------------------------------------
// The test

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_survive_kill_pause_and_a_database_restart() {
    if std::env::var(NODE_ENV).is_ok() {
        return;
    }
    let began = Instant::now();
    let pg = Postgres::start();
    let db = pg.url();
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| Node {
            id: format!("node{i}"),
            port: free_port(),
            child: None,
            logs: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        })
        .collect();
    for n in &mut nodes {
        n.spawn(&db);
    }
    let bases: Vec<String> = nodes.iter().map(Node::base).collect();
    let http = client();

    // The demo workspace, seeded by whichever node took the lease first.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ws = loop {
        if let Ok(v) = get(&http, &format!("{}/v1/Workspaces", bases[1])).await {
            if let Some(sid) = v["workspaces"][0]["sid"].as_str() {
                break sid.to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no node served the workspace within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let w = format!("{}/v1/Workspaces/{ws}", bases[2]);
    let workflows = get(&http, &format!("{w}/Workflows")).await.unwrap();
    let workflow = workflows["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["friendly_name"] == "Assign to Anyone")
        .unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = get(&http, &format!("{w}/Workers?PageSize=50"))
        .await
        .unwrap();
    let mut workers: Vec<(String, Value)> = listed["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["sid"].as_str().unwrap().to_owned(),
                serde_json::from_str(x["attributes"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    assert!(workers.len() >= 5, "{} workers", workers.len());
    // Three desktops on workers of their own; the others take the writers' updates.
    let desk_workers: Vec<String> = workers.drain(..3).map(|(s, _)| s).collect();
    let load = Arc::new(Load {
        bases: bases.clone(),
        ws: ws.clone(),
        workflow,
        workers,
    });

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut tasks = Vec::new();
    let mut desktops = Vec::new();
    for (i, worker) in desk_workers.iter().enumerate() {
        let t = post(
            &http,
            &format!("{}/v1/AccessTokens", bases[i]),
            &[
                ("WorkspaceSid", &ws),
                ("WorkerSid", worker),
                ("Ttl", "3600"),
            ],
        )
        .await
        .unwrap();
        let me = Arc::new(Desktop {
            reconnects: AtomicU64::new(0),
            states: AtomicU64::new(0),
            connected: AtomicBool::new(false),
        });
        let mut order = bases.clone();
        order.rotate_left(i);
        tasks.push(tokio::spawn(desktop(
            order,
            t["token"].as_str().unwrap().to_owned(),
            me.clone(),
            stop.clone(),
        )));
        desktops.push(me);
    }
    // One writer per worker, so each worker's last acknowledged update is its writer's.
    for n in 0..load.workers.len() {
        tasks.push(tokio::spawn(writer(
            n,
            load.clone(),
            acked.clone(),
            stop.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // 1. kill -9 the owner.
    let (a, token_a, _) = owner(&http, &nodes).await.expect("an owner");
    let killed = Instant::now();
    nodes[a].kill9();
    let survivors: Vec<String> = (0..3)
        .filter(|&i| i != a)
        .map(|i| bases[i].clone())
        .collect();
    let takeover_kill = until_writes_pass(&http, &survivors, &load, &acked, killed).await;
    println!(
        "kill -9 of {} (token {token_a}): writes pass again after {} ms",
        nodes[a].id,
        takeover_kill.as_millis()
    );
    nodes[a].spawn(&db);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 2. SIGSTOP the owner past its lease; hand its own server writes meanwhile; SIGCONT.
    let (b, token_b, internal_b) = owner(&http, &nodes).await.expect("an owner after the kill");
    let stopped = Instant::now();
    nodes[b].signal("STOP");
    let mut pending = Vec::new();
    for i in 0..5 {
        let url = format!("http://{internal_b}/v1/Workspaces/{ws}/Tasks");
        let workflow = load.workflow.clone();
        pending.push(tokio::spawn(async move {
            let attributes = json!({"fenced_probe": i}).to_string();
            post(
                &client(),
                &url,
                &[
                    ("WorkflowSid", &workflow),
                    ("TaskChannel", "default"),
                    ("Attributes", &attributes),
                ],
            )
            .await
        }));
    }
    let others: Vec<String> = (0..3)
        .filter(|&i| i != b)
        .map(|i| bases[i].clone())
        .collect();
    let takeover_stop = until_writes_pass(&http, &others, &load, &acked, stopped).await;
    println!(
        "SIGSTOP of {} (token {token_b}): writes pass again after {} ms",
        nodes[b].id,
        takeover_stop.as_millis()
    );
    let lease = Duration::from_millis(LEASE_MS);
    tokio::time::sleep((lease + Duration::from_secs(1)).saturating_sub(stopped.elapsed())).await;
    nodes[b].signal("CONT");
    let mut fenced_refused = 0;
    let mut refusal = String::new();
    for p in pending {
        match p.await.unwrap() {
            Ok(v) => panic!("the paused former owner acknowledged a write: {v}"),
            Err(e) => {
                fenced_refused += 1;
                refusal = e.chars().take(160).collect();
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 3. Restart PostgreSQL (as a crash) under the load.
    let restarted = Instant::now();
    pg.crash_restart();
    let pg_down = restarted.elapsed();
    let recovery_pg = until_writes_pass(&http, &bases, &load, &acked, restarted).await;
    println!(
        "PostgreSQL restart (down {} ms): writes pass again after {} ms",
        pg_down.as_millis(),
        recovery_pg.as_millis()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Desktops must be connected again by now.
    let settle = Instant::now() + Duration::from_secs(10);
    while desktops
        .iter()
        .any(|d| !d.connected.load(Ordering::Relaxed))
        && Instant::now() < settle
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let states_before: Vec<u64> = desktops
        .iter()
        .map(|d| d.states.load(Ordering::Relaxed))
        .collect();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }

    // The checker: everything read back from the database and through the nodes.
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let url = db.clone();
    let (log, created, accepted, probes) = tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let log: Vec<(i64, i64)> = c
            .query("SELECT seq, term FROM log ORDER BY seq", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let created: BTreeSet<String> = c
            .query(
                "SELECT task_sid FROM events WHERE event_type = 'task.created'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut accepted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in c
            .query(
                "SELECT task_sid, worker_sid FROM events WHERE event_type = 'reservation.accepted'",
                &[],
            )
            .unwrap()
        {
            accepted.entry(r.get(0)).or_default().insert(r.get(1));
        }
        let probes: i64 = c
            .query_one(
                "SELECT (SELECT COUNT(*) FROM log WHERE body LIKE '%fenced_probe%')
                      + (SELECT COUNT(*) FROM events WHERE data LIKE '%fenced_probe%')",
                &[],
            )
            .unwrap()
            .get(0);
        (log, created, accepted, probes)
    })
    .await
    .unwrap();
    // The log has no gaps and its terms never go back: no term wrote after a later one began.
    for (i, (seq, _)) in log.iter().enumerate() {
        assert_eq!(*seq, i as i64 + 1, "a gap in the log");
    }
    let regressions = log.windows(2).filter(|w| w[1].1 < w[0].1).count();
    assert_eq!(regressions, 0, "a fenced term wrote after its successor");
    let terms: BTreeSet<i64> = log.iter().map(|(_, t)| *t).collect();
    assert_eq!(
        probes, 0,
        "a write handed to the paused former owner is stored"
    );
    let lost_tasks: Vec<&String> = acked
        .tasks
        .iter()
        .filter(|t| !created.contains(*t))
        .collect();
    assert!(
        lost_tasks.is_empty(),
        "acknowledged tasks lost: {lost_tasks:?}"
    );
    let double: Vec<_> = accepted.iter().filter(|(_, w)| w.len() > 1).collect();
    assert!(
        double.is_empty(),
        "tasks accepted by two workers: {double:?}"
    );
    for (task, worker) in &acked.accepted {
        assert!(
            accepted.get(task).is_some_and(|w| w.contains(worker)),
            "the acknowledged acceptance of {task} by {worker} is lost"
        );
    }
    let w = format!("{}/v1/Workspaces/{ws}", bases[(b + 1) % 3]);
    for (worker, seq) in &acked.worker_seq {
        let v = get(&http, &format!("{w}/Workers/{worker}")).await.unwrap();
        let attrs: Value = serde_json::from_str(v["attributes"].as_str().unwrap()).unwrap();
        let stored = attrs["load_seq"].as_u64().unwrap_or(0);
        assert!(
            stored >= *seq,
            "worker {worker}: update {seq} acknowledged, {stored} stored"
        );
    }
    for task in acked.completed.iter().take(20) {
        let v = get(&http, &format!("{w}/Tasks/{task}")).await.unwrap();
        assert_eq!(v["assignment_status"], "completed", "{task}");
    }
    let fenced_logged = nodes[b].log_text().matches("fenced").count();
    for (i, d) in desktops.iter().enumerate() {
        assert!(
            d.reconnects.load(Ordering::Relaxed) >= 1,
            "desktop {i} never reconnected"
        );
        assert!(
            states_before[i] >= 2,
            "desktop {i} saw {} states",
            states_before[i]
        );
    }
    println!("cluster figures:");
    println!(
        "  writes acknowledged {}, failed {}",
        acked.ok, acked.failed
    );
    println!(
        "  tasks created {}, accepted {}, completed {}; log entries {}, terms {:?}",
        acked.tasks.len(),
        acked.accepted.len(),
        acked.completed.len(),
        log.len(),
        terms
    );
    println!(
        "  takeover after kill -9: {} ms; after SIGSTOP: {} ms; after the PostgreSQL restart: {} ms",
        takeover_kill.as_millis(),
        takeover_stop.as_millis(),
        recovery_pg.as_millis()
    );
    println!(
        "  writes handed to the paused owner: {fenced_refused} refused, 0 stored; \"fenced\" in its log {fenced_logged} times"
    );
    println!("  the paused owner's last refusal: {refusal}");
    println!(
        "  desktops: reconnects {:?}, states {:?}",
        desktops
            .iter()
            .map(|d| d.reconnects.load(Ordering::Relaxed))
            .collect::<Vec<_>>(),
        states_before
    );
    println!("  whole test: {} s", began.elapsed().as_secs());
    assert!(
        takeover_kill <= Duration::from_secs(5),
        "takeover after kill -9 took {takeover_kill:?}"
    );
    assert!(
        takeover_stop <= Duration::from_secs(5),
        "takeover after SIGSTOP took {takeover_stop:?}"
    );
}
