//! The planner interface shared by every planner, and the trivial `straight` planner.

use std::time::Instant;

use crate::bernstein::Bernstein;
use crate::error::PlanError;
use crate::plan::Plan;
use crate::problem::Problem;
use crate::trajectory::Coefficients;

/// Options common to all planners. Planner-specific settings live on the planner itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Seed of every random choice the planner makes; the same seed gives the same plan.
    pub seed: u64,
}

/// A multi-robot trajectory planner.
///
/// `plan` takes a problem that already passed [`Problem::validate`]. An infeasible answer is a
/// [`Plan`] with `feasible == false`, not an error: errors are for input a planner cannot use and
/// for failures of the planner itself.
pub trait Planner: Send + Sync {
    /// Name used on the command line and in plans (`straight`, `scp`, ...).
    fn name(&self) -> &'static str;

    /// Plans one problem.
    fn plan(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, PlanError>;

    /// Plans several problems, `options[i]` for `problems[i]`; batched planners override this
    /// to share work across them. Each problem's plan must be the one [`plan`](Self::plan)
    /// gives it alone (timings aside).
    fn plan_batch(
        &self,
        problems: &[Problem],
        options: &[PlanOptions],
    ) -> Vec<Result<Plan, PlanError>> {
        problems
            .iter()
            .zip(options)
            .map(|(p, o)| self.plan(p, o))
            .collect()
    }
}

/// Each robot on its own smoothest trajectory, ignoring every other robot and obstacle: the
/// polynomial of least integrated squared acceleration meeting the boundary conditions. Robots
/// starting at rest follow the straight segment to their goal with a smooth time profile.
#[derive(Debug, Clone, Default)]
pub struct StraightPlanner {
    basis: Bernstein,
}

impl StraightPlanner {
    /// A straight planner with polynomials of the given basis.
    pub fn new(basis: Bernstein) -> Self {
        Self { basis }
    }

    /// The straight-line coefficients of every robot of `problem`.
    pub fn coefficients(&self, problem: &Problem) -> Vec<Coefficients> {
        problem
            .robots
            .iter()
            .map(|r| Coefficients {
                x: self
                    .basis
                    .smoothest(problem.horizon, &Bernstein::boundary_rhs(r, 0)),
                y: self
                    .basis
                    .smoothest(problem.horizon, &Bernstein::boundary_rhs(r, 1)),
            })
            .collect()
    }
}

impl Planner for StraightPlanner {
    fn name(&self) -> &'static str {
        "straight"
    }

    fn plan(&self, problem: &Problem, _options: &PlanOptions) -> Result<Plan, PlanError> {
        let _span =
            tracing::debug_span!("plan", planner = "straight", robots = problem.num_robots())
                .entered();
        let started = Instant::now();
        let coefficients = self.coefficients(problem);
        Ok(Plan::from_coefficients(
            self.name(),
            problem,
            coefficients,
            started,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Robot, Workspace};

    #[test]
    fn straight_paths_are_straight_and_meet_the_boundary() {
        let p = Problem::new(
            Workspace::square(5.0),
            vec![
                Robot::new([-3.0, -1.0], [3.0, 2.0], 0.2),
                Robot::new([1.0, 4.0], [1.0, -4.0], 0.3),
            ],
            vec![],
        );
        let plan = StraightPlanner::default()
            .plan(&p, &PlanOptions::default())
            .unwrap();
        assert_eq!(plan.planner, "straight");
        assert_eq!(plan.trajectories.len(), 2);
        assert!(plan.metrics.residuals.boundary < 1e-9);
        for (tr, r) in plan.trajectories.iter().zip(&p.robots) {
            for s in &tr.samples {
                // Collinear with start and goal: the cross product vanishes.
                let (d, q) = (
                    [r.goal[0] - r.start[0], r.goal[1] - r.start[1]],
                    [s[1] - r.start[0], s[2] - r.start[1]],
                );
                assert!((d[0] * q[1] - d[1] * q[0]).abs() < 1e-9);
            }
        }
        assert!(plan.feasible, "{:?}", plan.metrics);
        assert!(plan.timings_ms.contains_key("total"));
    }
}
