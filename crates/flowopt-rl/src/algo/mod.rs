//! The algorithms' update rules (RL-ALGORITHMS.md), one file each; the [`crate::Agent`] that
//! holds the networks and runs them lives in [`crate::agent`](mod@crate::agent).

mod config;
pub(crate) mod decision_flow;
pub mod fpmd;
pub(crate) mod fql;
pub(crate) mod gfp;
pub(crate) mod qam;
mod step;
pub mod streaming;
pub mod swfp;

pub use config::{AgentConfig, Algorithm};
pub use step::{AgentNets, Batch, Losses};
pub(crate) use step::{Objective, Part, Step, critic_loss, flow_bc_loss, lift, scalar};

#[cfg(test)]
mod tests;
