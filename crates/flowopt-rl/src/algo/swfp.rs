//! SWFP, stepwise flow policy (arXiv 2510.15388; no code found, our reading in
//! RL-ALGORITHMS.md section 3, [inferred]): a pretrained BC flow v_pre viewed as a cascade of
//! K Euler blocks B_i(s, x) = x + h v_i(s, x), each fine-tuned online by a JKO step (improve Q,
//! stay W2-close to the previous iterate, entropy by Langevin noise).
//!
//! - Sampling: x_0 ~ N(0, I), x_{i+1} = B_i(s, x_i) + sqrt(2 alpha h) eps_i, a = clip(x_K).
//! - Distillation (the first `distill_steps` updates; the agent acts with v_pre meanwhile):
//!   v_i(s, x_i) regresses on v_pre(s, x_i, t_i) along v_pre's own Euler paths.
//! - JKO (afterwards), every block at once, x_i from the current cascade (detached):
//!   a_hat = x_i + (1 - t_i) v_i(s, x_i) (the straight-line estimate of where x_i ends), and
//!   L_i = -lam Qb(s, clip a_hat) + h^2 / (2 trust_eta) |v_i - v_i_old|^2, lam = 1 / mean |Q|;
//!   v_old is a copy of the blocks refreshed every `trust_refresh` updates (the trust region).
//! - Critic: y = r + gamma m mean_k Qb_k(s', a'), a' the acting policy's action at s'.

use burn::prelude::*;

use super::fql::td_target;
use super::{Losses, Objective, Part, Step, critic_loss, lift, scalar};
use crate::nets::{Cascade, Noise};

pub(crate) fn objectives(
    s: &Step,
    noise: &mut Noise,
    distilling: bool,
) -> (Vec<Objective>, Losses) {
    let (Some(blocks), Some(f_blocks), Some(critic), Some(target)) = (
        &s.nets.blocks,
        &s.frozen.blocks,
        &s.nets.critic,
        &s.frozen.critic_target,
    ) else {
        unreachable!("SWFP agents are built with blocks, critics and a target");
    };
    let config = s.config;
    let [b, d] = s.batch.act.dims();
    let k = blocks.len();
    let h = 1.0 / k as f32;
    let sigma = (2.0 * config.swfp_alpha * h).sqrt();
    let plain_obs = s.plain.obs.clone();
    let plain_device = plain_obs.device();
    let obs = s.batch.obs.clone();
    let time = |t: f32| Tensor::<2>::full([b, 1], t, &plain_device);

    // Critic, with the acting policy's next action.
    let next_obs = s.plain.next_obs.clone();
    let z = noise.normal(b, d).inner();
    let next = if distilling {
        s.frozen.flow.sample(next_obs.clone(), z, config.flow_steps)
    } else {
        let eps = noise.normal(b * k, d).inner();
        let xs = f_blocks.rollout(next_obs.clone(), z, Some(eps), sigma);
        xs[k].clone().clamp(-1.0, 1.0)
    };
    let y = td_target(config, s.batch, lift(target.mean(next_obs, next)));
    let l_critic = critic_loss(critic, s.batch, y);
    let mut losses = vec![("critic", scalar(&l_critic))];

    let device = s.batch.act.device();
    let mut l_blocks = Tensor::<1>::zeros([1], &device);
    if distilling {
        // v_i(s, x_i) -> v_pre(s, x_i, t_i) along v_pre's paths.
        let mut x = noise.normal(b, d).inner();
        for i in 0..k {
            let t = i as f32 * h;
            let v_pre = s.frozen.flow.forward(plain_obs.clone(), x.clone(), time(t));
            let v = blocks.velocity(i, obs.clone(), lift(x.clone()));
            l_blocks = l_blocks + (v - lift(v_pre.clone())).square().sum_dim(1).mean();
            x = x + v_pre * h;
        }
        l_blocks = l_blocks / k as f32;
        losses.push(("distill", scalar(&l_blocks)));
    } else {
        let Some(old) = &s.frozen.blocks_old else {
            unreachable!("SWFP agents keep the previous blocks");
        };
        let z = noise.normal(b, d).inner();
        let eps = noise.normal(b * k, d).inner();
        let xs = f_blocks.rollout(plain_obs.clone(), z, Some(eps), sigma);
        let mut gain = Tensor::<1>::zeros([1], &device);
        let mut trust = Tensor::<1>::zeros([1], &device);
        let mut q_scale = 0.0f32;
        for (i, xi) in xs.iter().take(k).enumerate() {
            let t = i as f32 * h;
            let x = lift(xi.clone());
            let v = blocks.velocity(i, obs.clone(), x.clone());
            let v_old = lift(old.velocity(i, plain_obs.clone(), xi.clone()));
            let a_hat = (x + v.clone() * (1.0 - t)).clamp(-1.0, 1.0);
            let q = critic.mean(obs.clone(), a_hat);
            q_scale += scalar(&q.clone().abs().mean()) / k as f32;
            gain = gain + q.mean();
            trust = trust + (v - v_old).square().sum_dim(1).mean();
        }
        let lam = 1.0 / (q_scale + 1e-6);
        let gain = gain * (lam / k as f32);
        let trust = trust * (h * h / (2.0 * config.trust_eta) / k as f32);
        l_blocks = trust.clone() - gain.clone();
        losses.push(("gain", scalar(&gain)));
        losses.push(("trust", scalar(&trust)));
    }
    (
        vec![
            Objective {
                loss: l_critic,
                trains: &[Part::Critic],
            },
            Objective {
                loss: l_blocks,
                trains: &[Part::Blocks],
            },
        ],
        losses,
    )
}

/// The cascade's actions for `obs` from noise `z` (B (K + 1), act): x_0 from the first B rows,
/// eps_i from the next ones; clipped.
pub fn cascade_act(blocks: &Cascade, obs: Tensor<2>, z: Tensor<2>, sigma: f32) -> Tensor<2> {
    let [b, _] = obs.dims();
    let k = blocks.len();
    let x0 = z.clone().narrow(0, 0, b);
    let eps = z.narrow(0, b, b * k);
    let xs = blocks.rollout(obs, x0, Some(eps), sigma);
    xs[k].clone().clamp(-1.0, 1.0)
}
