//! The scripted controllers, one per environment: deterministic functions of the observation
//! (whose length and finiteness the caller checked), returning actions in [-1, 1]^d.

use crate::env::{Bandit2d, pendulum, point_maze, swarm_nav};

/// `pendulum`: energy-shaping swing-up, then a PD (pole placement) catch near the top.
///
/// With `k = 3 g / (2 l)` and `b = 3 / (m l^2)` the dynamics are `thddot = k sin th + b u`, and
/// `E = thdot^2 / 2 - k (1 - cos th)` (zero upright at rest) changes as `dE/dt = b u thdot`:
/// pushing along `thdot` by `-E` pumps energy in until the pendulum swings up. Within 0.5 rad
/// of the top, `u = -(kp th + kd thdot)` places the linearised poles at -5, -5.
/// Averages about -145 per episode with every episode ending upright.
pub(super) fn pendulum(obs: &[f32]) -> Vec<f32> {
    /// The catch region: |angle| below this (rad).
    const CATCH: f64 = 0.5;
    /// Energy-pumping gain.
    const PUMP: f64 = 1.0;
    let k = 3.0 * pendulum::G / (2.0 * pendulum::L);
    let b = 3.0 / (pendulum::M * pendulum::L * pendulum::L);
    // Poles at -5, -5: s^2 + b kd s + (b kp - k) = (s + 5)^2.
    let (kp, kd) = ((25.0 + k) / b, 10.0 / b);

    let (cos, sin, w) = (f64::from(obs[0]), f64::from(obs[1]), f64::from(obs[2]));
    let th = sin.atan2(cos);
    let u = if cos > CATCH.cos() {
        -(kp * th + kd * w)
    } else {
        let energy = 0.5 * w * w - k * (1.0 - cos);
        let direction = if w >= 0.0 { 1.0 } else { -1.0 };
        -PUMP * energy * direction
    };
    vec![(u / pendulum::MAX_TORQUE).clamp(-1.0, 1.0) as f32]
}

/// `point-maze`: breadth-first search over the maze cells from the point's cell to the goal's,
/// then a velocity controller towards the next cell's centre at full speed (or towards the
/// goal, braking so it stops there, once in the goal's cell).
pub(super) fn point_maze(obs: &[f32]) -> Vec<f32> {
    /// Braking deceleration planned for (m/s^2), below the available 5.
    const BRAKE: f64 = 2.5;
    let p = [f64::from(obs[0]), f64::from(obs[1])];
    let v = [f64::from(obs[2]), f64::from(obs[3])];
    let goal = [f64::from(obs[4]), f64::from(obs[5])];
    let next = point_maze::cell_of(p)
        .zip(point_maze::cell_of(goal))
        .and_then(|(from, to)| point_maze::next_cell(from, to));
    let (target, speed) = match next {
        Some(cell) => (point_maze::centre(cell), point_maze::MAX_SPEED),
        None => {
            let d = (goal[0] - p[0]).hypot(goal[1] - p[1]);
            (goal, point_maze::MAX_SPEED.min((2.0 * BRAKE * d).sqrt()))
        }
    };
    let to = [target[0] - p[0], target[1] - p[1]];
    let d = to[0].hypot(to[1]);
    let wanted = if d > 1e-9 {
        [to[0] * speed / d, to[1] * speed / d]
    } else {
        [0.0, 0.0]
    };
    // The action that reaches the wanted velocity in one step, clipped.
    let gain = 1.0 / (point_maze::ACCEL * point_maze::DT);
    (0..2)
        .map(|i| ((wanted[i] - v[i]) * gain).clamp(-1.0, 1.0) as f32)
        .collect()
}

/// `swarm-nav`: sampling-based velocity obstacles. Among candidate velocities (rest, and 16
/// directions at a third, two thirds and all of the top speed) pick the one that minimises the
/// squared distance to "full speed at the goal" plus a penalty `1 / time-to-collision` with
/// every observed robot (assumed to keep its velocity, with a 0.15 m margin, over 3 s) and a
/// penalty for heading out of the workspace.
pub(super) fn swarm_nav(obs: &[f32]) -> Vec<f32> {
    /// Directions sampled.
    const DIRECTIONS: usize = 16;
    /// Speeds sampled, as fractions of the top speed.
    const SPEEDS: [f64; 3] = [1.0 / 3.0, 2.0 / 3.0, 1.0];
    /// Extra clearance (m) kept from other robots.
    const MARGIN: f64 = 0.15;
    /// Collisions further ahead than this (s) are ignored.
    const HORIZON: f64 = 3.0;
    /// Weight of the time-to-collision penalty (m^2/s).
    const WEIGHT: f64 = 1.0;
    /// Look-ahead (s) for the workspace check.
    const WALL_LOOKAHEAD: f64 = 0.5;

    let vmax = swarm_nav::MAX_SPEED;
    let f = |i: usize| f64::from(obs[i]);
    let (p, v, to_goal) = ([f(0), f(1)], [f(2), f(3)], [f(4), f(5)]);
    let d = to_goal[0].hypot(to_goal[1]);
    let preferred = if d > 1e-9 {
        [to_goal[0] * vmax / d, to_goal[1] * vmax / d]
    } else {
        [0.0, 0.0]
    };
    // Other robots: position relative to the learner, absolute velocity.
    let others: Vec<([f64; 2], [f64; 2])> = (0..swarm_nav::OBSERVED)
        .map(|k| {
            let o = 6 + 4 * k;
            ([f(o), f(o + 1)], [v[0] + f(o + 2), v[1] + f(o + 3)])
        })
        .collect();
    let reach = 2.0 * swarm_nav::RADIUS + MARGIN;
    let limit = swarm_nav::HALF - swarm_nav::RADIUS - 0.05;

    let cost = |u: [f64; 2]| {
        let mut c = (u[0] - preferred[0]).powi(2) + (u[1] - preferred[1]).powi(2);
        for &(r, w) in &others {
            let ttc = time_to_collision(r, [w[0] - u[0], w[1] - u[1]], reach);
            if ttc < HORIZON {
                c += WEIGHT / ttc.max(1e-3);
            }
        }
        let ahead = [p[0] + u[0] * WALL_LOOKAHEAD, p[1] + u[1] * WALL_LOOKAHEAD];
        if ahead.iter().any(|x| x.abs() > limit) {
            c += 100.0;
        }
        c
    };
    let candidates = std::iter::once([0.0, 0.0])
        .chain(std::iter::once(preferred))
        .chain(SPEEDS.iter().flat_map(|&s| {
            (0..DIRECTIONS).map(move |k| {
                let angle = std::f64::consts::TAU * k as f64 / DIRECTIONS as f64;
                [s * vmax * angle.cos(), s * vmax * angle.sin()]
            })
        }));
    let best = candidates
        .map(|u| (cost(u), u))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or([0.0, 0.0], |(_, u)| u);
    best.iter()
        .map(|x| (x / vmax).clamp(-1.0, 1.0) as f32)
        .collect()
}

/// First time `t >= 0` at which `|r + w t| < reach` (`r` relative position, `w` relative
/// velocity); 0 when already closer and not separating, infinity when never.
fn time_to_collision(r: [f64; 2], w: [f64; 2], reach: f64) -> f64 {
    let rr = r[0] * r[0] + r[1] * r[1];
    let rw = r[0] * w[0] + r[1] * w[1];
    let ww = w[0] * w[0] + w[1] * w[1];
    let c = rr - reach * reach;
    if c < 0.0 {
        return if rw < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if rw >= 0.0 || ww <= 0.0 {
        return f64::INFINITY;
    }
    let disc = rw * rw - ww * c;
    if disc < 0.0 {
        f64::INFINITY
    } else {
        (-rw - disc.sqrt()) / ww
    }
}

/// `bandit2d`, deterministic: the highest mode.
pub(super) fn bandit_best() -> Vec<f32> {
    Bandit2d::MODES[0].0.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_to_collision_cases() {
        // Head-on at 1 m/s from 2 m with a 0.6 m reach: contact after 1.4 s.
        let t = time_to_collision([2.0, 0.0], [-1.0, 0.0], 0.6);
        assert!((t - 1.4).abs() < 1e-12);
        assert_eq!(
            time_to_collision([2.0, 0.0], [1.0, 0.0], 0.6),
            f64::INFINITY
        );
        assert_eq!(
            time_to_collision([2.0, 1.0], [-1.0, 0.0], 0.6),
            f64::INFINITY
        );
        assert_eq!(time_to_collision([0.3, 0.0], [-1.0, 0.0], 0.6), 0.0);
        assert_eq!(
            time_to_collision([0.3, 0.0], [1.0, 0.0], 0.6),
            f64::INFINITY
        );
    }

    #[test]
    fn pendulum_holds_the_top_and_pushes_at_rest_below() {
        // Upright at rest: no torque.
        assert_eq!(pendulum(&[1.0, 0.0, 0.0]), vec![0.0]);
        // Leaning right (th > 0): push back.
        assert!(pendulum(&[0.995, 0.0998, 0.0])[0] < 0.0);
        // Hanging at rest: full push to start swinging.
        assert_eq!(pendulum(&[-1.0, 0.0, 0.0]), vec![1.0]);
    }

    #[test]
    fn point_maze_heads_for_the_next_cell() {
        // From the bottom-left cell towards the top-left one, the way is to the right.
        let a = point_maze(&[0.5, 0.5, 0.0, 0.0, 0.5, 4.5]);
        assert!(a[0] > 0.5 && a[1].abs() < 1e-6, "{a:?}");
        // In the goal's cell at the goal: stand still.
        let a = point_maze(&[2.5, 2.5, 0.0, 0.0, 2.5, 2.5]);
        assert_eq!(a, vec![0.0, 0.0]);
    }

    #[test]
    fn swarm_nav_goes_straight_when_clear_and_swerves_when_not() {
        let far = [9.0f32, 0.0, 0.0, 0.0];
        let mut obs = vec![-4.0, 0.0, 1.0, 0.0, 8.0, 0.0];
        for _ in 0..4 {
            obs.extend(far);
        }
        // Far robots are behind the horizon: straight on.
        let mut far_obs = obs.clone();
        for k in 0..4 {
            far_obs[6 + 4 * k] = -3.0;
            far_obs[6 + 4 * k + 1] = 3.0;
        }
        assert_eq!(swarm_nav(&far_obs), vec![1.0, 0.0]);
        // A robot straight ahead coming at us: swerve.
        obs[6..10].copy_from_slice(&[1.5, 0.0, -2.0, 0.0]);
        let a = swarm_nav(&obs);
        assert!(a[1].abs() > 0.1 || a[0] < 0.5, "{a:?}");
    }
}
