//! SVG figures of a benchmark (plotters): median latency, success rate and median smoothness
//! against the robot count, one line per planner, over every scenario of the suite.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::Row;

/// One figure: its file name, title, y axis and how a (planner, robots) group of rows maps to
/// a value.
struct Figure {
    file: &'static str,
    title: &'static str,
    y: &'static str,
    log: bool,
    /// Where the legend goes (away from the lines).
    legend: SeriesLabelPosition,
    value: fn(&[&Row]) -> Option<f64>,
}

/// The median of the finite values, as the summary table computes it (nearest rank).
fn finite_median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    super::median(&mut v)
}

const FIGURES: [Figure; 3] = [
    Figure {
        file: "latency.svg",
        title: "Median planning time vs robots (all scenarios)",
        y: "p50 ms",
        log: true,
        legend: SeriesLabelPosition::UpperLeft,
        value: |rows| finite_median(rows.iter().map(|r| r.ms).collect()),
    },
    Figure {
        file: "success.svg",
        title: "Success rate vs robots (all scenarios)",
        y: "feasible %",
        log: false,
        legend: SeriesLabelPosition::LowerLeft,
        value: |rows| {
            Some(100.0 * rows.iter().filter(|r| r.feasible).count() as f64 / rows.len() as f64)
        },
    },
    Figure {
        file: "smoothness.svg",
        title: "Median smoothness of feasible plans vs robots (all scenarios)",
        y: "integrated squared acceleration",
        log: true,
        legend: SeriesLabelPosition::UpperLeft,
        value: |rows| {
            finite_median(
                rows.iter()
                    .filter(|r| r.feasible)
                    .map(|r| r.smoothness)
                    .collect(),
            )
        },
    },
];

const COLORS: [RGBColor; 8] = [
    RGBColor(42, 111, 219),
    RGBColor(230, 126, 34),
    RGBColor(22, 160, 133),
    RGBColor(142, 68, 173),
    RGBColor(192, 57, 43),
    RGBColor(39, 174, 96),
    RGBColor(127, 140, 141),
    RGBColor(211, 84, 0),
];

/// Writes `latency.svg`, `success.svg` and `smoothness.svg` of `rows` into `dir`; returns
/// their paths.
pub fn write_plots(rows: &[Row], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut groups: BTreeMap<String, BTreeMap<usize, Vec<&Row>>> = BTreeMap::new();
    for r in rows {
        groups
            .entry(r.planner.clone())
            .or_default()
            .entry(r.case.robots)
            .or_default()
            .push(r);
    }
    let robots: Vec<usize> = {
        let mut n: Vec<usize> = rows.iter().map(|r| r.case.robots).collect();
        n.sort_unstable();
        n.dedup();
        n
    };
    let (Some(&lo), Some(&hi)) = (robots.first(), robots.last()) else {
        anyhow::bail!("no results to plot");
    };
    let mut written = Vec::new();
    for figure in &FIGURES {
        let lines: Vec<(&String, Vec<(f64, f64)>)> = groups
            .iter()
            .map(|(planner, by_n)| {
                let points = by_n
                    .iter()
                    .filter_map(|(&n, rows)| (figure.value)(rows).map(|v| (n as f64, v)))
                    .filter(|&(_, v)| v.is_finite() && (!figure.log || v > 0.0))
                    .collect();
                (planner, points)
            })
            .collect();
        let values: Vec<f64> = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|q| q.1))
            .collect();
        let (ymin, ymax) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let path = dir.join(figure.file);
        let root = SVGBackend::new(&path, (720, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let x = (lo as f64 - 1.0)..(hi as f64 + 1.0);
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(figure.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64);
        if figure.log {
            let (a, b) = if values.is_empty() {
                (1.0, 10.0)
            } else {
                (ymin * 0.8, ymax * 1.25)
            };
            let mut chart = builder.build_cartesian_2d(x, (a..b).log_scale())?;
            draw_lines(&mut chart, &lines, figure)?;
        } else {
            let mut chart = builder.build_cartesian_2d(x, 0.0..105.0)?;
            draw_lines(&mut chart, &lines, figure)?;
        }
        root.present()?;
        drop(root);
        written.push(path);
    }
    Ok(written)
}

/// The mesh, one line with markers per planner, and the legend.
fn draw_lines<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    lines: &[(&String, Vec<(f64, f64)>)],
    figure: &Figure,
) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("robots")
        .y_desc(figure.y)
        .draw()?;
    for (i, (planner, points)) in lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(planner.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(figure.legend.clone())
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
