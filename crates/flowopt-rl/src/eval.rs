//! Evaluation of a policy over seeded episodes of an environment, all episodes stepped together
//! so that each policy call is one batch. A streaming policy's chunks are executed open-loop,
//! `execute` actions each, before it is asked again from the new observation and its last
//! action.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RlError;
use crate::env::{EnvKind, Scene};
use crate::expert::normalized_score;
use crate::nets::Noise;
use crate::policy::Policy;

/// Returns and success over a set of episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Episodes run.
    pub episodes: usize,
    /// Mean undiscounted return.
    pub return_mean: f32,
    /// Its standard deviation over episodes.
    pub return_std: f32,
    /// Fraction of episodes that ended in success.
    pub success_rate: f32,
    /// D4RL-style normalized score of the mean return: 100 (R - random) / (expert - random).
    pub normalized_score: f32,
}

/// Runs `episodes` episodes of `kind` (reset seeds `seed`, `seed + 1`, ...) with `policy` on
/// `device` (the policy's noise is seeded from `seed` too).
pub fn evaluate(
    policy: &Policy,
    kind: EnvKind,
    episodes: usize,
    seed: u64,
    device: &Device,
) -> Result<Evaluation, RlError> {
    let _span = tracing::debug_span!("evaluate", env = kind.name(), episodes).entered();
    let (returns, success) = run_episodes(policy, kind, episodes, seed, device, None)?;
    let n = episodes as f32;
    let mean = returns.iter().sum::<f32>() / n;
    let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f32>() / n).sqrt();
    Ok(Evaluation {
        episodes,
        return_mean: mean,
        return_std: std,
        success_rate: success.iter().filter(|&&s| s).count() as f32 / n,
        normalized_score: normalized_score(kind, mean),
    })
}

/// One step of a recorded episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The observation.
    pub observation: Vec<f32>,
    /// What a viewer draws ([`crate::Env::scene`]; `None` for non-plane environments).
    pub scene: Option<Scene>,
    /// The action taken from here (empty in the last frame).
    pub action: Vec<f32>,
    /// The reward of the step that led here (0 in the first frame).
    pub reward: f32,
}

/// A recorded episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// The environment.
    pub env: EnvKind,
    /// The reset seed.
    pub seed: u64,
    /// The states from the reset to the end, one per step plus the first.
    pub frames: Vec<Frame>,
    /// The episode's return.
    pub episode_return: f32,
    /// Whether it succeeded.
    pub success: bool,
}

/// Runs one episode of `kind` from reset seed `seed` with `policy`, exactly as [`evaluate`]
/// runs its first one, and records every step.
pub fn rollout(
    policy: &Policy,
    kind: EnvKind,
    seed: u64,
    device: &Device,
) -> Result<Rollout, RlError> {
    let _span = tracing::debug_span!("rollout", env = kind.name(), seed).entered();
    let mut frames = Vec::new();
    let (returns, success) = run_episodes(policy, kind, 1, seed, device, Some(&mut frames))?;
    Ok(Rollout {
        env: kind,
        seed,
        frames,
        episode_return: returns[0],
        success: success[0],
    })
}

/// Steps `episodes` episodes together; returns each one's return and success, and records the
/// first one's frames into `frames`.
fn run_episodes(
    policy: &Policy,
    kind: EnvKind,
    episodes: usize,
    seed: u64,
    device: &Device,
    mut frames: Option<&mut Vec<Frame>>,
) -> Result<(Vec<f32>, Vec<bool>), RlError> {
    if episodes == 0 {
        return Err(RlError::Invalid {
            field: "episodes",
            message: "must be >= 1".into(),
        });
    }
    let mut envs: Vec<_> = (0..episodes).map(|_| kind.make()).collect();
    let mut observations: Vec<Vec<f32>> = envs
        .iter_mut()
        .enumerate()
        .map(|(i, env)| env.reset(seed.wrapping_add(i as u64)))
        .collect();
    let act_dim = envs[0].action_space().dim();
    let obs_dim = envs[0].observation_space().dim();
    if policy.obs_dim() != obs_dim {
        return Err(RlError::Shape {
            field: "policy observations",
            expected: obs_dim,
            got: policy.obs_dim(),
        });
    }
    if policy.act_dim() != act_dim {
        return Err(RlError::Shape {
            field: "policy actions",
            expected: act_dim,
            got: policy.act_dim(),
        });
    }
    if let Some(frames) = frames.as_deref_mut() {
        frames.push(Frame {
            observation: observations[0].clone(),
            scene: envs[0].scene(),
            action: Vec::new(),
            reward: 0.0,
        });
    }
    let mut noise = Noise::new(seed ^ 0x5EED_E7A1, device);
    let mut returns = vec![0.0f32; episodes];
    let mut success = vec![false; episodes];
    let mut active: Vec<usize> = (0..episodes).collect();
    // Actions still to execute per episode (a streaming policy's chunk), and the last one.
    let mut pending: Vec<VecDeque<Vec<f32>>> = vec![VecDeque::new(); episodes];
    let mut previous = vec![vec![0.0f32; act_dim]; episodes];
    while !active.is_empty() {
        let asking: Vec<usize> = active
            .iter()
            .copied()
            .filter(|&i| pending[i].is_empty())
            .collect();
        if !asking.is_empty() {
            let batch: Vec<Vec<f32>> = asking.iter().map(|&i| observations[i].clone()).collect();
            let last: Vec<Vec<f32>> = asking.iter().map(|&i| previous[i].clone()).collect();
            let chunks = policy.chunk(&batch, &last, &mut noise, device, &mut |_, _| {
                ControlFlow::Continue(())
            })?;
            for (&i, chunk) in asking.iter().zip(chunks) {
                pending[i].extend(chunk);
            }
        }
        let mut still = Vec::with_capacity(active.len());
        for &i in &active {
            let Some(action) = pending[i].pop_front() else {
                return Err(RlError::Invalid {
                    field: "policy",
                    message: "gave no action".into(),
                });
            };
            let step = envs[i].step(&action)?;
            if let (0, Some(frames)) = (i, frames.as_deref_mut()) {
                if let Some(last) = frames.last_mut() {
                    last.action.clone_from(&action);
                }
                frames.push(Frame {
                    observation: step.observation.clone(),
                    scene: envs[0].scene(),
                    action: Vec::new(),
                    reward: step.reward,
                });
            }
            previous[i] = action;
            returns[i] += step.reward;
            success[i] |= step.success;
            observations[i] = step.observation;
            if !(step.terminated || step.truncated) {
                still.push(i);
            }
        }
        active = still;
    }
    Ok((returns, success))
}
