//! A continuous-time certificate of polynomial plans: the worst violation of every constraint
//! over the whole interval [0, T], not only at samples (DESIGN.md section 2), and where and
//! when it is worst.
//!
//! Each constraint becomes a polynomial in Bernstein form whose minimum over [0, 1] must stay
//! above a bound: squared pair distances |p_i - p_j|^2 (degree 2n for order n), squared
//! distances to obstacle centres, each axis's distance to the workspace walls (degree n), and
//! the negated squared speed and acceleration (degrees 2(n - 1) and 2(n - 2)). A Bernstein
//! polynomial lies within the hull of its coefficients, so their minimum bounds the
//! polynomial's from below, and the end coefficients are its values at the ends. Branch and
//! bound ([`minimum`]) splits (de Casteljau) only the parts whose bound is not yet good
//! enough: a constraint whose bound clears it is certified at once, a violated one is narrowed
//! down to its true minimum and the time it occurs.
//!
//! Work is per polynomial piece over its own interval, so a chain of pieces is certified piece
//! by piece. Not yet used by [`crate::evaluate`] (issue 34): this module is the certificate
//! alone, tested against dense evaluation.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, InputError};
use crate::problem::Problem;
use crate::trajectory::Coefficients;

/// Which constraint a violation belongs to (robots and obstacles by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// Robots `0` and `1` closer than r_i + r_j + margin.
    Pair(usize, usize),
    /// Robot `robot` overlapping obstacle `obstacle`.
    Obstacle {
        /// The robot.
        robot: usize,
        /// The obstacle.
        obstacle: usize,
    },
    /// Robot's disc outside the workspace.
    Workspace(usize),
    /// Robot faster than `max_speed`.
    Speed(usize),
    /// Robot accelerating harder than `max_accel`.
    Accel(usize),
}

/// The worst violation of one constraint over [0, T].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The constraint.
    pub constraint: Constraint,
    /// By how much it is violated (metres, m/s or m/s^2): never less than the truth, and
    /// equal to it to within 1e-12 in squared units where the search finished.
    pub amount: f64,
    /// When, in seconds.
    pub time: f64,
}

/// The certificate of a plan: the worst violation over [0, T] of every constraint, or none.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Certificate {
    /// Every violated constraint with its worst violation, largest first.
    pub violations: Vec<Violation>,
}

impl Certificate {
    /// The largest violation (0 when none).
    pub fn max_violation(&self) -> f64 {
        self.violations.first().map_or(0.0, |v| v.amount)
    }

    /// Whether no constraint is violated by more than `tolerance`.
    pub fn holds(&self, tolerance: f64) -> bool {
        self.max_violation() <= tolerance
    }
}

/// How finely a violated constraint's worst value is located: its squared measure to within
/// this (m^2, (m/s)^2, ...), a violation to well within a micrometre.
const PRECISION: f64 = 1e-12;

/// Most subdivisions per constraint; beyond them the bound found so far is reported (still a
/// valid bound, only less tight).
const MAX_SPLITS: usize = 10_000;

/// Certifies the polynomial plan `coefficients` (one pair per robot, Bernstein coefficients
/// over tau = t / T) of `problem`: every violation of the pair separations (r_i + r_j +
/// margin), obstacle clearances (r_i + R), workspace walls and speed and acceleration limits
/// anywhere in [0, T]. A constraint is reported when its violation exceeds `tolerance / 100`
/// (so that a reported worst value is meaningful next to the feasibility tolerance).
pub fn certify(
    problem: &Problem,
    coefficients: &[Coefficients],
    tolerance: f64,
) -> Result<Certificate, InputError> {
    if coefficients.len() != problem.robots.len() {
        return Err(InputError::new(
            ErrorKind::Shape,
            "trajectories",
            format!(
                "{} trajectories for {} robots",
                coefficients.len(),
                problem.robots.len()
            ),
        ));
    }
    for (i, c) in coefficients.iter().enumerate() {
        if c.x.len() != c.y.len() || c.x.len() < 3 {
            return Err(InputError::new(
                ErrorKind::Shape,
                format!("trajectories[{i}].coefficients"),
                "x and y need the same number (at least 3) of coefficients",
            ));
        }
    }
    let report = tolerance.max(0.0) / 100.0;
    // Every amount comes from the lower bound of its minimum: exact to the search's precision
    // where it finished, and never smaller than the truth where it stopped early
    // ([`MAX_SPLITS`]), so a violation is never under-reported.
    let horizon = problem.horizon;
    let mut violations = Vec::new();
    let mut record = |constraint: Constraint, amount: f64, tau: f64| {
        if amount > report {
            violations.push(Violation {
                constraint,
                amount,
                time: tau * horizon,
            });
        }
    };
    // Pairs: min |p_i - p_j|^2 >= d^2.
    for i in 0..coefficients.len() {
        for j in i + 1..coefficients.len() {
            let d = problem.robots[i].radius + problem.robots[j].radius + problem.margin;
            let dx = difference(&coefficients[i].x, &coefficients[j].x);
            let dy = difference(&coefficients[i].y, &coefficients[j].y);
            // Far apart all along: the difference's control points (a hull holding the
            // curve) keep out of the disc of radius d around the origin.
            if box_distance_sq(&dx, &dy) >= d * d {
                continue;
            }
            let f = squared_norm(&dx, &dy);
            let m = minimum(&f, d * d - report.max(1e-12) * d, PRECISION);
            record(Constraint::Pair(i, j), d - m.lower.max(0.0).sqrt(), m.at);
        }
    }
    for (i, (c, robot)) in coefficients.iter().zip(&problem.robots).enumerate() {
        // Obstacles: min |p_i - o|^2 >= (r + R)^2.
        for (k, obstacle) in problem.obstacles.iter().enumerate() {
            let d = robot.radius + obstacle.radius;
            let dx: Vec<f64> = c.x.iter().map(|v| v - obstacle.center[0]).collect();
            let dy: Vec<f64> = c.y.iter().map(|v| v - obstacle.center[1]).collect();
            if box_distance_sq(&dx, &dy) >= d * d {
                continue;
            }
            let f = squared_norm(&dx, &dy);
            let m = minimum(&f, d * d - report.max(1e-12) * d, PRECISION);
            let constraint = Constraint::Obstacle {
                robot: i,
                obstacle: k,
            };
            record(constraint, d - m.lower.max(0.0).sqrt(), m.at);
        }
        // Workspace: each wall's distance minus the radius stays >= 0.
        let (lo, hi) = (problem.workspace.min, problem.workspace.max);
        for (axis, values) in [&c.x, &c.y].into_iter().enumerate() {
            let above: Vec<f64> = values.iter().map(|v| v - lo[axis] - robot.radius).collect();
            let below: Vec<f64> = values.iter().map(|v| hi[axis] - v - robot.radius).collect();
            for wall in [above, below] {
                let m = minimum(&wall, 0.0, PRECISION.sqrt());
                record(Constraint::Workspace(i), -m.lower, m.at);
            }
        }
        // Speed and acceleration: max |v|^2 <= v_max^2 (derivatives in time, 1 / T per order).
        let limits = [
            (1usize, problem.limits.max_speed, Constraint::Speed(i)),
            (2, problem.limits.max_accel, Constraint::Accel(i)),
        ];
        for (order, limit, constraint) in limits {
            let scale = horizon.powi(order as i32).recip();
            let vx: Vec<f64> = derivative(&c.x, order).iter().map(|v| v * scale).collect();
            let vy: Vec<f64> = derivative(&c.y, order).iter().map(|v| v * scale).collect();
            // Slow all along: the farthest corner of the control points' box is within the limit.
            if box_reach_sq(&vx, &vy) <= limit * limit {
                continue;
            }
            let negated: Vec<f64> = squared_norm(&vx, &vy).iter().map(|v| -v).collect();
            let m = minimum(&negated, -limit * limit - report * limit, PRECISION);
            record(constraint, (-m.lower).max(0.0).sqrt() - limit, m.at);
        }
    }
    violations.sort_by(|a, b| b.amount.total_cmp(&a.amount));
    Ok(Certificate { violations })
}

/// The squared distance from the origin to the bounding box of the control points (x_k, y_k):
/// a lower bound of the curve's squared distance from the origin (the curve stays in their
/// hull, which the box holds).
fn box_distance_sq(x: &[f64], y: &[f64]) -> f64 {
    let gap = |c: &[f64]| {
        let (lo, hi) = c
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        lo.max(-hi).max(0.0)
    };
    gap(x).powi(2) + gap(y).powi(2)
}

/// The squared distance from the origin to the farthest corner of the control points' box: an
/// upper bound of the curve's squared norm.
fn box_reach_sq(x: &[f64], y: &[f64]) -> f64 {
    let reach = |c: &[f64]| c.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    reach(x).powi(2) + reach(y).powi(2)
}

/// `a - b`, coefficient-wise.
fn difference(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a - b).collect()
}

/// The Bernstein coefficients of x^2 + y^2 (degree 2n) from those of x and y (degree n).
fn squared_norm(x: &[f64], y: &[f64]) -> Vec<f64> {
    let xx = product(x, x);
    let yy = product(y, y);
    xx.iter().zip(&yy).map(|(a, b)| a + b).collect()
}

/// Binomial coefficient C(n, k) as a float (exact for the small orders used here).
fn binomial(n: usize, k: usize) -> f64 {
    (0..k.min(n - k)).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// The Bernstein coefficients of p q (degree m + n) from those of p (m) and q (n):
/// r_k = sum over i + j = k of C(m, i) C(n, j) / C(m + n, k) p_i q_j.
fn product(p: &[f64], q: &[f64]) -> Vec<f64> {
    let (m, n) = (p.len() - 1, q.len() - 1);
    let mut r = vec![0.0; m + n + 1];
    for (i, pi) in p.iter().enumerate() {
        for (j, qj) in q.iter().enumerate() {
            r[i + j] += binomial(m, i) * binomial(n, j) * pi * qj;
        }
    }
    for (k, rk) in r.iter_mut().enumerate() {
        *rk /= binomial(m + n, k);
    }
    r
}

/// The Bernstein coefficients (over tau) of the `order`-th derivative: each derivative of a
/// degree-n polynomial is n times the differences of its coefficients.
fn derivative(c: &[f64], order: usize) -> Vec<f64> {
    let mut d = c.to_vec();
    for _ in 0..order {
        let n = (d.len() - 1) as f64;
        d = d.windows(2).map(|w| n * (w[1] - w[0])).collect();
    }
    d
}

/// The polynomial's coefficients over [0, s] and over [s, 1] (de Casteljau).
fn split(c: &[f64], s: f64) -> (Vec<f64>, Vec<f64>) {
    let n = c.len();
    let mut work = c.to_vec();
    let mut left = Vec::with_capacity(n);
    let mut right = vec![0.0; n];
    for level in 0..n {
        left.push(work[0]);
        right[n - 1 - level] = work[n - 1 - level];
        for k in 0..n - 1 - level {
            work[k] = (1.0 - s) * work[k] + s * work[k + 1];
        }
    }
    (left, right)
}

/// What [`minimum`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    /// A lower bound of the minimum over [0, 1].
    pub lower: f64,
    /// A value the polynomial takes (so an upper bound of its minimum).
    pub upper: f64,
    /// Where it takes `upper`.
    pub at: f64,
}

/// The minimum over [0, 1] of the polynomial with Bernstein coefficients `c`, by branch and
/// bound: stops as soon as every part is proven at or above `floor` (the constraint holds:
/// `lower >= floor`), else once the minimum is known to within `precision`
/// (`upper - lower <= precision`), or after [`MAX_SPLITS`] splits.
pub(crate) fn minimum(c: &[f64], floor: f64, precision: f64) -> Bound {
    let hull_min = |c: &[f64]| c.iter().copied().fold(f64::INFINITY, f64::min);
    let last = c.len() - 1;
    let (mut upper, mut at) = if c[0] <= c[last] {
        (c[0], 0.0)
    } else {
        (c[last], 1.0)
    };
    // Open parts: (lower bound, start, width, coefficients), the lowest bound taken first.
    let mut open = vec![(hull_min(c), 0.0, 1.0, c.to_vec())];
    // The least bound of the parts set aside as unable to beat `upper` by `precision`.
    let mut pruned = f64::INFINITY;
    let mut splits = 0;
    loop {
        let lowest = (0..open.len()).min_by(|&a, &b| open[a].0.total_cmp(&open[b].0));
        let open_min = lowest.map_or(f64::INFINITY, |i| open[i].0);
        // The minimum is at most `upper` (a value taken) and at least every part's bound.
        let lower = open_min.min(pruned).min(upper);
        let Some(lowest) = lowest else {
            return Bound { lower, upper, at };
        };
        if lower >= floor || upper - lower <= precision || splits == MAX_SPLITS {
            return Bound { lower, upper, at };
        }
        splits += 1;
        let (_, start, width, coefficients) = open.swap_remove(lowest);
        let (left, right) = split(&coefficients, 0.5);
        // The split point's value is the halves' shared end coefficient.
        let middle = left[left.len() - 1];
        if middle < upper {
            upper = middle;
            at = start + 0.5 * width;
        }
        let half = 0.5 * width;
        for (part, from) in [(left, start), (right, start + half)] {
            let bound = hull_min(&part);
            if bound < upper - precision {
                open.push((bound, from, half, part));
            } else {
                pruned = pruned.min(bound);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::problem::{Limits, Robot, Workspace};

    /// The value at tau of the polynomial with Bernstein coefficients `c` (de Casteljau).
    fn value(c: &[f64], tau: f64) -> f64 {
        let mut work = c.to_vec();
        for level in 1..c.len() {
            for k in 0..c.len() - level {
                work[k] = (1.0 - tau) * work[k] + tau * work[k + 1];
            }
        }
        work[0]
    }

    /// The polynomial's value at many points, and the smallest, refined around the best.
    fn dense_minimum(c: &[f64]) -> (f64, f64) {
        let n = 20_000;
        let mut best = (f64::INFINITY, 0.0);
        for k in 0..=n {
            let tau = k as f64 / n as f64;
            let v = value(c, tau);
            if v < best.0 {
                best = (v, tau);
            }
        }
        // Golden-section refinement around the best sample.
        let (mut a, mut b) = (
            (best.1 - 1.0 / n as f64).max(0.0),
            (best.1 + 1.0 / n as f64).min(1.0),
        );
        for _ in 0..100 {
            let m1 = a + (b - a) * 0.382;
            let m2 = a + (b - a) * 0.618;
            if value(c, m1) < value(c, m2) {
                b = m2;
            } else {
                a = m1;
            }
        }
        let refined = value(c, 0.5 * (a + b));
        if refined < best.0 {
            (refined, 0.5 * (a + b))
        } else {
            best
        }
    }

    #[test]
    fn products_derivatives_and_splits_agree_with_evaluation() {
        let p = [0.3, -1.0, 2.0, 0.5];
        let q = [1.0, 0.2, -0.7];
        let r = product(&p, &q);
        let d = derivative(&p, 1);
        let (left, right) = split(&p, 0.3);
        for k in 0..=10 {
            let t = k as f64 / 10.0;
            assert!((value(&r, t) - value(&p, t) * value(&q, t)).abs() < 1e-12);
            let h = 1e-6;
            let numeric = (value(&p, t + h) - value(&p, t - h)) / (2.0 * h);
            assert!((value(&d, t) - numeric).abs() < 1e-5, "{t}");
            assert!((value(&left, t) - value(&p, 0.3 * t)).abs() < 1e-12);
            assert!((value(&right, t) - value(&p, 0.3 + 0.7 * t)).abs() < 1e-12);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Random squared distances of two order-10 trajectories near contact: the bound never
        /// exceeds the dense minimum (one-sided: nothing violated is ever certified), and the
        /// minimum it locates agrees with the refined dense one to 1e-6.
        #[test]
        fn the_minimum_bounds_and_matches_dense_evaluation(
            a in proptest::collection::vec(-1.0f64..1.0, 22),
            b in proptest::collection::vec(-1.0f64..1.0, 22),
            shift in -0.5f64..0.5,
        ) {
            let dx: Vec<f64> = a[..11].iter().zip(&b[..11]).map(|(p, q)| 0.5 * (p - q) + shift).collect();
            let dy: Vec<f64> = a[11..].iter().zip(&b[11..]).map(|(p, q)| 0.5 * (p - q)).collect();
            let f = squared_norm(&dx, &dy);
            let (dense, _) = dense_minimum(&f);
            let found = minimum(&f, f64::INFINITY, PRECISION);
            prop_assert!(found.lower <= dense + 1e-12, "{found:?} vs {dense}");
            // The same minimum: squared distances within 1e-9 m^2 (a distance of 0.1 m to
            // within 5e-9 m; the issue asks for 1e-6).
            prop_assert!((found.upper - dense).abs() < 1e-9, "{found:?} vs {dense}");
            // With a floor, a constraint is certified only when it truly holds.
            let floor = dense + 0.01;
            let certified = minimum(&f, floor, PRECISION);
            prop_assert!(certified.lower < floor, "certified {certified:?} above {dense}");
        }
    }

    fn two_robots(horizon: f64) -> Problem {
        Problem {
            workspace: Workspace {
                min: [-5.0, -5.0],
                max: [5.0, 5.0],
            },
            robots: vec![
                Robot::new([-3.0, 0.0], [3.0, 0.0], 0.2),
                Robot::new([0.0, -3.0], [0.0, 3.0], 0.2),
            ],
            obstacles: Vec::new(),
            horizon,
            limits: Limits {
                max_speed: 10.0,
                max_accel: 20.0,
            },
            samples: 50,
            margin: 0.0,
        }
    }

    /// Linear motion as Bernstein coefficients of order 10 (evenly spaced control points).
    fn line(from: [f64; 2], to: [f64; 2]) -> Coefficients {
        let at = |k: usize, axis: usize| from[axis] + (to[axis] - from[axis]) * k as f64 / 10.0;
        Coefficients {
            x: (0..=10).map(|k| at(k, 0)).collect(),
            y: (0..=10).map(|k| at(k, 1)).collect(),
        }
    }

    /// Two robots crossing at right angles, one a little late: their closest approach falls
    /// between any two of 50 samples, and the certificate finds it and when.
    #[test]
    fn a_closest_approach_between_samples_is_found_with_its_time() {
        let problem = two_robots(8.0);
        // Robot 0 passes the origin at t = 4 s; robot 1 at t = 4.05 s: at speed 0.75 m/s each,
        // their distance is smallest near t = 4.025 s.
        let a = line([-3.0, 0.0], [3.0, 0.0]);
        let b = line([0.0, -3.0 - 0.0375], [0.0, 3.0 - 0.0375]);
        let certificate = certify(&problem, &[a.clone(), b.clone()], 1e-3).unwrap();
        let worst = certificate.violations[0];
        assert_eq!(worst.constraint, Constraint::Pair(0, 1));
        // Closest distance of two points moving at right angles at 0.75 m/s with an offset of
        // 0.0375 m along one track: 0.0375 / sqrt(2).
        let closest = 0.0375 / 2f64.sqrt();
        assert!((worst.amount - (0.4 - closest)).abs() < 1e-6, "{worst:?}");
        assert!((worst.time - 4.025).abs() < 1e-3, "{worst:?}");
        assert!(!certificate.holds(1e-3));
        // Far apart in time: certified, nothing reported.
        let late = line([0.0, -3.0 - 1.5], [0.0, 3.0 - 1.5]);
        let apart = certify(&problem, &[a, late], 1e-3).unwrap();
        assert!(apart.holds(1e-3), "{apart:?}");
    }

    #[test]
    fn speed_workspace_and_obstacle_violations_are_located() {
        let mut problem = two_robots(2.0);
        problem.limits.max_speed = 2.0;
        problem.obstacles.push(crate::problem::Obstacle {
            center: [1.0, 0.3],
            radius: 0.2,
        });
        // Robot 0 at 3 m/s (6 m in 2 s) passes 0.3 m from the obstacle's centre (0.4 needed);
        // robot 1 pokes out of the workspace at the top.
        let a = line([-3.0, 0.0], [3.0, 0.0]);
        let b = line([4.5, -1.0], [4.9, 1.0]);
        let certificate = certify(&problem, &[a, b], 1e-3).unwrap();
        let of = |c: Constraint| {
            certificate
                .violations
                .iter()
                .find(|v| v.constraint == c)
                .copied()
                .unwrap_or_else(|| panic!("{c:?} not reported: {certificate:?}"))
        };
        assert!((of(Constraint::Speed(0)).amount - 1.0).abs() < 1e-6);
        let obstacle = of(Constraint::Obstacle {
            robot: 0,
            obstacle: 0,
        });
        assert!((obstacle.amount - 0.1).abs() < 1e-6, "{obstacle:?}");
        // Closest to (1, 0.3) at x = 1: tau = 4/6, t = 4/3 s.
        assert!((obstacle.time - 4.0 / 3.0).abs() < 1e-3, "{obstacle:?}");
        let wall = of(Constraint::Workspace(1));
        assert!((wall.amount - 0.1).abs() < 1e-6, "{wall:?}");
        assert!(certificate.max_violation() >= 1.0);
    }

    /// Whatever the sampled checker finds violated, the certificate finds at least as violated
    /// (the samples are instants of [0, T]).
    #[test]
    fn the_certificate_sees_at_least_what_the_samples_see() {
        use crate::{CheckConfig, Planner, Scenario, ScenarioConfig, StraightPlanner, evaluate};
        for (scenario, robots, seed) in [
            (Scenario::Circle, 6, 0),
            (Scenario::Obstacles, 8, 3),
            (Scenario::Warehouse, 8, 1),
        ] {
            let problem = scenario
                .generate(&ScenarioConfig::new(robots).seed(seed))
                .unwrap();
            let straight = StraightPlanner::default();
            let coefficients = straight.coefficients(&problem);
            let plan = straight
                .plan(&problem, &crate::PlanOptions::default())
                .unwrap();
            let sampled = evaluate(&problem, &plan.trajectories, &CheckConfig::default()).unwrap();
            let certificate = certify(&problem, &coefficients, 1e-3).unwrap();
            let worst = |pick: fn(&Constraint) -> bool| {
                certificate
                    .violations
                    .iter()
                    .filter(|v| pick(&v.constraint))
                    .map(|v| v.amount)
                    .fold(0.0, f64::max)
            };
            let r = sampled.residuals;
            let pairs = worst(|c| matches!(c, Constraint::Pair(..)));
            let obstacles = worst(|c| matches!(c, Constraint::Obstacle { .. }));
            assert!(
                pairs >= r.separation - 1e-9,
                "{scenario}: {pairs} < {}",
                r.separation
            );
            assert!(
                obstacles >= r.obstacles - 1e-9,
                "{scenario}: {obstacles} < {}",
                r.obstacles
            );
            assert!(certificate.max_violation() >= sampled.max_violation - 1e-9);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The boxes bound the curve: never closer to the origin than `box_distance_sq`,
        /// never farther than `box_reach_sq`.
        #[test]
        fn the_control_point_boxes_bound_the_curve(
            x in proptest::collection::vec(-2.0f64..2.0, 11),
            y in proptest::collection::vec(-2.0f64..2.0, 11),
        ) {
            let (near, far) = (box_distance_sq(&x, &y), box_reach_sq(&x, &y));
            for k in 0..=200 {
                let tau = k as f64 / 200.0;
                let r = value(&x, tau).powi(2) + value(&y, tau).powi(2);
                prop_assert!(near <= r + 1e-12 && r <= far + 1e-12, "{near} {r} {far}");
            }
        }
    }

    #[test]
    fn mismatched_trajectories_are_errors() {
        let problem = two_robots(8.0);
        let err = certify(&problem, &[line([0.0, 0.0], [1.0, 1.0])], 1e-3).unwrap_err();
        assert_eq!(err.field, "trajectories");
    }
}
