//! The roofline figure behind `flowopt bench roofline`: the generator's and the safety
//! filter's achieved FLOP/s, each as a fraction of the same backend's measured matrix-multiply
//! rate on the same machine.
//!
//! FLOPs are counted analytically: [`flowopt_generator::GeneratorConfig::forward_flops`] (the
//! linear layers and attention products, 2 per multiply-add) and
//! [`flowopt_filter::flops::IterationShape::iteration_flops`] (the filter's products and its
//! element-wise row work). The generator's time is wall-clock with the result read back, so it
//! includes everything the sampler does (noise, element-wise work, dispatch); the filter's is
//! per iteration, the difference of two runs of different lengths divided by the extra
//! iterations, so it leaves out building the batch and reading the result back (on flex it
//! runs the fused CPU loops, on wgpu the composed tensor ops).

use std::time::Instant;

use burn::prelude::*;
use flowopt_core::{Problem, Scenario, ScenarioConfig};
use flowopt_filter::flops::IterationShape;
use flowopt_filter::{FilterSettings, Instance, SafetyFilter, perturbed_candidates};
use flowopt_generator::{Conditioning, FlowSampler, Generator, SampleSettings};
use serde::{Deserialize, Serialize};

/// The measured rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roofline {
    /// Best matrix-multiply rate over the sizes tried, GFLOP/s.
    pub matmul_gflops: f64,
    /// The square size that reached it.
    pub matmul_size: usize,
    /// Robots of the sampled problem (a circle).
    pub robots: usize,
    /// Candidates K and Euler steps S of each sampling.
    pub candidates: usize,
    /// Euler steps.
    pub steps: usize,
    /// FLOPs of one sampling (K candidates, S model passes).
    pub sample_gflop: f64,
    /// Median time of one sampling, ms.
    pub sample_ms: f64,
    /// Achieved rate, GFLOP/s.
    pub sample_gflops: f64,
    /// Achieved / matmul rate.
    pub fraction: f64,
    /// FLOPs of one filter iteration over the K candidates of the same problem (no warm
    /// start, the problem's samples).
    pub filter_iteration_gflop: f64,
    /// Median time of one filter iteration, ms.
    pub filter_iteration_ms: f64,
    /// The filter's achieved rate, GFLOP/s.
    pub filter_gflops: f64,
    /// The filter's achieved / matmul rate.
    pub filter_fraction: f64,
}

/// The median of timings (`repeats.max(1)` of them, so never empty).
fn median(mut v: Vec<f64>) -> f64 {
    super::median(&mut v).unwrap_or(f64::NAN)
}

/// The best rate of square `n x n` matrix products on `device` over `sizes`, GFLOP/s, and the
/// size reaching it (median of `repeats` timed products after one warm-up each).
pub fn matmul_peak(device: &Device, sizes: &[usize], repeats: usize) -> (f64, usize) {
    let mut best = (0.0, 0);
    for &n in sizes {
        let values: Vec<f32> = (0..n * n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let a = Tensor::<2>::from_data(TensorData::new(values.clone(), [n, n]), device);
        let b = Tensor::<2>::from_data(TensorData::new(values, [n, n]), device);
        let _ = a.clone().matmul(b.clone()).into_data();
        let times: Vec<f64> = (0..repeats.max(1))
            .map(|_| {
                let started = Instant::now();
                let _ = a.clone().matmul(b.clone()).into_data();
                started.elapsed().as_secs_f64()
            })
            .collect();
        let gflops = 2.0 * (n as f64).powi(3) / median(times) / 1e9;
        if gflops > best.0 {
            best = (gflops, n);
        }
    }
    best
}

/// Times the shipped generator sampling `candidates` candidates in `steps` Euler steps for a
/// circle problem of `robots` robots, and compares its rate with [`matmul_peak`].
pub fn roofline(
    device: &Device,
    robots: usize,
    candidates: usize,
    steps: usize,
    repeats: usize,
) -> anyhow::Result<Roofline> {
    let (matmul_gflops, matmul_size) = matmul_peak(device, &[256, 512, 1024], repeats);
    let generator = Generator::shipped(device)?;
    let problem = Scenario::Circle.generate(&ScenarioConfig::new(robots).seed(0))?;
    let cond = Conditioning::new(&[&problem], device)?;
    let settings = SampleSettings {
        candidates,
        steps,
        ..SampleSettings::default()
    };
    let sampler = FlowSampler::new(generator.net(), settings);
    let dim = generator.config().trajectory_dim();
    let _ = sampler.sample(&cond, &[0], dim).into_data();
    let times: Vec<f64> = (0..repeats.max(1))
        .map(|i| {
            let started = Instant::now();
            let _ = sampler.sample(&cond, &[i as u64], dim).into_data();
            started.elapsed().as_secs_f64()
        })
        .collect();
    let seconds = median(times);
    let map_tokens = 1 + problem.obstacles.len();
    let flop =
        generator.config().forward_flops(robots, map_tokens) * candidates as f64 * steps as f64;
    let sample_gflops = flop / seconds / 1e9;
    let (filter_flop, filter_seconds) = filter_iteration(device, &problem, candidates, repeats)?;
    let filter_gflops = filter_flop / filter_seconds / 1e9;
    Ok(Roofline {
        matmul_gflops,
        matmul_size,
        robots,
        candidates,
        steps,
        sample_gflop: flop / 1e9,
        sample_ms: seconds * 1e3,
        sample_gflops,
        fraction: sample_gflops / matmul_gflops,
        filter_iteration_gflop: filter_flop / 1e9,
        filter_iteration_ms: filter_seconds * 1e3,
        filter_gflops,
        filter_fraction: filter_gflops / matmul_gflops,
    })
}

/// FLOPs and median seconds of one safety-filter iteration on `candidates` perturbed
/// candidates of `problem` (no warm start, no early stop): the median time of a 60-iteration
/// run minus that of a 10-iteration one, each checking the residual once, over 50.
fn filter_iteration(
    device: &Device,
    problem: &Problem,
    candidates: usize,
    repeats: usize,
) -> anyhow::Result<(f64, f64)> {
    let (short, long) = (10, 60);
    let starts = perturbed_candidates(problem, candidates, 0.5, 0);
    let instances = Instance::each(problem, &starts);
    let filter = |iterations: usize| {
        SafetyFilter::new(
            FilterSettings {
                max_iterations: iterations,
                check_every: iterations,
                ..FilterSettings::default()
            },
            device.clone(),
        )
    };
    let (short_filter, long_filter) = (filter(short)?, filter(long)?);
    let time = |filter: &SafetyFilter| -> anyhow::Result<f64> {
        let started = Instant::now();
        let out = filter.project(&instances)?;
        anyhow::ensure!(out.len() == instances.len(), "the filter lost instances");
        Ok(started.elapsed().as_secs_f64())
    };
    time(&short_filter)?;
    time(&long_filter)?;
    let (mut shorts, mut longs) = (Vec::new(), Vec::new());
    for _ in 0..repeats.max(1) {
        shorts.push(time(&short_filter)?);
        longs.push(time(&long_filter)?);
    }
    let seconds = (median(longs) - median(shorts)) / (long - short) as f64;
    anyhow::ensure!(
        seconds > 0.0,
        "a filter run of {long} iterations was not slower than one of {short}: timing noise; \
         use more --repeats"
    );
    let shape = IterationShape::of(problem, problem.samples);
    Ok((shape.iteration_flops() * candidates as f64, seconds))
}
