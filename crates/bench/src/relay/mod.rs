//! `relay`: what relaying the internal call's audio costs the server, against Janus on the same
//! load in the same run.
//!
//! - **Forwarding** ([`ours`], [`janus`]): N concurrent two-party calls of simulated agents
//!   ([`switchboard_bench::peer`]: str0m peers over real loopback UDP, a stamped 20 ms frame 50 times a second
//!   each way). Through the real `switchboard` binary (the demo workspace, desktop sockets, an
//!   internal call per pair, `media_offer`), and through Janus's `videocall` plugin. With
//!   `--transport tcp` our peers reach the relay over ICE-TCP instead (one connection each to
//!   its TCP listener); Janus's stay on UDP.
//! - **Mixing** ([`mix`]): rooms of K participants, each hearing an N−1 mix of the others, real
//!   Opus in and out. The product has no three-party call yet, so ours drives
//!   `switchboard_media::io::Relay` in this process; Janus uses its AudioBridge.
//!
//! The other modules: [`args`] (the options), [`measure`] (a window's CPU and receiver figures,
//! pinning), [`report`] (rows, tables, the comparison), [`tones`] (the Opus the mixers get).
//! Only this module depends on the others; they never depend on it.
//!
//! One run ramps up through the sizes (say 100, 250, 500, 1000 calls): the calls of a size are
//! added to those of the previous one, then, once every peer is connected and hears its party,
//! the window starts (`--seconds`). Over the window: the server's CPU time (from
//! `/proc/<pid>/stat`, or the media thread's `/proc/self/task/<tid>/stat` for the in-process
//! mixer), and at the receivers loss, one-way delay (p50/p99; sender and receiver share one
//! clock) and RFC 3550 jitter. CPU per call is the whole process's CPU over the window divided
//! by the calls (the idle server's own share is printed too, and not subtracted).
//!
//! Pinning: with `--server-cpus 0 --client-cpus 1` (the default when `taskset` exists) the
//! bench pins all its own threads to CPU 1 (`taskset -a -p`), starts the server and Janus
//! through `taskset -c 0`, and moves the in-process media thread to CPU 0 (`taskset -p` on its
//! thread id). The client then has one core for up to 2,000 peers: when its frames leave late
//! against their 20 ms schedule, or its CPU is near a full core, the table says so, because its
//! figures then describe the client, not the server.

mod args;
mod janus;
mod measure;
mod mix;
mod ours;
mod report;
mod tones;

pub use args::Args;

use measure::{have_taskset, pin};
use report::{print_table, ratio_line, Row};

/// Runs the parts asked for and prints the tables.
pub async fn run(mut args: Args) -> anyhow::Result<()> {
    args.calls.sort_unstable();
    args.calls.retain(|&n| n > 0);
    args.participants.sort_unstable();
    args.participants.retain(|&n| n > 0);
    anyhow::ensure!(args.room >= 2, "--room must be at least 2");
    // No core files from what the bench starts: Janus has aborted while being stopped with
    // 1,500 peers, and its core (13 GB) landed in the working directory. Janus raises its own
    // soft limit as it starts, so the hard one goes to 0 too; the servers inherit both, and
    // the bench's process is the only one whose limit changes.
    let _ = rlimit::Resource::CORE.set(0, 0);
    if !have_taskset() && (!args.server_cpus.is_empty() || !args.client_cpus.is_empty()) {
        eprintln!("taskset is missing: nothing is pinned (server and client share the cores)");
        args.server_cpus.clear();
        args.client_cpus.clear();
    }
    if !args.client_cpus.is_empty() {
        pin(std::process::id(), &args.client_cpus, true)?;
        eprintln!(
            "pinned: bench on CPU {}, server/Janus/media thread on CPU {}",
            args.client_cpus,
            if args.server_cpus.is_empty() {
                "any"
            } else {
                &args.server_cpus
            }
        );
    }
    let janus = match args.janus.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            let found = std::path::Path::new(&args.janus_bin).exists();
            if !found {
                eprintln!(
                    "{} is missing: no Janus comparison (apt-get install janus, or --janus off)",
                    args.janus_bin
                );
            }
            found
        }
    };
    let forward = args.only.iter().any(|o| o == "forward") && !args.calls.is_empty();
    let mixing = args.only.iter().any(|o| o == "mix") && !args.participants.is_empty();

    let mut fwd_ours = Vec::new();
    let mut fwd_janus = Vec::new();
    let mut mix_ours = Vec::new();
    let mut mix_janus = Vec::new();
    if forward {
        fwd_ours = ours::run(&args).await?;
        if janus {
            match janus::forward(&args).await {
                Ok(rows) => fwd_janus = rows,
                Err(e) => eprintln!("Janus forwarding failed: {e:#}"),
            }
        }
    }
    if mixing {
        mix_ours = mix::run(&args).await?;
        if janus {
            match janus::mix(&args).await {
                Ok(rows) => mix_janus = rows,
                Err(e) => eprintln!("Janus mixing failed: {e:#}"),
            }
        }
    }
    if forward {
        let rows: Vec<Row> = fwd_ours.iter().chain(&fwd_janus).cloned().collect();
        print_table("Forwarding: two-party calls", "call", "calls", &rows);
        ratio_line("Forwarded calls", &fwd_ours, &fwd_janus);
    }
    if mixing {
        let rows: Vec<Row> = mix_ours.iter().chain(&mix_janus).cloned().collect();
        print_table(
            &format!("Mixing: rooms of {}, each hearing an N−1 mix", args.room),
            "participant",
            "participants",
            &rows,
        );
        ratio_line("Mixed participants", &mix_ours, &mix_janus);
    }
    println!();
    println!(
        "Window {} s per size; server pinned to CPU {}, client to CPU {}; {} client thread(s).",
        args.seconds,
        if args.server_cpus.is_empty() {
            "-"
        } else {
            &args.server_cpus
        },
        if args.client_cpus.is_empty() {
            "-"
        } else {
            &args.client_cpus
        },
        args.client_threads
    );
    if let Some(path) = &args.plot {
        let cpu = |rows: &[Row]| -> Vec<(f64, f64)> {
            rows.iter().map(|r| (r.n as f64, r.cpu_pct)).collect()
        };
        switchboard_bench::plot::relay(
            path,
            &cpu(&fwd_ours),
            &cpu(&fwd_janus),
            &cpu(&mix_ours),
            &cpu(&mix_janus),
        )?;
    }
    Ok(())
}
