//! `scp`: centralized trajectory optimization over all robots' Bernstein coefficients by
//! sequential convex programming (the convex-concave procedure), each step solved by Clarabel.
//!
//! Objective: smoothness, the integral of |acceleration|^2 (an exact quadratic form). Exact
//! constraints: boundary equalities (eliminated), workspace (coefficient box), speed and
//! acceleration (second-order cones at every grid time). Pair separation and obstacle clearance
//! are linearized around the current iterate into half-planes at every grid time, with L1-
//! penalized slacks so every step is feasible, inside a box trust region. Because the half-planes
//! are inner approximations, the true merit decreases at every step; the loop ends when the
//! iterate is collision-free on the grid and stops improving, and the final plan is judged by
//! `flowopt_core::evaluate` (dense check). If the dense check fails, the grid is refined to the
//! checker's grid and the loop goes on.

mod guess;
mod layout;
mod subproblem;

use std::time::Instant;

use clarabel::solver::SolverStatus;
use flowopt_core::{
    Bernstein, Coefficients, ErrorKind, InputError, Plan, PlanError, PlanOptions, Planner, Problem,
    Vec2, uniform_times,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use layout::Layout;
use subproblem::{Fixed, linearize, solve, violation};

/// Settings of the `scp` planner. Every field has a documented default.
#[derive(Debug, Clone, PartialEq)]
pub struct ScpSettings {
    /// Most convex subproblems solved (default 40).
    pub max_iterations: usize,
    /// Half-width of the box trust region on each coefficient, metres (default 0.5).
    pub trust_region: f64,
    /// Weight of the L1 penalty on collision slacks (default 1e3).
    pub penalty: f64,
    /// Clearance added to every separation and obstacle distance on the grid, metres
    /// (default 0.02), so that nothing dips below the true bound between grid times.
    pub clearance: f64,
    /// Fraction of the speed and acceleration limits kept free (default 0.01).
    pub limit_margin: f64,
    /// Constraint grid density relative to the problem's samples (default 2; refined to 4, the
    /// checker's grid, when the final dense check fails).
    pub grid_factor: usize,
    /// Amplitude (metres) of the seeded random perturbation of the initial straight-line guess,
    /// which breaks the symmetry of swaps (default 0.3).
    pub perturbation: f64,
    /// Stop when the merit improves by less than this fraction and the grid is collision-free
    /// (default 1e-3).
    pub improvement_tolerance: f64,
    /// Clarabel's feasibility and gap tolerance (default 1e-6).
    pub solver_tolerance: f64,
    /// Bernstein order (default 10).
    pub order: usize,
    /// New starts from other random perturbations when a run ends infeasible (default 2).
    pub restarts: usize,
}

impl Default for ScpSettings {
    fn default() -> Self {
        Self {
            max_iterations: 40,
            trust_region: 0.5,
            penalty: 1e3,
            clearance: 0.02,
            limit_margin: 0.01,
            grid_factor: 2,
            perturbation: 0.3,
            improvement_tolerance: 1e-3,
            solver_tolerance: 1e-6,
            order: flowopt_core::DEFAULT_ORDER,
            restarts: 2,
        }
    }
}

impl ScpSettings {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |field: &str, msg: &str| Err(InputError::new(ErrorKind::OutOfRange, field, msg));
        if self.max_iterations == 0 {
            return bad("max_iterations", "must be >= 1");
        }
        for (v, field) in [
            (self.trust_region, "trust_region"),
            (self.penalty, "penalty"),
            (self.solver_tolerance, "solver_tolerance"),
            (self.improvement_tolerance, "improvement_tolerance"),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(field, "must be a finite number > 0");
            }
        }
        for (v, field) in [
            (self.clearance, "clearance"),
            (self.perturbation, "perturbation"),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, "must be a finite number >= 0");
            }
        }
        if !(0.0..0.5).contains(&self.limit_margin) {
            return bad("limit_margin", "must be in [0, 0.5)");
        }
        if self.restarts > 100 {
            return bad("restarts", "must be <= 100");
        }
        if !(1..=8).contains(&self.grid_factor) {
            return bad("grid_factor", "must be in 1..=8");
        }
        Bernstein::new(self.order).map(|_| ())
    }
}

/// The centralized SCP planner (`scp`).
#[derive(Debug, Clone, Default)]
pub struct ScpPlanner {
    settings: ScpSettings,
}

/// What one SCP run did, beside its coefficients.
#[derive(Debug, Clone, Default)]
struct RunStats {
    iterations: usize,
    solver_iterations: u64,
    solve_ms: f64,
    half_planes: usize,
    failures: usize,
}

impl ScpPlanner {
    /// A planner with `settings`, validated.
    pub fn new(settings: ScpSettings) -> Result<Self, InputError> {
        settings.validate()?;
        Ok(Self { settings })
    }

    /// The settings in use.
    pub fn settings(&self) -> &ScpSettings {
        &self.settings
    }

    /// Plans from a given initial guess (one coefficient pair per robot, of this planner's
    /// order) instead of the perturbed straight line.
    pub fn plan_from(
        &self,
        problem: &Problem,
        initial: &[Coefficients],
        options: &PlanOptions,
    ) -> Result<Plan, PlanError> {
        let started = Instant::now();
        let k = self.settings.order + 1;
        if initial.len() != problem.num_robots()
            || initial.iter().any(|c| c.x.len() != k || c.y.len() != k)
        {
            return Err(InputError::new(
                ErrorKind::Shape,
                "initial",
                format!(
                    "expected {} robots x 2 axes x {k} coefficients",
                    problem.num_robots()
                ),
            )
            .into());
        }
        let initial: Vec<[Vec<f64>; 2]> =
            initial.iter().map(|c| [c.x.clone(), c.y.clone()]).collect();
        self.run(problem, &initial, options.seed, started)
    }

    fn run(
        &self,
        problem: &Problem,
        initial: &[[Vec<f64>; 2]],
        seed: u64,
        started: Instant,
    ) -> Result<Plan, PlanError> {
        let _span =
            tracing::info_span!("plan", planner = "scp", robots = problem.num_robots()).entered();
        let s = &self.settings;
        let basis = Bernstein::new(s.order)?;
        let gram = basis.acceleration_gram(problem.horizon);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut directions = move || {
            let a = rng.random_range(0.0..std::f64::consts::TAU);
            [a.cos(), a.sin()] as Vec2
        };
        let mut grid_factor = s.grid_factor;
        let mut layout = Layout::new(problem, &basis, self.grid(problem, grid_factor));
        let mut x = layout.free_of(initial);
        let speed = problem.limits.max_speed * (1.0 - s.limit_margin);
        let accel = problem.limits.max_accel * (1.0 - s.limit_margin);
        let mut stats = RunStats::default();
        let mut trust = s.trust_region;
        let merit = |layout: &Layout, x: &[f64]| -> (f64, f64) {
            let (sum, worst) = violation(problem, layout, x, s.clearance);
            (smoothness(layout, &gram, x) + s.penalty * sum, worst)
        };
        let (mut current, _) = merit(&layout, &x);
        while stats.iterations < s.max_iterations {
            stats.iterations += 1;
            let inputs = Fixed {
                problem,
                layout: &layout,
                gram: &gram,
                penalty: s.penalty,
                speed,
                accel,
                solver_tolerance: s.solver_tolerance,
            };
            let planes = linearize(problem, &layout, &x, trust, s.clearance, &mut directions);
            stats.half_planes = planes.len();
            let step = {
                let _span = tracing::debug_span!("solve", half_planes = planes.len()).entered();
                let step = solve(&inputs, &x, trust, &planes, false);
                if matches!(
                    step.status,
                    SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible
                ) {
                    // The current iterate breaks a convex limit: let every half-plane give.
                    solve(&inputs, &x, trust, &planes, true)
                } else {
                    step
                }
            };
            stats.solve_ms += step.solve_ms;
            stats.solver_iterations += u64::from(step.iterations);
            if !matches!(
                step.status,
                SolverStatus::Solved | SolverStatus::AlmostSolved
            ) {
                tracing::debug!(status = ?step.status, "subproblem not solved; shrinking trust region");
                stats.failures += 1;
                trust *= 0.5;
                if stats.failures > 4 {
                    break;
                }
                continue;
            }
            let (next, worst) = merit(&layout, &step.x);
            let slack = 1e-6 * current.abs().max(1.0);
            if next > current + slack {
                // Only solver inaccuracy can make the model lie: take a smaller step.
                trust *= 0.5;
                if trust < 1e-4 {
                    break;
                }
                continue;
            }
            let improvement = (current - next) / current.abs().max(1e-9);
            x = step.x;
            current = next;
            tracing::debug!(
                iteration = stats.iterations,
                merit = current,
                worst,
                "scp step"
            );
            // Half of the clearance may be eaten by solver inaccuracy: still truly collision-free.
            let collision_free = worst <= (0.5 * s.clearance).max(1e-6);
            if collision_free && improvement < s.improvement_tolerance {
                let plan = self.plan_of(problem, &layout, &x, started)?;
                if plan.feasible || grid_factor >= 4 {
                    return Ok(finish(plan, &stats));
                }
                // Something slipped between grid times: go on on the checker's grid.
                grid_factor = 4;
                let coefficients: Vec<[Vec<f64>; 2]> =
                    (0..layout.n).map(|i| layout.coefficients(&x, i)).collect();
                layout = Layout::new(problem, &basis, self.grid(problem, grid_factor));
                x = layout.free_of(&coefficients);
                current = merit(&layout, &x).0;
            }
        }
        let plan = self.plan_of(problem, &layout, &x, started)?;
        Ok(finish(plan, &stats))
    }

    fn grid(&self, problem: &Problem, factor: usize) -> Vec<f64> {
        uniform_times(problem.horizon, (problem.samples - 1) * factor + 1)
    }

    fn plan_of(
        &self,
        problem: &Problem,
        layout: &Layout,
        x: &[f64],
        started: Instant,
    ) -> Result<Plan, InputError> {
        let coefficients = (0..layout.n)
            .map(|i| {
                let [x, y] = layout.coefficients(x, i);
                Coefficients { x, y }
            })
            .collect();
        Plan::from_coefficients("scp", problem, coefficients, started)
    }

    /// The seeded initial guess: each robot's shortest path around the obstacles (its straight
    /// line when nothing is in the way), fitted by a polynomial, plus random interior
    /// perturbations that break the symmetry of swaps.
    fn initial_guess(
        &self,
        problem: &Problem,
        seed: u64,
    ) -> Result<Vec<[Vec<f64>; 2]>, InputError> {
        let basis = Bernstein::new(self.settings.order)?;
        let layout = Layout::new(problem, &basis, problem.sample_times());
        let mut x = guess::path_guess(problem, &basis, &layout);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x05ee_d5c9);
        let amp = self.settings.perturbation;
        if amp > 0.0 {
            for v in &mut x {
                *v += rng.random_range(-amp..amp);
            }
        }
        Ok((0..layout.n).map(|i| layout.coefficients(&x, i)).collect())
    }
}

/// Adds the SCP counters and solver time to the plan.
fn finish(mut plan: Plan, stats: &RunStats) -> Plan {
    plan.info
        .insert("iterations".into(), stats.iterations as f64);
    plan.info
        .insert("solver_iterations".into(), stats.solver_iterations as f64);
    plan.info
        .insert("half_planes".into(), stats.half_planes as f64);
    plan.info
        .insert("solver_failures".into(), stats.failures as f64);
    plan.timings_ms.insert("solve".into(), stats.solve_ms);
    plan
}

/// Smoothness c'Hc summed over robots and axes.
fn smoothness(layout: &Layout, gram: &nalgebra::DMatrix<f64>, x: &[f64]) -> f64 {
    (0..layout.n)
        .map(|i| {
            layout
                .coefficients(x, i)
                .iter()
                .map(|c| {
                    let v = nalgebra::DVector::from_column_slice(c);
                    (v.transpose() * gram * &v)[0]
                })
                .sum::<f64>()
        })
        .sum()
}

impl Planner for ScpPlanner {
    fn name(&self) -> &'static str {
        "scp"
    }

    /// Runs from the seeded initial guess; when the result is infeasible (a local minimum of
    /// the penalty), starts again from other perturbations, up to `restarts` times, and returns
    /// the first feasible plan or else the one with the smallest violation. Timings and counters
    /// cover all attempts.
    fn plan(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, PlanError> {
        let started = Instant::now();
        let mut best: Option<Plan> = None;
        let (mut solve_ms, mut iterations) = (0.0, 0.0);
        for attempt in 0..=self.settings.restarts as u64 {
            let seed = options
                .seed
                .wrapping_add(attempt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let initial = self.initial_guess(problem, seed)?;
            let plan = self.run(problem, &initial, seed, started)?;
            solve_ms += plan.timings_ms.get("solve").copied().unwrap_or(0.0);
            iterations += plan.info.get("iterations").copied().unwrap_or(0.0);
            let better = best
                .as_ref()
                .is_none_or(|b| plan.metrics.max_violation < b.metrics.max_violation);
            let feasible = plan.feasible;
            if better {
                best = Some(plan);
            }
            if let Some(b) = best.as_mut() {
                b.info.insert("restarts".into(), attempt as f64);
            }
            if feasible {
                break;
            }
        }
        let mut plan = best.ok_or_else(|| PlanError::Planner {
            planner: "scp".into(),
            message: "no attempt ran".into(),
        })?;
        // The kept plan may be an earlier attempt's: report the time of all of them.
        plan.timings_ms
            .insert("total".into(), flowopt_core::elapsed_ms(started));
        plan.timings_ms.insert("solve".into(), solve_ms);
        plan.info.insert("iterations".into(), iterations);
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::{CheckConfig, Scenario, ScenarioConfig, evaluate};

    fn scp(problem: &Problem, seed: u64) -> Plan {
        let plan = ScpPlanner::default()
            .plan(problem, &PlanOptions { seed })
            .unwrap();
        // The plan's own metrics are those of the shared checker.
        let metrics = evaluate(problem, &plan.trajectories, &CheckConfig::default()).unwrap();
        assert_eq!(metrics, plan.metrics);
        plan
    }

    fn assert_feasible(scenario: Scenario, config: ScenarioConfig) {
        let problem = scenario.generate(&config).unwrap();
        let plan = scp(&problem, config.seed);
        assert!(
            plan.feasible,
            "{scenario} N={}: {:?} info {:?}",
            config.robots, plan.metrics, plan.info
        );
        assert!(plan.info["iterations"] >= 1.0);
        assert!(plan.timings_ms["solve"] > 0.0);
    }

    #[test]
    fn circle_8_is_feasible() {
        assert_feasible(Scenario::Circle, ScenarioConfig::new(8).seed(1));
    }

    #[test]
    fn obstacles_8_with_6_obstacles_is_feasible() {
        assert_feasible(
            Scenario::Obstacles,
            ScenarioConfig::new(8).obstacles(6).seed(2),
        );
    }

    #[test]
    fn doorway_6_is_feasible() {
        assert_feasible(Scenario::Doorway, ScenarioConfig::new(6).seed(3));
    }

    #[test]
    fn no_worse_than_straight_when_straight_is_feasible() {
        // Robots far apart: the straight lines are feasible and optimal, and SCP, started from
        // a perturbed guess, must find them again.
        let problem = Problem::new(
            flowopt_core::Workspace::square(5.0),
            vec![
                flowopt_core::Robot::new([-4.0, -3.0], [4.0, -2.0], 0.2),
                flowopt_core::Robot::new([-4.0, 3.0], [3.0, 2.5], 0.2),
            ],
            vec![],
        );
        let straight = flowopt_core::StraightPlanner::default()
            .plan(&problem, &PlanOptions::default())
            .unwrap();
        assert!(straight.feasible);
        let plan = scp(&problem, 5);
        assert!(plan.feasible);
        let (a, b) = (plan.metrics.smoothness, straight.metrics.smoothness);
        assert!(a <= b * (1.0 + 1e-6), "scp {a} vs straight {b}");
    }

    #[test]
    fn same_seed_same_plan() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(4).seed(0))
            .unwrap();
        let a = scp(&problem, 9);
        let b = scp(&problem, 9);
        assert_eq!(a.trajectories, b.trajectories);
    }

    #[test]
    fn bad_settings_name_the_field() {
        let e = ScpPlanner::new(ScpSettings {
            penalty: -1.0,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "penalty");
        let e = ScpPlanner::new(ScpSettings {
            order: 3,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "order");
    }
}
