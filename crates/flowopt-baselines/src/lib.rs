//! Reference planners that Flow-Opt learns from and is compared against:
//!
//! - [`ScpPlanner`] (`scp`): centralized trajectory optimization over all robots' Bernstein
//!   coefficients, solved by sequential convex programming with the Clarabel conic solver;
//! - [`OrcaPlanner`] (`orca`): decentralized reactive collision avoidance (ORCA, `dodgy_2d`);
//!   [`orca_velocities`] is its single-step core for simulators that move agents themselves;
//! - [`generate_dataset`]: training data for the generator, labelled by verified `scp` solutions.
#![warn(missing_docs)]
// Matrix assembly indexes several arrays with the same (robot, time, coefficient) indices, as
// the math is written; iterator chains would hide that.
#![allow(clippy::needless_range_loop)]

mod dataset;
mod orca;
mod scp;

pub use dataset::{DatasetSettings, DatasetSummary, generate_dataset};
pub use orca::{OrcaAgent, OrcaPlanner, OrcaSettings, orca_velocities};
pub use scp::{ScpPlanner, ScpSettings};
