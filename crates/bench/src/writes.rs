//! `writes`: durable task creations per second. `--clients` connections (HTTP keep-alive) each
//! loop on `POST /v1/Workspaces/{WS}/Tasks` for `--duration-s`, every creation acknowledged with
//! 201 only once it is stored; prints creations per second, latency (p50/p99/max) and the
//! server's CPU. With several `--clients` sizes, each is measured in turn on the same server, and
//! `--plot` draws creations per second and latency against clients. The server's driver reports its commits (fsyncs) and jobs per commit at debug
//! level every 10 s: it is started with that report on (in its log, on its stdout, which the
//! started server's reader drops: start the server yourself and pass `--url` to read it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use switchboard_bench::client::{latency, sid, Api};
use switchboard_bench::server::Server;

/// Options of `writes`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The server binary.
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
    /// Concurrent clients, one connection each, each with one creation in flight; several
    /// (e.g. 64,256,512) are measured in turn on the same server.
    #[arg(long, value_delimiter = ',', default_value = "256")]
    clients: Vec<usize>,
    /// A server already running (started with the benchmark's credentials, `serve --listen …`
    /// with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN as `switchboard_bench::server` sets them),
    /// instead of starting `--bin`.
    #[arg(long)]
    url: Option<String>,
    /// Its process id, for its CPU time (with --url).
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds of load (after one second of warm-up, not counted).
    #[arg(long, default_value_t = 20)]
    duration_s: u64,
    /// Draw creations per second and latency (p50, p99) against clients into this SVG file.
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
}

/// The figures of one size.
struct Row {
    clients: usize,
    rate: f64,
    p50: f64,
    p99: f64,
}

/// The target of issue 13 for durable creations per second.
const TARGET_PER_S: f64 = 10_000.0;

/// Runs the measurement and prints the figures.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let started = match &args.url {
        Some(_) => None,
        None => Some(
            Server::start(
                &args.bin,
                &[("RUST_LOG", "warn,switchboard_server::driver=debug")],
            )
            .await?,
        ),
    };
    let base = match (&args.url, &started) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(s)) => s.base.clone(),
        (None, None) => anyhow::bail!("no server"),
    };
    let pid = started.as_ref().map(Server::pid).or(args.pid);
    let cpu_now = move || {
        pid.and_then(|p| switchboard_bench::server::proc_cpu_seconds(&format!("/proc/{p}/stat")))
    };
    let api = Api::new(&base)?;
    let ws = sid(&api
        .post("/v1/Workspaces", &[("FriendlyName", "writes")])
        .await?)?;
    let w = |rest: &str| format!("/v1/Workspaces/{ws}{rest}");
    let queue = sid(&api
        .post(
            &w("/TaskQueues"),
            &[
                ("FriendlyName", "nobody"),
                ("TargetWorkers", "skills HAS 'nobody'"),
            ],
        )
        .await?)?;
    let config =
        serde_json::json!({"task_routing": {"filters": [], "default_filter": {"queue": queue}}});
    let workflow = sid(&api
        .post(
            &w("/Workflows"),
            &[
                ("FriendlyName", "nobody"),
                ("Configuration", &config.to_string()),
            ],
        )
        .await
        .context("creating the workflow")?)?;
    let tasks = Arc::new(w("/Tasks"));
    let workflow = Arc::new(workflow);
    let mut rows = Vec::new();
    for &n in &args.clients {
        rows.push(measure(&args, &base, &tasks, &workflow, n, &cpu_now).await?);
    }
    if let Some(path) = &args.plot {
        let points = |f: &dyn Fn(&Row) -> f64| -> Vec<(f64, f64)> {
            #[allow(clippy::cast_precision_loss)]
            rows.iter().map(|r| (r.clients as f64, f(r))).collect()
        };
        let panels = [
            switchboard_bench::plot::Panel {
                title: "durable task creations per second".into(),
                x_desc: "concurrent clients".into(),
                y_desc: "creations/s".into(),
                series: vec![("acknowledged (201)".into(), points(&|r| r.rate))],
                target: Some(("target 10,000/s".into(), TARGET_PER_S)),
            },
            switchboard_bench::plot::Panel {
                title: "creation latency (ms)".into(),
                x_desc: "concurrent clients".into(),
                y_desc: "ms".into(),
                series: vec![
                    ("p50".into(), points(&|r| r.p50)),
                    ("p99".into(), points(&|r| r.p99)),
                ],
                target: None,
            },
        ];
        switchboard_bench::plot::panels(path, &panels)
            .with_context(|| format!("drawing {}", path.display()))?;
    }
    Ok(())
}

/// `clients_n` closed loops for `--duration-s` after a second of warm-up; prints and returns
/// the figures.
async fn measure(
    args: &Args,
    base: &str,
    tasks: &Arc<String>,
    workflow: &Arc<String>,
    clients_n: usize,
    cpu_now: &dyn Fn() -> Option<f64>,
) -> anyhow::Result<Row> {
    let warm = Instant::now() + Duration::from_secs(1);
    let until = warm + Duration::from_secs(args.duration_s);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..clients_n {
        // One client (and so one connection) per loop: many connections, as many callers.
        let api = Api::new(base)?;
        let (tasks, workflow, samples, errors) = (
            tasks.clone(),
            workflow.clone(),
            samples.clone(),
            errors.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let start = Instant::now();
                if start >= until {
                    break;
                }
                let r = api
                    .post(
                        &tasks,
                        &[
                            ("WorkflowSid", &workflow),
                            ("Attributes", r#"{"type":"w"}"#),
                        ],
                    )
                    .await;
                if start < warm {
                    continue;
                }
                match r {
                    Ok(_) => mine.push(start.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(mine);
        }));
    }
    tokio::time::sleep_until(warm.into()).await;
    let cpu_before = cpu_now();
    for c in clients {
        c.await?;
    }
    let cpu_after = cpu_now();
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    let n = samples.len();
    let max_ms = samples.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3);
    let l = latency(samples);
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / args.duration_s as f64;
    let cpu = match (cpu_before, cpu_after) {
        #[allow(clippy::cast_precision_loss)]
        (Some(a), Some(b)) => format!("{:.0}", (b - a) * 100.0 / args.duration_s as f64),
        _ => "?".into(),
    };
    println!(
        "{clients_n} clients, {} s: {n} creations acknowledged (201), {rate:.0}/s; latency p50 \
         {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} errors; server CPU {cpu} % of a core",
        args.duration_s,
        l.p50,
        l.p99,
        max_ms,
        errors.load(Ordering::Relaxed),
    );
    Ok(Row {
        clients: clients_n,
        rate,
        p50: l.p50,
        p99: l.p99,
    })
}
