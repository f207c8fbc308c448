//! Pulls a generator candidate's robots back towards their guide paths where the generator sent
//! them deep into an obstacle.
//!
//! The generator predicts each robot's deviation from its guide path (the navigation path,
//! see `flowopt_core::guide_paths`). On crowded obstacle fields its
//! deviation sometimes cuts a corner through a shelf or a wall by 0.25-0.45 m (warehouse and
//! doorway, N = 32). The safety filter pushes every sample radially out of every obstacle disc,
//! so a trajectory that deep in a chain of overlapping discs stays caught at a seam between two
//! of them: every candidate of such a problem failed with the same robot inside the same shelf.
//! Scaling that robot's deviation down until it keeps out (down to the guide itself) costs a
//! few distance checks and leaves the other robots' learned deviations as they are.

use flowopt_core::{Bernstein, Coefficients, Problem, Vec2, uniform_times};
use nalgebra::DVector;

/// How deep (metres) a robot disc may dip into an obstacle at the candidate's samples before
/// its deviation from the guide path is scaled down. The failures this targets were 0.25-0.45 m
/// deep; the filter clears shallower overlaps, and pulling those back too cost the learned
/// passing order: doorway N = 16 (seeds 0-49) passed 48/50 without pull-back, 46 with 0.2 m and
/// 42 with 0.1 m, while warehouse N = 32 went from 26/50 to 45 and 46 (docs/tuning.md#pull-back).
pub const MAX_DEPTH: f64 = 0.2;

/// Deviation scales tried in turn; the last (0) is the guide path itself.
const SCALES: [f64; 4] = [1.0, 0.5, 0.25, 0.0];

/// Scales each robot's deviation from its `guide` (the clear guide,
/// `flowopt_core::GuidePaths::clear`) in `candidate` by the first of 1, 1/2, 1/4
/// and 0 at which its disc dips at most `max_depth` (metres; [`MAX_DEPTH`] by default) into an
/// obstacle (or no deeper than the guide itself does), on a grid twice as dense as the
/// problem's samples. Returns how many robots were pulled back.
pub fn pull_back(
    problem: &Problem,
    guide: &[Coefficients],
    candidate: &mut [Coefficients],
    max_depth: f64,
) -> usize {
    if problem.obstacles.is_empty() {
        return 0;
    }
    let Some(first) = guide.first() else {
        return 0;
    };
    let Ok(basis) = Bernstein::for_coefficients(first.x.len()) else {
        return 0;
    };
    let times = uniform_times(problem.horizon, 2 * problem.samples);
    let p = basis.sample_matrices(&times, problem.horizon).p;
    let positions = |c: &Coefficients| -> [DVector<f64>; 2] {
        [&c.x, &c.y].map(|v| &p * DVector::from_column_slice(v))
    };
    let depth = |radius: f64, xy: &[DVector<f64>; 2]| -> f64 {
        let mut deepest = f64::NEG_INFINITY;
        for (&x, &y) in xy[0].iter().zip(xy[1].iter()) {
            let at: Vec2 = [x, y];
            for o in &problem.obstacles {
                deepest = deepest.max(o.overlap(at, radius));
            }
        }
        deepest
    };
    let mut pulled = 0;
    for ((robot, base), c) in problem.robots.iter().zip(guide).zip(candidate.iter_mut()) {
        if c.x.len() != base.x.len() || c.y.len() != base.y.len() {
            continue;
        }
        let full = positions(c);
        if depth(robot.radius, &full) <= max_depth {
            continue;
        }
        let on_guide = positions(base);
        let allowed = max_depth.max(depth(robot.radius, &on_guide));
        let scale = SCALES[1..]
            .iter()
            .copied()
            .find(|&s| {
                let xy = [0, 1].map(|a| &on_guide[a] + (&full[a] - &on_guide[a]) * s);
                depth(robot.radius, &xy) <= allowed
            })
            .unwrap_or(0.0);
        let blend = |b: &[f64], v: &mut [f64]| {
            for (v, b) in v.iter_mut().zip(b) {
                *v = b + (*v - b) * scale;
            }
        };
        blend(&base.x, &mut c.x);
        blend(&base.y, &mut c.y);
        pulled += 1;
    }
    pulled
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::{Obstacle, Robot, Workspace};

    /// A wall of overlapping discs with a gap at the top; the guide goes through the gap.
    fn wall() -> (Problem, Vec<Coefficients>) {
        let obstacles: Vec<Obstacle> = (0..10)
            .map(|k| Obstacle {
                center: [0.0, -4.6 + 0.8 * k as f64],
                radius: 0.4,
            })
            .collect();
        let problem = Problem::new(
            Workspace::square(5.0),
            vec![Robot::new([-3.0, -2.0], [3.0, -2.0], 0.2)],
            obstacles,
        );
        let guide = flowopt_core::path_coefficients(&problem, &Bernstein::default());
        (problem, guide)
    }

    #[test]
    fn a_robot_sent_through_a_wall_is_pulled_back_towards_its_guide() {
        let (problem, guide) = wall();
        // Straight through the wall: the guide's deviation undone.
        let straight = flowopt_core::StraightPlanner::default().coefficients(&problem);
        let mut candidate = straight.clone();
        assert_eq!(pull_back(&problem, &guide, &mut candidate, MAX_DEPTH), 1);
        assert!(candidate[0].x != straight[0].x || candidate[0].y != straight[0].y);
        // What it returns keeps out of the wall to MAX_DEPTH (or the guide's own depth).
        let basis = Bernstein::default();
        let times = uniform_times(problem.horizon, 2 * problem.samples);
        let p = basis.sample_matrices(&times, problem.horizon).p;
        let xs = &p * DVector::from_column_slice(&candidate[0].x);
        let ys = &p * DVector::from_column_slice(&candidate[0].y);
        for t in 0..times.len() {
            for o in &problem.obstacles {
                let depth = o.overlap([xs[t], ys[t]], 0.2);
                assert!(depth <= MAX_DEPTH + 1e-9, "{depth} at sample {t}");
            }
        }
    }

    #[test]
    fn a_candidate_clear_of_the_obstacles_is_left_alone() {
        let (problem, guide) = wall();
        let mut candidate = guide.clone();
        for c in &mut candidate {
            c.x[5] += 0.05;
        }
        let before = candidate.clone();
        assert_eq!(pull_back(&problem, &guide, &mut candidate, MAX_DEPTH), 0);
        assert_eq!(candidate, before);
    }
}
