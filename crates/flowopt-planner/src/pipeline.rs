//! [`Pipeline`]: a planner built from stages (DESIGN.md section 5): a candidate source
//! ([`crate::source`]) -> a list of filter passes ([`crate::passes`]) -> selection by the
//! shared checker ([`crate::select`]) -> polishing ([`crate::polish`]). The `flowopt` and
//! `filter` planners are two configurations of it.

use std::time::Instant;

use flowopt_core::{Coefficients, Plan, PlanError, PlanOptions, Problem, elapsed_ms};

use crate::passes::Passes;
use crate::polish::Polish;
use crate::select::Selection;
use crate::source::{Samples, Source};

/// The stages of one planner.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    /// The planner's name (in plans and errors).
    pub name: &'static str,
    /// Where candidates come from.
    pub source: Source,
    /// The filter passes.
    pub passes: Passes,
    /// How the plan is chosen.
    pub selection: Selection,
    /// The polishing stage (`None`: the planner has none, and its plans no polishing figures).
    pub polish: Option<Polish>,
}

impl Pipeline {
    /// Plans every problem with one candidate call per robot count and one filter batch per
    /// problem shape; each problem's plan is the one it gets alone. Stage timings are those of
    /// the whole batch (`info.batch` says how many problems shared it).
    pub fn plan_batch(
        &self,
        problems: &[Problem],
        options: &[PlanOptions],
    ) -> Vec<Result<Plan, PlanError>> {
        let _span =
            tracing::info_span!("plan", planner = self.name, problems = problems.len()).entered();
        if problems.len() != options.len() {
            let e = self.failure("one PlanOptions per problem is required");
            return self.fail_all(problems, &e);
        }
        let started = Instant::now();
        let refs: Vec<&Problem> = problems.iter().collect();
        let seeds: Vec<u64> = options.iter().map(|o| o.seed).collect();
        let samples = match self.source.candidates(&refs, &seeds) {
            Ok(c) => c,
            Err(e) => return self.fail_all(problems, &e),
        };
        let mut candidates = Vec::with_capacity(samples.len());
        let mut pulled_back = Vec::with_capacity(samples.len());
        let mut guides = Vec::with_capacity(samples.len());
        let mut open = Vec::with_capacity(samples.len());
        for s in samples {
            let Samples {
                candidates: c,
                pulled_back: p,
                guides: g,
                open: o,
            } = s;
            candidates.push(c);
            pulled_back.push(p);
            guides.push(g);
            open.push(o);
        }
        let generate_ms = elapsed_ms(started);

        let filter_started = Instant::now();
        let (outputs, checked) = match self.passes.run(problems, &candidates, &guides, &open) {
            Ok(stage) => stage,
            Err(e) => return self.fail_all(problems, &e),
        };
        let filter_ms = elapsed_ms(filter_started);

        let select_started = Instant::now();
        let mut chosen: Vec<Result<(Plan, Vec<Coefficients>), PlanError>> = problems
            .iter()
            .zip(&outputs)
            .zip(checked)
            .zip(&pulled_back)
            .zip(&open)
            .map(
                |((((problem, (outputs, refined)), checked), pulled_back), &open)| {
                    let (mut plan, coefficients) = self
                        .selection
                        .select(self.name, problem, outputs, checked)?;
                    let smoothed = self.passes.smooths(open);
                    plan.info
                        .insert("smoothed".into(), f64::from(u8::from(smoothed)));
                    let refined = *refined as f64;
                    plan.info.insert("refined".into(), refined.min(1.0));
                    plan.info.insert("refined_candidates".into(), refined);
                    plan.info.insert("pulled_back".into(), *pulled_back as f64);
                    Ok((plan, coefficients))
                },
            )
            .collect();
        let select_ms = elapsed_ms(select_started);

        let polish_started = Instant::now();
        if let Some(polish) = &self.polish {
            // Polishing is optional: where it fails, the plans stand as they are.
            let unsmoothed = |open: bool| !self.passes.smooths(open);
            if let Err(e) = polish.run(problems, &mut chosen, &open, unsmoothed) {
                tracing::warn!(error = %e, "polishing failed; the plans are kept unpolished");
            }
        }
        let polish_ms = elapsed_ms(polish_started);

        let mut plans: Vec<Result<Plan, PlanError>> = chosen
            .into_iter()
            .map(|c| c.map(|(plan, _)| plan))
            .collect();
        let total_ms = elapsed_ms(started);
        let timings = [
            ("total", total_ms),
            ("generate", generate_ms),
            ("filter", filter_ms),
            ("select", select_ms),
            ("polish", polish_ms),
        ];
        for plan in plans.iter_mut().flatten() {
            plan.record_batch(&timings, problems.len());
        }
        plans
    }

    /// `Planner::plan` of the planner: one problem through [`Self::plan_on_pool`].
    pub fn plan_one(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, PlanError> {
        self.plan_on_pool(std::slice::from_ref(problem), std::slice::from_ref(options))
            .pop()
            .unwrap_or_else(|| Err(self.failure("no plan")))
    }

    /// `Planner::plan_batch` of the planner: [`Self::plan_batch`] on rayon's pool
    /// ([`flowopt_core::on_pool`]), where the tensor work runs.
    pub fn plan_on_pool(
        &self,
        problems: &[Problem],
        options: &[PlanOptions],
    ) -> Vec<Result<Plan, PlanError>> {
        flowopt_core::on_pool(|| self.plan_batch(problems, options))
    }

    /// This planner's error.
    pub fn failure(&self, message: &str) -> PlanError {
        PlanError::Planner {
            planner: self.name.into(),
            message: message.into(),
        }
    }

    /// The same error for every problem of a batch (an input error stays one: a 4xx over
    /// HTTP, not a 5xx).
    fn fail_all(&self, problems: &[Problem], error: &PlanError) -> Vec<Result<Plan, PlanError>> {
        let copy = || match error {
            PlanError::Input(input) => PlanError::Input(input.clone()),
            PlanError::Planner { planner, message } => PlanError::Planner {
                planner: planner.clone(),
                message: message.clone(),
            },
            other => self.failure(&other.to_string()),
        };
        problems.iter().map(|_| Err(copy())).collect()
    }
}

/// `flowopt_core::Planner` for a configuration of the pipeline: a type with a `pipeline: Pipeline`
/// field, planning under `name`.
macro_rules! planner_of_pipeline {
    ($planner:ty, $name:literal) => {
        impl flowopt_core::Planner for $planner {
            fn name(&self) -> &'static str {
                $name
            }

            fn plan(
                &self,
                problem: &flowopt_core::Problem,
                options: &flowopt_core::PlanOptions,
            ) -> Result<flowopt_core::Plan, flowopt_core::PlanError> {
                self.pipeline.plan_one(problem, options)
            }

            /// Plans every problem with one candidate call per robot count and one filter
            /// batch per problem shape; each problem's plan is the one it gets alone
            /// (`Pipeline::plan_batch`), on rayon's pool.
            fn plan_batch(
                &self,
                problems: &[flowopt_core::Problem],
                options: &[flowopt_core::PlanOptions],
            ) -> Vec<Result<flowopt_core::Plan, flowopt_core::PlanError>> {
                self.pipeline.plan_on_pool(problems, options)
            }
        }
    };
}
pub(crate) use planner_of_pipeline;

#[cfg(test)]
mod tests {
    use flowopt_core::{ErrorKind, InputError, Scenario, ScenarioConfig};
    use flowopt_filter::FilterSettings;

    use super::*;
    use crate::{FilterPlanner, FilterPlannerSettings};

    /// The `filter` planner's pipeline, with 2 candidates of 0.3 m.
    fn pipeline() -> Pipeline {
        let settings = FilterPlannerSettings {
            candidates: 2,
            perturbation: 0.3,
        };
        FilterPlanner::with_settings(
            FilterSettings::default(),
            settings,
            burn::tensor::Device::flex(),
        )
        .unwrap()
        .pipeline
    }

    /// Every stage's timing and figures are reported, and a batch plans each problem as it
    /// would alone.
    #[test]
    fn a_batch_reports_every_stage_and_equals_its_problems_planned_alone() {
        let problems: Vec<Problem> = [(Scenario::Circle, 1), (Scenario::Obstacles, 2)]
            .iter()
            .map(|(s, seed)| s.generate(&ScenarioConfig::new(4).seed(*seed)).unwrap())
            .collect();
        let options = [PlanOptions { seed: 3 }, PlanOptions { seed: 4 }];
        let pipeline = pipeline();
        let batch = pipeline.plan_batch(&problems, &options);
        for (i, plan) in batch.iter().enumerate() {
            let plan = plan.as_ref().unwrap();
            assert_eq!(plan.planner, "filter");
            for stage in ["total", "generate", "filter", "select", "polish"] {
                assert!(plan.timings_ms.contains_key(stage), "{stage}");
            }
            for figure in ["candidates", "smoothed", "refined", "pulled_back"] {
                assert!(plan.info.contains_key(figure), "{figure}");
            }
            let alone = pipeline.plan_one(&problems[i], &options[i]).unwrap();
            assert_eq!(alone.trajectories, plan.trajectories);
        }
    }

    #[test]
    fn errors_are_every_problems_and_input_errors_stay_input_errors() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(3).seed(0))
            .unwrap();
        let pipeline = pipeline();
        let two = [problem.clone(), problem];
        let plans = pipeline.plan_batch(&two, &[PlanOptions::default()]);
        assert_eq!(plans.len(), 2);
        assert!(
            plans
                .iter()
                .all(|p| matches!(p, Err(PlanError::Planner { .. })))
        );
        let input = PlanError::Input(InputError::new(ErrorKind::OutOfRange, "samples", "bad"));
        let copies = pipeline.fail_all(&two, &input);
        for copy in copies {
            let Err(PlanError::Input(e)) = copy else {
                panic!("not an input error: {copy:?}");
            };
            assert_eq!(e.field, "samples");
        }
    }
}
