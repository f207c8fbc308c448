//! The constant matrices of the filter's c-step, computed once per shape and cached.
//!
//! Per axis, the constraint map G stacks, for every sample: pair differences of positions
//! (each pair once), positions (once per obstacle and once for the workspace box), velocities
//! scaled by 1/n and accelerations scaled by 1/(n(n-1)) (so every row is in metres of coefficient
//! differences and nothing depends on the horizon). Its Gram matrix has a closed form,
//!
//!   G'G = L (x) P'P + (O + 1) I (x) P'P + I (x) (Pv'Pv + Pa'Pa),
//!
//! with L the Laplacian of the complete graph on the N robots (N I - 1 1'), so G itself is never
//! formed. The c-step minimizes 1/2|c - cbar|^2 + mu/2 c'(I (x) H)c + rho/2 |Gc - s + u|^2
//! subject to the boundary rows A c = b (also horizon-free after scaling), with H the exact
//! Gram matrix of the scaled acceleration over tau in [0, 1] and mu the smoothness weight
//! (0 by default), whose KKT solution is c = K11 q + K12 b with q = cbar + rho G'(s - u).
//! The robots enter all of these alike, so every matrix splits into its action on the robots'
//! mean and on deviations from it, and the inverses take two (K + 6)-sized inversions whatever
//! N (`RobotBlocks`), not one of size N (K + 6).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use flowopt_core::{BOUNDARY_ROWS, Bernstein};
use nalgebra::DMatrix;

/// What the cached matrices depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KktKey {
    /// Robots.
    pub robots: usize,
    /// Obstacles.
    pub obstacles: usize,
    /// Samples per trajectory.
    pub samples: usize,
    /// Bernstein order.
    pub order: usize,
    /// rho, as raw bits.
    pub rho_bits: u64,
    /// The smoothness weight mu, as raw bits.
    pub smoothing_bits: u64,
}

/// Host copies (row-major f32) of the matrices a solve needs.
#[derive(Debug)]
pub struct Kkt {
    /// K11, (N K) x (N K), symmetric, as its robot blocks.
    pub k11: RobotBlocks,
    /// K12, (N K) x (6 N), dense (applied once per batch).
    pub k12: Vec<f32>,
    /// G'G per axis, (N K) x (N K), symmetric, as its robot blocks.
    pub gtg: RobotBlocks,
    /// (G'G + 1e-9 I)^-1 per axis, as its robot blocks: maps coefficient-space multipliers to
    /// constraint space.
    pub gtg_inv: RobotBlocks,
    /// Position samples P, M x K.
    pub p: Vec<f32>,
    /// Scaled velocity samples Pv = Pdot_tau / n, M x K.
    pub pv: Vec<f32>,
    /// Scaled acceleration samples Pa = Pddot_tau / (n (n-1)), M x K.
    pub pa: Vec<f32>,
}

/// The matrices for `key`, from the process-wide cache.
pub fn kkt(key: KktKey) -> Arc<Kkt> {
    static CACHE: OnceLock<Mutex<HashMap<KktKey, Arc<Kkt>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // A poisoned lock only means another thread panicked mid-insert; the map is still usable.
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(key)
        .or_insert_with(|| {
            let _span = tracing::debug_span!("kkt", robots = key.robots, obstacles = key.obstacles)
                .entered();
            Arc::new(compute(key))
        })
        .clone()
}

/// Sampling rows of the basis at `samples` uniform taus: position, scaled velocity and scaled
/// acceleration (horizon 1).
pub fn scaled_samples(basis: &Bernstein, samples: usize) -> [DMatrix<f64>; 3] {
    let n = basis.order() as f64;
    let taus = flowopt_core::uniform_times(1.0, samples);
    let s = basis.sample_matrices(&taus, 1.0);
    [s.p, s.pdot / n, s.pddot / (n * (n - 1.0))]
}

/// The boundary rows of one axis (6 x K), scaled like [`scaled_samples`].
pub fn boundary_rows(basis: &Bernstein) -> DMatrix<f64> {
    let n = basis.order() as f64;
    let mut a = basis.boundary_matrix(1.0);
    for (row, scale) in [(1, n), (2, n * (n - 1.0)), (4, n), (5, n * (n - 1.0))] {
        let scaled = a.row(row) / scale;
        a.set_row(row, &scaled);
    }
    a
}

fn compute(key: KktKey) -> Kkt {
    let basis = Bernstein::new(key.order).expect("the filter validates its Bernstein order");
    let k = basis.num_coefficients();
    let n = key.robots;
    let [p, pv, pa] = scaled_samples(&basis, key.samples);
    let ptp = p.transpose() * &p;
    let own = &ptp * (key.obstacles as f64 + 1.0) + pv.transpose() * &pv + pa.transpose() * &pa;
    // G'G = I (x) (N P'P + own) - 1 1' (x) P'P: on the robots' mean it acts as `own`, on
    // deviations from the mean as N P'P + own (see `RobotBlocks`).
    let gtg_dev = &ptp * n as f64 + &own;
    let gtg_mean = own;
    // Positive definite whenever the samples determine the polynomial (M >= K): the box rows
    // alone give (O+1) I (x) P'P. Otherwise the pseudo-inverse still gives the least-norm map.
    let inverse = |m: &DMatrix<f64>| {
        (m + DMatrix::identity(k, k) * 1e-9)
            .try_inverse()
            .or_else(|| m.clone().pseudo_inverse(1e-12).ok())
            .unwrap_or_else(|| DMatrix::zeros(k, k))
    };
    let gtg_inv = RobotBlocks::new(n, &inverse(&gtg_dev), &inverse(&gtg_mean));
    // Q = I + mu I (x) H + rho G'G has the same form, and so has the inverse of the KKT matrix
    // [Q, I (x) A'; I (x) A, 0]: two (K + 6) x (K + 6) inverses instead of one of
    // N (K + 6) x N (K + 6).
    let rho = f64::from_bits(key.rho_bits);
    let mu = f64::from_bits(key.smoothing_bits);
    // The acceleration rows' scale: x''(tau) / (n (n - 1)).
    let scale = (key.order * (key.order - 1)) as f64;
    let h = basis.acceleration_gram(1.0) * (mu / (scale * scale));
    let a = boundary_rows(&basis);
    let c_step = |gram: &DMatrix<f64>| -> (DMatrix<f64>, DMatrix<f64>) {
        let q = DMatrix::identity(k, k) + gram * rho + &h;
        let mut m = DMatrix::zeros(k + BOUNDARY_ROWS, k + BOUNDARY_ROWS);
        m.view_mut((0, 0), (k, k)).copy_from(&q);
        m.view_mut((k, 0), (BOUNDARY_ROWS, k)).copy_from(&a);
        m.view_mut((0, k), (k, BOUNDARY_ROWS))
            .copy_from(&a.transpose());
        // Q is positive definite (H is semi-definite) and A has full row rank (order >= 5),
        // so this is invertible whatever the problem: a failure here is a bug, not bad input.
        let inv = m
            .try_inverse()
            .expect("the filter's KKT matrix is invertible by construction");
        (
            inv.view((0, 0), (k, k)).into_owned(),
            inv.view((0, k), (k, BOUNDARY_ROWS)).into_owned(),
        )
    };
    let (k11_dev, k12_dev) = c_step(&gtg_dev);
    let (k11_mean, k12_mean) = c_step(&gtg_mean);
    Kkt {
        k11: RobotBlocks::new(n, &k11_dev, &k11_mean),
        k12: row_major(RobotBlocks::new(n, &k12_dev, &k12_mean).dense(n)),
        gtg: RobotBlocks::new(n, &gtg_dev, &gtg_mean),
        gtg_inv,
        p: row_major(p),
        pv: row_major(pv),
        pa: row_major(pa),
    }
}

fn row_major(m: DMatrix<f64>) -> Vec<f32> {
    m.transpose().iter().map(|&v| v as f32).collect()
}

/// The (N r) x (N c) matrix I (x) dev + (1 1' / N) (x) (mean - dev): the one that acts as `mean`
/// on the robots' mean and as `dev` on deviations from it (in an orthonormal robot basis whose
/// first vector is 1/sqrt(N), it is block-diagonal: mean, dev, ..., dev). Every matrix of the
/// c-step treats the robots alike and couples them only through the pair rows' Laplacian
/// N I - 1 1', so each is of this form, and so are their products and inverses, which are then
/// taken blockwise. Kept as its two r x c blocks, `dev` and `off` = (mean - dev) / N: the
/// matrix is I (x) dev + 1 1' (x) off, and the solver applies it as one matmul per robot with
/// `dev` and one with `off` on the robots' sum (N times fewer flops than the dense matrix).
#[derive(Debug, Clone)]
pub struct RobotBlocks {
    /// Rows r of a block.
    pub rows: usize,
    /// Columns c of a block.
    pub cols: usize,
    /// dev, row-major.
    pub dev: Vec<f32>,
    /// off = (mean - dev) / N, row-major.
    pub off: Vec<f32>,
}

impl RobotBlocks {
    fn new(n: usize, dev: &DMatrix<f64>, mean: &DMatrix<f64>) -> Self {
        let (rows, cols) = dev.shape();
        Self {
            rows,
            cols,
            dev: row_major(dev.clone()),
            off: row_major((mean - dev) / n as f64),
        }
    }

    /// The dense (N r) x (N c) matrix over `n` robots.
    pub fn dense(&self, n: usize) -> DMatrix<f64> {
        let (r, c) = (self.rows, self.cols);
        let block = |v: &[f32]| DMatrix::from_row_iterator(r, c, v.iter().map(|&x| f64::from(x)));
        let (dev, off) = (block(&self.dev), block(&self.off));
        let diag = &dev + &off;
        let mut out = DMatrix::zeros(n * r, n * c);
        for i in 0..n {
            for j in 0..n {
                out.view_mut((i * r, j * c), (r, c))
                    .copy_from(if i == j { &diag } else { &off });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closed-form G'G equals the Gram matrix of an explicitly built G.
    #[test]
    fn gram_matches_explicit_constraint_matrix() {
        let key = KktKey {
            robots: 3,
            obstacles: 2,
            samples: 7,
            order: 10,
            rho_bits: 1.0f64.to_bits(),
            smoothing_bits: 0.0f64.to_bits(),
        };
        let basis = Bernstein::default();
        let [p, pv, pa] = scaled_samples(&basis, key.samples);
        let (n, k, m) = (3, 11, 7);
        let mut blocks: Vec<DMatrix<f64>> = Vec::new();
        let place = |i: usize, rows: &DMatrix<f64>, sign: f64| {
            let mut g = DMatrix::zeros(rows.nrows(), n * k);
            g.view_mut((0, i * k), (rows.nrows(), k))
                .copy_from(&(rows * sign));
            g
        };
        for i in 0..n {
            for j in (i + 1)..n {
                blocks.push(place(i, &p, 1.0) + place(j, &p, -1.0));
            }
        }
        for i in 0..n {
            for _ in 0..key.obstacles + 1 {
                blocks.push(place(i, &p, 1.0));
            }
            blocks.push(place(i, &pv, 1.0));
            blocks.push(place(i, &pa, 1.0));
        }
        let total_rows: usize = blocks.iter().map(|b| b.nrows()).sum();
        let mut g = DMatrix::zeros(total_rows, n * k);
        let mut r = 0;
        for b in &blocks {
            g.view_mut((r, 0), (b.nrows(), n * k)).copy_from(b);
            r += b.nrows();
        }
        assert_eq!(r, m * (3 + n * (key.obstacles + 3)));
        let explicit = g.transpose() * &g;
        let cached = kkt(key);
        for (a, b) in explicit.iter().zip(cached.gtg.dense(n).iter()) {
            assert!((a - b).abs() < 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }

    /// c = K11 q + K12 b (built blockwise, see `RobotBlocks`) meets the boundary rows and
    /// is optimal: the gradient of 1/2 c'Qc - q'c, Q = I + mu I (x) H + rho G'G, lies in the
    /// span of A'; and the cached (G'G)^-1 inverts G'G. Robot counts, obstacles, samples, rho
    /// and the smoothness weight mu all vary.
    #[test]
    fn c_step_matrices_meet_the_optimality_conditions() {
        let k = 11;
        for (n, obstacles, samples, rho, mu) in [
            (2, 1, 20, 1.0, 300.0),
            (5, 3, 50, 1.0, 0.0),
            (7, 0, 30, 0.3, 30.0),
            (1, 2, 100, 2.0, 0.0),
        ] {
            let key = KktKey {
                robots: n,
                obstacles,
                samples,
                order: 10,
                rho_bits: f64::to_bits(rho),
                smoothing_bits: f64::to_bits(mu),
            };
            let mats = kkt(key);
            let nk = n * k;
            let rows = BOUNDARY_ROWS * n;
            let m = |v: &[f32], r: usize, c: usize| {
                DMatrix::from_row_iterator(r, c, v.iter().map(|&x| f64::from(x)))
            };
            let (k11, k12, gtg, gtg_inv) = (
                mats.k11.dense(n),
                m(&mats.k12, nk, rows),
                mats.gtg.dense(n),
                mats.gtg_inv.dense(n),
            );
            let basis = Bernstein::default();
            let h = basis.acceleration_gram(1.0) / (90.0f64 * 90.0);
            let mut q_mat = DMatrix::identity(nk, nk) + &gtg * rho;
            let mut a = DMatrix::zeros(rows, nk);
            let a_axis = boundary_rows(&basis);
            for i in 0..n {
                let mut block = q_mat.view_mut((i * k, i * k), (k, k));
                block += &h * mu;
                a.view_mut((i * BOUNDARY_ROWS, i * k), (BOUNDARY_ROWS, k))
                    .copy_from(&a_axis);
            }
            // Three right-hand sides at once (columns).
            let q = DMatrix::from_fn(nk, 3, |r, j| (((r + j) * 7 % 5) as f64 - 2.0) * 0.3);
            let b = DMatrix::from_fn(rows, 3, |r, j| ((r + 2 * j) % 3) as f64 * 0.5);
            let c = &k11 * &q + &k12 * &b;
            let case = format!("N {n}, O {obstacles}, M {samples}, rho {rho}, mu {mu}");
            assert!((&a * &c - &b).amax() < 1e-3, "boundary rows ({case})");
            let grad = &q_mat * &c - &q;
            let at = a.transpose();
            let in_span = &at * (&a * &at).try_inverse().unwrap() * &a * &grad;
            // K11 and K12 are stored as f32: the tolerance is relative to |Q| |c|.
            let scale = q_mat.amax() * c.amax();
            let off = (grad - in_span).amax();
            assert!(
                off < 1e-5 * scale,
                "stationarity ({case}): {off} vs {scale}"
            );
            let identity = (&gtg_inv * &gtg - DMatrix::identity(nk, nk)).amax();
            assert!(
                identity < 1e-3,
                "(G'G)^-1 G'G = I ({case}): off by {identity}"
            );
        }
    }
}
