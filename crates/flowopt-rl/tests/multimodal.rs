//! On `bandit2d`, whose expert data has four modes, a flow policy keeps several modes while a
//! Gaussian policy fitted to the same data (its maximum-likelihood fit: mean and per-axis
//! standard deviation) puts its mass between them.

use burn::prelude::*;
use flowopt_rl::env::Bandit2d;
use flowopt_rl::nets::Noise;
use flowopt_rl::train::batch_of;
use flowopt_rl::{Agent, AgentConfig, Algorithm, Dataset, EnvKind, Quality};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Fraction of `actions` within 0.2 of each mode, and of all of them near some mode.
fn mode_mass(actions: &[[f32; 2]]) -> ([f32; 4], f32) {
    let mut per_mode = [0.0f32; 4];
    for a in actions {
        let k = Bandit2d::nearest_mode(*a);
        let (c, _) = Bandit2d::MODES[k];
        if (a[0] - c[0]).hypot(a[1] - c[1]) < 0.2 {
            per_mode[k] += 1.0 / actions.len() as f32;
        }
    }
    (per_mode, per_mode.iter().sum())
}

#[test]
fn a_flow_policy_keeps_the_modes_that_a_gaussian_averages_away() {
    let data = Dataset::collect(EnvKind::Bandit2d, Quality::Expert, 2000, 0).expect("data");
    let device = Device::flex();
    let config = AgentConfig {
        hidden: vec![64, 64],
        flow_steps: 10,
        learning_rate: 1e-3,
        ..Default::default()
    };
    let mut agent = Agent::new(Algorithm::FlowBc, config, 1, 2, 0, &device).expect("agent");
    let train = agent.training_device();
    let mut noise = Noise::new(0, &train);
    for step in 0..4000 {
        let rows: Vec<usize> = (0..128)
            .map(|i| (step * 128 + i * 13) % data.len())
            .collect();
        agent
            .update(&batch_of(&data, &rows, &train), &mut noise)
            .expect("update");
    }
    let policy = agent.policy();
    let flow: Vec<[f32; 2]> = policy
        .act(&vec![vec![1.0]; 2000], &mut Noise::new(1, &device), &device)
        .expect("actions")
        .into_iter()
        .map(|a| [a[0], a[1]])
        .collect();

    // The Gaussian policy: maximum-likelihood fit to the data's actions.
    let n = data.len() as f32;
    let mut mean = [0.0f32; 2];
    let mut var = [0.0f32; 2];
    for a in data.actions.chunks(2) {
        mean[0] += a[0] / n;
        mean[1] += a[1] / n;
    }
    for a in data.actions.chunks(2) {
        var[0] += (a[0] - mean[0]).powi(2) / n;
        var[1] += (a[1] - mean[1]).powi(2) / n;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let axes = [0, 1].map(|d| Normal::new(mean[d], var[d].sqrt()).expect("finite"));
    let gaussian: Vec<[f32; 2]> = (0..2000)
        .map(|_| {
            [
                axes[0].sample(&mut rng).clamp(-1.0, 1.0),
                axes[1].sample(&mut rng).clamp(-1.0, 1.0),
            ]
        })
        .collect();

    let (flow_modes, flow_near) = mode_mass(&flow);
    let (gauss_modes, gauss_near) = mode_mass(&gaussian);
    let (data_modes, _) = mode_mass(
        &data
            .actions
            .chunks(2)
            .map(|a| [a[0], a[1]])
            .collect::<Vec<_>>(),
    );
    eprintln!(
        "mass within 0.2 of each mode: data {data_modes:.2?}, flow {flow_modes:.2?} \
         (total {flow_near:.2}), gaussian {gauss_modes:.2?} (total {gauss_near:.2})"
    );
    let flow_kept = flow_modes.iter().filter(|&&m| m >= 0.08).count();
    assert!(
        flow_kept >= 3,
        "the flow kept {flow_kept} modes: {flow_modes:?}"
    );
    assert!(
        flow_near >= 0.6,
        "only {flow_near} of the flow's samples are near a mode"
    );
    assert!(gauss_near < 0.2, "the Gaussian put {gauss_near} near modes");
}
