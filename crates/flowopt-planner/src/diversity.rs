//! How different the returned alternatives are: for every robot pair, the side on which the
//! two pass each other (the sign of the angle their relative position sweeps over the plan),
//! and the number of distinct such pass-left/pass-right patterns among candidates.

use std::collections::BTreeSet;

use flowopt_core::Trajectory;

/// Smallest swept angle (radians) that counts as passing on a side.
const MIN_SWEEP: f64 = 0.5;

/// Per robot pair (i < j), +1 if j passes i counter-clockwise, -1 clockwise, 0 if the pair
/// never turns around each other by more than [`MIN_SWEEP`].
pub fn passing_sides(trajectories: &[Trajectory]) -> Vec<i8> {
    let n = trajectories.len();
    let mut sides = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in (i + 1)..n {
            let (a, b) = (&trajectories[i].samples, &trajectories[j].samples);
            let mut swept = 0.0;
            let mut prev: Option<[f64; 2]> = None;
            for (p, q) in a.iter().zip(b) {
                let d = [q[1] - p[1], q[2] - p[2]];
                if let Some(e) = prev {
                    let cross = e[0] * d[1] - e[1] * d[0];
                    let dot = e[0] * d[0] + e[1] * d[1];
                    swept += cross.atan2(dot);
                }
                prev = Some(d);
            }
            sides.push(if swept > MIN_SWEEP {
                1
            } else if swept < -MIN_SWEEP {
                -1
            } else {
                0
            });
        }
    }
    sides
}

/// Number of distinct passing patterns among `candidates` (each one robot trajectory per robot).
pub fn distinct_patterns<'a>(candidates: impl IntoIterator<Item = &'a [Trajectory]>) -> usize {
    candidates
        .into_iter()
        .map(passing_sides)
        .collect::<BTreeSet<_>>()
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(from: [f64; 2], via: [f64; 2], to: [f64; 2]) -> Trajectory {
        let samples = (0..=20)
            .map(|k| {
                let s = k as f64 / 20.0;
                let (a, b, t) = if s < 0.5 {
                    (from, via, 2.0 * s)
                } else {
                    (via, to, 2.0 * s - 1.0)
                };
                [s, a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
            })
            .collect();
        Trajectory {
            coefficients: None,
            samples,
        }
    }

    #[test]
    fn a_swap_passing_left_differs_from_passing_right() {
        let a = line([-2.0, 0.0], [0.0, 0.5], [2.0, 0.0]);
        let left = line([2.0, 0.0], [0.0, -0.5], [-2.0, 0.0]);
        let right = line([2.0, 0.0], [0.0, 1.5], [-2.0, 0.0]);
        let s1 = passing_sides(&[a.clone(), left.clone()]);
        let s2 = passing_sides(&[a.clone(), right.clone()]);
        assert_eq!(s1.len(), 1);
        assert_eq!(s1[0], -s2[0]);
        assert_ne!(s1[0], 0);
        let c1 = [a.clone(), left];
        let c2 = [a.clone(), right];
        let c3 = c1.clone();
        assert_eq!(distinct_patterns([&c1[..], &c2[..], &c3[..]]), 2);
        // Far apart and parallel: no side.
        let far = line([-2.0, 5.0], [0.0, 5.0], [2.0, 5.0]);
        assert_eq!(passing_sides(&[a, far]), vec![0]);
    }
}
