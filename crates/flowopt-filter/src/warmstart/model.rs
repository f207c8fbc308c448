//! The warm-start network: a permutation-equivariant set transformer over robot tokens with
//! cross-attention to obstacle tokens, predicting per robot a correction of the candidate
//! (c_0 = cbar + dc) and the initial multipliers (lambda_0 = dc + dl; DESIGN.md section 3).
//!
//! There is no positional encoding across robots or obstacles, so permuting the robots of an
//! instance permutes its outputs and permuting its obstacles changes nothing. The output layer
//! starts at zero: an untrained network is the plain start (c_0 = cbar, lambda_0 = 0).

use burn::module::Module;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use serde::{Deserialize, Serialize};

use super::features::{OBSTACLE_FEATURES, WarmStartInput, robot_features};

/// Shape of the warm-start network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmStartConfig {
    /// Token width (default 64).
    pub width: usize,
    /// Attention heads (default 4).
    pub heads: usize,
    /// Transformer blocks (default 2).
    pub blocks: usize,
    /// Bernstein order of the coefficients it reads and writes (default 10).
    pub order: usize,
}

impl Default for WarmStartConfig {
    fn default() -> Self {
        Self {
            width: 64,
            heads: 4,
            blocks: 2,
            order: flowopt_core::DEFAULT_ORDER,
        }
    }
}

impl WarmStartConfig {
    /// A freshly initialised network on `device`.
    pub fn init(&self, device: &Device) -> WarmStartNet {
        let w = self.width;
        let k = self.order + 1;
        let mha = || {
            MultiHeadAttentionConfig::new(w, self.heads)
                .with_dropout(0.0)
                .init(device)
        };
        let norm = || LayerNormConfig::new(w).init(device);
        let blocks = (0..self.blocks)
            .map(|_| Block {
                self_norm: norm(),
                self_attn: mha(),
                cross_norm: norm(),
                cross_attn: mha(),
                mlp_norm: norm(),
                mlp_in: LinearConfig::new(w, 2 * w).init(device),
                mlp_out: LinearConfig::new(2 * w, w).init(device),
            })
            .collect();
        WarmStartNet {
            robot_in: LinearConfig::new(robot_features(k), w).init(device),
            robot_hidden: LinearConfig::new(w, w).init(device),
            obstacle_in: LinearConfig::new(OBSTACLE_FEATURES, w).init(device),
            obstacle_hidden: LinearConfig::new(w, w).init(device),
            blocks,
            head_norm: norm(),
            head: LinearConfig::new(w, 4 * k)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }

    /// Checks the fields, naming the bad one.
    pub fn validate(&self) -> Result<(), flowopt_core::InputError> {
        use flowopt_core::{ErrorKind, InputError};
        if self.width == 0 || self.heads == 0 || !self.width.is_multiple_of(self.heads) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "width",
                "width must be a positive multiple of heads",
            ));
        }
        if self.order != flowopt_core::DEFAULT_ORDER {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "order",
                format!(
                    "the filter runs order {} polynomials",
                    flowopt_core::DEFAULT_ORDER
                ),
            ));
        }
        Ok(())
    }
}

/// One transformer block: robot self-attention, robot-to-obstacle cross-attention, MLP; all
/// pre-norm with residual connections.
#[derive(Module, Debug)]
pub struct Block {
    self_norm: LayerNorm,
    self_attn: MultiHeadAttention,
    cross_norm: LayerNorm,
    cross_attn: MultiHeadAttention,
    mlp_norm: LayerNorm,
    mlp_in: Linear,
    mlp_out: Linear,
}

impl Block {
    fn forward(&self, robots: Tensor<3>, obstacles: Option<&Tensor<3>>) -> Tensor<3> {
        let h = self.self_norm.forward(robots.clone());
        let mut x = robots + self.self_attn.forward(MhaInput::self_attn(h)).context;
        if let Some(obstacles) = obstacles {
            let q = self.cross_norm.forward(x.clone());
            let input = MhaInput::new(q, obstacles.clone(), obstacles.clone());
            x = x.clone() + self.cross_attn.forward(input).context;
        }
        let h = self.mlp_norm.forward(x.clone());
        x + self.mlp_out.forward(gelu(self.mlp_in.forward(h)))
    }
}

/// The warm-start network.
#[derive(Module, Debug)]
pub struct WarmStartNet {
    robot_in: Linear,
    robot_hidden: Linear,
    obstacle_in: Linear,
    obstacle_hidden: Linear,
    blocks: Vec<Block>,
    head_norm: LayerNorm,
    head: Linear,
}

/// What the network predicts, in the solver's layout (B, 2, N K).
pub struct WarmStartOutput {
    /// Starting coefficients c_0.
    pub c0: Tensor<3>,
    /// Starting multipliers lambda_0.
    pub lambda0: Tensor<3>,
}

impl WarmStartNet {
    /// Predicts (c_0, lambda_0) for a batch.
    pub fn forward(&self, input: &WarmStartInput) -> WarmStartOutput {
        let [b, n, _] = input.robots.dims();
        let k = input.k;
        let mut x = self
            .robot_hidden
            .forward(gelu(self.robot_in.forward(input.robots.clone())));
        let obstacles = input.obstacles.as_ref().map(|o| {
            self.obstacle_hidden
                .forward(gelu(self.obstacle_in.forward(o.clone())))
        });
        for block in &self.blocks {
            x = block.forward(x, obstacles.as_ref());
        }
        // (B, N, 4K) in units of the instance's scale -> two (B, 2, N K) tensors in metres.
        let out = self.head.forward(self.head_norm.forward(x)) * input.scale.clone();
        let to_layout = |t: Tensor<3>| -> Tensor<3> {
            t.reshape([b, n, 2, k])
                .swap_dims(1, 2)
                .reshape([b, 2, n * k])
        };
        // lambda_0 = dc + correction: with lambda = c - cbar every feasible c is a fixed point of
        // the filter's fast scheme, so a consistent pair is the natural default.
        let dc = to_layout(out.clone().narrow(2, 0, 2 * k));
        let lambda0 = dc.clone() + to_layout(out.narrow(2, 2 * k, 2 * k));
        WarmStartOutput {
            c0: input.cbar.clone() + dc,
            lambda0,
        }
    }
}
