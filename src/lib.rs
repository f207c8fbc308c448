//! Flow-Opt: multi-robot trajectory planning with a flow-matching generator and a batched,
//! differentiable safety filter.
//!
//! This facade re-exports the workspace crates and the registry of planners the `flowopt`
//! binary and the server offer by name.
//!
//! - [`core`]: the problem and plan types (the JSON contract), Bernstein trajectories, scenario
//!   generators, metrics and the [`core::Planner`] trait.
//! - [`baselines`]: the `scp` (Clarabel) and `orca` reference planners and the dataset generator.
//! - [`filter`]: the batched, differentiable safety filter (Burn) and its learned warm start.
//! - [`generator`]: the flow-matching DiT generator and its training.
//! - [`planner`]: the planning pipeline and its two configurations, the `flowopt` and `filter`
//!   planners, with the registry of planners by name.
//! - [`rl`]: reinforcement-learning agents with flow policies (environments, datasets, FQL, ...).
//! - [`bench`]: the scenario benchmark behind `flowopt bench`.
#![warn(missing_docs)]

pub use flowopt_baselines as baselines;
pub use flowopt_core as core;
pub use flowopt_filter as filter;
pub use flowopt_generator as generator;
pub use flowopt_planner as planner;
pub use flowopt_rl as rl;

pub mod bench;
pub use flowopt_planner::{
    DEFAULT_GENERATOR, DeviceChoice, GeneratorChoice, PLANNERS, PlannerOptions, RegistryError,
    WarmStartChoice, planner_by_name,
};
