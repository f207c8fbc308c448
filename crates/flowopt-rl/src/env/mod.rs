//! Environments the agents train and are evaluated on, behind one trait ([`Env`]).
//!
//! Every environment takes actions in [-1, 1]^d (the flow convention of DESIGN.md section 8)
//! and says how it scales them (`pendulum`: torque = 2 a, Pendulum-v1's [-2, 2]). Episodes are
//! deterministic given the seed passed to [`Env::reset`].
//!
//! Each environment also implements Burn's [`burn::rl::Environment`] (state and action as
//! `Vec<f32>`), so Burn's RL tooling can drive it; Burn's trait has no seeded reset, so a
//! Burn-driven reset draws the next seed of a per-environment counter.

pub(crate) mod bandit;
pub(crate) mod pendulum;
pub(crate) mod point_maze;
pub(crate) mod swarm_nav;

pub use bandit::Bandit2d;
pub use pendulum::Pendulum;
pub use point_maze::PointMaze;
pub use swarm_nav::SwarmNav;

use serde::{Deserialize, Serialize};

use crate::RlError;

/// A box of `low[i] <= x[i] <= high[i]`; infinite bounds are allowed for observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Space {
    /// Lower bounds.
    pub low: Vec<f32>,
    /// Upper bounds.
    pub high: Vec<f32>,
}

impl Space {
    /// The box [-1, 1]^dim (every environment's action space).
    pub fn unit(dim: usize) -> Self {
        Self {
            low: vec![-1.0; dim],
            high: vec![1.0; dim],
        }
    }

    /// Its dimension.
    pub fn dim(&self) -> usize {
        self.low.len()
    }
}

/// What one step returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step.
    pub observation: Vec<f32>,
    /// The reward of the step.
    pub reward: f32,
    /// The episode ended in a terminal state (goal reached, collision, ...): no bootstrapping.
    pub terminated: bool,
    /// The episode was cut by its step limit.
    pub truncated: bool,
    /// The task is accomplished (goal reached without collision; for environments without a
    /// goal, see each one's docs).
    pub success: bool,
}

/// A reinforcement-learning environment with seeded resets and actions in [-1, 1]^d.
pub trait Env: Send {
    /// Its registry name (`pendulum`, `point-maze`, ...).
    fn name(&self) -> &'static str;
    /// The observation box.
    fn observation_space(&self) -> Space;
    /// The action box: always [-1, 1]^d.
    fn action_space(&self) -> Space;
    /// Steps after which an episode is truncated.
    fn episode_limit(&self) -> usize;
    /// Starts a new episode (deterministic per seed) and returns its first observation.
    fn reset(&mut self, seed: u64) -> Vec<f32>;
    /// The current observation.
    fn observation(&self) -> Vec<f32>;
    /// Applies `action` (clipped into the action box; its length must be the action
    /// dimension). Stepping past the end of an episode is an error.
    fn step(&mut self, action: &[f32]) -> Result<Step, RlError>;
    /// What a viewer draws of the current state (plane environments; `None` for the others).
    fn scene(&self) -> Option<Scene> {
        None
    }
}

/// A picture of a plane environment's state, in metres: what the agent visualizer draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// The workspace [x_min, y_min, x_max, y_max].
    pub bounds: [f32; 4],
    /// Wall boxes [x_min, y_min, x_max, y_max].
    pub walls: Vec<[f32; 4]>,
    /// Round bodies, the learner first.
    pub bodies: Vec<Disc>,
    /// The learner's goal region.
    pub goal: Disc,
}

/// A disc.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Disc {
    /// Centre x (m).
    pub x: f32,
    /// Centre y (m).
    pub y: f32,
    /// Radius (m).
    pub r: f32,
}

impl Disc {
    /// The disc of radius `r` around `p`.
    pub fn at(p: [f64; 2], r: f64) -> Self {
        Self {
            x: p[0] as f32,
            y: p[1] as f32,
            r: r as f32,
        }
    }
}

/// The environments, by registry name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvKind {
    /// [`Pendulum`].
    Pendulum,
    /// [`PointMaze`].
    PointMaze,
    /// [`SwarmNav`].
    SwarmNav,
    /// [`Bandit2d`].
    Bandit2d,
}

impl EnvKind {
    /// Every environment.
    pub const ALL: [EnvKind; 4] = [
        EnvKind::Pendulum,
        EnvKind::PointMaze,
        EnvKind::SwarmNav,
        EnvKind::Bandit2d,
    ];

    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            EnvKind::Pendulum => "pendulum",
            EnvKind::PointMaze => "point-maze",
            EnvKind::SwarmNav => "swarm-nav",
            EnvKind::Bandit2d => "bandit2d",
        }
    }

    /// One line on what it is.
    pub fn description(self) -> &'static str {
        match self {
            EnvKind::Pendulum => "Pendulum-v1: swing a pendulum up and hold it (torque = 2 a)",
            EnvKind::PointMaze => {
                "a point mass in a 5 x 5 m maze, goal-conditioned, reward 1 on reaching the goal"
            }
            EnvKind::SwarmNav => {
                "one learner robot among 5 ORCA robots: reach the goal without a collision"
            }
            EnvKind::Bandit2d => "one step, a 2-D action, four reward modes of different heights",
        }
    }

    /// A fresh environment of this kind.
    pub fn make(self) -> Box<dyn Env> {
        match self {
            EnvKind::Pendulum => Box::new(Pendulum::new()),
            EnvKind::PointMaze => Box::new(PointMaze::new()),
            EnvKind::SwarmNav => Box::new(SwarmNav::new()),
            EnvKind::Bandit2d => Box::new(Bandit2d::new()),
        }
    }
}

impl std::str::FromStr for EnvKind {
    type Err = RlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| RlError::Unknown {
                what: "environment",
                name: s.to_string(),
                known: EnvKind::ALL.iter().map(|k| k.name()).collect(),
            })
    }
}

/// Checks an action's length and clips it into [-1, 1]; NaN is refused.
pub(crate) fn clip_action(action: &[f32], dim: usize) -> Result<Vec<f32>, RlError> {
    if action.len() != dim {
        return Err(RlError::Shape {
            field: "action",
            expected: dim,
            got: action.len(),
        });
    }
    if action.iter().any(|a| !a.is_finite()) {
        return Err(RlError::NonFinite { field: "action" });
    }
    Ok(action.iter().map(|a| a.clamp(-1.0, 1.0)).collect())
}

/// Implements [`burn::rl::Environment`] for an [`Env`] type with a `burn_seed: u64` field.
macro_rules! burn_environment {
    ($ty:ty, $limit:expr) => {
        impl burn::rl::Environment for $ty {
            type State = Vec<f32>;
            type Action = Vec<f32>;
            const MAX_STEPS: usize = $limit;

            fn state(&self) -> Vec<f32> {
                $crate::env::Env::observation(self)
            }

            fn step(&mut self, action: Vec<f32>) -> burn::rl::StepResult<Vec<f32>> {
                match $crate::env::Env::step(self, &action) {
                    Ok(s) => burn::rl::StepResult {
                        next_state: s.observation,
                        reward: f64::from(s.reward),
                        done: s.terminated,
                        truncated: s.truncated,
                    },
                    // Burn's trait has no error path: a bad action ends the episode.
                    Err(_) => burn::rl::StepResult {
                        next_state: $crate::env::Env::observation(self),
                        reward: 0.0,
                        done: true,
                        truncated: false,
                    },
                }
            }

            fn reset(&mut self) {
                self.burn_seed = self.burn_seed.wrapping_add(1);
                $crate::env::Env::reset(self, self.burn_seed);
            }
        }
    };
}
pub(crate) use burn_environment;
