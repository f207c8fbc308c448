//! Flow-Opt: multi-robot trajectory planning with a flow-matching generator and a batched,
//! differentiable safety filter.
//!
//! This facade re-exports the workspace crates and holds the registry of planners the
//! `flowopt` binary and the server offer by name.
//!
//! - [`core`]: the problem and plan types (the JSON contract), Bernstein trajectories, scenario
//!   generators, metrics and the [`core::Planner`] trait.
//! - [`baselines`]: the `scp` (Clarabel) and `orca` reference planners and the dataset generator.
#![warn(missing_docs)]

pub use flowopt_baselines as baselines;
pub use flowopt_core as core;

mod registry;

pub use registry::{PLANNERS, planner_by_name};
