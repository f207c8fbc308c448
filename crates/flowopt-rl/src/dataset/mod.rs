//! Offline datasets in the D4RL/OGBench layout: `observations`, `actions`, `rewards`,
//! `terminals`, `next_observations` (and `timeouts` where known), one row per transition.
//!
//! - [`Dataset::collect`] runs a scripted behaviour policy of a given [`Quality`]
//!   ([`crate::expert::behaviour_action`]) in one of our environments;
//! - [`Dataset::save_npz`] and [`Dataset::load_npz`] write and read `.npz` files, the loader
//!   accepting the variants found in the wild (see [`Dataset::load_npz`]);
//! - [`Dataset::validate`] checks the arrays agree, [`Dataset::summary`] describes them.
//!
//! ```
//! use flowopt_rl::{Dataset, EnvKind, Quality};
//!
//! let data = Dataset::collect(EnvKind::Bandit2d, Quality::Expert, 10, 0)?;
//! assert_eq!(data.len(), 10); // ten one-step episodes
//! data.validate()?;
//! # Ok::<(), flowopt_rl::RlError>(())
//! ```

mod chunks;
mod collect;
mod npz;

pub use collect::episode_seed;

use serde::{Deserialize, Serialize};

use crate::RlError;

/// One transition (s, a, r, s'), e.g. reported by an external environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The observation s.
    pub observation: Vec<f32>,
    /// The action a taken, in [-1, 1]^act_dim.
    pub action: Vec<f32>,
    /// The reward r.
    pub reward: f32,
    /// The next observation s'.
    pub next_observation: Vec<f32>,
    /// Whether s' is terminal (no bootstrapping from it).
    #[serde(default)]
    pub terminal: bool,
    /// Whether the episode was cut by a time limit at s'.
    #[serde(default)]
    pub timeout: bool,
}

/// Data quality of a scripted-expert dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quality {
    /// The scripted expert with a little action noise.
    Expert,
    /// The expert with heavy action noise.
    Noisy,
    /// Episodes of the expert mixed with episodes of a much worse (uniform random) policy.
    Mixed,
}

impl Quality {
    /// Every quality.
    pub const ALL: [Quality; 3] = [Quality::Expert, Quality::Noisy, Quality::Mixed];

    /// The registry name: `expert`, `noisy` or `mixed`.
    pub fn name(self) -> &'static str {
        match self {
            Quality::Expert => "expert",
            Quality::Noisy => "noisy",
            Quality::Mixed => "mixed",
        }
    }
}

impl std::fmt::Display for Quality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Quality {
    type Err = RlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quality::ALL
            .into_iter()
            .find(|q| q.name() == s)
            .ok_or_else(|| RlError::Unknown {
                what: "dataset quality",
                name: s.to_string(),
                known: Quality::ALL.iter().map(|q| q.name()).collect(),
            })
    }
}

/// Transitions, row-major: row i of `observations` is `observations[i * obs_dim..(i + 1) *
/// obs_dim]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dataset {
    /// Observation dimension.
    pub obs_dim: usize,
    /// Action dimension.
    pub act_dim: usize,
    /// (n, obs_dim).
    pub observations: Vec<f32>,
    /// (n, act_dim), in [-1, 1].
    pub actions: Vec<f32>,
    /// (n,).
    pub rewards: Vec<f32>,
    /// (n,): 1 where the transition ends in a terminal state (no bootstrapping), else 0.
    pub terminals: Vec<f32>,
    /// (n, obs_dim).
    pub next_observations: Vec<f32>,
    /// (n,): 1 where the episode was cut by its step limit after this transition (0 when the file
    /// has no `timeouts`).
    pub timeouts: Vec<f32>,
}

/// What a dataset holds (JSON for reports and the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Transitions (rows).
    pub transitions: usize,
    /// Episodes: runs of rows ending in a terminal or a timeout, plus a trailing unfinished
    /// run.
    pub episodes: usize,
    /// Mean episode return (0 without episodes).
    pub mean_return: f32,
    /// Lowest episode return (0 without episodes).
    pub min_return: f32,
    /// Highest episode return (0 without episodes).
    pub max_return: f32,
    /// Fraction of episodes that ended in success, where known (datasets we collected; files
    /// do not record it).
    pub success_rate: Option<f32>,
}

impl Dataset {
    /// Transitions (rows), as counted by `rewards`.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    /// Whether there are no transitions.
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// Checks that the dimensions are positive, every array has `len()` rows, every value is
    /// finite, `terminals` and `timeouts` are 0 or 1 and actions lie in [-1, 1]; the error
    /// names the first offending array.
    pub fn validate(&self) -> Result<(), RlError> {
        for (field, dim) in [("obs_dim", self.obs_dim), ("act_dim", self.act_dim)] {
            if dim == 0 {
                return Err(RlError::Invalid {
                    field,
                    message: "must be at least 1".to_string(),
                });
            }
        }
        let n = self.len();
        let arrays: [(&'static str, &[f32], usize); 6] = [
            ("observations", &self.observations, self.obs_dim),
            ("actions", &self.actions, self.act_dim),
            ("rewards", &self.rewards, 1),
            ("terminals", &self.terminals, 1),
            ("next_observations", &self.next_observations, self.obs_dim),
            ("timeouts", &self.timeouts, 1),
        ];
        for (field, values, width) in arrays {
            let expected = n.checked_mul(width).ok_or(RlError::Invalid {
                field,
                message: "is too large".to_string(),
            })?;
            if values.len() != expected {
                return Err(RlError::Shape {
                    field,
                    expected,
                    got: values.len(),
                });
            }
            if values.iter().any(|x| !x.is_finite()) {
                return Err(RlError::NonFinite { field });
            }
        }
        for (field, flags) in [("terminals", &self.terminals), ("timeouts", &self.timeouts)] {
            if let Some(bad) = flags.iter().find(|&&x| x != 0.0 && x != 1.0) {
                return Err(RlError::Invalid {
                    field,
                    message: format!("must hold only 0 and 1, found {bad}"),
                });
            }
        }
        if let Some(bad) = self.actions.iter().find(|a| a.abs() > 1.0) {
            return Err(RlError::Invalid {
                field: "actions",
                message: format!("must lie in [-1, 1], found {bad}"),
            });
        }
        Ok(())
    }

    /// An empty dataset of `obs_dim`-dimensional observations and `act_dim`-dimensional
    /// actions, to fill with [`Dataset::push`].
    pub fn empty(obs_dim: usize, act_dim: usize) -> Self {
        Self {
            obs_dim,
            act_dim,
            ..Self::default()
        }
    }

    /// Appends one transition after checking it as [`Dataset::validate`] would (lengths,
    /// finite values, actions in [-1, 1]); the error names the field. Nothing is appended on
    /// error.
    pub fn push(&mut self, t: &Transition) -> Result<(), RlError> {
        for (field, values, dim) in [
            ("observation", &t.observation, self.obs_dim),
            ("action", &t.action, self.act_dim),
            ("next_observation", &t.next_observation, self.obs_dim),
        ] {
            if values.len() != dim {
                return Err(RlError::Shape {
                    field,
                    expected: dim,
                    got: values.len(),
                });
            }
            if values.iter().any(|x| !x.is_finite()) {
                return Err(RlError::NonFinite { field });
            }
        }
        if !t.reward.is_finite() {
            return Err(RlError::NonFinite { field: "reward" });
        }
        if let Some(bad) = t.action.iter().find(|a| a.abs() > 1.0) {
            return Err(RlError::Invalid {
                field: "action",
                message: format!("must lie in [-1, 1], found {bad}"),
            });
        }
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        self.observations.extend_from_slice(&t.observation);
        self.actions.extend_from_slice(&t.action);
        self.rewards.push(t.reward);
        self.terminals.push(flag(t.terminal));
        self.next_observations
            .extend_from_slice(&t.next_observation);
        self.timeouts.push(flag(t.timeout));
        Ok(())
    }

    /// Appends every transition of `other`, which must have the same dimensions.
    pub fn extend(&mut self, other: &Dataset) -> Result<(), RlError> {
        if (other.obs_dim, other.act_dim) != (self.obs_dim, self.act_dim) {
            return Err(RlError::Invalid {
                field: "dataset",
                message: format!(
                    "has observations of {} and actions of {} values, expected {} and {}",
                    other.obs_dim, other.act_dim, self.obs_dim, self.act_dim
                ),
            });
        }
        self.observations.extend_from_slice(&other.observations);
        self.actions.extend_from_slice(&other.actions);
        self.rewards.extend_from_slice(&other.rewards);
        self.terminals.extend_from_slice(&other.terminals);
        self.next_observations
            .extend_from_slice(&other.next_observations);
        self.timeouts.extend_from_slice(&other.timeouts);
        Ok(())
    }

    /// Drops the oldest transitions so that at most `capacity` remain (a FIFO replay buffer).
    pub fn keep_last(&mut self, capacity: usize) {
        let drop = self.len().saturating_sub(capacity);
        if drop == 0 {
            return;
        }
        let (o, a) = (self.obs_dim, self.act_dim);
        self.observations.drain(..drop * o);
        self.actions.drain(..drop * a);
        self.rewards.drain(..drop);
        self.terminals.drain(..drop);
        self.next_observations.drain(..drop * o);
        self.timeouts.drain(..drop);
    }

    /// Episode returns: the rewards summed over runs of rows that end in a terminal or a
    /// timeout, and over a trailing unfinished run.
    pub fn episode_returns(&self) -> Vec<f32> {
        let mut returns = Vec::new();
        let mut total = 0.0;
        let mut open = false;
        for (i, r) in self.rewards.iter().enumerate() {
            total += r;
            open = true;
            let ends = self.terminals.get(i).is_some_and(|&t| t != 0.0)
                || self.timeouts.get(i).is_some_and(|&t| t != 0.0);
            if ends {
                returns.push(total);
                total = 0.0;
                open = false;
            }
        }
        if open {
            returns.push(total);
        }
        returns
    }

    /// Counts of rows and episodes and the episode returns' mean and range (no success rate:
    /// the arrays do not record it; [`Dataset::collect_with_summary`] does).
    pub fn summary(&self) -> DatasetSummary {
        let returns = self.episode_returns();
        let (mean, min, max) = if returns.is_empty() {
            (0.0, 0.0, 0.0)
        } else {
            (
                returns.iter().sum::<f32>() / returns.len() as f32,
                returns.iter().copied().fold(f32::INFINITY, f32::min),
                returns.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            )
        };
        DatasetSummary {
            transitions: self.len(),
            episodes: returns.len(),
            mean_return: mean,
            min_return: min,
            max_return: max,
            success_rate: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two episodes: rows 0-2 end in a timeout, rows 3-4 in a terminal; 2-D observations,
    /// 1-D actions.
    pub(super) fn tiny() -> Dataset {
        let n = 5;
        Dataset {
            obs_dim: 2,
            act_dim: 1,
            observations: (0..2 * n).map(|x| x as f32).collect(),
            actions: vec![0.5, -0.5, 1.0, -1.0, 0.0],
            rewards: vec![1.0, 2.0, 3.0, 4.0, 5.0],
            terminals: vec![0.0, 0.0, 0.0, 0.0, 1.0],
            next_observations: (2..2 * n + 2).map(|x| x as f32).collect(),
            timeouts: vec![0.0, 0.0, 1.0, 0.0, 0.0],
        }
    }

    #[test]
    fn qualities_parse_by_name() {
        for q in Quality::ALL {
            assert_eq!(q.name().parse::<Quality>().unwrap(), q);
            assert_eq!(q.to_string(), q.name());
        }
        let err = "medium".parse::<Quality>().unwrap_err().to_string();
        assert!(
            err.contains("medium") && err.contains("expert, noisy, mixed"),
            "{err}"
        );
    }

    #[test]
    fn validate_names_the_bad_array() {
        let data = tiny();
        data.validate().unwrap();
        assert_eq!(data.len(), 5);
        assert!(!data.is_empty() && Dataset::default().is_empty());

        let field = |data: Dataset| match data.validate() {
            Err(RlError::Shape { field, .. })
            | Err(RlError::NonFinite { field })
            | Err(RlError::Invalid { field, .. }) => field,
            other => panic!("expected an error, got {other:?}"),
        };
        let mut d = tiny();
        d.actions.pop();
        assert_eq!(field(d), "actions");
        let mut d = tiny();
        d.next_observations.push(0.0);
        assert_eq!(field(d), "next_observations");
        let mut d = tiny();
        d.observations[3] = f32::NAN;
        assert_eq!(field(d), "observations");
        let mut d = tiny();
        d.timeouts[0] = 0.5;
        assert_eq!(field(d), "timeouts");
        let mut d = tiny();
        d.actions[0] = 1.5;
        assert_eq!(field(d), "actions");
        let mut d = tiny();
        d.obs_dim = 0;
        assert_eq!(field(d), "obs_dim");
    }

    #[test]
    fn summary_splits_episodes_at_terminals_and_timeouts() {
        let s = tiny().summary();
        assert_eq!(s.transitions, 5);
        assert_eq!(s.episodes, 2);
        assert_eq!((s.min_return, s.max_return, s.mean_return), (6.0, 9.0, 7.5));
        assert_eq!(s.success_rate, None);
        // A trailing unfinished episode counts too.
        let mut d = tiny();
        d.terminals[4] = 0.0;
        assert_eq!(d.episode_returns(), vec![6.0, 9.0]);
        assert_eq!(Dataset::default().summary().episodes, 0);
    }

    #[test]
    fn pushed_transitions_validate_and_the_buffer_keeps_the_newest() {
        let mut d = Dataset::empty(2, 1);
        let t = |i: f32| Transition {
            observation: vec![i, i],
            action: vec![0.5],
            reward: i,
            next_observation: vec![i + 1.0, i + 1.0],
            terminal: i == 2.0,
            timeout: false,
        };
        for i in 0..3 {
            d.push(&t(i as f32)).unwrap();
        }
        d.validate().unwrap();
        assert_eq!(d.terminals, vec![0.0, 0.0, 1.0]);
        d.keep_last(2);
        d.validate().unwrap();
        assert_eq!(d.rewards, vec![1.0, 2.0]);
        assert_eq!(d.observations, vec![1.0, 1.0, 2.0, 2.0]);
        // Refused, naming the field, and nothing appended.
        let wrong = |f: fn(&mut Transition)| {
            let mut x = t(0.0);
            f(&mut x);
            x
        };
        type Spoil = fn(&mut Transition);
        let cases: [(Spoil, &str); 4] = [
            (|x| x.observation.push(0.0), "observation"),
            (|x| x.action[0] = 2.0, "action"),
            (|x| x.next_observation[1] = f32::NAN, "next_observation"),
            (|x| x.reward = f32::INFINITY, "reward"),
        ];
        for (f, field) in cases {
            let err = d.push(&wrong(f)).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        assert_eq!(d.len(), 2);
    }
}
