//! FQL (Park et al., [code: seohongpark/fql agents/fql.py]): a BC flow, a one-step actor
//! trained on -Q plus alpha |mu(s, z) - sg(ODE(s, z))|^2, and a critic whose TD target takes the
//! one-step actor's next action.

use burn::prelude::*;

use super::{
    AgentConfig, Batch, Losses, Objective, Part, Step, critic_loss, flow_bc_loss, lift, scalar,
};
use crate::nets::{CriticEnsemble, Noise, OneStepActor};

pub(crate) fn objectives(s: &Step, noise: &mut Noise) -> (Vec<Objective>, Losses) {
    let (Some(actor), Some(critic), Some(next_actor), Some(target)) = (
        &s.nets.actor,
        &s.nets.critic,
        &s.frozen.actor,
        &s.frozen.critic_target,
    ) else {
        unreachable!("FQL agents are built with an actor, a critic and its target");
    };
    let [b, d] = s.batch.act.dims();
    // Critic: y = r + gamma m mean_k Qb_k(s', clip mu(s', z)).
    let next_obs = s.plain.next_obs.clone();
    let next = next_actor
        .forward(next_obs.clone(), noise.normal(b, d).inner())
        .clamp(-1.0, 1.0);
    let y = td_target(s.config, s.batch, lift(target.mean(next_obs, next)));
    let l_critic = critic_loss(critic, s.batch, y);

    // Actor: BC flow + alpha distillation + normalized -Q.
    let bc = flow_bc_loss(&s.nets.flow, s.batch, None, noise);
    let OneStepTerms {
        q_loss, distill, ..
    } = one_step_terms(actor, critic, s, noise);
    let actor_loss = bc.clone() + distill.clone() * s.config.alpha + q_loss.clone();
    let losses = vec![
        ("critic", scalar(&l_critic)),
        ("bc", scalar(&bc)),
        ("distill", scalar(&distill)),
        ("q", scalar(&q_loss)),
    ];
    (critic_and_actor(l_critic, actor_loss), losses)
}

/// The two objectives of a one-step-actor agent (FQL, GFP): the critic's TD loss, and the
/// flow's BC loss plus the actor's loss (one backward pass for both: the distillation target is
/// a constant, so neither moves the other).
pub(super) fn critic_and_actor(l_critic: Tensor<1>, actor_loss: Tensor<1>) -> Vec<Objective> {
    vec![
        Objective {
            loss: l_critic,
            trains: &[Part::Critic],
        },
        Objective {
            loss: actor_loss,
            trains: &[Part::Flow, Part::Actor],
        },
    ]
}

/// r + gamma m q_next, detached.
pub(super) fn td_target(config: &AgentConfig, batch: &Batch, q_next: Tensor<1>) -> Tensor<1> {
    (batch.reward.clone() + batch.mask.clone() * q_next * config.gamma).detach()
}

/// The one-step actor's terms shared by FQL and GFP.
pub(super) struct OneStepTerms {
    /// The normalized -Q term -lam mean Q(s, clip mu(s, z)).
    pub q_loss: Tensor<1>,
    /// The distillation mean |mu(s, z) - sg(ODE(s, z))|^2 toward the step's flow.
    pub distill: Tensor<1>,
    /// The clipped actions clip mu(s, z) (inference device).
    pub actions: Tensor<2>,
    /// lam = 1 / mean |Q(s, clip mu(s, z))| (inference device).
    pub lam: Tensor<1>,
}

/// The [`OneStepTerms`] of `actor` under `critic` for the step's batch.
pub(super) fn one_step_terms(
    actor: &OneStepActor,
    critic: &CriticEnsemble,
    s: &Step,
    noise: &mut Noise,
) -> OneStepTerms {
    let [b, d] = s.batch.act.dims();
    let z = noise.normal(b, d);
    let flow_actions = lift(s.frozen.flow.sample(
        s.plain.obs.clone(),
        z.clone().inner(),
        s.config.flow_steps,
    ));
    let mu = actor.forward(s.batch.obs.clone(), z);
    let distill = (mu.clone() - flow_actions).square().mean();
    let clipped = mu.clamp(-1.0, 1.0);
    let q = critic.mean(s.batch.obs.clone(), clipped.clone());
    let lam = (q.clone().abs().mean().detach() + 1e-6).recip();
    let q_loss = q.mean().neg() * lam.clone();
    OneStepTerms {
        q_loss,
        distill,
        actions: clipped.inner(),
        lam: lam.inner(),
    }
}
