//! The pipeline's first stage: where each problem's candidate joint trajectories come from.
//!
//! - [`Source::Generator`] (the `flowopt` planner): the flow-matching generator samples K
//!   candidates around each robot's guide path; a robot whose candidate dips into an obstacle
//!   is pulled back towards its obstacle-clear guide ([`crate::repair`]).
//! - [`Source::Perturbed`] (the `filter` planner): seeded perturbations of each robot's
//!   straight line, or of its shortest path around the obstacles where the line is blocked
//!   ([`flowopt_filter::perturbed_candidates`]).

use std::collections::BTreeMap;

use burn::prelude::*;
use flowopt_core::{
    Bernstein, Coefficients, DEFAULT_ORDER, GuidePaths, PlanError, Problem, guide_paths,
};
use flowopt_filter::perturbed_candidates;
use flowopt_generator::representation::decode;
use flowopt_generator::{Conditioning, FlowSampler, Generator, SampleSettings};

use crate::repair;
use crate::settings::FlowOptSettings;

/// One problem's candidates.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// K candidates, one coefficient pair per robot each.
    pub candidates: Vec<Vec<Coefficients>>,
    /// Robots (over all candidates) whose deviation from their guide path was scaled down to
    /// keep them out of the obstacles ([`repair::pull_back`]).
    pub pulled_back: usize,
    /// The robots' obstacle-clear guide paths (`flowopt_core::GuidePaths::clear`; empty for
    /// [`Source::Perturbed`], which computes none).
    pub guides: Vec<Coefficients>,
    /// Whether no robot's straight line crosses an obstacle (`flowopt_core::GuidePaths::open`;
    /// false for [`Source::Perturbed`]).
    pub open: bool,
}

/// Where candidates come from (see the module notes).
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// The generator (boxed: it is large beside the other variant).
    Generator(Box<Sampling>),
    /// `candidates` perturbations of `perturbation` metres.
    Perturbed {
        /// Candidates per problem.
        candidates: usize,
        /// Amplitude of the perturbation of the interior coefficients, metres.
        perturbation: f64,
    },
}

/// The generator, with the `flowopt` settings that say how many candidates, in how many flow
/// steps, and how deep a robot may dip before it is pulled back.
#[derive(Debug, Clone)]
pub(crate) struct Sampling {
    /// The network.
    pub generator: Generator,
    /// The settings (`candidates_for`, `flow_steps_for`, `integrator`, `pull_back_depth`).
    pub settings: FlowOptSettings,
    /// Where it samples.
    pub device: Device,
}

impl Source {
    /// Each problem's candidates (`seeds[i]` for `problems[i]`).
    pub fn candidates(
        &self,
        problems: &[&Problem],
        seeds: &[u64],
    ) -> Result<Vec<Samples>, PlanError> {
        match self {
            Self::Generator(s) => {
                sample_many(&s.generator, &s.settings, &s.device, problems, seeds)
            }
            Self::Perturbed {
                candidates,
                perturbation,
            } => Ok(problems
                .iter()
                .zip(seeds)
                .map(|(problem, &seed)| Samples {
                    candidates: perturbed_candidates(problem, *candidates, *perturbation, seed),
                    ..Samples::default()
                })
                .collect()),
        }
    }
}

/// The generator's candidates for each of `problems` (`seeds[i]` for `problems[i]`; K =
/// `candidates` in `flow_steps`, or on an open floor `open_candidates` in `open_flow_steps`), in
/// one batched sampling call per robot count, K and step count. Problems of one call share it
/// without padding, so a problem's candidates are those it gets alone (and with a smaller K, the
/// first ones of a larger). A robot whose candidate dips more than `pull_back_depth` into an
/// obstacle has its deviation from its guide path scaled down until it keeps out
/// ([`repair::pull_back`]).
fn sample_many(
    generator: &Generator,
    settings: &FlowOptSettings,
    device: &Device,
    problems: &[&Problem],
    seeds: &[u64],
) -> Result<Vec<Samples>, PlanError> {
    let _span = tracing::debug_span!(
        "generate",
        problems = problems.len(),
        candidates = settings.candidates
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
        let k = settings.candidates_for(open);
        let steps = settings.flow_steps_for(open);
        groups
            .entry((p.num_robots(), k, steps))
            .or_default()
            .push(i);
    }
    let mut out: Vec<Samples> = vec![Samples::default(); problems.len()];
    let dim = generator.net().trajectory_dim();
    for ((n, k, steps), members) in groups {
        let sampler = FlowSampler::new(
            generator.net(),
            SampleSettings {
                candidates: k,
                steps,
                integrator: settings.integrator,
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
                .map_err(|e| PlanError::Planner {
                    planner: "flowopt".into(),
                    message: format!("reading the generator's samples back: {e:?}"),
                })?
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
                    if let Some(depth) = settings.pull_back_depth {
                        pulled_back +=
                            repair::pull_back(problems[i], &guides[i].clear, &mut candidate, depth);
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

#[cfg(test)]
mod tests {
    use flowopt_core::{Scenario, ScenarioConfig};

    use super::*;

    fn problems() -> Vec<Problem> {
        [(Scenario::Circle, 4, 1), (Scenario::Warehouse, 6, 2)]
            .iter()
            .map(|(s, n, seed)| s.generate(&ScenarioConfig::new(*n).seed(*seed)).unwrap())
            .collect()
    }

    #[test]
    fn perturbed_candidates_follow_the_seed_and_the_count() {
        let problems = problems();
        let refs: Vec<&Problem> = problems.iter().collect();
        let source = Source::Perturbed {
            candidates: 3,
            perturbation: 0.5,
        };
        let a = source.candidates(&refs, &[0, 1]).unwrap();
        let b = source.candidates(&refs, &[0, 2]).unwrap();
        assert_eq!(a[0].candidates.len(), 3);
        assert_eq!(a[1].candidates[0].len(), 6, "one pair per robot");
        assert_eq!(
            a[0].candidates, b[0].candidates,
            "same seed, same candidates"
        );
        assert_ne!(a[1].candidates, b[1].candidates);
        assert!(
            a.iter()
                .all(|s| s.guides.is_empty() && !s.open && s.pulled_back == 0)
        );
    }

    /// The generator samples `candidates_for(open)` candidates: fewer on the open floor.
    #[test]
    fn the_generator_samples_fewer_candidates_on_open_floors() {
        let device = Device::flex();
        let source = Source::Generator(Box::new(Sampling {
            generator: Generator::shipped(&device).unwrap(),
            settings: FlowOptSettings::default(),
            device,
        }));
        let problems = problems();
        let refs: Vec<&Problem> = problems.iter().collect();
        let samples = source.candidates(&refs, &[0, 0]).unwrap();
        let settings = FlowOptSettings::default();
        assert!(samples[0].open && !samples[1].open);
        assert_eq!(samples[0].candidates.len(), settings.candidates_for(true));
        assert_eq!(samples[1].candidates.len(), settings.candidates_for(false));
        assert_eq!(samples[1].guides.len(), 6);
        // A problem's candidates do not depend on the others of the batch.
        let alone = source.candidates(&refs[1..], &[0]).unwrap();
        assert_eq!(alone[0].candidates, samples[1].candidates);
    }
}
