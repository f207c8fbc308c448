//! Robot and map tokens of a batch of problems, padded to the largest robot and obstacle count
//! with masks (DESIGN.md section 4), in each problem's [`Frame`].

use burn::prelude::*;
use burn::tensor::{Bool, TensorData};
use flowopt_core::{
    Bernstein, Coefficients, DEFAULT_ORDER, ErrorKind, InputError, Problem, StraightPlanner,
};

use crate::representation::{Frame, baseline};

/// Interior (free) Bernstein coefficients per axis: the three at each end are fixed by the
/// boundary conditions.
const FREE: usize = DEFAULT_ORDER + 1 - 6;

/// Features per robot token: start, goal, goal - start, radius, start velocity (scaled by the
/// horizon), speed and acceleration limits (scaled by the horizon), and how the robot's guide
/// path bends away from its straight line (the interior coefficients' offsets, per axis).
pub const ROBOT_FEATURES: usize = 11 + 2 * FREE;

/// Features per map token: centre, radius, half-extents, and a workspace flag. Token 0 is the
/// workspace (centre 0, its half-extents), the rest are obstacles (radius, zero extents).
pub const MAP_FEATURES: usize = 6;

/// The conditioning of a batch: one entry per problem (or per candidate, see [`repeat`]).
///
/// [`repeat`]: Conditioning::repeat
#[derive(Clone, Debug)]
pub struct Conditioning {
    /// Robot tokens (B, N, [`ROBOT_FEATURES`]); padded rows are zero.
    pub robots: Tensor<3>,
    /// Padding of the robot tokens (B, N): true where there is no robot.
    pub robot_pad: Tensor<2, Bool>,
    /// 1 for real robots, 0 for padding: (B, N, 1).
    pub robot_mask: Tensor<3>,
    /// Map tokens (B, 1 + O, [`MAP_FEATURES`]).
    pub map: Tensor<3>,
    /// Padding of the map tokens (B, 1 + O).
    pub map_pad: Tensor<2, Bool>,
    /// Robots of each entry.
    pub robot_counts: Vec<usize>,
    /// The guide paths of each entry's robots ([`baseline`]): the origin of the model's
    /// coordinates, needed to decode its samples.
    pub baselines: Vec<Vec<Coefficients>>,
}

impl Conditioning {
    /// The tokens of `problems` on `device` (their guide paths computed here).
    pub fn new(problems: &[&Problem], device: &Device) -> Result<Self, InputError> {
        let basis = Bernstein::new(DEFAULT_ORDER)?;
        let baselines = problems.iter().map(|p| baseline(p, &basis)).collect();
        Self::with_baselines(problems, baselines, device)
    }

    /// The tokens of `problems` whose guide paths ([`baseline`]) are already known.
    pub fn with_baselines(
        problems: &[&Problem],
        baselines: Vec<Vec<Coefficients>>,
        device: &Device,
    ) -> Result<Self, InputError> {
        if problems.is_empty() {
            return Err(InputError::new(
                ErrorKind::Empty,
                "problems",
                "a batch needs at least one problem",
            ));
        }
        let b = problems.len();
        let n = problems.iter().map(|p| p.robots.len()).max().unwrap_or(0);
        let o = problems
            .iter()
            .map(|p| p.obstacles.len())
            .max()
            .unwrap_or(0);
        if n == 0 {
            return Err(InputError::new(
                ErrorKind::Empty,
                "robots",
                "every problem needs at least one robot",
            ));
        }
        let fits = baselines.len() == b
            && problems.iter().zip(&baselines).all(|(p, base)| {
                base.len() == p.robots.len()
                    && base
                        .iter()
                        .all(|c| c.x.len() == DEFAULT_ORDER + 1 && c.y.len() == DEFAULT_ORDER + 1)
            });
        if !fits {
            return Err(InputError::new(
                ErrorKind::Shape,
                "baselines",
                "expected one order-10 guide path per robot of every problem",
            ));
        }
        let straight = StraightPlanner::new(Bernstein::new(DEFAULT_ORDER)?);
        let mut robots = vec![0f32; b * n * ROBOT_FEATURES];
        let mut robot_pad = vec![true; b * n];
        let mut robot_mask = vec![0f32; b * n];
        let mut map = vec![0f32; b * (o + 1) * MAP_FEATURES];
        let mut map_pad = vec![true; b * (o + 1)];
        for (i, p) in problems.iter().enumerate() {
            let frame = Frame::of(p);
            let s = frame.scale;
            let at = |v: [f64; 2]| [(v[0] - frame.centre[0]) / s, (v[1] - frame.centre[1]) / s];
            let t = p.horizon;
            let line = straight.coefficients(p);
            for (j, r) in p.robots.iter().enumerate() {
                let (start, goal) = (at(r.start), at(r.goal));
                let (path, line) = (&baselines[i][j], &line[j]);
                let bend = |a: &[f64], l: &[f64]| -> [f64; FREE] {
                    std::array::from_fn(|m| (a[3 + m] - l[3 + m]) / s)
                };
                let row = [
                    start[0],
                    start[1],
                    goal[0],
                    goal[1],
                    goal[0] - start[0],
                    goal[1] - start[1],
                    r.radius / s,
                    r.start_velocity[0] * t / s,
                    r.start_velocity[1] * t / s,
                    p.limits.max_speed * t / s,
                    p.limits.max_accel * t * t / s,
                ];
                let row = row
                    .into_iter()
                    .chain(bend(&path.x, &line.x))
                    .chain(bend(&path.y, &line.y));
                let at = (i * n + j) * ROBOT_FEATURES;
                for (dst, v) in robots[at..at + ROBOT_FEATURES].iter_mut().zip(row) {
                    *dst = v as f32;
                }
                robot_pad[i * n + j] = false;
                robot_mask[i * n + j] = 1.0;
            }
            let half = p.workspace.half_extents();
            let ws_row = [0.0, 0.0, 0.0, half[0] / s, half[1] / s, 1.0];
            let obstacles = p.obstacles.iter().map(|ob| {
                let c = at(ob.center);
                [c[0], c[1], ob.radius / s, 0.0, 0.0, 0.0]
            });
            for (j, row) in std::iter::once(ws_row).chain(obstacles).enumerate() {
                let at = (i * (o + 1) + j) * MAP_FEATURES;
                for (dst, v) in map[at..at + MAP_FEATURES].iter_mut().zip(row) {
                    *dst = v as f32;
                }
                map_pad[i * (o + 1) + j] = false;
            }
        }
        Ok(Self {
            robots: Tensor::from_data(TensorData::new(robots, [b, n, ROBOT_FEATURES]), device),
            robot_pad: Tensor::from_data(TensorData::new(robot_pad, [b, n]), device),
            robot_mask: Tensor::from_data(TensorData::new(robot_mask, [b, n, 1]), device),
            map: Tensor::from_data(TensorData::new(map, [b, o + 1, MAP_FEATURES]), device),
            map_pad: Tensor::from_data(TensorData::new(map_pad, [b, o + 1]), device),
            robot_counts: problems.iter().map(|p| p.robots.len()).collect(),
            baselines,
        })
    }

    /// Entries B.
    pub fn size(&self) -> usize {
        self.robot_counts.len()
    }

    /// The entries at `rows` (a range of the batch).
    pub fn rows(&self, rows: std::ops::Range<usize>) -> Self {
        Self {
            robots: self.robots.clone().slice(rows.clone()),
            robot_pad: self.robot_pad.clone().slice(rows.clone()),
            robot_mask: self.robot_mask.clone().slice(rows.clone()),
            map: self.map.clone().slice(rows.clone()),
            map_pad: self.map_pad.clone().slice(rows.clone()),
            robot_counts: self.robot_counts[rows.clone()].to_vec(),
            baselines: self.baselines[rows].to_vec(),
        }
    }

    /// Every entry `k` times in a row: (B, ...) -> (B k, ...), for K candidates per problem.
    pub fn repeat(&self, k: usize) -> Self {
        let rep3 = |t: Tensor<3>| -> Tensor<3> {
            let [b, n, f] = t.dims();
            t.unsqueeze_dim::<4>(1)
                .expand([b, k, n, f])
                .reshape([b * k, n, f])
        };
        let rep2 = |t: Tensor<2, Bool>| -> Tensor<2, Bool> {
            let [b, n] = t.dims();
            t.unsqueeze_dim::<3>(1)
                .expand([b, k, n])
                .reshape([b * k, n])
        };
        Self {
            robots: rep3(self.robots.clone()),
            robot_pad: rep2(self.robot_pad.clone()),
            robot_mask: rep3(self.robot_mask.clone()),
            map: rep3(self.map.clone()),
            map_pad: rep2(self.map_pad.clone()),
            robot_counts: self
                .robot_counts
                .iter()
                .flat_map(|&n| std::iter::repeat_n(n, k))
                .collect(),
            baselines: self
                .baselines
                .iter()
                .flat_map(|b| std::iter::repeat_n(b.clone(), k))
                .collect(),
        }
    }
}
