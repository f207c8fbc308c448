//! Symmetries of a planning problem used to augment the generator's training data: the
//! reflections of the workspace box about its centre lines, and, for a square workspace, the
//! exchange of the axes (together the 8 symmetries of the square, 4 of a rectangle).
//!
//! Every constraint of DESIGN.md section 2 (pair and obstacle distances, the box, speed and
//! acceleration norms, boundary values) is invariant under these isometries, so the image of a
//! verified solution is a verified solution of the image problem, with the same metrics.

use flowopt_core::{Coefficients, Problem};

/// One isometry of the workspace box: optionally exchange the axes, then optionally mirror x
/// and y about the box's centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Symmetry {
    /// Exchange x and y first (only a symmetry of a square workspace).
    pub swap: bool,
    /// Mirror x about the centre.
    pub flip_x: bool,
    /// Mirror y about the centre.
    pub flip_y: bool,
}

impl Symmetry {
    /// Every symmetry of `problem`'s workspace, the identity first.
    pub fn of(problem: &Problem) -> Vec<Symmetry> {
        let half = problem.workspace.half_extents();
        let square = (half[0] - half[1]).abs() <= 1e-9 * half[0].abs().max(1.0);
        let swaps: &[bool] = if square { &[false, true] } else { &[false] };
        swaps
            .iter()
            .flat_map(|&swap| {
                [(false, false), (true, false), (false, true), (true, true)].map(
                    |(flip_x, flip_y)| Symmetry {
                        swap,
                        flip_x,
                        flip_y,
                    },
                )
            })
            .collect()
    }

    /// The image of a free vector (velocity, acceleration).
    fn vector(&self, v: [f64; 2]) -> [f64; 2] {
        let [mut x, mut y] = if self.swap { [v[1], v[0]] } else { v };
        if self.flip_x {
            x = -x;
        }
        if self.flip_y {
            y = -y;
        }
        [x, y]
    }

    /// The image of a point, about `centre`.
    fn point(&self, p: [f64; 2], centre: [f64; 2]) -> [f64; 2] {
        let v = self.vector([p[0] - centre[0], p[1] - centre[1]]);
        [centre[0] + v[0], centre[1] + v[1]]
    }

    /// The image of `problem` (the workspace maps onto itself).
    pub fn problem(&self, problem: &Problem) -> Problem {
        let c = problem.workspace.centre();
        let mut out = problem.clone();
        for r in &mut out.robots {
            r.start = self.point(r.start, c);
            r.goal = self.point(r.goal, c);
            r.start_velocity = self.vector(r.start_velocity);
            r.start_acceleration = self.vector(r.start_acceleration);
        }
        for o in &mut out.obstacles {
            o.center = self.point(o.center, c);
        }
        out
    }

    /// The image of a plan's coefficients for `problem` (each pair of x, y coefficients is a
    /// control point of the Bernstein curve, so it maps like a point).
    pub fn coefficients(&self, problem: &Problem, plan: &[Coefficients]) -> Vec<Coefficients> {
        let c = problem.workspace.centre();
        plan.iter()
            .map(|r| {
                let (x, y) =
                    r.x.iter()
                        .zip(&r.y)
                        .map(|(&x, &y)| {
                            let q = self.point([x, y], c);
                            (q[0], q[1])
                        })
                        .unzip();
                Coefficients { x, y }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::{Bernstein, Plan, Scenario, ScenarioConfig};

    /// The image of a plan has the same metrics on the image problem (the isometries preserve
    /// every constraint), a square workspace has 8 symmetries, and they are distinct.
    #[test]
    fn images_of_a_plan_keep_its_metrics() {
        let problem = Scenario::Obstacles
            .generate(&ScenarioConfig::new(6).obstacles(4).seed(3))
            .unwrap();
        let basis = Bernstein::default();
        let mut plan = flowopt_core::path_coefficients(&problem, &basis);
        plan[1].x[5] += 0.8;
        plan[3].y[4] -= 0.5;
        let metrics = |p: &Problem, c: &[Coefficients]| {
            Plan::from_coefficients("test", p, c.to_vec(), std::time::Instant::now())
                .unwrap()
                .metrics
        };
        let reference = metrics(&problem, &plan);
        let symmetries = Symmetry::of(&problem);
        assert_eq!(symmetries.len(), 8);
        assert_eq!(symmetries[0], Symmetry::default());
        let mut starts = Vec::new();
        for s in &symmetries {
            let image = s.problem(&problem);
            image.validate(&Default::default()).unwrap();
            let m = metrics(&image, &s.coefficients(&problem, &plan));
            for (a, b) in [
                (
                    m.min_pair_distance.unwrap(),
                    reference.min_pair_distance.unwrap(),
                ),
                (
                    m.min_obstacle_clearance.unwrap(),
                    reference.min_obstacle_clearance.unwrap(),
                ),
                (m.smoothness, reference.smoothness),
                (m.max_speed, reference.max_speed),
                (m.max_violation, reference.max_violation),
            ] {
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{s:?}: {a} vs {b}"
                );
            }
            assert_eq!(m.feasible, reference.feasible);
            starts.push(image.robots[0].start);
        }
        starts.sort_by(|a, b| a.partial_cmp(b).unwrap());
        starts.dedup();
        assert_eq!(starts.len(), 8, "the symmetries are not distinct");
        let mut wide = problem.clone();
        wide.workspace.max[0] += 2.0;
        assert_eq!(Symmetry::of(&wide).len(), 4);
    }
}
