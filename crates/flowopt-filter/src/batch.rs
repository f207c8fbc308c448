//! A batch of (problem, candidate) instances that share a shape (robots, obstacles, samples),
//! as the tensors the solver needs. Instances may differ in everything else: positions, radii,
//! obstacles, workspace, horizon and limits.

use burn::prelude::*;
use burn::tensor::TensorData;
use flowopt_core::{BOUNDARY_ROWS, Coefficients, ErrorKind, InputError, Problem};

use crate::kkt::{Kkt, KktKey, RobotBlocks, kkt};
use crate::settings::FilterSettings;

/// Per-instance data of one batch, on the device.
#[derive(Clone)]
pub struct Batch {
    /// Instances B.
    pub size: usize,
    /// Robots N.
    pub robots: usize,
    /// Obstacles O.
    pub obstacles: usize,
    /// Coefficients per axis K.
    pub k: usize,
    /// Samples M.
    pub samples: usize,
    /// Step of the multiplier update, u <- u + gamma (G c - s)
    /// ([`FilterSettings::dual_step`]).
    pub dual_step: f32,
    /// Candidate coefficients cbar: (B, 2, N K).
    pub cbar: Tensor<3>,
    /// Boundary part K12 b of every c-step: (B, 2, N K).
    pub cb: Tensor<3>,
    /// Incidence of robots and pairs ([`pair_order`]), +1 for the first robot, -1 for the
    /// second: (1, 1, N, P). G'r of the pair rows is one broadcast matmul with it (much faster
    /// than a scatter).
    pub incidence: Tensor<4>,
    /// Required pair distance r_i + r_j + margin + clearance, in [`pair_order`]: (B, 1, P, 1).
    pub pair_dist: Tensor<4>,
    /// Obstacle centres (B, 2, 1, O, 1), when there are obstacles.
    pub obstacle_centre: Option<Tensor<5>>,
    /// Required obstacle distances r_i + R_o + clearance (B, 1, N, O, 1).
    pub obstacle_dist: Option<Tensor<5>>,
    /// Lower box bounds of the robot centres: (B, 2, N, 1).
    pub lo: Tensor<4>,
    /// Upper box bounds of the robot centres: (B, 2, N, 1).
    pub hi: Tensor<4>,
    /// Speed limit in scaled units, v_max T / n: (B, 1, 1, 1).
    pub speed: Tensor<4>,
    /// Acceleration limit in scaled units, a_max T^2 / (n (n-1)): (B, 1, 1, 1).
    pub accel: Tensor<4>,
    /// The c-step matrix K11, (N K, N K).
    pub k11: RobotMatrix,
    /// G'G per axis, (N K, N K).
    pub gtg: RobotMatrix,
    /// (G'G)^-1 per axis, (N K, N K), in exact-projection mode only (the s-step projects
    /// G c + u there and needs multipliers per row; see `solver`). `None` selects the fast mode.
    pub gtg_inv: Option<RobotMatrix>,
    /// P' (K, M): positions are c P'.
    pub pt: Tensor<2>,
    /// P (M, K): position rows of G'.
    pub p: Tensor<2>,
    /// Pv' (K, M): scaled velocities.
    pub pvt: Tensor<2>,
    /// Pv (M, K).
    pub pv: Tensor<2>,
    /// Pa' (K, M): scaled accelerations.
    pub pat: Tensor<2>,
    /// Pa (M, K).
    pub pa: Tensor<2>,
}

/// The robot pairs (i, j), i < j, each once, in the order of the solver's pair rows: by offset
/// s = j - i, then by i. Pair differences are then N - 1 slices of the position tensor
/// (x[.., i] - x[.., i + s] for all i at once) instead of two gathers: 4x less work on flex.
pub fn pair_order(n: usize) -> Vec<(usize, usize)> {
    (1..n)
        .flat_map(|s| (0..n - s).map(move |i| (i, i + s)))
        .collect()
}

/// One instance: a problem and a candidate (one coefficient pair per robot).
#[derive(Debug, Clone, Copy)]
pub struct Instance<'a> {
    /// The problem.
    pub problem: &'a Problem,
    /// The candidate to project.
    pub candidate: &'a [Coefficients],
}

impl<'a> Instance<'a> {
    /// The instances of one problem with each of `candidates`, in order.
    pub fn each(problem: &'a Problem, candidates: &'a [Vec<Coefficients>]) -> Vec<Self> {
        candidates
            .iter()
            .map(|candidate| Instance { problem, candidate })
            .collect()
    }
}

impl Batch {
    /// This batch with the candidates of the instances at `rows` replaced by their rows of
    /// `c` (B, 2, N K): how a proximal round ([`crate::FilterSettings::recentre`]) moves an
    /// instance's anchor to where it stands.
    pub(crate) fn recentred(&self, rows: &[usize], c: &Tensor<3>) -> Batch {
        let [b, two, nk] = self.cbar.dims();
        let mut mask = vec![false; b];
        for &row in rows {
            mask[row] = true;
        }
        let mask =
            Tensor::<3, Bool>::from_data(TensorData::new(mask, [b, 1, 1]), &self.cbar.device())
                .expand([b, two, nk]);
        Batch {
            cbar: self.cbar.clone().mask_where(mask, c.clone()),
            ..self.clone()
        }
    }

    /// The sub-batch of the instances at `keep` (positions in this batch, in that order); the
    /// shared matrices are shared, not copied. How a running batch drops the instances whose
    /// problem is done.
    pub fn select(&self, keep: &[usize]) -> Batch {
        let device = self.cbar.device();
        let idx = index_tensor(keep, &device);
        Batch {
            size: keep.len(),
            robots: self.robots,
            obstacles: self.obstacles,
            k: self.k,
            samples: self.samples,
            dual_step: self.dual_step,
            cbar: self.cbar.clone().select(0, idx.clone()),
            cb: self.cb.clone().select(0, idx.clone()),
            incidence: self.incidence.clone(),
            pair_dist: self.pair_dist.clone().select(0, idx.clone()),
            obstacle_centre: self
                .obstacle_centre
                .as_ref()
                .map(|t| t.clone().select(0, idx.clone())),
            obstacle_dist: self
                .obstacle_dist
                .as_ref()
                .map(|t| t.clone().select(0, idx.clone())),
            lo: self.lo.clone().select(0, idx.clone()),
            hi: self.hi.clone().select(0, idx.clone()),
            speed: self.speed.clone().select(0, idx.clone()),
            accel: self.accel.clone().select(0, idx),
            k11: self.k11.clone(),
            gtg: self.gtg.clone(),
            gtg_inv: self.gtg_inv.clone(),
            pt: self.pt.clone(),
            p: self.p.clone(),
            pvt: self.pvt.clone(),
            pv: self.pv.clone(),
            pat: self.pat.clone(),
            pa: self.pa.clone(),
        }
    }

    /// Builds the batch; every instance must have the same robot count, obstacle count and
    /// (filter) sample count, and candidates of the filter's order.
    pub fn new(
        instances: &[Instance],
        settings: &FilterSettings,
        order: usize,
        device: &Device,
    ) -> Result<Self, InputError> {
        let first = instances.first().ok_or_else(|| {
            InputError::new(
                ErrorKind::Empty,
                "instances",
                "a batch needs at least one instance",
            )
        })?;
        let (n, o) = (first.problem.num_robots(), first.problem.obstacles.len());
        let m = settings.samples_for(first.problem);
        let k = order + 1;
        for (b, inst) in instances.iter().enumerate() {
            let p = inst.problem;
            let same_m = settings.samples_for(p) == m;
            if p.num_robots() != n || p.obstacles.len() != o || !same_m {
                return Err(InputError::new(
                    ErrorKind::Shape,
                    format!("instances[{b}]"),
                    "instances of one batch need equal robot, obstacle and sample counts",
                ));
            }
            if inst.candidate.len() != n
                || inst
                    .candidate
                    .iter()
                    .any(|c| c.x.len() != k || c.y.len() != k)
            {
                return Err(InputError::new(
                    ErrorKind::Shape,
                    format!("instances[{b}].candidate"),
                    format!("expected {n} robots x 2 axes x {k} coefficients"),
                ));
            }
        }
        let bsz = instances.len();
        let nk = n * k;
        let key = KktKey {
            robots: n,
            obstacles: o,
            samples: m,
            order,
            rho_bits: settings.rho.to_bits(),
            smoothing_bits: settings.smoothing.to_bits(),
        };
        let mats: std::sync::Arc<Kkt> = kkt(key);
        let t2 = |v: &[f32], shape: [usize; 2]| {
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), device)
        };
        let k11 = RobotMatrix::new(&mats.k11, device);
        let gtg = RobotMatrix::new(&mats.gtg, device);
        let gtg_inv = settings
            .exact_projection
            .then(|| RobotMatrix::new(&mats.gtg_inv, device));
        let p = t2(&mats.p, [m, k]);
        let pv = t2(&mats.pv, [m, k]);
        let pa = t2(&mats.pa, [m, k]);
        let k12 = t2(&mats.k12, [nk, BOUNDARY_ROWS * n]);

        let order_f = order as f64;
        let pairs = pair_order(n);
        let mut cbar = Vec::with_capacity(bsz * 2 * nk);
        let mut rhs = Vec::with_capacity(bsz * 2 * BOUNDARY_ROWS * n);
        let mut pair_dist = Vec::new();
        let mut centres = Vec::with_capacity(bsz * 2 * o);
        let mut obs_dist = Vec::with_capacity(bsz * n * o);
        let (mut lo, mut hi) = (
            Vec::with_capacity(bsz * 2 * n),
            Vec::with_capacity(bsz * 2 * n),
        );
        let (mut speed, mut accel) = (Vec::with_capacity(bsz), Vec::with_capacity(bsz));
        for inst in instances {
            let p = inst.problem;
            let t = p.horizon;
            for axis in 0..2 {
                for c in inst.candidate {
                    let v = if axis == 0 { &c.x } else { &c.y };
                    cbar.extend(v.iter().map(|&x| x as f32));
                }
                for r in &p.robots {
                    rhs.extend(
                        [
                            r.start[axis],
                            r.start_velocity[axis] * t / order_f,
                            r.start_acceleration[axis] * t * t / (order_f * (order_f - 1.0)),
                            r.goal[axis],
                            0.0,
                            0.0,
                        ]
                        .map(|v| v as f32),
                    );
                }
                for obstacle in &p.obstacles {
                    centres.push(obstacle.center[axis] as f32);
                }
                for r in &p.robots {
                    lo.push((p.workspace.min[axis] + r.radius) as f32);
                    hi.push((p.workspace.max[axis] - r.radius) as f32);
                }
            }
            for &(i, j) in &pairs {
                pair_dist.push((p.separation(i, j) + settings.clearance) as f32);
            }
            for r in &p.robots {
                for obstacle in &p.obstacles {
                    obs_dist.push((r.radius + obstacle.radius + settings.clearance) as f32);
                }
            }
            let keep = 1.0 - settings.limit_margin;
            speed.push((p.limits.max_speed * keep * t / order_f) as f32);
            accel.push((p.limits.max_accel * keep * t * t / (order_f * (order_f - 1.0))) as f32);
        }
        let np = pairs.len();
        let mut incidence = vec![0f32; n * np];
        for (p, &(i, j)) in pairs.iter().enumerate() {
            incidence[i * np + p] = 1.0;
            incidence[j * np + p] = -1.0;
        }
        let cbar = Tensor::<3>::from_data(TensorData::new(cbar, [bsz, 2, nk]), device);
        // cb = K12 b per axis: (B*2, 6N) @ K12' -> (B*2, NK).
        let b = Tensor::<2>::from_data(TensorData::new(rhs, [bsz * 2, BOUNDARY_ROWS * n]), device);
        let cb = b.matmul(k12.transpose()).reshape([bsz, 2, nk]);
        let (obstacle_centre, obstacle_dist) = if o > 0 {
            (
                Some(Tensor::<5>::from_data(
                    TensorData::new(centres, [bsz, 2, 1, o, 1]),
                    device,
                )),
                Some(Tensor::<5>::from_data(
                    TensorData::new(obs_dist, [bsz, 1, n, o, 1]),
                    device,
                )),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            size: bsz,
            robots: n,
            obstacles: o,
            k,
            samples: m,
            dual_step: settings.dual_step as f32,
            cbar,
            cb,
            incidence: Tensor::<4>::from_data(TensorData::new(incidence, [1, 1, n, np]), device),
            pair_dist: Tensor::<4>::from_data(TensorData::new(pair_dist, [bsz, 1, np, 1]), device),
            obstacle_centre,
            obstacle_dist,
            lo: Tensor::<4>::from_data(TensorData::new(lo, [bsz, 2, n, 1]), device),
            hi: Tensor::<4>::from_data(TensorData::new(hi, [bsz, 2, n, 1]), device),
            speed: Tensor::<4>::from_data(TensorData::new(speed, [bsz, 1, 1, 1]), device),
            accel: Tensor::<4>::from_data(TensorData::new(accel, [bsz, 1, 1, 1]), device),
            k11,
            gtg,
            gtg_inv,
            pt: p.clone().transpose(),
            p,
            pvt: pv.clone().transpose(),
            pv,
            pat: pa.clone().transpose(),
            pa,
        })
    }
}

/// A symmetric (N K) x (N K) matrix that treats the robots alike, I (x) dev + 1 1' (x) off
/// ([`RobotBlocks`]), on the device.
#[derive(Clone)]
pub struct RobotMatrix {
    /// dev: (K, K).
    dev: Tensor<2>,
    /// off: (K, K).
    off: Tensor<2>,
}

impl RobotMatrix {
    fn new(blocks: &RobotBlocks, device: &Device) -> Self {
        let t2 = |v: &[f32]| {
            Tensor::<2>::from_data(
                TensorData::new(v.to_vec(), [blocks.rows, blocks.cols]),
                device,
            )
        };
        Self {
            dev: t2(&blocks.dev),
            off: t2(&blocks.off),
        }
    }

    /// The matrix times coefficients `c` (B, 2, N K), per instance and axis: robot j gets
    /// c_j dev + (sum_i c_i) off. Two (K, K) matmuls instead of one (N K, N K): N times fewer
    /// flops.
    pub fn times(&self, c: Tensor<3>) -> Tensor<3> {
        let [b, _, nk] = c.dims();
        let k = self.dev.dims()[0];
        let n = nk / k;
        let own = c
            .clone()
            .reshape([b * 2 * n, k])
            .matmul(self.dev.clone())
            .reshape([b * 2, n, k]);
        let shared = c
            .reshape([b * 2, n, k])
            .sum_dim(1)
            .reshape([b * 2, k])
            .matmul(self.off.clone())
            .reshape([b * 2, 1, k]);
        (own + shared).reshape([b, 2, nk])
    }
}

/// Indices as an int tensor for `select`.
pub fn index_tensor(indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(values, [indices.len()]), device)
}
