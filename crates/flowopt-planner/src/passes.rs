//! The pipeline's filter passes: a list of safety-filter passes, each problem stopping at its
//! first candidate that passes the checker.
//!
//! The first pass projects every problem's candidates; where the settings give the filter a
//! smoothness term, the problems it applies to go through the smoothing filter at their robot
//! count's weight ([`FlowOptSettings::smoothing_for`]). Every later pass takes only the problems
//! no earlier pass solved (and whose samples it makes denser), from where the previous pass left
//! their candidates; with successive halving, only the better half of the candidates the
//! previous pass kept to its end.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use flowopt_core::{Coefficients, InputError, PlanError, Problem};
use flowopt_filter::{FilterOutput, FilterStatus, Projection, SafetyFilter};

use crate::repair;
use crate::select::{Judged, feasible_verdict};
use crate::settings::{FlowOptSettings, SmoothingScope};

/// The smoothness term of a first pass: which problems it applies to and at what weight.
#[derive(Debug, Clone)]
pub(crate) struct Smoothing {
    /// The filter with the term, for open-floor scope; with every problem in scope, the
    /// pass's own filter carries it.
    pub open_floors: Option<SafetyFilter>,
    /// `filter_smoothing`, `smoothing_scope` and `smoothing_robots`.
    pub settings: FlowOptSettings,
}

impl Smoothing {
    /// Whether the term applies to a problem (`open`: no robot's straight line is blocked).
    pub fn applies(&self, open: bool) -> bool {
        match self.settings.smoothing_scope {
            SmoothingScope::All => self.settings.filter_smoothing > 0.0,
            SmoothingScope::Open => open && self.open_floors.is_some(),
        }
    }
}

/// One pass.
#[derive(Debug, Clone)]
pub(crate) struct Pass {
    /// The filter (carrying the warm start where the pass starts from raw candidates).
    pub filter: SafetyFilter,
    /// The first pass's smoothness term, if any.
    pub smoothing: Option<Smoothing>,
}

/// Every problem's filtered candidates (with how many of them a later pass refined, 0: none),
/// and per problem the checker's verdicts on the candidates its check accepted, so that the
/// selection need not judge them again.
pub(crate) type Filtered = (Vec<(Vec<FilterOutput>, usize)>, Vec<Vec<Judged>>);

/// The list of passes (see the module notes).
#[derive(Debug, Clone)]
pub(crate) struct Passes {
    /// The passes in order; the first runs on every problem.
    pub passes: Vec<Pass>,
    /// How deep a robot of a candidate handed to a later pass may dip into an obstacle before
    /// it is pulled back towards its guide path (`None`: never).
    pub pull_back_depth: Option<f64>,
}

impl Passes {
    /// Whether the first pass smooths a problem whose floor is `open`.
    pub fn smooths(&self, open: bool) -> bool {
        self.passes
            .first()
            .and_then(|p| p.smoothing.as_ref())
            .is_some_and(|s| s.applies(open))
    }

    /// The first pass's filter.
    pub fn first(&self) -> &SafetyFilter {
        &self.passes[0].filter
    }

    /// Runs the passes over `problems` (`candidates[p]`, `guides[p]` and `open[p]` of problem
    /// `p`; see [`Filtered`]).
    pub fn run(
        &self,
        problems: &[Problem],
        candidates: &[Vec<Vec<Coefficients>>],
        guides: &[Vec<Coefficients>],
        open: &[bool],
    ) -> Result<Filtered, PlanError> {
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
        let (first, later) = self
            .passes
            .split_first()
            .expect("a pipeline has at least one filter pass");
        let first = {
            // A first pass with others after it is the coarse one.
            let _span = (!later.is_empty())
                .then(|| tracing::debug_span!("coarse", problems = problems.len()).entered());
            first_pass(first, problems, candidates, open, &accept)?
        };
        let mut outputs: Vec<(Vec<FilterOutput>, usize)> =
            first.into_iter().map(|o| (o, 0)).collect();
        for pass in later {
            let filter = &pass.filter;
            let again: Vec<usize> = (0..problems.len())
                .filter(|&p| {
                    !passed[p].get()
                        && problems[p].samples < filter.settings().samples_for(&problems[p])
                })
                .collect();
            if again.is_empty() {
                continue;
            }
            let _span = tracing::debug_span!("refine", problems = again.len()).entered();
            let subset: Vec<Problem> = again.iter().map(|&p| problems[p].clone()).collect();
            let live = survivors(&again, &mut outputs, filter.settings().halve_every > 0);
            let starts: Vec<Vec<Vec<Coefficients>>> = again
                .iter()
                .zip(&live)
                .map(|(&p, live)| {
                    live.iter()
                        .map(|&c| {
                            let mut start = outputs[p].0[c].coefficients.clone();
                            if let Some(depth) = self.pull_back_depth {
                                repair::pull_back(&problems[p], &guides[p], &mut start, depth);
                            }
                            start
                        })
                        .collect()
                })
                .collect();
            let mut check =
                |i: usize, coefficients: &[Coefficients]| accept(again[i], coefficients);
            let refined =
                filter.project(Projection::problems(&subset, &starts).accepting(&mut check))?;
            let refined = Projection::per_problem(refined, &starts);
            for ((&p, live), refined) in again.iter().zip(&live).zip(refined) {
                for (&c, output) in live.iter().zip(refined) {
                    outputs[p].0[c] = output;
                }
                outputs[p].1 = live.len();
            }
        }
        Ok((outputs, verdicts_of(verdicts)))
    }
}

/// Per problem of `again`, the candidates a later pass takes on. Successive halving goes on
/// across the passes (`halving`): of the candidates the previous pass kept to its end, the better
/// half by residual; the others are flagged dropped and stay as that pass left them. Without
/// halving, every candidate.
fn survivors(
    again: &[usize],
    outputs: &mut [(Vec<FilterOutput>, usize)],
    halving: bool,
) -> Vec<Vec<usize>> {
    let mut live: Vec<Vec<usize>> = Vec::with_capacity(again.len());
    for &p in again {
        let previous = &mut outputs[p].0;
        let all: Vec<usize> = (0..previous.len()).collect();
        if !halving {
            live.push(all);
            continue;
        }
        let mut kept: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&c| previous[c].status != FilterStatus::Dropped)
            .collect();
        if kept.is_empty() {
            kept = all;
        }
        kept.sort_by(|&a, &b| previous[a].residual.total_cmp(&previous[b].residual));
        for &c in &kept[kept.len().div_ceil(2)..] {
            previous[c].status = FilterStatus::Dropped;
        }
        kept.truncate(kept.len().div_ceil(2));
        live.push(kept);
    }
    live
}

/// The first pass: the problems its smoothness term applies to through the smoothing filter
/// at their robot count's weight, the others through the plain one; one call per filter.
/// Outputs in the problems' order.
fn first_pass(
    pass: &Pass,
    problems: &[Problem],
    candidates: &[Vec<Vec<Coefficients>>],
    open: &[bool],
    accept: &dyn Fn(usize, &[Coefficients]) -> bool,
) -> Result<Vec<Vec<FilterOutput>>, PlanError> {
    let plain = &pass.filter;
    // Per problem: `None` for the plain pass, else the smoothness weight's bits. With the
    // open-floor scope the smoothing filter is its own; with every problem in scope it is
    // `plain` itself.
    let smoothing = pass
        .smoothing
        .as_ref()
        .and_then(|s| s.open_floors.as_ref())
        .unwrap_or(plain);
    let key = |p: usize| {
        let rule = pass.smoothing.as_ref()?;
        rule.applies(open[p]).then(|| {
            rule.settings
                .smoothing_for(problems[p].robots.len())
                .to_bits()
        })
    };
    let keys: BTreeSet<Option<u64>> = (0..problems.len()).map(key).collect();
    if keys.len() == 1 && keys.contains(&None) {
        let mut check = |p: usize, c: &[Coefficients]| accept(p, c);
        let outputs =
            plain.project(Projection::problems(problems, candidates).accepting(&mut check))?;
        return Ok(Projection::per_problem(outputs, candidates));
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
        let mut check = |i: usize, c: &[Coefficients]| accept(members[i], c);
        let filtered =
            filter.project(Projection::problems(&subset, &starts).accepting(&mut check))?;
        let filtered = Projection::per_problem(filtered, &starts);
        for (&p, output) in members.iter().zip(filtered) {
            outputs[p] = output;
        }
    }
    Ok(outputs)
}

/// `filter` with another smoothness weight (same device, settings and warm start).
fn with_smoothing(filter: &SafetyFilter, smoothing: f64) -> Result<SafetyFilter, InputError> {
    let settings = flowopt_filter::FilterSettings {
        smoothing,
        ..filter.settings().clone()
    };
    let derived = SafetyFilter::new(settings, filter.device().clone())?;
    Ok(match filter.warm_start() {
        Some(w) => derived.with_warm_start(w.clone()),
        None => derived,
    })
}

#[cfg(test)]
mod tests {
    use flowopt_core::{Scenario, ScenarioConfig, StraightPlanner};
    use flowopt_filter::FilterSettings;

    use super::*;

    fn output(residual: f32, status: FilterStatus) -> FilterOutput {
        FilterOutput {
            coefficients: Vec::new(),
            residual,
            iterations: 100,
            status,
            accepted: false,
        }
    }

    #[test]
    fn halving_across_passes_keeps_the_better_half_of_the_candidates_still_running() {
        let running = FilterStatus::MaxIterations;
        let mut outputs = vec![
            (
                vec![
                    output(0.4, running),
                    output(0.1, running),
                    output(0.3, FilterStatus::Dropped),
                    output(0.2, running),
                ],
                0,
            ),
            (vec![output(0.5, FilterStatus::Dropped)], 0),
        ];
        let live = survivors(&[0, 1], &mut outputs, true);
        // Of the three still running, the better two (rounded up) by residual; a problem whose
        // candidates were all dropped keeps them all.
        assert_eq!(live, [vec![1, 3], vec![0]]);
        assert_eq!(outputs[0].0[0].status, FilterStatus::Dropped);
        assert_eq!(outputs[0].0[1].status, running);
        let live = survivors(&[0], &mut outputs, false);
        assert_eq!(live, [vec![0, 1, 2, 3]]);
    }

    #[test]
    fn the_smoothness_term_applies_where_its_scope_says() {
        let device = burn::tensor::Device::flex();
        let filter = SafetyFilter::new(FilterSettings::default(), device).unwrap();
        let open = Smoothing {
            open_floors: Some(filter.clone()),
            settings: FlowOptSettings::default(),
        };
        assert!(open.applies(true) && !open.applies(false));
        let everywhere = Smoothing {
            open_floors: None,
            settings: FlowOptSettings {
                smoothing_scope: SmoothingScope::All,
                ..FlowOptSettings::default()
            },
        };
        assert!(everywhere.applies(true) && everywhere.applies(false));
        let off = Smoothing {
            open_floors: None,
            settings: FlowOptSettings {
                smoothing_scope: SmoothingScope::All,
                filter_smoothing: 0.0,
                ..FlowOptSettings::default()
            },
        };
        assert!(!off.applies(true));
        let passes = Passes {
            passes: vec![Pass {
                filter,
                smoothing: None,
            }],
            pull_back_depth: None,
        };
        assert!(!passes.smooths(true), "no term, no smoothing");
    }

    /// One pass over two problems: each stops at the first check where a candidate passes,
    /// and the check's verdicts come back for the selection; nothing is refined.
    #[test]
    fn a_pass_stops_each_problem_at_a_checked_candidate_and_keeps_the_verdicts() {
        let problems: Vec<Problem> = [(Scenario::Circle, 1), (Scenario::Random, 2)]
            .iter()
            .map(|(s, seed)| s.generate(&ScenarioConfig::new(4).seed(*seed)).unwrap())
            .collect();
        let candidates: Vec<Vec<Vec<Coefficients>>> = problems
            .iter()
            .enumerate()
            .map(|(i, p)| flowopt_filter::perturbed_candidates(p, 3, 0.5, i as u64))
            .collect();
        let settings = FilterSettings {
            stop_after: 1,
            ..FilterSettings::default()
        };
        let passes = Passes {
            passes: vec![Pass {
                filter: SafetyFilter::new(settings, burn::tensor::Device::flex()).unwrap(),
                smoothing: None,
            }],
            pull_back_depth: None,
        };
        let (outputs, verdicts) = passes
            .run(&problems, &candidates, &[vec![], vec![]], &[true, true])
            .unwrap();
        for ((outputs, refined), verdicts) in outputs.iter().zip(&verdicts) {
            assert_eq!(outputs.len(), 3);
            assert_eq!(*refined, 0);
            // The check accepted a candidate (several, when they pass at the same residual
            // check), each with its verdict, and the problem stopped there.
            let accepted: Vec<&FilterOutput> = outputs.iter().filter(|o| o.accepted).collect();
            assert!(!accepted.is_empty());
            assert_eq!(verdicts.len(), accepted.len());
            assert!(verdicts.iter().all(|v| v.metrics.feasible));
            let stop = accepted.iter().map(|o| o.iterations).max().unwrap();
            assert!(outputs.iter().all(|o| o.iterations <= stop), "{outputs:?}");
        }
        // The straight lines of a circle swap collide: no candidate is feasible as it stands.
        let straight = StraightPlanner::default().coefficients(&problems[0]);
        assert!(feasible_verdict(&problems[0], &straight).is_none());
    }
}
