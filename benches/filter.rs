//! Safety-filter timings (criterion): time for a fixed number of iterations for N = 8, 16, 32
//! robots and K = 1, 8, 32 candidates of one circle problem, batched (one call for all K) and as
//! a loop over the K candidates (K calls), on the flex CPU backend.
//!
//! `cargo bench --bench filter` (add `-- --quick` for a short run).

use burn::tensor::Device;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowopt_core::{Coefficients, Scenario, ScenarioConfig};
use flowopt_filter::{FilterPlanner, FilterSettings, Instance, SafetyFilter};

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

criterion_group!(benches, filter_iterations);
criterion_main!(benches);
