//! The plan: the response half of the JSON contract (DESIGN.md section 2).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::metrics::{CheckConfig, Metrics, evaluate};
use crate::problem::Problem;
use crate::trajectory::{Coefficients, Trajectory};

/// One alternative joint trajectory with its own metrics (returned with `return_candidates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    /// One trajectory per robot, in request order.
    pub trajectories: Vec<Trajectory>,
    /// Metrics of this candidate.
    pub metrics: Metrics,
}

/// A planner's answer for one problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    /// Name of the planner that produced it.
    pub planner: String,
    /// Whether every constraint holds within tolerance (same as `metrics.feasible`).
    pub feasible: bool,
    /// One trajectory per robot, in request order.
    pub trajectories: Vec<Trajectory>,
    /// Metrics computed by [`crate::evaluate`].
    pub metrics: Metrics,
    /// Wall-clock time of each stage in milliseconds; `total` is always present.
    pub timings_ms: BTreeMap<String, f64>,
    /// Planner-specific counters, e.g. solver `iterations`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub info: BTreeMap<String, f64>,
    /// Alternative candidates, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<Candidate>>,
}

impl Plan {
    /// Builds a plan from per-robot trajectories: records `total` as the planning time since
    /// `started`, then computes the metrics against `problem` (timed apart as `metrics`).
    pub fn new(
        planner: &str,
        problem: &Problem,
        trajectories: Vec<Trajectory>,
        started: Instant,
    ) -> Result<Self, InputError> {
        let total_ms = elapsed_ms(started);
        let metrics_started = Instant::now();
        let metrics = evaluate(problem, &trajectories, &CheckConfig::default())?;
        let mut plan = Self::with_metrics(planner, trajectories, metrics, total_ms);
        plan.timings_ms
            .insert("metrics".to_string(), elapsed_ms(metrics_started));
        Ok(plan)
    }

    /// Records the stage timings (`total` included) shared by the plans of one batched planner
    /// call, and how many problems shared it (`info.batch`).
    pub fn record_batch(&mut self, timings_ms: &[(&str, f64)], batch: usize) {
        for (stage, ms) in timings_ms {
            self.timings_ms.insert((*stage).to_string(), *ms);
        }
        self.info.insert("batch".to_string(), batch as f64);
    }

    /// A plan from trajectories whose metrics the planner already computed with
    /// [`crate::evaluate`] (so they are not computed twice); `total_ms` is the planning time.
    pub fn with_metrics(
        planner: &str,
        trajectories: Vec<Trajectory>,
        metrics: Metrics,
        total_ms: f64,
    ) -> Self {
        let mut timings_ms = BTreeMap::new();
        timings_ms.insert("total".to_string(), total_ms);
        Self {
            planner: planner.to_string(),
            feasible: metrics.feasible,
            trajectories,
            metrics,
            timings_ms,
            info: BTreeMap::new(),
            candidates: None,
        }
    }

    /// Builds a plan from per-robot coefficients, sampled at the problem's sample times.
    pub fn from_coefficients(
        planner: &str,
        problem: &Problem,
        coefficients: Vec<Coefficients>,
        started: Instant,
    ) -> Result<Self, InputError> {
        let times = problem.sample_times();
        let trajectories = coefficients
            .into_iter()
            .map(|c| Trajectory::from_coefficients(c, &times, problem.horizon))
            .collect::<Result<_, _>>()?;
        Self::new(planner, problem, trajectories, started)
    }
}

/// Milliseconds elapsed since `started`.
pub fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e3
}
