//! The batched-throughput benchmark behind `flowopt bench throughput`: batches of B seeded
//! problems of one family and size planned by one `Planner::plan_batch` call, problems per
//! second against B (the paper's "tens of instances in a fraction of a second").

use std::fmt::Write as _;
use std::time::Instant;

use flowopt_core::{PlanOptions, Planner, Problem, Scenario};
use serde::{Deserialize, Serialize};

use super::Case;

/// One (planner, batch size) measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// The planner.
    pub planner: String,
    /// Problems per `plan_batch` call.
    pub batch: usize,
    /// Timed calls (after one warm-up call).
    pub repeats: usize,
    /// Median wall-clock time of a call, ms.
    pub batch_ms: f64,
    /// Problems per second at that median.
    pub problems_per_s: f64,
    /// Fraction of the batch's plans that were feasible (first timed call).
    pub feasible: f64,
}

/// Plans batches of `batch` problems (`scenario` with `robots` robots, seeds 0..batch) with
/// `planner`, one warm-up call then `repeats` timed ones; errors count as infeasible.
pub fn measure(
    planner: &dyn Planner,
    scenario: Scenario,
    robots: usize,
    batch: usize,
    repeats: usize,
) -> Result<Throughput, flowopt_core::InputError> {
    let problems: Vec<Problem> = (0..batch as u64)
        .map(|seed| Case::generated(scenario, robots, seed).problem(None))
        .collect::<Result<_, _>>()?;
    let options: Vec<PlanOptions> = (0..batch as u64).map(|seed| PlanOptions { seed }).collect();
    planner.plan_batch(&problems, &options);
    let mut times = Vec::with_capacity(repeats);
    let mut feasible = 0.0;
    for i in 0..repeats.max(1) {
        let started = Instant::now();
        let plans = planner.plan_batch(&problems, &options);
        times.push(started.elapsed().as_secs_f64() * 1e3);
        if i == 0 {
            let ok = plans
                .iter()
                .filter(|p| p.as_ref().is_ok_and(|p| p.metrics.feasible))
                .count();
            feasible = ok as f64 / batch as f64;
        }
    }
    let batch_ms = super::median(&mut times).unwrap_or(f64::NAN);
    Ok(Throughput {
        planner: planner.name().to_string(),
        batch,
        repeats: times.len(),
        batch_ms,
        problems_per_s: batch as f64 / (batch_ms / 1e3),
        feasible,
    })
}

/// The measurements as a Markdown table, with each batch's speed-up over batch 1 of the same
/// planner.
pub fn throughput_markdown(rows: &[Throughput]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| planner | batch | ms per batch | problems/s | vs batch 1 | feasible |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for r in rows {
        let single = rows
            .iter()
            .find(|q| q.planner == r.planner && q.batch == 1)
            .map(|q| q.problems_per_s);
        let gain = single.map_or_else(|| "-".into(), |s| format!("{:.2}x", r.problems_per_s / s));
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {} | {:.0}% |",
            r.planner,
            r.batch,
            r.batch_ms,
            r.problems_per_s,
            gain,
            100.0 * r.feasible
        );
    }
    out
}
