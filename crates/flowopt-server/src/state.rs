//! The state every handler shares ([`AppState`]) and how it is built from a [`ServerConfig`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use flowopt_core::Planner;
use flowopt_planner::{
    FlowOptOptions, FlowOptSettings, PlannerOptions, RegistryError, flowopt_planner,
    planner_by_name,
};
use tokio::sync::Semaphore;

use crate::agents::AgentStore;
use crate::batcher::{Batcher, NeuralPlanners};
use crate::config::ServerConfig;
use crate::metrics::Metrics;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A planner (weights, device) could not be loaded.
    #[error("loading the planners")]
    Planner(#[from] RegistryError),
    /// Bad settings.
    #[error(transparent)]
    Input(#[from] flowopt_core::InputError),
    /// Metrics registration failed.
    #[error("registering the metrics")]
    Metrics(#[from] prometheus::Error),
    /// Socket or thread errors.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What every handler shares.
pub struct AppState {
    /// The configuration.
    pub config: ServerConfig,
    /// The inference worker's queue (`flowopt`, `filter`).
    pub batcher: Batcher,
    /// The CPU-only planners (`scp`, `orca`, `straight`), run on tokio's blocking pool.
    pub cpu_planners: BTreeMap<&'static str, Arc<dyn Planner>>,
    /// Bounds the CPU-only plans running at once.
    pub cpu_slots: Arc<Semaphore>,
    /// The `flowopt` settings under every request's options ([`ServerConfig::flowopt`]).
    pub flowopt_base: FlowOptSettings,
    /// The `flowopt` options of requests that leave them unset
    /// ([`ServerConfig::flowopt_options`]).
    pub flowopt_options: FlowOptOptions,
    /// Metrics.
    pub metrics: Metrics,
    /// The RL agents.
    pub agents: AgentStore,
    /// False once shutdown has begun (`/readyz` then answers 503).
    pub ready: AtomicBool,
}

impl AppState {
    /// Loads every planner once (the shipped weights unless the configuration names others)
    /// and starts the inference worker.
    pub fn new(config: ServerConfig) -> Result<Self, ServerError> {
        let flowopt_base = config.flowopt;
        let flowopt_options = config.flowopt_options;
        let candidates = flowopt_options
            .candidates
            .unwrap_or(flowopt_base.candidates);
        if candidates > config.max_candidates {
            return Err(ServerError::Input(flowopt_core::InputError::new(
                flowopt_core::ErrorKind::OutOfRange,
                "candidates",
                format!(
                    "the default {candidates} candidates exceed --max-candidates {}",
                    config.max_candidates
                ),
            )));
        }
        let flowopt_defaults = flowopt_options.apply(flowopt_base)?;
        let options = PlannerOptions {
            device: config.device,
            warm_start: config.warm_start.clone(),
            generator: config.generator.clone(),
            flowopt: flowopt_defaults,
        };
        let flowopt = flowopt_planner(&options)?;
        let filter = planner_by_name("filter", &options)?;
        let mut cpu_planners: BTreeMap<&'static str, Arc<dyn Planner>> = BTreeMap::new();
        for name in ["scp", "orca", "straight"] {
            let planner: Arc<dyn Planner> = planner_by_name(name, &options)?.into();
            cpu_planners.insert(planner.name(), planner);
        }
        let metrics = Metrics::new()?;
        let batcher = Batcher::start(
            NeuralPlanners { flowopt, filter },
            config.queue_capacity,
            config.batch_window,
            config.max_batch,
            metrics.clone(),
        )?;
        let agents = AgentStore::new(
            config.agents_dir.clone(),
            config.device.device(),
            config.agent_limits.clone(),
        );
        Ok(Self {
            agents,
            cpu_slots: Arc::new(Semaphore::new(config.cpu_workers.max(1))),
            config,
            batcher,
            cpu_planners,
            flowopt_base,
            flowopt_options,
            metrics,
            ready: AtomicBool::new(true),
        })
    }
}
