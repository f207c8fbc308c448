//! Reference returns of the uniform random policy and the expert, for D4RL-style normalised
//! scores.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{expert_action, policy_rng, random_action, run_episode};
use crate::{EnvKind, RlError};

/// Reset seeds the references average over.
const SEEDS: std::ops::Range<u64> = 10_000..10_020;

/// Mean episode returns of the reference policies over reset seeds 10000..10020.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct References {
    /// The uniform random policy (normalised score 0).
    pub random: f32,
    /// The noise-free expert, [`expert_action`] (normalised score 100).
    pub expert: f32,
}

/// The reference returns of `kind`, computed on first use (a fraction of a second) and cached.
pub fn reference_returns(kind: EnvKind) -> References {
    static CACHE: [OnceLock<References>; 4] = [const { OnceLock::new() }; 4];
    let slot = match kind {
        EnvKind::Pendulum => 0,
        EnvKind::PointMaze => 1,
        EnvKind::SwarmNav => 2,
        EnvKind::Bandit2d => 3,
    };
    *CACHE[slot].get_or_init(|| {
        compute(kind).expect("the experts accept every observation of their own environment")
    })
}

/// Runs the reference policies.
fn compute(kind: EnvKind) -> Result<References, RlError> {
    let mut random = 0.0;
    let mut expert = 0.0;
    for seed in SEEDS {
        let mut rng = policy_rng(seed);
        random += run_episode(kind, seed, |_| Ok(random_action(kind, &mut rng)))?.0;
        expert += run_episode(kind, seed, |obs| expert_action(kind, obs))?.0;
    }
    let n = (SEEDS.end - SEEDS.start) as f32;
    Ok(References {
        random: random / n,
        expert: expert / n,
    })
}

/// The D4RL-style normalised score of an episode return `ret` of `kind`:
/// `100 (ret - random) / (expert - random)` with the [`reference_returns`].
pub fn normalized_score(kind: EnvKind, ret: f32) -> f32 {
    let References { random, expert } = reference_returns(kind);
    100.0 * (ret - random) / (expert - random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experts_beat_random_by_a_wide_margin() {
        for kind in EnvKind::ALL {
            let r = reference_returns(kind);
            assert!(r.expert > r.random, "{kind:?}: {r:?}");
            assert_eq!(normalized_score(kind, r.random), 0.0);
            assert!((normalized_score(kind, r.expert) - 100.0).abs() < 1e-3);
        }
        let pendulum = reference_returns(EnvKind::Pendulum);
        assert!(
            pendulum.expert > -250.0 && pendulum.random < -800.0,
            "{pendulum:?}"
        );
        let bandit = reference_returns(EnvKind::Bandit2d);
        assert!((bandit.expert - 1.0).abs() < 1e-6, "{bandit:?}");
    }

    #[test]
    fn experts_succeed_where_random_actions_fail() {
        for kind in EnvKind::ALL {
            let (mut expert, mut random) = (0, 0);
            for seed in 0..20 {
                let mut rng = policy_rng(seed);
                random += usize::from(
                    run_episode(kind, seed, |_| Ok(random_action(kind, &mut rng)))
                        .unwrap()
                        .1,
                );
                expert += usize::from(
                    run_episode(kind, seed, |obs| expert_action(kind, obs))
                        .unwrap()
                        .1,
                );
            }
            assert_eq!(
                expert, 20,
                "{kind:?}: the expert succeeded {expert} times of 20"
            );
            assert!(
                random <= 10,
                "{kind:?}: random actions succeeded {random} times"
            );
        }
    }
}
