//! The shared state of the handlers and the [`Server`] that builds it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use flowopt_core::Planner;
use flowopt_planner::{
    FlowOptPlanner, FlowOptSettings, PlannerOptions, RegistryError, planner_by_name,
};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::agents::store::AgentStore;
use crate::batcher::{Batcher, NeuralPlanners};
use crate::config::ServerConfig;
use crate::metrics::Metrics;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A planner (weights, device) could not be loaded.
    #[error("loading the planners")]
    Planner(#[from] RegistryError),
    /// The generator weights could not be loaded.
    #[error("loading the generator")]
    Generator(#[from] flowopt_generator::GeneratorError),
    /// The warm start could not be loaded.
    #[error("loading the warm start")]
    WarmStart(#[from] flowopt_filter::WarmStartError),
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
    /// The default `flowopt` options; requests may change some of them.
    pub flowopt_defaults: FlowOptSettings,
    /// Metrics.
    pub metrics: Metrics,
    /// The RL agents.
    pub agents: AgentStore,
    /// False once shutdown has begun (`/readyz` then answers 503).
    pub ready: AtomicBool,
}

/// The Flow-Opt HTTP service.
#[derive(Clone)]
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    /// Loads every planner once (the shipped weights unless the configuration names others)
    /// and starts the inference worker.
    pub fn new(config: ServerConfig) -> Result<Self, ServerError> {
        let device = config.device.device();
        let flowopt_defaults = FlowOptSettings::default();
        let flowopt = FlowOptPlanner::new(
            config.generator.load(&device)?,
            config.warm_start.load(&device)?,
            flowopt_defaults,
            device,
        )?;
        let options = PlannerOptions {
            device: config.device,
            warm_start: config.warm_start.clone(),
            generator: config.generator.clone(),
            flowopt: flowopt_defaults,
        };
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
            state: Arc::new(AppState {
                agents,
                cpu_slots: Arc::new(Semaphore::new(config.cpu_workers.max(1))),
                config,
                batcher,
                cpu_planners,
                flowopt_defaults,
                metrics,
                ready: AtomicBool::new(true),
            }),
        })
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The axum router of every endpoint.
    pub fn router(&self) -> axum::Router {
        crate::routes::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting connections,
    /// answers `/readyz` with 503 and finishes the requests in flight.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let signal = async move {
            shutdown.await;
            state.ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: finishing requests in flight");
        };
        axum::serve(listener, self.router())
            .with_graceful_shutdown(signal)
            .await
    }
}
