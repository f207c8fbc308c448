//! One ORCA step for a group of agents, without the planner's simulation around it: for
//! simulators that move the agents themselves (the `swarm-nav` RL environment drives its robots
//! with it).

use std::borrow::Cow;

use dodgy_2d::{Agent, AvoidanceOptions};
use flowopt_core::{Vec2, norm};

/// One agent of an [`orca_velocities`] query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrcaAgent {
    /// Position (m).
    pub position: Vec2,
    /// Current velocity (m/s).
    pub velocity: Vec2,
    /// The velocity the agent would like (m/s), e.g. towards its goal.
    pub preferred: Vec2,
    /// Radius (m), including any safety margin the agent should keep.
    pub radius: f64,
    /// Share of the avoidance the agent takes on: between two agents `i` and `j`, `i` does
    /// `r_i / (r_i + r_j)` of it. `1.0` for reciprocating agents; `0.0` for an agent that does
    /// not avoid (a human, a learning robot): the others then take all of it.
    pub responsibility: f64,
}

/// ORCA's collision-avoiding velocity for every agent (`dodgy_2d`, no static obstacles): the
/// velocity closest to the agent's preferred one that keeps it out of every other agent's
/// disc for `time_horizon` seconds, assuming they share the avoidance by their
/// [`OrcaAgent::responsibility`]. Speeds are at most `max_speed`; `dt` is the step the
/// velocities will be applied for (ORCA uses it to resolve agents that already overlap).
///
/// Agents of zero (or negative) responsibility do not avoid: they get their preferred velocity,
/// capped at `max_speed`. Velocities are in `f32` inside `dodgy_2d`, so keep coordinates
/// moderate (within kilometres); an agent whose velocity comes out non-finite (non-positive
/// `dt` or `time_horizon`, non-finite inputs) gets zero velocity.
pub fn orca_velocities(
    agents: &[OrcaAgent],
    max_speed: f64,
    dt: f64,
    time_horizon: f64,
) -> Vec<Vec2> {
    let glam = |p: Vec2| dodgy_2d::Vec2::new(p[0] as f32, p[1] as f32);
    let dodgy: Vec<Agent> = agents
        .iter()
        .map(|a| Agent {
            position: glam(a.position),
            velocity: glam(a.velocity),
            radius: a.radius as f32,
            avoidance_responsibility: a.responsibility as f32,
        })
        .collect();
    let options = AvoidanceOptions {
        obstacle_margin: 0.0,
        time_horizon: time_horizon as f32,
        obstacle_time_horizon: time_horizon as f32,
    };
    let mut neighbours: Vec<Cow<'_, Agent>> = Vec::with_capacity(agents.len());
    dodgy
        .iter()
        .enumerate()
        .map(|(i, agent)| {
            let responsibility = agents[i].responsibility;
            if responsibility.is_nan() || responsibility <= 0.0 {
                return cap(agents[i].preferred, max_speed);
            }
            neighbours.clear();
            neighbours.extend(
                dodgy
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, other)| Cow::Borrowed(other)),
            );
            let v = agent.compute_avoiding_velocity(
                &neighbours,
                &[],
                glam(agents[i].preferred),
                max_speed as f32,
                dt as f32,
                &options,
            );
            // f32 rounding may leave the speed a hair above the limit.
            cap([f64::from(v.x), f64::from(v.y)], max_speed)
        })
        .collect()
}

/// `v` scaled down to at most `max_speed`; zero when not finite.
fn cap(v: Vec2, max_speed: f64) -> Vec2 {
    let speed = norm(v);
    if !speed.is_finite() {
        [0.0, 0.0]
    } else if speed > max_speed {
        [v[0] * max_speed / speed, v[1] * max_speed / speed]
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::dist;

    fn agent(position: Vec2, preferred: Vec2, responsibility: f64) -> OrcaAgent {
        OrcaAgent {
            position,
            velocity: [0.0, 0.0],
            preferred,
            radius: 0.3,
            responsibility,
        }
    }

    /// Moves the agents with their ORCA velocities for `steps` steps of `dt` and returns the
    /// smallest distance between the two agents seen.
    fn closest_approach(mut agents: Vec<OrcaAgent>, steps: usize, dt: f64) -> f64 {
        let mut closest = f64::INFINITY;
        for _ in 0..steps {
            let v = orca_velocities(&agents, 1.0, dt, 2.0);
            for (a, v) in agents.iter_mut().zip(v) {
                a.velocity = v;
                a.position = [a.position[0] + v[0] * dt, a.position[1] + v[1] * dt];
            }
            closest = closest.min(dist(agents[0].position, agents[1].position));
        }
        closest
    }

    #[test]
    fn free_agents_take_their_preferred_velocity() {
        let agents = [
            agent([-3.0, 0.0], [0.5, 0.0], 1.0),
            agent([3.0, 3.0], [0.0, 2.0], 1.0),
        ];
        let v = orca_velocities(&agents, 1.0, 0.1, 2.0);
        assert!(dist(v[0], [0.5, 0.0]) < 1e-5, "{v:?}");
        // Capped at the maximum speed.
        assert!(dist(v[1], [0.0, 1.0]) < 1e-5, "{v:?}");
    }

    #[test]
    fn head_on_agents_pass_without_touching() {
        // Slightly offset so the symmetric head-on case has a side to pass on.
        let agents = vec![
            agent([-3.0, 0.01], [1.0, 0.0], 1.0),
            agent([3.0, 0.0], [-1.0, 0.0], 1.0),
        ];
        let closest = closest_approach(agents, 80, 0.1);
        assert!(closest >= 0.6 - 1e-3, "closest approach {closest}");
    }

    #[test]
    fn a_non_reciprocating_agent_is_avoided_by_the_other() {
        let agents = vec![
            agent([-3.0, 0.01], [1.0, 0.0], 0.0),
            agent([3.0, 0.0], [-1.0, 0.0], 1.0),
        ];
        let v = orca_velocities(&agents, 1.0, 0.1, 2.0);
        // The passive agent keeps its course, even when it is about to be in the way...
        assert!(dist(v[0], [1.0, 0.0]) < 1e-5, "{v:?}");
        let mut close = agents.clone();
        close[0].position = [-0.5, 0.0];
        close[0].velocity = [1.0, 0.0];
        close[1].position = [0.5, 0.0];
        let v = orca_velocities(&close, 1.0, 0.1, 2.0);
        assert!(dist(v[0], [1.0, 0.0]) < 1e-5, "{v:?}");
        // ...and the other still keeps clear of it.
        let closest = closest_approach(agents, 80, 0.1);
        assert!(closest >= 0.6 - 1e-3, "closest approach {closest}");
    }
}
