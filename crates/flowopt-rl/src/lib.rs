//! Flow-Opt's reinforcement-learning agents whose policies are flow models (DESIGN.md section 8,
//! equations in RL-ALGORITHMS.md), built on Burn:
//!
//! - [`env`](mod@env): `pendulum` (Pendulum-v1's dynamics and reward), `point-maze`, `swarm-nav` (one
//!   learner among ORCA robots) and `bandit2d`, behind one seeded [`Env`] trait that also
//!   implements Burn's `burn::rl::Environment`;
//! - [`expert`] and [`dataset`]: scripted noisy experts and offline datasets in the
//!   D4RL/OGBench npz layout, and a loader for such files;
//! - [`nets`]: MLP velocity fields, one-step actors, critic ensembles with LayerNorm and EMA
//!   targets;
//! - [`algo`]: `flow-bc`, `fql`, `qam`, `gfp`, `decision-flow` (offline) and `fpmd-r`, `fpmd-m`
//!   (online);
//! - [`online`] and [`replay`]: online training from a seeded host-side replay buffer;
//! - [`train`], [`eval`] and [`summary`]: offline training with periodic evaluation, JSON
//!   metrics and checkpoints; tables over seeds;
//! - [`checkpoint`]: a directory holding an agent (or only its acting policy) and what it is.
#![warn(missing_docs)]

pub mod agent;
pub mod algo;
pub mod checkpoint;
pub mod dataset;
pub mod env;
mod error;
pub mod eval;
pub mod expert;
pub mod nets;
pub mod online;
pub mod policy;
pub mod replay;
pub mod summary;
pub mod train;

pub use agent::Agent;
pub use algo::{AgentConfig, Algorithm};
pub use dataset::{Dataset, Quality, Transition};
pub use env::{Disc, Env, EnvKind, Scene, Space, Step};
pub use error::RlError;
pub use eval::{Evaluation, Frame, Rollout, evaluate, rollout};
pub use online::train_online;
pub use policy::Policy;
pub use train::{TrainReport, TrainSettings, train_offline};
