//! The scenario benchmark behind `flowopt bench`: seeded problems of several scenario families
//! and sizes, each planned by every planner in one process (DESIGN.md section 9), one result row
//! per (problem, planner), summarised per (scenario, robots, planner) with ratios to a
//! reference planner on the problems both solved.
//!
//! A suite is the built-in families ([`cases`]) or a folder of the user's own problem files
//! ([`folder_cases`]). It splits into shards ([`Shard`]) that run as separate processes or
//! jobs (e.g. a Kubernetes Indexed Job); [`merge`] joins their rows, and [`write_plots`] draws
//! the figures. Every row records where and how it was measured ([`Provenance`]: commit,
//! device, threads, the planner's settings), and rows of different configurations are never
//! merged or resumed into one table ([`check_provenance`]).
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
use std::path::{Path, PathBuf};
use std::time::Instant;

use flowopt_core::{
    ErrorKind, InputError, PlanOptions, Planner, Problem, Scenario, ScenarioConfig,
    ValidationConfig,
};
use serde::{Deserialize, Serialize};

/// One problem of the suite: a seeded problem of a scenario family, or a problem file of a
/// folder suite planned with the seed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Case {
    /// The scenario family, or for a problem file the name of its suite's folder.
    pub scenario: String,
    /// Robots.
    pub robots: usize,
    /// Seed of the problem (and of the planners; a problem file's planners only).
    pub seed: u64,
    /// The problem file, relative to its suite's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The problem file's content digest (64-bit FNV-1a, hex): an edited file is another
    /// problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl Case {
    /// A seeded problem of `scenario`.
    pub fn generated(scenario: Scenario, robots: usize, seed: u64) -> Self {
        Self {
            scenario: scenario.to_string(),
            robots,
            seed,
            file: None,
            digest: None,
        }
    }

    /// The problem: generated (the scenario's default obstacles), or read from the file in
    /// `folder` (the suite's folder) and validated.
    pub fn problem(&self, folder: Option<&Path>) -> Result<Problem, InputError> {
        match (&self.file, folder) {
            (Some(file), Some(folder)) => read_problem(&folder.join(file)),
            (Some(file), None) => Err(InputError::new(
                ErrorKind::Malformed,
                "suite",
                format!("{file}: a problem file needs its suite's folder"),
            )),
            (None, _) => {
                let scenario: Scenario = self.scenario.parse()?;
                scenario.generate(&ScenarioConfig::new(self.robots).seed(self.seed))
            }
        }
    }
}

/// The problem in `path`, validated with the CLI's defaults.
fn read_problem(path: &Path) -> Result<Problem, InputError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(ErrorKind::Malformed, "suite", format!("{name}: {e}")))?;
    let problem: Problem = InputError::parse_json(&text, "problem").map_err(|e| InputError {
        message: format!("{name}: {}", e.message),
        ..e
    })?;
    problem
        .validate(&ValidationConfig::default())
        .map_err(|e| InputError {
            message: format!("{name}: {}", e.message),
            ..e
        })?;
    Ok(problem)
}

/// Every (scenario, robots, seed) combination, in that nesting order; `seeds` seeds per
/// combination, starting at 0.
pub fn cases(scenarios: &[Scenario], robots: &[usize], seeds: u64) -> Vec<Case> {
    let mut out = Vec::new();
    for &scenario in scenarios {
        for &n in robots {
            for seed in 0..seeds {
                out.push(Case::generated(scenario, n, seed));
            }
        }
    }
    out
}

/// A folder suite: every `*.json` problem file in `folder` (sorted by name, not recursive),
/// each planned with seeds 0..`seeds`; the rows' `scenario` is the folder's name. Every file
/// is read and validated first, so a bad one stops the run before anything is planned (the
/// error names it).
pub fn folder_cases(folder: &Path, seeds: u64) -> Result<Vec<Case>, InputError> {
    let bad = |message: String| InputError::new(ErrorKind::Malformed, "suite", message);
    let entries =
        std::fs::read_dir(folder).map_err(|e| bad(format!("{}: {e}", folder.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(bad(format!(
            "{}: no *.json problem files",
            folder.display()
        )));
    }
    let name = folder
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "files".into());
    let mut out = Vec::new();
    for path in files {
        let problem = read_problem(&path)?;
        let bytes = std::fs::read(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for seed in 0..seeds {
            out.push(Case {
                scenario: name.clone(),
                robots: problem.num_robots(),
                seed,
                file: Some(file.clone()),
                digest: Some(digest(&bytes)),
            });
        }
    }
    Ok(out)
}

/// 64-bit FNV-1a of `bytes`, as 16 hex digits: a stable fingerprint of a problem file.
fn digest(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Checks that the problem files of `suite` are those the `rows` of an earlier run planned:
/// a file whose content changed since (same folder and name, another digest) is an error
/// naming it, since its old rows would stand beside the new ones in one table.
pub fn check_files(suite: &[Case], rows: &[Row]) -> Result<(), InputError> {
    for case in suite.iter().filter(|c| c.file.is_some()) {
        let stale = rows.iter().any(|r| {
            r.case.scenario == case.scenario
                && r.case.file == case.file
                && r.case.digest != case.digest
        });
        if stale {
            return Err(InputError::new(
                ErrorKind::Malformed,
                "suite",
                format!(
                    "{} changed since the rows already in the output were planned; write to \
                     another --out",
                    case.file.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// Where and how a row was measured. Rows of one planner in one table must share it: a run
/// resumes, and runs merge, only into rows of the same provenance ([`check_provenance`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The commit the binary was built from (`git describe --always --dirty`; `unknown`
    /// outside a git checkout).
    pub commit: String,
    /// Where tensor work ran: `cpu` or `wgpu` (`cpu` for the CPU-only planners).
    pub device: String,
    /// Worker threads of the planners' pool.
    pub threads: usize,
    /// The planner's settings: for `flowopt` its generator, warm start and every
    /// `FlowOptSettings` field; for `filter` its warm start; empty for the others.
    pub settings: serde_json::Value,
}

impl Provenance {
    /// The commit this binary was built from.
    pub const COMMIT: &'static str = env!("FLOWOPT_COMMIT");

    /// The provenance of rows planned by `planner` built from `options` in this process.
    pub fn of(planner: &str, options: &flowopt_planner::PlannerOptions) -> Self {
        use flowopt_planner::{GeneratorChoice, WarmStartChoice};
        // Weights by their canonical path, so `w` and `./w` are one configuration.
        let path = |p: &Path| {
            p.canonicalize()
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        let generator = match &options.generator {
            GeneratorChoice::Shipped => "shipped".to_string(),
            GeneratorChoice::Path(p) => path(p),
        };
        let warm_start = match &options.warm_start {
            WarmStartChoice::Shipped => "shipped".to_string(),
            WarmStartChoice::None => "none".to_string(),
            WarmStartChoice::Path(p) => path(p),
        };
        let (settings, neural) = match planner {
            "flowopt" => (
                serde_json::json!({
                    "generator": generator,
                    "warm_start": warm_start,
                    "flowopt": options.flowopt,
                }),
                true,
            ),
            "filter" => (serde_json::json!({ "warm_start": warm_start }), true),
            _ => (serde_json::json!({}), false),
        };
        Self {
            commit: Self::COMMIT.into(),
            // The CPU planners run on the CPU whatever `--device` says.
            device: if neural {
                options.device.to_string()
            } else {
                "cpu".into()
            },
            threads: rayon::current_num_threads(),
            settings,
        }
    }
}

/// Rows of one planner with different provenance (or some with none).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "rows of planner `{planner}` come from different configurations ({first} vs {second}); \
     merge or resume only runs of one binary, device and settings"
)]
pub struct ProvenanceError {
    /// The planner.
    pub planner: String,
    /// One configuration, in short.
    pub first: String,
    /// Another.
    pub second: String,
}

/// Checks that all rows of each planner share one provenance (rows without one, from before
/// rows recorded it, count as one more configuration).
pub fn check_provenance(rows: &[Row]) -> Result<(), ProvenanceError> {
    let mut seen: BTreeMap<&str, Option<&Provenance>> = BTreeMap::new();
    let short = |p: Option<&Provenance>| match p {
        None => "no provenance recorded".to_string(),
        Some(p) => format!(
            "commit {}, {} with {} threads, settings {}",
            p.commit, p.device, p.threads, p.settings
        ),
    };
    for row in rows {
        let this = row.provenance.as_ref();
        match seen.get(row.planner.as_str()) {
            None => {
                seen.insert(&row.planner, this);
            }
            Some(&first) if first != this => {
                return Err(ProvenanceError {
                    planner: row.planner.clone(),
                    first: short(first),
                    second: short(this),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
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
///
/// Runs of different configurations are refused ([`check_provenance`]).
pub fn merge(runs: Vec<Vec<Row>>) -> Result<(Vec<Row>, usize), ProvenanceError> {
    let all: Vec<Row> = runs.into_iter().flatten().collect();
    // Before duplicates are dropped: two whole runs of different binaries share every case.
    check_provenance(&all)?;
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    let mut duplicates = 0;
    for row in all {
        if seen.insert((row.planner.clone(), row.case.clone())) {
            rows.push(row);
        } else {
            duplicates += 1;
        }
    }
    rows.sort_by(|a, b| {
        (
            &a.case.scenario,
            a.case.robots,
            &a.case.file,
            &a.case.digest,
            a.case.seed,
            &a.planner,
        )
            .cmp(&(
                &b.case.scenario,
                b.case.robots,
                &b.case.file,
                &b.case.digest,
                b.case.seed,
                &b.planner,
            ))
    });
    Ok((rows, duplicates))
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
    /// Where and how it was measured (absent in rows written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// Plans `case` (a problem file's in `folder`) with `planner` and measures it.
pub fn run_case(case: &Case, folder: Option<&Path>, planner: &dyn Planner) -> Row {
    let mut row = Row {
        case: case.clone(),
        planner: planner.name().to_string(),
        feasible: false,
        ms: f64::NAN,
        max_violation: f64::INFINITY,
        smoothness: f64::NAN,
        min_pair_distance: None,
        error: None,
        stages_ms: BTreeMap::new(),
        info: BTreeMap::new(),
        provenance: None,
    };
    let problem = match case.problem(folder) {
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
    /// Scenario family (or a folder suite's name).
    pub scenario: String,
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
            .entry((r.case.scenario.clone(), r.case.robots, r.planner.clone()))
            .or_default()
            .push(r);
    }
    // A problem is its family, size, file and seed.
    let key = |r: &'_ Row| -> (String, usize, Option<String>, u64) {
        (
            r.case.scenario.clone(),
            r.case.robots,
            r.case.file.clone(),
            r.case.seed,
        )
    };
    let reference_rows: BTreeMap<(String, usize, Option<String>, u64), &Row> = rows
        .iter()
        .filter(|r| r.planner == reference)
        .map(|r| (key(r), r))
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
                if let Some(reference) = reference_rows.get(&key(r)).filter(|q| q.feasible) {
                    speedups.push(reference.ms / r.ms);
                    smooth_ratios.push(r.smoothness / reference.smoothness);
                }
            }
            let paired = speedups.len();
            let is_reference = first.planner == reference;
            Summary {
                scenario: first.case.scenario.clone(),
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
            case: Case::generated(Scenario::Circle, 4, seed),
            planner: planner.into(),
            feasible,
            ms,
            max_violation: 0.0,
            smoothness,
            min_pair_distance: Some(0.5),
            error: None,
            stages_ms: BTreeMap::new(),
            info: BTreeMap::new(),
            provenance: None,
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
    fn rows_of_one_planner_merge_only_with_one_provenance() {
        let at = |commit: &str, seed| Row {
            provenance: Some(Provenance {
                commit: commit.into(),
                device: "cpu".into(),
                threads: 2,
                settings: serde_json::json!({}),
            }),
            ..row("scp", seed, true, 1.0, 1.0)
        };
        let (rows, duplicates) =
            merge(vec![vec![at("a", 0)], vec![at("a", 1), at("a", 0)]]).unwrap();
        assert_eq!((rows.len(), duplicates), (2, 1));
        let err = merge(vec![vec![at("a", 0)], vec![at("b", 1)]]).unwrap_err();
        assert_eq!(err.planner, "scp");
        // Also when every row of the second run duplicates one of the first.
        assert!(merge(vec![vec![at("a", 0)], vec![at("b", 0)]]).is_err());
        assert!(err.to_string().contains("commit a") && err.to_string().contains("commit b"));
        // Rows from before provenance was recorded are one more configuration.
        assert!(check_provenance(&[row("scp", 0, true, 1.0, 1.0), at("a", 1)]).is_err());
        // Other planners may differ.
        let other = Row {
            planner: "fast".into(),
            ..at("b", 0)
        };
        assert!(check_provenance(&[at("a", 0), other]).is_ok());
    }

    #[test]
    fn the_digest_is_fnv1a_and_an_edited_file_is_refused() {
        // Known answers of 64-bit FNV-1a.
        assert_eq!(digest(b""), "cbf29ce484222325");
        assert_eq!(digest(b"a"), "af63dc4c8601ec8c");
        let case = |d: &str| Case {
            scenario: "site".into(),
            robots: 4,
            seed: 0,
            file: Some("a.json".into()),
            digest: Some(d.into()),
        };
        let planned = Row {
            case: case("1"),
            ..row("scp", 0, true, 1.0, 1.0)
        };
        assert!(check_files(&[case("1")], std::slice::from_ref(&planned)).is_ok());
        let err = check_files(&[case("2")], &[planned]).unwrap_err();
        assert!(err.message.contains("a.json"), "{err}");
    }

    #[test]
    fn cases_nest_scenario_robots_seed_and_plan_with_the_case_seed() {
        let all = cases(&[Scenario::Circle, Scenario::Random], &[2, 3], 2);
        assert_eq!(all.len(), 8);
        assert_eq!(all[3], Case::generated(Scenario::Circle, 3, 1));
        let r = run_case(&all[3], None, &flowopt_core::StraightPlanner::default());
        assert_eq!(r.planner, "straight");
        assert!(r.error.is_none() && r.ms.is_finite());
        assert!(r.stages_ms.get("total").is_some_and(|t| t.is_finite()));
        // The straight line through an antipodal swap collides.
        assert!(!r.feasible);
    }
}
