//! The plan: the response half of the JSON contract (DESIGN.md section 2).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::bernstein::Bernstein;
use crate::error::InputError;
use crate::metrics::{CheckConfig, Metrics, evaluate};
use crate::problem::{Problem, is_uniform_times};

/// Bernstein coefficients of one robot, per axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Coefficients {
    /// x-axis coefficients (order + 1 values, default 11).
    pub x: Vec<f64>,
    /// y-axis coefficients.
    pub y: Vec<f64>,
}

/// One robot's trajectory: optional polynomial coefficients and the samples `[t, x, y]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trajectory {
    /// Bernstein coefficients over tau = t / T; absent for planners without polynomial output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coefficients: Option<Coefficients>,
    /// Samples `[t, x, y]` from t = 0 to t = T.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<f64>>))]
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
        // Positions only: one basis evaluation per sample, shared by both axes (on the usual
        // uniform grid, the cached sampling matrix's rows).
        fn dot<'a>(b: impl Iterator<Item = &'a f64>, c: &[f64]) -> f64 {
            b.zip(c).map(|(b, c)| b * c).sum()
        }
        let (cx, cy) = (&coefficients.x, &coefficients.y);
        let samples = if is_uniform_times(times, horizon) {
            let p = &basis.uniform_sample_matrices(times.len(), horizon).p;
            times
                .iter()
                .enumerate()
                .map(|(m, &t)| [t, dot(p.row(m).iter(), cx), dot(p.row(m).iter(), cy)])
                .collect()
        } else {
            times
                .iter()
                .map(|&t| {
                    let b = basis.basis((t / horizon).clamp(0.0, 1.0));
                    [t, dot(b.iter(), cx), dot(b.iter(), cy)]
                })
                .collect()
        };
        Ok(Self {
            coefficients: Some(coefficients),
            samples,
        })
    }
}

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

/// Largest absolute difference between the coefficients of two joint solutions (metres);
/// infinite when their shapes differ.
pub fn max_coefficient_difference(a: &[Coefficients], b: &[Coefficients]) -> f64 {
    let same_shape = a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(p, q)| p.x.len() == q.x.len() && p.y.len() == q.y.len());
    if !same_shape {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .flat_map(|(p, q)| p.x.iter().zip(&q.x).chain(p.y.iter().zip(&q.y)))
        .map(|(u, v)| (u - v).abs())
        .fold(0.0, f64::max)
}

/// Milliseconds elapsed since `started`.
pub fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficient_difference_is_the_largest_entry_and_infinite_across_shapes() {
        let a = vec![Coefficients {
            x: vec![0.0, 1.0],
            y: vec![2.0, 3.0],
        }];
        let mut b = a.clone();
        b[0].y[1] = 3.5;
        assert_eq!(max_coefficient_difference(&a, &b), 0.5);
        assert_eq!(max_coefficient_difference(&a, &a), 0.0);
        assert_eq!(max_coefficient_difference(&a, &[]), f64::INFINITY);
        b[0].x.push(0.0);
        assert_eq!(max_coefficient_difference(&a, &b), f64::INFINITY);
    }
}
