//! Metrics and feasibility of a plan against its problem (DESIGN.md section 2). Every planner
//! is judged by this one piece of code, and `flowopt check` runs it on any plan.
//!
//! Constraints are checked on two grids:
//! - the plan's own samples (positions as given; velocities and accelerations from the
//!   coefficients when present, else by finite differences of the samples);
//! - a grid `dense_factor` times denser: exact evaluation of the coefficients when present,
//!   else linear interpolation of the samples (so nothing slips between samples either way).
//!
//! Velocities and accelerations of sample-only plans (ORCA) come from finite differences and
//! their start/end velocity boundary conditions are not checked: only positions are.

use std::sync::Arc;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::bernstein::{Bernstein, SampleMatrices};
use crate::error::{ErrorKind, InputError};
use crate::problem::{Problem, Vec2, dist, is_uniform_times, norm, uniform_times};
use crate::trajectory::Trajectory;

/// Default feasibility tolerance on every constraint (metres, m/s or m/s^2).
pub const DEFAULT_TOLERANCE: f64 = 1e-3;

/// Settings of the checker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckConfig {
    /// Largest violation still called feasible (default 1e-3).
    pub tolerance: f64,
    /// How much denser than the plan's samples the second grid is (default 4).
    pub dense_factor: usize,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            tolerance: DEFAULT_TOLERANCE,
            dense_factor: 4,
        }
    }
}

/// The largest violation of each constraint family (0 when satisfied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Residuals {
    /// Start/goal positions (and, with coefficients, start velocity/acceleration and zero goal
    /// velocity/acceleration).
    pub boundary: f64,
    /// Robot pairs closer than r_i + r_j + margin (metres).
    pub separation: f64,
    /// Robots overlapping obstacles (metres).
    pub obstacles: f64,
    /// Robot discs outside the workspace (metres).
    pub workspace: f64,
    /// Speed above `limits.max_speed` (m/s).
    pub speed: f64,
    /// Acceleration above `limits.max_accel` (m/s^2).
    pub accel: f64,
    /// Samples disagreeing with the coefficients they claim to come from (metres).
    pub consistency: f64,
}

impl Residuals {
    /// The largest of all residuals.
    pub fn max(&self) -> f64 {
        [
            self.boundary,
            self.separation,
            self.obstacles,
            self.workspace,
            self.speed,
            self.accel,
            self.consistency,
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }
}

/// Quality and feasibility figures of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrics {
    /// `max_violation <= tolerance`.
    pub feasible: bool,
    /// Largest violation over all constraints and both grids.
    pub max_violation: f64,
    /// Smallest centre-to-centre distance between two robots (null with one robot).
    pub min_pair_distance: Option<f64>,
    /// Smallest gap between a robot disc and an obstacle disc, negative when they overlap
    /// (null without obstacles).
    pub min_obstacle_clearance: Option<f64>,
    /// Largest speed of any robot (m/s).
    pub max_speed: f64,
    /// Largest acceleration of any robot (m/s^2).
    pub max_accel: f64,
    /// Sum over robots of the integral of |acceleration|^2 over [0, T] (m^2/s^3).
    pub smoothness: f64,
    /// Sum over robots of the length travelled (m).
    pub path_length: f64,
    /// Largest distance between a robot's final position and its goal (m).
    pub arrival_error: f64,
    /// Largest violation of each constraint family.
    pub residuals: Residuals,
    /// Tolerance the verdict used.
    pub tolerance: f64,
}

/// One robot's states on one time grid. Velocities and accelerations need not be aligned with
/// positions (finite differences have fewer entries); only their magnitudes are used.
struct Track {
    pos: Vec<Vec2>,
    vel: Vec<Vec2>,
    acc: Vec<Vec2>,
}

/// Checks the shape of `trajectories` against `problem` and computes its metrics.
///
/// Errors (the plan is malformed, not merely infeasible) name the offending field, e.g.
/// `trajectories[2].samples[7]`.
pub fn evaluate(
    problem: &Problem,
    trajectories: &[Trajectory],
    config: &CheckConfig,
) -> Result<Metrics, InputError> {
    let times = check_shape(problem, trajectories)?;
    let horizon = problem.horizon;
    let bases = trajectories
        .iter()
        .enumerate()
        .map(|(i, tr)| match &tr.coefficients {
            Some(c) => check_coefficients(c.x.len(), c.y.len(), &c.x, &c.y, i).map(Some),
            None => Ok(None),
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut res = Residuals::default();
    let dense_count = (times.len() - 1) * config.dense_factor.max(1) + 1;
    let dense_times = uniform_times(horizon, dense_count);
    // The plan's grid is usually the problem's uniform one: its matrices come from the cache.
    let uniform = is_uniform_times(&times, horizon);

    // Grid 1: the plan's samples. Grid 2: the dense grid.
    let mut sample_tracks = Vec::with_capacity(trajectories.len());
    let mut dense_tracks = Vec::with_capacity(trajectories.len());
    // Sampling matrices and the smoothness Gram matrix per polynomial order (usually one),
    // built (or fetched) once.
    type Matrices = (
        usize,
        Arc<SampleMatrices>,
        Arc<SampleMatrices>,
        DMatrix<f64>,
    );
    let mut matrices: Vec<Matrices> = Vec::new();
    for basis in bases.iter().flatten() {
        if matrices.iter().all(|(order, ..)| *order != basis.order()) {
            let on_samples = if uniform {
                basis.uniform_sample_matrices(times.len(), horizon)
            } else {
                Arc::new(basis.sample_matrices(&times, horizon))
            };
            matrices.push((
                basis.order(),
                on_samples,
                basis.uniform_sample_matrices(dense_count, horizon),
                basis.acceleration_gram(horizon),
            ));
        }
    }
    let matrices_of = |basis: &Bernstein| {
        let (_, on_samples, dense, gram) = matrices
            .iter()
            .find(|(order, ..)| *order == basis.order())
            .expect("built above for every order");
        (on_samples, dense, gram)
    };
    for (i, (tr, basis)) in trajectories.iter().zip(&bases).enumerate() {
        let given: Vec<Vec2> = tr.samples.iter().map(|s| [s[1], s[2]]).collect();
        match (basis, &tr.coefficients) {
            (Some(basis), Some(c)) => {
                let (on_samples, dense, _) = matrices_of(basis);
                let exact = coefficient_track(on_samples, &c.x, &c.y);
                for (g, e) in given.iter().zip(&exact.pos) {
                    res.consistency = res.consistency.max(dist(*g, *e));
                }
                // Boundary velocities and accelerations, exactly: the dense grid's first and
                // last samples are t = 0 and t = T.
                let robot = &problem.robots[i];
                let track = coefficient_track(dense, &c.x, &c.y);
                let last = track.vel.len() - 1;
                for err in [
                    dist(track.vel[0], robot.start_velocity),
                    dist(track.acc[0], robot.start_acceleration),
                    norm(track.vel[last]),
                    norm(track.acc[last]),
                ] {
                    res.boundary = res.boundary.max(err);
                }
                sample_tracks.push(Track {
                    pos: given,
                    vel: exact.vel,
                    acc: exact.acc,
                });
                dense_tracks.push(track);
            }
            _ => {
                let (vel, acc) = finite_differences(&given, &times);
                dense_tracks.push(Track {
                    pos: interpolate(&given, &times, &dense_times),
                    vel: Vec::new(),
                    acc: Vec::new(),
                });
                sample_tracks.push(Track {
                    pos: given,
                    vel,
                    acc,
                });
            }
        }
    }

    let mut min_pair: Option<f64> = None;
    let mut min_clear: Option<f64> = None;
    let (mut max_speed, mut max_accel) = (0.0f64, 0.0f64);
    for tracks in [&sample_tracks, &dense_tracks] {
        for (i, tr) in tracks.iter().enumerate() {
            let robot = &problem.robots[i];
            for p in &tr.pos {
                res.workspace = res
                    .workspace
                    .max(problem.workspace.disc_violation(*p, robot.radius));
            }
            // Per obstacle and per pair only the closest sample matters, and every figure
            // below is monotone in the distance: the nearest distance is taken once
            // (`closest`), exactly the smallest of the per-sample distances.
            for o in &problem.obstacles {
                let d = closest(tr.pos.iter().map(|p| (*p, o.center)));
                let gap = -(o.radius + robot.radius - d);
                min_clear = Some(min_clear.map_or(gap, |m| m.min(gap)));
                res.obstacles = res.obstacles.max(-gap);
            }
            max_speed = tr.vel.iter().map(|v| norm(*v)).fold(max_speed, f64::max);
            max_accel = tr.acc.iter().map(|a| norm(*a)).fold(max_accel, f64::max);
            for (j, other) in tracks.iter().enumerate().skip(i + 1) {
                let need = problem.separation(i, j);
                let d = closest(tr.pos.iter().copied().zip(other.pos.iter().copied()));
                min_pair = Some(min_pair.map_or(d, |m| m.min(d)));
                res.separation = res.separation.max(need - d);
            }
        }
    }
    res.speed = (max_speed - problem.limits.max_speed).max(0.0);
    res.accel = (max_accel - problem.limits.max_accel).max(0.0);

    // Start and goal positions, from the samples (which agree with the coefficients up to
    // `consistency`).
    let mut arrival_error = 0.0f64;
    for (tr, robot) in sample_tracks.iter().zip(&problem.robots) {
        let (first, last) = (tr.pos[0], tr.pos[tr.pos.len() - 1]);
        arrival_error = arrival_error.max(dist(last, robot.goal));
        res.boundary = res.boundary.max(dist(first, robot.start));
    }
    res.boundary = res.boundary.max(arrival_error);

    let mut smoothness = 0.0;
    let mut path_length = 0.0;
    for (i, tr) in trajectories.iter().enumerate() {
        smoothness += match (&bases[i], &tr.coefficients) {
            (Some(basis), Some(c)) => {
                let (_, _, h) = matrices_of(basis);
                let (x, y) = (
                    DVector::from_column_slice(&c.x),
                    DVector::from_column_slice(&c.y),
                );
                (x.transpose() * h * &x)[0] + (y.transpose() * h * &y)[0]
            }
            _ => fd_smoothness(&sample_tracks[i].acc, &times),
        };
        path_length += dense_tracks[i]
            .pos
            .windows(2)
            .map(|w| dist(w[0], w[1]))
            .sum::<f64>();
    }

    let max_violation = res.max();
    Ok(Metrics {
        feasible: max_violation <= config.tolerance,
        max_violation,
        min_pair_distance: min_pair,
        min_obstacle_clearance: min_clear,
        max_speed,
        max_accel,
        smoothness,
        path_length,
        arrival_error,
        residuals: res,
        tolerance: config.tolerance,
    })
}

/// Validates the plan's shape and returns the common sample times.
/// The smallest of `dist(a, b)` over the point pairs, as [`dist`] computes each: the
/// smallest squared distance, then one square root (the root is monotone, so this is the same
/// number). Where the squares overflow, `dist` falls back to `hypot`, which the plain fold
/// keeps. NaN distances are skipped, as `f64::min` skips them; no pairs gives `INFINITY`.
fn closest(pairs: impl Iterator<Item = (Vec2, Vec2)> + Clone) -> f64 {
    let squares = pairs
        .clone()
        .map(|(a, b)| {
            let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
            dx * dx + dy * dy
        })
        .fold(f64::INFINITY, f64::min);
    if squares.is_finite() {
        squares.sqrt()
    } else {
        pairs.map(|(a, b)| dist(a, b)).fold(f64::INFINITY, f64::min)
    }
}

fn check_shape(problem: &Problem, trajectories: &[Trajectory]) -> Result<Vec<f64>, InputError> {
    let shape = |field: String, msg: String| InputError::new(ErrorKind::Shape, field, msg);
    if trajectories.len() != problem.num_robots() {
        return Err(shape(
            "trajectories".into(),
            format!(
                "plan has {} trajectories but the problem has {} robots",
                trajectories.len(),
                problem.num_robots()
            ),
        ));
    }
    let first = &trajectories[0].samples;
    if first.len() < 2 {
        return Err(shape(
            "trajectories[0].samples".into(),
            "at least two samples are required".into(),
        ));
    }
    let times: Vec<f64> = first.iter().map(|s| s[0]).collect();
    let slack = 1e-6 * problem.horizon.max(1.0);
    for (i, tr) in trajectories.iter().enumerate() {
        if tr.samples.len() != times.len() {
            return Err(shape(
                format!("trajectories[{i}].samples"),
                format!(
                    "{} samples, but trajectories[0] has {}",
                    tr.samples.len(),
                    times.len()
                ),
            ));
        }
        for (k, s) in tr.samples.iter().enumerate() {
            let field = || format!("trajectories[{i}].samples[{k}]");
            if s.iter().any(|v| !v.is_finite()) {
                return Err(InputError::new(
                    ErrorKind::NotFinite,
                    field(),
                    "sample holds a non-finite number",
                ));
            }
            if (s[0] - times[k]).abs() > slack {
                return Err(shape(
                    field(),
                    "every robot must be sampled at the same times".into(),
                ));
            }
            if k > 0 && s[0] <= times[k - 1] {
                return Err(shape(field(), "sample times must increase".into()));
            }
        }
    }
    let last = times[times.len() - 1];
    if times[0].abs() > slack || (last - problem.horizon).abs() > slack {
        return Err(shape(
            "trajectories[0].samples".into(),
            format!(
                "samples must span [0, horizon = {}], got [{}, {last}]",
                problem.horizon, times[0]
            ),
        ));
    }
    Ok(times)
}

fn check_coefficients(
    nx: usize,
    ny: usize,
    x: &[f64],
    y: &[f64],
    i: usize,
) -> Result<Bernstein, InputError> {
    let field = format!("trajectories[{i}].coefficients");
    if nx != ny {
        return Err(InputError::new(
            ErrorKind::Shape,
            field,
            format!("x has {nx} coefficients but y has {ny}"),
        ));
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(InputError::new(
            ErrorKind::NotFinite,
            field,
            "coefficients hold a non-finite number",
        ));
    }
    Bernstein::for_coefficients(nx).map_err(|e| InputError { field, ..e })
}

fn coefficient_track(m: &SampleMatrices, x: &[f64], y: &[f64]) -> Track {
    let (x, y) = (DVector::from_column_slice(x), DVector::from_column_slice(y));
    let rows = |a: &DMatrix<f64>| -> Vec<Vec2> {
        let (ax, ay) = (a * &x, a * &y);
        ax.iter().zip(ay.iter()).map(|(&u, &v)| [u, v]).collect()
    };
    Track {
        pos: rows(&m.p),
        vel: rows(&m.pdot),
        acc: rows(&m.pddot),
    }
}

/// Segment velocities and node accelerations (three-point formula on a non-uniform grid).
fn finite_differences(pos: &[Vec2], times: &[f64]) -> (Vec<Vec2>, Vec<Vec2>) {
    let vel: Vec<Vec2> = pos
        .windows(2)
        .zip(times.windows(2))
        .map(|(p, t)| {
            let dt = t[1] - t[0];
            [(p[1][0] - p[0][0]) / dt, (p[1][1] - p[0][1]) / dt]
        })
        .collect();
    let acc = vel
        .windows(2)
        .zip(times.windows(3))
        .map(|(v, t)| {
            let dt = 0.5 * (t[2] - t[0]);
            [(v[1][0] - v[0][0]) / dt, (v[1][1] - v[0][1]) / dt]
        })
        .collect();
    (vel, acc)
}

/// Trapezoid integral of |a|^2 over the interior nodes of `times` (where `acc` lives).
fn fd_smoothness(acc: &[Vec2], times: &[f64]) -> f64 {
    let interior = &times[1..times.len() - 1];
    acc.windows(2)
        .zip(interior.windows(2))
        .map(|(a, t)| 0.5 * (norm(a[0]).powi(2) + norm(a[1]).powi(2)) * (t[1] - t[0]))
        .sum()
}

/// Linear interpolation of `pos` (given at `times`) at `at`.
fn interpolate(pos: &[Vec2], times: &[f64], at: &[f64]) -> Vec<Vec2> {
    let mut seg = 0;
    at.iter()
        .map(|&t| {
            while seg + 2 < times.len() && t > times[seg + 1] {
                seg += 1;
            }
            let (t0, t1) = (times[seg], times[seg + 1]);
            let w = ((t - t0) / (t1 - t0)).clamp(0.0, 1.0);
            let (a, b) = (pos[seg], pos[seg + 1]);
            [a[0] + w * (b[0] - a[0]), a[1] + w * (b[1] - a[1])]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Obstacle, Robot, Workspace};
    use crate::trajectory::Coefficients;
    use proptest::prelude::*;

    fn straight_coefficients(problem: &Problem) -> Vec<Coefficients> {
        let b = Bernstein::default();
        problem
            .robots
            .iter()
            .map(|r| Coefficients {
                x: b.smoothest(problem.horizon, &Bernstein::boundary_rhs(r, 0)),
                y: b.smoothest(problem.horizon, &Bernstein::boundary_rhs(r, 1)),
            })
            .collect()
    }

    fn trajectories(problem: &Problem, coeffs: Vec<Coefficients>) -> Vec<Trajectory> {
        let times = problem.sample_times();
        coeffs
            .into_iter()
            .map(|c| Trajectory::from_coefficients(c, &times, problem.horizon).unwrap())
            .collect()
    }

    fn head_on(offset: f64) -> Problem {
        // Two robots swapping along y = 0 (the second offset by `offset` in y).
        let mut p = Problem::new(
            Workspace::square(5.0),
            vec![
                Robot::new([-3.0, 0.0], [3.0, 0.0], 0.2),
                Robot::new([3.0, offset], [-3.0, offset], 0.2),
            ],
            vec![],
        );
        p.samples = 51; // the midpoint t = T/2 is a sample
        p
    }

    #[test]
    fn head_on_collision_is_found_with_exact_min_distance() {
        let p = head_on(0.25);
        let m = evaluate(
            &p,
            &trajectories(&p, straight_coefficients(&p)),
            &CheckConfig::default(),
        )
        .unwrap();
        // Both move symmetrically and meet at x = 0 at t = T/2: the gap is the y offset.
        assert!((m.min_pair_distance.unwrap() - 0.25).abs() < 1e-9);
        assert!((m.residuals.separation - (0.4 - 0.25)).abs() < 1e-9);
        assert!(!m.feasible);
        assert!(m.residuals.boundary < 1e-9);
        assert!(m.residuals.consistency < 1e-12);
    }

    #[test]
    fn far_apart_robots_are_feasible() {
        let p = head_on(2.0);
        let m = evaluate(
            &p,
            &trajectories(&p, straight_coefficients(&p)),
            &CheckConfig::default(),
        )
        .unwrap();
        assert!(m.feasible, "{m:?}");
        assert!((m.min_pair_distance.unwrap() - 2.0).abs() < 1e-9);
        assert!(m.min_obstacle_clearance.is_none());
        // Path length: both travel 6 m.
        assert!((m.path_length - 12.0).abs() < 1e-6);
    }

    #[test]
    fn grazing_an_obstacle_between_samples_is_caught_by_the_dense_check() {
        // One robot moving along y = 0; a small obstacle just below the path, placed between
        // two samples so that at the samples themselves the robot is clear.
        let mut p = Problem::new(
            Workspace::square(5.0),
            vec![Robot::new([-4.0, 0.0], [4.0, 0.0], 0.2)],
            vec![],
        );
        p.samples = 5; // coarse: samples at t = 0, 2, 4, 6, 8
        let coeffs = straight_coefficients(&p);
        let b = Bernstein::default();
        // Place the obstacle under the position at t = 3 (between samples at t = 2 and t = 4).
        let x_mid = b.eval(&coeffs[0].x, 3.0, p.horizon)[0];
        p.obstacles.push(Obstacle {
            center: [x_mid, -0.25],
            radius: 0.1,
        });
        let trs = trajectories(&p, coeffs);
        // At the samples, the robot is clear of the obstacle ...
        for s in &trs[0].samples {
            assert!(dist([s[1], s[2]], [x_mid, -0.25]) > 0.3 + 0.1);
        }
        // ... but between them it overlaps it by 0.05 m, and the dense check sees it.
        let m = evaluate(&p, &trs, &CheckConfig::default()).unwrap();
        assert!(!m.feasible);
        assert!(m.residuals.obstacles > 0.04, "{:?}", m.residuals);
    }

    #[test]
    fn sample_only_plans_use_finite_differences() {
        let p = head_on(2.0);
        let mut trs = trajectories(&p, straight_coefficients(&p));
        let with = evaluate(&p, &trs, &CheckConfig::default()).unwrap();
        for t in &mut trs {
            t.coefficients = None;
        }
        let without = evaluate(&p, &trs, &CheckConfig::default()).unwrap();
        assert!(without.feasible);
        assert!((with.max_speed - without.max_speed).abs() / with.max_speed < 0.02);
        assert!((with.smoothness - without.smoothness).abs() / with.smoothness < 0.1);
    }

    #[test]
    fn malformed_plans_are_errors_naming_the_field() {
        let p = head_on(2.0);
        let good = trajectories(&p, straight_coefficients(&p));
        let cfg = CheckConfig::default();

        let e = evaluate(&p, &good[..1], &cfg).unwrap_err();
        assert_eq!(e.field, "trajectories");

        let mut bad = good.clone();
        bad[1].samples[3][2] = f64::NAN;
        assert_eq!(
            evaluate(&p, &bad, &cfg).unwrap_err().field,
            "trajectories[1].samples[3]"
        );

        let mut bad = good.clone();
        bad[1].samples.pop();
        assert_eq!(
            evaluate(&p, &bad, &cfg).unwrap_err().field,
            "trajectories[1].samples"
        );

        let mut bad = good.clone();
        bad[0].coefficients.as_mut().unwrap().y.pop();
        assert_eq!(
            evaluate(&p, &bad, &cfg).unwrap_err().field,
            "trajectories[0].coefficients"
        );
    }

    #[test]
    fn samples_disagreeing_with_coefficients_are_infeasible() {
        let p = head_on(2.0);
        let mut trs = trajectories(&p, straight_coefficients(&p));
        trs[0].samples[10][1] += 0.01;
        let m = evaluate(&p, &trs, &CheckConfig::default()).unwrap();
        assert!((m.residuals.consistency - 0.01).abs() < 1e-9);
        assert!(!m.feasible);
    }

    proptest! {
        /// The separation residual is exactly the worst shortfall of the pair distance, and
        /// a plan shifted away from another robot never gets worse.
        #[test]
        fn separation_residual_is_the_shortfall(offset in 0.0f64..1.0) {
            let p = head_on(offset);
            let m = evaluate(&p, &trajectories(&p, straight_coefficients(&p)), &CheckConfig::default()).unwrap();
            prop_assert!((m.residuals.separation - (0.4 - offset).max(0.0)).abs() < 1e-9);
            prop_assert!((m.min_pair_distance.unwrap() - offset).abs() < 1e-9);
            prop_assert_eq!(m.feasible, offset >= 0.4 - 1e-3);
        }

        /// Workspace and speed residuals are the excess over the limit.
        #[test]
        fn limit_residuals_are_the_excess(max_speed in 0.5f64..3.0) {
            let mut p = head_on(2.0);
            p.limits.max_speed = max_speed;
            let m = evaluate(&p, &trajectories(&p, straight_coefficients(&p)), &CheckConfig::default()).unwrap();
            prop_assert!((m.residuals.speed - (m.max_speed - max_speed).max(0.0)).abs() < 1e-12);
        }

        /// The nearest distance taken once is exactly the smallest per-point [`dist`], also
        /// where the squares overflow (coordinates past 1e154, where `dist` uses `hypot`).
        #[test]
        fn closest_is_the_smallest_distance(
            points in proptest::collection::vec(
                ((-10.0f64..10.0, -10.0f64..10.0), (-10.0f64..10.0, -10.0f64..10.0)),
                1..40,
            ),
            scale in prop_oneof![Just(1.0f64), Just(1e-3), Just(1e160)],
        ) {
            let pairs: Vec<(Vec2, Vec2)> = points
                .iter()
                .map(|&((ax, ay), (bx, by))| ([ax * scale, ay * scale], [bx * scale, by * scale]))
                .collect();
            let plain = pairs.iter().map(|&(a, b)| dist(a, b)).fold(f64::INFINITY, f64::min);
            prop_assert_eq!(closest(pairs.iter().copied()), plain);
        }
    }
}
