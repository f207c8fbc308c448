//! `bandit2d`: a one-step task whose reward over the 2-D action has four distinct modes.

use super::{Env, Space, Step, burn_environment, clip_action};
use crate::RlError;

/// Width (standard deviation) of each reward bump.
const WIDTH: f32 = 0.1;

/// Pick a good action in one step; the reward map has four peaks of different heights.
///
/// The observation is the constant `[1.0]`, the action `a` in [-1, 1]^2, and the reward
/// [`Bandit2d::reward`]`(a) = max_k h_k exp(-|a - c_k|^2 / (2 0.1^2))` over the
/// [`Bandit2d::MODES`] `(c_k, h_k)`. Every episode is one step and terminates; it is a success
/// when the reward exceeds 0.5, which only the three highest modes allow. A policy that copies
/// multimodal data averages the modes and lands between them (reward near 0); a good one picks
/// the highest mode (reward 1).
#[derive(Debug, Clone, Default)]
pub struct Bandit2d {
    /// The episode's step was taken.
    done: bool,
    /// Seed of the next [`burn::rl::Environment::reset`].
    burn_seed: u64,
}

burn_environment!(Bandit2d, 1);

impl Bandit2d {
    /// The reward's modes as (centre, height), highest first.
    pub const MODES: [([f32; 2], f32); 4] = [
        ([0.6, 0.6], 1.0),
        ([-0.6, 0.6], 0.8),
        ([-0.6, -0.6], 0.6),
        ([0.6, -0.6], 0.4),
    ];

    /// A fresh environment, ready for its one step.
    pub fn new() -> Self {
        Self::default()
    }

    /// The reward of action `a` (not clipped): the highest of the Gaussian bumps at the
    /// [`Bandit2d::MODES`], each of standard deviation 0.1.
    pub fn reward(a: [f32; 2]) -> f32 {
        Self::MODES
            .iter()
            .map(|&([cx, cy], h)| {
                let d2 = (a[0] - cx).powi(2) + (a[1] - cy).powi(2);
                h * (-d2 / (2.0 * WIDTH * WIDTH)).exp()
            })
            .fold(0.0, f32::max)
    }

    /// The index of the mode nearest to `a` (ties to the lower index).
    pub fn nearest_mode(a: [f32; 2]) -> usize {
        let d2 = |c: [f32; 2]| (a[0] - c[0]).powi(2) + (a[1] - c[1]).powi(2);
        (1..Self::MODES.len()).fold(0, |best, k| {
            if d2(Self::MODES[k].0) < d2(Self::MODES[best].0) {
                k
            } else {
                best
            }
        })
    }
}

impl Env for Bandit2d {
    fn name(&self) -> &'static str {
        "bandit2d"
    }

    fn observation_space(&self) -> Space {
        Space {
            low: vec![1.0],
            high: vec![1.0],
        }
    }

    fn action_space(&self) -> Space {
        Space::unit(2)
    }

    fn episode_limit(&self) -> usize {
        1
    }

    fn reset(&mut self, _seed: u64) -> Vec<f32> {
        self.done = false;
        self.observation()
    }

    fn observation(&self) -> Vec<f32> {
        vec![1.0]
    }

    fn step(&mut self, action: &[f32]) -> Result<Step, RlError> {
        if self.done {
            return Err(RlError::EpisodeOver);
        }
        let a = clip_action(action, 2)?;
        self.done = true;
        let reward = Self::reward([a[0], a[1]]);
        Ok(Step {
            observation: self.observation(),
            reward,
            terminated: true,
            truncated: false,
            success: reward > 0.5,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_peaks_at_its_height() {
        for (k, &(c, h)) in Bandit2d::MODES.iter().enumerate() {
            assert!((Bandit2d::reward(c) - h).abs() < 1e-6);
            assert_eq!(Bandit2d::nearest_mode(c), k);
            // One width away: h exp(-1/2).
            let off = Bandit2d::reward([c[0] + WIDTH, c[1]]);
            assert!((off - h * (-0.5f32).exp()).abs() < 1e-5);
        }
        // Between the modes (the mean of the data) there is nothing.
        assert!(Bandit2d::reward([0.0, 0.0]) < 1e-6);
        assert!(Bandit2d::reward([0.0, 0.6]) < 1e-6);
    }

    #[test]
    fn one_step_episodes() {
        let mut env = Bandit2d::new();
        assert_eq!(env.reset(3), vec![1.0]);
        let step = env.step(&[0.6, 0.6]).unwrap();
        assert!(step.terminated && !step.truncated && step.success);
        assert!((step.reward - 1.0).abs() < 1e-6);
        assert!(matches!(env.step(&[0.6, 0.6]), Err(RlError::EpisodeOver)));
        env.reset(4);
        // The lowest mode is never a success; actions are clipped into the box.
        let step = env.step(&[0.6, -0.6]).unwrap();
        assert!(!step.success && (step.reward - 0.4).abs() < 1e-6);
        env.reset(5);
        assert!(env.step(&[5.0, 5.0]).unwrap().reward < 1e-3);
        env.reset(6);
        assert!(matches!(env.step(&[0.0]), Err(RlError::Shape { .. })));
    }
}
