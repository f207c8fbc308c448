//! What Flow-Opt's neural crates (the safety filter's warm start, the generator and the RL
//! agents) share on top of Burn, so the problem model in `flowopt-core` needs no Burn:
//!
//! - [`seeded`]: initial weights that follow a seed, also while other work draws random
//!   numbers on the same device;
//! - [`save`], [`load`] and [`load_bytes`]: a module's parameters as a Burn `.bpk` file
//!   (written through a temporary file and renamed into place, so a reader never sees half a
//!   file), or from bytes embedded in the binary, with errors that name the file
//!   ([`WeightsError`]).
//!
//! ```
//! use burn::nn::LinearConfig;
//! use burn::prelude::*;
//!
//! let device = Device::flex();
//! let layer = flowopt_nn::seeded(&device, 7, || LinearConfig::new(4, 2).init(&device));
//! let dir = std::env::temp_dir().join(format!("flowopt-nn-doc-{}", std::process::id()));
//! let written = flowopt_nn::save(&layer, &dir.join("layer")).unwrap();
//! assert_eq!(written, dir.join("layer.bpk"));
//! let fresh = LinearConfig::new(4, 2).init(&device);
//! let loaded = flowopt_nn::load(fresh, &written).unwrap();
//! assert_eq!(
//!     loaded.weight.val().into_data(),
//!     layer.weight.val().into_data()
//! );
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![warn(missing_docs)]

mod seeded;
mod weights;

pub use seeded::seeded;
pub use weights::{WeightsError, load, load_bytes, save};
