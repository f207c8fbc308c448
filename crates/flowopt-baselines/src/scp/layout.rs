//! Where each robot's free coefficients live in the optimization vector, and the affine maps
//! from them to positions, velocities and accelerations on the constraint grid.
//!
//! The boundary equalities fix three coefficients at each end of every axis (start position,
//! velocity, acceleration; goal position at rest), so they are eliminated exactly and only the
//! `order - 5` interior coefficients per axis are variables.

use flowopt_core::{Bernstein, Problem, Vec2};

/// First free coefficient index (0, 1, 2 are fixed by the start state).
pub const FIRST_FREE: usize = 3;

/// Affine maps of one problem on one time grid.
pub struct Layout {
    /// Number of free coefficients per axis.
    pub nf: usize,
    /// Number of robots.
    pub n: usize,
    /// Grid times.
    pub times: Vec<f64>,
    /// Basis values of the free coefficients at each grid time: `[time][f]`.
    pub b: Vec<Vec<f64>>,
    /// Same for velocity and acceleration (with the 1/T, 1/T^2 scaling).
    pub bd: Vec<Vec<f64>>,
    pub bdd: Vec<Vec<f64>>,
    /// Contribution of the fixed coefficients: position/velocity/acceleration of robot i at
    /// grid time k is `fixed_*[i][k] + B_free(k) . x_i`.
    pub fixed_p: Vec<Vec<Vec2>>,
    pub fixed_v: Vec<Vec<Vec2>>,
    pub fixed_a: Vec<Vec<Vec2>>,
    /// Full coefficient vectors with zeros in the free slots: `[robot][axis]`.
    pub fixed_coefficients: Vec<[Vec<f64>; 2]>,
}

impl Layout {
    pub fn new(problem: &Problem, basis: &Bernstein, times: Vec<f64>) -> Self {
        let order = basis.order();
        let k = order + 1;
        let nf = k - 6;
        let horizon = problem.horizon;
        let s = basis.sample_matrices(&times, horizon);
        let free_cols = FIRST_FREE..FIRST_FREE + nf;
        let row = |m: &nalgebra::DMatrix<f64>, t: usize| -> Vec<f64> {
            free_cols.clone().map(|c| m[(t, c)]).collect()
        };
        let b = (0..times.len()).map(|t| row(&s.p, t)).collect();
        let bd = (0..times.len()).map(|t| row(&s.pdot, t)).collect();
        let bdd = (0..times.len()).map(|t| row(&s.pddot, t)).collect();

        let (nn, nn1) = (order as f64, (order * (order - 1)) as f64);
        let fixed_coefficients: Vec<[Vec<f64>; 2]> = problem
            .robots
            .iter()
            .map(|r| {
                [0, 1].map(|a| {
                    let mut c = vec![0.0; k];
                    // Start: c0 = x0, v0 = n (c1 - c0) / T, a0 = n (n-1) (c2 - 2 c1 + c0) / T^2.
                    c[0] = r.start[a];
                    c[1] = c[0] + r.start_velocity[a] * horizon / nn;
                    c[2] = r.start_acceleration[a] * horizon * horizon / nn1 + 2.0 * c[1] - c[0];
                    // Goal at rest: the last three coefficients equal the goal.
                    c[order] = r.goal[a];
                    c[order - 1] = r.goal[a];
                    c[order - 2] = r.goal[a];
                    c
                })
            })
            .collect();
        let fixed_at = |m: &nalgebra::DMatrix<f64>| -> Vec<Vec<Vec2>> {
            fixed_coefficients
                .iter()
                .map(|[cx, cy]| {
                    (0..times.len())
                        .map(|t| {
                            let dot = |c: &Vec<f64>| (0..k).map(|j| m[(t, j)] * c[j]).sum::<f64>();
                            [dot(cx), dot(cy)]
                        })
                        .collect()
                })
                .collect()
        };
        let fixed_p = fixed_at(&s.p);
        let fixed_v = fixed_at(&s.pdot);
        let fixed_a = fixed_at(&s.pddot);
        Self {
            nf,
            n: problem.num_robots(),
            times,
            b,
            bd,
            bdd,
            fixed_p,
            fixed_v,
            fixed_a,
            fixed_coefficients,
        }
    }

    /// Index of free coefficient `f` of robot `i` on `axis` in the optimization vector.
    pub fn var(&self, i: usize, axis: usize, f: usize) -> usize {
        (i * 2 + axis) * self.nf + f
    }

    /// Number of coefficient variables, 2 N nf.
    pub fn num_vars(&self) -> usize {
        2 * self.n * self.nf
    }

    /// Position of robot `i` at grid time `t` for the free coefficients `x`.
    pub fn position(&self, x: &[f64], i: usize, t: usize) -> Vec2 {
        let f = &self.fixed_p[i][t];
        [0, 1].map(|a| {
            f[a] + (0..self.nf)
                .map(|j| self.b[t][j] * x[self.var(i, a, j)])
                .sum::<f64>()
        })
    }

    /// Full coefficient vectors (x, y) of robot `i`.
    pub fn coefficients(&self, x: &[f64], i: usize) -> [Vec<f64>; 2] {
        [0, 1].map(|a| {
            let mut c = self.fixed_coefficients[i][a].clone();
            for j in 0..self.nf {
                c[FIRST_FREE + j] = x[self.var(i, a, j)];
            }
            c
        })
    }

    /// The free coefficients of full coefficient vectors.
    pub fn free_of(&self, coefficients: &[[Vec<f64>; 2]]) -> Vec<f64> {
        let mut x = vec![0.0; self.num_vars()];
        for (i, c) in coefficients.iter().enumerate() {
            for a in 0..2 {
                for j in 0..self.nf {
                    x[self.var(i, a, j)] = c[a][FIRST_FREE + j];
                }
            }
        }
        x
    }
}
