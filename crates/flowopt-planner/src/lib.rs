//! The `flowopt` planner (DESIGN.md section 5): the generator samples K candidate joint
//! trajectories, the learned warm start and the safety filter project each onto the
//! constraints, and the feasible candidate with the best smoothness is returned (else the one
//! with the smallest violation, flagged infeasible). Optionally every feasible candidate is
//! returned with a diversity figure ([`diversity`]). Per-stage timings are reported.
//!
//! [`planner_by_name`] builds every planner Flow-Opt offers (this one, `filter`, and the
//! `scp`, `orca` and `straight` references) by name: the registry the CLI and the server share.
#![warn(missing_docs)]

pub mod diversity;
mod planner;
mod registry;
pub mod repair;
mod settings;

pub use planner::{FlowOptPlanner, Samples};
pub use registry::{
    DEFAULT_GENERATOR, DeviceChoice, GeneratorChoice, PLANNERS, PlannerOptions, RegistryError,
    WarmStartChoice, planner_by_name,
};
pub use settings::{
    CANDIDATES, COARSE_ITERATIONS, DUAL_STEP, FILTER_ITERATIONS, FILTER_SAMPLE_PERIOD,
    FILTER_SAMPLES, FILTER_SMOOTHING, FlowOptSettings, HALVE_EVERY, OPEN_CANDIDATES,
    OPEN_FLOW_STEPS, POLISH_DUAL_STEP, POLISH_ITERATIONS, POLISH_MIN_GAIN, POLISH_ROUNDS,
    POLISH_SMOOTHING, SMOOTHING_ROBOTS, SMOOTHING_SCOPE, STOP_AFTER, SmoothingScope, VERIFY_BELOW,
};
