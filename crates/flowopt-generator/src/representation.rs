//! Trajectories as the generator sees them (DESIGN.md section 4): per robot, the 2K Bernstein
//! coefficients minus those of the robot's smoothest rest-to-rest motion (the straight
//! start-goal line), divided by the workspace's larger half-extent. The model learns deviations
//! from the straight line in a frame shared by every workspace size; the boundary-determined
//! coefficients of a feasible plan are (close to) zero there.

use flowopt_core::{Bernstein, Coefficients, ErrorKind, InputError, Problem, StraightPlanner};

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

/// The straight-line (smoothest rest-to-rest) coefficients of every robot of `problem`: the
/// `straight` planner's.
pub fn baseline(problem: &Problem, basis: &Bernstein) -> Vec<Coefficients> {
    StraightPlanner::new(basis.clone()).coefficients(problem)
}

/// `solution` as the model's target: N rows of 2K values, `[x_0..x_K, y_0..y_K]` per robot.
pub fn encode(
    problem: &Problem,
    solution: &[Coefficients],
    basis: &Bernstein,
) -> Result<Vec<f32>, InputError> {
    let k = basis.num_coefficients();
    if solution.len() != problem.robots.len()
        || solution.iter().any(|c| c.x.len() != k || c.y.len() != k)
    {
        return Err(InputError::new(
            ErrorKind::Shape,
            "solution",
            format!(
                "expected {} robots x 2 axes x {k} coefficients",
                problem.robots.len()
            ),
        ));
    }
    let frame = Frame::of(problem);
    let base = baseline(problem, basis);
    let mut out = Vec::with_capacity(solution.len() * 2 * k);
    for (c, b) in solution.iter().zip(&base) {
        for (v, w) in [(&c.x, &b.x), (&c.y, &b.y)] {
            out.extend(v.iter().zip(w).map(|(v, w)| ((v - w) / frame.scale) as f32));
        }
    }
    Ok(out)
}

/// The coefficients of model output `x` (N rows of 2K values) for `problem`.
pub fn decode(problem: &Problem, x: &[f32], basis: &Bernstein) -> Vec<Coefficients> {
    let k = basis.num_coefficients();
    let frame = Frame::of(problem);
    baseline(problem, basis)
        .into_iter()
        .zip(x.chunks_exact(2 * k))
        .map(|(b, row)| {
            let axis = |base: &[f64], dev: &[f32]| -> Vec<f64> {
                base.iter()
                    .zip(dev)
                    .map(|(w, d)| w + f64::from(*d) * frame.scale)
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
    fn encode_then_decode_round_trips_and_the_straight_line_is_zero() {
        let _serial = crate::test_lock();
        let problem = Scenario::Obstacles
            .generate(&ScenarioConfig::new(5).obstacles(3).seed(2))
            .unwrap();
        let basis = Bernstein::new(DEFAULT_ORDER).unwrap();
        let base = baseline(&problem, &basis);
        assert!(
            encode(&problem, &base, &basis)
                .unwrap()
                .iter()
                .all(|v| v.abs() < 1e-6)
        );
        let mut bent = base.clone();
        bent[2].x[4] += 0.7;
        bent[4].y[6] -= 1.3;
        let x = encode(&problem, &bent, &basis).unwrap();
        let back = decode(&problem, &x, &basis);
        assert!(flowopt_core::max_coefficient_difference(&back, &bent) < 1e-5);
        assert!(encode(&problem, &bent[..3], &basis).is_err());
    }
}
