//! The pipeline's selection stage: judging filtered candidates with the shared checker
//! ([`flowopt_core::evaluate`]) and choosing one: the feasible candidate with the best
//! smoothness, else the one with the smallest violation (DESIGN.md section 5), with the
//! feasible alternatives, smoothest first, when asked for (with how many distinct passing
//! patterns they show).

use flowopt_core::{
    Candidate, CheckConfig, Coefficients, InputError, Metrics, Plan, PlanError, Problem,
    Trajectory, evaluate,
};
use flowopt_filter::FilterOutput;
use rayon::prelude::*;

use crate::diversity::distinct_patterns;

/// How the selection stage chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Also return every feasible candidate, smoothest first.
    pub alternatives: bool,
    /// Where the filter's check accepted candidates, judge only those (the others did not pass
    /// it); otherwise every candidate is judged (more checks, and a feasible candidate the
    /// filter did not offer to the check can still win).
    pub accepted_only: bool,
}

impl Selection {
    /// The plan of `problem` from its filtered candidates (`name`: the planner), with the
    /// coefficients of the chosen one. `checked` holds verdicts the filter passes' check already
    /// reached (on exactly those coefficients), reused instead of judging again. Sets the plan's
    /// `info`: `candidates`, `feasible_candidates`, `iterations` (the chosen one's) and
    /// `distinct_passing_patterns` (among the feasible).
    pub fn select(
        &self,
        name: &'static str,
        problem: &Problem,
        all: &[FilterOutput],
        checked: Vec<Judged>,
    ) -> Result<(Plan, Vec<Coefficients>), PlanError> {
        // Without alternatives to return, the candidates the check accepted are the only ones
        // worth judging again (for their metrics); with none, all are judged for the least
        // violation.
        let outputs: Vec<&FilterOutput> =
            if self.accepted_only && !self.alternatives && all.iter().any(|o| o.accepted) {
                all.iter().filter(|o| o.accepted).collect()
            } else {
                all.iter().collect()
            };
        let mut judged = reuse_or_judge(problem, &outputs, checked)?;
        let idx = best(&judged).ok_or_else(|| PlanError::Planner {
            planner: name.into(),
            message: "no candidate".into(),
        })?;
        let feasible: Vec<usize> = (0..judged.len())
            .filter(|&i| judged[i].metrics.feasible)
            .collect();
        let patterns =
            distinct_patterns(feasible.iter().map(|&i| judged[i].trajectories.as_slice()));
        // Every feasible candidate, smoothest first (the chosen one leads).
        let alternatives = self.alternatives.then(|| {
            let mut order = feasible.clone();
            order.sort_by(|&a, &b| {
                judged[a]
                    .metrics
                    .smoothness
                    .total_cmp(&judged[b].metrics.smoothness)
            });
            order
                .iter()
                .map(|&i| Candidate {
                    trajectories: judged[i].trajectories.clone(),
                    metrics: judged[i].metrics.clone(),
                })
                .collect::<Vec<_>>()
        });
        let chosen = judged.swap_remove(idx);
        let mut plan = Plan::with_metrics(name, chosen.trajectories, chosen.metrics, 0.0);
        plan.info.insert("candidates".into(), all.len() as f64);
        plan.info
            .insert("feasible_candidates".into(), feasible.len() as f64);
        plan.info
            .insert("iterations".into(), outputs[idx].iterations as f64);
        plan.info
            .insert("distinct_passing_patterns".into(), patterns as f64);
        plan.candidates = alternatives;
        Ok((plan, outputs[idx].coefficients.clone()))
    }
}

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

/// The checker's verdict on one candidate of `problem`, when it is feasible (a malformed
/// candidate counts as infeasible).
pub fn feasible_verdict(problem: &Problem, coefficients: &[Coefficients]) -> Option<Judged> {
    judge(problem, &[coefficients.to_vec()])
        .ok()
        .and_then(|mut j| j.pop())
        .filter(|j| j.metrics.feasible)
}

/// The checker's verdicts on `outputs`, in order: taken from `checked` where one was reached
/// on exactly an output's coefficients, the others judged now (together, in parallel).
pub fn reuse_or_judge(
    problem: &Problem,
    outputs: &[&FilterOutput],
    mut checked: Vec<Judged>,
) -> Result<Vec<Judged>, InputError> {
    let same = |judged: &Judged, coefficients: &[Coefficients]| {
        judged.trajectories.len() == coefficients.len()
            && judged
                .trajectories
                .iter()
                .zip(coefficients)
                .all(|(t, c)| t.coefficients.as_ref() == Some(c))
    };
    let mut found: Vec<Option<Judged>> = outputs
        .iter()
        .map(|o| {
            let at = checked.iter().position(|j| same(j, &o.coefficients))?;
            Some(checked.swap_remove(at))
        })
        .collect();
    let missing: Vec<usize> = (0..outputs.len()).filter(|&i| found[i].is_none()).collect();
    let projected: Vec<Vec<Coefficients>> = missing
        .iter()
        .map(|&i| outputs[i].coefficients.clone())
        .collect();
    for (i, judged) in missing.into_iter().zip(judge(problem, &projected)?) {
        found[i] = Some(judged);
    }
    Ok(found.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::{Scenario, ScenarioConfig, StraightPlanner};
    use flowopt_filter::FilterStatus;

    fn output(coefficients: Vec<Coefficients>) -> FilterOutput {
        FilterOutput {
            coefficients,
            residual: 0.0,
            iterations: 10,
            status: FilterStatus::Verified,
            accepted: true,
        }
    }

    #[test]
    fn verdicts_are_reused_only_on_the_same_coefficients() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(3).seed(4))
            .unwrap();
        let straight = StraightPlanner::default().coefficients(&problem);
        let mut moved = straight.clone();
        moved[1].x[5] += 0.25;
        let fresh = judge(&problem, &[straight.clone(), moved.clone()]).unwrap();
        // A verdict marked so that reuse shows: it stands for `straight` only.
        let mut marked = fresh[0].clone();
        marked.metrics.smoothness = -1.0;
        let outputs = [output(moved.clone()), output(straight.clone())];
        let refs: Vec<&FilterOutput> = outputs.iter().collect();
        let got = reuse_or_judge(&problem, &refs, vec![marked]).unwrap();
        assert_eq!(got.len(), 2);
        // The moved candidate was judged afresh, the straight one's verdict reused.
        assert_eq!(got[0], fresh[1]);
        assert_eq!(got[1].metrics.smoothness, -1.0);
        assert_eq!(got[1].trajectories, fresh[0].trajectories);
        // Nothing to reuse: the same verdicts as judging all.
        assert_eq!(
            reuse_or_judge(&problem, &refs, Vec::new()).unwrap(),
            vec![fresh[1].clone(), fresh[0].clone()]
        );
    }
}
