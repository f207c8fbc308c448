//! Initial guesses that already go around obstacles: a shortest path on an occupancy grid
//! (obstacles inflated by the robot radius), timed with the smooth rest-to-rest profile and
//! fitted by least squares with the boundary coefficients held fixed. Without this, sequential
//! convex programming started from straight lines stays on the wrong side of a wall.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use flowopt_core::{Bernstein, Problem, Robot, Vec2, dist};
use nalgebra::{DMatrix, DVector};

use super::layout::Layout;

/// Grid cell size in metres.
const CELL: f64 = 0.1;
/// Extra clearance asked of the path (dropped when no path keeps it).
const PATH_CLEARANCE: f64 = 0.15;

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
    if problem.obstacles.is_empty() {
        return x;
    }
    let profile = time_profile(basis, &layout.times, problem.horizon);
    for (i, robot) in problem.robots.iter().enumerate() {
        let blocked = problem.obstacles.iter().any(|o| {
            segment_distance(o.center, robot.start, robot.goal)
                < o.radius + robot.radius + PATH_CLEARANCE
        });
        if !blocked {
            continue;
        }
        let path = [PATH_CLEARANCE, 0.0]
            .iter()
            .find_map(|&clearance| grid_path(problem, robot, clearance));
        let Some(path) = path else { continue };
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

fn segment_distance(p: Vec2, a: Vec2, b: Vec2) -> f64 {
    let ab = [b[0] - a[0], b[1] - a[1]];
    let len2 = ab[0] * ab[0] + ab[1] * ab[1];
    let u = if len2 > 0.0 {
        (((p[0] - a[0]) * ab[0] + (p[1] - a[1]) * ab[1]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    dist(p, [a[0] + u * ab[0], a[1] + u * ab[1]])
}

#[derive(PartialEq)]
struct Entry(f64, usize);
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on cost.
        other.0.total_cmp(&self.0)
    }
}

/// Shortest 8-connected grid path from start to goal avoiding obstacles inflated by the
/// robot's radius plus `clearance`, shortened by line-of-sight smoothing; `None` if none.
fn grid_path(problem: &Problem, robot: &Robot, clearance: f64) -> Option<Vec<Vec2>> {
    let ws = problem.workspace;
    let size = ws.size();
    let (w, h) = (
        (size[0] / CELL).ceil() as usize,
        (size[1] / CELL).ceil() as usize,
    );
    let centre = |c: usize| {
        [
            ws.min[0] + ((c % w) as f64 + 0.5) * CELL,
            ws.min[1] + ((c / w) as f64 + 0.5) * CELL,
        ]
    };
    let cell_of = |p: Vec2| {
        let cx = (((p[0] - ws.min[0]) / CELL) as usize).min(w - 1);
        let cy = (((p[1] - ws.min[1]) / CELL) as usize).min(h - 1);
        cy * w + cx
    };
    let free_at = |p: Vec2| {
        ws.contains_disc(p, robot.radius, 0.0)
            && problem
                .obstacles
                .iter()
                .all(|o| dist(p, o.center) >= o.radius + robot.radius + clearance)
    };
    let mut free: Vec<bool> = (0..w * h).map(|c| free_at(centre(c))).collect();
    let (s, g) = (cell_of(robot.start), cell_of(robot.goal));
    free[s] = true;
    free[g] = true;
    let mut cost = vec![f64::INFINITY; w * h];
    let mut prev = vec![usize::MAX; w * h];
    let mut heap = BinaryHeap::new();
    cost[s] = 0.0;
    heap.push(Entry(0.0, s));
    while let Some(Entry(c0, u)) = heap.pop() {
        if u == g {
            break;
        }
        if c0 > cost[u] {
            continue;
        }
        let (ux, uy) = ((u % w) as isize, (u / w) as isize);
        for (dx, dy) in [
            (-1, 0),
            (1, 0),
            (0, -1),
            (0, 1),
            (-1, -1),
            (-1, 1),
            (1, -1),
            (1, 1),
        ] {
            let (vx, vy) = (ux + dx, uy + dy);
            if vx < 0 || vy < 0 || vx >= w as isize || vy >= h as isize {
                continue;
            }
            let v = vy as usize * w + vx as usize;
            if !free[v] {
                continue;
            }
            let step = if dx != 0 && dy != 0 {
                std::f64::consts::SQRT_2
            } else {
                1.0
            };
            let c = c0 + step;
            if c < cost[v] {
                cost[v] = c;
                prev[v] = u;
                heap.push(Entry(c, v));
            }
        }
    }
    if !cost[g].is_finite() {
        return None;
    }
    let mut cells = vec![g];
    while let Some(&last) = cells.last() {
        if last == s {
            break;
        }
        cells.push(prev[last]);
    }
    cells.reverse();
    let mut raw: Vec<Vec2> = cells.iter().map(|&c| centre(c)).collect();
    raw[0] = robot.start;
    let last = raw.len() - 1;
    raw[last] = robot.goal;
    // Line-of-sight shortcutting.
    let visible = |a: Vec2, b: Vec2| {
        let steps = (dist(a, b) / (CELL * 0.5)).ceil() as usize;
        (0..=steps).all(|k| {
            let u = k as f64 / steps.max(1) as f64;
            let p = [a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1])];
            free[cell_of(p)]
        })
    };
    let mut path = vec![raw[0]];
    let mut i = 0;
    while i < last {
        let mut j = last;
        while j > i + 1 && !visible(raw[i], raw[j]) {
            j -= 1;
        }
        path.push(raw[j]);
        i = j;
    }
    Some(path)
}
