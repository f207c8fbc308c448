//! `flowopt dataset`: random problems from the scenario generators, each labelled by one or more
//! verified-feasible `scp` solutions found from different randomized initial guesses, so the
//! data holds several behaviours (pass left / pass right) per problem.
//!
//! Problem `k` of a run is a pure function of (seed, k), so a run can be resumed, split or
//! parallelized without changing its content. Labels are checked with
//! [`flowopt_core::evaluate`]; an infeasible solution is never written, and a problem without
//! any feasible solution is skipped.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use flowopt_core::dataset::{
    DatasetError, DatasetHeader, DatasetRecord, DatasetWriter, FORMAT_VERSION,
};
use flowopt_core::{
    CheckConfig, Coefficients, ErrorKind, InputError, PlanOptions, Planner, Scenario,
    ScenarioConfig, evaluate, max_coefficient_difference,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::scp::{ScpPlanner, ScpSettings};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSettings {
    /// Number of problems to attempt (indices 0..problems).
    pub problems: u64,
    /// Robot count range, inclusive.
    pub robots: (usize, usize),
    /// Extra random obstacle range, inclusive (the `obstacles` family never gets fewer than 1).
    pub obstacles: (usize, usize),
    /// Scenario families drawn uniformly.
    pub scenarios: Vec<Scenario>,
    /// Most distinct solutions stored per problem.
    pub solutions: usize,
    /// SCP runs (different initial-guess seeds) tried per problem.
    pub attempts: usize,
    /// Amplitude of the initial-guess perturbation in metres (larger = more diverse labels).
    pub perturbation: f64,
    /// Seed of the whole run.
    pub seed: u64,
}

impl Default for DatasetSettings {
    fn default() -> Self {
        Self {
            problems: 1000,
            robots: (2, 16),
            obstacles: (0, 6),
            scenarios: Scenario::ALL.to_vec(),
            solutions: 2,
            attempts: 3,
            perturbation: 0.5,
            seed: 0,
        }
    }
}

impl DatasetSettings {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |f: &str, m: &str| Err(InputError::new(ErrorKind::OutOfRange, f, m));
        if self.robots.0 == 0 || self.robots.0 > self.robots.1 || self.robots.1 > 128 {
            return bad("robots", "robot range must satisfy 1 <= min <= max <= 128");
        }
        if self.obstacles.0 > self.obstacles.1 || self.obstacles.1 > 64 {
            return bad("obstacles", "obstacle range must satisfy min <= max <= 64");
        }
        if self.scenarios.is_empty() {
            return bad("scenarios", "at least one scenario is required");
        }
        if self.solutions == 0 || self.attempts < self.solutions {
            return bad("attempts", "need solutions >= 1 and attempts >= solutions");
        }
        if !(self.perturbation.is_finite() && self.perturbation >= 0.0) {
            return bad("perturbation", "must be a finite number >= 0");
        }
        Ok(())
    }
}

/// What a run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatasetSummary {
    /// Problems already in the file when the run started (resumed).
    pub resumed: u64,
    /// Problems attempted by this run.
    pub attempted: u64,
    /// Records written by this run.
    pub written: u64,
    /// Solutions written by this run.
    pub solutions: u64,
    /// Problems skipped for want of a feasible solution.
    pub skipped: u64,
}

/// Generates (or resumes) the dataset at `path`. `progress(done, total)` is called after each
/// batch of problems; problems run in parallel on rayon's pool.
pub fn generate_dataset(
    path: &Path,
    settings: &DatasetSettings,
    progress: impl Fn(u64, u64) + Sync,
) -> Result<DatasetSummary, DatasetError> {
    settings
        .validate()
        .map_err(|e| DatasetError::Format(e.to_string()))?;
    // Problem k does not depend on how many problems a run asks for, so the count is left
    // out of the header: a finished run can be extended with a larger `problems`.
    let mut identity =
        serde_json::to_value(settings).map_err(|e| DatasetError::Format(e.to_string()))?;
    if let Some(map) = identity.as_object_mut() {
        map.remove("problems");
    }
    let header = DatasetHeader {
        version: FORMAT_VERSION,
        order: flowopt_core::DEFAULT_ORDER,
        settings: identity,
    };
    let (mut writer, existing) = DatasetWriter::open(path, &header)?;
    // Resume after the last index written (skipped problems before it are not retried).
    let start = existing.last().map_or(0, |r| r.index + 1);
    let mut summary = DatasetSummary {
        resumed: existing.len() as u64,
        ..Default::default()
    };
    let planner = ScpPlanner::new(ScpSettings {
        perturbation: settings.perturbation,
        ..ScpSettings::default()
    })
    .map_err(|e| DatasetError::Format(e.to_string()))?;
    let chunk = (rayon::current_num_threads() * 2).max(1) as u64;
    let done = AtomicUsize::new(start as usize);
    progress(start, settings.problems);
    let mut next = start;
    while next < settings.problems {
        let end = (next + chunk).min(settings.problems);
        let batch: Vec<Option<DatasetRecord>> = (next..end)
            .into_par_iter()
            .map(|index| {
                let record = label(&planner, settings, index);
                done.fetch_add(1, Ordering::Relaxed);
                record
            })
            .collect();
        for record in batch {
            summary.attempted += 1;
            match record {
                Some(r) => {
                    summary.written += 1;
                    summary.solutions += r.solutions.len() as u64;
                    writer.append(&r)?;
                }
                None => summary.skipped += 1,
            }
        }
        next = end;
        progress(done.load(Ordering::Relaxed) as u64, settings.problems);
    }
    Ok(summary)
}

/// Draws problem `index` and labels it; `None` when no attempt was feasible.
fn label(planner: &ScpPlanner, settings: &DatasetSettings, index: u64) -> Option<DatasetRecord> {
    let _span = tracing::debug_span!("label", index).entered();
    let mut rng =
        ChaCha8Rng::seed_from_u64(settings.seed.wrapping_mul(0x9E37_79B9).wrapping_add(index));
    let scenario = settings.scenarios[rng.random_range(0..settings.scenarios.len())];
    let robots = rng.random_range(settings.robots.0..=settings.robots.1);
    let mut obstacles = rng.random_range(settings.obstacles.0..=settings.obstacles.1);
    if scenario == Scenario::Obstacles {
        obstacles = obstacles.max(1);
    }
    let seed: u64 = rng.random_range(0..u64::MAX);
    let config = ScenarioConfig::new(robots).obstacles(obstacles).seed(seed);
    let problem = match scenario.generate(&config) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(index, %e, "scenario could not be generated; skipped");
            return None;
        }
    };
    let mut solutions: Vec<Vec<Coefficients>> = Vec::new();
    let mut smoothness = Vec::new();
    for attempt in 0..settings.attempts as u64 {
        if solutions.len() >= settings.solutions {
            break;
        }
        let Ok(plan) = planner.plan(
            &problem,
            &PlanOptions {
                seed: seed ^ attempt,
            },
        ) else {
            continue;
        };
        // Verify independently of the planner's own claim.
        let Ok(metrics) = evaluate(&problem, &plan.trajectories, &CheckConfig::default()) else {
            continue;
        };
        if !metrics.feasible {
            continue;
        }
        let coefficients: Option<Vec<Coefficients>> = plan
            .trajectories
            .into_iter()
            .map(|t| t.coefficients)
            .collect();
        let Some(coefficients) = coefficients else {
            continue;
        };
        // Keep only solutions that differ from the ones already kept.
        if solutions
            .iter()
            .all(|s| max_coefficient_difference(s, &coefficients) > 0.05)
        {
            solutions.push(coefficients);
            smoothness.push(metrics.smoothness);
        }
    }
    (!solutions.is_empty()).then(|| DatasetRecord {
        index,
        scenario: scenario.name().to_string(),
        seed,
        problem,
        solutions,
        smoothness,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::dataset::read_dataset;
    use flowopt_core::{Plan, Trajectory};

    #[test]
    fn every_stored_label_passes_the_checker_and_runs_resume() {
        let dir = std::env::temp_dir().join(format!("flowopt-gen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("small.fods");
        let _ = std::fs::remove_file(&path);
        let settings = DatasetSettings {
            problems: 4,
            robots: (2, 4),
            obstacles: (0, 2),
            solutions: 2,
            attempts: 2,
            ..Default::default()
        };
        let first = generate_dataset(
            &path,
            &DatasetSettings {
                problems: 2,
                ..settings.clone()
            },
            |_, _| {},
        );
        assert!(first.is_ok());
        // Resuming with other settings is refused.
        let other = DatasetSettings {
            seed: 99,
            ..settings.clone()
        };
        let err = generate_dataset(&path, &other, |_, _| {});
        assert!(matches!(err, Err(DatasetError::SettingsMismatch(_))));
        let path2 = dir.join("full.fods");
        let _ = std::fs::remove_file(&path2);
        let summary = generate_dataset(&path2, &settings, |_, _| {}).unwrap();
        assert_eq!(summary.attempted, 4);
        let (header, records) = read_dataset(&path2).unwrap();
        assert_eq!(header.order, 10);
        assert_eq!(records.len() as u64, summary.written);
        assert!(summary.written >= 3, "{summary:?}");
        for r in &records {
            assert!(!r.solutions.is_empty() && r.solutions.len() <= 2);
            for solution in &r.solutions {
                let plan = Plan::from_coefficients(
                    "label",
                    &r.problem,
                    solution.clone(),
                    std::time::Instant::now(),
                )
                .unwrap();
                let trajectories: Vec<Trajectory> = plan.trajectories;
                let m = evaluate(&r.problem, &trajectories, &CheckConfig::default()).unwrap();
                assert!(m.feasible, "stored label infeasible: {:?}", m.residuals);
            }
        }
        // Extending the 2-problem run to 4 gives the same records as the 4-problem run.
        generate_dataset(&path, &settings, |_, _| {}).unwrap();
        assert_eq!(read_dataset(&path).unwrap().1, records);

        // An interrupted run (cut after its first record) resumes to the same content.
        let path3 = dir.join("resumed.fods");
        let _ = std::fs::remove_file(&path3);
        let interrupted = settings.clone();
        generate_dataset(&path3, &interrupted, |_, _| {}).unwrap();
        let (_, all) = read_dataset(&path3).unwrap();
        assert_eq!(all, records);
        let first_len = {
            let (h, _) = read_dataset(&path3).unwrap();
            let header_len = serde_json::to_vec(&h).unwrap().len() as u64;
            let rec_len = serde_json::to_vec(&all[0]).unwrap().len() as u64;
            12 + header_len + 4 + rec_len
        };
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path3)
            .unwrap();
        f.set_len(first_len).unwrap();
        drop(f);
        let resumed = generate_dataset(&path3, &interrupted, |_, _| {}).unwrap();
        assert_eq!(resumed.resumed, 1);
        assert_eq!(read_dataset(&path3).unwrap().1, records);
    }
}
