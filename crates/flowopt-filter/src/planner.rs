//! The `filter` planner: seeded perturbations of the straight-line plan (shortest paths around
//! obstacles where a line is blocked), projected by the safety filter in one batch, the best
//! feasible candidate kept (no generator).

use std::cell::RefCell;
use std::time::Instant;

use burn::prelude::*;
use flowopt_core::{
    Bernstein, Coefficients, ErrorKind, InputError, Plan, PlanError, PlanOptions, Planner, Problem,
    elapsed_ms, path_coefficients,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::selection::{Judged, best, feasible_verdict, reuse_or_judge};
use crate::{FilterOutput, FilterSettings, SafetyFilter};

/// Settings of the `filter` planner.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPlannerSettings {
    /// Candidates projected per problem (default 8).
    pub candidates: usize,
    /// Amplitude in metres of the random perturbation of the interior coefficients
    /// (default 0.5).
    pub perturbation: f64,
}

impl Default for FilterPlannerSettings {
    fn default() -> Self {
        Self {
            candidates: 8,
            perturbation: 0.5,
        }
    }
}

/// The `filter` planner.
#[derive(Debug, Clone)]
pub struct FilterPlanner {
    filter: SafetyFilter,
    settings: FilterPlannerSettings,
}

impl FilterPlanner {
    /// A planner running the filter with `filter_settings` on `device`.
    pub fn new(filter_settings: FilterSettings, device: Device) -> Result<Self, InputError> {
        Self::with_settings(filter_settings, FilterPlannerSettings::default(), device)
    }

    /// A planner with explicit candidate settings.
    pub fn with_settings(
        filter_settings: FilterSettings,
        settings: FilterPlannerSettings,
        device: Device,
    ) -> Result<Self, InputError> {
        if settings.candidates == 0 || settings.candidates > 1024 {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "candidates",
                "candidates must be in 1..=1024",
            ));
        }
        if !(settings.perturbation.is_finite() && settings.perturbation >= 0.0) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "perturbation",
                "perturbation must be a finite number >= 0",
            ));
        }
        Ok(Self {
            filter: SafetyFilter::new(filter_settings, device)?,
            settings,
        })
    }

    /// Starts the filter from `warm_start`'s predictions (it must live on the planner's device).
    pub fn with_warm_start(mut self, warm_start: crate::WarmStart) -> Self {
        self.filter = self.filter.with_warm_start(warm_start);
        self
    }

    /// The seeded candidates for `problem` ([`perturbed_candidates`] with this planner's count
    /// and amplitude).
    pub fn candidates(&self, problem: &Problem, seed: u64) -> Vec<Vec<Coefficients>> {
        perturbed_candidates(
            problem,
            self.settings.candidates,
            self.settings.perturbation,
            seed,
        )
    }
}

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

impl Planner for FilterPlanner {
    fn name(&self) -> &'static str {
        "filter"
    }

    fn plan(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, PlanError> {
        self.plan_batch(std::slice::from_ref(problem), std::slice::from_ref(options))
            .pop()
            .unwrap_or_else(|| Err(failure("no plan")))
    }

    /// Projects every problem's candidates in one filter batch per problem shape (each
    /// problem stops on its own, so its plan is the one it gets alone). Stage timings are
    /// those of the whole batch; `info.batch` says how many problems shared it. Runs on
    /// rayon's pool ([`flowopt_core::on_pool`]).
    fn plan_batch(
        &self,
        problems: &[Problem],
        options: &[PlanOptions],
    ) -> Vec<Result<Plan, PlanError>> {
        flowopt_core::on_pool(|| self.plan_batch_here(problems, options))
    }
}

impl FilterPlanner {
    /// [`Planner::plan_batch`], on the calling thread.
    fn plan_batch_here(
        &self,
        problems: &[Problem],
        options: &[PlanOptions],
    ) -> Vec<Result<Plan, PlanError>> {
        let _span =
            tracing::info_span!("plan", planner = "filter", problems = problems.len()).entered();
        if problems.len() != options.len() {
            return problems
                .iter()
                .map(|_| Err(failure("one PlanOptions per problem is required")))
                .collect();
        }
        let started = Instant::now();
        let candidates: Vec<Vec<Vec<Coefficients>>> = problems
            .iter()
            .zip(options)
            .map(|(p, o)| self.candidates(p, o.seed))
            .collect();
        let filter_started = Instant::now();
        // A candidate counts as done when it passes the checker (the one `select` applies):
        // the filter returns it as it was checked, and `select` reuses the verdict. One that
        // met the filter's tolerance on its samples but not the checker runs on with the
        // others.
        let verdicts: Vec<RefCell<Vec<Judged>>> =
            problems.iter().map(|_| RefCell::default()).collect();
        let passes = |p: usize, c: &[Coefficients]| {
            let verdict = feasible_verdict(&problems[p], c);
            let passed = verdict.is_some();
            verdicts[p].borrow_mut().extend(verdict);
            passed
        };
        let outputs = match self
            .filter
            .project_problems(problems, &candidates, &mut |p, c| passes(p, c))
        {
            Ok(outputs) => outputs,
            Err(e) => return problems.iter().map(|_| Err(e.clone().into())).collect(),
        };
        let filter_ms = elapsed_ms(filter_started);
        let select_started = Instant::now();
        let mut plans: Vec<_> = problems
            .iter()
            .zip(&outputs)
            .zip(verdicts)
            .map(|((problem, outputs), checked)| {
                self.select(problem, outputs, checked.into_inner())
            })
            .collect();
        let select_ms = elapsed_ms(select_started);
        let total_ms = elapsed_ms(started);
        for plan in plans.iter_mut().flatten() {
            plan.record_batch(
                &[
                    ("total", total_ms),
                    ("filter", filter_ms),
                    ("select", select_ms),
                ],
                problems.len(),
            );
        }
        plans
    }
}

impl FilterPlanner {
    /// Select: feasible (by the shared checker) with the best smoothness, else the smallest
    /// violation. `checked` holds the verdicts the filter stage's check reached (on exactly
    /// those coefficients), reused instead of judging again.
    fn select(
        &self,
        problem: &Problem,
        outputs: &[FilterOutput],
        checked: Vec<Judged>,
    ) -> Result<Plan, PlanError> {
        let outputs_ref: Vec<&FilterOutput> = outputs.iter().collect();
        let mut judged = reuse_or_judge(problem, &outputs_ref, checked)?;
        let feasible_count = judged.iter().filter(|j| j.metrics.feasible).count();
        let idx = best(&judged).ok_or_else(|| failure("no candidate"))?;
        let Judged {
            trajectories,
            metrics,
        } = judged.swap_remove(idx);
        let mut plan = Plan::with_metrics(self.name(), trajectories, metrics, 0.0);
        plan.info
            .insert("iterations".into(), outputs[idx].iterations as f64);
        plan.info.insert("candidates".into(), outputs.len() as f64);
        plan.info
            .insert("feasible_candidates".into(), feasible_count as f64);
        Ok(plan)
    }
}

fn failure(message: &str) -> PlanError {
    PlanError::Planner {
        planner: "filter".into(),
        message: message.into(),
    }
}
