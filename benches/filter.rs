//! Safety-filter timings (criterion): time for a fixed number of iterations for N = 8, 16, 32
//! robots and K = 1, 8, 32 candidates of one circle problem, batched (one call for all K) and as
//! a loop over the K candidates (K calls), on the flex CPU backend.
//!
//! A second group times whole projections to the default tolerance (1e-4 m, at most 200
//! iterations, residuals checked every 10) of K = 8 perturbed candidates, from the plain start
//! (cbar, 0) and from the shipped warm start (network time included).
//!
//! A third group compares the two ways of applying the pair rows of G and G' (the bulk of the
//! constraint rows) for N = 16, K = 32: the structured form the solver uses (positions by one
//! small matmul, pair differences as slices, G'r by the robot-pair incidence matmul) against a
//! materialised dense G (N K x P M per axis) and its transpose.
//!
//! `cargo bench --bench filter` (add `-- --quick` for a short run).

use burn::tensor::{Device, Tensor, TensorData};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowopt_core::{Coefficients, Problem, Scenario, ScenarioConfig};
use flowopt_filter::{Batch, FilterSettings, Instance, SafetyFilter, WarmStart, pair_order};
use flowopt_planner::FilterPlanner;

const ITERATIONS: usize = 30;

/// `k` candidates of `problem`: the first perturbation of each of the seeds 0..k.
fn one_per_seed(planner: &FilterPlanner, problem: &Problem, k: usize) -> Vec<Vec<Coefficients>> {
    (0..k)
        .map(|i| planner.candidates(problem, i as u64).swap_remove(0))
        .collect()
}

fn filter_iterations(c: &mut Criterion) {
    let device = Device::flex();
    let settings = FilterSettings {
        max_iterations: ITERATIONS,
        tolerance: 1e-12, // never stop early: time exactly ITERATIONS iterations
        check_every: ITERATIONS,
        ..Default::default()
    };
    let filter = SafetyFilter::new(settings.clone(), device.clone()).expect("settings");
    let mut group = c.benchmark_group(format!("filter_{ITERATIONS}_iterations"));
    group.sample_size(10);
    for n in [8usize, 16, 32] {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(n).seed(1))
            .expect("scenario");
        let planner = FilterPlanner::new(settings.clone(), device.clone()).expect("planner");
        for k in [1usize, 8, 32] {
            let candidates = one_per_seed(&planner, &problem, k);
            let instances = Instance::each(&problem, &candidates);
            group.bench_with_input(BenchmarkId::new(format!("batched/N{n}"), k), &k, |b, _| {
                b.iter(|| filter.project(&instances).expect("filter"))
            });
            if k > 1 {
                group.bench_with_input(BenchmarkId::new(format!("loop/N{n}"), k), &k, |b, _| {
                    b.iter(|| {
                        for inst in &instances {
                            let one = [Instance {
                                problem: inst.problem,
                                candidate: inst.candidate,
                            }];
                            filter.project(&one).expect("filter");
                        }
                    })
                });
            }
        }
    }
    group.finish();
}

fn filter_to_tolerance(c: &mut Criterion) {
    let device = Device::flex();
    let settings = FilterSettings::default();
    let plain = SafetyFilter::new(settings.clone(), device.clone()).expect("settings");
    let warm = plain
        .clone()
        .with_warm_start(WarmStart::shipped(&device).expect("shipped warm start"));
    let planner = FilterPlanner::new(settings, device).expect("planner");
    let mut group = c.benchmark_group("filter_to_tolerance");
    group.sample_size(10);
    for (scenario, n) in [(Scenario::Random, 8usize), (Scenario::Random, 16)] {
        let problem = scenario
            .generate(&ScenarioConfig::new(n).seed(3))
            .expect("scenario");
        let candidates = planner.candidates(&problem, 0);
        let instances = Instance::each(&problem, &candidates);
        for (name, filter) in [("plain", &plain), ("warm", &warm)] {
            group.bench_function(BenchmarkId::new(format!("{name}/{scenario}"), n), |b| {
                b.iter(|| filter.project(&instances).expect("filter"))
            });
        }
    }
    group.finish();
}

fn dense_vs_structured(c: &mut Criterion) {
    let device = Device::flex();
    let settings = FilterSettings::default();
    let (n, k) = (16usize, 32usize);
    let problem = Scenario::Circle
        .generate(&ScenarioConfig::new(n).seed(1))
        .expect("scenario");
    let planner = FilterPlanner::new(settings.clone(), device.clone()).expect("planner");
    let candidates = one_per_seed(&planner, &problem, k);
    let instances = Instance::each(&problem, &candidates);
    let batch =
        Batch::new(&instances, &settings, flowopt_core::DEFAULT_ORDER, &device).expect("batch");
    let (b, kk, m) = (batch.size, batch.k, batch.samples);
    let pairs = pair_order(n);
    let np = pairs.len();
    // Dense pair rows of G per axis: (N K, P M), column p M + t = P[t] (e_i - e_j).
    let p_host: Vec<f32> = batch.p.clone().into_data().try_to_vec::<f32>().expect("P");
    let mut g = vec![0f32; n * kk * np * m];
    for (p, &(i, j)) in pairs.iter().enumerate() {
        for t in 0..m {
            for a in 0..kk {
                let v = p_host[t * kk + a];
                g[(i * kk + a) * np * m + p * m + t] += v;
                g[(j * kk + a) * np * m + p * m + t] -= v;
            }
        }
    }
    let g = Tensor::<2>::from_data(TensorData::new(g, [n * kk, np * m]), &device);
    let gt = Tensor::<2>::from_data(g.clone().transpose().into_data(), &device);
    let cbar = batch.cbar.clone();
    let mut group = c.benchmark_group("pair_rows_N16_K32");
    group.sample_size(20);
    group.bench_function("structured G c and G'r", |bench| {
        bench.iter(|| {
            let x = cbar
                .clone()
                .reshape([b * 2 * n, kk])
                .matmul(batch.pt.clone())
                .reshape([b, 2, n, m]);
            let d = Tensor::cat(
                (1..n)
                    .map(|s| x.clone().narrow(2, 0, n - s) - x.clone().narrow(2, s, n - s))
                    .collect(),
                2,
            );
            batch
                .incidence
                .clone()
                .matmul(d)
                .reshape([b * 2 * n, m])
                .matmul(batch.p.clone())
        })
    });
    group.bench_function("dense G c and G'r", |bench| {
        bench.iter(|| {
            let d = cbar.clone().reshape([b * 2, n * kk]).matmul(g.clone());
            d.matmul(gt.clone())
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    filter_iterations,
    filter_to_tolerance,
    dense_vs_structured
);
criterion_main!(benches);
