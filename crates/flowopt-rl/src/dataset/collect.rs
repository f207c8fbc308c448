//! Collecting datasets with the scripted behaviour policies.

use rand::RngExt;

use super::{Dataset, DatasetSummary, Quality};
use crate::expert::{MIXED_GOOD, behaviour_action, policy_rng};
use crate::{EnvKind, RlError};

/// The reset seed of episode `episode` of a dataset collected with `seed`. The behaviour
/// policy's random stream is seeded from it too (on a separate stream).
pub fn episode_seed(seed: u64, episode: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(episode as u64)
}

impl Dataset {
    /// Runs `episodes` episodes of a `kind` environment with the behaviour policy of `quality`
    /// ([`behaviour_action`]) and records every transition. Episode `e` resets with
    /// [`episode_seed`]`(seed, e)`, so the dataset is a function of its arguments. A step that
    /// ends in a terminal state sets `terminals`, one cut by the step limit `timeouts`; in
    /// [`Quality::Mixed`] data each episode is an expert one with probability
    /// [`MIXED_GOOD`].
    pub fn collect(
        kind: EnvKind,
        quality: Quality,
        episodes: usize,
        seed: u64,
    ) -> Result<Dataset, RlError> {
        Self::collect_with_summary(kind, quality, episodes, seed).map(|(data, _)| data)
    }

    /// [`Dataset::collect`], also returning the data's [`DatasetSummary`] with the success
    /// rate (the fraction of episodes whose last step was a success).
    pub fn collect_with_summary(
        kind: EnvKind,
        quality: Quality,
        episodes: usize,
        seed: u64,
    ) -> Result<(Dataset, DatasetSummary), RlError> {
        if episodes == 0 {
            return Err(RlError::Invalid {
                field: "episodes",
                message: "must be at least 1".to_string(),
            });
        }
        let mut env = kind.make();
        let mut data = Dataset {
            obs_dim: env.observation_space().dim(),
            act_dim: env.action_space().dim(),
            ..Dataset::default()
        };
        let mut successes = 0;
        for episode in 0..episodes {
            let reset_seed = episode_seed(seed, episode);
            let mut rng = policy_rng(reset_seed);
            let good = quality != Quality::Mixed || rng.random_bool(MIXED_GOOD);
            let mut observation = env.reset(reset_seed);
            for _ in 0..env.episode_limit() {
                let action = behaviour_action(kind, quality, &observation, &mut rng, good)?;
                let step = env.step(&action)?;
                data.observations.extend_from_slice(&observation);
                data.actions.extend_from_slice(&action);
                data.rewards.push(step.reward);
                data.terminals.push(f32::from(u8::from(step.terminated)));
                data.timeouts
                    .push(f32::from(u8::from(step.truncated && !step.terminated)));
                data.next_observations.extend_from_slice(&step.observation);
                if step.terminated || step.truncated {
                    successes += usize::from(step.success);
                    break;
                }
                observation = step.observation;
            }
        }
        let mut summary = data.summary();
        summary.success_rate = Some(successes as f32 / episodes as f32);
        Ok((data, summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collecting_is_deterministic_per_seed() {
        for kind in [EnvKind::PointMaze, EnvKind::Bandit2d] {
            let a = Dataset::collect(kind, Quality::Noisy, 3, 11).unwrap();
            let b = Dataset::collect(kind, Quality::Noisy, 3, 11).unwrap();
            let c = Dataset::collect(kind, Quality::Noisy, 3, 12).unwrap();
            assert_eq!(a, b);
            assert_ne!(a, c);
            a.validate().unwrap();
        }
    }

    #[test]
    fn episodes_end_in_exactly_one_terminal_or_timeout() {
        let (data, summary) =
            Dataset::collect_with_summary(EnvKind::Pendulum, Quality::Mixed, 4, 0).unwrap();
        assert_eq!(data.len(), 4 * 200);
        assert_eq!(data.terminals.iter().sum::<f32>(), 0.0);
        assert_eq!(data.timeouts.iter().sum::<f32>(), 4.0);
        assert_eq!(summary.episodes, 4);
        assert!(summary.success_rate.is_some());
        // Within an episode, each row's next observation is the next row's observation.
        let o = data.obs_dim;
        for i in 0..data.len() - 1 {
            if data.timeouts[i] == 0.0 {
                assert_eq!(
                    data.next_observations[i * o..(i + 1) * o],
                    data.observations[(i + 1) * o..(i + 2) * o]
                );
            }
        }

        let data = Dataset::collect(EnvKind::Bandit2d, Quality::Expert, 5, 0).unwrap();
        assert_eq!(data.len(), 5);
        assert_eq!(data.terminals, vec![1.0; 5]);
        assert_eq!(data.timeouts, vec![0.0; 5]);
    }

    #[test]
    fn zero_episodes_is_an_error() {
        assert!(matches!(
            Dataset::collect(EnvKind::Bandit2d, Quality::Expert, 0, 0),
            Err(RlError::Invalid {
                field: "episodes",
                ..
            })
        ));
    }
}
