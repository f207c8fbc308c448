//! FPMD, flow policy mirror descent ([code: tianyyiii/rectified_flow_policy relax/algorithm/rf.py
//! (FPMD-R) and mf.py (FPMD-M)], main 78f90a6): online RL whose flow policy acts in one network
//! call per particle.
//!
//! Acting: N particles per state, x0 = 0.5 z; FPMD-R a = x0 + v(s, x0, 0), FPMD-M
//! a = x1 - u(s, x1, r = 0, t = 1) (MeanFlow's average velocity over the whole path); while
//! exploring, plus alpha * noise_scale * N(0, I); clip; keep the particle of highest
//! min_k Q_k(s, a) (online critics). The EMA policy acts; evaluation adds no noise.
//!
//! Update, on a replay minibatch, with a' = the online policy's best particle at s' (with
//! exploration noise, no gradient):
//! - critics: y = reward_scale r + gamma m min_k Qb_k(s', a');
//! - every second update, the policy by weighted flow matching toward a' at the states s':
//!   w = exp(min_k Q_k(s', a') / (running_std T)), running_std an EMA (rate 1e-3) of the
//!   batch std of that Q. FPMD-R: x_t = t a' + (1 - t) eps, target a' - eps. FPMD-M:
//!   z_t = (1 - t) a' + t eps, v = eps - a', r < t uniform, target v - (t - r) du/dt with the
//!   total derivative along (v, 0, 1);
//! - every second update, the EMA targets (policy and critics, tau);
//! - every 250 updates, log alpha by Adam (lr 7e-3) on -log alpha (H_target - H), H the
//!   entropy of the exploration noise 0.5 d ln(2 pi e (noise_scale alpha)^2), H_target = -1.5 d.
//!
//! Our readings ([inferred]): Burn has no forward-mode JVP, so MeanFlow's du/dt is a central
//! difference with step 5e-3 along the tangent (f32; error O(step^2)); the policy loss uses the
//! critics from before this update's critic step (the reference steps the critics first); the
//! exponent of w is capped at 60 so a large positive Q cannot overflow; the networks are our
//! MLPs with t (and r) as plain inputs, not the reference's sinusoidal embeddings.

use burn::prelude::*;
use burn::tensor::Int;

use super::fql::td_target;
use super::{Losses, Objective, Part, Step, critic_loss, lift, scalar};
use crate::nets::{CriticEnsemble, Noise, VelocityField};

/// Step of MeanFlow's finite-difference derivative.
const JVP_STEP: f32 = 5e-3;
/// Cap of the policy weight's exponent.
const MAX_EXPONENT: f32 = 60.0;
/// Updates between temperature steps, and its Adam learning rate.
const ALPHA_EVERY: usize = 250;
const ALPHA_LR: f32 = 7e-3;

/// The state FPMD keeps besides its networks (saved in a checkpoint's `meta.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FpmdState {
    /// EMA of the batch std of min_k Q (the weight's scale), from 1.
    pub running_std: f32,
    /// log alpha (exploration noise scale alpha * noise_scale).
    pub log_alpha: f32,
    /// Adam's first and second moments and step count for log alpha.
    adam: [f32; 3],
}

impl FpmdState {
    /// The state at the start, with alpha = `alpha`.
    pub fn new(alpha: f32) -> Self {
        Self {
            running_std: 1.0,
            log_alpha: alpha.ln(),
            adam: [0.0; 3],
        }
    }

    /// The exploration noise's standard deviation, alpha * `noise_scale`.
    pub fn explore_std(&self, noise_scale: f32) -> f32 {
        self.log_alpha.exp() * noise_scale
    }

    /// One Adam step on log alpha toward the target entropy (see the module docs).
    fn step_alpha(&mut self, act_dim: usize, noise_scale: f32) {
        let d = act_dim as f32;
        let sigma = self.explore_std(noise_scale);
        let entropy =
            0.5 * d * (2.0 * std::f32::consts::PI * std::f32::consts::E * sigma * sigma).ln();
        let grad = entropy - (-1.5 * d);
        let [m, v, t] = &mut self.adam;
        *t += 1.0;
        *m = 0.9 * *m + 0.1 * grad;
        *v = 0.999 * *v + 0.001 * grad * grad;
        let m_hat = *m / (1.0 - 0.9f32.powf(*t));
        let v_hat = *v / (1.0 - 0.999f32.powf(*t));
        self.log_alpha -= ALPHA_LR * m_hat / (v_hat.sqrt() + 1e-8);
    }
}

/// One-step action proposals from noise `z` (B, d): FPMD-R x0 + v(s, x0, 0), FPMD-M
/// x1 - u([s, 0], x1, 1), with x0 = x1 = 0.5 z; not clipped.
pub fn one_step(flow: &VelocityField, mean_flow: bool, obs: Tensor<2>, z: Tensor<2>) -> Tensor<2> {
    let [b, _] = z.dims();
    let device = z.device();
    let x = z * 0.5;
    if mean_flow {
        let r = Tensor::zeros([b, 1], &device);
        let t = Tensor::ones([b, 1], &device);
        x.clone() - flow.forward(Tensor::cat(vec![obs, r], 1), x, t)
    } else {
        let t = Tensor::zeros([b, 1], &device);
        x.clone() + flow.forward(obs, x, t)
    }
}

/// The best of `n` particles per row of `obs` (B, o) under min_k Q_k: proposals from `z`
/// (B n, d), plus `explore` (B n, d) when given, clipped into [-1, 1]. Returns (B, d).
pub fn best_of_n(
    flow: &VelocityField,
    mean_flow: bool,
    critic: &CriticEnsemble,
    obs: Tensor<2>,
    z: Tensor<2>,
    explore: Option<Tensor<2>>,
    n: usize,
) -> Tensor<2> {
    let [b, o] = obs.dims();
    let [_, d] = z.dims();
    let repeated = obs
        .unsqueeze_dim::<3>(1)
        .expand([b, n, o])
        .reshape([b * n, o]);
    let mut a = one_step(flow, mean_flow, repeated.clone(), z);
    if let Some(e) = explore {
        a = a + e;
    }
    let a = a.clamp(-1.0, 1.0);
    let q = critic.min(repeated, a.clone()).reshape([b, n]);
    let best: Tensor<2, Int> = q.argmax(1);
    let index = best.unsqueeze_dim::<3>(2).expand([b, 1, d]);
    a.reshape([b, n, d]).gather(1, index).reshape([b, d])
}

pub(crate) fn objectives(
    s: &Step,
    noise: &mut Noise,
    state: &mut FpmdState,
    mean_flow: bool,
    update: usize,
) -> (Vec<Objective>, Losses) {
    let (Some(critic), Some(f_critic), Some(target)) =
        (&s.nets.critic, &s.frozen.critic, &s.frozen.critic_target)
    else {
        unreachable!("FPMD agents are built with critics and their target");
    };
    let config = s.config;
    let [b, d] = s.batch.act.dims();
    let n = config.particles;
    let next_obs = s.plain.next_obs.clone();
    // a' = the online policy's best particle at s', with exploration noise.
    let sigma = state.explore_std(config.noise_scale);
    let next = best_of_n(
        &s.frozen.flow,
        mean_flow,
        f_critic,
        next_obs.clone(),
        noise.normal(b * n, d).inner(),
        Some(noise.normal(b * n, d).inner() * sigma),
        n,
    );
    let mut scaled = s.batch.clone();
    scaled.reward = scaled.reward * config.reward_scale;
    let y = td_target(
        config,
        &scaled,
        lift(target.min(next_obs.clone(), next.clone())),
    );
    let l_critic = critic_loss(critic, s.batch, y);
    let mut losses = vec![("critic", scalar(&l_critic))];
    let mut objectives = vec![Objective {
        loss: l_critic,
        trains: &[Part::Critic],
    }];

    if update.is_multiple_of(2) {
        let q = f_critic.min(next_obs.clone(), next.clone());
        let std = scalar(&(q.clone() - q.clone().mean()).square().mean().sqrt());
        state.running_std = 0.999 * state.running_std + 0.001 * std;
        let scale = (state.running_std * config.temperature).max(1e-6);
        let w = lift((q / scale).clamp_max(MAX_EXPONENT).exp());
        let obs = lift(next_obs.clone());
        let a = lift(next);
        let eps = noise.normal(b, d);
        let t = noise.uniform(b);
        let (pred, target) = if mean_flow {
            let t2 = noise.uniform(b);
            let r = t.clone().min_pair(t2.clone());
            let t = t.max_pair(t2);
            let z = a.clone() * (t.clone().neg() + 1.0) + eps.clone() * t.clone();
            let v = eps - a;
            let u = |z: Tensor<2>, t: Tensor<2>| {
                s.frozen.flow.forward(
                    Tensor::cat(vec![next_obs.clone(), r.clone().inner()], 1),
                    z,
                    t,
                )
            };
            let (zi, vi, ti) = (z.clone().inner(), v.clone().inner(), t.clone().inner());
            let dudt = (u(zi.clone() + vi.clone() * JVP_STEP, ti.clone() + JVP_STEP)
                - u(zi - vi * JVP_STEP, ti - JVP_STEP))
                / (2.0 * JVP_STEP);
            let target = v - lift(dudt) * (t.clone() - r.clone());
            let pred = s.nets.flow.forward(Tensor::cat(vec![obs, r], 1), z, t);
            (pred, target.detach())
        } else {
            let x = a.clone() * t.clone() + eps.clone() * (t.clone().neg() + 1.0);
            (s.nets.flow.forward(obs, x, t), a - eps)
        };
        let err = (pred - target).square().mean_dim(1).reshape([b]);
        let l_policy = (err * w.clone()).mean();
        losses.push(("policy", scalar(&l_policy)));
        losses.push(("weight", scalar(&w.mean())));
        objectives.push(Objective {
            loss: l_policy,
            trains: &[Part::Flow],
        });
    }
    if update.is_multiple_of(ALPHA_EVERY) {
        state.step_alpha(d, config.noise_scale);
    }
    losses.push(("alpha", state.log_alpha.exp()));
    (objectives, losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::seeded;

    #[test]
    fn alpha_moves_toward_the_target_entropy() {
        // The target entropy -1.5 d holds at noise std e^-2 / sqrt(2 pi) ~ 0.054.
        let mut state = FpmdState::new(5.0);
        let start = state.explore_std(0.1);
        for _ in 0..50 {
            state.step_alpha(2, 0.1);
        }
        assert!(state.explore_std(0.1) < start);
        let mut low = FpmdState::new(0.01);
        let before = low.explore_std(0.1);
        low.step_alpha(2, 0.1);
        assert!(low.explore_std(0.1) > before);
    }

    #[test]
    fn the_best_particle_is_the_critics_favourite() {
        let device = Device::flex();
        let flow = seeded(&device, 1, || VelocityField::new(1, 1, &[8], &device));
        let critic = seeded(&device, 2, || CriticEnsemble::new(2, 1, 1, &[8], &device));
        let obs = Tensor::<2>::from_data([[0.3], [-0.7]], &device);
        let mut noise = Noise::new(1, &device);
        let z = noise.normal(2 * 16, 1);
        let best = best_of_n(&flow, false, &critic, obs.clone(), z.clone(), None, 16);
        // Every particle, scored by hand.
        let repeated = obs
            .unsqueeze_dim::<3>(1)
            .expand([2, 16, 1])
            .reshape([32, 1]);
        let all = one_step(&flow, false, repeated.clone(), z).clamp(-1.0, 1.0);
        let q: Vec<f32> = critic
            .min(repeated, all.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let a: Vec<f32> = all.into_data().try_to_vec::<f32>().unwrap();
        let best: Vec<f32> = best.into_data().try_to_vec::<f32>().unwrap();
        for row in 0..2 {
            let k = (0..16)
                .max_by(|&i, &j| q[row * 16 + i].total_cmp(&q[row * 16 + j]))
                .unwrap();
            assert_eq!(best[row], a[row * 16 + k]);
        }
    }
}
