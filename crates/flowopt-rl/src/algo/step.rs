//! What every algorithm's update shares: the minibatch, the networks, the losses and the
//! parts of the networks each loss trains.

use burn::module::Module;
use burn::prelude::*;

use crate::algo::AgentConfig;
use crate::nets::{Cascade, CriticEnsemble, FlowValue, Noise, OneStepActor, VelocityField};

/// A minibatch of transitions on the training (autodiff) device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// (B, obs).
    pub obs: Tensor<2>,
    /// (B, act).
    pub act: Tensor<2>,
    /// (B,).
    pub reward: Tensor<1>,
    /// (B,): 1 - terminal.
    pub mask: Tensor<1>,
    /// (B, obs).
    pub next_obs: Tensor<2>,
}

impl Batch {
    /// Rows.
    pub fn len(&self) -> usize {
        self.obs.dims()[0]
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Named scalar losses of one update.
pub type Losses = Vec<(&'static str, f32)>;

/// Every network an agent may have; which ones exist depends on the algorithm.
#[derive(Module, Debug)]
pub struct AgentNets {
    /// The BC flow (flow-bc, FQL, Decision Flow's behaviour flow), the value-weighted BC flow
    /// (GFP) or the base flow (QAM).
    pub flow: VelocityField,
    /// The one-step actor (FQL, GFP).
    pub actor: Option<OneStepActor>,
    /// QAM's fine-tuned flow; Decision Flow's policy flow u_theta.
    pub fine: Option<VelocityField>,
    /// EMA copy of `flow` (QAM's base in the adjoint).
    pub flow_target: Option<VelocityField>,
    /// The critic ensemble.
    pub critic: Option<CriticEnsemble>,
    /// Its EMA target.
    pub critic_target: Option<CriticEnsemble>,
    /// Decision Flow's value of flow states.
    pub value: Option<FlowValue>,
    /// Its EMA target.
    pub value_target: Option<FlowValue>,
    /// SWFP's blocks.
    pub blocks: Option<Cascade>,
    /// SWFP's previous blocks (the trust region's reference; never trained).
    pub blocks_old: Option<Cascade>,
}

/// The networks a loss trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Flow,
    Actor,
    Fine,
    Critic,
    Value,
    Blocks,
}

/// What an update reads: the networks (on the autodiff device), their inference copy for
/// everything that needs no gradient (targets, rollouts, sampled actions: no tape is
/// recorded for them), and the batch on both devices.
pub(crate) struct Step<'a> {
    pub nets: &'a AgentNets,
    pub frozen: AgentNets,
    pub config: &'a AgentConfig,
    pub batch: &'a Batch,
    pub plain: Batch,
}

/// An inference-device tensor as a constant of the autodiff graph.
pub(crate) fn lift<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    Tensor::from_inner(t)
}

/// A loss and the networks it trains.
pub(crate) struct Objective {
    pub loss: Tensor<1>,
    pub trains: &'static [Part],
}

/// The conditional flow-matching loss mean_b w_b mean_d |v(s, x_t, t) - (a - x0)|^2, with
/// x_t = (1 - t) x0 + t a, x0 ~ N(0, I), t ~ U[0, 1]; `weights` (B,) default to 1.
pub(crate) fn flow_bc_loss(
    flow: &VelocityField,
    batch: &Batch,
    weights: Option<Tensor<1>>,
    noise: &mut Noise,
) -> Tensor<1> {
    let [b, d] = batch.act.dims();
    let x0 = noise.normal(b, d);
    let t = noise.uniform(b);
    let xt = x0.clone() * (t.clone().neg() + 1.0) + batch.act.clone() * t.clone();
    let target = batch.act.clone() - x0;
    let err = (flow.forward(batch.obs.clone(), xt, t) - target)
        .square()
        .mean_dim(1)
        .reshape([b]);
    match weights {
        Some(w) => (err * w).mean(),
        None => err.mean(),
    }
}

/// A loss's value on the host.
pub(crate) fn scalar(t: &Tensor<1>) -> f32 {
    t.clone().into_scalar::<f32>()
}

/// Mean squared TD error of every critic against `target` (B,), averaged over members.
pub(crate) fn critic_loss(critic: &CriticEnsemble, batch: &Batch, target: Tensor<1>) -> Tensor<1> {
    let q = critic.forward(batch.obs.clone(), batch.act.clone());
    let [e, b] = q.dims();
    (q - target.reshape([1, b]).expand([e, b])).square().mean()
}
