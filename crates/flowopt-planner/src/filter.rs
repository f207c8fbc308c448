//! The `filter` planner: the [`Pipeline`] with seeded perturbations of the straight-line plan
//! (shortest paths around obstacles where a line is blocked) as its candidate source, one pass
//! of the safety filter, and the best candidate by the checker (no generator, no polishing).

use burn::prelude::*;
use flowopt_core::{Coefficients, ErrorKind, InputError, Problem};
use flowopt_filter::{FilterSettings, SafetyFilter, WarmStart, perturbed_candidates};

use crate::passes::{Pass, Passes};
use crate::pipeline::Pipeline;
use crate::select::Selection;
use crate::source::Source;

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
    pub(crate) pipeline: Pipeline,
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
        let pipeline = Pipeline {
            name: "filter",
            source: Source::Perturbed {
                candidates: settings.candidates,
                perturbation: settings.perturbation,
            },
            passes: Passes {
                passes: vec![Pass {
                    filter: SafetyFilter::new(filter_settings, device)?,
                    smoothing: None,
                }],
                pull_back_depth: None,
            },
            // Every candidate is judged: one the filter did not offer to the check (it had not
            // converged) can still be feasible and the smoothest.
            selection: Selection {
                alternatives: false,
                accepted_only: false,
            },
            polish: None,
        };
        Ok(Self { pipeline, settings })
    }

    /// Starts the filter from `warm_start`'s predictions (it must live on the planner's device).
    pub fn with_warm_start(mut self, warm_start: WarmStart) -> Self {
        let pass = &mut self.pipeline.passes.passes[0];
        pass.filter = pass.filter.clone().with_warm_start(warm_start);
        self
    }

    /// The safety filter it projects with.
    pub fn filter(&self) -> &SafetyFilter {
        self.pipeline.passes.first()
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

crate::pipeline::planner_of_pipeline!(FilterPlanner, "filter");

#[cfg(test)]
mod tests {
    use flowopt_core::{CheckConfig, PlanOptions, Planner, Scenario, ScenarioConfig, evaluate};

    use super::*;

    fn cpu() -> Device {
        Device::flex()
    }

    fn assert_plans_feasible(scenario: Scenario, config: ScenarioConfig) {
        let problem = scenario.generate(&config).unwrap();
        let planner = FilterPlanner::new(FilterSettings::default(), cpu()).unwrap();
        let plan = planner
            .plan(&problem, &PlanOptions { seed: config.seed })
            .unwrap();
        let m = evaluate(&problem, &plan.trajectories, &CheckConfig::default()).unwrap();
        assert!(
            m.feasible,
            "{scenario} N={}: {:?} info {:?}",
            config.robots, m.residuals, plan.info
        );
    }

    #[test]
    fn circle_8_feasible() {
        assert_plans_feasible(Scenario::Circle, ScenarioConfig::new(8).seed(1));
    }

    #[test]
    fn circle_16_feasible() {
        assert_plans_feasible(Scenario::Circle, ScenarioConfig::new(16).seed(2));
    }

    #[test]
    fn doorway_6_feasible() {
        assert_plans_feasible(Scenario::Doorway, ScenarioConfig::new(6).seed(4));
    }

    #[test]
    fn a_single_robot_has_no_pairs_and_still_works() {
        assert_plans_feasible(Scenario::Obstacles, ScenarioConfig::new(1).seed(2));
    }

    /// Problems the plain start leaves infeasible after 200 iterations (docs/tuning.md#learned-warm-start) that
    /// the shipped warm start solves: a regression check of the shipped weights.
    #[test]
    fn the_shipped_warm_start_solves_crowded_problems() {
        let warm = FilterPlanner::new(FilterSettings::default(), cpu())
            .unwrap()
            .with_warm_start(WarmStart::shipped(&cpu()).unwrap());
        for (scenario, robots, seed) in [(Scenario::Circle, 32, 0), (Scenario::Doorway, 6, 2)] {
            let problem = scenario
                .generate(&ScenarioConfig::new(robots).seed(seed))
                .unwrap();
            let plan = warm.plan(&problem, &PlanOptions { seed }).unwrap();
            let m = evaluate(&problem, &plan.trajectories, &CheckConfig::default()).unwrap();
            assert!(
                m.feasible,
                "{scenario} N={robots} seed {seed}: {:?}",
                m.residuals
            );
        }
    }

    #[test]
    fn obstacles_8_feasible() {
        assert_plans_feasible(Scenario::Obstacles, ScenarioConfig::new(8).seed(3));
    }
}
