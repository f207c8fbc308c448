//! Safety-filter timings (criterion): time for a fixed number of iterations for N = 8, 16, 32
//! robots and K = 1, 8, 32 candidates of one circle problem, batched (one call for all K) and as
//! a loop over the K candidates (K calls), on the flex CPU backend.
//!
//! A second group times whole projections to the default tolerance (1e-4 m, at most 200
//! iterations, residuals checked every 10) of K = 8 perturbed candidates, from the plain start
//! (cbar, 0) and from the shipped warm start (network time included).
//!
//! `cargo bench --bench filter` (add `-- --quick` for a short run).

use burn::tensor::Device;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowopt_core::{Coefficients, Scenario, ScenarioConfig};
use flowopt_filter::{FilterPlanner, FilterSettings, Instance, SafetyFilter, WarmStart};

const ITERATIONS: usize = 30;

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
            let candidates: Vec<Vec<Coefficients>> = (0..k)
                .map(|i| planner.candidates(&problem, i as u64).swap_remove(0))
                .collect();
            let instances: Vec<Instance> = candidates
                .iter()
                .map(|candidate| Instance {
                    problem: &problem,
                    candidate,
                })
                .collect();
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
        let instances: Vec<Instance> = candidates
            .iter()
            .map(|candidate| Instance {
                problem: &problem,
                candidate,
            })
            .collect();
        for (name, filter) in [("plain", &plain), ("warm", &warm)] {
            group.bench_function(BenchmarkId::new(format!("{name}/{scenario}"), n), |b| {
                b.iter(|| filter.project(&instances).expect("filter"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, filter_iterations, filter_to_tolerance);
criterion_main!(benches);
