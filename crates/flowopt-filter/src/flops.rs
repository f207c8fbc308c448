//! An analytic count of the floating-point operations of one fast-mode filter iteration
//! (`solver::step` without an exact projection), for the roofline figure of
//! `flowopt bench roofline`. Matrix products count 2 per multiply-add; element-wise work counts
//! each add, multiply, divide, square root, min or max once, as the fused CPU loops
//! (`discs.rs`) and the composed tensor ops both execute them.

use flowopt_core::{DEFAULT_ORDER, Problem};

/// Shape of one batch instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IterationShape {
    /// Robots N.
    pub robots: usize,
    /// Obstacles O.
    pub obstacles: usize,
    /// Samples M the filter constrains.
    pub samples: usize,
    /// Coefficients per axis K.
    pub coefficients: usize,
}

impl IterationShape {
    /// The shape the filter gives `problem` when constraining `samples` samples.
    pub fn of(problem: &Problem, samples: usize) -> Self {
        Self {
            robots: problem.num_robots(),
            obstacles: problem.obstacles.len(),
            samples,
            coefficients: DEFAULT_ORDER + 1,
        }
    }

    /// FLOPs of one iteration of one instance; multiply by the batch size.
    pub fn iteration_flops(&self) -> f64 {
        let (n, o, m, k) = (
            self.robots as f64,
            self.obstacles as f64,
            self.samples as f64,
            self.coefficients as f64,
        );
        let nk = n * k;
        let pairs = n * (n - 1.0) / 2.0;
        // Per axis: the c-step (q = cbar + rho target, times K11, plus K12 b) and G'G c.
        let c_step = 2.0 * (2.0 * nk * nk + 3.0 * nk);
        let gtg = 2.0 * 2.0 * nk * nk;
        // Positions, velocities and accelerations (3 products of N x K by K x M per axis),
        // and back (3 products M -> K and their 2 sums).
        let kinematics = 2.0 * 3.0 * 2.0 * n * k * m;
        let kinematics_t = 2.0 * (3.0 * 2.0 * n * m * k + 2.0 * nk);
        // Box rows: max, min, subtract per coordinate.
        let boxed = 2.0 * 3.0 * n * m;
        // A pair or obstacle row (outside a disc): the difference (2), squared norm plus eps
        // (4), sqrt, shortfall ratio (sub, div, min), the row (2 mul) and its image on the
        // positions (2 adds per robot, obstacles 1 robot).
        let pair_rows = pairs * m * (2.0 + 4.0 + 1.0 + 3.0 + 2.0 + 4.0);
        let obstacle_rows = n * o * m * (2.0 + 4.0 + 1.0 + 3.0 + 2.0 + 2.0);
        // Speed and acceleration rows (inside a disc): norm (4 + sqrt), ratio (3), row (2).
        let inside = 2.0 * n * m * (4.0 + 1.0 + 3.0 + 2.0);
        // Sums into the positions' image, G'u += G'r, target = G'G c - G'r - G'u.
        let updates = 2.0 * (2.0 * n * m) + 2.0 * nk + 2.0 * 2.0 * nk;
        c_step
            + gtg
            + kinematics
            + kinematics_t
            + boxed
            + pair_rows
            + obstacle_rows
            + inside
            + updates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two dense (N K)^2 products per axis are the largest single term (at N = 16, 50
    /// samples: 40% of the count; the kinematics products and the pair rows make most of the
    /// rest), and the count grows with the obstacles and samples as their rows do.
    #[test]
    fn the_count_follows_the_shapes() {
        let shape = IterationShape {
            robots: 16,
            obstacles: 0,
            samples: 50,
            coefficients: DEFAULT_ORDER + 1,
        };
        let flops = shape.iteration_flops();
        let nk = 16.0 * (DEFAULT_ORDER + 1) as f64;
        let dense = 2.0 * 2.0 * 2.0 * nk * nk;
        assert!(
            flops > 2.0 * dense && flops < 3.0 * dense,
            "{flops} vs {dense}"
        );
        let with_obstacles = IterationShape {
            obstacles: 10,
            ..shape
        };
        assert_eq!(
            with_obstacles.iteration_flops() - flops,
            16.0 * 10.0 * 50.0 * 14.0
        );
        let more_samples = IterationShape {
            samples: 100,
            ..shape
        };
        assert!(more_samples.iteration_flops() > flops);
    }
}
