//! Inputs of the warm-start network, in a frame every instance shares: positions relative to
//! the workspace centre and divided by the workspace's larger half-extent `s`, limits in the
//! solver's scaled units divided by `s`.

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::batch::{Batch, Instance};
use crate::settings::FilterSettings;

/// Features per robot besides its 2K candidate coefficients: start, goal, start velocity,
/// radius, speed and acceleration limits, workspace half-extents.
const ROBOT_EXTRA: usize = 11;

/// Features per robot token for `k` coefficients per axis.
pub const fn robot_features(k: usize) -> usize {
    2 * k + ROBOT_EXTRA
}

/// Features per obstacle token: centre and radius.
pub const OBSTACLE_FEATURES: usize = 3;

/// The network's input for one batch.
pub struct WarmStartInput {
    /// Robot tokens (B, N, 2K + 11).
    pub robots: Tensor<3>,
    /// Obstacle tokens (B, O, 3), when there are obstacles.
    pub obstacles: Option<Tensor<3>>,
    /// The candidates (B, 2, N K), as in the batch.
    pub cbar: Tensor<3>,
    /// The scale `s` per instance: (B, 1, 1).
    pub scale: Tensor<3>,
    /// Coefficients per axis.
    pub k: usize,
}

impl WarmStartInput {
    /// The input for `batch`, built from the same `instances`. The candidate features are
    /// computed from `batch.cbar`, so gradients flow from the network's output to the candidate.
    pub fn new(instances: &[Instance], batch: &Batch, settings: &FilterSettings) -> Self {
        let device = batch.cbar.device();
        let (b, n, k, o) = (batch.size, batch.robots, batch.k, batch.obstacles);
        let order = (k - 1) as f64;
        let mut extra = Vec::with_capacity(b * n * ROBOT_EXTRA);
        let mut obstacles = Vec::with_capacity(b * o * OBSTACLE_FEATURES);
        let mut centres = Vec::with_capacity(b * 2);
        let mut scales = Vec::with_capacity(b);
        let keep = 1.0 - settings.limit_margin;
        for inst in instances {
            let p = inst.problem;
            let ws = &p.workspace;
            let (centre, half, s) = (ws.centre(), ws.half_extents(), ws.scale());
            let t = p.horizon;
            let speed = p.limits.max_speed * keep * t / order / s;
            let accel = p.limits.max_accel * keep * t * t / (order * (order - 1.0)) / s;
            for r in &p.robots {
                extra.extend(
                    [
                        (r.start[0] - centre[0]) / s,
                        (r.start[1] - centre[1]) / s,
                        (r.goal[0] - centre[0]) / s,
                        (r.goal[1] - centre[1]) / s,
                        r.start_velocity[0] * t / order / s,
                        r.start_velocity[1] * t / order / s,
                        r.radius / s,
                        speed,
                        accel,
                        half[0] / s,
                        half[1] / s,
                    ]
                    .map(|v| v as f32),
                );
            }
            for ob in &p.obstacles {
                obstacles.extend(
                    [
                        (ob.center[0] - centre[0]) / s,
                        (ob.center[1] - centre[1]) / s,
                        ob.radius / s,
                    ]
                    .map(|v| v as f32),
                );
            }
            centres.extend(centre.map(|v| v as f32));
            scales.push(s as f32);
        }
        let scale4 = Tensor::<4>::from_data(TensorData::new(scales.clone(), [b, 1, 1, 1]), &device);
        let centre4 = Tensor::<4>::from_data(TensorData::new(centres, [b, 2, 1, 1]), &device);
        // (B, 2, N K) -> (B, 2, N, K) -> normalised -> (B, N, 2, K) -> (B, N, 2K).
        let coefficients = ((batch.cbar.clone().reshape([b, 2, n, k]) - centre4) / scale4)
            .swap_dims(1, 2)
            .reshape([b, n, 2 * k]);
        let extra = Tensor::<3>::from_data(TensorData::new(extra, [b, n, ROBOT_EXTRA]), &device);
        let obstacles = (o > 0).then(|| {
            Tensor::<3>::from_data(
                TensorData::new(obstacles, [b, o, OBSTACLE_FEATURES]),
                &device,
            )
        });
        Self {
            robots: Tensor::cat(vec![coefficients, extra], 2),
            obstacles,
            cbar: batch.cbar.clone(),
            scale: Tensor::<3>::from_data(TensorData::new(scales, [b, 1, 1]), &device),
            k,
        }
    }
}
