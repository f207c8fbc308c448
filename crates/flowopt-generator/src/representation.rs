//! Trajectories as the generator sees them (DESIGN.md section 4): per robot, the 2K Bernstein
//! coefficients minus those of the robot's *guide path* (the `filter` planner's unperturbed
//! candidate: the smoothest rest-to-rest motion along the straight start-goal line, or along
//! the shortest path around the obstacles where the line is blocked), divided by the
//! workspace's larger half-extent. The model learns deviations from an obstacle-aware path in a
//! frame shared by every workspace size, instead of having to learn to route around walls
//! from the straight line; the boundary-determined coefficients of a feasible plan are (close
//! to) zero there.

use flowopt_core::{Bernstein, Coefficients, ErrorKind, InputError, Problem, guide_paths};

/// The normalising frame of a problem: positions are (p - centre) / scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Workspace centre.
    pub centre: [f64; 2],
    /// The workspace's larger half-extent (metres).
    pub scale: f64,
}

impl Frame {
    /// The frame of `problem`'s workspace.
    pub fn of(problem: &Problem) -> Self {
        Self {
            centre: problem.workspace.centre(),
            scale: problem.workspace.scale(),
        }
    }
}

/// The guide path of every robot of `problem`, plainly fitted ([`flowopt_core::GuidePaths::plain`]): the
/// origin of the model's coordinates. The shipped generator was trained in these coordinates;
/// the planner pulls candidates that cut through obstacles back towards the reweighted fit
/// ([`flowopt_core::GuidePaths::clear`]).
pub fn baseline(problem: &Problem, basis: &Bernstein) -> Vec<Coefficients> {
    guide_paths(problem, basis).plain
}

/// `solution` as the model's target relative to `base` (the problem's [`baseline`]): N rows of
/// 2K values, `[x_0..x_K, y_0..y_K]` per robot.
pub fn encode(
    problem: &Problem,
    base: &[Coefficients],
    solution: &[Coefficients],
    basis: &Bernstein,
) -> Result<Vec<f32>, InputError> {
    let k = basis.num_coefficients();
    let n = problem.robots.len();
    let fits =
        |c: &[Coefficients]| c.len() == n && c.iter().all(|c| c.x.len() == k && c.y.len() == k);
    if !fits(solution) || !fits(base) {
        return Err(InputError::new(
            ErrorKind::Shape,
            if fits(solution) {
                "baseline"
            } else {
                "solution"
            },
            format!("expected {n} robots x 2 axes x {k} coefficients"),
        ));
    }
    let scale = Frame::of(problem).scale;
    let mut out = Vec::with_capacity(n * 2 * k);
    for (c, b) in solution.iter().zip(base) {
        for (v, w) in [(&c.x, &b.x), (&c.y, &b.y)] {
            out.extend(v.iter().zip(w).map(|(v, w)| ((v - w) / scale) as f32));
        }
    }
    Ok(out)
}

/// The coefficients of model output `x` (N rows of 2K values) relative to `base` (the
/// problem's [`baseline`]).
pub fn decode(problem: &Problem, base: &[Coefficients], x: &[f32]) -> Vec<Coefficients> {
    let scale = Frame::of(problem).scale;
    base.iter()
        .zip(x.chunks_exact(x.len() / base.len().max(1)))
        .map(|(b, row)| {
            let k = b.x.len();
            let axis = |base: &[f64], dev: &[f32]| -> Vec<f64> {
                base.iter()
                    .zip(dev)
                    .map(|(w, d)| w + f64::from(*d) * scale)
                    .collect()
            };
            Coefficients {
                x: axis(&b.x, &row[..k]),
                y: axis(&b.y, &row[k..]),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::{DEFAULT_ORDER, Scenario, ScenarioConfig};

    #[test]
    fn encode_then_decode_round_trips_and_the_guide_path_is_zero() {
        let _serial = crate::test_lock();
        let problem = Scenario::Obstacles
            .generate(&ScenarioConfig::new(5).obstacles(3).seed(2))
            .unwrap();
        let basis = Bernstein::new(DEFAULT_ORDER).unwrap();
        let base = baseline(&problem, &basis);
        assert!(
            encode(&problem, &base, &base, &basis)
                .unwrap()
                .iter()
                .all(|v| v.abs() < 1e-6)
        );
        let mut bent = base.clone();
        bent[2].x[4] += 0.7;
        bent[4].y[6] -= 1.3;
        let x = encode(&problem, &base, &bent, &basis).unwrap();
        let back = decode(&problem, &base, &x);
        assert!(flowopt_core::max_coefficient_difference(&back, &bent) < 1e-5);
        let err = encode(&problem, &base, &bent[..3], &basis).unwrap_err();
        assert_eq!(err.field, "solution");
        // The guide path bends around the obstacles: it is not the straight line.
        let straight = flowopt_core::StraightPlanner::new(basis.clone()).coefficients(&problem);
        assert!(flowopt_core::max_coefficient_difference(&base, &straight) > 0.1);
    }
}
