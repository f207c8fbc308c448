//! Flow-Opt's planning pipeline (DESIGN.md section 5), built from stages, each its own module:
//! a candidate source ([`source`](mod@source): the flow-matching generator, or perturbed guide
//! paths) -> a list of safety-filter passes (`passes`) -> selection of the feasible candidate
//! with the best smoothness by the shared checker, else the one with the smallest violation,
//! flagged infeasible (`select`) -> polishing (`polish`). Optionally every feasible candidate
//! is returned with a diversity figure ([`diversity`]). Per-stage timings are reported.
//!
//! The `flowopt` planner ([`FlowOptPlanner`]: generator, coarse and refining passes,
//! polishing) and the `filter` planner ([`FilterPlanner`]: perturbed paths, one pass) are two
//! configurations of that pipeline. [`FlowOptSettings`] holds every setting of the former;
//! [`FlowOptOptions`] the few users turn, from which the CLI flags and the HTTP query options
//! are derived. [`planner_by_name`] builds every planner Flow-Opt offers (these two and the
//! `scp`, `orca` and `straight` references) by name: the registry the CLI and the server share.
#![warn(missing_docs)]

pub mod diversity;
mod filter;
mod flowopt;
mod options;
mod passes;
mod pipeline;
mod polish;
mod registry;
pub mod repair;
pub mod select;
mod settings;
pub mod source;

pub use filter::{FilterPlanner, FilterPlannerSettings};
pub use flowopt::FlowOptPlanner;
pub use options::FlowOptOptions;
pub use registry::{
    DEFAULT_GENERATOR, DeviceChoice, GeneratorChoice, PLANNERS, PlannerOptions, RegistryError,
    WarmStartChoice, flowopt_planner, planner_by_name,
};
pub use settings::{
    CANDIDATES, COARSE_ITERATIONS, DUAL_STEP, FILTER_ITERATIONS, FILTER_SAMPLE_PERIOD,
    FILTER_SAMPLES, FILTER_SMOOTHING, FlowOptSettings, HALVE_EVERY, OPEN_CANDIDATES,
    OPEN_FLOW_STEPS, POLISH_DUAL_STEP, POLISH_ITERATIONS, POLISH_MIN_GAIN, POLISH_ROUNDS,
    POLISH_SMOOTHING, SMOOTHING_ROBOTS, SMOOTHING_SCOPE, STOP_AFTER, SmoothingScope, VERIFY_BELOW,
};
pub use source::Samples;
