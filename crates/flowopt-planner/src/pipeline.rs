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
            return self.fail_all(problems, "one PlanOptions per problem is required");
        }
        let started = Instant::now();
        let refs: Vec<&Problem> = problems.iter().collect();
        let seeds: Vec<u64> = options.iter().map(|o| o.seed).collect();
        let samples = match self.source.candidates(&refs, &seeds) {
            Ok(c) => c,
            Err(e) => return self.fail_all(problems, &e.to_string()),
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
            Err(e) => return self.fail_all(problems, &e.to_string()),
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
        for plan in plans.iter_mut().flatten() {
            plan.record_batch(
                &[
                    ("total", total_ms),
                    ("generate", generate_ms),
                    ("filter", filter_ms),
                    ("select", select_ms),
                    ("polish", polish_ms),
                ],
                problems.len(),
            );
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

    /// The same failure for every problem of a batch.
    fn fail_all(&self, problems: &[Problem], message: &str) -> Vec<Result<Plan, PlanError>> {
        problems
            .iter()
            .map(|_| Err(self.failure(message)))
            .collect()
    }
}
