//! The pipeline's polishing stage: the feasible plans of the problems the first filter pass did
//! not smooth (around obstacles) are filtered once more, from their own coefficients, with a
//! smoothness term, in proximal rounds ([`crate::FlowOptSettings::polish_rounds`]); each is replaced
//! by the smoothest point that passed the checker where that is smoother.

use flowopt_core::{Coefficients, Plan, PlanError, Problem};
use flowopt_filter::{Decision, Projection, SafetyFilter};

use crate::select::{Judged, feasible_verdict};
use crate::settings::POLISH_MIN_GAIN;

/// The polishing stage.
#[derive(Debug, Clone)]
pub(crate) struct Polish {
    /// The polishing pass (`None`: polishing off, the plans only get their `info` figures).
    pub filter: Option<SafetyFilter>,
}

impl Polish {
    /// Polishes the feasible plans of the problems `wanted` selects (by whether their floor is
    /// `open`). Marks every plan's `info.polished` (1: replaced) and `info.polish_rounds`
    /// (points that passed).
    pub fn run(
        &self,
        problems: &[Problem],
        plans: &mut [Result<(Plan, Vec<Coefficients>), PlanError>],
        open: &[bool],
        wanted: impl Fn(bool) -> bool,
    ) -> Result<(), PlanError> {
        for (plan, _) in plans.iter_mut().flatten() {
            plan.info.insert("polished".into(), 0.0);
            plan.info.insert("polish_rounds".into(), 0.0);
        }
        let Some(polish) = &self.filter else {
            return Ok(());
        };
        let wanted: Vec<usize> = (0..problems.len())
            .filter(|&p| {
                wanted(open[p])
                    && plans[p]
                        .as_ref()
                        .is_ok_and(|(plan, _)| plan.metrics.feasible)
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let _span = tracing::debug_span!("polish", problems = wanted.len()).entered();
        let subset: Vec<Problem> = wanted.iter().map(|&p| problems[p].clone()).collect();
        let mut starts = Vec::with_capacity(wanted.len());
        // Per problem, the smoothness of the plan and of every point that passed since.
        let mut history = Vec::with_capacity(wanted.len());
        for &p in &wanted {
            if let Ok((plan, coefficients)) = &plans[p] {
                starts.push(vec![coefficients.clone()]);
                history.push(vec![plan.metrics.smoothness]);
            }
        }
        // Per problem, the checker's verdict on the smoothest point that passed.
        let mut best: Vec<Option<Judged>> = vec![None; subset.len()];
        let mut decide = |i: usize, c: &[Coefficients]| {
            let Some(judged) = feasible_verdict(&subset[i], c) else {
                return Decision::Reject;
            };
            let smoothness = judged.metrics.smoothness;
            if best[i]
                .as_ref()
                .is_none_or(|b| smoothness < b.metrics.smoothness)
            {
                best[i] = Some(judged);
            }
            let seen = &mut history[i];
            seen.push(smoothness);
            match seen.len().checked_sub(3).map(|at| seen[at]) {
                Some(before) if smoothness > (1.0 - POLISH_MIN_GAIN) * before => Decision::Finish,
                _ => Decision::Accept,
            }
        };
        polish.project(Projection::problems(&subset, &starts).deciding(&mut decide))?;
        for ((&p, best), seen) in wanted.iter().zip(best).zip(&history) {
            let Ok((plan, _)) = &mut plans[p] else {
                continue;
            };
            plan.info
                .insert("polish_rounds".into(), (seen.len() - 1) as f64);
            if let Some(judged) = best
                && judged.metrics.smoothness < plan.metrics.smoothness
            {
                plan.trajectories = judged.trajectories;
                plan.metrics = judged.metrics;
                plan.feasible = true;
                plan.info.insert("polished".into(), 1.0);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use flowopt_core::{PlanOptions, Planner, Scenario, ScenarioConfig, StraightPlanner};

    use super::*;

    /// A polishing stage without a pass (polishing off) only records its figures; one with a
    /// pass leaves infeasible plans and unwanted problems alone.
    #[test]
    fn polishing_touches_only_feasible_plans_of_the_problems_it_is_asked_for() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(4).seed(0))
            .unwrap();
        let straight = StraightPlanner::default();
        let plan = straight.plan(&problem, &PlanOptions::default()).unwrap();
        assert!(!plan.feasible, "the straight swap collides");
        let coefficients = straight.coefficients(&problem);
        let problems = [problem];
        let mut plans = vec![Ok((plan.clone(), coefficients.clone()))];
        Polish { filter: None }
            .run(&problems, &mut plans, &[true], |_| true)
            .unwrap();
        let (polished, _) = plans[0].as_ref().unwrap();
        assert_eq!(polished.info["polished"], 0.0);
        assert_eq!(polished.info["polish_rounds"], 0.0);
        assert_eq!(polished.trajectories, plan.trajectories);

        let settings = flowopt_filter::FilterSettings {
            max_iterations: 50,
            smoothing: 30.0,
            ..Default::default()
        };
        let filter = SafetyFilter::new(settings, burn::tensor::Device::flex()).unwrap();
        let stage = Polish {
            filter: Some(filter),
        };
        let mut plans = vec![Ok((plan.clone(), coefficients))];
        stage.run(&problems, &mut plans, &[true], |_| true).unwrap();
        let (after, _) = plans[0].as_ref().unwrap();
        assert_eq!(
            after.info["polished"], 0.0,
            "an infeasible plan is not polished"
        );
        assert_eq!(after.trajectories, plan.trajectories);
    }
}
