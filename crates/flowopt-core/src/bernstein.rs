//! Bernstein-polynomial trajectories.
//!
//! One axis of one robot's trajectory is x(t) = sum_k c_k B_k^n(t / T) with the Bernstein basis
//! B_k^n(tau) = C(n,k) tau^k (1 - tau)^(n-k), order n (default 10, so 11 coefficients). This module
//! evaluates the basis and its derivatives (with the 1/T and 1/T^2 time scaling), builds the
//! sampling matrices P, Pdot, Pddot (M x (n+1)), the boundary equality system A c = b, and the
//! exact smoothness quadratic form.

use std::sync::{Arc, Mutex, OnceLock};

use nalgebra::{DMatrix, DVector};

use crate::error::{ErrorKind, InputError};
use crate::problem::{Robot, uniform_times};

/// Highest supported order.
const MAX_ORDER: usize = 30;

/// The horizon-free operators of one order, built once per process: the smoothness Gram
/// matrix at T = 1 and the map from (time-scaled) boundary conditions to the smoothest
/// trajectory's coefficients.
struct UnitOperators {
    /// Acceleration Gram matrix at T = 1, (n+1) x (n+1).
    gram: DMatrix<f64>,
    /// (n+1) x 6: coefficients of the smoothest trajectory at T = 1 per boundary condition.
    smoothest: DMatrix<f64>,
}

static UNIT: [OnceLock<UnitOperators>; MAX_ORDER + 1] = [const { OnceLock::new() }; MAX_ORDER + 1];

/// Sampling matrices at uniform times most recently asked for, keyed by (order, samples,
/// horizon bits); a checker samples the same problem's grids at every call.
type SampledKey = (usize, usize, u64);
static SAMPLED: Mutex<Vec<(SampledKey, Arc<SampleMatrices>)>> = Mutex::new(Vec::new());
/// Entries [`SAMPLED`] keeps.
const SAMPLED_CAPACITY: usize = 32;
/// Largest grid [`SAMPLED`] keeps (the dense check of the default limit's 1000 samples), so
/// the cache stays within about 35 MB; larger grids are built every time.
const SAMPLED_MAX_ROWS: usize = 4001;

/// Default polynomial order (11 coefficients per axis).
pub const DEFAULT_ORDER: usize = 10;
/// Number of boundary equalities per axis: start position, velocity, acceleration; goal
/// position, zero goal velocity, zero goal acceleration.
pub const BOUNDARY_ROWS: usize = 6;

/// The Bernstein basis of a fixed order.
#[derive(Debug, Clone, PartialEq)]
pub struct Bernstein {
    order: usize,
}

/// Sampling matrices of a basis at M times: row m holds the basis (or its time derivative)
/// at t_m, so positions are `p * c`, velocities `pdot * c`, accelerations `pddot * c`.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleMatrices {
    /// Positions: M x (n+1).
    pub p: DMatrix<f64>,
    /// Velocities (d/dt, includes 1/T): M x (n+1).
    pub pdot: DMatrix<f64>,
    /// Accelerations (d^2/dt^2, includes 1/T^2): M x (n+1).
    pub pddot: DMatrix<f64>,
}

impl Default for Bernstein {
    fn default() -> Self {
        Self {
            order: DEFAULT_ORDER,
        }
    }
}

impl Bernstein {
    /// The basis of order `order`. The six boundary conditions need at least order 5; orders
    /// above 30 lose precision in f64 and are refused.
    pub fn new(order: usize) -> Result<Self, InputError> {
        if !(5..=MAX_ORDER).contains(&order) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "order",
                format!("Bernstein order must be in 5..=30, got {order}"),
            ));
        }
        Ok(Self { order })
    }

    /// The basis matching a coefficient vector of length `len` (order `len - 1`).
    pub fn for_coefficients(len: usize) -> Result<Self, InputError> {
        Self::new(len.saturating_sub(1))
    }

    /// Polynomial order n.
    pub fn order(&self) -> usize {
        self.order
    }

    /// Number of coefficients per axis, n + 1.
    pub fn num_coefficients(&self) -> usize {
        self.order + 1
    }

    /// The n+1 basis values at `tau` in [0, 1].
    pub fn basis(&self, tau: f64) -> Vec<f64> {
        basis_of_order(self.order, tau)
    }

    /// d/dtau of the basis at `tau` (no time scaling).
    pub fn basis_d1(&self, tau: f64) -> Vec<f64> {
        let n = self.order;
        let lower = basis_of_order(n - 1, tau);
        (0..=n)
            .map(|k| {
                let left = if k >= 1 { lower[k - 1] } else { 0.0 };
                let right = if k < n { lower[k] } else { 0.0 };
                n as f64 * (left - right)
            })
            .collect()
    }

    /// d^2/dtau^2 of the basis at `tau` (no time scaling).
    pub fn basis_d2(&self, tau: f64) -> Vec<f64> {
        let n = self.order;
        let lower = basis_of_order(n - 2, tau);
        let at = |k: isize| {
            if k >= 0 && (k as usize) <= n - 2 {
                lower[k as usize]
            } else {
                0.0
            }
        };
        (0..=n as isize)
            .map(|k| (n * (n - 1)) as f64 * (at(k - 2) - 2.0 * at(k - 1) + at(k)))
            .collect()
    }

    /// Position, velocity and acceleration of one axis at time `t` of a trajectory with horizon
    /// `horizon`.
    pub fn eval(&self, coefficients: &[f64], t: f64, horizon: f64) -> [f64; 3] {
        let tau = (t / horizon).clamp(0.0, 1.0);
        let dot = |b: Vec<f64>| b.iter().zip(coefficients).map(|(b, c)| b * c).sum::<f64>();
        [
            dot(self.basis(tau)),
            dot(self.basis_d1(tau)) / horizon,
            dot(self.basis_d2(tau)) / (horizon * horizon),
        ]
    }

    /// Sampling matrices at the given times (seconds) for horizon T.
    pub fn sample_matrices(&self, times: &[f64], horizon: f64) -> SampleMatrices {
        let (m, k) = (times.len(), self.num_coefficients());
        let mut p = DMatrix::zeros(m, k);
        let mut pdot = DMatrix::zeros(m, k);
        let mut pddot = DMatrix::zeros(m, k);
        let n = self.order;
        let nf = n as f64;
        for (row, &t) in times.iter().enumerate() {
            let tau = (t / horizon).clamp(0.0, 1.0);
            // The bases of orders n - 2, n - 1 and n from one recurrence; the derivatives are
            // differences of the lower orders (as in `basis_d1`, `basis_d2`).
            let [b2, b1, b0] = bases_up_to(n, tau);
            let at = |b: &[f64], k: isize| {
                usize::try_from(k)
                    .ok()
                    .and_then(|k| b.get(k))
                    .copied()
                    .unwrap_or(0.0)
            };
            for col in 0..k {
                let c = col as isize;
                p[(row, col)] = b0[col];
                pdot[(row, col)] = nf * (at(&b1, c - 1) - at(&b1, c)) / horizon;
                pddot[(row, col)] =
                    nf * (nf - 1.0) * (at(&b2, c - 2) - 2.0 * at(&b2, c - 1) + at(&b2, c))
                        / (horizon * horizon);
            }
        }
        SampleMatrices { p, pdot, pddot }
    }

    /// [`sample_matrices`](Self::sample_matrices) at `m` uniform times over [0, `horizon`]
    /// ([`uniform_times`]), from a small cache shared by all threads (the same numbers: the
    /// cache stores what `sample_matrices` returned; grids over 4001 times are not kept).
    pub fn uniform_sample_matrices(&self, m: usize, horizon: f64) -> Arc<SampleMatrices> {
        if m > SAMPLED_MAX_ROWS {
            return Arc::new(self.sample_matrices(&uniform_times(horizon, m), horizon));
        }
        let key = (self.order, m, horizon.to_bits());
        // A poisoned lock only means another thread panicked while holding it; the entries
        // are complete values, so they are still good.
        let lookup = |cache: &Vec<(SampledKey, Arc<SampleMatrices>)>| {
            cache
                .iter()
                .rev()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        };
        if let Some(hit) = lookup(&SAMPLED.lock().unwrap_or_else(|e| e.into_inner())) {
            return hit;
        }
        let built = Arc::new(self.sample_matrices(&uniform_times(horizon, m), horizon));
        let mut cache = SAMPLED.lock().unwrap_or_else(|e| e.into_inner());
        if lookup(&cache).is_none() {
            if cache.len() >= SAMPLED_CAPACITY {
                cache.remove(0);
            }
            cache.push((key, built.clone()));
        }
        built
    }

    /// The boundary matrix A (6 x (n+1)) of one axis: rows are position, velocity and
    /// acceleration at t = 0, then at t = T.
    pub fn boundary_matrix(&self, horizon: f64) -> DMatrix<f64> {
        let ends = self.sample_matrices(&[0.0, horizon], horizon);
        let mut a = DMatrix::zeros(BOUNDARY_ROWS, self.num_coefficients());
        for (end, offset) in [(0, 0), (1, 3)] {
            a.set_row(offset, &ends.p.row(end));
            a.set_row(offset + 1, &ends.pdot.row(end));
            a.set_row(offset + 2, &ends.pddot.row(end));
        }
        a
    }

    /// The right-hand side b of A c = b for `robot` on `axis` (0 = x, 1 = y): start position,
    /// velocity, acceleration; goal position; zero goal velocity and acceleration.
    pub fn boundary_rhs(robot: &Robot, axis: usize) -> [f64; BOUNDARY_ROWS] {
        [
            robot.start[axis],
            robot.start_velocity[axis],
            robot.start_acceleration[axis],
            robot.goal[axis],
            0.0,
            0.0,
        ]
    }

    /// The quadratic form H of the smoothness cost: the integral over [0, T] of x''(t)^2 equals
    /// c^T H c, exactly (products of Bernstein polynomials integrate in closed form).
    pub fn acceleration_gram(&self, horizon: f64) -> DMatrix<f64> {
        // dt = T dtau and d^2/dt^2 = T^-2 d^2/dtau^2, so the integral scales by T^-3.
        &self.unit().gram / horizon.powi(3)
    }

    /// The operators of this order at T = 1, built on first use.
    fn unit(&self) -> &'static UnitOperators {
        UNIT[self.order].get_or_init(|| {
            let gram = self.unit_gram();
            let mut smoothest = DMatrix::zeros(self.num_coefficients(), BOUNDARY_ROWS);
            for r in 0..BOUNDARY_ROWS {
                let mut b = [0.0; BOUNDARY_ROWS];
                b[r] = 1.0;
                smoothest.set_column(r, &DVector::from_vec(self.solve_smoothest(1.0, &b)));
            }
            UnitOperators { gram, smoothest }
        })
    }

    /// The acceleration Gram matrix at T = 1.
    fn unit_gram(&self) -> DMatrix<f64> {
        let n = self.order;
        let m = n - 2; // order of the second derivative
        // D maps the n+1 coefficients to the m+1 coefficients of d^2/dtau^2.
        let mut d = DMatrix::zeros(m + 1, n + 1);
        let scale = (n * (n - 1)) as f64;
        for r in 0..=m {
            d[(r, r)] = scale;
            d[(r, r + 1)] = -2.0 * scale;
            d[(r, r + 2)] = scale;
        }
        // Gram matrix of the order-m basis: int_0^1 B_a B_b = C(m,a) C(m,b) / ((2m+1) C(2m,a+b)).
        let g = DMatrix::from_fn(m + 1, m + 1, |a, b| {
            binomial(m, a) * binomial(m, b) / ((2 * m + 1) as f64 * binomial(2 * m, a + b))
        });
        d.transpose() * g * d
    }

    /// The coefficients of the smoothest trajectory (least integral of squared acceleration)
    /// meeting the boundary conditions `b` on one axis. With zero start velocity and
    /// acceleration all axes share one time profile, so the path is the straight line.
    ///
    /// The smoothest trajectory over [0, T] is the smoothest over [0, 1] in tau = t / T (the
    /// integral only scales by T^-3) with the boundary derivatives in tau: velocities times T,
    /// accelerations times T^2. So it is one cached (n+1) x 6 operator of the order applied
    /// to those.
    pub fn smoothest(&self, horizon: f64, b: &[f64; BOUNDARY_ROWS]) -> Vec<f64> {
        let (t, t2) = (horizon, horizon * horizon);
        let scaled = DVector::from_vec(vec![b[0], b[1] * t, b[2] * t2, b[3], b[4] * t, b[5] * t2]);
        (&self.unit().smoothest * scaled).iter().copied().collect()
    }

    /// [`smoothest`](Self::smoothest) by solving its KKT system at `horizon`.
    fn solve_smoothest(&self, horizon: f64, b: &[f64; BOUNDARY_ROWS]) -> Vec<f64> {
        let k = self.num_coefficients();
        let h = self.unit_gram() / horizon.powi(3);
        let a = self.boundary_matrix(horizon);
        // KKT system [2H A^T; A 0] [c; mu] = [0; b]. H is singular only on lines, which A's
        // position rows pin down, so the system is non-singular.
        let size = k + BOUNDARY_ROWS;
        let mut kkt = DMatrix::zeros(size, size);
        kkt.view_mut((0, 0), (k, k)).copy_from(&(h * 2.0));
        kkt.view_mut((k, 0), (BOUNDARY_ROWS, k)).copy_from(&a);
        kkt.view_mut((0, k), (k, BOUNDARY_ROWS))
            .copy_from(&a.transpose());
        let mut rhs = DVector::zeros(size);
        for (r, v) in b.iter().enumerate() {
            rhs[k + r] = *v;
        }
        let solution = kkt.lu().solve(&rhs).unwrap_or_else(|| {
            unreachable!("the KKT system of a Bernstein basis of order >= 5 is non-singular")
        });
        solution.rows(0, k).iter().copied().collect()
    }
}

/// The basis of order `n` at `tau`, by the de Casteljau-style recurrence (stable for any n).
fn basis_of_order(n: usize, tau: f64) -> Vec<f64> {
    let mut b = vec![0.0; n + 1];
    b[0] = 1.0;
    for j in 1..=n {
        raise(&mut b, j, tau);
    }
    b
}

/// Raises the basis held in `b[..j]` (order j - 1) to order j in place, from the top down.
fn raise(b: &mut [f64], j: usize, tau: f64) {
    let s = 1.0 - tau;
    b[j] = tau * b[j - 1];
    for k in (1..j).rev() {
        b[k] = s * b[k] + tau * b[k - 1];
    }
    b[0] *= s;
}

/// The bases of orders n - 2, n - 1 and n at `tau` (n >= 2), by one pass of the recurrence
/// of [`basis_of_order`].
fn bases_up_to(n: usize, tau: f64) -> [Vec<f64>; 3] {
    let mut b = vec![0.0; n + 1];
    b[0] = 1.0;
    let mut lower = [Vec::new(), Vec::new()];
    for j in 1..=n {
        // Before raising to order j, b[..j] holds order j - 1: keep orders n - 2 and n - 1.
        if j + 2 > n {
            lower[j + 1 - n] = b[..j].to_vec();
        }
        raise(&mut b, j, tau);
    }
    let [second, first] = lower;
    [second, first, b]
}

/// Binomial coefficient C(n, k) as f64.
fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: f64 = 4.0;

    fn coeffs() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(-5.0f64..5.0, DEFAULT_ORDER + 1)
    }

    proptest! {
        /// The sampling matrices (one recurrence per row) agree with the basis and its
        /// derivatives evaluated one by one, and `Trajectory::from_coefficients` with `eval`.
        #[test]
        fn sample_matrices_agree_with_the_basis_and_its_derivatives(
            tau in 0.0f64..=1.0, order in 5usize..=20, horizon in 0.5f64..30.0,
            c in prop::collection::vec(-5.0f64..5.0, 21),
        ) {
            let b = Bernstein::new(order).unwrap();
            let t = tau * horizon;
            let m = b.sample_matrices(&[t], horizon);
            let rows = [
                b.basis(tau),
                b.basis_d1(tau).iter().map(|v| v / horizon).collect(),
                b.basis_d2(tau).iter().map(|v| v / (horizon * horizon)).collect::<Vec<_>>(),
            ];
            for (matrix, row) in [&m.p, &m.pdot, &m.pddot].iter().zip(&rows) {
                for (k, v) in row.iter().enumerate() {
                    let scale = 1.0 + v.abs();
                    prop_assert!((matrix[(0, k)] - v).abs() < 1e-12 * scale, "{} vs {v}", matrix[(0, k)]);
                }
            }
            let c = crate::trajectory::Coefficients { x: c[..=order].to_vec(), y: c[20 - order..].to_vec() };
            let tr = crate::trajectory::Trajectory::from_coefficients(c.clone(), &[t], horizon).unwrap();
            prop_assert!((tr.samples[0][1] - b.eval(&c.x, t, horizon)[0]).abs() < 1e-12);
            prop_assert!((tr.samples[0][2] - b.eval(&c.y, t, horizon)[0]).abs() < 1e-12);
        }

        #[test]
        fn partition_of_unity(tau in 0.0f64..=1.0, order in 5usize..=20) {
            let b = Bernstein::new(order).unwrap();
            let sum: f64 = b.basis(tau).iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-12);
            prop_assert!(b.basis(tau).iter().all(|&v| v >= 0.0));
            // Derivatives of a constant vanish.
            prop_assert!(b.basis_d1(tau).iter().sum::<f64>().abs() < 1e-9);
            prop_assert!(b.basis_d2(tau).iter().sum::<f64>().abs() < 1e-7);
        }

        #[test]
        fn derivatives_match_finite_differences(c in coeffs(), t in 0.05f64..(T - 0.05)) {
            let b = Bernstein::default();
            let h = 1e-5;
            let [x0, v0, a0] = b.eval(&c, t, T);
            let [xp, vp, _] = b.eval(&c, t + h, T);
            let [xm, vm, _] = b.eval(&c, t - h, T);
            prop_assert!(((xp - xm) / (2.0 * h) - v0).abs() < 1e-5 * (1.0 + v0.abs()));
            prop_assert!(((vp - vm) / (2.0 * h) - a0).abs() < 1e-4 * (1.0 + a0.abs()));
            prop_assert!(((xp - 2.0 * x0 + xm) / (h * h) - a0).abs() < 1e-2 * (1.0 + a0.abs()));
        }

        #[test]
        fn endpoint_values_are_end_coefficients(c in coeffs()) {
            let b = Bernstein::default();
            let n = DEFAULT_ORDER as f64;
            let [x0, v0, a0] = b.eval(&c, 0.0, T);
            let [x1, v1, a1] = b.eval(&c, T, T);
            prop_assert!((x0 - c[0]).abs() < 1e-12);
            prop_assert!((x1 - c[10]).abs() < 1e-12);
            prop_assert!((v0 - n * (c[1] - c[0]) / T).abs() < 1e-9);
            prop_assert!((v1 - n * (c[10] - c[9]) / T).abs() < 1e-9);
            prop_assert!((a0 - n * (n - 1.0) * (c[2] - 2.0 * c[1] + c[0]) / (T * T)).abs() < 1e-8);
            prop_assert!((a1 - n * (n - 1.0) * (c[10] - 2.0 * c[9] + c[8]) / (T * T)).abs() < 1e-8);
        }

        #[test]
        fn smoothest_solution_satisfies_boundary_system(
            start in -5.0f64..5.0, goal in -5.0f64..5.0, v0 in -2.0f64..2.0, a0 in -2.0f64..2.0,
            horizon in 1.0f64..20.0,
        ) {
            let b = Bernstein::default();
            let rhs = [start, v0, a0, goal, 0.0, 0.0];
            let c = b.smoothest(horizon, &rhs);
            let ac = b.boundary_matrix(horizon) * DVector::from_vec(c.clone());
            for r in 0..BOUNDARY_ROWS {
                prop_assert!((ac[r] - rhs[r]).abs() < 1e-8, "row {r}: {} vs {}", ac[r], rhs[r]);
            }
            let [x, v, a] = b.eval(&c, horizon, horizon);
            prop_assert!((x - goal).abs() < 1e-8 && v.abs() < 1e-8 && a.abs() < 1e-7);
        }

        #[test]
        fn gram_matches_quadrature(c in coeffs()) {
            let b = Bernstein::default();
            let exact = {
                let v = DVector::from_vec(c.clone());
                (v.transpose() * b.acceleration_gram(T) * &v)[0]
            };
            // Composite Simpson with many panels on a degree-16 integrand.
            let panels = 4000;
            let h = T / panels as f64;
            let f = |t: f64| b.eval(&c, t, T)[2].powi(2);
            let mut s = f(0.0) + f(T);
            for i in 1..panels {
                s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
            }
            let simpson = s * h / 3.0;
            prop_assert!((exact - simpson).abs() < 1e-6 * (1.0 + exact.abs()));
        }
    }

    #[test]
    fn sample_matrices_agree_with_eval() {
        let b = Bernstein::default();
        let c: Vec<f64> = (0..11).map(|k| (k as f64 * 0.7).sin()).collect();
        let times = [0.0, 0.3, 1.7, T];
        let s = b.sample_matrices(&times, T);
        let cv = DVector::from_vec(c.clone());
        let (x, v, a) = (&s.p * &cv, &s.pdot * &cv, &s.pddot * &cv);
        for (m, &t) in times.iter().enumerate() {
            let e = b.eval(&c, t, T);
            assert!((x[m] - e[0]).abs() < 1e-12);
            assert!((v[m] - e[1]).abs() < 1e-12);
            assert!((a[m] - e[2]).abs() < 1e-12);
        }
    }

    #[test]
    fn the_cached_operators_give_what_solving_at_the_horizon_gives() {
        for order in [5, 10, 17] {
            let b = Bernstein::new(order).unwrap();
            for horizon in [0.5, 8.0, 21.3] {
                let rhs = [0.3, -0.7, 0.2, 4.1, 0.05, -0.01];
                let cached = b.smoothest(horizon, &rhs);
                let solved = b.solve_smoothest(horizon, &rhs);
                let scale = solved.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                for (c, s) in cached.iter().zip(&solved) {
                    assert!((c - s).abs() < 1e-9 * scale, "order {order}, T {horizon}");
                }
                let direct = b.unit_gram() / horizon.powi(3);
                assert!((b.acceleration_gram(horizon) - &direct).amax() < 1e-12 * direct.amax());
                let m = 37;
                let uniform = b.uniform_sample_matrices(m, horizon);
                assert_eq!(
                    *uniform,
                    b.sample_matrices(&uniform_times(horizon, m), horizon)
                );
                // A second ask is the same entry.
                assert!(Arc::ptr_eq(
                    &uniform,
                    &b.uniform_sample_matrices(m, horizon)
                ));
            }
        }
    }

    #[test]
    fn smoothest_rest_to_rest_is_straight_and_symmetric() {
        let b = Bernstein::default();
        let c = b.smoothest(T, &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        // Monotone from 0 to 1, passes 1/2 at the middle by symmetry.
        let mid = b.eval(&c, T / 2.0, T)[0];
        assert!((mid - 0.5).abs() < 1e-10);
        for k in 0..c.len() {
            assert!((c[k] + c[c.len() - 1 - k] - 1.0).abs() < 1e-10);
        }
    }

    #[test]
    fn orders_out_of_range_are_refused() {
        assert_eq!(Bernstein::new(4).unwrap_err().field, "order");
        assert!(Bernstein::new(31).is_err());
        assert_eq!(Bernstein::for_coefficients(11).unwrap().order(), 10);
    }

    #[test]
    fn binomials() {
        assert_eq!(binomial(10, 0), 1.0);
        assert_eq!(binomial(10, 3), 120.0);
        assert_eq!(binomial(20, 10), 184756.0);
    }
}
