//! The [`Agent`]: one type whose networks and losses depend on its [`Algorithm`] (the update
//! rules live in [`crate::algo`]); the offline algorithms train on datasets
//! ([`crate::train`]), the online ones (FPMD, SWFP) on their own replay ([`crate::online`]);
//! Streaming Flow Policy imitates the action chunks of a dataset
//! ([`crate::Dataset::action_chunks`]).
//!
//! An update computes every loss from the same weights, back-propagates each loss separately
//! and keeps from each only the gradients of the networks that loss trains (the actor's
//! -Q term must not move the critic, as in the reference JAX code where only `grad_params`
//! receive gradients), then takes one Adam step per loss and moves the target networks by EMA.

use std::path::Path;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::RlError;
use crate::algo::{
    AgentConfig, AgentNets, Algorithm, Batch, Losses, Objective, Part, Step, decision_flow,
    flow_bc_loss, fpmd, fql, gfp, qam, scalar, streaming, swfp,
};
use crate::nets::{
    Cascade, CriticEnsemble, FlowValue, Noise, OneStepActor, VelocityField, ema, fresh_copy, seeded,
};
use crate::policy::{ParticlePolicy, Policy, PolicySpec};

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
        flowopt_nn::save(&self.nets, path)?;
        Ok(())
    }

    /// Loads networks saved by [`Self::save`] from an agent of the same algorithm, config and
    /// dimensions.
    pub fn load(&mut self, path: &Path) -> Result<(), RlError> {
        self.nets = flowopt_nn::load(self.nets.clone(), path)?;
        Ok(())
    }
}
