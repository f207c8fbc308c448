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

    /// Floating-point operations of one forward pass of the velocity model for one problem
    /// entry with `robots` robot tokens and `map_tokens` map tokens (the workspace and the
    /// obstacles): 2 per multiply-add of every linear layer and attention product (the matrix
    /// work; element-wise operations, softmax and normalisation are left out). For the roofline
    /// figure of `flowopt bench roofline`.
    pub fn forward_flops(&self, robots: usize, map_tokens: usize) -> f64 {
        let (w, n, m) = (self.width as f64, robots as f64, map_tokens as f64);
        let linear = |tokens: f64, inputs: f64, outputs: f64| 2.0 * tokens * inputs * outputs;
        // Q, K, V and output projections plus the two attention products.
        let attention = |queries: f64, keys: f64| {
            linear(queries, w, w) * 2.0 + linear(keys, w, w) * 2.0 + 2.0 * 2.0 * queries * keys * w
        };
        let traj = self.trajectory_dim() as f64;
        let robot_features = crate::ROBOT_FEATURES as f64 + traj;
        let encoders = linear(n, robot_features, w)
            + linear(n, w, w)
            + linear(m, crate::MAP_FEATURES as f64, w)
            + linear(m, w, w)
            + attention(m, m)
            + linear(1.0, w, w) * 2.0;
        let block = linear(1.0, w, 9.0 * w)
            + attention(n, n)
            + attention(n, m)
            + linear(n, w, 4.0 * w)
            + linear(n, 4.0 * w, w);
        encoders + self.blocks as f64 * block + linear(1.0, w, 2.0 * w) + linear(n, w, traj)
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

/// The small model the unit tests build (width 32, 4 heads, 2 blocks).
#[cfg(test)]
pub(crate) fn tiny() -> GeneratorConfig {
    GeneratorConfig {
        width: 32,
        heads: 4,
        blocks: 2,
        ..Default::default()
    }
}

/// Two problems of unequal robot and obstacle counts (4 robots around 2 obstacles, a circle of
/// 3), the batch the sampling tests pad and split.
#[cfg(test)]
pub(crate) fn unequal_problems() -> [flowopt_core::Problem; 2] {
    use flowopt_core::{Scenario, ScenarioConfig};
    [
        Scenario::Obstacles
            .generate(&ScenarioConfig::new(4).obstacles(2).seed(1))
            .expect("a valid obstacle field"),
        Scenario::Circle
            .generate(&ScenarioConfig::new(3).seed(2))
            .expect("a valid circle"),
    ]
}
