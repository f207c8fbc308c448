//! Initial guesses that already go around obstacles: [`flowopt_core::path_coefficients`] (the
//! shortest grid path of each robot, fitted by a polynomial) in the SCP's variable layout.
//! Without this, sequential convex programming started from straight lines stays on the wrong
//! side of a wall.

use flowopt_core::{Bernstein, Problem, path_coefficients};

use super::layout::Layout;

/// Free coefficients (in `layout`'s vector) of every robot's path-following guess.
pub fn path_guess(problem: &Problem, basis: &Bernstein, layout: &Layout) -> Vec<f64> {
    let full: Vec<[Vec<f64>; 2]> = path_coefficients(problem, basis)
        .into_iter()
        .map(|c| [c.x, c.y])
        .collect();
    layout.free_of(&full)
}
