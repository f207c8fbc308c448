//! Evaluation of a policy over seeded episodes of an environment, all episodes stepped together
//! so that each policy call is one batch. A streaming policy's chunks are executed open-loop,
//! `execute` actions each, before it is asked again from the new observation and its last
//! action.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RlError;
use crate::env::EnvKind;
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
