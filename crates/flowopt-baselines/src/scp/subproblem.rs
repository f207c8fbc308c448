//! One convex subproblem of the sequential convex program, in Clarabel's form
//! `min 1/2 x'Px + q'x  s.t.  Ax + s = b, s in K`.
//!
//! Variables: the free coefficients of every robot and axis, then one slack per linearized
//! collision row. Cones, in order:
//! 1. nonnegative: coefficient box (workspace, by the convex-hull property of Bernstein
//!    polynomials, intersected with the trust region); linearized pair separation and obstacle
//!    clearance half-planes with slacks; slacks >= 0;
//! 2. second-order cones: |v(t)| <= v_max and |a(t)| <= a_max at every interior grid time.
//!
//! The half-plane n'(p_i - p_j) >= D with n the unit direction between the current positions is
//! an inner approximation of |p_i - p_j| >= D, so the model's penalty bounds the true one from
//! above and is exact at the current iterate: every solved subproblem decreases the true merit.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};
use flowopt_core::{Problem, Vec2, dist};
use nalgebra::DMatrix;

use super::layout::{FIRST_FREE, Layout};

/// A linearized separation requirement `n'(p_i(t) - q) >= d`, where q is robot j's position
/// (pairs) or a fixed point (obstacles).
pub struct HalfPlane {
    pub i: usize,
    pub j: Option<usize>,
    pub t: usize,
    pub normal: Vec2,
    /// Right-hand side after moving the fixed parts over: d - n'(fixed_i - fixed_j or o).
    pub rhs: f64,
    /// Whether the current iterate violates it (only those get a slack: the others hold at
    /// the current iterate, which therefore stays feasible for the subproblem).
    pub violated: bool,
}

/// Outcome of one subproblem.
pub struct Step {
    pub x: Vec<f64>,
    pub status: SolverStatus,
    pub solve_ms: f64,
    pub iterations: u32,
}

/// Inputs that stay fixed across SCP iterations.
pub struct Fixed<'a> {
    pub problem: &'a Problem,
    pub layout: &'a Layout,
    /// Smoothness Gram matrix of one axis (full coefficients).
    pub gram: &'a DMatrix<f64>,
    pub penalty: f64,
    pub speed: f64,
    pub accel: f64,
    pub solver_tolerance: f64,
}

/// Solves the subproblem around `center`; with `slack_all`, every half-plane gets a slack
/// (the fallback when the subproblem without them is infeasible).
pub fn solve(
    fixed: &Fixed,
    center: &[f64],
    trust: f64,
    planes: &[HalfPlane],
    slack_all: bool,
) -> Step {
    let l = fixed.layout;
    let nv = l.num_vars();
    let slack_of: Vec<Option<usize>> = {
        let mut next = nv;
        planes
            .iter()
            .map(|h| {
                (slack_all || h.violated).then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect()
    };
    let ns = slack_of.iter().flatten().count();
    let n_total = nv + ns;
    let nf = l.nf;

    // Objective: per axis, c'Hc with c = fixed + free: free' H_ff free + 2 free' H_fc fixed.
    let (mut pi, mut pj, mut pv) = (Vec::new(), Vec::new(), Vec::new());
    let mut q = vec![0.0; n_total];
    for i in 0..l.n {
        for a in 0..2 {
            let c = &l.fixed_coefficients[i][a];
            for r in 0..nf {
                let gr = FIRST_FREE + r;
                for s in r..nf {
                    // Upper triangle of P = 2 H_ff.
                    pi.push(l.var(i, a, r));
                    pj.push(l.var(i, a, s));
                    pv.push(2.0 * fixed.gram[(gr, FIRST_FREE + s)]);
                }
                q[l.var(i, a, r)] = 2.0
                    * (0..c.len())
                        .map(|k| fixed.gram[(gr, k)] * c[k])
                        .sum::<f64>();
            }
        }
    }
    for qs in &mut q[nv..] {
        *qs = fixed.penalty;
    }
    let p = CscMatrix::new_from_triplets(n_total, n_total, pi, pj, pv);

    let (mut ai, mut aj, mut av, mut b) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut row = 0usize;
    let mut push = |r: usize, c: usize, v: f64, ai: &mut Vec<usize>, aj: &mut Vec<usize>| {
        ai.push(r);
        aj.push(c);
        av.push(v);
    };

    // 1a. Coefficient box: workspace hull bounds intersected with the trust region.
    let ws = fixed.problem.workspace;
    for i in 0..l.n {
        let r = fixed.problem.robots[i].radius;
        for a in 0..2 {
            let (lo, hi) = (ws.min[a] + r, ws.max[a] - r);
            for f in 0..nf {
                let v = l.var(i, a, f);
                let c = center[v];
                let (lo, hi) = ((c - trust).max(lo), (c + trust).min(hi));
                // A centre outside the box (a perturbed guess) may move back toward it.
                let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                push(row, v, 1.0, &mut ai, &mut aj);
                b.push(hi);
                push(row + 1, v, -1.0, &mut ai, &mut aj);
                b.push(-lo);
                row += 2;
            }
        }
    }
    // 1b. Half-planes with slacks: -n'B x_i (+ n'B x_j) - s <= -rhs.
    for (h, slack) in planes.iter().zip(&slack_of) {
        let bt = &l.b[h.t];
        for a in 0..2 {
            for f in 0..nf {
                push(
                    row,
                    l.var(h.i, a, f),
                    -h.normal[a] * bt[f],
                    &mut ai,
                    &mut aj,
                );
                if let Some(j) = h.j {
                    push(row, l.var(j, a, f), h.normal[a] * bt[f], &mut ai, &mut aj);
                }
            }
        }
        if let Some(k) = slack {
            push(row, *k, -1.0, &mut ai, &mut aj);
        }
        b.push(-h.rhs);
        row += 1;
    }
    // 1c. Slacks >= 0.
    for k in 0..ns {
        push(row, nv + k, -1.0, &mut ai, &mut aj);
        b.push(0.0);
        row += 1;
    }
    let nonneg = row;

    // 2. Speed and acceleration cones at interior grid times (the ends are fixed).
    let mut socs = 0;
    let last = l.times.len() - 1;
    for (limit, basis, fixed_part) in [
        (fixed.speed, &l.bd, &l.fixed_v),
        (fixed.accel, &l.bdd, &l.fixed_a),
    ] {
        for i in 0..l.n {
            for t in 1..last {
                b.push(limit);
                for a in 0..2 {
                    for f in 0..nf {
                        push(row + 1 + a, l.var(i, a, f), -basis[t][f], &mut ai, &mut aj);
                    }
                    b.push(fixed_part[i][t][a]);
                }
                row += 3;
                socs += 1;
            }
        }
    }
    let a = CscMatrix::new_from_triplets(row, n_total, ai, aj, av);
    let mut cones = vec![SupportedConeT::NonnegativeConeT(nonneg)];
    cones.extend(std::iter::repeat_n(
        SupportedConeT::SecondOrderConeT(3),
        socs,
    ));

    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .max_iter(100)
        .tol_gap_abs(fixed.solver_tolerance)
        .tol_gap_rel(fixed.solver_tolerance)
        .tol_feas(fixed.solver_tolerance)
        .build();
    let failed = |status| Step {
        x: center.to_vec(),
        status,
        solve_ms: 0.0,
        iterations: 0,
    };
    let Ok(settings) = settings else {
        return failed(SolverStatus::NumericalError);
    };
    let Ok(mut solver) = DefaultSolver::new(&p, &q, &a, &b, &cones, settings) else {
        return failed(SolverStatus::NumericalError);
    };
    solver.solve();
    let sol = &solver.solution;
    Step {
        x: sol.x[..nv].to_vec(),
        status: sol.status,
        solve_ms: sol.solve_time * 1e3,
        iterations: sol.iterations,
    }
}

/// Linearizes every pair and obstacle constraint that could be violated within the trust
/// region around `x`: positions move at most sqrt(2) * trust (convex hull property), so pairs
/// farther apart than D + 2 sqrt(2) trust are skipped without loss.
pub fn linearize(
    problem: &Problem,
    layout: &Layout,
    x: &[f64],
    trust: f64,
    extra: f64,
    directions: &mut impl FnMut() -> Vec2,
) -> Vec<HalfPlane> {
    let reach = std::f64::consts::SQRT_2 * trust;
    let mut planes = Vec::new();
    let g = layout.times.len();
    let pos: Vec<Vec<Vec2>> = (0..layout.n)
        .map(|i| (0..g).map(|t| layout.position(x, i, t)).collect())
        .collect();
    for t in 0..g {
        for i in 0..layout.n {
            let pi = pos[i][t];
            for j in (i + 1)..layout.n {
                let d = problem.separation(i, j) + extra;
                let pj = pos[j][t];
                let gap = dist(pi, pj);
                if gap >= d + 2.0 * reach {
                    continue;
                }
                let normal = if gap > 1e-9 {
                    [(pi[0] - pj[0]) / gap, (pi[1] - pj[1]) / gap]
                } else {
                    directions()
                };
                let (fi, fj) = (layout.fixed_p[i][t], layout.fixed_p[j][t]);
                planes.push(HalfPlane {
                    i,
                    j: Some(j),
                    t,
                    normal,
                    rhs: d - normal[0] * (fi[0] - fj[0]) - normal[1] * (fi[1] - fj[1]),
                    violated: gap < d,
                });
            }
            let r = problem.robots[i].radius;
            for o in &problem.obstacles {
                let d = r + o.radius + extra;
                let gap = dist(pi, o.center);
                if gap >= d + reach {
                    continue;
                }
                let normal = if gap > 1e-9 {
                    [(pi[0] - o.center[0]) / gap, (pi[1] - o.center[1]) / gap]
                } else {
                    directions()
                };
                let fi = layout.fixed_p[i][t];
                planes.push(HalfPlane {
                    i,
                    j: None,
                    t,
                    normal,
                    rhs: d - normal[0] * (fi[0] - o.center[0]) - normal[1] * (fi[1] - o.center[1]),
                    violated: gap < d,
                });
            }
        }
    }
    planes
}

/// The true (nonlinear) collision violation summed over the grid, with the same inflation as
/// the model.
pub fn violation(problem: &Problem, layout: &Layout, x: &[f64], extra: f64) -> (f64, f64) {
    let g = layout.times.len();
    let pos: Vec<Vec<Vec2>> = (0..layout.n)
        .map(|i| (0..g).map(|t| layout.position(x, i, t)).collect())
        .collect();
    let (mut sum, mut worst) = (0.0f64, 0.0f64);
    for t in 0..g {
        for i in 0..layout.n {
            for j in (i + 1)..layout.n {
                let v = problem.separation(i, j) + extra - dist(pos[i][t], pos[j][t]);
                if v > 0.0 {
                    sum += v;
                    worst = worst.max(v);
                }
            }
            for o in &problem.obstacles {
                let v = o.overlap(pos[i][t], problem.robots[i].radius + extra);
                if v > 0.0 {
                    sum += v;
                    worst = worst.max(v);
                }
            }
        }
    }
    (sum, worst)
}
