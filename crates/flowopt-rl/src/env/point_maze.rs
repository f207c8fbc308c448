//! `point-maze`: a goal-conditioned point mass in a fixed 5 x 5 m maze, sparse reward.

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Disc, Env, Scene, Space, Step, burn_environment, clip_action};
use crate::RlError;

/// Cells per side; cells are 1 m squares, so the maze spans [0, 5]^2 m.
const SIZE: usize = 5;
/// Acceleration (m/s^2) of the action 1.0 on an axis.
pub(crate) const ACCEL: f64 = 5.0;
/// Integration step (s).
pub(crate) const DT: f64 = 0.1;
/// Largest speed (m/s).
pub(crate) const MAX_SPEED: f64 = 1.5;
/// The goal is reached within this distance (m).
const GOAL_RADIUS: f64 = 0.3;
/// Starts and goals lie within this distance (m, per axis) of their cell's centre.
const JITTER: f64 = 0.2;
/// Fewest cell moves between the start cell and the goal cell.
const MIN_PATH: usize = 2;
/// How far (m) from a wall a point that ran into it stops.
const WALL_GAP: f64 = 1e-3;
/// Steps per episode.
const LIMIT: usize = 300;

/// A cell as (column, row); row 0 is the bottom row, so cell (c, r) spans [c, c + 1] x
/// [r, r + 1] m.
pub(crate) type Cell = (usize, usize);

/// Reach a goal in a maze by accelerating a point mass.
///
/// The maze is [`PointMaze::LAYOUT`]: 5 x 5 cells of 1 m, `#` a wall, `.` free; the area's
/// border is a wall too. The state is the position `p` and velocity `v`; the action `a` in
/// [-1, 1]^2 is an acceleration of `5 a` m/s^2: `v += 5 a dt` (speed capped at 1.5 m/s), then
/// `p += v dt` with `dt = 0.1`, moving along x first and then along y, and a move that would
/// enter a wall cell stops that velocity component just short of the wall, so the point never
/// lies in a wall cell.
///
/// The observation is `[px, py, vx, vy, gx, gy]` with the goal `g`. Each episode starts at
/// rest near the centre of a random free cell (±0.2 m per axis) with the goal near another's,
/// at least two cell moves away. The reward is sparse: 1 (and the episode terminates, a
/// success) once `|p - g| < 0.3` m, else 0. Episodes are truncated after 300 steps.
#[derive(Debug, Clone)]
pub struct PointMaze {
    /// Position (m).
    position: [f64; 2],
    /// Velocity (m/s).
    velocity: [f64; 2],
    /// Goal (m).
    goal: [f64; 2],
    /// Steps taken in this episode.
    steps: usize,
    /// The episode ended.
    done: bool,
    /// Seed of the next [`burn::rl::Environment::reset`].
    burn_seed: u64,
}

burn_environment!(PointMaze, LIMIT);

impl PointMaze {
    /// The maze, top row (y in [4, 5] m) first: `#` a wall cell, `.` a free one. Every free cell
    /// can be reached from every other.
    pub const LAYOUT: [&'static str; SIZE] = [
        ".....", //
        ".###.", //
        "...#.", //
        "##.#.", //
        ".....", //
    ];

    /// At rest in the bottom-left cell with the goal in the top-left one; call [`Env::reset`]
    /// to start an episode.
    pub fn new() -> Self {
        Self {
            position: centre((0, 0)),
            velocity: [0.0, 0.0],
            goal: centre((0, 4)),
            steps: 0,
            done: false,
            burn_seed: 0,
        }
    }
}

impl Default for PointMaze {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether cell (`col`, `row`) exists and is free.
pub(crate) fn is_free(col: i64, row: i64) -> bool {
    let (Ok(c), Ok(r)) = (usize::try_from(col), usize::try_from(row)) else {
        return false;
    };
    c < SIZE && r < SIZE && PointMaze::LAYOUT[SIZE - 1 - r].as_bytes()[c] == b'.'
}

/// The cell containing `p`, wall or free; `None` outside the maze (or for NaN).
pub(crate) fn cell_of(p: [f64; 2]) -> Option<Cell> {
    let inside = |x: f64| (0.0..SIZE as f64).contains(&x);
    (inside(p[0]) && inside(p[1])).then(|| (p[0].floor() as usize, p[1].floor() as usize))
}

/// Whether `p` lies in a free cell.
pub(crate) fn in_free_cell(p: [f64; 2]) -> bool {
    cell_of(p).is_some_and(|(c, r)| is_free(c as i64, r as i64))
}

/// The centre of a cell (m).
pub(crate) fn centre(cell: Cell) -> [f64; 2] {
    [cell.0 as f64 + 0.5, cell.1 as f64 + 0.5]
}

/// The free cells, row by row from the bottom.
fn free_cells() -> Vec<Cell> {
    (0..SIZE)
        .flat_map(|r| (0..SIZE).map(move |c| (c, r)))
        .filter(|&(c, r)| is_free(c as i64, r as i64))
        .collect()
}

/// The free 4-neighbours of a cell, in a fixed order (right, up, left, down).
fn neighbours(cell: Cell) -> impl Iterator<Item = Cell> {
    let (c, r) = (cell.0 as i64, cell.1 as i64);
    [(1, 0), (0, 1), (-1, 0), (0, -1)]
        .into_iter()
        .map(move |(dc, dr)| (c + dc, r + dr))
        .filter(|&(c, r)| is_free(c, r))
        .map(|(c, r)| (c as usize, r as usize))
}

/// Cell moves from `from` to every cell (breadth-first search); `None` for walls and cells
/// that cannot be reached.
pub(crate) fn path_lengths(from: Cell) -> [[Option<usize>; SIZE]; SIZE] {
    let mut dist = [[None; SIZE]; SIZE];
    if !is_free(from.0 as i64, from.1 as i64) {
        return dist;
    }
    dist[from.1][from.0] = Some(0);
    let mut queue = VecDeque::from([from]);
    while let Some(cell) = queue.pop_front() {
        let d = dist[cell.1][cell.0].unwrap_or(0);
        for n in neighbours(cell) {
            if dist[n.1][n.0].is_none() {
                dist[n.1][n.0] = Some(d + 1);
                queue.push_back(n);
            }
        }
    }
    dist
}

/// The first cell after `from` on a shortest path to `to` (`to` itself when they are
/// neighbours); `None` when `from == to` or there is no path.
pub(crate) fn next_cell(from: Cell, to: Cell) -> Option<Cell> {
    let to_goal = path_lengths(to);
    let d = to_goal.get(from.1)?.get(from.0).copied().flatten()?;
    neighbours(from).find(|n| to_goal[n.1][n.0].is_some_and(|dn| dn + 1 == d))
}

impl PointMaze {
    /// Moves the point along one axis by `v[axis] dt`; a move into a wall cell or out of the
    /// maze stops just short of it and zeroes that velocity component.
    fn move_axis(&mut self, axis: usize) {
        let v = self.velocity[axis];
        let mut next = self.position;
        next[axis] += v * DT;
        if in_free_cell(next) {
            self.position = next;
            return;
        }
        // Moves are shorter than a cell, so the blocked cell is the neighbour of the current one.
        let cell = self.position[axis].floor();
        self.position[axis] = if v > 0.0 {
            cell + 1.0 - WALL_GAP
        } else {
            cell + WALL_GAP
        };
        self.velocity[axis] = 0.0;
    }
}

impl Env for PointMaze {
    fn name(&self) -> &'static str {
        "point-maze"
    }

    fn observation_space(&self) -> Space {
        let (s, v) = (SIZE as f32, MAX_SPEED as f32);
        Space {
            low: vec![0.0, 0.0, -v, -v, 0.0, 0.0],
            high: vec![s, s, v, v, s, s],
        }
    }

    fn action_space(&self) -> Space {
        Space::unit(2)
    }

    fn episode_limit(&self) -> usize {
        LIMIT
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let free = free_cells();
        let start = free[rng.random_range(0..free.len())];
        let lengths = path_lengths(start);
        let far: Vec<Cell> = free
            .iter()
            .copied()
            .filter(|&(c, r)| lengths[r][c].is_some_and(|d| d >= MIN_PATH))
            .collect();
        let goal = far[rng.random_range(0..far.len())];
        let mut jittered = |cell: Cell| {
            let [x, y] = centre(cell);
            [
                x + rng.random_range(-JITTER..=JITTER),
                y + rng.random_range(-JITTER..=JITTER),
            ]
        };
        self.position = jittered(start);
        self.goal = jittered(goal);
        self.velocity = [0.0, 0.0];
        self.steps = 0;
        self.done = false;
        self.observation()
    }

    fn observation(&self) -> Vec<f32> {
        [self.position, self.velocity, self.goal]
            .iter()
            .flatten()
            .map(|&x| x as f32)
            .collect()
    }

    fn scene(&self) -> Option<Scene> {
        let n = SIZE as f32;
        let walls = (0..SIZE)
            .flat_map(|r| (0..SIZE).map(move |c| (c, r)))
            .filter(|&(c, r)| !is_free(c as i64, r as i64))
            .map(|(c, r)| [c as f32, r as f32, c as f32 + 1.0, r as f32 + 1.0])
            .collect();
        Some(Scene {
            bounds: [0.0, 0.0, n, n],
            walls,
            // A point mass, drawn as a small disc.
            bodies: vec![Disc::at(self.position, 0.1)],
            goal: Disc::at(self.goal, GOAL_RADIUS),
        })
    }

    fn step(&mut self, action: &[f32]) -> Result<Step, RlError> {
        if self.done {
            return Err(RlError::EpisodeOver);
        }
        let a = clip_action(action, 2)?;
        let mut v = [
            self.velocity[0] + ACCEL * f64::from(a[0]) * DT,
            self.velocity[1] + ACCEL * f64::from(a[1]) * DT,
        ];
        let speed = v[0].hypot(v[1]);
        if speed > MAX_SPEED {
            v = [v[0] * MAX_SPEED / speed, v[1] * MAX_SPEED / speed];
        }
        self.velocity = v;
        self.move_axis(0);
        self.move_axis(1);
        self.steps += 1;

        let to_goal = [
            self.goal[0] - self.position[0],
            self.goal[1] - self.position[1],
        ];
        let reached = to_goal[0].hypot(to_goal[1]) < GOAL_RADIUS;
        let truncated = !reached && self.steps >= LIMIT;
        self.done = reached || truncated;
        Ok(Step {
            observation: self.observation(),
            reward: if reached { 1.0 } else { 0.0 },
            terminated: reached,
            truncated,
            success: reached,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn position(obs: &[f32]) -> [f64; 2] {
        [f64::from(obs[0]), f64::from(obs[1])]
    }

    #[test]
    fn every_free_cell_is_reachable() {
        let free = free_cells();
        assert_eq!(free.len(), 18);
        let lengths = path_lengths(free[0]);
        for &(c, r) in &free {
            assert!(lengths[r][c].is_some(), "cell ({c}, {r}) is cut off");
        }
        assert_eq!(next_cell((0, 0), (0, 0)), None);
        // From the bottom-left corner to the cell above the wall row: right, up the middle.
        assert_eq!(next_cell((0, 0), (1, 2)), Some((1, 0)));
        assert_eq!(next_cell((2, 0), (1, 2)), Some((2, 1)));
    }

    #[test]
    fn resets_are_deterministic_with_far_free_goals() {
        let mut env = PointMaze::new();
        let mut other = PointMaze::new();
        for seed in 0..200 {
            let obs = env.reset(seed);
            assert_eq!(obs, other.reset(seed));
            let (p, g) = (position(&obs), [f64::from(obs[4]), f64::from(obs[5])]);
            assert!(in_free_cell(p) && in_free_cell(g), "seed {seed}: {obs:?}");
            let (Some(start), Some(goal)) = (cell_of(p), cell_of(g)) else {
                panic!("seed {seed}: outside the maze");
            };
            let moves = path_lengths(start)[goal.1][goal.0];
            assert!(moves.is_some_and(|m| m >= MIN_PATH), "seed {seed}");
            assert_eq!(&obs[2..4], &[0.0, 0.0]);
        }
    }

    #[test]
    fn same_seed_same_episode() {
        let run = |seed| {
            let mut env = PointMaze::new();
            let mut rng = ChaCha8Rng::seed_from_u64(99);
            let mut trace = vec![env.reset(seed)];
            for _ in 0..50 {
                let a = [rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)];
                trace.push(env.step(&a).unwrap().observation);
            }
            trace
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn driving_into_a_wall_stops_at_it() {
        let mut env = PointMaze::new();
        env.reset(0);
        // Cell (1, 0) is free, (1, 1) above it a wall.
        env.position = [1.5, 0.5];
        env.goal = [4.5, 4.5];
        for _ in 0..30 {
            env.step(&[0.0, 1.0]).unwrap();
        }
        assert!((env.position[1] - (1.0 - WALL_GAP)).abs() < 1e-12);
        assert_eq!(env.velocity[1], 0.0);
        assert_eq!(env.position[0], 1.5);
        // The border is a wall too.
        for _ in 0..30 {
            env.step(&[-1.0, 0.0]).unwrap();
        }
        assert!((env.position[0] - WALL_GAP).abs() < 1e-12);
    }

    #[test]
    fn reaching_the_goal_pays_one_and_terminates() {
        let mut env = PointMaze::new();
        env.reset(1);
        env.position = [0.5, 4.5];
        env.goal = [1.2, 4.5];
        let mut rewards = Vec::new();
        loop {
            let step = env.step(&[1.0, 0.0]).unwrap();
            rewards.push(step.reward);
            if step.terminated {
                assert!(step.success && !step.truncated);
                break;
            }
            assert_eq!(step.reward, 0.0);
            assert!(rewards.len() < 20, "never reached the goal");
        }
        assert_eq!(rewards.last(), Some(&1.0));
        assert!(matches!(env.step(&[0.0, 0.0]), Err(RlError::EpisodeOver)));
    }

    #[test]
    fn idle_episodes_truncate_at_the_limit() {
        let mut env = PointMaze::new();
        env.reset(2);
        for t in 0..LIMIT {
            let step = env.step(&[0.0, 0.0]).unwrap();
            assert_eq!(step.truncated, t + 1 == LIMIT);
            assert!(!step.terminated);
        }
        assert!(matches!(env.step(&[0.0, 0.0]), Err(RlError::EpisodeOver)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the actions, the point stays in free cells, inside the observation box.
        #[test]
        fn no_action_sequence_enters_a_wall(
            seed in 0u64..1_000,
            actions in prop::collection::vec((-1.5f32..1.5, -1.5f32..1.5), 1..300),
        ) {
            let mut env = PointMaze::new();
            env.reset(seed);
            let space = env.observation_space();
            for (ax, ay) in actions {
                let Ok(step) = env.step(&[ax, ay]) else { break };
                prop_assert!(in_free_cell(env.position), "{:?}", env.position);
                for (i, x) in step.observation.iter().enumerate() {
                    prop_assert!(space.low[i] <= *x && *x <= space.high[i]);
                }
                if step.terminated || step.truncated {
                    break;
                }
            }
        }
    }
}
