//! Judging projected candidates with the shared checker ([`flowopt_core::evaluate`]) and
//! choosing one: the feasible candidate with the best smoothness, else the one with the
//! smallest violation (DESIGN.md section 5). Used by the `filter` and `flowopt` planners.

use flowopt_core::{CheckConfig, Coefficients, InputError, Metrics, Problem, Trajectory, evaluate};
use rayon::prelude::*;

/// One candidate, sampled at the problem's times and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// One trajectory per robot.
    pub trajectories: Vec<Trajectory>,
    /// The checker's verdict.
    pub metrics: Metrics,
}

/// Samples and checks every candidate of `problem`, in parallel (the 4x denser check of K
/// candidates of 32 robots takes tens of ms on one core).
pub fn judge(
    problem: &Problem,
    candidates: &[Vec<Coefficients>],
) -> Result<Vec<Judged>, InputError> {
    let times = problem.sample_times();
    candidates
        .par_iter()
        .map(|coefficients| {
            let trajectories = coefficients
                .iter()
                .map(|c| Trajectory::from_coefficients(c.clone(), &times, problem.horizon))
                .collect::<Result<Vec<_>, _>>()?;
            let metrics = evaluate(problem, &trajectories, &CheckConfig::default())?;
            Ok(Judged {
                trajectories,
                metrics,
            })
        })
        .collect()
}

/// The index of the best candidate: feasible before infeasible, then the least smoothness
/// cost (feasible) or the least violation (infeasible); the first of equals. `None` when empty.
pub fn best(judged: &[Judged]) -> Option<usize> {
    let score = |m: &Metrics| {
        if m.feasible {
            m.smoothness
        } else {
            m.max_violation
        }
    };
    (0..judged.len()).min_by(|&a, &b| {
        let (ma, mb) = (&judged[a].metrics, &judged[b].metrics);
        mb.feasible
            .cmp(&ma.feasible)
            .then(score(ma).total_cmp(&score(mb)))
            .then(a.cmp(&b))
    })
}
