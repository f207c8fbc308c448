//! Starting candidates for the filter without a generator: seeded perturbations of each
//! robot's straight line, or of its shortest path around the obstacles where the line is
//! blocked (the `filter` planner's candidate source, and the warm start's training data).

use flowopt_core::{Bernstein, Coefficients, Problem, path_coefficients};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `count` seeded candidates for `problem`: each robot's straight line, or its shortest path
/// around the obstacles when the line is blocked ([`flowopt_core::path_coefficients`]), with
/// interior coefficients offset uniformly in [-amplitude, amplitude) metres (the three
/// coefficients at each end are fixed by the boundary conditions anyway).
pub fn perturbed_candidates(
    problem: &Problem,
    count: usize,
    amplitude: f64,
    seed: u64,
) -> Vec<Vec<Coefficients>> {
    let straight = path_coefficients(problem, &Bernstein::default());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            straight
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    let k = c.x.len();
                    for axis in [&mut c.x, &mut c.y] {
                        for v in &mut axis[3..k - 3] {
                            if amplitude > 0.0 {
                                *v += rng.random_range(-amplitude..amplitude);
                            }
                        }
                    }
                    c
                })
                .collect()
        })
        .collect()
}
