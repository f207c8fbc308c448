//! The generator's shape.

use flowopt_core::{DEFAULT_ORDER, ErrorKind, InputError};
use serde::{Deserialize, Serialize};

/// Shape of the DiT velocity model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Token width (default 64).
    pub width: usize,
    /// Attention heads (default 4).
    pub heads: usize,
    /// DiT blocks (default 4).
    pub blocks: usize,
    /// Bernstein order of the trajectories (default 10: 11 coefficients per axis).
    pub order: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            width: 64,
            heads: 4,
            blocks: 4,
            order: DEFAULT_ORDER,
        }
    }
}

impl GeneratorConfig {
    /// Values per robot token of the trajectory: 2 axes x (order + 1) coefficients.
    pub fn trajectory_dim(&self) -> usize {
        2 * (self.order + 1)
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |f: &str, m: &str| Err(InputError::new(ErrorKind::OutOfRange, f, m));
        if self.width < 8 || !self.width.is_multiple_of(2) {
            return bad("width", "width must be an even number >= 8");
        }
        if self.heads == 0 || !self.width.is_multiple_of(self.heads) {
            return bad("heads", "heads must divide width");
        }
        if self.blocks == 0 || self.blocks > 64 {
            return bad("blocks", "blocks must be in 1..=64");
        }
        if self.order != DEFAULT_ORDER {
            return bad("order", "the planner runs order 10 polynomials");
        }
        Ok(())
    }
}
