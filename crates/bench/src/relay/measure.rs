//! How a window is measured: the server's and the client's CPU over it, what the peers
//! received, and pinning processes and threads to CPUs.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::args::Args;
use super::report::{forward_row, mix_row, Row, Window};
use switchboard_bench::peer::{Fleet, PeerReport};
use switchboard_bench::server::proc_cpu_seconds;

/// CPU seconds of this process so far.
pub(super) fn own_cpu() -> f64 {
    proc_cpu_seconds("/proc/self/stat").unwrap_or(f64::NAN)
}

/// Whether `taskset` can be run.
pub(super) fn have_taskset() -> bool {
    std::process::Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `taskset -p [-a] -c CPUS ID`.
pub(super) fn pin(id: u32, cpus: &str, all_threads: bool) -> anyhow::Result<()> {
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

/// Of the peers of a size, at most one in this many may fail to connect (or drop out) while it
/// is set up: the size is then measured with the rest, and its row says how many failed. More,
/// and the ramp stops.
const FAILED_AT_MOST_ONE_IN: usize = 200;

/// Waits until `peers` peers are connected and hear their party, or until every peer has either
/// done so or failed (at most one in [`FAILED_AT_MOST_ONE_IN`]; a failed peer also keeps its
/// party from hearing).
pub(super) async fn wait_flowing(fleet: &Fleet, peers: usize, what: &str) -> anyhow::Result<()> {
    let s = &fleet.shared;
    let limit = Duration::from_secs(30) + Duration::from_millis(20 * peers as u64);
    let start = Instant::now();
    loop {
        let (c, h, f) = (
            s.connected.load(Ordering::Relaxed),
            s.hearing.load(Ordering::Relaxed),
            s.failed.load(Ordering::Relaxed),
        );
        if c >= peers && h >= peers {
            return Ok(());
        }
        let few = f * FAILED_AT_MOST_ONE_IN <= peers;
        if few && f > 0 && c + f >= peers && h + 2 * f >= peers {
            eprintln!(
                "{what}: {f} of {peers} peers failed while being set up (measured without them; the first: {})",
                s.first_failure().unwrap_or_default()
            );
            return Ok(());
        }
        if start.elapsed() > limit {
            let why = s
                .first_failure()
                .map_or(String::new(), |w| format!("; the first: {w}"));
            bail!(
                "{what}: after {:.0} s only {c} of {peers} peers are connected and {h} hear their party ({f} failed{why})",
                start.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Measures one window over the peers running now. `in_process`: the server is a thread of
/// this process, whose CPU is then not the client's.
pub(super) async fn window(
    args: &Args,
    fleet: &Fleet,
    peers: usize,
    in_process: bool,
    server_cpu: impl Fn() -> Option<f64>,
) -> anyhow::Result<(Window, Vec<PeerReport>)> {
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let cpu0 = server_cpu().context("reading the server's CPU time")?;
    let own0 = own_cpu();
    let (start, end) = fleet
        .shared
        .open_window(Duration::from_secs_f64(args.seconds));
    tokio::time::sleep_until(end.into()).await;
    let cpu1 = server_cpu().context("reading the server's CPU time")?;
    let own1 = own_cpu();
    let seconds = end.duration_since(start).as_secs_f64();
    let reports = fleet.shared.collect(peers, Duration::from_secs(5)).await;
    Ok((
        Window {
            seconds,
            server_cpu: cpu1 - cpu0,
            client_cpu: own1 - own0 - if in_process { cpu1 - cpu0 } else { 0.0 },
        },
        reports,
    ))
}

/// What a ramp carries: two-party calls (two peers each) or mixed participants (one each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Load {
    Calls,
    Participants,
}

impl Load {
    fn peers(self, n: usize) -> usize {
        match self {
            Load::Calls => 2 * n,
            Load::Participants => n,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Load::Calls => "calls",
            Load::Participants => "participants",
        }
    }
}

/// The participant counts to ramp through, rounded down to whole rooms (at least one), each
/// larger than the last.
pub(super) fn whole_rooms(sizes: &[usize], room: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for &n in sizes {
        let n = (n / room).max(1) * room;
        if out.last().is_none_or(|&last| n > last) {
            out.push(n);
        }
    }
    out
}

/// Ramps one relay up through `sizes`: `grow(from..to)` adds the calls or participants from
/// `from` to `to` to those already running; once every peer is connected and hears its party,
/// a window is measured (`cpu`: the relay's CPU seconds so far; `in_process`: the relay is a
/// thread of this process). A size that cannot be set up ends the ramp, since bigger ones would
/// fail the same way, and the rows measured so far are returned.
#[allow(clippy::too_many_arguments)]
pub(super) async fn ramp(
    args: &Args,
    fleet: &Fleet,
    system: &'static str,
    load: Load,
    sizes: &[usize],
    in_process: bool,
    mut grow: impl AsyncFnMut(Range<usize>) -> anyhow::Result<()>,
    cpu: impl Fn() -> Option<f64>,
) -> anyhow::Result<Vec<Row>> {
    let what = load.name();
    let mut placed = 0;
    let mut rows = Vec::new();
    for &n in sizes {
        let t = Instant::now();
        let grown = match grow(placed..n).await {
            Ok(()) => wait_flowing(fleet, load.peers(n), system).await,
            Err(e) => Err(e),
        };
        if let Err(e) = grown {
            eprintln!("{system}: {n} {what} not measured (the ramp stops here): {e:#}");
            break;
        }
        placed = n;
        eprintln!(
            "{system}: {n} {what} flowing (set up in {:.1} s); measuring {} s…",
            t.elapsed().as_secs_f64(),
            args.seconds
        );
        let (w, reports) = window(args, fleet, load.peers(n), in_process, &cpu).await?;
        let row = match load {
            Load::Calls => forward_row(system, n, &reports, &w, args.client_threads),
            Load::Participants => mix_row(system, n, &reports, &w, args.client_threads),
        };
        eprintln!(
            "{system}: {n} {what}: relay CPU {:.1}% of a core, loss {:.3}%",
            row.cpu_pct, row.loss_pct
        );
        rows.push(row);
    }
    Ok(rows)
}
