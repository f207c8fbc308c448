//! Scripted experts for every environment, the noisy behaviour policies that collect the
//! offline datasets, and the reference returns that normalise scores.
//!
//! - [`expert_action`]: the deterministic expert of each environment, a function of the
//!   observation alone (`pendulum`: energy-shaping swing-up and a PD catch; `point-maze`:
//!   breadth-first search over the maze cells and a velocity controller; `swarm-nav`:
//!   sampling-based velocity obstacles; `bandit2d`: the highest mode);
//! - [`expert_action_rng`]: the same, except that the `bandit2d` expert is multimodal (a mode
//!   drawn with probability proportional to its height), as the data of a multimodal task
//!   should be;
//! - [`behaviour_action`]: the expert degraded to a dataset [`Quality`];
//! - [`reference_returns`] and [`normalized_score`]: D4RL-style scores, 0 for the uniform
//!   random policy and 100 for the expert.
//!
//! ```
//! use flowopt_rl::expert::expert_action;
//! use flowopt_rl::EnvKind;
//!
//! // The pendulum hangs at rest: the expert pushes with full torque to start the swing.
//! let a = expert_action(EnvKind::Pendulum, &[-1.0, 0.0, 0.0])?;
//! assert_eq!(a, vec![1.0]);
//! # Ok::<(), flowopt_rl::RlError>(())
//! ```

mod controllers;
mod references;

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

pub use references::{References, normalized_score, reference_returns};

use crate::{EnvKind, Quality, RlError};

/// Action noise (standard deviation) of the expert in [`Quality::Expert`] data and of the
/// expert episodes of [`Quality::Mixed`] data.
pub const EXPERT_NOISE: f32 = 0.1;
/// Action noise (standard deviation) of [`Quality::Noisy`] data.
pub const NOISY_NOISE: f32 = 0.5;
/// Probability that a [`Quality::Noisy`] step takes a uniform random action instead.
pub const NOISY_RANDOM: f64 = 0.2;
/// Probability that a [`Quality::Mixed`] episode is an expert one (else uniform random).
pub const MIXED_GOOD: f64 = 0.5;

/// Observation length the expert of `kind` reads.
fn observation_dim(kind: EnvKind) -> usize {
    match kind {
        EnvKind::Pendulum => 3,
        EnvKind::PointMaze => 6,
        EnvKind::SwarmNav => 22,
        EnvKind::Bandit2d => 1,
    }
}

/// Action dimension of `kind`.
fn action_dim(kind: EnvKind) -> usize {
    match kind {
        EnvKind::Pendulum => 1,
        EnvKind::PointMaze | EnvKind::SwarmNav | EnvKind::Bandit2d => 2,
    }
}

/// Checks an observation's length and values.
fn check(kind: EnvKind, observation: &[f32]) -> Result<(), RlError> {
    let expected = observation_dim(kind);
    if observation.len() != expected {
        return Err(RlError::Shape {
            field: "observation",
            expected,
            got: observation.len(),
        });
    }
    if observation.iter().any(|x| !x.is_finite()) {
        return Err(RlError::NonFinite {
            field: "observation",
        });
    }
    Ok(())
}

/// The deterministic expert's action for `observation` of a `kind` environment, in [-1, 1]^d.
///
/// Errors when the observation has the wrong length or is not finite.
pub fn expert_action(kind: EnvKind, observation: &[f32]) -> Result<Vec<f32>, RlError> {
    check(kind, observation)?;
    Ok(match kind {
        EnvKind::Pendulum => controllers::pendulum(observation),
        EnvKind::PointMaze => controllers::point_maze(observation),
        EnvKind::SwarmNav => controllers::swarm_nav(observation),
        EnvKind::Bandit2d => controllers::bandit_best(),
    })
}

/// The expert's action as a data-collecting expert takes it: [`expert_action`], except that
/// `bandit2d`'s expert draws one of [`Bandit2d::MODES`](crate::env::Bandit2d::MODES) with
/// probability proportional to its height (multimodal data whose best mode is the
/// highest).
pub fn expert_action_rng<R: Rng + ?Sized>(
    kind: EnvKind,
    observation: &[f32],
    rng: &mut R,
) -> Result<Vec<f32>, RlError> {
    if kind != EnvKind::Bandit2d {
        return expert_action(kind, observation);
    }
    check(kind, observation)?;
    let modes = crate::env::Bandit2d::MODES;
    let total: f32 = modes.iter().map(|(_, h)| h).sum();
    let mut pick = rng.random_range(0.0..total);
    for (centre, height) in modes {
        if pick < height {
            return Ok(centre.to_vec());
        }
        pick -= height;
    }
    // Rounding left the draw past the last mode.
    Ok(modes[modes.len() - 1].0.to_vec())
}

/// A uniform random action of a `kind` environment.
pub fn random_action<R: Rng + ?Sized>(kind: EnvKind, rng: &mut R) -> Vec<f32> {
    (0..action_dim(kind))
        .map(|_| rng.random_range(-1.0..=1.0))
        .collect()
}

/// The action of the behaviour policy that collects `quality` data:
///
/// - [`Quality::Expert`]: [`expert_action_rng`] plus Gaussian noise of [`EXPERT_NOISE`];
/// - [`Quality::Noisy`]: with probability [`NOISY_RANDOM`] a uniform random action, else the
///   expert plus noise of [`NOISY_NOISE`];
/// - [`Quality::Mixed`]: the expert with noise of [`EXPERT_NOISE`] when `episode_is_good`,
///   else a uniform random action. The collector draws `episode_is_good` once per episode
///   (true with probability [`MIXED_GOOD`]); it is ignored for the other qualities.
///
/// Actions are clipped into [-1, 1]. Errors when the observation has the wrong length or is
/// not finite.
pub fn behaviour_action<R: Rng + ?Sized>(
    kind: EnvKind,
    quality: Quality,
    observation: &[f32],
    rng: &mut R,
    episode_is_good: bool,
) -> Result<Vec<f32>, RlError> {
    let noisy = |rng: &mut R, noise: f32| -> Result<Vec<f32>, RlError> {
        let mut a = expert_action_rng(kind, observation, rng)?;
        for x in &mut a {
            let n: f32 = rng.sample(StandardNormal);
            *x = (*x + noise * n).clamp(-1.0, 1.0);
        }
        Ok(a)
    };
    match quality {
        Quality::Expert => noisy(rng, EXPERT_NOISE),
        Quality::Noisy => {
            if rng.random_bool(NOISY_RANDOM) {
                check(kind, observation)?;
                Ok(random_action(kind, rng))
            } else {
                noisy(rng, NOISY_NOISE)
            }
        }
        Quality::Mixed if episode_is_good => noisy(rng, EXPERT_NOISE),
        Quality::Mixed => {
            check(kind, observation)?;
            Ok(random_action(kind, rng))
        }
    }
}

/// The random stream of a behaviour policy for the episode that resets with `seed`: seeded
/// like the environment's reset but on a separate ChaCha stream, so the two do not correlate.
pub(crate) fn policy_rng(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1);
    rng
}

/// Runs one episode of `kind` from reset `seed` with `policy` (observation to action) and
/// returns its return and whether its last step was a success.
pub(crate) fn run_episode(
    kind: EnvKind,
    seed: u64,
    mut policy: impl FnMut(&[f32]) -> Result<Vec<f32>, RlError>,
) -> Result<(f32, bool), RlError> {
    let mut env = kind.make();
    let mut observation = env.reset(seed);
    let mut total = 0.0;
    for _ in 0..env.episode_limit() {
        let step = env.step(&policy(&observation)?)?;
        total += step.reward;
        if step.terminated || step.truncated {
            return Ok((total, step.success));
        }
        observation = step.observation;
    }
    Ok((total, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Bandit2d;

    #[test]
    fn dimensions_match_the_environments() {
        for kind in EnvKind::ALL {
            let env = kind.make();
            assert_eq!(observation_dim(kind), env.observation_space().dim());
            assert_eq!(action_dim(kind), env.action_space().dim());
        }
    }

    #[test]
    fn bad_observations_are_errors() {
        let mut rng = policy_rng(0);
        assert!(matches!(
            expert_action(EnvKind::PointMaze, &[0.5; 5]),
            Err(RlError::Shape {
                field: "observation",
                expected: 6,
                got: 5
            })
        ));
        assert!(matches!(
            expert_action(EnvKind::Pendulum, &[1.0, 0.0, f32::NAN]),
            Err(RlError::NonFinite { .. })
        ));
        for quality in Quality::ALL {
            for good in [true, false] {
                let result = behaviour_action(EnvKind::Bandit2d, quality, &[], &mut rng, good);
                assert!(result.is_err(), "{quality:?}");
            }
        }
    }

    #[test]
    fn the_bandit_expert_draws_modes_by_height() {
        let mut rng = policy_rng(1);
        let mut counts = [0usize; 4];
        let draws = 20_000;
        for _ in 0..draws {
            let a = expert_action_rng(EnvKind::Bandit2d, &[1.0], &mut rng).unwrap();
            counts[Bandit2d::nearest_mode([a[0], a[1]])] += 1;
        }
        let total: f32 = Bandit2d::MODES.iter().map(|m| m.1).sum();
        for (k, &(_, h)) in Bandit2d::MODES.iter().enumerate() {
            let share = counts[k] as f32 / draws as f32;
            assert!((share - h / total).abs() < 0.02, "mode {k}: {share}");
        }
    }

    #[test]
    fn behaviour_actions_stay_in_the_box_and_degrade_with_quality() {
        let obs = [0.5, 0.5, 0.0, 0.0, 0.5, 4.5];
        let expert = expert_action(EnvKind::PointMaze, &obs).unwrap();
        let mut rng = policy_rng(2);
        let mean_gap = |quality, good, rng: &mut ChaCha8Rng| {
            let mut gap = 0.0;
            for _ in 0..2_000 {
                let a = behaviour_action(EnvKind::PointMaze, quality, &obs, rng, good).unwrap();
                assert!(a.iter().all(|x| (-1.0..=1.0).contains(x)), "{a:?}");
                gap += a
                    .iter()
                    .zip(&expert)
                    .map(|(x, e)| (x - e).abs())
                    .sum::<f32>();
            }
            gap / 2_000.0
        };
        let close = mean_gap(Quality::Expert, true, &mut rng);
        let noisy = mean_gap(Quality::Noisy, true, &mut rng);
        let good = mean_gap(Quality::Mixed, true, &mut rng);
        let bad = mean_gap(Quality::Mixed, false, &mut rng);
        assert!(close < 0.2 && (good - close).abs() < 0.02, "{close} {good}");
        assert!(noisy > 2.0 * close && bad > 2.0 * close, "{noisy} {bad}");
    }
}
