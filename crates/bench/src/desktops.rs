//! `desktops`: what connected desktops and live reservations cost requests that have nothing to
//! do with them. For each configuration a fresh server gets the same workspace (one queue, one
//! workflow, W workers); then N workers connect a desktop each and R tasks are reserved to
//! workers; then 8 clients loop on a GET of a worker with neither, and one client times writes to
//! that worker. The first configuration is the baseline with none.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use futures_util::StreamExt;

use switchboard_bench::client::{bounded, get_throughput, latency, sid, Api, Latency};
use switchboard_bench::server::Server;

/// Options of `desktops`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The server binary.
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
    /// Configurations as DESKTOPS:RESERVATIONS, the first being the baseline.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0:0,2000:2000,10000:2000"
    )]
    configs: Vec<String>,
    /// Seconds of GETs per configuration.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Timed writes per configuration.
    #[arg(long, default_value_t = 300)]
    writes: usize,
    /// Workers in the workspace (at least the largest number of desktops or reservations).
    #[arg(long, default_value_t = 10_001)]
    workers: usize,
    /// Runs of every configuration, interleaved; the table shows each figure's median.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Draw the results into this SVG file.
    #[arg(long)]
    plot: Option<String>,
}

/// One configuration's figures.
pub struct Figures {
    /// Connected desktops.
    pub desktops: usize,
    /// Live (pending) reservations.
    pub reservations: usize,
    /// GETs answered per second.
    pub get_rps: f64,
    /// Latency of the unrelated write.
    pub write: Latency,
    /// Pushes the desktops received during the measurement.
    pub pushes: u64,
    /// Server CPU seconds used during the measurement.
    pub server_cpu: f64,
}

async fn measure(args: &Args, desktops: usize, reservations: usize) -> anyhow::Result<Figures> {
    let conns = (desktops + 1_000).to_string();
    let server = Server::start(&args.bin, &[("SWITCHBOARD_MAX_CONNECTIONS", &conns)]).await?;
    let api = Api::new(&server.base)?;
    let ws = sid(&api
        .post("/v1/Workspaces", &[("FriendlyName", "bench")])
        .await?)?;
    let w = |rest: &str| format!("/v1/Workspaces/{ws}{rest}");
    let available = api.get(&w("/Activities?FriendlyName=Available")).await?["activities"][0]
        ["sid"]
        .as_str()
        .context("no Available activity")?
        .to_owned();
    let queue = sid(&api
        .post(
            &w("/TaskQueues"),
            &[("FriendlyName", "All"), ("TargetWorkers", "1==1")],
        )
        .await?)?;
    let config =
        serde_json::json!({"task_routing": {"filters": [], "default_filter": {"queue": queue}}});
    let workflow = sid(&api
        .post(
            &w("/Workflows"),
            &[
                ("FriendlyName", "All"),
                ("Configuration", &config.to_string()),
                ("TaskReservationTimeout", "86400"),
            ],
        )
        .await?)?;
    let workers: Vec<String> = bounded(
        32,
        (0..args.workers)
            .map(|i| {
                let api = api.clone();
                let path = w("/Workers");
                let available = available.clone();
                async move {
                    let attrs = serde_json::json!({"contact_uri": format!("client:agent{i}")});
                    sid(&api
                        .post(
                            &path,
                            &[
                                ("FriendlyName", &format!("agent{i}")),
                                ("Attributes", &attrs.to_string()),
                                ("ActivitySid", &available),
                            ],
                        )
                        .await?)
                }
            })
            .collect(),
    )
    .await?;
    // The worker the measured requests are about has no desktop and no reservation.
    let quiet = workers.last().context("no workers")?.clone();

    let received = Arc::new(AtomicU64::new(0));
    let tokens: Vec<String> = bounded(
        32,
        workers[..desktops]
            .iter()
            .map(|worker| {
                let api = api.clone();
                let (ws, worker) = (ws.clone(), worker.clone());
                async move { api.access_token(&ws, &worker).await }
            })
            .collect(),
    )
    .await?;
    let ws_base = server.base.replace("http://", "ws://");
    let mut sockets = Vec::new();
    for chunk in tokens.chunks(256) {
        let opened = bounded(
            64,
            chunk
                .iter()
                .map(|t| {
                    let url = format!("{ws_base}/v1/Desktop?token={t}");
                    async move {
                        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
                        anyhow::Ok(socket)
                    }
                })
                .collect(),
        )
        .await?;
        for socket in opened {
            let received = received.clone();
            sockets.push(tokio::spawn(async move {
                let (_tx, mut rx) = socket.split();
                while let Some(Ok(_)) = rx.next().await {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    // Each desktop gets its first state; wait for all of them.
    let wait = Instant::now();
    while (received.load(Ordering::Relaxed) as usize) < desktops {
        anyhow::ensure!(
            wait.elapsed().as_secs() < 120,
            "desktops did not all get their state"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    bounded(
        32,
        (0..reservations)
            .map(|_| {
                let api = api.clone();
                let (path, workflow) = (w("/Tasks"), workflow.clone());
                async move {
                    api.post(&path, &[("WorkflowSid", &workflow), ("Attributes", "{}")])
                        .await?;
                    anyhow::Ok(())
                }
            })
            .collect(),
    )
    .await?;
    let reserved = api
        .get(&w("/Tasks?AssignmentStatus=reserved&PageSize=1"))
        .await?;
    anyhow::ensure!(
        reservations == 0 || reserved["tasks"].as_array().is_some_and(|t| !t.is_empty()),
        "tasks were not reserved"
    );

    let before = received.load(Ordering::Relaxed);
    let cpu_before = server.cpu_seconds();
    let get_rps = get_throughput(&api, &w(&format!("/Workers/{quiet}")), 8, args.seconds).await?;
    let mut samples = Vec::with_capacity(args.writes);
    for i in 0..args.writes {
        let attrs = serde_json::json!({"contact_uri": "client:quiet", "n": i}).to_string();
        samples.push(
            api.timed_post(&w(&format!("/Workers/{quiet}")), &[("Attributes", &attrs)])
                .await?,
        );
    }
    let pushes = received.load(Ordering::Relaxed) - before;
    let server_cpu = match (cpu_before, server.cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    for s in sockets {
        s.abort();
    }
    Ok(Figures {
        desktops,
        reservations,
        get_rps,
        write: latency(samples),
        pushes,
        server_cpu,
    })
}

/// Runs every configuration and prints the table.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut configs = Vec::new();
    for c in &args.configs {
        let (d, r) = c
            .split_once(':')
            .with_context(|| format!("{c:?}: expected DESKTOPS:RESERVATIONS"))?;
        let (d, r): (usize, usize) = (d.parse()?, r.parse()?);
        anyhow::ensure!(
            d.max(r) < args.workers,
            "{c}: needs more than --workers {}",
            args.workers
        );
        configs.push((d, r));
    }
    // Every configuration once per round, so a slow spell of the machine hits all alike.
    let mut runs: Vec<Vec<Figures>> = configs.iter().map(|_| Vec::new()).collect();
    for round in 0..args.repeat.max(1) {
        for (i, (d, r)) in configs.iter().enumerate() {
            eprintln!("round {}: {d} desktops, {r} reservations…", round + 1);
            runs[i].push(measure(&args, *d, *r).await?);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let all: Vec<Figures> = runs
        .into_iter()
        .map(|fs| Figures {
            desktops: fs[0].desktops,
            reservations: fs[0].reservations,
            get_rps: median(fs.iter().map(|f| f.get_rps).collect()),
            write: Latency {
                p50: median(fs.iter().map(|f| f.write.p50).collect()),
                p99: median(fs.iter().map(|f| f.write.p99).collect()),
            },
            pushes: fs.iter().map(|f| f.pushes).max().unwrap_or(0),
            server_cpu: median(fs.iter().map(|f| f.server_cpu).collect()),
        })
        .collect();
    let base = all.first().context("no configurations")?;
    println!("| desktops | reservations | GET/s | vs none | write p50 ms | write p99 ms | p50 vs none | pushes during | server CPU s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in &all {
        println!(
            "| {} | {} | {:.0} | {:.2}× | {:.2} | {:.2} | {:.2}× | {} | {:.1} |",
            f.desktops,
            f.reservations,
            f.get_rps,
            f.get_rps / base.get_rps,
            f.write.p50,
            f.write.p99,
            f.write.p50 / base.write.p50,
            f.pushes,
            f.server_cpu
        );
    }
    if let Some(path) = &args.plot {
        let points: Vec<switchboard_bench::plot::DesktopPoint> = all
            .iter()
            .map(|f| switchboard_bench::plot::DesktopPoint {
                desktops: f.desktops as f64,
                get_rps: f.get_rps,
                p50: f.write.p50,
                p99: f.write.p99,
            })
            .collect();
        switchboard_bench::plot::desktops(path, &points)?;
    }
    Ok(())
}
