//! Export of plans as VDA 5050 edge trajectories, so AGV fleet managers can consume them.
//!
//! A Bernstein polynomial of order n over tau = t / T is exactly a clamped B-spline of degree n
//! with knot vector `[0 x (n+1), 1 x (n+1)]`, whose control points are the Bernstein
//! coefficients (weights 1: a NURBS with unit weights). VDA 5050's `trajectory` object carries
//! no timing, so the export keeps it alongside: the curve parameter is u = t / T.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, InputError};
use crate::plan::Plan;
use crate::problem::Problem;

/// A VDA 5050 `trajectory` (NURBS) of one robot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NurbsTrajectory {
    /// Degree of the curve (the Bernstein order, 10 by default).
    pub degree: usize,
    /// Knot vector: degree + 1 zeros, then degree + 1 ones.
    pub knot_vector: Vec<f64>,
    /// Control points with weight 1.
    pub control_points: Vec<ControlPoint>,
}

/// A NURBS control point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlPoint {
    /// x in metres.
    pub x: f64,
    /// y in metres.
    pub y: f64,
    /// Weight (1: the curve is polynomial).
    pub weight: f64,
}

/// The timing kept beside the curves: robot i is at curve parameter u = (t - start) / (end - start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurveTiming {
    /// Time (s) at u = 0.
    pub start: f64,
    /// Time (s) at u = 1 (the horizon).
    pub end: f64,
}

/// Every robot's path as a VDA 5050 trajectory, in request order, and their common timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vda5050Export {
    /// One trajectory per robot.
    pub trajectories: Vec<NurbsTrajectory>,
    /// When each curve starts and ends.
    pub timing: CurveTiming,
}

/// A plan with its VDA 5050 export (`flowopt plan --format vda5050`, `POST /v1/plan?format=vda5050`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanWithVda5050 {
    /// The plan, unchanged.
    #[serde(flatten)]
    pub plan: Plan,
    /// Its export.
    pub vda5050: Vda5050Export,
}

impl Vda5050Export {
    /// The export of `plan` for `problem`. Planners whose trajectories are samples only
    /// (`orca`) cannot be exported: the error names `format`.
    pub fn of(problem: &Problem, plan: &Plan) -> Result<Self, InputError> {
        let trajectories = plan
            .trajectories
            .iter()
            .enumerate()
            .map(|(i, trajectory)| {
                let c = trajectory.coefficients.as_ref().ok_or_else(|| {
                    InputError::new(
                        ErrorKind::OutOfRange,
                        "format",
                        format!(
                            "the {} planner's trajectories are samples, not curves \
                             (robot {i}); vda5050 needs a polynomial planner",
                            plan.planner
                        ),
                    )
                })?;
                let degree = c.x.len().saturating_sub(1);
                let knot_vector = std::iter::repeat_n(0.0, degree + 1)
                    .chain(std::iter::repeat_n(1.0, degree + 1))
                    .collect();
                let control_points =
                    c.x.iter()
                        .zip(&c.y)
                        .map(|(&x, &y)| ControlPoint { x, y, weight: 1.0 })
                        .collect();
                Ok(NurbsTrajectory {
                    degree,
                    knot_vector,
                    control_points,
                })
            })
            .collect::<Result<_, InputError>>()?;
        Ok(Self {
            trajectories,
            timing: CurveTiming {
                start: 0.0,
                end: problem.horizon,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PlanOptions, Planner, Scenario, ScenarioConfig, StraightPlanner};

    /// De Boor's algorithm: a general (rational) B-spline evaluator, independent of the
    /// Bernstein code the plan was sampled with.
    fn de_boor(curve: &NurbsTrajectory, u: f64) -> [f64; 2] {
        let p = curve.degree;
        let knots = &curve.knot_vector;
        // The knot span [knots[k], knots[k+1]) holding u (the last non-empty one at u = 1).
        let k = (p..knots.len() - p - 1)
            .rev()
            .find(|&k| knots[k] <= u && knots[k] < knots[k + 1])
            .unwrap();
        let mut d: Vec<[f64; 3]> = (0..=p)
            .map(|j| {
                let c = curve.control_points[j + k - p];
                [c.x * c.weight, c.y * c.weight, c.weight]
            })
            .collect();
        for r in 1..=p {
            for j in (r..=p).rev() {
                let i = j + k - p;
                let alpha = (u - knots[i]) / (knots[i + p + 1 - r] - knots[i]);
                let previous = d[j - 1];
                for (value, prev) in d[j].iter_mut().zip(previous) {
                    *value = (1.0 - alpha) * prev + alpha * *value;
                }
            }
        }
        [d[p][0] / d[p][2], d[p][1] / d[p][2]]
    }

    #[test]
    fn exported_curves_evaluate_to_the_plan_samples() {
        let problem = Scenario::Crossing
            .generate(&ScenarioConfig::new(5).seed(3))
            .unwrap();
        let plan = StraightPlanner::default()
            .plan(&problem, &PlanOptions::default())
            .unwrap();
        let export = Vda5050Export::of(&problem, &plan).unwrap();
        assert_eq!(export.trajectories.len(), 5);
        assert_eq!(export.timing.end, problem.horizon);
        for (curve, trajectory) in export.trajectories.iter().zip(&plan.trajectories) {
            assert_eq!(curve.degree, 10);
            assert_eq!(curve.knot_vector.len(), 22);
            for s in &trajectory.samples {
                let u = (s[0] - export.timing.start) / (export.timing.end - export.timing.start);
                let [x, y] = de_boor(curve, u);
                assert!((x - s[1]).abs() < 1e-9 && (y - s[2]).abs() < 1e-9, "{u}");
            }
        }
        // The JSON uses VDA 5050's field names.
        let json = serde_json::to_value(&export).unwrap();
        assert!(json["trajectories"][0]["knotVector"].is_array());
        assert_eq!(json["trajectories"][0]["controlPoints"][0]["weight"], 1.0);
    }

    #[test]
    fn sample_only_plans_are_refused_naming_format() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(2).seed(0))
            .unwrap();
        let mut plan = StraightPlanner::default()
            .plan(&problem, &PlanOptions::default())
            .unwrap();
        plan.trajectories[1].coefficients = None;
        assert_eq!(
            Vda5050Export::of(&problem, &plan).unwrap_err().field,
            "format"
        );
    }
}
