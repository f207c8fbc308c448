//! The augmented-Lagrangian alternating minimization, batched as Burn tensors.
//!
//! With the constraints written as G c = s, s in S, and u the scaled multipliers of G c = s
//! (one per constraint row; the coefficient-space multiplier of DESIGN.md section 3 is
//! lambda = -rho G'u), every iteration, for all instances at once:
//! 1. c-step: c = K11 (cbar + rho G'(s - u)) + K12 b = K11 (cbar + lambda + rho G's) + K12 b
//!    (one matmul with the cached K11);
//! 2. s-step: s = Proj_S(z) in closed form: pair differences and positions relative to obstacles
//!    pushed onto the outside of their discs, positions clamped into the box, velocities and
//!    accelerations scaled into their discs. No trigonometry;
//! 3. u <- u + gamma (G c - s) (lambda <- lambda - gamma rho G'(G c - s)); gamma is
//!    `FilterSettings::dual_step`, 1 by default.
//!
//! Two modes differ only in z:
//! - fast (default, DESIGN.md): z = G c. The iteration reaches a feasible point quickly, but
//!   multipliers of constraints that were violated on the way and are inactive at the end never
//!   decay, so that point is feasible without being the nearest one (the Clarabel reference test
//!   measures the gap).
//! - exact (`FilterSettings::exact_projection`): z = G c + u, i.e. ADMM with scaled multipliers,
//!   the discs' outsides replaced by their tangent half-planes at the current G c. Its fixed
//!   points are projections of cbar onto the constraints (equal to Clarabel's answer to the
//!   constraints linearized there), at the price of more iterations on crowded problems.
//!
//! A learned lambda_0 enters as its least-norm preimage u_0 = -G (G'G)^-1 lambda_0 / rho.
//!
//! G is never formed: G'r is assembled from per-family row tensors by a broadcast matmul of the
//! pair rows with the robot-pair incidence matrix (15x faster than a scatter on flex) and three
//! small matmuls (P', Pv', Pa'), and G'G c comes from the cached closed-form G'G. In the fast
//! mode on the CPU, the disc rows and their image on the positions come from fused loops
//! instead (`discs.rs`). The residual of an instance is its largest primal residual
//! |G c - s| over the rows (metres of coefficient differences), an upper bound on the distance
//! of G c from S.

use burn::prelude::*;

use crate::batch::Batch;
use crate::discs::{self, EPS};

/// Row tensor (B, ...) flattened to (B, rest).
fn per_instance(t: Tensor<4>) -> Tensor<2> {
    let [b, ..] = t.dims();
    let numel: usize = t.dims().iter().product();
    t.reshape([b, numel / b])
}

/// Squared norms of the 2-vector rows of `t` (B, 2, ...) over dim 1: x^2 + y^2, as (B, 1, ...).
/// Two views and a multiply-add: 2x faster on flex than `square().sum_dim(1)`.
fn norm_sq<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let x = t.clone().narrow(1, 0, 1);
    let y = t.narrow(1, 1, 1);
    x.clone() * x + y.clone() * y
}

/// One tensor per constraint family, shaped like that family's rows: the scaled multipliers u,
/// or the primal residuals G c - s.
#[derive(Clone)]
pub struct Rows {
    /// Workspace box, per position coordinate: (B, 2, N, M).
    pub boxed: Tensor<4>,
    /// Pair differences, each pair once: (B, 2, P, M); `None` for one robot.
    pub pairs: Option<Tensor<4>>,
    /// Positions relative to each obstacle: (B, 2, N, O, M); `None` without obstacles.
    pub obstacles: Option<Tensor<5>>,
    /// Scaled velocities: (B, 2, N, M).
    pub speed: Tensor<4>,
    /// Scaled accelerations: (B, 2, N, M).
    pub accel: Tensor<4>,
}

impl Rows {
    /// The rows of the instances at `idx`.
    fn select(self, idx: &Tensor<1, Int>) -> Self {
        Self {
            boxed: self.boxed.select(0, idx.clone()),
            pairs: self.pairs.map(|t| t.select(0, idx.clone())),
            obstacles: self.obstacles.map(|t| t.select(0, idx.clone())),
            speed: self.speed.select(0, idx.clone()),
            accel: self.accel.select(0, idx.clone()),
        }
    }

    /// The rows of several blocks of instances, one after the other.
    fn cat(parts: Vec<Self>) -> Self {
        fn join<const D: usize>(parts: Vec<Tensor<D>>) -> Tensor<D> {
            Tensor::cat(parts, 0)
        }
        fn join_some<const D: usize>(parts: Vec<Option<Tensor<D>>>) -> Option<Tensor<D>> {
            parts.into_iter().collect::<Option<Vec<_>>>().map(join)
        }
        let mut boxed = Vec::with_capacity(parts.len());
        let mut pairs = Vec::with_capacity(parts.len());
        let mut obstacles = Vec::with_capacity(parts.len());
        let mut speed = Vec::with_capacity(parts.len());
        let mut accel = Vec::with_capacity(parts.len());
        for r in parts {
            boxed.push(r.boxed);
            pairs.push(r.pairs);
            obstacles.push(r.obstacles);
            speed.push(r.speed);
            accel.push(r.accel);
        }
        Self {
            boxed: join(boxed),
            pairs: join_some(pairs),
            obstacles: join_some(obstacles),
            speed: join(speed),
            accel: join(accel),
        }
    }
}

/// The multipliers: per constraint row in exact mode; in fast mode the s-step never reads them
/// row by row, so only their image G'u (coefficient space, -lambda/rho) is kept.
#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per solver state, moved once per iteration: boxing buys nothing"
)]
pub enum Duals {
    /// u per constraint row (exact mode).
    Rows(Rows),
    /// G'u: (B, 2, N K) (fast mode).
    Image(Tensor<3>),
}

/// Sampled positions, scaled velocities and scaled accelerations of coefficients `c`, each
/// (B, 2, N, M).
fn kinematics(batch: &Batch, c: Tensor<3>) -> [Tensor<4>; 3] {
    let (b, n, k, m) = (batch.size, batch.robots, batch.k, batch.samples);
    let rows = c.reshape([b * 2 * n, k]);
    [&batch.pt, &batch.pvt, &batch.pat]
        .map(|basis| rows.clone().matmul(basis.clone()).reshape([b, 2, n, m]))
}

/// G c, family by family.
pub(crate) fn apply_g(batch: &Batch, c: Tensor<3>) -> Rows {
    let [x, v, a] = kinematics(batch, c);
    // Pair differences in `pair_order`: one slice difference per offset s = j - i.
    let pairs = (batch.robots > 1).then(|| discs::pair_differences(&x));
    let obstacles = batch
        .obstacle_centre
        .as_ref()
        .map(|centre| x.clone().unsqueeze_dim::<5>(3) - centre.clone());
    Rows {
        boxed: x,
        pairs,
        obstacles,
        speed: v,
        accel: a,
    }
}

/// G'w for row tensors `w`: (B, 2, N K).
pub(crate) fn apply_gt(batch: &Batch, w: Rows) -> Tensor<3> {
    let (b, n, m) = (batch.size, batch.robots, batch.samples);
    let mut pos = w.boxed;
    if let Some(pairs) = w.pairs {
        // Each pair row onto its two robots: (1, 1, N, P) x (B, 2, P, M).
        pos = pos + batch.incidence.clone().matmul(pairs);
    }
    if let Some(obstacles) = w.obstacles {
        pos = pos + obstacles.sum_dim(3).reshape([b, 2, n, m]);
    }
    kinematics_t(batch, pos, w.speed, w.accel)
}

/// The transpose of [`kinematics`]: coefficients (B, 2, N K) from weights on the sampled
/// positions, velocities and accelerations (each (B, 2, N, M)).
fn kinematics_t(batch: &Batch, pos: Tensor<4>, vel: Tensor<4>, acc: Tensor<4>) -> Tensor<3> {
    let (b, n, k, m) = (batch.size, batch.robots, batch.k, batch.samples);
    (pos.reshape([b * 2 * n, m]).matmul(batch.p.clone())
        + vel.reshape([b * 2 * n, m]).matmul(batch.pv.clone())
        + acc.reshape([b * 2 * n, m]).matmul(batch.pa.clone()))
    .reshape([b, 2, n * k])
}

/// Multipliers u with -rho G'u = lambda: in exact mode the least-norm preimage
/// u = -G (G'G)^-1 lambda / rho, in fast mode just the image G'u = -lambda / rho.
pub fn duals_from_lambda(batch: &Batch, lambda: Tensor<3>, rho: f32) -> Duals {
    let Some(gtg_inv) = &batch.gtg_inv else {
        return Duals::Image(lambda * (-1.0 / rho));
    };
    let w = gtg_inv.times(lambda) * (-1.0 / rho);
    let mut u = apply_g(batch, w);
    // apply_g subtracts the obstacle centres (the sets are centred there); G itself is linear.
    if let (Some(rows), Some(centre)) = (u.obstacles.take(), &batch.obstacle_centre) {
        u.obstacles = Some(rows + centre.clone());
    }
    Duals::Rows(u)
}

/// The coefficient-space multipliers lambda = -rho G'u.
pub fn lambda_of(batch: &Batch, u: Duals, rho: f32) -> Tensor<3> {
    match u {
        Duals::Rows(rows) => apply_gt(batch, rows) * (-rho),
        Duals::Image(gtu) => gtu * (-rho),
    }
}

/// The s-step and multiplier update for coefficients `c` and multipliers `u`.
pub struct Projection {
    /// G'(s - u_new), the c-step's constraint term: (B, 2, N K).
    pub target: Tensor<3>,
    /// Updated multipliers u + gamma (G c - s).
    pub u: Duals,
    /// Primal residuals G c - s, row by row.
    pub r: Rows,
}

/// s = Proj_S(z) with z = G c + u (exact mode) or z = G c (fast mode), r = G c - s,
/// u' = u + gamma r, and G'(s - u') = G'G c - G'(r + u').
pub fn project(batch: &Batch, c: Tensor<3>, u: &Duals) -> Projection {
    project_keeping(batch, c, u, true)
}

/// [`project`]; with `keep_rows` false, the fast mode leaves the pair and obstacle rows out of
/// `r` (they are the bulk of the rows, and only the residual checks read them).
fn project_keeping(batch: &Batch, c: Tensor<3>, u: &Duals, keep_rows: bool) -> Projection {
    match u {
        Duals::Rows(rows) => project_exact(batch, c, rows),
        Duals::Image(gtu) => project_fast(batch, c, gtu.clone(), keep_rows),
    }
}

/// The fast mode: z = G c, so every projection reduces to a shortfall along the row itself and
/// only G'u is carried: G'(s - u') = G'G c - G'r - (G'u + gamma G'r).
fn project_fast(batch: &Batch, c: Tensor<3>, gtu: Tensor<3>, keep_rows: bool) -> Projection {
    let [x, v, a] = kinematics(batch, c.clone());
    let r_box = discs::box_rows(&x, &batch.lo, &batch.hi);
    // Pairs and obstacles, outside a disc: r = g min(0, 1 - D/|g|), with their G' image on the
    // positions computed in the same pass (fused on the CPU).
    let discs = discs::disc_rows(batch, &x, keep_rows);
    let pos = match discs.image {
        Some(image) => r_box.clone() + image,
        None => r_box.clone(),
    };
    let (r_pairs, r_obstacles) = (discs.pairs, discs.obstacles);
    // Speeds and accelerations, inside a disc: r = g max(0, 1 - L/|g|).
    let r = Rows {
        boxed: r_box,
        pairs: r_pairs,
        obstacles: r_obstacles,
        speed: discs::inside_rows(v, &batch.speed),
        accel: discs::inside_rows(a, &batch.accel),
    };
    let gtr = kinematics_t(batch, pos, r.speed.clone(), r.accel.clone());
    let gtu_new = match batch.dual_step {
        1.0 => gtu + gtr.clone(),
        gamma => gtu + gtr.clone() * gamma,
    };
    let target = gtg_times(batch, c) - gtr - gtu_new.clone();
    Projection {
        target,
        u: Duals::Image(gtu_new),
        r,
    }
}

/// The exact mode: ADMM, z = G c + u with u per row.
fn project_exact(batch: &Batch, c: Tensor<3>, u: &Rows) -> Projection {
    let b = batch.size;
    let g = apply_g(batch, c.clone());
    // Box: per coordinate, s = clamp(z).
    let z = g.boxed.clone() + u.boxed.clone();
    let r_box = discs::box_residual(g.boxed, z, &batch.lo, &batch.hi);

    // Pairs and obstacles: the outside of the disc |y| >= D is non-convex, so z is projected onto
    // its tangent half-plane n'y >= D at the current row g (n = g/|g|): s = z + n (D - n'z)+,
    // r = g - s. At a fixed point the half-planes touch the discs at the solution, which is
    // then the projection onto the constraints linearized there (what the Clarabel test checks).
    let outside = |g: Tensor<4>, u: Tensor<4>, dist: Tensor<4>| -> Tensor<4> {
        let normal = g.clone() / (norm_sq(g.clone()) + EPS).sqrt();
        let z = g.clone() + u;
        let along = (z.clone() * normal.clone()).sum_dim(1);
        g - z - normal * (dist - along).clamp_min(0.0)
    };
    let r_pairs = match (g.pairs, &u.pairs) {
        (Some(d), Some(up)) => Some(outside(d, up.clone(), batch.pair_dist.clone())),
        _ => None,
    };
    let r_obstacles = match (g.obstacles, &u.obstacles, &batch.obstacle_dist) {
        (Some(e), Some(uo), Some(dist)) => {
            let [_, _, n, o, m] = e.dims();
            let r = outside(
                e.reshape([b, 2, n * o, m]),
                uo.clone().reshape([b, 2, n * o, m]),
                dist.clone().reshape([b, 1, n * o, 1]),
            );
            Some(r.reshape([b, 2, n, o, m]))
        }
        _ => None,
    };

    // Speed and acceleration discs: s = z min(1, L/|z|), so r = g - z + z (|z| - L)+ / |z|.
    let inside = |g: Tensor<4>, u: Tensor<4>, limit: Tensor<4>| -> Tensor<4> {
        let z = g.clone() + u;
        let norm = (norm_sq(z.clone()) + EPS).sqrt();
        let cut = (norm.clone() - limit).clamp_min(0.0) / norm;
        g - z.clone() + z * cut
    };
    let r = Rows {
        boxed: r_box,
        pairs: r_pairs,
        obstacles: r_obstacles,
        speed: inside(g.speed, u.speed.clone(), batch.speed.clone()),
        accel: inside(g.accel, u.accel.clone(), batch.accel.clone()),
    };
    let u_new = match batch.dual_step {
        1.0 => add_rows(u.clone(), r.clone()),
        gamma => add_rows(u.clone(), scale_rows(r.clone(), gamma)),
    };
    let gtg_c = gtg_times(batch, c);
    let target = gtg_c - apply_gt(batch, add_rows(r.clone(), u_new.clone()));
    Projection {
        target,
        u: Duals::Rows(u_new),
        r,
    }
}

fn scale_rows(r: Rows, gamma: f32) -> Rows {
    Rows {
        boxed: r.boxed * gamma,
        pairs: r.pairs.map(|t| t * gamma),
        obstacles: r.obstacles.map(|t| t * gamma),
        speed: r.speed * gamma,
        accel: r.accel * gamma,
    }
}

fn add_rows(a: Rows, b: Rows) -> Rows {
    let opt4 = |x: Option<Tensor<4>>, y: Option<Tensor<4>>| x.zip(y).map(|(x, y)| x + y);
    Rows {
        boxed: a.boxed + b.boxed,
        pairs: opt4(a.pairs, b.pairs),
        obstacles: a.obstacles.zip(b.obstacles).map(|(x, y)| x + y),
        speed: a.speed + b.speed,
        accel: a.accel + b.accel,
    }
}

/// Sum of squares of all rows per instance: (B,).
pub fn rows_sq(batch: &Batch, r: &Rows) -> Tensor<1> {
    let b = batch.size;
    let sum4 =
        |t: &Tensor<4>| -> Tensor<1> { per_instance(t.clone().square()).sum_dim(1).reshape([b]) };
    let mut total = sum4(&r.boxed) + sum4(&r.speed) + sum4(&r.accel);
    if let Some(p) = &r.pairs {
        total = total + sum4(p);
    }
    if let Some(o) = &r.obstacles {
        let [_, _, n, ob, m] = o.dims();
        total = total + sum4(&o.clone().reshape([b, 2, n * ob, m]));
    }
    total
}

/// Largest primal residual |G c - s| per instance, (B,): the largest norm of a row (a 2-vector
/// for pairs, obstacles, speed and acceleration, a coordinate for the box), in metres of
/// coefficient differences. Computed on demand (at checks), not every iteration.
pub fn residual(batch: &Batch, r: &Rows) -> Tensor<1> {
    let b = batch.size;
    let worst = |sq: Tensor<4>| per_instance(sq).max_dim(1);
    let row_sq = |t: &Tensor<4>| worst(norm_sq(t.clone()));
    let mut worst_sq = vec![
        worst(r.boxed.clone().square()),
        row_sq(&r.speed),
        row_sq(&r.accel),
    ];
    if let Some(p) = &r.pairs {
        worst_sq.push(row_sq(p));
    }
    if let Some(o) = &r.obstacles {
        let [_, _, n, ob, m] = o.dims();
        worst_sq.push(row_sq(&o.clone().reshape([b, 2, n * ob, m])));
    }
    Tensor::cat(worst_sq, 1).max_dim(1).sqrt().reshape([b])
}

/// The filter state between iterations.
#[derive(Clone)]
pub struct State {
    /// Coefficients (B, 2, N K).
    pub c: Tensor<3>,
    /// Scaled multipliers.
    pub u: Duals,
    /// Primal residuals G c - s of the last s-step (in [`run`]'s iterations without a check,
    /// the fast mode leaves out the pair and obstacle rows: nothing reads them there).
    pub r: Rows,
    /// G'(s - u) for the next c-step.
    pub target: Tensor<3>,
}

impl State {
    /// The state of the instances at `idx`.
    pub(crate) fn select(self, idx: &Tensor<1, Int>) -> Self {
        Self {
            c: self.c.select(0, idx.clone()),
            u: match self.u {
                Duals::Rows(rows) => Duals::Rows(rows.select(idx)),
                Duals::Image(image) => Duals::Image(image.select(0, idx.clone())),
            },
            r: self.r.select(idx),
            target: self.target.select(0, idx.clone()),
        }
    }

    /// The states of several blocks of instances (all in the same mode, at the same
    /// iteration), one after the other.
    pub(crate) fn cat(parts: Vec<Self>) -> Self {
        let mut c = Vec::with_capacity(parts.len());
        let mut rows_u = Vec::new();
        let mut image_u = Vec::new();
        let mut r = Vec::with_capacity(parts.len());
        let mut target = Vec::with_capacity(parts.len());
        for part in parts {
            c.push(part.c);
            match part.u {
                Duals::Rows(rows) => rows_u.push(rows),
                Duals::Image(image) => image_u.push(image),
            }
            r.push(part.r);
            target.push(part.target);
        }
        Self {
            c: Tensor::cat(c, 0),
            u: if rows_u.is_empty() {
                Duals::Image(Tensor::cat(image_u, 0))
            } else {
                assert!(image_u.is_empty(), "states of one batch share a mode");
                Duals::Rows(Rows::cat(rows_u))
            },
            r: Rows::cat(r),
            target: Tensor::cat(target, 0),
        }
    }
}

/// The starting state from coefficients `c0` and coefficient-space multipliers `lambda0`
/// (zero: the plain start).
pub fn start(batch: &Batch, c0: Tensor<3>, lambda0: Tensor<3>, rho: f32) -> State {
    let u0 = duals_from_lambda(batch, lambda0, rho);
    let proj = project(batch, c0.clone(), &u0);
    State {
        c: c0,
        u: proj.u,
        r: proj.r,
        target: proj.target,
    }
}

/// One iteration: c-step, s-step, multiplier update.
pub fn step(batch: &Batch, state: State, rho: f32) -> State {
    step_keeping(batch, state, rho, true)
}

/// [`step`]; with `keep_rows` false (iterations whose residual nobody reads), the new state's
/// `r` lacks the pair and obstacle rows in the fast mode.
pub(crate) fn step_keeping(batch: &Batch, state: State, rho: f32, keep_rows: bool) -> State {
    // 1. c-step.
    let q = batch.cbar.clone() + state.target * rho;
    let c = batch.k11.times(q) + batch.cb.clone();
    // 2. s-step and 3. multiplier update.
    let proj = project_keeping(batch, c.clone(), &state.u, keep_rows);
    State {
        c,
        u: proj.u,
        r: proj.r,
        target: proj.target,
    }
}

pub(crate) fn gtg_times(batch: &Batch, c: Tensor<3>) -> Tensor<3> {
    batch.gtg.times(c)
}

/// Runs exactly `iterations` iterations without reading anything back: the differentiable,
/// unrolled form used for training and gradient checks.
pub fn unrolled(
    batch: &Batch,
    c0: Tensor<3>,
    lambda0: Tensor<3>,
    iterations: usize,
    rho: f32,
) -> State {
    let mut state = start(batch, c0, lambda0, rho);
    for _ in 0..iterations {
        state = step(batch, state, rho);
    }
    state
}

/// Residuals on the host.
pub fn residuals(residual: &Tensor<1>) -> Vec<f32> {
    residual
        .clone()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}
