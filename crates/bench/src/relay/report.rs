//! The figures of a window as a row, the Markdown tables, and the comparison with Janus.

use std::time::Duration;

use switchboard_bench::peer::{PeerReport, FRAMES_PER_SECOND};

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

/// What the clients saw over a window.
pub(super) struct Window {
    pub(super) seconds: f64,
    pub(super) server_cpu: f64,
    pub(super) client_cpu: f64,
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
pub(super) fn forward_row(
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
        // A receiver that never connected received nothing to lose; the warnings count it.
        if !r.connected {
            continue;
        }
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

/// The row of a mixing window: every connected participant should receive 50 mixed frames a
/// second (one that never connected is counted in the warnings, as in [`forward_row`]).
pub(super) fn mix_row(
    system: &'static str,
    participants: usize,
    reports: &[PeerReport],
    w: &Window,
    threads: usize,
) -> Row {
    let connected = reports.iter().filter(|r| r.connected);
    let expected = connected.clone().count() as f64 * w.seconds * FRAMES_PER_SECOND;
    let received: u64 = connected.clone().flat_map(|r| r.received.values()).sum();
    let silent = connected
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
        loss_pct: if expected == 0.0 {
            f64::NAN
        } else {
            100.0 * (1.0 - (received as f64 / expected).min(1.0))
        },
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

pub(super) fn print_table(title: &str, unit: &str, units: &str, rows: &[Row]) {
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
pub(super) fn ratio_line(what: &str, ours: &[Row], janus: &[Row]) {
    if janus.is_empty() {
        // Janus did not run (or failed, which was said already).
        return;
    }
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
