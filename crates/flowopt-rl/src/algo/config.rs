//! What an agent is: its [`Algorithm`] and hyperparameters ([`AgentConfig`]).

use serde::{Deserialize, Serialize};

use crate::RlError;

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
    /// reference's 16 does worse on our short point-maze episodes, see docs/agents.md#streaming-flow-policy).
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
