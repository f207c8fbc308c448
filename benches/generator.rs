//! Generator latency (criterion): time to sample K = 8 candidates with 4 Euler steps for one
//! circle problem of N = 8, 16, 32 robots, for several model sizes (width x blocks), on the flex
//! CPU backend. Latency does not depend on the weights' values, so freshly initialised models
//! are timed; the parameter count of each is printed.
//!
//! `cargo bench --bench generator` (add `-- --quick` for a short run).

use burn::module::Module;
use burn::tensor::Device;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowopt_core::{Scenario, ScenarioConfig};
use flowopt_generator::{Conditioning, FlowSampler, GeneratorConfig, SampleSettings};

fn sample_latency(c: &mut Criterion) {
    let device = Device::flex();
    let mut group = c.benchmark_group("generate_K8_S4");
    group.sample_size(10);
    for (width, blocks) in [(64usize, 2usize), (64, 4), (96, 4), (128, 4)] {
        let config = GeneratorConfig {
            width,
            blocks,
            ..Default::default()
        };
        let net = config.init(&device);
        eprintln!(
            "width {width}, {blocks} blocks: {} parameters",
            net.num_params()
        );
        let sampler = FlowSampler::new(&net, SampleSettings::default());
        for n in [8usize, 16, 32] {
            let problem = Scenario::Circle
                .generate(&ScenarioConfig::new(n).seed(1))
                .expect("scenario");
            let cond = Conditioning::new(&[&problem], &device).expect("conditioning");
            group.bench_with_input(
                BenchmarkId::new(format!("w{width}b{blocks}"), n),
                &n,
                |b, _| {
                    b.iter(|| {
                        sampler
                            .sample(&cond, &[0], net.trajectory_dim())
                            .into_data()
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, sample_latency);
criterion_main!(benches);
