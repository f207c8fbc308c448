//! Checkpoint directories: `meta.json` (what the agent is), `policy.{bpk,json}` (its acting
//! policy) and, when it can go on training, `agent.bpk` (every network).
//!
//! `assets/agents/` ships policy-only checkpoints (`flowopt agent export`); the HTTP API saves
//! and loads whole agents.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RlError;
use crate::agent::Agent;
use crate::algo::fpmd::FpmdState;
use crate::algo::{AgentConfig, Algorithm};
use crate::env::EnvKind;
use crate::policy::{Policy, PolicySpec};

/// `meta.json`: what a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// The algorithm that trained it.
    pub algorithm: Algorithm,
    /// The environment it acts in, if any.
    pub env: Option<EnvKind>,
    /// Observation dimension.
    pub obs_dim: usize,
    /// Action dimension.
    pub act_dim: usize,
    /// Its hyperparameters.
    pub config: AgentConfig,
    /// Gradient updates made.
    pub updates: usize,
    /// Where it comes from (dataset, seed, evaluation), free text.
    #[serde(default)]
    pub note: String,
    /// FPMD's state besides its networks (whole-agent checkpoints of `fpmd-r`/`fpmd-m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fpmd: Option<FpmdState>,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// What it is.
    pub meta: CheckpointMeta,
    /// The acting policy.
    pub policy: Policy,
    /// What rebuilds the policy from its weights.
    pub spec: PolicySpec,
    /// The whole agent, when the checkpoint has `agent.bpk`.
    pub agent: Option<Agent>,
}

/// Writes `agent` (every network and its policy) to the directory `dir`.
pub fn save_agent(
    dir: &Path,
    agent: &Agent,
    env: Option<EnvKind>,
    note: &str,
) -> Result<(), RlError> {
    let meta = CheckpointMeta {
        algorithm: agent.algorithm(),
        env,
        obs_dim: agent.obs_dim(),
        act_dim: agent.act_dim(),
        config: agent.config().clone(),
        updates: agent.updates(),
        note: note.to_string(),
        fpmd: agent.fpmd_state().cloned(),
    };
    save_policy(dir, &agent.policy(), &agent.policy_spec(), &meta)?;
    agent.save(&dir.join("agent"))
}

/// Writes a policy-only checkpoint to the directory `dir`.
pub fn save_policy(
    dir: &Path,
    policy: &Policy,
    spec: &PolicySpec,
    meta: &CheckpointMeta,
) -> Result<(), RlError> {
    std::fs::create_dir_all(dir).map_err(|source| RlError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    policy.save(&dir.join("policy"), spec)?;
    let path = dir.join("meta.json");
    let text = serde_json::to_string_pretty(meta).map_err(|e| RlError::Weights {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, text + "\n").map_err(|source| RlError::Io { path, source })
}

/// Reads the checkpoint in `dir` onto `device`: its policy always, the whole agent when
/// `agent.bpk` is there.
pub fn load(dir: &Path, device: &Device) -> Result<Checkpoint, RlError> {
    let path = dir.join("meta.json");
    let text = std::fs::read_to_string(&path).map_err(|source| RlError::Io {
        path: path.clone(),
        source,
    })?;
    let meta: CheckpointMeta = serde_json::from_str(&text).map_err(|e| RlError::Weights {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let (policy, spec) = Policy::load(&dir.join("policy"), device)?;
    if (spec.obs_dim, spec.act_dim) != (meta.obs_dim, meta.act_dim) {
        return Err(RlError::Weights {
            path,
            message: format!(
                "says {} x {} but the policy is {} x {}",
                meta.obs_dim, meta.act_dim, spec.obs_dim, spec.act_dim
            ),
        });
    }
    let agent = if dir.join("agent.bpk").is_file() {
        let mut agent = Agent::new(
            meta.algorithm,
            meta.config.clone(),
            meta.obs_dim,
            meta.act_dim,
            0,
            device,
        )?;
        agent.load(&dir.join("agent"))?;
        agent.resume_at(meta.updates);
        if let Some(state) = &meta.fpmd {
            agent.set_fpmd_state(state.clone());
        }
        Some(agent)
    } else {
        None
    };
    Ok(Checkpoint {
        meta,
        policy,
        spec,
        agent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::Noise;

    #[test]
    fn a_saved_agent_loads_with_the_same_actions_and_a_policy_only_one_without_the_agent() {
        let device = Device::flex();
        let config = AgentConfig {
            hidden: vec![16],
            flow_steps: 3,
            ..AgentConfig::default()
        };
        let mut agent = Agent::new(Algorithm::Fql, config, 3, 1, 7, &device).unwrap();
        let data = crate::Dataset::collect(EnvKind::Pendulum, crate::Quality::Noisy, 1, 0).unwrap();
        let train = agent.training_device();
        let batch = crate::train::batch_of(&data, &[0, 5, 9, 11], &train);
        for _ in 0..3 {
            agent.update(&batch, &mut Noise::new(1, &train)).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("flowopt-ckpt-{}", std::process::id()));
        save_agent(&dir, &agent, Some(EnvKind::Pendulum), "test").unwrap();
        let loaded = load(&dir, &device).unwrap();
        assert_eq!(loaded.meta.algorithm, Algorithm::Fql);
        assert_eq!(loaded.meta.env, Some(EnvKind::Pendulum));
        let obs = vec![vec![0.1, -0.2, 0.3], vec![1.0, 0.0, -1.0]];
        let act = |p: &Policy| p.act(&obs, &mut Noise::new(3, &device), &device).unwrap();
        assert_eq!(act(&agent.policy()), act(&loaded.policy));
        let resumed = loaded.agent.expect("agent.bpk was written");
        assert_eq!(resumed.updates(), 3);
        assert_eq!(act(&agent.policy()), act(&resumed.policy()));

        std::fs::remove_file(dir.join("agent.bpk")).unwrap();
        let policy_only = load(&dir, &device).unwrap();
        assert!(policy_only.agent.is_none());
        assert_eq!(act(&agent.policy()), act(&policy_only.policy));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fpmd_resumes_with_its_running_std_and_exploration_alpha() {
        let device = Device::flex();
        let config = AgentConfig {
            hidden: vec![16],
            particles: 4,
            ..AgentConfig::default()
        };
        let mut agent = Agent::new(Algorithm::FpmdR, config, 3, 1, 7, &device).unwrap();
        let fresh = agent.fpmd_state().cloned().unwrap();
        let data = crate::Dataset::collect(EnvKind::Pendulum, crate::Quality::Noisy, 1, 0).unwrap();
        let train = agent.training_device();
        let batch = crate::train::batch_of(&data, &[0, 5, 9, 11], &train);
        for _ in 0..4 {
            agent.update(&batch, &mut Noise::new(1, &train)).unwrap();
        }
        let state = agent.fpmd_state().cloned().unwrap();
        assert_ne!(state, fresh, "the updates moved FPMD's state");
        let dir = std::env::temp_dir().join(format!("flowopt-ckpt-fpmd-{}", std::process::id()));
        save_agent(&dir, &agent, Some(EnvKind::Pendulum), "test").unwrap();
        let resumed = load(&dir, &device).unwrap().agent.unwrap();
        assert_eq!(resumed.fpmd_state(), Some(&state));
        assert_eq!(resumed.explore_std(), agent.explore_std());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
