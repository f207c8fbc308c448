//! The augmented-Lagrangian alternating minimization, batched as Burn tensors.
//!
//! Every iteration, for all instances at once:
//! 1. c-step: c = K11 (cbar + lambda + rho G's) + K12 b  (one matmul with the cached K11);
//! 2. s-step: s = Proj_S(G c) in closed form: pair differences pushed out of the disc of radius
//!    D (s = d max(1, D/|d|)), positions pushed out of obstacle discs, clamped into the box,
//!    velocities and accelerations scaled into their discs. No trigonometry;
//! 3. lambda <- lambda - rho G'(G c - s).
//!
//! G is never formed: G'r is assembled from the per-family residuals r = Gc - s by a scatter of
//! the pair rows onto their two robots and three small matmuls (P', Pv', Pa'), and G'G c comes from
//! the cached closed-form G'G. The residual of an instance is its largest constraint violation
//! on the filter's samples, |Gc - s| per row, in metres of coefficient differences.

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

use crate::batch::Batch;
use crate::settings::FilterSettings;

/// Small number keeping norms differentiable at zero.
const EPS: f32 = 1e-12;

/// G'(Gc - s) and the per-instance violation for coefficients `c`.
pub struct Projection {
    /// G'(Gc - s): (B, 2, N K).
    pub gtr: Tensor<3>,
    /// Largest violation per instance: (B,).
    pub residual: Tensor<1>,
}

/// Projects `c` (B, 2, N K) onto the constraint sets and returns G'(Gc - s) and the residuals.
pub fn project(batch: &Batch, c: Tensor<3>) -> Projection {
    let (b, n, k, m) = (batch.size, batch.robots, batch.k, batch.samples);
    let rows = c.reshape([b * 2 * n, k]);
    // Positions X, velocities V and accelerations A at the samples: (B, 2, N, M).
    let x = rows.clone().matmul(batch.pt.clone()).reshape([b, 2, n, m]);
    let v = rows.clone().matmul(batch.pvt.clone()).reshape([b, 2, n, m]);
    let a = rows.matmul(batch.pat.clone()).reshape([b, 2, n, m]);
    let mut worst: Vec<Tensor<2>> = Vec::with_capacity(5);
    let per_instance = |t: Tensor<4>| -> Tensor<2> {
        let numel: usize = t.dims().iter().product();
        t.reshape([b, numel / b]).max_dim(1)
    };

    // Box: clamp positions. r = X - clamp(X).
    let lo = batch.lo.clone().expand([b, 2, n, m]);
    let hi = batch.hi.clone().expand([b, 2, n, m]);
    let clamped = x.clone().max_pair(lo).min_pair(hi);
    let mut r_pos = x.clone() - clamped;
    worst.push(per_instance(r_pos.clone().abs()));

    // Pairs, each once: d = X_i - X_j, pushed out to |d| >= D. r = d - s = -d (D - |d|)+ / |d|.
    if n > 1 {
        let d =
            x.clone().select(2, batch.pair_i.clone()) - x.clone().select(2, batch.pair_j.clone());
        let norm = (d.clone().square().sum_dim(1) + EPS).sqrt(); // (B, 1, P, M)
        let short = (batch.pair_dist.clone() - norm.clone()).clamp_min(0.0);
        worst.push(per_instance(short.clone()));
        let r_pair = d * (short / norm).neg();
        r_pos = r_pos
            .select_assign(
                2,
                batch.pair_i.clone(),
                r_pair.clone(),
                IndexingUpdateOp::Add,
            )
            .select_assign(2, batch.pair_j.clone(), r_pair.neg(), IndexingUpdateOp::Add);
    }

    // Obstacles: e = X - o, pushed out to |e| >= D.
    if let (Some(centre), Some(dist)) = (&batch.obstacle_centre, &batch.obstacle_dist) {
        let e: Tensor<5> = x.unsqueeze_dim::<5>(3) - centre.clone(); // (B, 2, N, O, M)
        let norm = (e.clone().square().sum_dim(1) + EPS).sqrt(); // (B, 1, N, O, M)
        let short = (dist.clone() - norm.clone()).clamp_min(0.0);
        let numel: usize = short.dims().iter().product();
        worst.push(short.clone().reshape([b, numel / b]).max_dim(1));
        let r_obs = (e * (short / norm).neg()).sum_dim(3).reshape([b, 2, n, m]);
        r_pos = r_pos + r_obs;
    }

    // Speed and acceleration discs: r = V (|V| - limit)+ / |V|.
    let ball = |w: Tensor<4>, limit: &Tensor<4>| -> (Tensor<4>, Tensor<4>) {
        let norm = (w.clone().square().sum_dim(1) + EPS).sqrt(); // (B, 1, N, M)
        let excess = (norm.clone() - limit.clone()).clamp_min(0.0);
        (w * (excess.clone() / norm), excess)
    };
    let (r_v, excess_v) = ball(v, &batch.speed);
    let (r_a, excess_a) = ball(a, &batch.accel);
    worst.push(per_instance(excess_v));
    worst.push(per_instance(excess_a));

    // G' r: the position rows go through P, velocity rows through Pv, acceleration rows through Pa.
    let gtr = (r_pos.reshape([b * 2 * n, m]).matmul(batch.p.clone())
        + r_v.reshape([b * 2 * n, m]).matmul(batch.pv.clone())
        + r_a.reshape([b * 2 * n, m]).matmul(batch.pa.clone()))
    .reshape([b, 2, n * k]);
    let residual = Tensor::cat(worst, 1).max_dim(1).reshape([b]);
    Projection { gtr, residual }
}

/// The filter state between iterations.
pub struct State {
    /// Coefficients (B, 2, N K).
    pub c: Tensor<3>,
    /// Multipliers, in coefficient space (B, 2, N K).
    pub lambda: Tensor<3>,
    /// G's for the next c-step.
    pub gts: Tensor<3>,
    /// Residual of `c`.
    pub residual: Tensor<1>,
}

/// The starting state from coefficients `c0` and multipliers `lambda0`.
pub fn start(batch: &Batch, c0: Tensor<3>, lambda0: Tensor<3>) -> State {
    let proj = project(batch, c0.clone());
    let gts = gtg_times(batch, c0.clone()) - proj.gtr;
    State {
        c: c0,
        lambda: lambda0,
        gts,
        residual: proj.residual,
    }
}

/// One iteration: c-step, s-step, multiplier update.
pub fn step(batch: &Batch, state: State, rho: f32) -> State {
    let (b, nk) = (batch.size, batch.robots * batch.k);
    // 1. c-step.
    let q = batch.cbar.clone() + state.lambda.clone() + state.gts * rho;
    let c = q
        .reshape([b * 2, nk])
        .matmul(batch.k11.clone())
        .reshape([b, 2, nk])
        + batch.cb.clone();
    // 2. s-step (inside `project`) and 3. multiplier update.
    let proj = project(batch, c.clone());
    let lambda = state.lambda - proj.gtr.clone() * rho;
    let gts = gtg_times(batch, c.clone()) - proj.gtr;
    State {
        c,
        lambda,
        gts,
        residual: proj.residual,
    }
}

fn gtg_times(batch: &Batch, c: Tensor<3>) -> Tensor<3> {
    let (b, nk) = (batch.size, batch.robots * batch.k);
    c.reshape([b * 2, nk])
        .matmul(batch.gtg.clone())
        .reshape([b, 2, nk])
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
    let mut state = start(batch, c0, lambda0);
    for _ in 0..iterations {
        state = step(batch, state, rho);
    }
    state
}

/// Runs until every instance's residual is below the tolerance (checked every
/// `check_every` iterations) or the iteration budget is spent. Returns the final state and,
/// per instance, the first checked iteration at which it met the tolerance.
pub fn run(
    batch: &Batch,
    c0: Tensor<3>,
    lambda0: Tensor<3>,
    settings: &FilterSettings,
) -> (State, Vec<Option<usize>>) {
    let rho = settings.rho as f32;
    let tol = settings.tolerance as f32;
    let mut state = start(batch, c0, lambda0);
    let mut converged: Vec<Option<usize>> = vec![None; batch.size];
    for it in 1..=settings.max_iterations {
        state = step(batch, state, rho);
        if it % settings.check_every == 0 || it == settings.max_iterations {
            let residual = residuals(&state.residual);
            for (slot, r) in converged.iter_mut().zip(&residual) {
                if slot.is_none() && *r <= tol {
                    *slot = Some(it);
                }
            }
            if converged.iter().all(Option::is_some) {
                break;
            }
        }
    }
    (state, converged)
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
