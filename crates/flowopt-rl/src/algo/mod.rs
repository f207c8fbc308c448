//! The algorithms (RL-ALGORITHMS.md): one [`Agent`] type whose networks and losses depend on
//! its [`Algorithm`]; the offline ones train on datasets ([`crate::train`]), the online ones
//! (FPMD, SWFP) on their own replay ([`crate::online`]); Streaming Flow Policy imitates the
//! action chunks of a dataset ([`crate::Dataset::action_chunks`]).
//!
//! An update computes every loss from the same weights, back-propagates each loss separately
//! and keeps from each only the gradients of the networks that loss trains (the actor's
//! -Q term must not move the critic, as in the reference JAX code where only `grad_params`
//! receive gradients), then takes one Adam step per loss and moves the target networks by EMA.

mod decision_flow;
pub mod fpmd;
mod fql;
mod gfp;
mod qam;
pub mod streaming;
pub mod swfp;

use std::path::Path;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RlError;
use crate::nets::{
    Cascade, CriticEnsemble, FlowValue, Noise, OneStepActor, VelocityField, ema, fresh_copy, seeded,
};
use crate::policy::{ParticlePolicy, Policy, PolicySpec};

/// The offline algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Behaviour cloning with a flow (the baseline).
    FlowBc,
    /// Flow Q-learning: BC flow + one-step actor distilled from it and trained on Q.
    Fql,
    /// Q-learning with adjoint matching: a fine-tuned flow toward pi_beta exp(beta Q).
    Qam,
    /// Guided flow policy: value-weighted BC flow + one-step actor guided by it.
    Gfp,
    /// Decision Flow: the flow's generation steps as an MDP with the critic as terminal reward.
    DecisionFlow,
    /// Flow policy mirror descent, rectified-flow variant (online, one-step sampling).
    FpmdR,
    /// Flow policy mirror descent, MeanFlow variant (online, one average-velocity call).
    FpmdM,
    /// Stepwise flow policy: a pretrained BC flow's Euler steps as blocks fine-tuned online by
    /// JKO steps.
    Swfp,
    /// Streaming Flow Policy: imitation of action chunks, the flow integrated from the last
    /// action is the action trajectory, streamed as it is produced.
    StreamingFlow,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::FlowBc,
        Algorithm::Fql,
        Algorithm::Qam,
        Algorithm::Gfp,
        Algorithm::DecisionFlow,
        Algorithm::FpmdR,
        Algorithm::FpmdM,
        Algorithm::Swfp,
        Algorithm::StreamingFlow,
    ];

    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::FlowBc => "flow-bc",
            Algorithm::Fql => "fql",
            Algorithm::Qam => "qam",
            Algorithm::Gfp => "gfp",
            Algorithm::DecisionFlow => "decision-flow",
            Algorithm::FpmdR => "fpmd-r",
            Algorithm::FpmdM => "fpmd-m",
            Algorithm::Swfp => "swfp",
            Algorithm::StreamingFlow => "streaming-flow",
        }
    }

    /// One line on what it does.
    pub fn description(self) -> &'static str {
        match self {
            Algorithm::FlowBc => "behaviour cloning with a flow policy (the baseline)",
            Algorithm::Fql => {
                "flow Q-learning: a BC flow and a one-step actor distilled from it and trained on Q"
            }
            Algorithm::Qam => {
                "Q-learning with adjoint matching: a flow fine-tuned toward pi_beta exp(beta Q)"
            }
            Algorithm::Gfp => {
                "guided flow policy: a value-weighted BC flow and a one-step actor guided by it"
            }
            Algorithm::DecisionFlow => {
                "Decision Flow: the flow's steps as an MDP with the critic as terminal reward"
            }
            Algorithm::FpmdR => {
                "online flow policy mirror descent, rectified flow: one-step particles, best by Q"
            }
            Algorithm::FpmdM => {
                "online flow policy mirror descent, MeanFlow: one average-velocity call per particle"
            }
            Algorithm::Swfp => {
                "online fine-tuning of a pretrained BC flow, its Euler steps as JKO-trained blocks"
            }
            Algorithm::StreamingFlow => {
                "imitation of action chunks: the flow from the last action is the action trajectory, streamed"
            }
        }
    }

    /// Whether it learns a critic (and so needs rewards).
    pub fn uses_critic(self) -> bool {
        !matches!(self, Algorithm::FlowBc | Algorithm::StreamingFlow)
    }

    /// Whether it learns online, from its own interaction ([`crate::online::train_online`]),
    /// rather than from a dataset.
    pub fn is_online(self) -> bool {
        matches!(self, Algorithm::FpmdR | Algorithm::FpmdM | Algorithm::Swfp)
    }
}

impl std::str::FromStr for Algorithm {
    type Err = RlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| RlError::Unknown {
                what: "algorithm",
                name: s.to_string(),
                known: Algorithm::ALL.iter().map(|a| a.name()).collect(),
            })
    }
}

/// Hyperparameters of an agent (defaults from RL-ALGORITHMS.md, networks narrowed for a CPU).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Hidden widths of every MLP (default [256, 256]; the papers use 4 x 512, too slow on 2 CPU cores).
    pub hidden: Vec<usize>,
    /// Euler steps of every flow (default 10).
    pub flow_steps: usize,
    /// Adam learning rate (default 3e-4).
    pub learning_rate: f64,
    /// Discount (default 0.99).
    pub gamma: f32,
    /// EMA rate of the target networks (default 0.005).
    pub tau: f32,
    /// Critics in the ensemble (default 2; QAM's paper uses 10).
    pub critics: usize,
    /// FQL / GFP: weight of the distillation toward the flow's samples (default 10).
    pub alpha: f32,
    /// GFP: guidance temperature eta (default 1e-3; 0 turns the guidance off, i.e. FQL).
    pub eta: f32,
    /// QAM: inverse temperature beta of the tilt pi_beta exp(beta Q), in units of 1 / Q, so
    /// it is set per task like the papers' (default 0.3, the reference code's; see `qam.rs`).
    pub inv_temp: f32,
    /// QAM: pessimism rho of the critic target mean - rho std (default 0.5).
    pub rho: f32,
    /// Decision Flow: weight of the divergence reward beta h |u - v_b|^2 (default 0.1).
    pub beta: f32,
    /// Decision Flow: weight of the BC term of the policy loss (default 1.0).
    pub lambda_bc: f32,
    /// FPMD: particles per state, the best under min Q acts (default 32).
    pub particles: usize,
    /// FPMD: temperature T of the policy weight exp(Q / (std(Q) T)) (default 3).
    pub temperature: f32,
    /// FPMD: factor on rewards in the critic target (default 1; the reference uses 0.2 on
    /// MuJoCo).
    pub reward_scale: f32,
    /// FPMD: exploration noise alpha * noise_scale * N(0, I) (default 0.1).
    pub noise_scale: f32,
    /// FPMD: initial alpha of the exploration noise (default 5).
    pub alpha_init: f32,
    /// SWFP: entropy weight alpha, Langevin noise sqrt(2 alpha h) per block (default 1e-3).
    pub swfp_alpha: f32,
    /// SWFP: trust region eta of the W2 term h^2 / (2 eta) |v - v_old|^2 (default 0.1).
    pub trust_eta: f32,
    /// SWFP: updates that distill the pretrained flow into the blocks first (default 1000).
    pub distill_steps: usize,
    /// SWFP: updates between refreshes of the trust region's previous blocks (default 1000).
    pub trust_refresh: usize,
    /// Streaming flow: actions per chunk H, spanning flow time [0, 1] (default 8; the
    /// reference's 16 does worse on our short point-maze episodes, see the README).
    pub horizon: usize,
    /// Streaming flow: actions executed from each chunk before asking again (default 4).
    pub execute: usize,
    /// Streaming flow: Euler steps per streamed action (default 2).
    pub substeps: usize,
    /// Streaming flow: sigma0 of the training tube x(0) ~ N(xi(0), sigma0^2 I) around each
    /// demonstration (default 0.2; acting starts at the last action itself).
    pub stream_sigma: f32,
    /// Streaming flow: stabilizing gain k pulling the flow back to the demonstration,
    /// u = xi'(t) - k (x - xi(t)) (default 2; the reference's robot configs use 0).
    pub stream_gain: f32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            hidden: vec![256, 256],
            flow_steps: 10,
            learning_rate: 3e-4,
            gamma: 0.99,
            tau: 0.005,
            critics: 2,
            alpha: 10.0,
            eta: 1e-3,
            inv_temp: 0.3,
            rho: 0.5,
            beta: 0.1,
            lambda_bc: 1.0,
            particles: 32,
            temperature: 3.0,
            reward_scale: 1.0,
            noise_scale: 0.1,
            alpha_init: 5.0,
            swfp_alpha: 1e-3,
            trust_eta: 0.1,
            distill_steps: 1000,
            trust_refresh: 1000,
            horizon: 8,
            execute: 4,
            substeps: 2,
            stream_sigma: 0.2,
            stream_gain: 2.0,
        }
    }
}

impl AgentConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), RlError> {
        let bad = |field: &'static str, message: &str| {
            Err(RlError::Invalid {
                field,
                message: message.to_string(),
            })
        };
        if self.hidden.is_empty() || self.hidden.iter().any(|&h| h == 0 || h > 4096) {
            return bad("hidden", "must be 1 or more widths in 1..=4096");
        }
        if !(1..=100).contains(&self.flow_steps) {
            return bad("flow_steps", "must be in 1..=100");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate < 1.0) {
            return bad("learning_rate", "must be in (0, 1)");
        }
        if !(0.0..=1.0).contains(&self.gamma) {
            return bad("gamma", "must be in [0, 1]");
        }
        if !(self.tau > 0.0 && self.tau <= 1.0) {
            return bad("tau", "must be in (0, 1]");
        }
        if !(1..=32).contains(&self.critics) {
            return bad("critics", "must be in 1..=32");
        }
        if !(self.swfp_alpha.is_finite() && self.swfp_alpha >= 0.0) {
            return bad("swfp_alpha", "must be a finite number >= 0");
        }
        if self.trust_refresh == 0 {
            return bad("trust_refresh", "must be >= 1");
        }
        if !(1..=256).contains(&self.horizon) {
            return bad("horizon", "must be in 1..=256");
        }
        if !(1..=self.horizon).contains(&self.execute) {
            return bad("execute", "must be in 1..=horizon");
        }
        if !(1..=100).contains(&self.substeps) {
            return bad("substeps", "must be in 1..=100");
        }
        if !(1..=1024).contains(&self.particles) {
            return bad("particles", "must be in 1..=1024");
        }
        for (field, v) in [
            ("temperature", self.temperature),
            ("reward_scale", self.reward_scale),
            ("noise_scale", self.noise_scale),
            ("alpha_init", self.alpha_init),
            ("trust_eta", self.trust_eta),
            ("stream_sigma", self.stream_sigma),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(field, "must be a finite number > 0");
            }
        }
        for (field, v) in [
            ("alpha", self.alpha),
            ("eta", self.eta),
            ("inv_temp", self.inv_temp),
            ("rho", self.rho),
            ("beta", self.beta),
            ("lambda_bc", self.lambda_bc),
            ("stream_gain", self.stream_gain),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, "must be a finite number >= 0");
            }
        }
        Ok(())
    }
}

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

/// An agent: its networks on the autodiff device, its optimizer and hyperparameters.
pub struct Agent {
    algorithm: Algorithm,
    config: AgentConfig,
    obs_dim: usize,
    act_dim: usize,
    nets: AgentNets,
    optim: ModuleOptimizer,
    device: Device,
    updates: usize,
    fpmd: fpmd::FpmdState,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("algorithm", &self.algorithm)
            .field("obs_dim", &self.obs_dim)
            .field("act_dim", &self.act_dim)
            .field("updates", &self.updates)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// A fresh agent (weights from `seed`) training on `device` (autodiff is added here).
    pub fn new(
        algorithm: Algorithm,
        config: AgentConfig,
        obs_dim: usize,
        act_dim: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self, RlError> {
        config.validate()?;
        if obs_dim == 0 || act_dim == 0 {
            return Err(RlError::Invalid {
                field: "spaces",
                message: format!(
                    "observation ({obs_dim}) and action ({act_dim}) dimensions must be >= 1"
                ),
            });
        }
        let ad = device.clone().autodiff();
        let h = &config.hidden;
        let nets = seeded(&ad, seed, || {
            // FPMD-M's average velocity u(s, z, r, t) is a velocity field over [s, r].
            // Streaming flow's field also sees the action interval's one-hot code.
            let flow_obs = match algorithm {
                Algorithm::FpmdM => obs_dim + 1,
                Algorithm::StreamingFlow => obs_dim + config.horizon,
                _ => obs_dim,
            };
            let flow = VelocityField::new(flow_obs, act_dim, h, &ad);
            let one_step = matches!(algorithm, Algorithm::Fql | Algorithm::Gfp);
            let critic = algorithm
                .uses_critic()
                .then(|| CriticEnsemble::new(config.critics, obs_dim, act_dim, h, &ad));
            let value = (algorithm == Algorithm::DecisionFlow)
                .then(|| FlowValue::new(obs_dim, act_dim, h, &ad));
            let fine = matches!(algorithm, Algorithm::Qam | Algorithm::DecisionFlow)
                .then(|| VelocityField::new(obs_dim, act_dim, h, &ad));
            let blocks = (algorithm == Algorithm::Swfp)
                .then(|| Cascade::new(config.flow_steps, obs_dim, act_dim, h, &ad));
            AgentNets {
                blocks_old: blocks.as_ref().map(fresh_copy),
                blocks,
                actor: one_step.then(|| OneStepActor::new(obs_dim, act_dim, h, &ad)),
                fine,
                flow_target: matches!(
                    algorithm,
                    Algorithm::Qam | Algorithm::FpmdR | Algorithm::FpmdM
                )
                .then(|| fresh_copy(&flow)),
                critic_target: critic.as_ref().map(fresh_copy),
                critic,
                value_target: value.as_ref().map(fresh_copy),
                value,
                flow,
            }
        });
        let config_alpha = config.alpha_init;
        Ok(Self {
            algorithm,
            config,
            obs_dim,
            act_dim,
            nets,
            optim: AdamConfig::new().init(),
            device: device.clone(),
            updates: 0,
            fpmd: fpmd::FpmdState::new(config_alpha),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hyperparameters.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Observation dimension.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Action dimension.
    pub fn act_dim(&self) -> usize {
        self.act_dim
    }

    /// Updates taken so far.
    pub fn updates(&self) -> usize {
        self.updates
    }

    /// The device the agent was made on (where its policy acts).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The training device (autodiff of the device the agent was made on).
    pub fn training_device(&self) -> Device {
        self.device.clone().autodiff()
    }

    /// The networks.
    pub fn nets(&self) -> &AgentNets {
        &self.nets
    }

    /// One gradient update on `batch` (on [`Self::training_device`]); returns the named losses.
    pub fn update(&mut self, batch: &Batch, noise: &mut Noise) -> Result<Losses, RlError> {
        let _span = tracing::debug_span!("update", algo = self.algorithm.name()).entered();
        let step = Step {
            nets: &self.nets,
            frozen: self.nets.valid(),
            config: &self.config,
            batch,
            plain: Batch {
                obs: batch.obs.clone().inner(),
                act: batch.act.clone().inner(),
                reward: batch.reward.clone().inner(),
                mask: batch.mask.clone().inner(),
                next_obs: batch.next_obs.clone().inner(),
            },
        };
        let (objectives, mut losses) = match self.algorithm {
            Algorithm::StreamingFlow => streaming::objectives(&step, noise),
            Algorithm::FlowBc => {
                let bc = flow_bc_loss(&self.nets.flow, batch, None, noise);
                let value = scalar(&bc);
                (
                    vec![Objective {
                        loss: bc,
                        trains: &[Part::Flow],
                    }],
                    vec![("bc", value)],
                )
            }
            Algorithm::Fql => fql::objectives(&step, noise),
            Algorithm::Gfp => gfp::objectives(&step, noise),
            Algorithm::Qam => qam::objectives(&step, noise),
            Algorithm::DecisionFlow => decision_flow::objectives(&step, noise),
            Algorithm::FpmdR | Algorithm::FpmdM => fpmd::objectives(
                &step,
                noise,
                &mut self.fpmd,
                self.algorithm == Algorithm::FpmdM,
                self.updates,
            ),
            Algorithm::Swfp => {
                swfp::objectives(&step, noise, self.updates < self.config.distill_steps)
            }
        };
        if let Some((name, v)) = losses.iter().find(|(_, v)| !v.is_finite()) {
            return Err(RlError::Invalid {
                field: "training",
                message: format!(
                    "loss `{name}` is {v} after {} updates (diverged)",
                    self.updates
                ),
            });
        }
        let mut all = Vec::with_capacity(objectives.len());
        for objective in objectives {
            let mut grads = objective.loss.backward();
            for part in objective.trains {
                all.push(self.part_grads(*part, &mut grads));
            }
        }
        let lr = self.config.learning_rate;
        let mut nets = self.nets.clone();
        for grads in all.into_iter().flatten() {
            nets = self.optim.step(lr, nets, grads);
        }
        // FPMD moves its targets every second update, as its policy.
        let tau = if self.algorithm.is_online() && self.updates % 2 == 1 {
            0.0
        } else {
            self.config.tau
        };
        if let (Some(t), Some(c)) = (nets.critic_target.take(), &nets.critic) {
            nets.critic_target = Some(ema(t, c, tau));
        }
        if let (Some(t), Some(v)) = (nets.value_target.take(), &nets.value) {
            nets.value_target = Some(ema(t, v, tau));
        }
        if let Some(t) = nets.flow_target.take() {
            nets.flow_target = Some(ema(t, &nets.flow, tau));
        }
        if self.algorithm == Algorithm::Swfp {
            let done = self.updates + 1;
            let refresh = done == self.config.distill_steps
                || (done > self.config.distill_steps
                    && (done - self.config.distill_steps)
                        .is_multiple_of(self.config.trust_refresh));
            if let (true, Some(blocks)) = (refresh, &nets.blocks) {
                nets.blocks_old = Some(fresh_copy(blocks));
            }
        }
        self.nets = nets;
        self.updates += 1;
        losses.retain(|(_, v)| v.is_finite());
        Ok(losses)
    }

    fn part_grads(
        &self,
        part: Part,
        grads: &mut burn::tensor::Gradients,
    ) -> Option<GradientsParams> {
        let n = &self.nets;
        Some(match part {
            Part::Flow => GradientsParams::from_module(grads, &n.flow),
            Part::Actor => GradientsParams::from_module(grads, n.actor.as_ref()?),
            Part::Fine => GradientsParams::from_module(grads, n.fine.as_ref()?),
            Part::Critic => GradientsParams::from_module(grads, n.critic.as_ref()?),
            Part::Value => GradientsParams::from_module(grads, n.value.as_ref()?),
            Part::Blocks => GradientsParams::from_module(grads, n.blocks.as_ref()?),
        })
    }

    /// The acting policy (inference weights on the agent's device).
    pub fn policy(&self) -> Policy {
        let steps = self.config.flow_steps;
        match self.algorithm {
            Algorithm::Fql | Algorithm::Gfp => match &self.nets.actor {
                Some(actor) => Policy::one_step(actor.valid(), self.obs_dim, self.act_dim),
                None => Policy::flow(self.nets.flow.valid(), steps, self.obs_dim, self.act_dim),
            },
            Algorithm::Qam | Algorithm::DecisionFlow => Policy::flow(
                self.nets.fine.as_ref().unwrap_or(&self.nets.flow).valid(),
                steps,
                self.obs_dim,
                self.act_dim,
            ),
            Algorithm::FlowBc => {
                Policy::flow(self.nets.flow.valid(), steps, self.obs_dim, self.act_dim)
            }
            Algorithm::StreamingFlow => Policy::streaming(
                self.nets.flow.valid(),
                self.streaming(),
                self.obs_dim,
                self.act_dim,
            ),
            Algorithm::FpmdR | Algorithm::FpmdM => match &self.nets.critic {
                // The EMA policy acts, choosing among particles with the online critics.
                Some(critic) => Policy::particles(
                    ParticlePolicy {
                        flow: self
                            .nets
                            .flow_target
                            .as_ref()
                            .unwrap_or(&self.nets.flow)
                            .valid(),
                        critic: critic.valid(),
                    },
                    self.algorithm == Algorithm::FpmdM,
                    self.config.particles,
                    self.obs_dim,
                    self.act_dim,
                ),
                None => Policy::flow(self.nets.flow.valid(), 1, self.obs_dim, self.act_dim),
            },
            // The pretrained flow acts until the blocks have distilled it.
            Algorithm::Swfp => match &self.nets.blocks {
                Some(blocks) if self.updates >= self.config.distill_steps => Policy::cascade(
                    blocks.valid(),
                    self.swfp_sigma(),
                    self.obs_dim,
                    self.act_dim,
                ),
                _ => Policy::flow(self.nets.flow.valid(), steps, self.obs_dim, self.act_dim),
            },
        }
    }

    /// How a streaming-flow agent integrates its chunks.
    fn streaming(&self) -> streaming::Streaming {
        streaming::Streaming {
            horizon: self.config.horizon,
            execute: self.config.execute,
            substeps: self.config.substeps,
        }
    }

    /// SWFP's Langevin noise per block, sqrt(2 alpha h).
    fn swfp_sigma(&self) -> f32 {
        (2.0 * self.config.swfp_alpha / self.config.flow_steps as f32).sqrt()
    }

    /// Starts from a pretrained flow (SWFP fine-tunes one; e.g. `flow-bc`'s policy): its
    /// hidden widths and steps must be the agent's.
    pub fn set_pretrained_flow(&mut self, flow: &Policy) -> Result<(), RlError> {
        let Some(field) = flow.flow_field() else {
            return Err(RlError::Invalid {
                field: "init",
                message: format!("is a `{}` policy; a flow policy is needed", flow.kind()),
            });
        };
        if (flow.obs_dim(), flow.act_dim()) != (self.obs_dim, self.act_dim) {
            return Err(RlError::Invalid {
                field: "init",
                message: format!(
                    "acts on {} x {}, the agent on {} x {}",
                    flow.obs_dim(),
                    flow.act_dim(),
                    self.obs_dim,
                    self.act_dim
                ),
            });
        }
        let ad = self.device.clone().autodiff();
        self.nets.flow = field.clone().to_device(&ad);
        Ok(())
    }

    /// Actions to explore with in the environment: the policy's, plus FPMD's exploration
    /// noise among its particles.
    pub fn explore(
        &self,
        observations: &[Vec<f32>],
        noise: &mut Noise,
    ) -> Result<Vec<Vec<f32>>, RlError> {
        let policy = self.policy();
        let sigma = self.fpmd.explore_std(self.config.noise_scale);
        if self.algorithm.is_online() {
            policy.act_exploring(observations, noise, sigma, &self.device)
        } else {
            policy.act(observations, noise, &self.device)
        }
    }

    /// FPMD's exploration noise standard deviation now (alpha * noise_scale).
    pub fn explore_std(&self) -> f32 {
        self.fpmd.explore_std(self.config.noise_scale)
    }

    /// What [`Policy::load`] needs to rebuild [`Self::policy`] from its weights.
    pub fn policy_spec(&self) -> PolicySpec {
        let streaming = self.algorithm == Algorithm::StreamingFlow;
        PolicySpec {
            kind: self.policy().kind().to_string(),
            hidden: self.config.hidden.clone(),
            flow_steps: if streaming {
                self.config.substeps
            } else {
                self.config.flow_steps
            },
            act_dim: self.act_dim,
            obs_dim: self.obs_dim,
            particles: self.config.particles,
            critics: self.config.critics,
            noise: if streaming { 0.0 } else { self.swfp_sigma() },
            horizon: if streaming { self.config.horizon } else { 0 },
            execute: if streaming { self.config.execute } else { 0 },
        }
    }

    /// FPMD's state besides its networks (running std of Q, alpha and its Adam moments);
    /// `None` for the other algorithms.
    pub fn fpmd_state(&self) -> Option<&fpmd::FpmdState> {
        matches!(self.algorithm, Algorithm::FpmdR | Algorithm::FpmdM).then_some(&self.fpmd)
    }

    /// Restores FPMD's state saved from [`Self::fpmd_state`].
    pub fn set_fpmd_state(&mut self, state: fpmd::FpmdState) {
        self.fpmd = state;
    }

    /// Sets the count of updates made, for an agent loaded from a checkpoint (SWFP acts with
    /// its blocks, and FPMD/SWFP schedule their steps, by this count).
    pub fn resume_at(&mut self, updates: usize) {
        self.updates = updates;
    }

    /// Saves every network (for resuming; not the optimizer's moments) to `path.bpk`.
    pub fn save(&self, path: &Path) -> Result<(), RlError> {
        let weights = path.with_extension("bpk");
        self.nets
            .clone()
            .save_file(&weights)
            .map_err(|e| RlError::Weights {
                path: weights,
                message: e.to_string(),
            })
    }

    /// Loads networks saved by [`Self::save`] from an agent of the same algorithm, config and
    /// dimensions.
    pub fn load(&mut self, path: &Path) -> Result<(), RlError> {
        let weights = path.with_extension("bpk");
        let nets = self
            .nets
            .clone()
            .try_load_file(&weights)
            .map_err(|e| RlError::Weights {
                path: weights,
                message: e.to_string(),
            })?;
        self.nets = nets;
        Ok(())
    }
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

#[cfg(test)]
mod tests;
