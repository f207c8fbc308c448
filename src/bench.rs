//! The scenario benchmark behind `flowopt bench`: seeded problems of several scenario families
//! and sizes, each planned by every planner in one process (DESIGN.md section 9), one result row
//! per (problem, planner), summarised per (scenario, robots, planner) with ratios to a
//! reference planner on the problems both solved.
//!
//! A suite splits into shards ([`Shard`]) that run as separate processes or jobs (e.g. a
//! Kubernetes Indexed Job); [`merge`] joins their rows, and [`write_plots`] draws the figures.
//! [`measure`] times batched planning (`flowopt bench throughput`); [`roofline`] compares the
//! generator's and the safety filter's achieved FLOP/s with the backend's matrix-multiply rate.

mod plots;
mod roofline;
mod throughput;

pub use plots::write_plots;
pub use roofline::{Roofline, matmul_peak, roofline};
pub use throughput::{Throughput, measure, throughput_markdown};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use flowopt_core::{PlanOptions, Planner, Problem, Scenario, ScenarioConfig};
use serde::{Deserialize, Serialize};

/// One problem of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Case {
    /// The scenario family.
    pub scenario: Scenario,
    /// Robots.
    pub robots: usize,
    /// Seed of the problem (and of the planners).
    pub seed: u64,
}

impl Case {
    /// The problem (the scenario's default obstacles).
    pub fn problem(&self) -> Result<Problem, flowopt_core::InputError> {
        self.scenario
            .generate(&ScenarioConfig::new(self.robots).seed(self.seed))
    }
}

/// Every (scenario, robots, seed) combination, in that nesting order; `seeds` seeds per
/// combination, starting at 0.
pub fn cases(scenarios: &[Scenario], robots: &[usize], seeds: u64) -> Vec<Case> {
    let mut out = Vec::new();
    for &scenario in scenarios {
        for &n in robots {
            for seed in 0..seeds {
                out.push(Case {
                    scenario,
                    robots: n,
                    seed,
                });
            }
        }
    }
    out
}

/// Shard `index` of `count` (0-based, `--shard 2/4`): the cases whose position in the suite's
/// order is `index` modulo `count`, so every planner of a problem runs in the same shard and
/// the shards of a suite are disjoint and cover it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0..count.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if count >= 1 && index < count => Ok(Self { index, count }),
            _ => Err(format!(
                "`{s}`: expected I/N with 0 <= I < N, e.g. 0/4 (the Kubernetes job index first)"
            )),
        }
    }
}

impl Shard {
    /// The cases of `suite` that belong to this shard.
    pub fn select(&self, suite: Vec<Case>) -> Vec<Case> {
        suite
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, c)| c)
            .collect()
    }
}

/// The rows of several runs (e.g. the shards of one suite) as one run: each (planner, problem)
/// once (the first seen), ordered by scenario, robots, seed and planner. Returns the rows and
/// how many duplicates were dropped.
pub fn merge(runs: Vec<Vec<Row>>) -> (Vec<Row>, usize) {
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    let mut duplicates = 0;
    for row in runs.into_iter().flatten() {
        if seen.insert((row.planner.clone(), row.case)) {
            rows.push(row);
        } else {
            duplicates += 1;
        }
    }
    rows.sort_by(|a, b| {
        (
            a.case.scenario.to_string(),
            a.case.robots,
            a.case.seed,
            &a.planner,
        )
            .cmp(&(
                b.case.scenario.to_string(),
                b.case.robots,
                b.case.seed,
                &b.planner,
            ))
    });
    (rows, duplicates)
}

/// One (problem, planner) result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The problem.
    #[serde(flatten)]
    pub case: Case,
    /// The planner.
    pub planner: String,
    /// Whether the plan passed the feasibility check.
    pub feasible: bool,
    /// Wall-clock time of `Planner::plan`, milliseconds.
    pub ms: f64,
    /// Largest constraint violation (metres).
    pub max_violation: f64,
    /// Smoothness (integrated squared acceleration).
    pub smoothness: f64,
    /// Smallest centre-to-centre distance between two robots, metres (none for one robot).
    pub min_pair_distance: Option<f64>,
    /// The planner's error, when it failed to return a plan.
    pub error: Option<String>,
    /// The plan's stage timings (`Plan::timings_ms`, e.g. `generate`, `filter`, `polish`),
    /// milliseconds; empty for planners that time only the whole call.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stages_ms: BTreeMap<String, f64>,
    /// The plan's figures (`Plan::info`, e.g. the `flowopt` planner's `iterations`,
    /// `refined` and `polished`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub info: BTreeMap<String, f64>,
}

/// Plans `case` with `planner` and measures it.
pub fn run_case(case: &Case, planner: &dyn Planner) -> Row {
    let mut row = Row {
        case: *case,
        planner: planner.name().to_string(),
        feasible: false,
        ms: f64::NAN,
        max_violation: f64::INFINITY,
        smoothness: f64::NAN,
        min_pair_distance: None,
        error: None,
        stages_ms: BTreeMap::new(),
        info: BTreeMap::new(),
    };
    let problem = match case.problem() {
        Ok(p) => p,
        Err(e) => {
            row.error = Some(e.to_string());
            return row;
        }
    };
    let started = Instant::now();
    let result = planner.plan(&problem, &PlanOptions { seed: case.seed });
    row.ms = started.elapsed().as_secs_f64() * 1e3;
    match result {
        Ok(plan) => {
            row.feasible = plan.metrics.feasible;
            row.max_violation = plan.metrics.max_violation;
            row.smoothness = plan.metrics.smoothness;
            row.min_pair_distance = plan.metrics.min_pair_distance;
            row.stages_ms = plan.timings_ms;
            row.info = plan.info;
        }
        Err(e) => row.error = Some(e.to_string()),
    }
    row
}

/// The figures of one (scenario, robots, planner) group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario family.
    pub scenario: Scenario,
    /// Robots.
    pub robots: usize,
    /// Planner.
    pub planner: String,
    /// Problems attempted.
    pub problems: usize,
    /// Fraction with a feasible plan.
    pub success: f64,
    /// Median planning time, ms.
    pub p50_ms: f64,
    /// 95th percentile planning time, ms.
    pub p95_ms: f64,
    /// Median smoothness of the feasible plans.
    pub smoothness: Option<f64>,
    /// Median smallest pair distance of the feasible plans, metres.
    pub min_pair_distance: Option<f64>,
    /// Median over problems both solved of reference time / this planner's time.
    pub speedup: Option<f64>,
    /// Median over problems both solved of this smoothness / the reference's.
    pub smoothness_ratio: Option<f64>,
    /// Problems both this planner and the reference solved (the ratios' sample).
    pub paired: usize,
}

fn median(v: &mut [f64]) -> Option<f64> {
    quantile(v, 0.5)
}

/// The `q` quantile (nearest rank) of `v`.
fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// Per (scenario, robots, planner) figures of `rows`, with ratios to `reference`.
pub fn summarise(rows: &[Row], reference: &str) -> Vec<Summary> {
    let mut groups: BTreeMap<(String, usize, String), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((
                r.case.scenario.to_string(),
                r.case.robots,
                r.planner.clone(),
            ))
            .or_default()
            .push(r);
    }
    let reference_rows: BTreeMap<(String, usize, u64), &Row> = rows
        .iter()
        .filter(|r| r.planner == reference)
        .map(|r| ((r.case.scenario.to_string(), r.case.robots, r.case.seed), r))
        .collect();
    groups
        .into_values()
        .map(|group| {
            let first = group[0];
            let feasible: Vec<&&Row> = group.iter().filter(|r| r.feasible).collect();
            let mut times: Vec<f64> = group
                .iter()
                .map(|r| r.ms)
                .filter(|t| t.is_finite())
                .collect();
            let mut speedups = Vec::new();
            let mut smooth_ratios = Vec::new();
            for r in &feasible {
                let key = (r.case.scenario.to_string(), r.case.robots, r.case.seed);
                if let Some(reference) = reference_rows.get(&key).filter(|q| q.feasible) {
                    speedups.push(reference.ms / r.ms);
                    smooth_ratios.push(r.smoothness / reference.smoothness);
                }
            }
            let paired = speedups.len();
            let is_reference = first.planner == reference;
            Summary {
                scenario: first.case.scenario,
                robots: first.case.robots,
                planner: first.planner.clone(),
                problems: group.len(),
                success: feasible.len() as f64 / group.len() as f64,
                p50_ms: median(&mut times).unwrap_or(f64::NAN),
                p95_ms: quantile(&mut times, 0.95).unwrap_or(f64::NAN),
                smoothness: median(&mut feasible.iter().map(|r| r.smoothness).collect::<Vec<_>>()),
                min_pair_distance: median(
                    &mut feasible
                        .iter()
                        .filter_map(|r| r.min_pair_distance)
                        .collect::<Vec<_>>(),
                ),
                speedup: (!is_reference).then(|| median(&mut speedups)).flatten(),
                smoothness_ratio: (!is_reference)
                    .then(|| median(&mut smooth_ratios))
                    .flatten(),
                paired,
            }
        })
        .collect()
}

/// The summary as a Markdown table, grouped by scenario and robots.
pub fn markdown(summary: &[Summary], reference: &str) -> String {
    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | N | planner | problems | success | p50 ms | p95 ms | smoothness | min dist m \
         | speed-up vs {reference} | smoothness / {reference} |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for s in summary {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.0}% | {:.1} | {:.1} | {} | {} | {} | {} |",
            s.scenario,
            s.robots,
            s.planner,
            s.problems,
            100.0 * s.success,
            s.p50_ms,
            s.p95_ms,
            opt(s.smoothness, 1),
            opt(s.min_pair_distance, 3),
            s.speedup
                .map_or_else(|| "-".into(), |v| format!("{v:.1}x (n={})", s.paired)),
            opt(s.smoothness_ratio, 2),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(planner: &str, seed: u64, feasible: bool, ms: f64, smoothness: f64) -> Row {
        Row {
            case: Case {
                scenario: Scenario::Circle,
                robots: 4,
                seed,
            },
            planner: planner.into(),
            feasible,
            ms,
            max_violation: 0.0,
            smoothness,
            min_pair_distance: Some(0.5),
            error: None,
            stages_ms: BTreeMap::new(),
            info: BTreeMap::new(),
        }
    }

    #[test]
    fn summaries_count_success_and_pair_ratios_only_on_problems_both_solved() {
        let rows = vec![
            row("scp", 0, true, 100.0, 10.0),
            row("scp", 1, true, 300.0, 10.0),
            row("scp", 2, false, 500.0, 10.0),
            row("fast", 0, true, 10.0, 12.0),
            row("fast", 1, false, 10.0, 99.0),
            row("fast", 2, true, 20.0, 30.0),
        ];
        let summary = summarise(&rows, "scp");
        let fast = summary.iter().find(|s| s.planner == "fast").unwrap();
        assert_eq!(fast.problems, 3);
        assert!((fast.success - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(fast.paired, 1);
        assert_eq!(fast.speedup, Some(10.0));
        assert!((fast.smoothness_ratio.unwrap() - 1.2).abs() < 1e-12);
        assert_eq!(fast.p50_ms, 10.0);
        assert_eq!(fast.p95_ms, 20.0);
        let scp = summary.iter().find(|s| s.planner == "scp").unwrap();
        assert_eq!(scp.speedup, None);
        assert_eq!(scp.smoothness, Some(10.0));
        let table = markdown(&summary, "scp");
        assert!(
            table.contains("| circle | 4 | fast | 3 | 67% | 10.0 | 20.0 |"),
            "{table}"
        );
    }

    #[test]
    fn cases_nest_scenario_robots_seed_and_plan_with_the_case_seed() {
        let all = cases(&[Scenario::Circle, Scenario::Random], &[2, 3], 2);
        assert_eq!(all.len(), 8);
        assert_eq!(
            all[3],
            Case {
                scenario: Scenario::Circle,
                robots: 3,
                seed: 1
            }
        );
        let r = run_case(&all[3], &flowopt_core::StraightPlanner::default());
        assert_eq!(r.planner, "straight");
        assert!(r.error.is_none() && r.ms.is_finite());
        assert!(r.stages_ms.get("total").is_some_and(|t| t.is_finite()));
        // The straight line through an antipodal swap collides.
        assert!(!r.feasible);
    }
}
