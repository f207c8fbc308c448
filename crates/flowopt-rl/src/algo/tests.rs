//! Short training runs of every algorithm on small seeded data.

use burn::prelude::*;

use super::*;
use crate::Agent;
use crate::dataset::{Dataset, Quality};
use crate::env::{Bandit2d, EnvKind};
use crate::nets::Noise;
use crate::train::batch_of;

fn small() -> AgentConfig {
    AgentConfig {
        hidden: vec![64, 64],
        flow_steps: 5,
        learning_rate: 1e-3,
        ..Default::default()
    }
}

fn bandit_data() -> Dataset {
    Dataset::collect(EnvKind::Bandit2d, Quality::Noisy, 512, 3).expect("bandit data")
}

/// Trains `updates` times; returns the mean of each loss over the first and the last 20%.
fn run(agent: &mut Agent, data: &Dataset, updates: usize) -> Vec<(&'static str, f32, f32)> {
    let device = agent.training_device();
    let mut noise = Noise::new(7, &device);
    let mut history: Vec<Losses> = Vec::new();
    for step in 0..updates {
        let rows: Vec<usize> = (0..64).map(|i| (step * 64 + i * 7) % data.len()).collect();
        let batch = batch_of(data, &rows, &device);
        history.push(agent.update(&batch, &mut noise).expect("finite losses"));
    }
    let fifth = (updates / 5).max(1);
    let mean = |range: &[Losses], name: &str| -> f32 {
        let v: Vec<f32> = range
            .iter()
            .filter_map(|l| l.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
            .collect();
        v.iter().sum::<f32>() / v.len().max(1) as f32
    };
    history[0]
        .iter()
        .map(|(name, _)| {
            (
                *name,
                mean(&history[..fifth], name),
                mean(&history[updates - fifth..], name),
            )
        })
        .collect()
}

fn check_actions(agent: &Agent, obs_dim: usize) {
    let device = agent.device().clone();
    let policy = agent.policy();
    let obs = vec![vec![1.0; obs_dim]; 33];
    let actions = policy
        .act(&obs, &mut Noise::new(1, &device), &device)
        .expect("actions");
    assert_eq!(actions.len(), 33);
    for a in &actions {
        assert_eq!(a.len(), agent.act_dim());
        assert!(
            a.iter().all(|v| v.is_finite() && (-1.0..=1.0).contains(v)),
            "{a:?}"
        );
    }
}

#[test]
fn every_algorithm_lowers_its_losses_and_acts_in_range() {
    let data = bandit_data();
    // The losses each algorithm must lower; others (the -Q term, guidance) may go either way.
    let falling: &[(Algorithm, &[&str])] = &[
        (Algorithm::FlowBc, &["bc"]),
        (Algorithm::Fql, &["bc", "critic", "distill"]),
        (Algorithm::Gfp, &["vabc", "critic", "distill"]),
        (Algorithm::Qam, &["bc", "critic"]),
        (Algorithm::DecisionFlow, &["bc", "critic", "policy_bc"]),
    ];
    for &(algorithm, names) in falling {
        let device = Device::flex();
        let mut agent =
            Agent::new(algorithm, small(), data.obs_dim, data.act_dim, 0, &device).expect("agent");
        let losses = run(&mut agent, &data, 200);
        for name in names {
            let (_, first, last) = losses
                .iter()
                .find(|(n, ..)| n == name)
                .unwrap_or_else(|| panic!("{}: no loss `{name}` in {losses:?}", algorithm.name()));
            assert!(
                last < first,
                "{}: `{name}` went from {first} to {last}",
                algorithm.name()
            );
        }
        assert_eq!(agent.updates(), 200);
        check_actions(&agent, data.obs_dim);
    }
}

#[test]
fn fql_actor_matches_the_flow_when_alpha_is_large() {
    let data = bandit_data();
    let device = Device::flex();
    let config = AgentConfig {
        alpha: 1000.0,
        ..small()
    };
    let mut agent = Agent::new(
        Algorithm::Fql,
        config,
        data.obs_dim,
        data.act_dim,
        0,
        &device,
    )
    .expect("agent");
    run(&mut agent, &data, 400);
    let nets = agent.nets().valid();
    let (Some(actor), flow) = (&nets.actor, &nets.flow) else {
        panic!("FQL has an actor");
    };
    let mut noise = Noise::new(11, &device);
    let obs = Tensor::<2>::ones([256, data.obs_dim], &device);
    let z = noise.normal(256, data.act_dim);
    let one_step = actor.forward(obs.clone(), z.clone()).clamp(-1.0, 1.0);
    let ode = flow.sample(obs, z, agent.config().flow_steps);
    let gap = (one_step - ode.clone()).abs().mean().into_scalar::<f32>();
    let spread = (ode.clone() - ode.mean_dim(0))
        .abs()
        .mean()
        .into_scalar::<f32>();
    // The actor reproduces the flow's map from noise to action, not just its mean.
    assert!(gap < 0.1, "mean |mu - ODE| = {gap}");
    assert!(spread > 0.2, "the flow collapsed (spread {spread})");
}

#[test]
fn bad_configs_are_refused_naming_the_field() {
    for (config, field) in [
        (
            AgentConfig {
                hidden: vec![],
                ..Default::default()
            },
            "hidden",
        ),
        (
            AgentConfig {
                gamma: 1.5,
                ..Default::default()
            },
            "gamma",
        ),
        (
            AgentConfig {
                alpha: f32::NAN,
                ..Default::default()
            },
            "alpha",
        ),
        (
            AgentConfig {
                horizon: 4,
                execute: 5,
                ..Default::default()
            },
            "execute",
        ),
    ] {
        match config.validate() {
            Err(crate::RlError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!("nope".parse::<Algorithm>().is_err());
    assert_eq!("gfp".parse::<Algorithm>().ok(), Some(Algorithm::Gfp));
    let _ = Bandit2d::new();
}

#[test]
fn a_saved_agent_loads_into_a_fresh_one_with_the_same_policy() {
    let data = bandit_data();
    let device = Device::flex();
    let mut trained = Agent::new(
        Algorithm::Gfp,
        small(),
        data.obs_dim,
        data.act_dim,
        0,
        &device,
    )
    .expect("agent");
    run(&mut trained, &data, 20);
    let path = std::env::temp_dir().join(format!("flowopt-agent-{}", std::process::id()));
    trained.save(&path).expect("saved");
    let mut fresh = Agent::new(
        Algorithm::Gfp,
        small(),
        data.obs_dim,
        data.act_dim,
        5,
        &device,
    )
    .expect("agent");
    let obs = vec![vec![1.0]; 8];
    let act = |agent: &Agent| {
        agent
            .policy()
            .act(&obs, &mut Noise::new(4, &device), &device)
            .expect("actions")
    };
    assert_ne!(act(&trained), act(&fresh));
    fresh.load(&path).expect("loaded");
    assert_eq!(act(&trained), act(&fresh));
    // Another algorithm's networks do not fit.
    let mut other = Agent::new(
        Algorithm::Qam,
        small(),
        data.obs_dim,
        data.act_dim,
        0,
        &device,
    )
    .expect("agent");
    assert!(other.load(&path).is_err());
    let _ = std::fs::remove_file(path.with_extension("bpk"));
}
