//! Decision Flow (arXiv 2505.20350; no code found, our reading in RL-ALGORITHMS.md section 2):
//! the K Euler steps of the policy flow u_theta form an MDP whose state is (s, x_i, t_i), whose
//! action is the velocity u, with deterministic transition x_{i+1} = x_i + h u and the critic
//! Q(s, x_K) as terminal reward.
//!
//! Networks: a behaviour flow v_b (plain BC), the policy flow u_theta, a flow-state value
//! V_psi(s, x, t) with an EMA target, and the environment critic. Per update:
//! - critic: y = r + gamma m Qb(s', ODE_theta(s', z));
//! - flow value (DF-dir, no intermediate reward): along the current policy's rollout from
//!   z, V(s, x_i, t_i) regresses on Vb(s, x_{i+1}, t_{i+1}), and on Qb(s, clip x_K) at the
//!   last step;
//! - policy (one-step lookahead, x_i detached): maximize lam V(s, x_i + h u, t_{i+1}) (the
//!   critic at the last step), lam = 1 / mean |Q|, minus the divergence penalty
//!   beta h |u - v_b(s, x_i, t_i)|^2 (DF-div's KL-rate reward moved into the loss), plus
//!   lambda_bc times the flow-matching loss of u_theta on the data.

use burn::prelude::*;

use super::fql::td_target;
use super::{Losses, Objective, Part, Step, critic_loss, flow_bc_loss, lift, scalar};
use crate::nets::Noise;

pub(crate) fn objectives(s: &Step, noise: &mut Noise) -> (Vec<Objective>, Losses) {
    let (Some(policy), Some(critic), Some(value)) = (&s.nets.fine, &s.nets.critic, &s.nets.value)
    else {
        unreachable!("Decision Flow agents are built with a policy flow, critics and flow values");
    };
    let (Some(f_policy), Some(f_target), Some(f_value_target)) = (
        &s.frozen.fine,
        &s.frozen.critic_target,
        &s.frozen.value_target,
    ) else {
        unreachable!("Decision Flow agents are built with target networks");
    };
    let config = s.config;
    let [b, d] = s.batch.act.dims();
    let k = config.flow_steps;
    let h = 1.0 / k as f32;
    let device = s.batch.act.device();
    let obs = s.batch.obs.clone();
    let plain_obs = s.plain.obs.clone();
    let plain_device = plain_obs.device();
    let time = |t: f32, device: &Device| Tensor::<2>::full([b, 1], t, device);

    // Environment critic.
    let next_obs = s.plain.next_obs.clone();
    let next = f_policy.sample(next_obs.clone(), noise.normal(b, d).inner(), k);
    let y = td_target(config, s.batch, lift(f_target.mean(next_obs, next)));
    let l_critic = critic_loss(critic, s.batch, y);

    // The current policy's rollout (no gradient).
    let mut xs = vec![noise.normal(b, d).inner()];
    for i in 0..k {
        let x = xs[i].clone();
        let u = f_policy.forward(
            plain_obs.clone(),
            x.clone(),
            time(i as f32 * h, &plain_device),
        );
        xs.push(x + u * h);
    }
    let terminal = f_target.mean(plain_obs.clone(), xs[k].clone().clamp(-1.0, 1.0));
    let lam = scalar(&(terminal.clone().abs().mean() + 1e-6).recip());

    // Flow value: Bellman regression along the rollout.
    let mut l_value = Tensor::<1>::zeros([1], &device);
    for i in 0..k {
        let y = if i + 1 < k {
            f_value_target.forward(
                plain_obs.clone(),
                xs[i + 1].clone(),
                time((i + 1) as f32 * h, &plain_device),
            )
        } else {
            terminal.clone()
        };
        let v = value.forward(
            obs.clone(),
            lift(xs[i].clone()),
            time(i as f32 * h, &device),
        );
        l_value = l_value + (v - lift(y)).square().mean();
    }
    let l_value = l_value / k as f32;

    // Policy: one-step lookahead on V (Q at the last step), divergence penalty, BC.
    let mut gain = Tensor::<1>::zeros([1], &device);
    let mut divergence = Tensor::<1>::zeros([1], &device);
    for (i, xi) in xs.iter().take(k).enumerate() {
        let t = i as f32 * h;
        let x = lift(xi.clone());
        let u = policy.forward(obs.clone(), x.clone(), time(t, &device));
        let vb = lift(
            s.frozen
                .flow
                .forward(plain_obs.clone(), xi.clone(), time(t, &plain_device)),
        );
        divergence = divergence + (u.clone() - vb).square().sum_dim(1).mean() * h;
        let next = x + u * h;
        let ahead = if i + 1 < k {
            value.forward(obs.clone(), next, time((i + 1) as f32 * h, &device))
        } else {
            critic.mean(obs.clone(), next.clamp(-1.0, 1.0))
        };
        gain = gain + ahead.mean();
    }
    let gain = gain * (lam / k as f32);
    let bc_policy = flow_bc_loss(policy, s.batch, None, noise);
    let bc = flow_bc_loss(&s.nets.flow, s.batch, None, noise);
    let l_policy = gain.clone().neg()
        + divergence.clone() * config.beta
        + bc_policy.clone() * config.lambda_bc;
    let losses = vec![
        ("critic", scalar(&l_critic)),
        ("flow_value", scalar(&l_value)),
        ("bc", scalar(&bc)),
        ("policy_bc", scalar(&bc_policy)),
        ("divergence", scalar(&divergence)),
        ("gain", scalar(&gain)),
    ];
    (
        vec![
            Objective {
                loss: l_critic,
                trains: &[Part::Critic],
            },
            Objective {
                loss: l_value,
                trains: &[Part::Value],
            },
            Objective {
                loss: bc + l_policy,
                trains: &[Part::Flow, Part::Fine],
            },
        ],
        losses,
    )
}
