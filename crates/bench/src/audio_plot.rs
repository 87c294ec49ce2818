//! `audio-plot`: the figures of several `switchboard load --media --json` runs drawn against the
//! calls talking at once, one line per named series (e.g. two builds): loss, one-way delay p99,
//! and the calls that had audio both ways.

use anyhow::Context;
use serde_json::Value;

/// Options of `audio-plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A series: `NAME=FILE,FILE,…`, the JSON files of `switchboard load --media --json` runs
    /// (their first step each); repeatable.
    #[arg(long = "series", required = true)]
    series: Vec<String>,
    /// The SVG file to draw.
    #[arg(long)]
    plot: std::path::PathBuf,
}

/// One run's point: calls talking at once, calls with audio then, loss %, delay p99 ms.
fn point(path: &str) -> anyhow::Result<(f64, f64, f64, f64)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))?;
    let m = &doc["steps"][0]["media"];
    let num = |v: &Value, what: &str| {
        v.as_f64()
            .with_context(|| format!("{path}: no {what} (was it a --media run?)"))
    };
    Ok((
        num(
            &m["max_concurrent_calls_talking"],
            "max_concurrent_calls_talking",
        )?,
        num(
            &m["max_concurrent_calls_with_audio"],
            "max_concurrent_calls_with_audio",
        )?,
        num(&m["loss_percent"], "loss_percent")?,
        num(&m["one_way_delay"]["p99_ms"], "one_way_delay.p99_ms")?,
    ))
}

/// Reads the runs and draws them.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut series = Vec::new();
    for s in &args.series {
        let (name, files) = s
            .split_once('=')
            .with_context(|| format!("--series {s}: expected NAME=FILE,FILE,…"))?;
        let points = files
            .split(',')
            .filter(|f| !f.is_empty())
            .map(point)
            .collect::<anyhow::Result<Vec<_>>>()?;
        series.push((name.to_owned(), points));
    }
    let pick = |f: fn(&(f64, f64, f64, f64)) -> f64| -> Vec<(String, Vec<(f64, f64)>)> {
        series
            .iter()
            .map(|(n, pts)| (n.clone(), pts.iter().map(|p| (p.0, f(p))).collect()))
            .collect()
    };
    let x = "calls talking at once".to_owned();
    let panels = [
        switchboard_bench::plot::Panel {
            title: "frames lost at the receivers (%)".into(),
            x_desc: x.clone(),
            y_desc: "%".into(),
            series: pick(|p| p.2),
            target: Some(("target 0.1 %".into(), 0.1)),
        },
        switchboard_bench::plot::Panel {
            title: "one-way delay p99 (ms)".into(),
            x_desc: x.clone(),
            y_desc: "ms".into(),
            series: pick(|p| p.3),
            target: None,
        },
        switchboard_bench::plot::Panel {
            title: "calls with audio both ways at once".into(),
            x_desc: x,
            y_desc: "calls".into(),
            series: pick(|p| p.1),
            target: None,
        },
    ];
    switchboard_bench::plot::panels(&args.plot, &panels)
        .with_context(|| format!("drawing {}", args.plot.display()))
}
