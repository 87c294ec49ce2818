//! `relay`: what relaying the internal call's audio costs the server, against Janus on the same
//! load in the same run.
//!
//! - **Forwarding** ([`ours`], [`janus`]): N concurrent two-party calls of simulated agents
//!   ([`peer`]: str0m peers over real loopback UDP, a stamped 20 ms frame 50 times a second
//!   each way). Through the real `switchboard` binary (the demo workspace, desktop sockets, an
//!   internal call per pair, `media_offer`), and through Janus's `videocall` plugin.
//! - **Mixing** ([`mix`]): rooms of K participants, each hearing an N−1 mix of the others, real
//!   Opus in and out. The product has no three-party call yet, so ours drives
//!   `switchboard_media::io::Relay` in this process; Janus uses its AudioBridge.
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

mod janus;
mod mix;
mod ours;
mod peer;

use std::time::Duration;

use anyhow::Context;

use crate::server::proc_cpu_seconds;
use peer::{PeerReport, FRAMES_PER_SECOND};

/// Options of `relay`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The server binary.
    #[arg(long, default_value = "target/release/switchboard")]
    pub bin: String,
    /// Concurrent two-party calls, ramped up in this order.
    #[arg(long, value_delimiter = ',', default_value = "100,250,500,1000")]
    pub calls: Vec<usize>,
    /// Mixed participants, ramped up in this order (empty: no mixing runs).
    #[arg(long, value_delimiter = ',', default_value = "50,100,150,200")]
    pub participants: Vec<usize>,
    /// Participants per mixed room.
    #[arg(long, default_value_t = 3)]
    pub room: usize,
    /// libopus complexity of our relay's mix encoders (0..=10; the relay's default is 5).
    #[arg(long, default_value_t = 5)]
    pub mix_complexity: i32,
    /// Seconds of the measurement window at every size.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seconds between the last peer connecting and the window.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Calls (or participants) being set up at once.
    #[arg(long, default_value_t = 4)]
    pub setup_concurrency: usize,
    /// Client threads the peers run on (each a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// CPUs for the server, Janus and the in-process media thread (a `taskset` list; empty:
    /// no pinning).
    #[arg(long, default_value = "0")]
    pub server_cpus: String,
    /// CPUs for the bench itself, the simulated agents (a `taskset` list; empty: no pinning).
    #[arg(long, default_value = "1")]
    pub client_cpus: String,
    /// Run Janus on the same loads: `auto` (when `--janus-bin` exists), `on` or `off`.
    #[arg(long, default_value = "auto")]
    pub janus: String,
    /// The Janus binary.
    #[arg(long, default_value = "/usr/bin/janus")]
    pub janus_bin: String,
    /// The local address Janus gathers on and its peers bind to (default: this host's first
    /// global IPv4 address; Janus gathers no loopback candidates).
    #[arg(long)]
    pub janus_ip: Option<String>,
    /// Only these parts: `forward`, `mix` (default both).
    #[arg(long, value_delimiter = ',', default_value = "forward,mix")]
    pub only: Vec<String>,
    /// Draw server CPU against load into this SVG file.
    #[arg(long)]
    pub plot: Option<String>,
}

/// What one system did at one size.
#[derive(Debug, Clone)]
pub struct Row {
    /// `switchboard` or `janus`.
    pub system: &'static str,
    /// Calls (forwarding) or participants (mixing).
    pub n: usize,
    /// Server CPU over the window, % of one core.
    pub cpu_pct: f64,
    /// CPU µs per call (participant) per second.
    pub us_per_unit: f64,
    /// Lost frames, %.
    pub loss_pct: f64,
    /// One-way delay, ms (NaN for mixes).
    pub p50_ms: f64,
    /// One-way delay, 99th percentile, ms (NaN for mixes).
    pub p99_ms: f64,
    /// Mean RFC 3550 jitter, ms (NaN for mixes).
    pub jitter_ms: f64,
    /// The client's CPU over the window, % of one core.
    pub client_pct: f64,
    /// Why the figures may describe the client rather than the server.
    pub warnings: Vec<String>,
}

impl Row {
    /// Calls (participants) one core carries at this cost.
    pub fn per_core(&self) -> f64 {
        1e6 / self.us_per_unit
    }
}

/// CPU seconds of this process so far.
fn own_cpu() -> f64 {
    proc_cpu_seconds("/proc/self/stat").unwrap_or(f64::NAN)
}

/// Whether `taskset` can be run.
fn have_taskset() -> bool {
    std::process::Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `taskset -p [-a] -c CPUS ID`.
fn pin(id: u32, cpus: &str, all_threads: bool) -> anyhow::Result<()> {
    let mut cmd = std::process::Command::new("taskset");
    if all_threads {
        cmd.arg("-a");
    }
    let out = cmd
        .arg("-p")
        .arg("-c")
        .arg(cpus)
        .arg(id.to_string())
        .output()
        .context("running taskset")?;
    anyhow::ensure!(
        out.status.success(),
        "taskset -p -c {cpus} {id}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// What the clients saw over a window.
struct Window {
    seconds: f64,
    server_cpu: f64,
    client_cpu: f64,
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1_000.0
}

fn client_warnings(
    reports: &[PeerReport],
    expected: usize,
    w: &Window,
    threads: usize,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if reports.len() < expected {
        warnings.push(format!(
            "{} of {expected} peers handed in no report",
            expected - reports.len()
        ));
    }
    let errors: Vec<&str> = reports.iter().filter_map(|r| r.error.as_deref()).collect();
    if let Some(first) = errors.first() {
        warnings.push(format!("{} peers failed (first: {first})", errors.len()));
    }
    let sent: u64 = reports.iter().map(|r| r.sent).sum();
    let late: u64 = reports.iter().map(|r| r.late).sum();
    let skipped: u64 = reports.iter().map(|r| r.skipped).sum();
    let max_late = reports.iter().map(|r| r.max_late).max().unwrap_or_default();
    if sent > 0
        && (late as f64 / sent as f64 > 0.001
            || skipped > 0
            || max_late > Duration::from_millis(20))
    {
        warnings.push(format!(
            "client behind its 20 ms schedule: {:.2}% of frames >5 ms late, max {:.0} ms, {skipped} skipped",
            100.0 * late as f64 / sent as f64,
            max_late.as_secs_f64() * 1000.0
        ));
    }
    let client_pct = 100.0 * w.client_cpu / w.seconds;
    if client_pct > 85.0 * threads.max(1) as f64 {
        warnings.push(format!(
            "client CPU {client_pct:.0}% of a core: the client may be the bottleneck"
        ));
    }
    warnings
}

/// The row of a forwarding window: peers `2i` and `2i + 1` are the parties of call `i`.
fn forward_row(
    system: &'static str,
    calls: usize,
    reports: &[PeerReport],
    w: &Window,
    threads: usize,
) -> Row {
    let sent: std::collections::HashMap<u32, u64> =
        reports.iter().map(|r| (r.index, r.sent)).collect();
    let (mut expected, mut received, mut silent) = (0u64, 0u64, 0usize);
    for r in reports {
        let partner = r.index ^ 1;
        let Some(&s) = sent.get(&partner) else {
            continue;
        };
        let got = r.received.get(&partner).copied().unwrap_or(0);
        expected += s;
        received += got.min(s);
        if s > 0 && got == 0 {
            silent += 1;
        }
    }
    let mut delays: Vec<u32> = reports
        .iter()
        .flat_map(|r| r.delays_us.iter().copied())
        .collect();
    delays.sort_unstable();
    let jitters: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.jitter_us.iter().copied())
        .collect();
    let mut warnings = client_warnings(reports, 2 * calls, w, threads);
    if silent > 0 {
        warnings.push(format!(
            "{silent} receivers heard nothing from their party in the window"
        ));
    }
    Row {
        system,
        n: calls,
        cpu_pct: 100.0 * w.server_cpu / w.seconds,
        us_per_unit: 1e6 * w.server_cpu / w.seconds / calls as f64,
        loss_pct: if expected == 0 {
            f64::NAN
        } else {
            100.0 * (1.0 - received as f64 / expected as f64)
        },
        p50_ms: percentile(&delays, 0.5),
        p99_ms: percentile(&delays, 0.99),
        jitter_ms: if jitters.is_empty() {
            f64::NAN
        } else {
            jitters.iter().sum::<f64>() / jitters.len() as f64 / 1_000.0
        },
        client_pct: 100.0 * w.client_cpu / w.seconds,
        warnings,
    }
}

/// The row of a mixing window: every participant should receive 50 mixed frames a second.
fn mix_row(
    system: &'static str,
    participants: usize,
    reports: &[PeerReport],
    w: &Window,
    threads: usize,
) -> Row {
    let expected = participants as f64 * w.seconds * FRAMES_PER_SECOND;
    let received: u64 = reports.iter().flat_map(|r| r.received.values()).sum();
    let silent = reports
        .iter()
        .filter(|r| r.received.values().sum::<u64>() == 0)
        .count();
    let mut warnings = client_warnings(reports, participants, w, threads);
    if silent > 0 {
        warnings.push(format!(
            "{silent} participants received no mix in the window"
        ));
    }
    Row {
        system,
        n: participants,
        cpu_pct: 100.0 * w.server_cpu / w.seconds,
        us_per_unit: 1e6 * w.server_cpu / w.seconds / participants as f64,
        loss_pct: 100.0 * (1.0 - (received as f64 / expected).min(1.0)),
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        jitter_ms: f64::NAN,
        client_pct: 100.0 * w.client_cpu / w.seconds,
        warnings,
    }
}

fn dash(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.digits$}")
    }
}

fn print_table(title: &str, unit: &str, units: &str, rows: &[Row]) {
    println!();
    println!("### {title}");
    println!();
    println!(
        "| system | {units} | server CPU % of a core | CPU µs per {unit} per s | {units} per core | loss % | delay p50 ms | delay p99 ms | jitter ms | client CPU % |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {} | {} | {} | {} | {:.0}{} |",
            r.system,
            r.n,
            r.cpu_pct,
            r.us_per_unit,
            r.per_core(),
            dash(r.loss_pct, 3),
            dash(r.p50_ms, 2),
            dash(r.p99_ms, 2),
            dash(r.jitter_ms, 2),
            r.client_pct,
            if r.warnings.is_empty() { "" } else { " ⚠" }
        );
    }
    for r in rows.iter().filter(|r| !r.warnings.is_empty()) {
        println!();
        println!(
            "⚠ {} at {} {units}: {}",
            r.system,
            r.n,
            r.warnings.join("; ")
        );
    }
}

/// Calls (participants) per core of the largest size each system ran without warnings (or
/// its largest), and their ratio.
impl Row {
    /// Whether the relay carried this load as the targets ask: under 0.1 % loss, under 5 ms
    /// p99 delay (where delay is measured), and short of a saturated core (whose CPU share
    /// stops growing while packets queue, so CPU per call would look cheaper than it is).
    pub fn healthy(&self) -> bool {
        self.loss_pct < 0.1 && (self.p99_ms.is_nan() || self.p99_ms < 5.0) && self.cpu_pct < 95.0
    }
}

/// The comparison: CPU per call at the largest size both relays carried healthily (the same
/// load), and each one's largest healthy size.
fn ratio_line(what: &str, ours: &[Row], janus: &[Row]) {
    let largest = |rows: &[Row]| {
        rows.iter()
            .filter(|r| r.healthy())
            .max_by_key(|r| r.n)
            .cloned()
    };
    println!();
    match (largest(ours), largest(janus)) {
        (Some(o), Some(j)) => {
            let common = ours
                .iter()
                .filter(|r| r.healthy())
                .filter_map(|o| {
                    janus
                        .iter()
                        .find(|j| j.n == o.n && j.healthy())
                        .map(|j| (o, j))
                })
                .max_by_key(|(o, _)| o.n);
            if let Some((o, j)) = common {
                println!(
                    "{what}: at {} both healthy; CPU per unit switchboard {:.0} µs, Janus {:.0} µs: {:.2}× Janus's capacity per core",
                    o.n,
                    o.us_per_unit,
                    j.us_per_unit,
                    j.us_per_unit / o.us_per_unit
                );
            }
            println!(
                "{what}: largest healthy load: switchboard {} ({:.0} per core at that cost), Janus {} ({:.0} per core)",
                o.n,
                o.per_core(),
                j.n,
                j.per_core()
            );
        }
        (o, j) => println!(
            "{what}: no healthy size for {}",
            match (o, j) {
                (None, None) => "either relay",
                (None, _) => "switchboard",
                _ => "Janus",
            }
        ),
    }
}

/// Runs the parts asked for and prints the tables.
pub async fn run(mut args: Args) -> anyhow::Result<()> {
    args.calls.sort_unstable();
    args.calls.retain(|&n| n > 0);
    args.participants.sort_unstable();
    args.participants.retain(|&n| n > 0);
    anyhow::ensure!(args.room >= 2, "--room must be at least 2");
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
        crate::plot::relay(path, &fwd_ours, &fwd_janus, &mix_ours, &mix_janus)?;
    }
    Ok(())
}
