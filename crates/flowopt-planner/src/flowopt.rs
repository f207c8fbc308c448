//! The `flowopt` planner: the [`Pipeline`] with the generator as its candidate source, a
//! coarse and a refining filter pass (the first with a smoothness term on open floors), and
//! polishing.

use burn::prelude::*;
use flowopt_core::{Coefficients, InputError, PlanError, Problem};
use flowopt_filter::{FilterSettings, SafetyFilter, WarmStart};
use flowopt_generator::Generator;

use crate::passes::{Pass, Passes, Smoothing};
use crate::pipeline::Pipeline;
use crate::polish::Polish;
use crate::select::Selection;
use crate::settings::{FlowOptSettings, POLISH_DUAL_STEP, SmoothingScope};
use crate::source::{Samples, Sampling, Source};

/// Generator -> warm start -> filter passes -> selection -> polishing, with the weights
/// loaded once.
#[derive(Debug, Clone)]
pub struct FlowOptPlanner {
    pipeline: Pipeline,
    generator: Generator,
    warm_start: Option<WarmStart>,
    device: Device,
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
        let pipeline = Pipeline {
            name: "flowopt",
            source: Source::Generator(Box::new(Sampling {
                generator: generator.clone(),
                settings,
                device: device.clone(),
            })),
            passes: passes(&settings, warm_start.as_ref(), &device)?,
            selection: Selection {
                alternatives: settings.return_candidates,
                accepted_only: true,
            },
            polish: Some(Polish {
                filter: polish_filter(&settings, &device)?,
            }),
        };
        Ok(Self {
            pipeline,
            generator,
            warm_start,
            device,
            settings,
        })
    }

    /// The same generator and warm start (shared, not copied) with other options: how a
    /// service answers a request that sets `candidates`, `flow_steps`, ... without reloading.
    pub fn with_settings(&self, settings: FlowOptSettings) -> Result<Self, InputError> {
        Self::new(
            self.generator.clone(),
            self.warm_start.clone(),
            settings,
            self.device.clone(),
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
    /// scaled down until it keeps out ([`crate::repair::pull_back`]).
    pub fn sample_many(
        &self,
        problems: &[&Problem],
        seeds: &[u64],
    ) -> Result<Vec<Samples>, PlanError> {
        self.pipeline.source.candidates(problems, seeds)
    }
}

/// The filter passes of `settings`: with `coarse_iterations > 0`, a first pass on the problem's
/// own samples and a refining pass on `filter_samples` for the problems none of whose
/// candidates then passed the checker (from where the first pass left them: no warm start);
/// else one pass on `filter_samples`. The smoothness term goes into the first pass only, on the
/// problems `smoothing_scope` names.
fn passes(
    settings: &FlowOptSettings,
    warm_start: Option<&WarmStart>,
    device: &Device,
) -> Result<Passes, InputError> {
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
    // The smoothness term goes into the first pass only: in both passes it pulled the
    // doorway candidates back toward the wall (W = 300, N = 16: 6 of 20 solved, 17 with
    // the first pass only; docs/tuning.md#smoothing).
    let first = |smoothing: f64| {
        if adaptive {
            FilterSettings {
                // The plain multiplier step: a larger one cost smoothness on the problems
                // the first pass solves (docs/tuning.md#dual-step).
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
    let warm = |filter: SafetyFilter| match warm_start {
        Some(w) => filter.with_warm_start(w.clone()),
        None => filter,
    };
    let open_floors = (open_only > 0.0)
        .then(|| SafetyFilter::new(first(open_only), device.clone()).map(warm))
        .transpose()?;
    let mut passes = vec![Pass {
        filter: warm(SafetyFilter::new(first(everywhere), device.clone())?),
        smoothing: Some(Smoothing {
            open_floors,
            settings: *settings,
        }),
    }];
    if adaptive {
        passes.push(Pass {
            filter: SafetyFilter::new(filter_settings, device.clone())?,
            smoothing: None,
        });
    }
    Ok(Passes {
        passes,
        pull_back_depth: settings.pull_back_depth,
    })
}

/// The polishing pass of `settings`, on `filter_samples` with the smoothness term
/// `polish_smoothing` (no warm start: it starts from a feasible plan); `None` when polishing
/// is off or alternatives are returned.
fn polish_filter(
    settings: &FlowOptSettings,
    device: &Device,
) -> Result<Option<SafetyFilter>, InputError> {
    if settings.polish_iterations == 0
        || settings.polish_smoothing <= 0.0
        || settings.return_candidates
    {
        return Ok(None);
    }
    let polish = FilterSettings {
        max_iterations: settings.polish_iterations,
        stop_after: 1,
        samples: settings.filter_samples,
        sample_period: settings.filter_sample_period,
        verify_below: settings.verify_below,
        halve_every: 0,
        dual_step: POLISH_DUAL_STEP,
        smoothing: settings.polish_smoothing,
        recentre: settings.polish_rounds,
        ..Default::default()
    };
    Ok(Some(SafetyFilter::new(polish, device.clone())?))
}

crate::pipeline::planner_of_pipeline!(FlowOptPlanner, "flowopt");
