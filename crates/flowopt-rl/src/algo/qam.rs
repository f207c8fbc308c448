//! QAM, Q-learning with adjoint matching ([code: hbin0701/qam agents/qam.py] as summarized in
//! RL-ALGORITHMS.md section 0): a base BC flow v_b and a fine-tuned flow v_f trained by adjoint
//! matching toward pi_beta exp(beta Q).
//!
//! Per update, with the EMA copy of the base as v_b: simulate the memoryless forward SDE
//! dx = (2 v_f - x / t) dt + sigma(t) dW, sigma(t)^2 = 2 (1 - t) / t, for K - 1 steps and take
//! the last step as the base's ODE step; start the lean adjoint at
//! g = -inv_temp grad_a mean_k Qb_k(s, clip(x_K)) (raw Q, as the reference code); propagate it back by vector-Jacobian
//! products g <- g + h J_i' g, J_i = d/dx [2 v_b(s, x, t_i + h) - x / (t_i + h)] at x_i; and
//! regress sum_i |2 (v_f - v_b)(s, x_i, t_i) / sigma_i + sigma_i g_i|^2.
//!
//! Our readings ([inferred]): sigma and 1/t are singular at t = 0, so the first step evaluates
//! them at t = h (x_h of a memoryless SDE does not depend on x_0 anyway). `inv_temp` is in
//! units of 1 / reward, so it is per task (an earlier version scaled the gradient by
//! 1 / mean |Q|: near-zero Q then blew the fine-tuned velocity up and the policy fell apart).

use burn::prelude::*;

use super::fql::td_target;
use super::{AgentNets, Losses, Objective, Part, Step, critic_loss, flow_bc_loss, lift, scalar};
use crate::nets::{Noise, VelocityField};

pub(crate) fn objectives(s: &Step, noise: &mut Noise) -> (Vec<Objective>, Losses) {
    let (Some(fine), Some(critic), Some(f_fine), Some(f_base), Some(f_target)) = (
        &s.nets.fine,
        &s.nets.critic,
        &s.frozen.fine,
        &s.frozen.flow_target,
        &s.frozen.critic_target,
    ) else {
        unreachable!("QAM agents are built with a fine-tuned flow, an EMA base and critics");
    };
    let config = s.config;
    let [b, d] = s.batch.act.dims();
    let k = config.flow_steps;
    let h = 1.0 / k as f32;

    // Critic: y = r + gamma m (mean_k Qb_k - rho std_k Qb_k), a' from the fine flow's ODE.
    let next_obs = s.plain.next_obs.clone();
    let next = f_fine.sample(next_obs.clone(), noise.normal(b, d).inner(), k);
    let q_next = {
        let qs = f_target.forward(next_obs, next);
        let [e, _] = qs.dims();
        let mean = qs.clone().mean_dim(0);
        let std = if e > 1 {
            (qs - mean.clone().expand([e, b]))
                .square()
                .mean_dim(0)
                .sqrt()
        } else {
            mean.zeros_like()
        };
        (mean - std * config.rho).reshape([b])
    };
    let l_critic = critic_loss(critic, s.batch, td_target(config, s.batch, lift(q_next)));

    // Forward (no gradient): memoryless SDE with v_f for i < K - 1, the base's ODE step last.
    let obs = s.plain.obs.clone();
    let plain_device = obs.device();
    let time = |t: f32, device: &Device| Tensor::<2>::full([b, 1], t, device);
    let mut xs = vec![noise.normal(b, d).inner()];
    for i in 0..k {
        let t = i as f32 * h;
        let x = xs[i].clone();
        let next = if i + 1 < k {
            let te = t.max(h);
            let sigma = (2.0 * (1.0 - te) / te).sqrt();
            let drift = f_fine.forward(obs.clone(), x.clone(), time(t, &plain_device)) * 2.0
                - x.clone() / te;
            x + drift * h + noise.normal(b, d).inner() * (sigma * h.sqrt())
        } else {
            x.clone() + f_base.forward(obs.clone(), x, time(t, &plain_device)) * h
        };
        xs.push(next);
    }

    // Adjoint: start from the critic's action gradient, back through the base's drift.
    let terminal = xs[k].clone().clamp(-1.0, 1.0);
    let ad_obs = s.batch.obs.clone();
    let mut g = -action_gradient(s.nets, &ad_obs, lift(terminal)) * config.inv_temp;
    let mut adjoints = vec![g.clone(); k];
    for i in (0..k).rev() {
        let t = (i as f32 + 1.0) * h;
        if let Some(base) = &s.nets.flow_target {
            g = g.clone() + drift_vjp(base, &ad_obs, lift(xs[i].clone()), t, g) * h;
        }
        adjoints[i] = g.clone();
    }

    // Adjoint matching on the fine flow (x_i and the base are constants).
    let device = s.batch.act.device();
    let mut am = Tensor::<1>::zeros([1], &device);
    for i in 0..k.saturating_sub(1) {
        let t = i as f32 * h;
        let sigma = (2.0 * (1.0 - t.max(h)) / t.max(h)).sqrt();
        let vb = lift(f_base.forward(obs.clone(), xs[i].clone(), time(t, &plain_device)));
        let vf = fine.forward(ad_obs.clone(), lift(xs[i].clone()), time(t, &device));
        let residual = (vf - vb) * (2.0 / sigma) + adjoints[i].clone() * sigma;
        am = am + residual.square().sum_dim(1).mean();
    }
    let bc = flow_bc_loss(&s.nets.flow, s.batch, None, noise);
    let losses = vec![
        ("critic", scalar(&l_critic)),
        ("bc", scalar(&bc)),
        ("adjoint_matching", scalar(&am)),
    ];
    (
        vec![
            Objective {
                loss: l_critic,
                trains: &[Part::Critic],
            },
            Objective {
                loss: bc + am,
                trains: &[Part::Flow, Part::Fine],
            },
        ],
        losses,
    )
}

/// grad_a mean_k Qb_k(s, a) at `a` (detached result).
fn action_gradient(nets: &AgentNets, obs: &Tensor<2>, a: Tensor<2>) -> Tensor<2> {
    let Some(target) = &nets.critic_target else {
        return a.zeros_like();
    };
    let a = a.detach().require_grad();
    let q = target.mean(obs.clone().detach(), a.clone()).sum();
    let grads = q.backward();
    a.grad(&grads).map_or_else(
        || a.zeros_like().detach(),
        |g| Tensor::from_inner(g).detach(),
    )
}

/// J' g for J = d/dx [2 v_b(s, x, t) - x / t] at `x` (detached result).
fn drift_vjp(
    base: &VelocityField,
    obs: &Tensor<2>,
    x: Tensor<2>,
    t: f32,
    g: Tensor<2>,
) -> Tensor<2> {
    let [b, _] = x.dims();
    let x = x.detach().require_grad();
    let time = Tensor::<2>::full([b, 1], t, &x.device());
    let drift = base.forward(obs.clone().detach(), x.clone(), time) * 2.0 - x.clone() / t;
    let grads = (drift * g.detach()).sum().backward();
    x.grad(&grads).map_or_else(
        || x.zeros_like().detach(),
        |j| Tensor::from_inner(j).detach(),
    )
}
