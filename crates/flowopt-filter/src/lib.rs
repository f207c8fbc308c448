//! Flow-Opt's safety filter: a batched, differentiable augmented-Lagrangian projection of
//! candidate joint trajectories onto the constraints (DESIGN.md section 3), written in Burn
//! tensors so the same code runs on the CPU (flex) and on GPUs (wgpu) and under autodiff.
//!
//! [`SafetyFilter::project`] takes any number of (problem, candidate) instances, groups them by
//! shape (robots, obstacles, samples), runs each group as one batch and returns, per instance,
//! the projected coefficients, the residual and the iteration count. [`WarmStart`] is the
//! learned warm start (a permutation-equivariant network predicting the solver's starting point,
//! trained through the unrolled solver by [`warmstart::train`]); the shipped weights are
//! embedded. [`perturbed_candidates`] makes starting candidates without a generator. The
//! planners built on the filter (`filter`, `flowopt`) live in `flowopt-planner`.
//!
//! ```no_run
//! use burn::tensor::Device;
//! use flowopt_core::{Scenario, ScenarioConfig};
//! use flowopt_filter::{FilterSettings, Instance, SafetyFilter, perturbed_candidates};
//!
//! let problem = Scenario::Circle.generate(&ScenarioConfig::new(8).seed(1)).unwrap();
//! let candidate = perturbed_candidates(&problem, 1, 0.5, 0).swap_remove(0);
//! let filter = SafetyFilter::new(FilterSettings::default(), Device::flex()).unwrap();
//! let out = filter.project(&[Instance { problem: &problem, candidate: &candidate }]).unwrap();
//! assert!(out[0].residual < 1e-3);
//! ```
#![warn(missing_docs)]

mod batch;
mod candidates;
mod discs;
pub mod flops;
mod iteration;
mod kkt;
mod lanes;
mod projection;
mod settings;
mod solution;
pub mod solver;
pub mod warmstart;

use std::collections::BTreeMap;

use burn::prelude::*;
use flowopt_core::{Coefficients, DEFAULT_ORDER, ErrorKind, InputError};

pub use batch::{Batch, Instance, pair_order};
pub use candidates::perturbed_candidates;
pub use projection::Projection;
pub use settings::{FilterSettings, MAX_SAMPLES, SAMPLE_STEP};
pub use solution::{FilterOutput, FilterStatus};
pub use solver::Decision;
pub use warmstart::{WarmStart, WarmStartConfig, WarmStartError};

/// The safety filter on one device.
#[derive(Debug, Clone)]
pub struct SafetyFilter {
    settings: FilterSettings,
    device: Device,
    warm_start: Option<WarmStart>,
}

impl SafetyFilter {
    /// A filter with validated `settings` running on `device`.
    pub fn new(settings: FilterSettings, device: Device) -> Result<Self, InputError> {
        settings.validate()?;
        Ok(Self {
            settings,
            device,
            warm_start: None,
        })
    }

    /// Starts every projection from the warm start's prediction instead of (cbar, 0). The
    /// network must live on this filter's device.
    pub fn with_warm_start(mut self, warm_start: WarmStart) -> Self {
        self.warm_start = Some(warm_start);
        self
    }

    /// The warm start, if any.
    pub fn warm_start(&self) -> Option<&WarmStart> {
        self.warm_start.as_ref()
    }

    /// The settings.
    pub fn settings(&self) -> &FilterSettings {
        &self.settings
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Builds the batch of `instances` (all of one shape) on this filter's device.
    pub fn batch(&self, instances: &[Instance]) -> Result<Batch, InputError> {
        Batch::new(instances, &self.settings, DEFAULT_ORDER, &self.device)
    }

    /// Projects every instance of `request` (a [`Projection`], or `&instances`), starting from
    /// the warm start's prediction or else from its candidate with zero multipliers. Instances
    /// are grouped by shape (robots, obstacles, samples) and each group runs as one batch;
    /// results keep the request's order.
    pub fn project<'a, 'c>(
        &self,
        request: impl Into<Projection<'a, 'c>>,
    ) -> Result<Vec<FilterOutput>, InputError> {
        let Projection {
            instances,
            owners,
            by_owner,
            mut check,
        } = request.into();
        let mut decide = |i: usize, c: &[Coefficients]| match &mut check {
            Some(check) => check(if by_owner { owners[i] } else { i }, c),
            None => Decision::Accept,
        };
        let _span = tracing::debug_span!("filter", instances = instances.len()).entered();
        if owners.len() != instances.len() {
            return Err(InputError::new(
                ErrorKind::Shape,
                "owners",
                format!("{} owners for {} instances", owners.len(), instances.len()),
            ));
        }
        let mut shapes: BTreeMap<(usize, usize, usize), Vec<usize>> = BTreeMap::new();
        for (i, inst) in instances.iter().enumerate() {
            let p = inst.problem;
            let samples = self.settings.samples_for(p);
            shapes
                .entry((p.num_robots(), p.obstacles.len(), samples))
                .or_default()
                .push(i);
        }
        let mut out: Vec<Option<FilterOutput>> = vec![None; instances.len()];
        for members in shapes.values() {
            let group: Vec<Instance> = members
                .iter()
                .map(|&i| Instance {
                    problem: instances[i].problem,
                    candidate: instances[i].candidate,
                })
                .collect();
            // Owners renumbered 0.. within this batch.
            let mut renumber = BTreeMap::new();
            let groups: Vec<usize> = members
                .iter()
                .map(|&i| {
                    let next = renumber.len();
                    *renumber.entry(owners[i]).or_insert(next)
                })
                .collect();
            let batch = self.batch(&group)?;
            let (c0, lambda0) = match &self.warm_start {
                Some(warm) => {
                    let start = warm.predict(&group, &batch, &self.settings);
                    (start.c0, start.lambda0)
                }
                None => (batch.cbar.clone(), batch.cbar.zeros_like()),
            };
            let run = solver::run_grouped(
                &batch,
                c0,
                lambda0,
                &self.settings,
                &groups,
                &mut |current, c, newly| {
                    let coefficients = coefficients_of(current, c.clone());
                    newly
                        .iter()
                        .map(|&(row, i)| (i, decide(members[i], &coefficients[row])))
                        .collect()
                },
            );
            let coefficients = coefficients_of(&batch, run.c);
            for (j, (slot, coefficients)) in members.iter().zip(coefficients).enumerate() {
                let conv = run.converged[j];
                out[*slot] = Some(FilterOutput {
                    coefficients,
                    residual: run.residual[j],
                    iterations: conv.unwrap_or(run.iterations[j]),
                    status: match conv {
                        Some(_) => FilterStatus::Converged,
                        None if run.accepted[j] => FilterStatus::Verified,
                        None if run.dropped[j] => FilterStatus::Dropped,
                        None if run.iterations[j] < self.settings.max_iterations => {
                            FilterStatus::Stopped
                        }
                        None => FilterStatus::MaxIterations,
                    },
                    accepted: run.accepted[j],
                });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

/// Host coefficients of a (B, 2, N K) tensor.
pub fn coefficients_of(batch: &Batch, c: Tensor<3>) -> Vec<Vec<Coefficients>> {
    let values = c
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let (n, k) = (batch.robots, batch.k);
    let nk = n * k;
    (0..batch.size)
        .map(|b| {
            (0..n)
                .map(|i| {
                    let axis = |a: usize| -> Vec<f64> {
                        let start = (b * 2 + a) * nk + i * k;
                        values[start..start + k]
                            .iter()
                            .map(|&v| f64::from(v))
                            .collect()
                    };
                    Coefficients {
                        x: axis(0),
                        y: axis(1),
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    use flowopt_core::{
        Plan, Problem, Scenario, ScenarioConfig, StraightPlanner, max_coefficient_difference,
    };

    /// The shared checker's verdict on each of `candidates` of `problem`.
    fn judge(problem: &Problem, candidates: &[Vec<Coefficients>]) -> Result<Vec<Plan>, InputError> {
        candidates
            .iter()
            .map(|c| Plan::from_coefficients("filter", problem, c.clone(), Instant::now()))
            .collect()
    }

    fn cpu() -> Device {
        Device::flex()
    }

    fn straight(problem: &Problem) -> Vec<Coefficients> {
        StraightPlanner::default().coefficients(problem)
    }

    /// The first of the `filter` planner's candidates (8 at 0.5 m).
    fn perturbed(problem: &Problem, seed: u64) -> Vec<Coefficients> {
        perturbed_candidates(problem, 8, 0.5, seed).swap_remove(0)
    }

    #[test]
    fn permuting_robots_permutes_the_output() {
        let problem = Scenario::Random
            .generate(&ScenarioConfig::new(6).seed(5))
            .unwrap();
        let candidate = perturbed(&problem, 1);
        let order = [3usize, 0, 5, 1, 4, 2];
        let mut permuted = problem.clone();
        permuted.robots = order.iter().map(|&i| problem.robots[i]).collect();
        let permuted_candidate: Vec<Coefficients> =
            order.iter().map(|&i| candidate[i].clone()).collect();
        let filter = SafetyFilter::new(
            FilterSettings {
                max_iterations: 60,
                ..Default::default()
            },
            cpu(),
        )
        .unwrap();
        let out = filter
            .project(&[
                Instance {
                    problem: &problem,
                    candidate: &candidate,
                },
                Instance {
                    problem: &permuted,
                    candidate: &permuted_candidate,
                },
            ])
            .unwrap();
        let expected: Vec<Coefficients> = order
            .iter()
            .map(|&i| out[0].coefficients[i].clone())
            .collect();
        assert!(max_coefficient_difference(&expected, &out[1].coefficients) < 1e-4);
    }

    /// With `stop_after: 1` the batch stops at the first check where one candidate has
    /// converged: that one is below the tolerance, the rest are returned unconverged, flagged.
    #[test]
    fn a_batch_can_stop_at_its_first_converged_candidates() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(6).seed(3))
            .unwrap();
        let mut candidates: Vec<Vec<Coefficients>> =
            (0..4).map(|s| perturbed(&problem, s)).collect();
        // A straight-line swap through the centre converges last.
        candidates.push(straight(&problem));
        let instances = Instance::each(&problem, &candidates);
        let all = SafetyFilter::new(FilterSettings::default(), cpu())
            .unwrap()
            .project(&instances)
            .unwrap();
        let first = all.iter().map(|o| o.iterations).min().unwrap();
        assert!(
            all.iter().any(|o| o.iterations > first),
            "every candidate converged at the same check: {:?}",
            all.iter().map(|o| o.iterations).collect::<Vec<_>>()
        );
        let settings = FilterSettings {
            stop_after: 1,
            ..Default::default()
        };
        let early = SafetyFilter::new(settings.clone(), cpu())
            .unwrap()
            .project(&instances)
            .unwrap();
        let tol = settings.tolerance as f32;
        assert!(early.iter().all(|o| o.iterations <= first));
        assert!(
            early
                .iter()
                .any(|o| o.status == FilterStatus::Converged && o.residual <= tol)
        );
        for (e, a) in early.iter().zip(&all) {
            if a.iterations > first {
                assert_eq!(e.status, FilterStatus::Stopped);
                assert_eq!(e.iterations, first);
            }
        }
    }

    /// Circle N = 6 (seed 3) and three perturbed candidates, none converged at the first check.
    fn circle_6_with_3_candidates() -> (Problem, Vec<Vec<Coefficients>>) {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(6).seed(3))
            .unwrap();
        let candidates = (0..3).map(|s| perturbed(&problem, s)).collect();
        (problem, candidates)
    }

    /// With `verify_below`, the candidate nearest to feasibility is offered to the caller's
    /// check before it converges, one per check; taking it stops the batch there, flagged
    /// `Verified` and `accepted`. Without it, only converged candidates are offered.
    #[test]
    fn an_unconverged_candidate_can_be_verified_and_taken() {
        let (problem, candidates) = circle_6_with_3_candidates();
        let instances = Instance::each(&problem, &candidates);
        let settings = FilterSettings {
            stop_after: 1,
            verify_below: 1e3,
            ..Default::default()
        };
        let filter = SafetyFilter::new(settings.clone(), cpu()).unwrap();
        // Every candidate is within `verify_below`, none has converged at the first check:
        // exactly one is offered there, and taking it stops the batch.
        let mut offers = Vec::new();
        let out = filter
            .project(Projection::of(&instances).accepting(&mut |i, _| {
                offers.push(i);
                true
            }))
            .unwrap();
        assert_eq!(offers.len(), 1, "offered {offers:?}");
        let taken = offers[0];
        for (i, o) in out.iter().enumerate() {
            assert_eq!(o.accepted, i == taken, "candidate {i}: {o:?}");
            assert_eq!(o.iterations, settings.check_every);
        }
        assert_eq!(out[taken].status, FilterStatus::Verified);
        let tol = settings.tolerance as f32;
        assert!(out[taken].residual > tol);
        // The one offered is the nearest to feasibility.
        assert!(out.iter().all(|o| o.residual >= out[taken].residual));
        // Off: nothing is offered before it converges.
        let plain = SafetyFilter::new(
            FilterSettings {
                verify_below: 0.0,
                ..settings
            },
            cpu(),
        )
        .unwrap();
        let out = plain.project(&instances).unwrap();
        assert!(out.iter().any(|o| o.accepted));
        for o in &out {
            assert_ne!(o.status, FilterStatus::Verified);
            if o.accepted {
                assert!(o.status == FilterStatus::Converged && o.residual <= tol);
            }
        }
    }

    /// A candidate the caller's check takes is returned as it was taken, also when its batch
    /// runs on for the others (`stop_after` 0): what was checked is what comes back.
    #[test]
    fn a_taken_candidate_leaves_the_batch_as_it_was_taken() {
        let (problem, candidates) = circle_6_with_3_candidates();
        let instances = Instance::each(&problem, &candidates);
        let settings = FilterSettings {
            stop_after: 0,
            verify_below: 1e3,
            ..Default::default()
        };
        let filter = SafetyFilter::new(settings.clone(), cpu()).unwrap();
        // Each candidate is taken the first time it is offered (one per check, before it
        // converges); the batch runs until all three are taken.
        let mut taken: Vec<Option<Vec<Coefficients>>> = vec![None; 3];
        let out = filter
            .project(Projection::of(&instances).accepting(&mut |i, c| {
                taken[i].get_or_insert_with(|| c.to_vec());
                true
            }))
            .unwrap();
        let mut iterations: Vec<usize> = out.iter().map(|o| o.iterations).collect();
        for (i, o) in out.iter().enumerate() {
            assert!(o.accepted, "candidate {i}: {o:?}");
            let at_take = taken[i].as_ref().unwrap();
            let diff = max_coefficient_difference(at_take, &o.coefficients);
            assert!(
                diff < 1e-6,
                "candidate {i} moved {diff} m after it was taken"
            );
        }
        // The first was taken at the first check and the batch ran on for the others; each
        // reports the check it was taken at.
        iterations.sort_unstable();
        let every = settings.check_every;
        assert_eq!(iterations[0], every, "{iterations:?}");
        assert!(iterations[2] > every, "{iterations:?}");
        assert!(iterations.iter().all(|n| n % every == 0), "{iterations:?}");
    }

    /// Successive halving: at iterations h, 2h, ... the worse half of a group's running
    /// instances leaves the batch, as they stood at that check (the ones with the larger
    /// residuals), flagged `Dropped`; one instance runs to the budget.
    #[test]
    fn successive_halving_keeps_the_better_half() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(6).seed(3))
            .unwrap();
        let mut candidates: Vec<Vec<Coefficients>> =
            (0..3).map(|s| perturbed(&problem, s)).collect();
        candidates.push(straight(&problem));
        let instances = Instance::each(&problem, &candidates);
        // A tolerance nothing meets: only the halving and the budget end a candidate's run.
        let settings = FilterSettings {
            tolerance: 1e-12,
            max_iterations: 30,
            halve_every: 10,
            ..Default::default()
        };
        let out = SafetyFilter::new(settings.clone(), cpu())
            .unwrap()
            .project(&instances)
            .unwrap();
        let at_10 = SafetyFilter::new(
            FilterSettings {
                max_iterations: 10,
                halve_every: 0,
                ..settings
            },
            cpu(),
        )
        .unwrap()
        .project(&instances)
        .unwrap();
        let iterations: Vec<usize> = out.iter().map(|o| o.iterations).collect();
        let mut sorted = iterations.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [10, 10, 20, 30], "{iterations:?}");
        let kept_at_10: Vec<usize> = (0..4).filter(|&i| iterations[i] > 10).collect();
        for (i, o) in out.iter().enumerate() {
            if iterations[i] == 10 {
                assert_eq!(o.status, FilterStatus::Dropped);
                assert!((o.residual - at_10[i].residual).abs() < 1e-5);
                let diff = max_coefficient_difference(&o.coefficients, &at_10[i].coefficients);
                assert!(diff < 1e-4, "dropped candidate {i} moved by {diff}");
                for &k in &kept_at_10 {
                    assert!(at_10[k].residual <= o.residual, "kept {k}, dropped {i}");
                }
            }
        }
        assert_eq!(
            out[iterations.iter().position(|&n| n == 30).unwrap()].status,
            FilterStatus::MaxIterations
        );
        assert_eq!(
            out[iterations.iter().position(|&n| n == 20).unwrap()].status,
            FilterStatus::Dropped
        );
    }

    /// Two problems of one shape share a batch but stop on their own: each gets what it gets
    /// alone (up to f32 rounding: the matmul kernels block differently with the batch size),
    /// although the easier one stops many iterations before the other.
    #[test]
    fn owners_in_one_batch_stop_on_their_own() {
        owners_stop_on_their_own(FilterSettings {
            stop_after: 1,
            ..Default::default()
        });
    }

    /// The same with successive halving, whose later rounds find the easy problem's group
    /// already gone from the batch (this once panicked), and in one lane or three.
    #[test]
    fn owners_stop_on_their_own_with_halving_in_any_lanes() {
        for lanes in [1, 3] {
            let (easy, hard) = owners_stop_on_their_own(FilterSettings {
                stop_after: 1,
                halve_every: 10,
                lanes,
                ..Default::default()
            });
            // The halving round at iteration 40 finds the easy group gone.
            assert!(
                easy < 40 && hard > 40,
                "easy stopped at {easy}, hard at {hard}"
            );
        }
    }

    /// Runs the two problems of [`owners_in_one_batch_stop_on_their_own`] alone and together;
    /// returns the iterations at which the easy and the hard one stopped.
    fn owners_stop_on_their_own(settings: FilterSettings) -> (usize, usize) {
        let easy = Scenario::Random
            .generate(&ScenarioConfig::new(6).seed(1))
            .unwrap();
        let hard = Scenario::Circle
            .generate(&ScenarioConfig::new(6).seed(5))
            .unwrap();
        let easy_candidates: Vec<_> = (0..3).map(|s| perturbed(&easy, s)).collect();
        // The straight swap through the centre converges late.
        let hard_candidates = vec![straight(&hard), straight(&hard)];
        let filter = SafetyFilter::new(settings, cpu()).unwrap();
        let instances = |p: &'static str| -> Vec<Instance> {
            let (problem, candidates) = if p == "easy" {
                (&easy, &easy_candidates)
            } else {
                (&hard, &hard_candidates)
            };
            Instance::each(problem, candidates)
        };
        let alone_easy = filter.project(&instances("easy")).unwrap();
        let alone_hard = filter.project(&instances("hard")).unwrap();
        let mut both = instances("hard");
        both.extend(instances("easy"));
        let owners = [0, 0, 1, 1, 1];
        let together = filter
            .project(Projection::of(&both).owners(&owners))
            .unwrap();
        let stop = |o: &[FilterOutput]| o.iter().map(|o| o.iterations).max().unwrap();
        assert!(
            stop(&alone_easy) < stop(&alone_hard),
            "{} vs {}",
            stop(&alone_easy),
            stop(&alone_hard)
        );
        for (alone, shared) in alone_hard.iter().chain(&alone_easy).zip(&together) {
            assert_eq!(alone.iterations, shared.iterations);
            assert_eq!(alone.status, shared.status);
            assert!((alone.residual - shared.residual).abs() < 1e-5);
            let diff = max_coefficient_difference(&alone.coefficients, &shared.coefficients);
            assert!(diff < 1e-4, "batched result differs by {diff}");
        }
        assert_eq!(
            filter
                .project(Projection::of(&both).owners(&owners[1..]))
                .unwrap_err()
                .field,
            "owners"
        );
        (stop(&alone_easy), stop(&alone_hard))
    }

    #[test]
    fn a_result_does_not_depend_on_the_rest_of_the_batch() {
        let a = Scenario::Circle
            .generate(&ScenarioConfig::new(5).seed(1))
            .unwrap();
        let b = Scenario::Random
            .generate(&ScenarioConfig::new(5).seed(2))
            .unwrap();
        let (ca, cb) = (perturbed(&a, 1), perturbed(&b, 2));
        let filter = SafetyFilter::new(
            FilterSettings {
                max_iterations: 40,
                ..Default::default()
            },
            cpu(),
        )
        .unwrap();
        let alone = filter
            .project(&[Instance {
                problem: &a,
                candidate: &ca,
            }])
            .unwrap();
        let together = filter
            .project(&[
                Instance {
                    problem: &b,
                    candidate: &cb,
                },
                Instance {
                    problem: &a,
                    candidate: &ca,
                },
                Instance {
                    problem: &b,
                    candidate: &straight(&b),
                },
            ])
            .unwrap();
        let diff = max_coefficient_difference(&alone[0].coefficients, &together[1].coefficients);
        // Equal up to f32 rounding: the matmul kernels block differently with the batch size.
        assert!(diff < 1e-4, "batched result differs by {diff}");
        assert_eq!(alone[0].iterations, together[1].iterations);
    }

    /// Lanes are an execution detail: one, two or four of them give each instance the same
    /// iterations, status and coefficients (up to f32 rounding).
    #[test]
    fn lanes_do_not_change_the_result() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(6).seed(4))
            .unwrap();
        let mut candidates: Vec<_> = (0..4).map(|s| perturbed(&problem, s)).collect();
        candidates.push(straight(&problem));
        let instances = Instance::each(&problem, &candidates);
        let run = |lanes| {
            let settings = FilterSettings {
                halve_every: 10,
                max_iterations: 100,
                lanes,
                ..Default::default()
            };
            SafetyFilter::new(settings, cpu())
                .unwrap()
                .project(&instances)
                .unwrap()
        };
        let one = run(1);
        for lanes in [2, 4] {
            for (a, b) in one.iter().zip(run(lanes)) {
                assert_eq!(a.iterations, b.iterations, "{lanes} lanes");
                assert_eq!(a.status, b.status, "{lanes} lanes");
                assert!((a.residual - b.residual).abs() < 1e-5, "{lanes} lanes");
                let diff = max_coefficient_difference(&a.coefficients, &b.coefficients);
                assert!(diff < 1e-5, "{lanes} lanes: coefficients differ by {diff}");
            }
        }
    }

    #[test]
    fn boundary_conditions_hold_exactly() {
        let problem = Scenario::Crossing
            .generate(&ScenarioConfig::new(6).seed(3))
            .unwrap();
        let filter = SafetyFilter::new(FilterSettings::default(), cpu()).unwrap();
        let cand = perturbed(&problem, 3);
        let out = filter
            .project(&[Instance {
                problem: &problem,
                candidate: &cand,
            }])
            .unwrap();
        let m = &judge(&problem, &[out[0].coefficients.clone()]).unwrap()[0].metrics;
        assert!(m.residuals.boundary < 1e-4, "{:?}", m.residuals);
    }

    /// A smoothness weight gives feasible outputs with a smaller smoothness cost than the
    /// plain projection of the same candidate, and the boundary conditions still hold.
    #[test]
    fn smoothing_gives_smoother_feasible_outputs() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(8).seed(1))
            .unwrap();
        let cand = perturbed(&problem, 1);
        let smoothness = |smoothing: f64| {
            let settings = FilterSettings {
                smoothing,
                max_iterations: 3000,
                ..Default::default()
            };
            let filter = SafetyFilter::new(settings, cpu()).unwrap();
            let out = filter
                .project(&[Instance {
                    problem: &problem,
                    candidate: &cand,
                }])
                .unwrap()
                .swap_remove(0);
            assert_eq!(out.status, FilterStatus::Converged, "smoothing {smoothing}");
            let m = judge(&problem, &[out.coefficients])
                .unwrap()
                .swap_remove(0)
                .metrics;
            assert!(m.feasible, "smoothing {smoothing}: {:?}", m.residuals);
            assert!(m.residuals.boundary < 1e-4, "{:?}", m.residuals);
            m.smoothness
        };
        let (plain, smooth) = (smoothness(0.0), smoothness(300.0));
        assert!(smooth < 0.9 * plain, "smoothness {smooth} vs {plain}");
    }

    /// Proximal rounds: every point the caller's check takes anchors the next round, so with
    /// a smoothness term the rounds reach smoother feasible points than one pass stopping at
    /// its first; `Decision::Finish` ends an instance's rounds at once.
    #[test]
    fn proximal_rounds_reach_smoother_feasible_points() {
        let problem = Scenario::Doorway
            .generate(&ScenarioConfig::new(6).seed(1))
            .unwrap();
        // A feasible start, as the planner's polishing pass gets it.
        // The planner's samples: the problem's own are too sparse for the checker.
        let dense = FilterSettings {
            samples: 100,
            sample_period: 0.1,
            ..Default::default()
        };
        let plain = SafetyFilter::new(
            FilterSettings {
                max_iterations: 2000,
                ..dense.clone()
            },
            cpu(),
        )
        .unwrap();
        let candidate = perturbed(&problem, 1);
        let start = plain
            .project(&[Instance {
                problem: &problem,
                candidate: &candidate,
            }])
            .unwrap()
            .swap_remove(0)
            .coefficients;
        let start_metrics = judge(&problem, std::slice::from_ref(&start))
            .unwrap()
            .swap_remove(0)
            .metrics;
        assert!(start_metrics.feasible, "{:?}", start_metrics.residuals);
        // The smoothness of every point the check took, with `finish_after` points ending the
        // rounds.
        let polish = |recentre: usize, finish_after: usize| {
            let filter = SafetyFilter::new(
                FilterSettings {
                    max_iterations: 600,
                    stop_after: 1,
                    verify_below: 0.03,
                    smoothing: 30.0,
                    dual_step: 3.0,
                    recentre,
                    ..dense.clone()
                },
                cpu(),
            )
            .unwrap();
            let mut taken = Vec::new();
            let starts = [vec![start.clone()]];
            let out = filter
                .project(
                    Projection::problems(std::slice::from_ref(&problem), &starts).deciding(
                        &mut |_, c| {
                            let m = judge(&problem, &[c.to_vec()])
                                .unwrap()
                                .swap_remove(0)
                                .metrics;
                            if !m.feasible {
                                return Decision::Reject;
                            }
                            taken.push(m.smoothness);
                            if taken.len() >= finish_after {
                                Decision::Finish
                            } else {
                                Decision::Accept
                            }
                        },
                    ),
                )
                .unwrap()
                .swap_remove(0);
            (taken, out)
        };
        let (one, out) = polish(0, usize::MAX);
        assert_eq!(
            one.len(),
            1,
            "without rounds the pass stops at its first point"
        );
        assert!(out.accepted);
        let (rounds, out) = polish(20, usize::MAX);
        assert!(rounds.len() > 2, "points taken: {rounds:?}");
        // Unless the rounds ran out, the budget ended them: the output is where the instance
        // stood then, not taken.
        assert_eq!(out.accepted, rounds.len() > 20, "{rounds:?}");
        let best = rounds.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(
            best < 0.95 * one[0] && best < 0.95 * start_metrics.smoothness,
            "rounds {rounds:?}, one pass {one:?}, start {}",
            start_metrics.smoothness
        );
        // Finishing at the second point ends the rounds there, accepted.
        let (two, out) = polish(20, 2);
        assert_eq!(two.len(), 2);
        assert!(out.accepted);
        assert_eq!(two[..], rounds[..2]);
    }

    #[test]
    fn unrolled_iterations_are_differentiable() {
        // A tiny instance: two robots, few samples; loss = <w, c_K>.
        let mut problem = Scenario::Circle
            .generate(&ScenarioConfig::new(2).seed(0))
            .unwrap();
        problem.samples = 8;
        let cand = perturbed(&problem, 7);
        let settings = FilterSettings::default();
        let device = cpu().autodiff();
        let iterations = 5;
        let weights: Vec<f32> = (0..2 * 2 * 11)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
            .collect();
        let loss_of = |cbar: Tensor<3>, device: &Device| -> Tensor<1> {
            let inst = [Instance {
                problem: &problem,
                candidate: &cand,
            }];
            let mut batch = Batch::new(&inst, &settings, DEFAULT_ORDER, device).unwrap();
            batch.cbar = cbar.clone();
            let state = solver::unrolled(&batch, cbar.clone(), cbar.zeros_like(), iterations, 1.0);
            let w = Tensor::<3>::from_data(
                burn::tensor::TensorData::new(weights.clone(), [1, 2, 22]),
                device,
            );
            (state.c * w).sum()
        };
        let inst = [Instance {
            problem: &problem,
            candidate: &cand,
        }];
        let base = Batch::new(&inst, &settings, DEFAULT_ORDER, &device)
            .unwrap()
            .cbar;
        let values: Vec<f32> = base
            .clone()
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .unwrap();
        let cbar = base.require_grad();
        let loss = loss_of(cbar.clone(), &device);
        let grads = loss.backward();
        let grad: Vec<f32> = cbar
            .grad(&grads)
            .unwrap()
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .unwrap();
        // Central finite differences on a few interior coefficients.
        let plain = cpu();
        let eval = |vals: Vec<f32>| -> f32 {
            let t = Tensor::<3>::from_data(burn::tensor::TensorData::new(vals, [1, 2, 22]), &plain);
            loss_of(t, &plain)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap()[0]
        };
        let h = 1e-2f32;
        for idx in [4usize, 5, 6, 15, 26, 38] {
            let mut up = values.clone();
            up[idx] += h;
            let mut down = values.clone();
            down[idx] -= h;
            let fd = (eval(up) - eval(down)) / (2.0 * h);
            assert!(
                (fd - grad[idx]).abs() < 2e-2 * (1.0 + fd.abs()),
                "coefficient {idx}: autodiff {} vs finite differences {fd}",
                grad[idx]
            );
        }
    }
}

/// wgpu parity. On machines without a GPU, wgpu runs on Mesa's llvmpipe (`.ci/run` installs it);
/// set `XDG_RUNTIME_DIR` (e.g. /tmp) if Mesa complains.
#[cfg(test)]
mod wgpu_tests {
    use super::*;
    use burn::tensor::DeviceKind;
    use flowopt_core::{Scenario, ScenarioConfig};

    #[test]
    fn wgpu_matches_cpu() {
        let problems: Vec<_> = [(Scenario::Circle, 1), (Scenario::Obstacles, 2)]
            .iter()
            .map(|(s, seed)| s.generate(&ScenarioConfig::new(6).seed(*seed)).unwrap())
            .collect();
        let candidates: Vec<Vec<Coefficients>> = problems
            .iter()
            .enumerate()
            .map(|(i, p)| perturbed_candidates(p, 8, 0.5, i as u64).swap_remove(0))
            .collect();
        let instances: Vec<Instance> = problems
            .iter()
            .zip(&candidates)
            .map(|(problem, candidate)| Instance { problem, candidate })
            .collect();
        let settings = FilterSettings {
            max_iterations: 30,
            tolerance: 1e-9, // run all 30 iterations on both
            ..Default::default()
        };
        let cpu = SafetyFilter::new(settings.clone(), Device::flex()).unwrap();
        let gpu = SafetyFilter::new(settings, Device::wgpu(DeviceKind::DefaultDevice)).unwrap();
        let a = cpu.project(&instances).unwrap();
        let b = gpu.project(&instances).unwrap();
        for (x, y) in a.iter().zip(&b) {
            let diff = flowopt_core::max_coefficient_difference(&x.coefficients, &y.coefficients);
            assert!(diff < 1e-3, "wgpu differs from the CPU by {diff}");
            assert!((x.residual - y.residual).abs() < 1e-3);
        }
    }
}
