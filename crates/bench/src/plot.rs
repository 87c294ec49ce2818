//! Plots of benchmark results, as SVG (no fonts needed), for docs/benchmarks.md.

use plotters::prelude::*;

/// One configuration of the desktops benchmark, as plotted.
pub struct DesktopPoint {
    /// Connected desktops.
    pub desktops: f64,
    /// GETs per second.
    pub get_rps: f64,
    /// Write latency, median, ms.
    pub p50: f64,
    /// Write latency, 99th percentile, ms.
    pub p99: f64,
}

/// GET throughput and write latency against connected desktops.
pub fn desktops(path: &str, all: &[DesktopPoint]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (800, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(400);
    let max_d = all.iter().map(|f| f.desktops).fold(1.0, f64::max);
    let max_rps = all.iter().map(|f| f.get_rps).fold(1.0, f64::max) * 1.2;
    let max_ms = all.iter().map(|f| f.p99).fold(0.1, f64::max) * 1.2;
    let mut a = ChartBuilder::on(&left)
        .caption("GET /Workers/WK… per second", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..max_d * 1.05, 0.0..max_rps)?;
    a.configure_mesh().x_desc("connected desktops").draw()?;
    let pts: Vec<(f64, f64)> = all.iter().map(|f| (f.desktops, f.get_rps)).collect();
    a.draw_series(LineSeries::new(pts.clone(), &BLUE))?;
    a.draw_series(pts.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))?;
    let mut b = ChartBuilder::on(&right)
        .caption("unrelated write latency (ms)", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..max_d * 1.05, 0.0..max_ms)?;
    b.configure_mesh().x_desc("connected desktops").draw()?;
    for (color, pick) in [(BLUE, 0usize), (RED, 1)] {
        let pts: Vec<(f64, f64)> = all
            .iter()
            .map(|f| (f.desktops, if pick == 0 { f.p50 } else { f.p99 }))
            .collect();
        b.draw_series(LineSeries::new(pts.clone(), &color))?
            .label(if pick == 0 { "p50" } else { "p99" })
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        b.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    }
    b.configure_series_labels().border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
