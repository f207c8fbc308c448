//! Geometry shared by the ORCA simulation: obstacle polygons for `dodgy_2d` and the exact
//! continuous-time distance checks of the safety pass.

use dodgy_2d::Vec2 as GVec2;
use flowopt_core::{Vec2, Workspace};

/// Relative enlargement of the polygons against `f32` rounding of their vertices.
const F32_SLACK: f64 = 1e-6;

/// A counter-clockwise polygon with `sides` vertices that circumscribes the disc (`center`,
/// `radius`): its edges are tangent to the circle, so a robot kept off the polygon is kept off
/// the disc. Coordinates are relative to `origin`, in `f32` as `dodgy_2d` wants them.
///
/// `dodgy_2d` treats the left side of each edge as solid: counter-clockwise polygons keep agents
/// out.
pub(crate) fn circumscribed_polygon(
    center: Vec2,
    radius: f64,
    sides: usize,
    origin: Vec2,
) -> dodgy_2d::Obstacle {
    let sides = sides.max(3);
    let half = std::f64::consts::PI / sides as f64;
    let vertex_radius = radius / half.cos() * (1.0 + F32_SLACK) + F32_SLACK;
    let vertices = (0..sides)
        .map(|k| {
            let angle = 2.0 * half * k as f64;
            to_glam(
                [
                    center[0] + vertex_radius * angle.cos(),
                    center[1] + vertex_radius * angle.sin(),
                ],
                origin,
            )
        })
        .collect();
    dodgy_2d::Obstacle::Closed { vertices }
}

/// The workspace boundary as a clockwise box, which `dodgy_2d` treats as an obstacle agents
/// cannot leave.
pub(crate) fn workspace_box(workspace: &Workspace, origin: Vec2) -> dodgy_2d::Obstacle {
    let [x0, y0] = workspace.min;
    let [x1, y1] = workspace.max;
    dodgy_2d::Obstacle::Closed {
        vertices: vec![
            to_glam([x0, y0], origin),
            to_glam([x0, y1], origin),
            to_glam([x1, y1], origin),
            to_glam([x1, y0], origin),
        ],
    }
}

/// `p - origin` in `f32`.
pub(crate) fn to_glam(p: Vec2, origin: Vec2) -> GVec2 {
    GVec2::new((p[0] - origin[0]) as f32, (p[1] - origin[1]) as f32)
}

/// Smallest distance over `t` in `[0, dt]` between `a + u t` and `b + w t`.
pub(crate) fn min_distance_moving(a: Vec2, u: Vec2, b: Vec2, w: Vec2, dt: f64) -> f64 {
    let d0 = [b[0] - a[0], b[1] - a[1]];
    let rel = [w[0] - u[0], w[1] - u[1]];
    let rel2 = rel[0] * rel[0] + rel[1] * rel[1];
    let t = if rel2 > 0.0 {
        (-(d0[0] * rel[0] + d0[1] * rel[1]) / rel2).clamp(0.0, dt)
    } else {
        0.0
    };
    (d0[0] + rel[0] * t).hypot(d0[1] + rel[1] * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_is_counter_clockwise_and_circumscribes_the_disc() {
        let (center, radius) = ([1.0, -2.0], 0.5);
        for sides in [3, 8, 16] {
            let dodgy_2d::Obstacle::Closed { vertices } =
                circumscribed_polygon(center, radius, sides, [0.0, 0.0])
            else {
                panic!("closed polygon expected");
            };
            assert_eq!(vertices.len(), sides);
            let mut area = 0.0;
            for k in 0..sides {
                let (p, q) = (vertices[k], vertices[(k + 1) % sides]);
                area += f64::from(p.x * q.y - q.x * p.y);
                // Distance from the centre to the edge line is at least the radius.
                let (px, py) = (f64::from(p.x) - center[0], f64::from(p.y) - center[1]);
                let (ex, ey) = (f64::from(q.x - p.x), f64::from(q.y - p.y));
                let d = (px * ey - py * ex).abs() / ex.hypot(ey);
                assert!(d >= radius, "edge {k} of {sides}: {d} < {radius}");
                assert!(d < radius + 1e-4);
            }
            assert!(area > 0.0, "counter-clockwise");
        }
    }

    #[test]
    fn moving_distance_finds_the_closest_approach() {
        // Head-on, meeting half-way through the step.
        let d = min_distance_moving([0.0, 0.0], [1.0, 0.0], [2.0, 0.5], [-1.0, 0.0], 2.0);
        assert!((d - 0.5).abs() < 1e-12);
        // Moving apart: the start is closest.
        let d = min_distance_moving([0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [1.0, 0.0], 1.0);
        assert!((d - 1.0).abs() < 1e-12);
        // The closest point would come after the step.
        let d = min_distance_moving([0.0, 0.0], [0.0, 0.0], [3.0, 0.0], [-1.0, 0.0], 1.0);
        assert!((d - 2.0).abs() < 1e-12);
    }
}
