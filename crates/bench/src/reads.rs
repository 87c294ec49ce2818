//! `reads`: an unrelated GET's latency while clients loop on heavy reads (30-day cumulative
//! statistics over a long event history, 1,000-task pages, a 1,000-threshold SplitByWaitTime).
//! The baseline is the same GETs with nobody else reading.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use switchboard_bench::client::{latency, sid, Api};
use switchboard_bench::server::Server;

/// Options of `reads`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The server binary.
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
    /// Tasks to create and complete first (each leaves several events behind).
    #[arg(long, default_value_t = 5_000)]
    history: usize,
    /// Clients looping on the heavy read.
    #[arg(long, default_value_t = 2)]
    heavy_clients: usize,
    /// Timed unrelated GETs per measurement.
    #[arg(long, default_value_t = 400)]
    gets: usize,
}

/// Runs the measurement and prints the table.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let server = Server::start(&args.bin, &[]).await?;
    let api = Api::new(&server.base)?;
    let ws = sid(&api
        .post("/v1/Workspaces", &[("FriendlyName", "reads")])
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
            ],
        )
        .await?)?;
    let worker = sid(&api
        .post(
            &w("/Workers"),
            &[("FriendlyName", "agent"), ("ActivitySid", &available)],
        )
        .await?)?;
    let other = sid(&api
        .post(&w("/Workers"), &[("FriendlyName", "other")])
        .await?)?;
    eprintln!("writing a history of {} tasks…", args.history);
    for _ in 0..args.history {
        let t = sid(&api
            .post(
                &w("/Tasks"),
                &[("WorkflowSid", &workflow), ("Attributes", "{}")],
            )
            .await?)?;
        let rs = api.get(&w(&format!("/Tasks/{t}/Reservations"))).await?;
        let r = rs["reservations"][0]["sid"]
            .as_str()
            .context("no reservation")?
            .to_owned();
        api.post(
            &w(&format!("/Tasks/{t}/Reservations/{r}")),
            &[("ReservationStatus", "accepted")],
        )
        .await?;
        api.post(
            &w(&format!("/Tasks/{t}")),
            &[("AssignmentStatus", "completed")],
        )
        .await?;
    }
    let _ = worker;
    let unrelated = w(&format!("/Workers/{other}"));
    // As many thresholds as fit in the longest request target the server takes (8 KiB).
    let thresholds: Vec<String> = (1..=1_000).map(|s| s.to_string()).collect();
    let heavy: Vec<(&str, String)> = vec![
        (
            "30-day statistics",
            w("/CumulativeStatistics?Minutes=43200"),
        ),
        ("1,000 tasks", w("/Tasks?PageSize=1000")),
        (
            "1,000 split thresholds",
            w(&format!(
                "/CumulativeStatistics?SplitByWaitTime={}",
                thresholds.join(",")
            )),
        ),
    ];
    let baseline = timed_gets(&api, &unrelated, args.gets).await?;
    println!("| while looping on | clients | unrelated GET p50 ms | p99 ms | heavy reads done |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| nothing | 0 | {:.2} | {:.2} | 0 |",
        baseline.p50, baseline.p99
    );
    for (name, path) in heavy {
        let stop = Arc::new(AtomicBool::new(false));
        let mut loops = Vec::new();
        for _ in 0..args.heavy_clients {
            let (api, path, stop) = (api.clone(), path.clone(), stop.clone());
            loops.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    api.timed_get(&path).await?;
                    n += 1;
                }
                anyhow::Ok(n)
            }));
        }
        // Let the heavy clients get going before measuring.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let l = timed_gets(&api, &unrelated, args.gets).await?;
        stop.store(true, Ordering::Relaxed);
        let mut done = 0;
        for h in loops {
            done += h.await??;
        }
        println!(
            "| {name} | {} | {:.2} | {:.2} | {done} |",
            args.heavy_clients, l.p50, l.p99
        );
    }
    Ok(())
}

async fn timed_gets(
    api: &Api,
    path: &str,
    n: usize,
) -> anyhow::Result<switchboard_bench::client::Latency> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(api.timed_get(path).await?);
        // Paced like a person's screen refreshing, not a tight loop.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(latency(samples))
}
