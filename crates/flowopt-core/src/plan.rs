//! The plan: the response half of the JSON contract (DESIGN.md section 2).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::bernstein::Bernstein;
use crate::error::InputError;
use crate::metrics::{CheckConfig, Metrics, evaluate};
use crate::problem::Problem;

/// Bernstein coefficients of one robot, per axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coefficients {
    /// x-axis coefficients (order + 1 values, default 11).
    pub x: Vec<f64>,
    /// y-axis coefficients.
    pub y: Vec<f64>,
}

/// One robot's trajectory: optional polynomial coefficients and the samples `[t, x, y]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trajectory {
    /// Bernstein coefficients over tau = t / T; absent for planners without polynomial output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coefficients: Option<Coefficients>,
    /// Samples `[t, x, y]` from t = 0 to t = T.
    pub samples: Vec<[f64; 3]>,
}

impl Trajectory {
    /// The trajectory of `coefficients`, sampled at `times` for horizon `horizon`.
    pub fn from_coefficients(
        coefficients: Coefficients,
        times: &[f64],
        horizon: f64,
    ) -> Result<Self, InputError> {
        let basis = Bernstein::for_coefficients(coefficients.x.len())?;
        let samples = times
            .iter()
            .map(|&t| {
                [
                    t,
                    basis.eval(&coefficients.x, t, horizon)[0],
                    basis.eval(&coefficients.y, t, horizon)[0],
                ]
            })
            .collect();
        Ok(Self {
            coefficients: Some(coefficients),
            samples,
        })
    }
}

/// One alternative joint trajectory with its own metrics (returned with `return_candidates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// One trajectory per robot, in request order.
    pub trajectories: Vec<Trajectory>,
    /// Metrics of this candidate.
    pub metrics: Metrics,
}

/// A planner's answer for one problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        let mut timings_ms = BTreeMap::new();
        timings_ms.insert("total".to_string(), elapsed_ms(started));
        let metrics_started = Instant::now();
        let metrics = evaluate(problem, &trajectories, &CheckConfig::default())?;
        timings_ms.insert("metrics".to_string(), elapsed_ms(metrics_started));
        Ok(Self {
            planner: planner.to_string(),
            feasible: metrics.feasible,
            trajectories,
            metrics,
            timings_ms,
            info: BTreeMap::new(),
            candidates: None,
        })
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
