//! `swarm-nav`: one learning robot crossing a circle of ORCA-driven robots.

use std::f64::consts::TAU;

use flowopt_baselines::{OrcaAgent, orca_velocities};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Disc, Env, Scene, Space, Step, burn_environment, clip_action};
use crate::RlError;

/// Robots, the learner (index 0) included.
const ROBOTS: usize = 6;
/// Robots in the observation, nearest first.
pub(crate) const OBSERVED: usize = 4;
/// Half the side of the square workspace [-5, 5]^2 (m).
pub(crate) const HALF: f64 = 5.0;
/// Robot radius (m); two robots collide when their centres are closer than twice this.
pub(crate) const RADIUS: f64 = 0.3;
/// Extra radius (m) the ORCA robots keep from everyone.
const ORCA_MARGIN: f64 = 0.05;
/// ORCA's time horizon (s).
const TIME_HORIZON: f64 = 2.0;
/// Radius (m) of the circle the robots start on.
const CIRCLE: f64 = 4.0;
/// Start jitter: angle (rad) and radius (m), uniform in ±.
const ANGLE_JITTER: f64 = 0.15;
/// See [`ANGLE_JITTER`].
const RADIUS_JITTER: f64 = 0.3;
/// Largest speed of every robot (m/s); the learner's action is its velocity command / this.
pub(crate) const MAX_SPEED: f64 = 1.0;
/// The learner's largest acceleration (m/s^2).
const MAX_ACCEL: f64 = 2.0;
/// Integration step (s).
pub(crate) const DT: f64 = 0.1;
/// The learner has arrived within this distance (m) of its goal.
const GOAL_RADIUS: f64 = 0.2;
/// Reward of arriving; its negative ends an episode with a collision or an exit.
const BONUS: f32 = 10.0;
/// Steps per episode.
const LIMIT: usize = 300;

/// Observation length: the learner's 6 values, then 4 per observed robot.
const OBS_DIM: usize = 6 + 4 * OBSERVED;

type Vec2 = [f64; 2];

/// Cross a circle swap among ORCA robots without touching anyone.
///
/// Six robots of radius 0.3 m start on a circle of radius 4 m (evenly spaced from a random
/// angle, each jittered by ±0.15 rad and ±0.3 m) in the workspace [-5, 5]^2 m, and each one's
/// goal is the antipodal point: everyone crosses the centre, the hard case of reciprocal
/// avoidance. Robot 0 is the learner; the other five are driven by ORCA
/// ([`flowopt_baselines::orca_velocities`]) straight towards their goals at up to 1 m/s,
/// treating the learner as a neighbour that does not reciprocate (they take all of the
/// avoidance), keeping a 5 cm margin, and sliding along the workspace walls.
///
/// The action `a` in [-1, 1]^2 is the learner's velocity command `a` m/s (its norm capped at
/// 1 m/s), reached with at most 2 m/s^2 of acceleration; `dt = 0.1`. The observation (22
/// values) is the learner's position, velocity and goal minus position, then for the 4 robots
/// nearest to it, nearest first, their position and velocity relative to the learner's.
///
/// The reward is the progress towards the goal (the distance before the step minus after);
/// the episode terminates with -10 when the learner comes closer than 0.6 m to another robot
/// (centre to centre) or its disc leaves the workspace, and with +10, a success, when it comes
/// within 0.2 m of its goal. Episodes are truncated after 300 steps.
#[derive(Debug, Clone)]
pub struct SwarmNav {
    /// Positions (m), the learner first.
    positions: [Vec2; ROBOTS],
    /// Velocities (m/s).
    velocities: [Vec2; ROBOTS],
    /// Goals (m).
    goals: [Vec2; ROBOTS],
    /// Steps taken in this episode.
    steps: usize,
    /// The episode ended.
    done: bool,
    /// Seed of the next [`burn::rl::Environment::reset`].
    burn_seed: u64,
}

burn_environment!(SwarmNav, LIMIT);

impl SwarmNav {
    /// The robots evenly spaced on the circle, at rest; call [`Env::reset`] to start an
    /// episode.
    pub fn new() -> Self {
        let positions: [Vec2; ROBOTS] = std::array::from_fn(|i| {
            let angle = TAU * i as f64 / ROBOTS as f64;
            [CIRCLE * angle.cos(), CIRCLE * angle.sin()]
        });
        Self {
            positions,
            velocities: [[0.0; 2]; ROBOTS],
            goals: positions.map(|[x, y]| [-x, -y]),
            steps: 0,
            done: false,
            burn_seed: 0,
        }
    }

    /// The learner's distance to its goal (m).
    fn goal_distance(&self) -> f64 {
        dist(self.positions[0], self.goals[0])
    }

    /// Whether the learner's disc overlaps another robot's.
    fn collided(&self) -> bool {
        self.positions[1..]
            .iter()
            .any(|&p| dist(p, self.positions[0]) < 2.0 * RADIUS)
    }

    /// Whether the learner's disc left the workspace.
    fn left_workspace(&self) -> bool {
        self.positions[0].iter().any(|x| x.abs() > HALF - RADIUS)
    }

    /// The ORCA robots' velocities for this step (the learner's entry is unused).
    fn orca_step(&self) -> Vec<Vec2> {
        let agents: Vec<OrcaAgent> = (0..ROBOTS)
            .map(|i| {
                let (p, g) = (self.positions[i], self.goals[i]);
                let d = dist(p, g);
                let speed = MAX_SPEED.min(d / DT);
                let preferred = if d > 0.0 {
                    [(g[0] - p[0]) * speed / d, (g[1] - p[1]) * speed / d]
                } else {
                    [0.0, 0.0]
                };
                OrcaAgent {
                    position: p,
                    velocity: self.velocities[i],
                    preferred,
                    radius: RADIUS + ORCA_MARGIN,
                    responsibility: if i == 0 { 0.0 } else { 1.0 },
                }
            })
            .collect();
        orca_velocities(&agents, MAX_SPEED, DT, TIME_HORIZON)
    }
}

impl Default for SwarmNav {
    fn default() -> Self {
        Self::new()
    }
}

/// Euclidean distance.
fn dist(a: Vec2, b: Vec2) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// `v` scaled down to a norm of at most `most`.
fn cap(v: Vec2, most: f64) -> Vec2 {
    let n = v[0].hypot(v[1]);
    if n > most {
        [v[0] * most / n, v[1] * most / n]
    } else {
        v
    }
}

impl Env for SwarmNav {
    fn name(&self) -> &'static str {
        "swarm-nav"
    }

    fn observation_space(&self) -> Space {
        let (p, v) = (HALF as f32, MAX_SPEED as f32);
        let mut low = vec![-p, -p, -v, -v, -2.0 * p, -2.0 * p];
        let mut high = vec![p, p, v, v, 2.0 * p, 2.0 * p];
        for _ in 0..OBSERVED {
            low.extend([-2.0 * p, -2.0 * p, -2.0 * v, -2.0 * v]);
            high.extend([2.0 * p, 2.0 * p, 2.0 * v, 2.0 * v]);
        }
        Space { low, high }
    }

    fn action_space(&self) -> Space {
        Space::unit(2)
    }

    fn episode_limit(&self) -> usize {
        LIMIT
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let base = rng.random_range(0.0..TAU);
        for i in 0..ROBOTS {
            let angle = base
                + TAU * i as f64 / ROBOTS as f64
                + rng.random_range(-ANGLE_JITTER..=ANGLE_JITTER);
            let r = CIRCLE + rng.random_range(-RADIUS_JITTER..=RADIUS_JITTER);
            let p = [r * angle.cos(), r * angle.sin()];
            self.positions[i] = p;
            self.goals[i] = [-p[0], -p[1]];
        }
        self.velocities = [[0.0; 2]; ROBOTS];
        self.steps = 0;
        self.done = false;
        self.observation()
    }

    fn observation(&self) -> Vec<f32> {
        let (p, v, g) = (self.positions[0], self.velocities[0], self.goals[0]);
        let mut obs = Vec::with_capacity(OBS_DIM);
        obs.extend([p[0], p[1], v[0], v[1], g[0] - p[0], g[1] - p[1]]);
        let mut others: Vec<usize> = (1..ROBOTS).collect();
        // Stable sort: ties keep the robot order.
        others.sort_by(|&i, &j| dist(self.positions[i], p).total_cmp(&dist(self.positions[j], p)));
        for &j in others.iter().take(OBSERVED) {
            let (q, w) = (self.positions[j], self.velocities[j]);
            obs.extend([q[0] - p[0], q[1] - p[1], w[0] - v[0], w[1] - v[1]]);
        }
        obs.into_iter().map(|x| x as f32).collect()
    }

    fn scene(&self) -> Option<Scene> {
        let h = HALF as f32;
        Some(Scene {
            bounds: [-h, -h, h, h],
            walls: Vec::new(),
            bodies: self
                .positions
                .iter()
                .map(|&p| Disc::at(p, RADIUS))
                .collect(),
            goal: Disc::at(self.goals[0], GOAL_RADIUS),
        })
    }

    fn step(&mut self, action: &[f32]) -> Result<Step, RlError> {
        if self.done {
            return Err(RlError::EpisodeOver);
        }
        let a = clip_action(action, 2)?;
        let before = self.goal_distance();

        // Everyone decides on the current state, then all move together.
        let mut velocities = self.orca_step();
        let command = cap(
            [f64::from(a[0]) * MAX_SPEED, f64::from(a[1]) * MAX_SPEED],
            MAX_SPEED,
        );
        let v0 = self.velocities[0];
        let change = cap([command[0] - v0[0], command[1] - v0[1]], MAX_ACCEL * DT);
        velocities[0] = [v0[0] + change[0], v0[1] + change[1]];
        for (i, v) in velocities.into_iter().enumerate() {
            let mut p = [
                self.positions[i][0] + v[0] * DT,
                self.positions[i][1] + v[1] * DT,
            ];
            let mut v = v;
            // The ORCA robots slide along the walls; the learner may leave (and fail).
            if i > 0 {
                for axis in 0..2 {
                    let clamped = p[axis].clamp(-HALF + RADIUS, HALF - RADIUS);
                    if clamped != p[axis] {
                        p[axis] = clamped;
                        v[axis] = 0.0;
                    }
                }
            }
            self.positions[i] = p;
            self.velocities[i] = v;
        }
        self.steps += 1;

        let failed = self.collided() || self.left_workspace();
        let arrived = !failed && self.goal_distance() <= GOAL_RADIUS;
        let reward = if failed {
            -BONUS
        } else if arrived {
            BONUS
        } else {
            (before - self.goal_distance()) as f32
        };
        let terminated = failed || arrived;
        let truncated = !terminated && self.steps >= LIMIT;
        self.done = terminated || truncated;
        Ok(Step {
            observation: self.observation(),
            reward,
            terminated,
            truncated,
            success: arrived,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn resets_are_deterministic_circle_swaps() {
        let mut env = SwarmNav::new();
        let mut other = SwarmNav::new();
        for seed in 0..50 {
            let obs = env.reset(seed);
            assert_eq!(obs, other.reset(seed));
            assert_eq!(obs.len(), OBS_DIM);
            assert_eq!(obs.len(), env.observation_space().dim());
            for i in 0..ROBOTS {
                let p = env.positions[i];
                assert_eq!(env.goals[i], [-p[0], -p[1]]);
                assert!(p.iter().all(|x| x.abs() < HALF - RADIUS));
                for j in 0..i {
                    assert!(dist(p, env.positions[j]) > 2.0, "seed {seed}");
                }
            }
            // The observed robots come nearest first.
            let d: Vec<f32> = (0..OBSERVED)
                .map(|k| obs[6 + 4 * k].hypot(obs[7 + 4 * k]))
                .collect();
            assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
        }
        assert_ne!(env.reset(1), env.reset(2));
    }

    #[test]
    fn same_seed_same_episode() {
        let run = |seed| {
            let mut env = SwarmNav::new();
            let mut trace = vec![env.reset(seed)];
            for t in 0..100 {
                let a = [(t as f32 * 0.1).sin(), (t as f32 * 0.07).cos()];
                match env.step(&a) {
                    Ok(step) => trace.push(step.observation),
                    Err(_) => break,
                }
            }
            trace
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn orca_robots_keep_apart_around_a_still_learner() {
        for seed in 0..4 {
            let mut env = SwarmNav::new();
            env.reset(seed);
            for _ in 0..LIMIT {
                let step = env.step(&[0.0, 0.0]).unwrap();
                for i in 1..ROBOTS {
                    for j in (i + 1)..ROBOTS {
                        let d = dist(env.positions[i], env.positions[j]);
                        assert!(d >= 2.0 * RADIUS, "seed {seed}: robots {i}, {j} at {d}");
                    }
                }
                assert!(!step.terminated, "seed {seed}: the still learner was hit");
                if step.truncated {
                    break;
                }
            }
            // Everyone but the robot whose goal the learner stands on got home.
            let home = (1..ROBOTS)
                .filter(|&i| dist(env.positions[i], env.goals[i]) < 0.05)
                .count();
            assert!(home >= ROBOTS - 2, "seed {seed}: {home} home");
        }
    }

    #[test]
    fn a_collision_terminates_with_a_penalty() {
        let mut env = SwarmNav::new();
        env.reset(0);
        // Overlapping already: robot 1 cannot get 0.15 m away in one step.
        env.positions[1] = [env.positions[0][0] + 0.45, env.positions[0][1]];
        env.velocities[1] = [0.0, 0.0];
        let step = env.step(&[0.0, 0.0]).unwrap();
        assert!(step.terminated && !step.success && !step.truncated);
        assert_eq!(step.reward, -BONUS);
        assert!(matches!(env.step(&[0.0, 0.0]), Err(RlError::EpisodeOver)));
    }

    #[test]
    fn leaving_the_workspace_terminates_with_a_penalty() {
        let mut env = SwarmNav::new();
        env.reset(0);
        let out = [env.positions[0][0].signum(), env.positions[0][1].signum()];
        let mut last = None;
        for _ in 0..LIMIT {
            let step = env.step(&[out[0] as f32, out[1] as f32]).unwrap();
            if step.terminated {
                last = Some(step);
                break;
            }
        }
        let step = last.expect("the learner never left");
        assert_eq!(step.reward, -BONUS);
        assert!(!step.success);
        assert!(env.left_workspace());
    }

    #[test]
    fn arriving_pays_the_bonus() {
        let mut env = SwarmNav::new();
        env.reset(0);
        // Everyone else waits at their goal, away from the learner's.
        env.positions = env.goals;
        env.positions[0] = [env.goals[0][0] + 0.25, env.goals[0][1]];
        env.velocities[0] = [-1.0, 0.0];
        let before = env.goal_distance();
        let step = env.step(&[-1.0, 0.0]).unwrap();
        assert!(before > GOAL_RADIUS);
        assert!(step.terminated && step.success);
        assert_eq!(step.reward, BONUS);
    }

    #[test]
    fn progress_is_the_reward_and_acceleration_is_limited() {
        let mut env = SwarmNav::new();
        let obs = env.reset(5);
        let to_goal = [obs[4], obs[5]];
        let n = to_goal[0].hypot(to_goal[1]);
        let a = [to_goal[0] / n, to_goal[1] / n];
        let step = env.step(&a).unwrap();
        // One step from rest reaches 0.2 m/s, travelling 0.02 m towards the goal.
        let speed = step.observation[2].hypot(step.observation[3]);
        assert!((speed - 0.2).abs() < 1e-5, "{speed}");
        assert!((step.reward - 0.02).abs() < 1e-4, "{}", step.reward);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Whatever the learner does, observations stay finite and inside the observation box
        /// until the episode ends, and the reward is progress (at most one step's travel) or
        /// the ±10 of the end.
        #[test]
        fn any_actions_keep_observations_in_the_box(
            seed in 0u64..1_000,
            actions in prop::collection::vec((-1.5f32..1.5, -1.5f32..1.5), 1..150),
        ) {
            let mut env = SwarmNav::new();
            env.reset(seed);
            let space = env.observation_space();
            for (ax, ay) in actions {
                let step = env.step(&[ax, ay]).unwrap();
                for (i, x) in step.observation.iter().enumerate() {
                    prop_assert!(space.low[i] <= *x && *x <= space.high[i], "{} at {}", x, i);
                }
                if step.terminated {
                    prop_assert_eq!(step.reward.abs(), BONUS);
                    break;
                }
                prop_assert!(step.reward.abs() <= (MAX_SPEED * DT) as f32 + 1e-5);
            }
        }
    }
}
