//! Flow matching (DESIGN.md section 4): x_t = (1 - t) x0 + t x1 with x0 ~ N(0, I). The network
//! predicts the clean trajectory x1_hat(x_t, t) and the velocity is v = (x1_hat - x_t) / (1 - t),
//! the same field as DESIGN's velocity regression (the optimum of both is the posterior mean),
//! trained with the loss |x1_hat - x1|^2 = (1 - t)^2 |v - (x1 - x0)|^2. DESIGN's unweighted
//! velocity loss stalled at ~1/6 of its initial value on a four-example overfit test (the
//! network must recover x0 from x_t, ill-conditioned as t -> 1), while this one falls below
//! 1/10. Sampling integrates dx/dt = v(x, t) from noise at t = 0 to t = 1 with Euler or midpoint
//! steps (never evaluated at t = 1; the last Euler step lands exactly on x1_hat), K candidates
//! per problem in one batch.
//!
//! Noise is drawn on the host from a seeded ChaCha stream per problem, so a problem's
//! candidates depend only on its seed (not on the rest of the batch, nor on the device).

use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::conditioning::Conditioning;
use crate::model::{GeneratorNet, MapMemory};

/// Standard-normal noise of shape (B, N, D) with rows beyond each entry's robot count zero; the
/// values of entry i come from `rngs[i]` in row-major order.
fn masked_noise(
    rngs: &mut [ChaCha8Rng],
    counts: &[usize],
    n: usize,
    d: usize,
    device: &Device,
) -> Tensor<3> {
    let mut data = vec![0f32; counts.len() * n * d];
    for (i, (rng, &count)) in rngs.iter_mut().zip(counts).enumerate() {
        for v in &mut data[i * n * d..(i * n + count) * d] {
            *v = rng.sample(StandardNormal);
        }
    }
    Tensor::from_data(TensorData::new(data, [counts.len(), n, d]), device)
}

/// The flow-matching loss of `model` on targets `x1` (B, N, 2K; zero on padded robots): the
/// mean squared error of the predicted clean trajectory over real robots' values, with noise
/// and times drawn from `rng`.
pub fn loss(
    model: &GeneratorNet,
    x1: Tensor<3>,
    cond: &Conditioning,
    rng: &mut ChaCha8Rng,
) -> Tensor<1> {
    let [b, n, d] = x1.dims();
    let device = x1.device();
    let mut rngs: Vec<ChaCha8Rng> = (0..b)
        .map(|_| ChaCha8Rng::seed_from_u64(rng.random()))
        .collect();
    let x0 = masked_noise(&mut rngs, &cond.robot_counts, n, d, &device);
    let times: Vec<f32> = (0..b).map(|_| rng.random::<f32>()).collect();
    let t = Tensor::<1>::from_data(TensorData::new(times, [b]), &device);
    let t3 = t.clone().reshape([b, 1, 1]);
    let x_t = x0.clone() * (t3.clone().neg() + 1.0) + x1.clone() * t3;
    let err = (model.forward(x_t, t, cond) - x1) * cond.robot_mask.clone();
    let real: usize = cond.robot_counts.iter().sum();
    err.square().sum() / (real * d) as f32
}

/// How candidates are integrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Integrator {
    /// Explicit Euler: one model call per step.
    #[default]
    Euler,
    /// Midpoint (second order): two model calls per step.
    Midpoint,
}

impl std::str::FromStr for Integrator {
    type Err = flowopt_core::InputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "euler" => Ok(Self::Euler),
            "midpoint" => Ok(Self::Midpoint),
            _ => Err(flowopt_core::InputError::new(
                flowopt_core::ErrorKind::OutOfRange,
                "integrator",
                format!("unknown integrator `{s}`; expected euler or midpoint"),
            )),
        }
    }
}

/// Sampling settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleSettings {
    /// Candidates K per problem (default 8).
    pub candidates: usize,
    /// Integration steps S (default 4).
    pub steps: usize,
    /// Integrator (default Euler).
    pub integrator: Integrator,
}

impl Default for SampleSettings {
    fn default() -> Self {
        Self {
            candidates: 8,
            steps: 4,
            integrator: Integrator::Euler,
        }
    }
}

/// Draws candidates from a trained model.
pub struct FlowSampler<'a> {
    model: &'a GeneratorNet,
    settings: SampleSettings,
    lanes: usize,
}

impl<'a> FlowSampler<'a> {
    /// A sampler of `model` with `settings`.
    pub fn new(model: &'a GeneratorNet, settings: SampleSettings) -> Self {
        Self {
            model,
            settings,
            lanes: 0,
        }
    }

    /// Integrates the batch's entries in `lanes` blocks in parallel, each on its own worker
    /// of rayon's pool (default 0: one per worker on the CPU backend, one on a GPU). Most of
    /// the model's ops are too small for flex to split over threads; blocks of entries keep
    /// every core busy. The samples do not depend on it beyond f32 rounding.
    pub fn with_lanes(mut self, lanes: usize) -> Self {
        self.lanes = lanes;
        self
    }

    /// K candidates for each of the B problems of `cond` (one seed per problem): (B K, N, 2K),
    /// problem-major (candidate j of problem i at row i K + j).
    pub fn sample(&self, cond: &Conditioning, seeds: &[u64], dim: usize) -> Tensor<3> {
        let k = self.settings.candidates.max(1);
        // The map is encoded once per problem, not at every step for every candidate.
        let memory = self.model.memory(cond).repeat(k);
        let cond = cond.repeat(k);
        let [bk, n, _] = cond.robots.dims();
        let device = cond.robots.device();
        // One stream per problem, consumed candidate by candidate.
        let mut rngs: Vec<ChaCha8Rng> = seeds
            .iter()
            .map(|&s| ChaCha8Rng::seed_from_u64(s))
            .collect();
        let mut per_entry: Vec<ChaCha8Rng> = Vec::with_capacity(bk);
        for rng in &mut rngs {
            for _ in 0..k {
                per_entry.push(ChaCha8Rng::seed_from_u64(rng.random()));
            }
        }
        let x = masked_noise(&mut per_entry, &cond.robot_counts, n, dim, &device);
        let on_cpu = x.clone().try_into_primitive::<Flex>().is_ok();
        let lanes = flowopt_core::lanes(self.lanes, on_cpu).clamp(1, bk.max(1));
        if lanes == 1 {
            return self.integrate(x, &cond, &memory);
        }
        let blocks: Vec<Tensor<3>> = (0..lanes)
            .into_par_iter()
            .map(|l| {
                let rows = l * bk / lanes..(l + 1) * bk / lanes;
                self.integrate(
                    x.clone().slice(rows.clone()),
                    &cond.rows(rows.clone()),
                    &memory.rows(rows),
                )
            })
            .collect();
        Tensor::cat(blocks, 0)
    }

    /// Integrates noise `x` (B, N, D) from t = 0 to 1 under `cond` (B entries) with its map
    /// side `memory`.
    fn integrate(&self, mut x: Tensor<3>, cond: &Conditioning, memory: &MapMemory) -> Tensor<3> {
        let [bk, ..] = x.dims();
        let device = x.device();
        let steps = self.settings.steps.max(1);
        let dt = 1.0 / steps as f32;
        let velocity = |x: Tensor<3>, t: f32| -> Tensor<3> {
            let clean = self.model.forward_with(
                x.clone(),
                Tensor::<1>::full([bk], t, &device),
                cond,
                memory,
            );
            (clean - x) / (1.0 - t)
        };
        for s in 0..steps {
            let t = s as f32 * dt;
            let v = velocity(x.clone(), t);
            x = match self.settings.integrator {
                Integrator::Euler => x + v * dt,
                Integrator::Midpoint => {
                    let mid = x.clone() + v * (0.5 * dt);
                    x + velocity(mid, t + 0.5 * dt) * dt
                }
            };
        }
        x * cond.robot_mask.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lanes are an execution detail: one, two or three blocks of entries (the 2 x 3
    /// candidates of two problems of unequal robot counts) give the same samples up to f32
    /// rounding.
    #[test]
    fn lanes_do_not_change_the_samples() {
        let _serial = crate::test_lock();
        let device = Device::flex();
        let config = crate::config::tiny();
        let net = config.build_seeded(&device, 3, false);
        let [a, b] = crate::config::unequal_problems();
        let cond = Conditioning::new(&[&a, &b], &device).unwrap();
        let settings = SampleSettings {
            candidates: 3,
            steps: 3,
            ..Default::default()
        };
        let sample = |lanes| {
            FlowSampler::new(&net, settings)
                .with_lanes(lanes)
                .sample(&cond, &[5, 6], net.trajectory_dim())
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap()
        };
        let one = sample(1);
        assert!(one.iter().any(|v| v.abs() > 1e-3), "trivial samples");
        for lanes in [2, 3] {
            let diff = sample(lanes)
                .iter()
                .zip(&one)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(diff < 1e-5, "{lanes} lanes differ by {diff}");
        }
    }
}
