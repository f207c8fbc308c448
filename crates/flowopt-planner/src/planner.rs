//! The full pipeline behind `flowopt plan --planner flowopt`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use burn::prelude::*;
use flowopt_core::{
    Bernstein, Candidate, Coefficients, DEFAULT_ORDER, GuidePaths, InputError, Plan, PlanError,
    PlanOptions, Planner, Problem, elapsed_ms, guide_paths,
};
use flowopt_filter::selection::{Judged, best, feasible_verdict, reuse_or_judge};
use flowopt_filter::{
    Decision, FilterOutput, FilterSettings, FilterStatus, SafetyFilter, WarmStart,
};
use flowopt_generator::representation::decode;
use flowopt_generator::{Conditioning, FlowSampler, Generator, SampleSettings};

use crate::diversity::distinct_patterns;
use crate::repair;
use crate::settings::{FlowOptSettings, POLISH_DUAL_STEP, POLISH_MIN_GAIN, SmoothingScope};

/// One problem's generator candidates.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// K candidates, one coefficient pair per robot each.
    pub candidates: Vec<Vec<Coefficients>>,
    /// Robots (over all candidates) whose deviation from their guide path was scaled down to
    /// keep them out of the obstacles ([`repair::pull_back`]).
    pub pulled_back: usize,
    /// The robots' obstacle-clear guide paths (`flowopt_core::GuidePaths::clear`).
    pub guides: Vec<Coefficients>,
    /// Whether no robot's straight line crosses an obstacle (`flowopt_core::GuidePaths::open`).
    pub open: bool,
}

/// What the filter stage leaves per problem: every candidate's output with how many were
/// refined, and the checker's verdicts on the candidates its check accepted.
type FilterStage = (Vec<(Vec<FilterOutput>, usize)>, Vec<Vec<Judged>>);

/// Generator -> warm start -> filter -> selection, with the weights loaded once.
#[derive(Debug, Clone)]
pub struct FlowOptPlanner {
    generator: Generator,
    /// The single-pass filter on `settings.filter_samples` (or the problem's samples when that
    /// is 0), used when `coarse_iterations` is 0; it also holds the warm start.
    filter: SafetyFilter,
    /// With `coarse_iterations > 0`: the first pass, on the problem's own samples.
    coarse: Option<SafetyFilter>,
    /// With `coarse_iterations > 0`: the second pass, on `filter_samples`, started from the
    /// first pass's outputs (so no warm start).
    refine: Option<SafetyFilter>,
    /// With `filter_smoothing > 0` and the open-floor scope: the first pass (or the single
    /// one) with the smoothness term, for the open problems; the others take the plain one.
    smooth: Option<SafetyFilter>,
    /// With `polish_iterations > 0`: the polishing pass, on `filter_samples`, with the
    /// smoothness term `polish_smoothing` (no warm start: it starts from a feasible plan).
    polish: Option<SafetyFilter>,
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
            sample_period: settings.filter_sample_period,
            verify_below: settings.verify_below,
            halve_every: settings.halve_every,
            dual_step: settings.dual_step,
            ..Default::default()
        };
        let adaptive = settings.coarse_iterations > 0 && settings.filter_samples > 0;
        let refine = adaptive
            .then(|| SafetyFilter::new(filter_settings.clone(), device.clone()))
            .transpose()?;
        // The smoothness term goes into the first pass only: in both passes it pulled the
        // doorway candidates back toward the wall (W = 300, N = 16: 6 of 20 solved, 17 with
        // the first pass only; README, "Smoothing").
        let first = |smoothing: f64| {
            if adaptive {
                FilterSettings {
                    // The plain multiplier step: a larger one cost smoothness on the problems
                    // the first pass solves (README, "Dual step").
                    dual_step: 1.0,
                    samples: 0,
                    sample_period: 0.0,
                    max_iterations: settings.coarse_iterations,
                    smoothing,
                    ..filter_settings.clone()
                }
            } else {
                FilterSettings {
                    smoothing,
                    ..filter_settings.clone()
                }
            }
        };
        let (everywhere, open_only) = match settings.smoothing_scope {
            SmoothingScope::All => (settings.filter_smoothing, 0.0),
            SmoothingScope::Open => (0.0, settings.filter_smoothing),
        };
        let warm = |filter: SafetyFilter| match &warm_start {
            Some(w) => filter.with_warm_start(w.clone()),
            None => filter,
        };
        let coarse = adaptive
            .then(|| SafetyFilter::new(first(everywhere), device.clone()).map(warm))
            .transpose()?;
        let smooth = (open_only > 0.0)
            .then(|| SafetyFilter::new(first(open_only), device.clone()).map(warm))
            .transpose()?;
        let polish = (settings.polish_iterations > 0 && settings.polish_smoothing > 0.0)
            .then(|| {
                SafetyFilter::new(
                    FilterSettings {
                        max_iterations: settings.polish_iterations,
                        stop_after: 1,
                        halve_every: 0,
                        dual_step: POLISH_DUAL_STEP,
                        smoothing: settings.polish_smoothing,
                        recentre: settings.polish_rounds,
                        ..filter_settings.clone()
                    },
                    device.clone(),
                )
            })
            .transpose()?;
        let single = FilterSettings {
            smoothing: everywhere,
            ..filter_settings
        };
        let filter = warm(SafetyFilter::new(single, device)?);
        Ok(Self {
            generator,
            filter,
            coarse,
            refine,
            smooth,
            polish,
            settings,
        })
    }

    /// The same generator and warm start (shared, not copied) with other options: how a
    /// service answers a request that sets `candidates`, `flow_steps`, ... without reloading.
    pub fn with_settings(&self, settings: FlowOptSettings) -> Result<Self, InputError> {
        Self::new(
            self.generator.clone(),
            self.filter.warm_start().cloned(),
            settings,
            self.filter.device().clone(),
        )
    }

    /// The options in use.
    pub fn settings(&self) -> &FlowOptSettings {
        &self.settings
    }

    /// The generator's candidates for `problem` (seeded; as many as
    /// [`FlowOptSettings::candidates_for`] says), as coefficients (pulled back where they went
    /// deep into an obstacle, see [`Self::sample_many`]).
    pub fn sample(
        &self,
        problem: &Problem,
        seed: u64,
    ) -> Result<Vec<Vec<Coefficients>>, PlanError> {
        Ok(self
            .sample_many(&[problem], &[seed])?
            .swap_remove(0)
            .candidates)
    }

    /// The generator's candidates for each of `problems` (`seeds[i]` for `problems[i]`; K =
    /// `candidates` in `flow_steps`, or on an open floor `open_candidates` in
    /// `open_flow_steps`), in one batched sampling call per robot count, K and step count.
    /// Problems of one call share it without padding, so a problem's candidates are those it
    /// gets alone (and with a smaller K, the first ones of a larger). A robot whose candidate
    /// dips more than `pull_back_depth` into an obstacle has its deviation from its guide path
    /// scaled down until it keeps out ([`repair::pull_back`]).
    pub fn sample_many(
        &self,
        problems: &[&Problem],
        seeds: &[u64],
    ) -> Result<Vec<Samples>, PlanError> {
        let _span = tracing::debug_span!(
            "generate",
            problems = problems.len(),
            candidates = self.settings.candidates
        )
        .entered();
        let basis = Bernstein::new(DEFAULT_ORDER)?;
        // One grid search per problem: the plain guides are the generator's coordinates, the
        // clear ones what the pull-back aims at; whether the floor is open sets the problem's
        // candidate count.
        let guides: Vec<GuidePaths> = {
            let _span = tracing::debug_span!("guides", problems = problems.len()).entered();
            problems.iter().map(|p| guide_paths(p, &basis)).collect()
        };
        // Problems sharing a robot count, a candidate count and a step count share one
        // sampling call.
        let mut groups: BTreeMap<(usize, usize, usize), Vec<usize>> = BTreeMap::new();
        for (i, p) in problems.iter().enumerate() {
            let open = guides[i].open();
            let k = self.settings.candidates_for(open);
            let steps = self.settings.flow_steps_for(open);
            groups
                .entry((p.num_robots(), k, steps))
                .or_default()
                .push(i);
        }
        let mut out: Vec<Samples> = vec![Samples::default(); problems.len()];
        let device = self.filter.device();
        let dim = self.generator.net().trajectory_dim();
        for ((n, k, steps), members) in groups {
            let sampler = FlowSampler::new(
                self.generator.net(),
                SampleSettings {
                    candidates: k,
                    steps,
                    integrator: self.settings.integrator,
                },
            );
            let group: Vec<&Problem> = members.iter().map(|&i| problems[i]).collect();
            let group_seeds: Vec<u64> = members.iter().map(|&i| seeds[i]).collect();
            let cond = Conditioning::with_baselines(
                &group,
                members.iter().map(|&i| guides[i].plain.clone()).collect(),
                device,
            )?;
            let values = {
                let _span = tracing::debug_span!("sample", robots = n).entered();
                sampler
                    .sample(&cond, &group_seeds, dim)
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .map_err(|e| failure(format!("reading the generator's samples back: {e:?}")))?
            };
            let entry = n * dim;
            for (j, &i) in members.iter().enumerate() {
                let base = &cond.baselines[j];
                let mut pulled_back = 0;
                let candidates = (0..k)
                    .map(|c| {
                        let e = j * k + c;
                        let mut candidate =
                            decode(problems[i], base, &values[e * entry..(e + 1) * entry]);
                        if let Some(depth) = self.settings.pull_back_depth {
                            pulled_back += repair::pull_back(
                                problems[i],
                                &guides[i].clear,
                                &mut candidate,
                                depth,
                            );
                        }
                        candidate
                    })
                    .collect();
                out[i] = Samples {
                    candidates,
                    pulled_back,
                    guides: guides[i].clear.clone(),
                    open: guides[i].open(),
                };
            }
        }
        Ok(out)
    }

    /// Filters every problem's candidates, each problem stopping at its first candidate that
    /// converges and passes the checker (4x denser than the filter's samples: robots can meet
    /// between samples). With `coarse_iterations > 0`, a first pass of at most that many
    /// iterations constrains the problem's own samples, and only the problems none of whose
    /// candidates passed are filtered again on `filter_samples`, projecting where the first pass
    /// left their candidates (no warm start: they are already close); with successive halving,
    /// only the better half of the candidates the first pass kept to its end. The flag says
    /// how many candidates of each problem were refined (0: not refined). Also returns, per
    /// problem, the checker's verdicts on the candidates its check accepted, so that
    /// [`Self::select`] need not judge them again.
    fn filter_stage(
        &self,
        problems: &[Problem],
        candidates: &[Vec<Vec<Coefficients>>],
        guides: &[Vec<Coefficients>],
        open: &[bool],
    ) -> Result<FilterStage, PlanError> {
        let passed = vec![Cell::new(false); problems.len()];
        let verdicts = vec![RefCell::new(Vec::new()); problems.len()];
        let accept = |p: usize, coefficients: &[Coefficients]| {
            let feasible = feasible_verdict(&problems[p], coefficients);
            let ok = feasible.is_some();
            verdicts[p].borrow_mut().extend(feasible);
            passed[p].set(passed[p].get() || ok);
            ok
        };
        let verdicts_of = |verdicts: Vec<RefCell<Vec<Judged>>>| {
            verdicts.into_iter().map(RefCell::into_inner).collect()
        };
        let (Some(coarse), Some(refine)) = (&self.coarse, &self.refine) else {
            let outputs = self.first_pass(&self.filter, problems, candidates, open, &accept)?;
            let outputs = outputs.into_iter().map(|o| (o, 0)).collect();
            return Ok((outputs, verdicts_of(verdicts)));
        };
        let first = {
            let _span = tracing::debug_span!("coarse", problems = problems.len()).entered();
            self.first_pass(coarse, problems, candidates, open, &accept)?
        };
        let again: Vec<usize> = (0..problems.len())
            .filter(|&p| {
                !passed[p].get()
                    && problems[p].samples < refine.settings().samples_for(&problems[p])
            })
            .collect();
        let mut outputs: Vec<(Vec<FilterOutput>, usize)> =
            first.into_iter().map(|o| (o, 0)).collect();
        if again.is_empty() {
            return Ok((outputs, verdicts_of(verdicts)));
        }
        let _span = tracing::debug_span!("refine", problems = again.len()).entered();
        let subset: Vec<Problem> = again.iter().map(|&p| problems[p].clone()).collect();
        // Successive halving goes on across the passes: of the candidates the first pass kept
        // to its end, the better half by residual is refined; the others are flagged dropped
        // and stay as the first pass left them. Without halving, every candidate is refined.
        let halving = refine.settings().halve_every > 0;
        let mut live: Vec<Vec<usize>> = Vec::with_capacity(again.len());
        for &p in &again {
            let first = &mut outputs[p].0;
            let all: Vec<usize> = (0..first.len()).collect();
            if !halving {
                live.push(all);
                continue;
            }
            let mut kept: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&c| first[c].status != FilterStatus::Dropped)
                .collect();
            if kept.is_empty() {
                kept = all;
            }
            kept.sort_by(|&a, &b| first[a].residual.total_cmp(&first[b].residual));
            for &c in &kept[kept.len().div_ceil(2)..] {
                first[c].status = FilterStatus::Dropped;
            }
            kept.truncate(kept.len().div_ceil(2));
            live.push(kept);
        }
        let starts: Vec<Vec<Vec<Coefficients>>> = again
            .iter()
            .zip(&live)
            .map(|(&p, live)| {
                live.iter()
                    .map(|&c| {
                        let mut start = outputs[p].0[c].coefficients.clone();
                        if let Some(depth) = self.settings.pull_back_depth {
                            repair::pull_back(&problems[p], &guides[p], &mut start, depth);
                        }
                        start
                    })
                    .collect()
            })
            .collect();
        let second = refine.project_problems(&subset, &starts, &mut |i, coefficients| {
            accept(again[i], coefficients)
        })?;
        for ((&p, live), refined) in again.iter().zip(&live).zip(second) {
            for (&c, output) in live.iter().zip(refined) {
                outputs[p].0[c] = output;
            }
            outputs[p].1 = live.len();
        }
        Ok((outputs, verdicts_of(verdicts)))
    }

    /// Whether the first pass has the smoothness term for a problem (`open`: no robot's
    /// straight line is blocked).
    fn smooths(&self, open: bool) -> bool {
        match self.settings.smoothing_scope {
            SmoothingScope::All => self.settings.filter_smoothing > 0.0,
            SmoothingScope::Open => open && self.smooth.is_some(),
        }
    }

    /// The first (or only) filter pass: the problems it smooths (see [`Self::smooths`])
    /// through the smoothing filter at their robot count's weight
    /// ([`FlowOptSettings::smoothing_for`]), the others through `plain`; one call per
    /// filter. Outputs in the problems' order.
    fn first_pass(
        &self,
        plain: &SafetyFilter,
        problems: &[Problem],
        candidates: &[Vec<Vec<Coefficients>>],
        open: &[bool],
        accept: &dyn Fn(usize, &[Coefficients]) -> bool,
    ) -> Result<Vec<Vec<FilterOutput>>, PlanError> {
        // Per problem: `None` for the plain pass, else the smoothness weight's bits. With the
        // open-floor scope the smoothing filter is `self.smooth`; with every problem in scope
        // it is `plain` itself.
        let smoothing = self.smooth.as_ref().unwrap_or(plain);
        let key = |p: usize| {
            self.smooths(open[p]).then(|| {
                self.settings
                    .smoothing_for(problems[p].robots.len())
                    .to_bits()
            })
        };
        let keys: BTreeSet<Option<u64>> = (0..problems.len()).map(key).collect();
        if keys.len() == 1 && keys.contains(&None) {
            return Ok(plain.project_problems(problems, candidates, &mut |p, c| accept(p, c))?);
        }
        let mut outputs = vec![Vec::new(); problems.len()];
        for k in keys {
            let derived;
            let filter = match k {
                None => plain,
                Some(w) if f64::from_bits(w) == smoothing.settings().smoothing => smoothing,
                Some(w) => {
                    derived = with_smoothing(smoothing, f64::from_bits(w))?;
                    &derived
                }
            };
            let members: Vec<usize> = (0..problems.len()).filter(|&p| key(p) == k).collect();
            let subset: Vec<Problem> = members.iter().map(|&p| problems[p].clone()).collect();
            let starts: Vec<_> = members.iter().map(|&p| candidates[p].clone()).collect();
            let filtered =
                filter.project_problems(&subset, &starts, &mut |i, c| accept(members[i], c))?;
            for (&p, output) in members.iter().zip(filtered) {
                outputs[p] = output;
            }
        }
        Ok(outputs)
    }

    /// The plan of `problem` from its filtered candidates: the best one, with the feasible
    /// alternatives when asked for. `checked` holds verdicts the filter stage's check already
    /// reached (on exactly those coefficients), which are reused instead of judging again.
    fn select(
        &self,
        problem: &Problem,
        all: &[FilterOutput],
        checked: Vec<Judged>,
    ) -> Result<(Plan, Vec<Coefficients>), PlanError> {
        // Without alternatives to return, the candidates the filter stage's check accepted are
        // the only ones worth judging again (for their metrics); with none, all are judged for
        // the least violation.
        let outputs: Vec<&FilterOutput> =
            if !self.settings.return_candidates && all.iter().any(|o| o.accepted) {
                all.iter().filter(|o| o.accepted).collect()
            } else {
                all.iter().collect()
            };
        let mut judged = reuse_or_judge(problem, &outputs, checked)?;
        let idx = best(&judged).ok_or_else(|| failure("no candidate".into()))?;
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
        let mut plan = Plan::with_metrics(self.name(), chosen.trajectories, chosen.metrics, 0.0);
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

    /// The polishing pass ([`FlowOptSettings::polish_iterations`]) over the feasible plans of
    /// the problems the first pass did not smooth: each is filtered from its own coefficients
    /// with the smoothness term, in proximal rounds ([`FlowOptSettings::polish_rounds`]), and
    /// replaced by the smoothest point that passed the checker where that is smoother. Marks
    /// every plan's `info.polished` (1: replaced) and `info.polish_rounds` (points that passed).
    fn polish_stage(
        &self,
        problems: &[Problem],
        plans: &mut [Result<(Plan, Vec<Coefficients>), PlanError>],
        open: &[bool],
    ) -> Result<(), PlanError> {
        for (plan, _) in plans.iter_mut().flatten() {
            plan.info.insert("polished".into(), 0.0);
            plan.info.insert("polish_rounds".into(), 0.0);
        }
        let Some(polish) = &self.polish else {
            return Ok(());
        };
        if self.settings.return_candidates {
            return Ok(());
        }
        let wanted: Vec<usize> = (0..problems.len())
            .filter(|&p| {
                !self.smooths(open[p])
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
        polish.decide_problems(&subset, &starts, &mut |i, c| {
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
        })?;
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

/// `filter` with another smoothness weight (same device, settings and warm start).
fn with_smoothing(filter: &SafetyFilter, smoothing: f64) -> Result<SafetyFilter, InputError> {
    let settings = FilterSettings {
        smoothing,
        ..filter.settings().clone()
    };
    let derived = SafetyFilter::new(settings, filter.device().clone())?;
    Ok(match filter.warm_start() {
        Some(w) => derived.with_warm_start(w.clone()),
        None => derived,
    })
}

fn failure(message: String) -> PlanError {
    PlanError::Planner {
        planner: "flowopt".into(),
        message,
    }
}

/// The same failure for every problem of a batch.
fn fail_all(problems: &[Problem], message: &str) -> Vec<Result<Plan, PlanError>> {
    problems
        .iter()
        .map(|_| Err(failure(message.to_string())))
        .collect()
}

impl Planner for FlowOptPlanner {
    fn name(&self) -> &'static str {
        "flowopt"
    }

    fn plan(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, PlanError> {
        self.plan_batch(std::slice::from_ref(problem), std::slice::from_ref(options))
            .pop()
            .unwrap_or_else(|| Err(failure("no plan".into())))
    }

    /// Plans every problem with one generator call per robot count and one filter batch per
    /// problem shape; each problem's plan is the one it gets alone. Stage timings are those of
    /// the whole batch (`info.batch` says how many problems shared it). Runs on rayon's pool
    /// ([`flowopt_core::on_pool`]).
    fn plan_batch(
        &self,
        problems: &[Problem],
        options: &[PlanOptions],
    ) -> Vec<Result<Plan, PlanError>> {
        flowopt_core::on_pool(|| self.plan_batch_here(problems, options))
    }
}

impl FlowOptPlanner {
    /// [`Planner::plan_batch`], on the calling thread.
    fn plan_batch_here(
        &self,
        problems: &[Problem],
        options: &[PlanOptions],
    ) -> Vec<Result<Plan, PlanError>> {
        let _span =
            tracing::info_span!("plan", planner = "flowopt", problems = problems.len()).entered();
        if problems.len() != options.len() {
            return fail_all(problems, "one PlanOptions per problem is required");
        }
        let started = Instant::now();
        let refs: Vec<&Problem> = problems.iter().collect();
        let seeds: Vec<u64> = options.iter().map(|o| o.seed).collect();
        let samples = match self.sample_many(&refs, &seeds) {
            Ok(c) => c,
            Err(e) => return fail_all(problems, &e.to_string()),
        };
        let (candidates, rest): (Vec<_>, Vec<_>) = samples
            .into_iter()
            .map(|s| (s.candidates, (s.pulled_back, (s.guides, s.open))))
            .unzip();
        let (pulled_back, rest): (Vec<_>, Vec<_>) = rest.into_iter().unzip();
        let (guides, open): (Vec<_>, Vec<bool>) = rest.into_iter().unzip();
        let generate_ms = elapsed_ms(started);
        let filter_started = Instant::now();
        let (outputs, checked) = match self.filter_stage(problems, &candidates, &guides, &open) {
            Ok(stage) => stage,
            Err(e) => return fail_all(problems, &e.to_string()),
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
                    let (mut plan, coefficients) = self.select(problem, outputs, checked)?;
                    plan.info
                        .insert("smoothed".into(), f64::from(u8::from(self.smooths(open))));
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
        // Polishing is optional: where it fails, the plans stand as they are.
        if let Err(e) = self.polish_stage(problems, &mut chosen, &open) {
            tracing::warn!(error = %e, "polishing failed; the plans are kept unpolished");
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
}
