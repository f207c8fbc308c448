//! Flow-Opt's generator (DESIGN.md section 4): a flow-matching Diffusion Transformer that samples
//! candidate joint trajectories for a planning problem.
//!
//! - [`representation`]: trajectories as per-robot deviations from a guide path (the straight
//!   start-goal line, or the shortest way around obstacles that block it), in a frame shared by
//!   every workspace size; [`Symmetry`] augments training data with the workspace's mirror
//!   images;
//! - [`Conditioning`]: robot and map tokens for a batch of problems of different sizes (padded,
//!   with masks);
//! - [`GeneratorNet`]: the velocity model, permutation-equivariant over robots (no positional
//!   encoding across robots) and invariant to obstacle order, with adaLN-Zero time conditioning;
//! - [`flow`]: the flow-matching loss and seeded Euler / midpoint sampling of K candidates per
//!   problem in one batch;
//! - [`train`]: `flowopt train generator` (seeded, validation loss, resumable checkpoints);
//!   [`Generator`] loads and saves weights with their JSON report.
#![warn(missing_docs)]

mod conditioning;
mod config;
pub mod flow;
mod model;
pub mod representation;
mod symmetry;
pub mod train;
mod weights;

pub use conditioning::{Conditioning, MAP_FEATURES, ROBOT_FEATURES};
pub use config::GeneratorConfig;
pub use flow::{FlowSampler, SampleSettings};
pub use model::{GeneratorNet, MapMemory};
pub use symmetry::Symmetry;
pub use train::{GeneratorReport, GeneratorTrainSettings};
pub(crate) use weights::read_report;
pub use weights::{Generator, GeneratorError};

/// Serialises this crate's tests: training results were observed to differ slightly (up to
/// 0.5% in a 12-step loss) when other Burn work ran concurrently in the same process, even
/// with one rayon thread, while every run alone was bitwise reproducible.
#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
