//! The full pipeline behind `flowopt plan --planner flowopt`.

use std::time::Instant;

use burn::prelude::*;
use flowopt_core::{
    Candidate, InputError, Plan, PlanError, PlanOptions, Planner, Problem, elapsed_ms,
};
use flowopt_filter::selection::{best, judge};
use flowopt_filter::{FilterSettings, Instance, SafetyFilter, WarmStart};
use flowopt_generator::representation::decode;
use flowopt_generator::{Conditioning, FlowSampler, Generator, SampleSettings};

use crate::diversity::distinct_patterns;
use crate::settings::FlowOptSettings;

/// Generator -> warm start -> filter -> selection, with the weights loaded once.
#[derive(Debug, Clone)]
pub struct FlowOptPlanner {
    generator: Generator,
    filter: SafetyFilter,
    settings: FlowOptSettings,
}

impl FlowOptPlanner {
    /// A planner from a generator and (optionally) a warm start, both loaded on `device`, where
    /// the filter runs too.
    pub fn new(
        generator: Generator,
        warm_start: Option<WarmStart>,
        settings: FlowOptSettings,
        device: Device,
    ) -> Result<Self, InputError> {
        settings.validate()?;
        let filter_settings = FilterSettings {
            max_iterations: settings.filter_iterations,
            stop_after: settings.stop_after,
            samples: settings.filter_samples,
            ..Default::default()
        };
        let mut filter = SafetyFilter::new(filter_settings, device)?;
        if let Some(warm) = warm_start {
            filter = filter.with_warm_start(warm);
        }
        Ok(Self {
            generator,
            filter,
            settings,
        })
    }

    /// The options in use.
    pub fn settings(&self) -> &FlowOptSettings {
        &self.settings
    }

    /// The generator's K candidates for `problem` (seeded), as coefficients.
    pub fn sample(
        &self,
        problem: &Problem,
        seed: u64,
    ) -> Result<Vec<Vec<flowopt_core::Coefficients>>, PlanError> {
        let _span =
            tracing::debug_span!("generate", candidates = self.settings.candidates).entered();
        let device = self.filter.device();
        let cond = Conditioning::new(&[problem], device)?;
        let sampler = FlowSampler::new(
            self.generator.net(),
            SampleSettings {
                candidates: self.settings.candidates,
                steps: self.settings.flow_steps,
                integrator: self.settings.integrator,
            },
        );
        let dim = self.generator.net().trajectory_dim();
        let x = sampler.sample(&cond, &[seed], dim);
        let [k, n, _] = x.dims();
        let values = x
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| PlanError::Planner {
                planner: "flowopt".into(),
                message: format!("reading the generator's samples back: {e:?}"),
            })?;
        let base = &cond.baselines[0];
        Ok((0..k)
            .map(|c| decode(problem, base, &values[c * n * dim..(c + 1) * n * dim]))
            .collect())
    }
}

impl Planner for FlowOptPlanner {
    fn name(&self) -> &'static str {
        "flowopt"
    }

    fn plan(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, PlanError> {
        let _span = tracing::info_span!("plan", planner = "flowopt", robots = problem.num_robots())
            .entered();
        let started = Instant::now();
        let candidates = self.sample(problem, options.seed)?;
        let generate_ms = elapsed_ms(started);
        let filter_started = Instant::now();
        let instances: Vec<Instance> = candidates
            .iter()
            .map(|candidate| Instance { problem, candidate })
            .collect();
        // A converged candidate counts towards `stop_after` only when it also passes the
        // checker (4x denser than the filter's samples): robots can meet between samples.
        let outputs = self
            .filter
            .project_accepting(&instances, &mut |_, coefficients| {
                judge(problem, &[coefficients.to_vec()])
                    .is_ok_and(|j| j.first().is_some_and(|j| j.metrics.feasible))
            })?;
        let filter_ms = elapsed_ms(filter_started);
        let select_started = Instant::now();
        let projected: Vec<_> = outputs.iter().map(|o| o.coefficients.clone()).collect();
        let mut judged = judge(problem, &projected)?;
        let idx = best(&judged).ok_or_else(|| PlanError::Planner {
            planner: "flowopt".into(),
            message: "no candidate".into(),
        })?;
        let feasible: Vec<usize> = (0..judged.len())
            .filter(|&i| judged[i].metrics.feasible)
            .collect();
        let patterns =
            distinct_patterns(feasible.iter().map(|&i| judged[i].trajectories.as_slice()));
        // Every feasible candidate, smoothest first (the chosen one leads).
        let alternatives = self.settings.return_candidates.then(|| {
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
        let select_ms = elapsed_ms(select_started);
        let mut plan = Plan::with_metrics(
            self.name(),
            chosen.trajectories,
            chosen.metrics,
            elapsed_ms(started),
        );
        plan.timings_ms.insert("generate".into(), generate_ms);
        plan.timings_ms.insert("filter".into(), filter_ms);
        plan.timings_ms.insert("select".into(), select_ms);
        plan.info.insert("candidates".into(), outputs.len() as f64);
        plan.info
            .insert("feasible_candidates".into(), feasible.len() as f64);
        plan.info
            .insert("iterations".into(), outputs[idx].iterations as f64);
        plan.info
            .insert("distinct_passing_patterns".into(), patterns as f64);
        plan.candidates = alternatives;
        Ok(plan)
    }
}
