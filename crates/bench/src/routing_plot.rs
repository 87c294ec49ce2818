//! `routing-plot`: the routing engine's Criterion results (`cargo bench -p switchboard-routing
//! --bench routing`) drawn as bars beside issue 13's targets: the median time of the known-worker
//! and queue decisions, and the full cycles as decisions per second.

use anyhow::Context;

/// Options of `routing-plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Criterion's output folder.
    #[arg(long, default_value = "target/criterion")]
    criterion: std::path::PathBuf,
    /// The SVG file to draw (two files: this one for the decisions, and the same name with
    /// `-cycles` before `.svg` for the cycles).
    #[arg(long)]
    plot: std::path::PathBuf,
}

/// The median of one benchmark, in nanoseconds, from Criterion's `new/estimates.json`.
fn median_ns(dir: &std::path::Path, id: &str) -> anyhow::Result<f64> {
    let path = dir.join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (run the routing benchmark first)",
            path.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    v["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("{}: no median", path.display()))
}

/// Reads the results and draws them.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut decisions = Vec::new();
    for (id, label, target_us) in [
        (
            "internal_call/known_worker",
            "internal call, known worker",
            Some(2.0),
        ),
        ("internal_call/queue", "internal call, queue", Some(4.0)),
        ("decision/known_worker", "Main, known worker", None),
        ("decision/queue", "Main, queue", None),
        ("cycle/create_to_reserved", "Main, create to reserved", None),
    ] {
        decisions.push(switchboard_bench::plot::Bar {
            label: label.into(),
            value: median_ns(&args.criterion, id)? / 1e3,
            target: target_us,
        });
    }
    let mut cycles = Vec::new();
    for (id, label, target) in [
        (
            "internal_call/cycle",
            "internal call, full cycle",
            Some(200_000.0),
        ),
        ("cycle/full", "Main, full cycle", None),
    ] {
        cycles.push(switchboard_bench::plot::Bar {
            label: label.into(),
            value: 1e9 / median_ns(&args.criterion, id)?,
            target,
        });
    }
    switchboard_bench::plot::bars(
        &args.plot,
        "routing decisions, median µs (10,000 workers, 501 queues; target marked)",
        "µs",
        &decisions,
    )
    .with_context(|| format!("drawing {}", args.plot.display()))?;
    let stem = args
        .plot
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cycles_path = args.plot.with_file_name(format!("{stem}-cycles.svg"));
    switchboard_bench::plot::bars(
        &cycles_path,
        "full cycles per second, one core (target marked)",
        "cycles/s",
        &cycles,
    )
    .with_context(|| format!("drawing {}", cycles_path.display()))
}
