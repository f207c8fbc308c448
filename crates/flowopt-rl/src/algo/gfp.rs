//! GFP, guided flow policy ([code: GFPAgent agents/gfp.py], RL-ALGORITHMS.md section 1): a
//! value-weighted BC flow (weights g = sigmoid(c (Qb(s, a) - Qb(s, mu))), c = lam / eta, no
//! gradient), a one-step actor distilled from it and trained on -Q, and a critic whose target
//! averages the actor's and the flow's next actions ("mean" aggregation, the paper's y_VaBC).

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::fql::{OneStepTerms, critic_and_actor, one_step_terms, td_target};
use super::{Losses, Objective, Step, critic_loss, flow_bc_loss, lift, scalar};
use crate::nets::Noise;

pub(crate) fn objectives(s: &Step, noise: &mut Noise) -> (Vec<Objective>, Losses) {
    let (Some(actor), Some(critic), Some(next_actor), Some(target)) = (
        &s.nets.actor,
        &s.nets.critic,
        &s.frozen.actor,
        &s.frozen.critic_target,
    ) else {
        unreachable!("GFP agents are built with an actor, a critic and its target");
    };
    let [b, d] = s.batch.act.dims();
    let config = s.config;
    // Critic: y = r + gamma m (Qb(s', mu(s', z)) + Qb(s', ODE_w(s', z))) / 2, the same z.
    let z = noise.normal(b, d).inner();
    let next_obs = s.plain.next_obs.clone();
    let by_actor = next_actor
        .forward(next_obs.clone(), z.clone())
        .clamp(-1.0, 1.0);
    let by_flow = s.frozen.flow.sample(next_obs.clone(), z, config.flow_steps);
    let q_next = (target.mean(next_obs.clone(), by_actor) + target.mean(next_obs, by_flow)) * 0.5;
    let l_critic = critic_loss(critic, s.batch, td_target(config, s.batch, lift(q_next)));

    // Actor (shared with FQL).
    let OneStepTerms {
        q_loss,
        distill,
        actions,
        lam,
    } = one_step_terms(actor, critic, s, noise);
    // Guidance weights: the dataset action against the actor's, under the target critic, at
    // c = lam / eta with lam = 1 / mean |Q(s, mu)| (the online critic, as in the actor loss).
    let weights = if config.eta > 0.0 {
        let obs = s.plain.obs.clone();
        let q_ref = target.mean(obs.clone(), actions);
        let q_data = target.mean(obs, s.plain.act.clone());
        lift(sigmoid((q_data - q_ref) * lam / config.eta))
    } else {
        Tensor::ones([b], &s.batch.act.device())
    };
    let guidance = scalar(&weights.clone().mean());
    let vabc = flow_bc_loss(&s.nets.flow, s.batch, Some(weights), noise);
    let actor_loss = vabc.clone() + distill.clone() * config.alpha + q_loss.clone();
    let losses = vec![
        ("critic", scalar(&l_critic)),
        ("vabc", scalar(&vabc)),
        ("distill", scalar(&distill)),
        ("q", scalar(&q_loss)),
        ("guidance", guidance),
    ];
    (critic_and_actor(l_critic, actor_loss), losses)
}
