//! One robot's trajectory: Bernstein coefficients per axis and samples `[t, x, y]` (the
//! trajectory half of the plan's JSON contract, DESIGN.md section 2).

use serde::{Deserialize, Serialize};

use crate::bernstein::Bernstein;
use crate::error::InputError;
use crate::problem::is_uniform_times;

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
