//! Initial guesses that already go around obstacles: a shortest path on an occupancy grid
//! (obstacles inflated by the robot radius), timed with the smooth rest-to-rest profile and
//! fitted by least squares with the boundary coefficients held fixed. Without this, sequential
//! convex programming started from straight lines stays on the wrong side of a wall.

use flowopt_core::{Bernstein, Problem, Vec2, dist};
use nalgebra::{DMatrix, DVector};

use super::layout::Layout;
use crate::guidance::Guidance;

/// Grid cell size in metres.
const CELL: f64 = 0.1;
/// Extra clearance asked of the path (dropped for robots that cannot keep it).
const PATH_CLEARANCE: f64 = 0.3;

/// Free coefficients (in `layout`'s vector) of every robot's path-following guess; robots
/// without obstacles in the way get their straight line. `layout` must be built on the
/// problem's sample times.
pub fn path_guess(
    problem: &Problem,
    basis: &Bernstein,
    layout: &Layout,
    straight: &[f64],
) -> Vec<f64> {
    let mut x = straight.to_vec();
    // A path with extra clearance where one exists; robots starting or ending too close to an
    // obstacle for that clearance get a path without it.
    let (Some(roomy), Some(tight)) = (
        Guidance::new(problem, CELL, PATH_CLEARANCE),
        Guidance::new(problem, CELL, 0.0),
    ) else {
        return x; // no obstacles
    };
    let profile = time_profile(basis, &layout.times, problem.horizon);
    for (i, robot) in problem.robots.iter().enumerate() {
        let path = [(&roomy, PATH_CLEARANCE), (&tight, 0.0)]
            .into_iter()
            .find_map(|(guidance, clearance)| {
                let reach = robot.radius + clearance;
                guidance.path(i, robot.start, robot.goal, reach, &problem.obstacles)
            });
        let Some(path) = path else { continue };
        if path.len() <= 2 {
            continue; // the straight line is clear
        }
        let targets: Vec<Vec2> = profile.iter().map(|&s| along(&path, s)).collect();
        fit(layout, i, &targets, &mut x);
    }
    x
}

/// Fraction of the distance covered at each time by the smoothest rest-to-rest motion.
fn time_profile(basis: &Bernstein, times: &[f64], horizon: f64) -> Vec<f64> {
    let unit = basis.smoothest(horizon, &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    times
        .iter()
        .map(|&t| basis.eval(&unit, t, horizon)[0].clamp(0.0, 1.0))
        .collect()
}

/// Least-squares fit of robot `i`'s free coefficients to `targets` at the layout's times.
fn fit(layout: &Layout, i: usize, targets: &[Vec2], x: &mut [f64]) {
    let (m, nf) = (layout.times.len(), layout.nf);
    let b = DMatrix::from_fn(m, nf, |t, f| layout.b[t][f]);
    let normal = b.transpose() * &b;
    let Some(chol) = normal.cholesky() else {
        return;
    };
    for axis in 0..2 {
        let rhs = DVector::from_fn(m, |t, _| targets[t][axis] - layout.fixed_p[i][t][axis]);
        let sol = chol.solve(&(b.transpose() * rhs));
        for f in 0..nf {
            x[layout.var(i, axis, f)] = sol[f];
        }
    }
}

/// Point at fraction `s` of a polyline's length.
fn along(path: &[Vec2], s: f64) -> Vec2 {
    let total: f64 = path.windows(2).map(|w| dist(w[0], w[1])).sum();
    let mut left = s * total;
    for w in path.windows(2) {
        let d = dist(w[0], w[1]);
        if left <= d && d > 0.0 {
            let u = left / d;
            return [
                w[0][0] + u * (w[1][0] - w[0][0]),
                w[0][1] + u * (w[1][1] - w[0][1]),
            ];
        }
        left -= d;
    }
    path[path.len() - 1]
}
