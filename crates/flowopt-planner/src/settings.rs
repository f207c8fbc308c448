//! Options of the `flowopt` planner.

use flowopt_core::{ErrorKind, InputError};
use flowopt_filter::FilterSettings;
use flowopt_generator::flow::Integrator;
use serde::{Deserialize, Serialize};

/// Default of [`FlowOptSettings::candidates`]. With successive halving across both passes
/// and the sampler's lanes, the standard suite at 4 solved every problem 8 solved, 1.3-2.4x
/// faster (doorway N = 16 54 -> 32 ms, random N = 8 11.2 -> 8.1 ms), with the same
/// smoothness except doorway N = 16 (1.22 -> 1.37x `scp`), which the polishing pass
/// ([`POLISH_ITERATIONS`]) takes back (docs/tuning.md#candidates). Alternatives (and a GPU) want
/// more.
pub const CANDIDATES: usize = 4;

/// Default of [`FlowOptSettings::open_candidates`]. On the open floors of the standard suite
/// (circle and random, N = 8, 16 and 32, 50 seeds each, problems back to back) 2 candidates
/// solved every problem 4 did with the same smoothness (within 2%), 25-35% faster (random
/// N = 8 4.1 -> 2.9 ms, circle N = 32 15.7 -> 11.9 ms); around obstacles the candidates'
/// different ways past them are what the filter chooses from (docs/tuning.md#open-floors).
pub const OPEN_CANDIDATES: usize = 2;

/// Default of [`FlowOptSettings::open_flow_steps`]. On the same open floors (with 2
/// candidates) 2 steps solved every problem 4 did, with smoothness within 1% (circle N = 32
/// 2% smoother), and took about 1 ms off the sampling at every size. 1 step solves them all
/// too, with the same smoothness but on circle N = 16 (15% rougher, 1.19x `scp`) and N = 32
/// (6% smoother), and it took random N = 8 in a suite from 3.3-3.4 to 2.9 ms, 21x to 25x
/// `scp`, where 2 steps had left the 20x target within run-to-run noise (19.7-22.0x over three
/// suites). Around obstacles 2 steps lost a doorway N = 16 problem of 30 and 10% in
/// smoothness (docs/tuning.md#open-floors).
pub const OPEN_FLOW_STEPS: usize = 1;

/// Default of [`FlowOptSettings::stop_after`].
pub const STOP_AFTER: usize = 1;

/// Default of [`FlowOptSettings::filter_samples`]: with the problems' default 50 samples over
/// 8 s, robots meeting head-on can pass through each other between samples; 100 samples
/// raised the N = 16 success on obstacle fields from 30% to 100% and on doorways from 5% to
/// 90% (docs/tuning.md#filter-samples).
pub const FILTER_SAMPLES: usize = 100;

/// Default of [`FlowOptSettings::coarse_iterations`]. Against filtering every problem on 100
/// samples from the start, at N = 32 (seeds 0-9, release binary) it cut the median time on
/// circle from 755 to 199 ms and raised warehouse success from 10% to 60%; a first pass of
/// 500 iterations lost time on the cluttered problems and 50 did no better
/// (docs/tuning.md#adaptive-samples).
pub const COARSE_ITERATIONS: usize = 100;

/// Default of [`FlowOptSettings::filter_sample_period`], seconds: 100 samples over the 8-10 s
/// horizons of the small problems. Over the 17-21 s horizons of the large warehouse, doorway
/// and obstacle problems, 100 samples let robots pass through each other between samples
/// (docs/tuning.md#sample-period).
pub const FILTER_SAMPLE_PERIOD: f64 = 0.1;

/// Default of [`FlowOptSettings::verify_below`], metres: the filter's clearance, below which
/// every constrained sample keeps the true distances.
pub const VERIFY_BELOW: f64 = 0.03;

/// Default of [`FlowOptSettings::halve_every`]: the 8 candidates of a problem become 4 at
/// iteration 50 of a pass, 2 at 100 and 1 at 200. With it and a budget of 1000 iterations
/// (was 500 without), doorway N = 32 (seeds 0-49) solved 47 problems instead of 41 with the
/// median time down from 1.37 to 0.70 s (docs/tuning.md#successive-halving).
pub const HALVE_EVERY: usize = 50;

/// Default of [`FlowOptSettings::filter_iterations`]. A problem solved within 1000 iterations
/// is solved the same way (the halving schedule does not depend on the budget); of the five
/// problems of the standard suite that 1000 left unsolved (violations 0.3-17 cm), 2000 solved
/// obstacles N = 16 seed 21, obstacles N = 32 seed 19 and doorway N = 32 seed 47, each within
/// 1200 iterations (docs/tuning.md#iteration-budget).
pub const FILTER_ITERATIONS: usize = 2000;

/// Default of [`FlowOptSettings::filter_smoothing`], applied where [`SMOOTHING_SCOPE`] says.
/// On the open floors of the standard suite (circle and random; paired with `scp` over its
/// seeds) 500 took the plans' smoothness cost from 1.7-2.0x that of `scp` to 0.94-1.28x at
/// N = 8, 16 and 32, within the latency targets; on every problem it cost doorway problems
/// and time (docs/tuning.md#smoothing).
pub const FILTER_SMOOTHING: f64 = 500.0;

/// Default of [`FlowOptSettings::smoothing_robots`]. On random floors of 32 robots (10
/// problems paired with `scp`) the weight 500 left plans 1.31x `scp`'s smoothness, 1000
/// 1.15x for about 1 ms more; at 8 robots 1000 took the median from 3.3 to 4.0 ms, under the
/// 20x speed-up target, and at 16 robots 500 is already within 1.16x (docs/tuning.md#smoothing).
pub const SMOOTHING_ROBOTS: usize = 16;

/// Default of [`FlowOptSettings::dual_step`]. Against 1, it took the medians of doorway N = 16
/// (20 seeds) from 67 to 59 ms, warehouse N = 32 from 168 to 140 ms and doorway N = 32 from
/// 211 to 180 ms, with every plan still found; smoothness changed by -1 to +5% except
/// doorway N = 32 (+10%, 6 seeds). Also in the first pass, it cost 4-11% smoothness on
/// obstacle fields, random and circle problems (docs/tuning.md#dual-step).
pub const DUAL_STEP: f64 = 2.0;

/// Default of [`FlowOptSettings::polish_iterations`]. Doorway plans need about 150 iterations
/// to pass the checker again at a weight of 30; with proximal rounds
/// ([`FlowOptSettings::polish_rounds`]) the pass goes on from there, and 500 took doorway
/// N = 32 plans from 1.70x `scp`'s smoothness (one pass of 400, seeds 0-5) to 1.26x (seeds
/// 0-9; 700: 1.21x) for 30-60 ms more, and doorway N = 16 plans 21% smoother for 12-20 ms
/// (docs/tuning.md#polishing-rounds).
pub const POLISH_ITERATIONS: usize = 500;

/// Default of [`FlowOptSettings::polish_smoothing`]. A weight of 100 smoothed warehouse
/// N = 16 plans by 15% but never passed the checker again on doorway problems within 200
/// iterations; 10 gained 1-2% (docs/tuning.md#polishing).
pub const POLISH_SMOOTHING: f64 = 30.0;

/// Default of [`FlowOptSettings::polish_rounds`]. Each round of a doorway N = 32 polish
/// (a few tens of iterations) took the plan 1-10% smoother; the rounds end when two of them
/// together gained less than [`POLISH_MIN_GAIN`] or the iterations run out, so this is a
/// bound rather than the usual count (docs/tuning.md#polishing-rounds).
pub const POLISH_ROUNDS: usize = 20;

/// The polishing rounds of a plan end once its last two rounds together made it less than
/// this fraction smoother. (The first round lands close to where it started: the
/// multipliers it builds up push the plan back; the rounds after it keep 80% of them,
/// `flowopt_filter::FilterSettings::recentre_keep`.)
pub const POLISH_MIN_GAIN: f64 = 0.01;

/// Step of the polishing pass's multiplier update (`flowopt_filter::FilterSettings::
/// dual_step`). With rounds, larger steps reach the next verified point sooner: doorway
/// N = 32 in 500 iterations, seeds 0-5, median smoothness 25.6 with 3 against 26.5 with 2;
/// with 1 it took 700 iterations to reach 26.4 (docs/tuning.md#polishing-rounds).
pub const POLISH_DUAL_STEP: f64 = 3.0;

/// Default of [`FlowOptSettings::smoothing_scope`].
pub const SMOOTHING_SCOPE: SmoothingScope = SmoothingScope::Open;

/// Which problems the filter's smoothness term ([`FlowOptSettings::filter_smoothing`]) is
/// applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmoothingScope {
    /// Open floors only: problems where no robot's straight line to its goal crosses an
    /// obstacle (`flowopt_core::GuidePaths::open`). Around obstacles the term pulls
    /// candidates back toward the straight line through them.
    #[default]
    Open,
    /// Every problem.
    All,
}

impl std::str::FromStr for SmoothingScope {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "all" => Ok(Self::All),
            _ => Err(InputError::new(
                ErrorKind::OutOfRange,
                "smoothing_scope",
                format!("unknown smoothing scope `{s}`; expected open or all"),
            )),
        }
    }
}

impl std::fmt::Display for SmoothingScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::All => "all",
        })
    }
}

/// Every setting of the `flowopt` planner. Users turn the few in [`crate::FlowOptOptions`];
/// the others are the documented constants above, which an experiment changes through a
/// tuning file ([`Self::from_json`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowOptSettings {
    /// Candidates K sampled per problem (default [`CANDIDATES`]).
    pub candidates: usize,
    /// Candidates sampled for a problem on an open floor, where no robot's straight line to
    /// its goal crosses an obstacle (`flowopt_core::GuidePaths::open`), at most `candidates`
    /// (default [`OPEN_CANDIDATES`]; 0: `candidates`). Not applied when alternatives are
    /// returned.
    pub open_candidates: usize,
    /// Flow integration steps (default 4).
    pub flow_steps: usize,
    /// Flow integration steps for a problem on an open floor, at most `flow_steps` (default
    /// [`OPEN_FLOW_STEPS`]; 0: `flow_steps`). Not applied when alternatives are returned.
    pub open_flow_steps: usize,
    /// Integrator of the flow (default Euler).
    pub integrator: Integrator,
    /// Most safety-filter iterations per pass (default [`FILTER_ITERATIONS`]; with
    /// `stop_after` the easy problems stop long before, and successive halving leaves one
    /// candidate per problem after 200).
    pub filter_iterations: usize,
    /// Samples per trajectory the filter constrains (default [`FILTER_SAMPLES`]; 0: the
    /// problem's `samples`). More samples leave less room for robots to meet between them, at
    /// a proportional cost; the plan is still judged on the problem's samples and the 4x
    /// denser check.
    pub filter_samples: usize,
    /// Longest time between the filter's samples, seconds (default [`FILTER_SAMPLE_PERIOD`];
    /// 0: no bound): a problem whose horizon needs more than `filter_samples` samples for
    /// this spacing gets ceil(horizon / period) + 1 of them, rounded up to a multiple of 10
    /// (at most 1000). Not applied to the first, coarse pass.
    pub filter_sample_period: f64,
    /// Iterations of a first, coarse filter pass on the problem's own samples (default
    /// [`COARSE_ITERATIONS`]); only the problems none of whose candidates then passed the
    /// checker are filtered again on `filter_samples` (at most `filter_iterations` more),
    /// starting from where the first pass left their candidates. The easy problems keep the
    /// cost of their own samples. 0: every problem on `filter_samples` from the start.
    pub coarse_iterations: usize,
    /// Stop filtering once this many candidates have converged and passed the checker (0: run
    /// every candidate to convergence or the budget; default 1: the first verified candidate is
    /// the answer, which cuts the time spent on the hardest candidates; in our checks it did
    /// not change which problems were solved, see docs/tuning.md#stopping-early).
    pub stop_after: usize,
    /// A candidate whose largest residual on the filter's samples is at most this (metres)
    /// is checked against the true constraints at every residual check, not only once it has
    /// converged to the filter's tolerance, and it counts for `stop_after` when it passes
    /// (default [`VERIFY_BELOW`]; 0: only converged candidates).
    pub verify_below: f64,
    /// Successive halving in the filter (default [`HALVE_EVERY`]; 0: off): at iterations h,
    /// 2h, 4h, ... of a pass, each problem keeps filtering only the better half of its
    /// candidates still running (by residual), so a long budget goes to the most promising
    /// ones; a problem filtered again on denser samples refines only the better half of the
    /// candidates the first pass kept to its end. Must be a multiple of 10 (the residual
    /// check interval).
    pub halve_every: usize,
    /// Weight of a smoothness term in the filter's objective (default [`FILTER_SMOOTHING`];
    /// 0: off, the filter projects the candidate): on the problems `smoothing_scope` names,
    /// the first pass (or the only one, with `coarse_iterations` 0) minimizes the distance
    /// from the generator's candidate plus this times its integrated squared acceleration
    /// (`flowopt_filter::FilterSettings::smoothing`). The second pass keeps 0.
    pub filter_smoothing: f64,
    /// The problems `filter_smoothing` applies to (default [`SMOOTHING_SCOPE`]: open floors).
    pub smoothing_scope: SmoothingScope,
    /// Robot count above which the first pass's smoothness weight grows in proportion to the
    /// number of robots: a problem of N robots gets `filter_smoothing * max(1, N /
    /// smoothing_robots)` (default [`SMOOTHING_ROBOTS`]; 0: `filter_smoothing` at every
    /// count). See [`Self::smoothing_for`].
    pub smoothing_robots: usize,
    /// Return every feasible filtered candidate besides the best (default false).
    pub return_candidates: bool,
    /// A robot whose generator candidate dips deeper than this (metres) into an obstacle has
    /// its deviation from its guide path scaled down before filtering (default
    /// [`crate::repair::MAX_DEPTH`]; `null`/`None`: never; see [`crate::repair`]).
    pub pull_back_depth: Option<f64>,
    /// Step of the filter's multiplier update in the pass on `filter_samples` (the refining
    /// pass, or the only one with `coarse_iterations` 0; default [`DUAL_STEP`]; 1: the plain
    /// augmented-Lagrangian update; `flowopt_filter::FilterSettings::dual_step`). The first,
    /// coarse pass keeps 1. In (0, 4].
    pub dual_step: f64,
    /// Most iterations of a polishing filter pass (default [`POLISH_ITERATIONS`]; 0: off): the
    /// plan of a problem that the first pass did not smooth (around obstacles) is filtered
    /// once more, from itself, with the smoothness term `polish_smoothing` on
    /// `filter_samples`; the result replaces the plan when it passes the checker and is
    /// smoother. Not applied when alternatives are returned.
    pub polish_iterations: usize,
    /// Weight of the smoothness term in the polishing pass (default [`POLISH_SMOOTHING`]).
    pub polish_smoothing: f64,
    /// Most proximal rounds of the polishing pass (default [`POLISH_ROUNDS`]; 0: one plain
    /// pass, stopping at its first verified point): each time the plan passes the checker it
    /// is kept, becomes the pass's new anchor and the pass runs on with most of its
    /// multipliers, until two rounds together gain less than [`POLISH_MIN_GAIN`], the rounds
    /// or `polish_iterations` run out (`flowopt_filter::FilterSettings::recentre`).
    pub polish_rounds: usize,
}

impl Default for FlowOptSettings {
    fn default() -> Self {
        Self {
            candidates: CANDIDATES,
            open_candidates: OPEN_CANDIDATES,
            flow_steps: 4,
            open_flow_steps: OPEN_FLOW_STEPS,
            integrator: Integrator::Euler,
            filter_iterations: FILTER_ITERATIONS,
            filter_samples: FILTER_SAMPLES,
            filter_sample_period: FILTER_SAMPLE_PERIOD,
            coarse_iterations: COARSE_ITERATIONS,
            stop_after: STOP_AFTER,
            verify_below: VERIFY_BELOW,
            halve_every: HALVE_EVERY,
            filter_smoothing: FILTER_SMOOTHING,
            smoothing_scope: SMOOTHING_SCOPE,
            smoothing_robots: SMOOTHING_ROBOTS,
            return_candidates: false,
            pull_back_depth: Some(crate::repair::MAX_DEPTH),
            dual_step: DUAL_STEP,
            polish_iterations: POLISH_ITERATIONS,
            polish_smoothing: POLISH_SMOOTHING,
            polish_rounds: POLISH_ROUNDS,
        }
    }
}

impl FlowOptSettings {
    /// Settings from a tuning file's JSON: any of the fields, the others at their defaults;
    /// validated. An unknown field is an error naming it.
    pub fn from_json(text: &str) -> Result<Self, InputError> {
        let settings: Self = InputError::parse_json(text, "tuning")?;
        settings.validate()?;
        Ok(settings)
    }

    /// Candidates sampled for a problem whose floor is `open` (see
    /// [`open_candidates`](Self::open_candidates)).
    pub fn candidates_for(&self, open: bool) -> usize {
        self.on_floor(open, self.open_candidates, self.candidates)
    }

    /// Flow integration steps for a problem whose floor is `open` (see
    /// [`open_flow_steps`](Self::open_flow_steps)).
    pub fn flow_steps_for(&self, open: bool) -> usize {
        self.on_floor(open, self.open_flow_steps, self.flow_steps)
    }

    /// These settings returning alternatives ([`Self::return_candidates`]): every candidate
    /// then runs to convergence or the budget (`stop_after` 0) and none is dropped by
    /// successive halving (`halve_every` 0), so the alternatives are all the candidates the
    /// filter can make feasible. What `flowopt plan --return-candidates` and the HTTP API's
    /// `return_candidates` use.
    pub fn returning_candidates(self) -> Self {
        Self {
            return_candidates: true,
            stop_after: 0,
            halve_every: 0,
            ..self
        }
    }

    /// The first pass's smoothness weight for a problem of `robots` robots, where
    /// `smoothing_scope` applies it: `filter_smoothing`, growing in proportion to the robot
    /// count above `smoothing_robots` (with one weight for all, random floors of 32 robots
    /// came out rougher relative to `scp` than those of 8 or 16: docs/tuning.md#smoothing).
    pub fn smoothing_for(&self, robots: usize) -> f64 {
        if self.smoothing_robots > 0 && robots > self.smoothing_robots {
            self.filter_smoothing * robots as f64 / self.smoothing_robots as f64
        } else {
            self.filter_smoothing
        }
    }

    /// The open-floor count `on_open` (at most `general`; 0: `general`) where it applies: on an
    /// open floor, without alternatives asked for; else `general`.
    fn on_floor(&self, open: bool, on_open: usize, general: usize) -> usize {
        if open && on_open > 0 && !self.return_candidates {
            on_open.min(general)
        } else {
            general
        }
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |f: &str, m: &str| Err(InputError::new(ErrorKind::OutOfRange, f, m));
        if !(1..=256).contains(&self.candidates) {
            return bad("candidates", "must be in 1..=256");
        }
        if !(1..=100).contains(&self.flow_steps) {
            return bad("flow_steps", "must be in 1..=100");
        }
        if !(1..=10_000).contains(&self.filter_iterations) {
            return bad("filter_iterations", "must be in 1..=10000");
        }
        if self.filter_samples == 1 || self.filter_samples > 1000 {
            return bad("filter_samples", "must be 0 (the problem's) or in 2..=1000");
        }
        if !(self.filter_sample_period.is_finite() && self.filter_sample_period >= 0.0) {
            return bad(
                "filter_sample_period",
                "must be a finite number >= 0 (0: no bound)",
            );
        }
        if !(self.verify_below.is_finite() && self.verify_below >= 0.0) {
            return bad("verify_below", "must be a finite number >= 0 (0: off)");
        }
        if !(self.filter_smoothing.is_finite() && self.filter_smoothing >= 0.0) {
            return bad("filter_smoothing", "must be a finite number >= 0 (0: off)");
        }
        if !(self.dual_step > 0.0 && self.dual_step <= 4.0) {
            return bad("dual_step", "must be in (0, 4]");
        }
        // The filter reads residuals (and so can halve) every `check_every` iterations; the
        // planner keeps the filter's default interval.
        let every = FilterSettings::default().check_every;
        if !self.halve_every.is_multiple_of(every) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "halve_every",
                format!(
                    "must be a multiple of {every}, the filter's residual check interval (0: off)"
                ),
            ));
        }
        if self.polish_iterations > 10_000 {
            return bad("polish_iterations", "must be in 0..=10000");
        }
        if !(self.polish_smoothing.is_finite() && self.polish_smoothing >= 0.0) {
            return bad("polish_smoothing", "must be a finite number >= 0");
        }
        if self.polish_rounds > 1000 {
            return bad("polish_rounds", "must be in 0..=1000");
        }
        if self.coarse_iterations > 10_000 {
            return bad("coarse_iterations", "must be in 0..=10000");
        }
        if self
            .pull_back_depth
            .is_some_and(|d| !(d.is_finite() && d >= 0.0))
        {
            return bad(
                "pull_back_depth",
                "must be a finite number >= 0 or null (never)",
            );
        }
        if self.stop_after > self.candidates {
            return bad(
                "stop_after",
                "must be at most `candidates` (0: wait for all)",
            );
        }
        if self.open_flow_steps > 100 {
            return bad("open_flow_steps", "must be in 0..=100 (0: `flow_steps`)");
        }
        if self.open_candidates > 256 {
            return bad("open_candidates", "must be in 0..=256 (0: `candidates`)");
        }
        if !self.return_candidates && self.stop_after > self.candidates_for(true) {
            return bad(
                "stop_after",
                "must be at most `open_candidates` (0: wait for all)",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returning_candidates_runs_every_candidate_and_validates() {
        let settings = FlowOptSettings::default().returning_candidates();
        assert!(settings.return_candidates);
        assert_eq!((settings.stop_after, settings.halve_every), (0, 0));
        assert_eq!(settings.candidates_for(true), settings.candidates);
        settings.validate().unwrap();
    }

    #[test]
    fn smoothing_weight_grows_with_the_robot_count_above_its_threshold() {
        let settings = FlowOptSettings::default();
        assert_eq!(settings.smoothing_for(2), FILTER_SMOOTHING);
        assert_eq!(settings.smoothing_for(SMOOTHING_ROBOTS), FILTER_SMOOTHING);
        assert_eq!(settings.smoothing_for(24), FILTER_SMOOTHING * 1.5);
        assert_eq!(settings.smoothing_for(32), FILTER_SMOOTHING * 2.0);
        let constant = FlowOptSettings {
            smoothing_robots: 0,
            ..settings
        };
        assert_eq!(constant.smoothing_for(32), FILTER_SMOOTHING);
        let off = FlowOptSettings {
            filter_smoothing: 0.0,
            ..settings
        };
        assert_eq!(off.smoothing_for(32), 0.0);
    }

    #[test]
    fn smoothing_scopes_parse_print_and_deserialize_alike() {
        for scope in [SmoothingScope::Open, SmoothingScope::All] {
            assert_eq!(scope.to_string().parse::<SmoothingScope>().unwrap(), scope);
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{scope}\""));
        }
        let err = "everywhere".parse::<SmoothingScope>().unwrap_err();
        assert_eq!(err.field, "smoothing_scope");
        let settings: FlowOptSettings =
            serde_json::from_str(r#"{"smoothing_scope": "all"}"#).unwrap();
        assert_eq!(settings.smoothing_scope, SmoothingScope::All);
        assert_eq!(settings.filter_smoothing, FILTER_SMOOTHING);
    }

    #[test]
    fn open_floors_take_their_own_counts_capped_by_the_general_ones() {
        let settings = FlowOptSettings::default();
        assert_eq!(settings.candidates_for(false), CANDIDATES);
        assert_eq!(settings.candidates_for(true), OPEN_CANDIDATES);
        let capped = FlowOptSettings {
            candidates: 1,
            open_candidates: 3,
            ..Default::default()
        };
        assert_eq!(capped.candidates_for(true), 1);
        let off = FlowOptSettings {
            open_candidates: 0,
            ..Default::default()
        };
        assert_eq!(off.candidates_for(true), CANDIDATES);
        let alternatives = FlowOptSettings {
            return_candidates: true,
            stop_after: 0,
            ..Default::default()
        };
        assert_eq!(alternatives.candidates_for(true), CANDIDATES);
        assert_eq!(alternatives.flow_steps_for(true), 4);
        assert_eq!(settings.flow_steps_for(true), OPEN_FLOW_STEPS);
        assert_eq!(settings.flow_steps_for(false), 4);
        let one = FlowOptSettings {
            flow_steps: 1,
            ..Default::default()
        };
        assert_eq!(one.flow_steps_for(true), 1);
    }

    #[test]
    fn bad_options_are_refused_naming_the_field() {
        assert!(FlowOptSettings::default().validate().is_ok());
        for (settings, field) in [
            (
                FlowOptSettings {
                    filter_samples: 1,
                    ..Default::default()
                },
                "filter_samples",
            ),
            (
                FlowOptSettings {
                    candidates: 2,
                    stop_after: 3,
                    ..Default::default()
                },
                "stop_after",
            ),
            (
                FlowOptSettings {
                    pull_back_depth: Some(f64::NAN),
                    ..Default::default()
                },
                "pull_back_depth",
            ),
            (
                FlowOptSettings {
                    filter_sample_period: -0.1,
                    ..Default::default()
                },
                "filter_sample_period",
            ),
            (
                FlowOptSettings {
                    verify_below: f64::INFINITY,
                    ..Default::default()
                },
                "verify_below",
            ),
            (
                FlowOptSettings {
                    filter_smoothing: f64::NAN,
                    ..Default::default()
                },
                "filter_smoothing",
            ),
            (
                FlowOptSettings {
                    candidates: 0,
                    ..Default::default()
                },
                "candidates",
            ),
            (
                FlowOptSettings {
                    stop_after: 3,
                    ..Default::default()
                },
                "stop_after",
            ),
            (
                FlowOptSettings {
                    open_flow_steps: 101,
                    ..Default::default()
                },
                "open_flow_steps",
            ),
            (
                FlowOptSettings {
                    open_candidates: 1000,
                    ..Default::default()
                },
                "open_candidates",
            ),
        ] {
            assert_eq!(settings.validate().unwrap_err().field, field);
        }
    }
}
