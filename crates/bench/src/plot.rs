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

/// Points of a series: load (calls or participants) and server CPU (% of one core).
pub type Series = [(f64, f64)];

/// Server CPU (% of one core) against load, ours and Janus: forwarding (left) and mixing
/// (right).
pub fn relay(
    path: &str,
    fwd_ours: &Series,
    fwd_janus: &Series,
    mix_ours: &Series,
    mix_janus: &Series,
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(450);
    for (area, title, x_desc, ours, janus) in [
        (
            &left,
            "forwarding: server CPU (% of a core)",
            "two-party calls",
            fwd_ours,
            fwd_janus,
        ),
        (
            &right,
            "mixing: server CPU (% of a core)",
            "mixed participants",
            mix_ours,
            mix_janus,
        ),
    ] {
        let all = ours.iter().chain(janus);
        let max_x = all.clone().map(|p| p.0).fold(1.0, f64::max) * 1.05;
        let max_y = all.map(|p| p.1).fold(10.0, f64::max) * 1.2;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
        chart.configure_mesh().x_desc(x_desc).draw()?;
        for (color, name, pts) in [(BLUE, "switchboard", ours), (RED, "Janus", janus)] {
            if pts.is_empty() {
                continue;
            }
            let pts = pts.to_vec();
            chart
                .draw_series(LineSeries::new(pts.clone(), &color))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// One panel of the load plot: a phase's percentiles (ms) at each load.
pub struct LoadPanel {
    /// The phase, as the caption says it.
    pub title: String,
    /// Per step: (agents, p50, p99, p99.9); steps without samples are left out.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// `switchboard load`: each phase's latency (p50, p99, p99.9) against connected agents, one
/// panel per phase, two panels a row.
pub fn load(path: &std::path::Path, panels: &[LoadPanel]) -> anyhow::Result<()> {
    let drawn: Vec<Panel> = panels
        .iter()
        .map(|p| Panel {
            title: p.title.clone(),
            x_desc: "connected agents".into(),
            y_desc: "ms".into(),
            series: [("p50", 1usize), ("p99", 2), ("p99.9", 3)]
                .into_iter()
                .map(|(name, pick)| {
                    let points = p
                        .points
                        .iter()
                        .map(|q| (q.0, [q.0, q.1, q.2, q.3][pick]))
                        .collect();
                    (name.to_owned(), points)
                })
                .collect(),
            target: None,
        })
        .collect();
    self::panels(path, &drawn)
}

/// One panel of [`panels`]: named series of (x, y) points, and an optional target drawn as a
/// dashed horizontal line.
pub struct Panel {
    /// The caption.
    pub title: String,
    /// What x is.
    pub x_desc: String,
    /// What y is.
    pub y_desc: String,
    /// (name, points), drawn in turn in blue, red, black, green.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// (what it is, y).
    pub target: Option<(String, f64)>,
}

/// Several panels, two a row: figures of separate runs drawn against what was varied.
pub fn panels(path: &std::path::Path, panels: &[Panel]) -> anyhow::Result<()> {
    let rows = panels.len().div_ceil(2).max(1);
    let root = SVGBackend::new(path, (900, 340 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((rows, 2));
    let colors = [BLUE, RED, BLACK, GREEN];
    for (area, panel) in areas.iter().zip(panels) {
        let all = panel.series.iter().flat_map(|(_, p)| p.iter());
        let max_x = all.clone().map(|p| p.0).fold(1.0, f64::max) * 1.1;
        let max_y = all
            .map(|p| p.1)
            .chain(panel.target.as_ref().map(|t| t.1))
            .filter(|y| y.is_finite())
            .fold(1.0, f64::max)
            * 1.2;
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
        chart
            .configure_mesh()
            .x_desc(panel.x_desc.as_str())
            .y_desc(panel.y_desc.as_str())
            .draw()?;
        for ((name, points), color) in panel.series.iter().zip(colors.iter().cycle()) {
            let color = *color;
            let mut pts: Vec<(f64, f64)> =
                points.iter().copied().filter(|p| p.1.is_finite()).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(pts.clone(), color))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
        }
        if let Some((name, y)) = &panel.target {
            let y = *y;
            let dashes = (0..40).map(|i| {
                let a = max_x * f64::from(i) / 40.0;
                PathElement::new(vec![(a, y), (a + max_x / 80.0, y)], MAGENTA)
            });
            chart
                .draw_series(dashes)?
                .label(name.as_str())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], MAGENTA));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// One bar of [`bars`]: its label, value and, if there is one, the target it is held to.
pub struct Bar {
    /// What was measured.
    pub label: String,
    /// The figure.
    pub value: f64,
    /// The target, drawn as a dashed mark over the bar.
    pub target: Option<f64>,
}

/// A bar per figure, with its target marked: figures of different benchmarks side by side.
pub fn bars(path: &std::path::Path, title: &str, y_desc: &str, bars: &[Bar]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = bars.len().max(1);
    let max_y = bars
        .iter()
        .flat_map(|b| [Some(b.value), b.target])
        .flatten()
        .filter(|y| y.is_finite())
        .fold(1.0, f64::max)
        * 1.25;
    #[allow(clippy::cast_precision_loss)]
    let width = n as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..width, 0.0..max_y)?;
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            // Labels sit at the middle of each bar (x = i + 0.5).
            let i = x.floor();
            if (x - i - 0.5).abs() < 1e-6 && i >= 0.0 {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .draw()?;
    for (i, b) in bars.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x = i as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x + 0.2, 0.0), (x + 0.8, b.value)],
            BLUE.mix(0.6).filled(),
        )))?;
        if let Some(t) = b.target {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x + 0.1, t), (x + 0.9, t)],
                MAGENTA.stroke_width(2),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}
