//! `pendulum`: Gymnasium's Pendulum-v1, same dynamics, reward, start distribution and limit.

use std::f64::consts::PI;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Env, Space, Step, burn_environment, clip_action};
use crate::RlError;

/// Gravity (m/s^2).
pub(crate) const G: f64 = 10.0;
/// Mass (kg).
pub(crate) const M: f64 = 1.0;
/// Length (m).
pub(crate) const L: f64 = 1.0;
/// Integration step (s).
pub(crate) const DT: f64 = 0.05;
/// Largest angular speed (rad/s).
const MAX_SPEED: f64 = 8.0;
/// Largest torque (N m): the torque is `MAX_TORQUE * a` for the action `a` in [-1, 1].
pub(crate) const MAX_TORQUE: f64 = 2.0;
/// Steps per episode.
const LIMIT: usize = 200;
/// "Upright" for [`Step::success`]: |angle| below this (rad)...
const UPRIGHT_ANGLE: f64 = 0.1;
/// ...and |angular speed| below this (rad/s).
const UPRIGHT_SPEED: f64 = 1.0;

/// Swing the pendulum up and keep it upright (Pendulum-v1).
///
/// The state is the angle `th` (0 upright, counter-clockwise) and the angular speed `thdot`;
/// the observation is `[cos th, sin th, thdot]`, the action `a` in [-1, 1] a torque `u = 2 a`.
/// Each step costs `angle_normalize(th)^2 + 0.1 thdot^2 + 0.001 u^2` (of the state before the
/// step), then semi-implicit Euler with `dt = 0.05`:
/// `thdot += (3 g / (2 l) sin th + 3 / (m l^2) u) dt` (clipped to ±8), `th += thdot dt`.
/// Episodes start at `th ~ U[-pi, pi]`, `thdot ~ U[-1, 1]`, never terminate and are truncated
/// after 200 steps. Random actions score about -1200 per episode, good policies -150 to -200.
///
/// Pendulum-v1 has no success notion: here [`Step::success`] is true on a step that leaves the
/// pendulum upright, |angle| < 0.1 rad with |thdot| < 1 rad/s.
#[derive(Debug, Clone)]
pub struct Pendulum {
    /// Angle (rad), not wrapped (as Pendulum-v1).
    theta: f64,
    /// Angular speed (rad/s).
    theta_dot: f64,
    /// Steps taken in this episode.
    steps: usize,
    /// The episode ended (truncated).
    done: bool,
    /// Seed of the next [`burn::rl::Environment::reset`].
    burn_seed: u64,
}

burn_environment!(Pendulum, LIMIT);

impl Pendulum {
    /// A pendulum hanging at rest; call [`Env::reset`] to start an episode.
    pub fn new() -> Self {
        Self {
            theta: PI,
            theta_dot: 0.0,
            steps: 0,
            done: false,
            burn_seed: 0,
        }
    }
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

/// `x` wrapped into [-pi, pi) (Pendulum-v1's `angle_normalize`).
pub(crate) fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Env for Pendulum {
    fn name(&self) -> &'static str {
        "pendulum"
    }

    fn observation_space(&self) -> Space {
        Space {
            low: vec![-1.0, -1.0, -MAX_SPEED as f32],
            high: vec![1.0, 1.0, MAX_SPEED as f32],
        }
    }

    fn action_space(&self) -> Space {
        Space::unit(1)
    }

    fn episode_limit(&self) -> usize {
        LIMIT
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.theta = rng.random_range(-PI..=PI);
        self.theta_dot = rng.random_range(-1.0..=1.0);
        self.steps = 0;
        self.done = false;
        self.observation()
    }

    fn observation(&self) -> Vec<f32> {
        vec![
            self.theta.cos() as f32,
            self.theta.sin() as f32,
            self.theta_dot as f32,
        ]
    }

    fn step(&mut self, action: &[f32]) -> Result<Step, RlError> {
        if self.done {
            return Err(RlError::EpisodeOver);
        }
        let a = clip_action(action, 1)?;
        let (th, thdot) = (self.theta, self.theta_dot);
        let u = MAX_TORQUE * f64::from(a[0]);
        let cost = angle_normalize(th).powi(2) + 0.1 * thdot.powi(2) + 0.001 * u.powi(2);

        let accel = 3.0 * G / (2.0 * L) * th.sin() + 3.0 / (M * L * L) * u;
        let new_thdot = (thdot + accel * DT).clamp(-MAX_SPEED, MAX_SPEED);
        self.theta = th + new_thdot * DT;
        self.theta_dot = new_thdot;
        self.steps += 1;

        let truncated = self.steps >= LIMIT;
        self.done = truncated;
        Ok(Step {
            observation: self.observation(),
            reward: -cost as f32,
            terminated: false,
            truncated,
            success: angle_normalize(self.theta).abs() < UPRIGHT_ANGLE
                && self.theta_dot.abs() < UPRIGHT_SPEED,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn angle_normalize_wraps_like_pythons_modulo() {
        assert!((angle_normalize(0.5) - 0.5).abs() < 1e-12);
        assert!((angle_normalize(2.0 * PI + 0.5) - 0.5).abs() < 1e-12);
        assert!((angle_normalize(-2.0 * PI - 0.5) + 0.5).abs() < 1e-12);
        assert!((angle_normalize(PI) + PI).abs() < 1e-12);
        assert!((angle_normalize(3.5) - (3.5 - 2.0 * PI)).abs() < 1e-12);
    }

    #[test]
    fn one_step_matches_the_pendulum_v1_formulas() {
        let mut env = Pendulum::new();
        env.theta = 1.0;
        env.theta_dot = 0.5;
        let step = env.step(&[0.25]).unwrap();
        // u = 2 * 0.25 = 0.5.
        // cost = 1.0^2 + 0.1 * 0.5^2 + 0.001 * 0.5^2 = 1.0 + 0.025 + 0.00025 = 1.02525.
        assert!((f64::from(step.reward) + 1.02525).abs() < 1e-6, "{step:?}");
        // thdot' = 0.5 + (15 sin 1 + 3 * 0.5) * 0.05 = 0.5 + (12.622065 + 1.5) * 0.05 = 1.206103.
        let thdot = 0.5 + (15.0 * 1.0f64.sin() + 1.5) * 0.05;
        assert!((thdot - 1.206_103_2).abs() < 1e-6);
        // th' = 1.0 + 1.206103 * 0.05 = 1.060305.
        let th = 1.0 + thdot * 0.05;
        assert!((th - 1.060_305_2).abs() < 1e-6);
        let want = [th.cos() as f32, th.sin() as f32, thdot as f32];
        assert_eq!(step.observation, want);
        assert!(!step.terminated && !step.truncated && !step.success);
    }

    #[test]
    fn speed_and_torque_are_clipped() {
        let mut env = Pendulum::new();
        env.theta = PI / 2.0;
        env.theta_dot = 7.9;
        // An action beyond the box acts as a = 1.
        let step = env.step(&[3.0]).unwrap();
        assert_eq!(step.observation[2], 8.0);
        let cost = (PI / 2.0).powi(2) + 0.1 * 7.9f64.powi(2) + 0.001 * 4.0;
        assert!((f64::from(step.reward) + cost).abs() < 1e-5);
    }

    #[test]
    fn resets_are_deterministic_and_in_range() {
        let mut env = Pendulum::new();
        let mut other = Pendulum::new();
        for seed in 0..50 {
            let obs = env.reset(seed);
            assert_eq!(obs, other.reset(seed));
            assert!((obs[0].powi(2) + obs[1].powi(2) - 1.0).abs() < 1e-5);
            assert!(obs[2].abs() <= 1.0);
        }
        assert_ne!(env.reset(1), env.reset(2));
    }

    #[test]
    fn episodes_truncate_at_200_and_stay_in_the_observation_box() {
        let mut env = Pendulum::new();
        env.reset(3);
        let space = env.observation_space();
        for t in 0..LIMIT {
            let a = if (t / 20) % 2 == 0 { 1.0 } else { -1.0 };
            let step = env.step(&[a]).unwrap();
            assert!(!step.terminated);
            assert_eq!(step.truncated, t + 1 == LIMIT);
            assert!(step.reward <= 0.0);
            for (i, x) in step.observation.iter().enumerate() {
                assert!(space.low[i] <= *x && *x <= space.high[i], "{x} at {i}");
            }
        }
        assert!(matches!(env.step(&[0.0]), Err(RlError::EpisodeOver)));
        env.reset(4);
        assert!(env.step(&[0.0]).is_ok());
    }

    #[test]
    fn bad_actions_are_errors() {
        let mut env = Pendulum::new();
        env.reset(0);
        assert!(matches!(env.step(&[]), Err(RlError::Shape { .. })));
        assert!(matches!(
            env.step(&[f32::NAN]),
            Err(RlError::NonFinite { .. })
        ));
    }

    #[test]
    fn upright_and_slow_is_a_success() {
        let mut env = Pendulum::new();
        env.reset(0);
        env.theta = 2.0 * PI + 0.01;
        env.theta_dot = 0.0;
        assert!(env.step(&[0.0]).unwrap().success);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the actions, observations stay on the unit circle and in the box, and
        /// rewards are never positive.
        #[test]
        fn any_actions_stay_in_the_observation_box(
            seed in 0u64..1_000,
            actions in prop::collection::vec(-3.0f32..3.0, 1..200),
        ) {
            let mut env = Pendulum::new();
            env.reset(seed);
            let space = env.observation_space();
            for a in actions {
                let step = env.step(&[a]).unwrap();
                let o = &step.observation;
                prop_assert!((o[0].powi(2) + o[1].powi(2) - 1.0).abs() < 1e-5);
                prop_assert!(space.low[2] <= o[2] && o[2] <= space.high[2]);
                prop_assert!(step.reward <= 0.0);
            }
        }
    }
}
