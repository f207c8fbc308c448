//! What a server instance accepts and how it batches.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use flowopt_core::ValidationConfig;
use flowopt_planner::{
    DeviceChoice, FlowOptOptions, FlowOptSettings, GeneratorChoice, WarmStartChoice,
};

use crate::agents::AgentLimits;

/// Settings of [`crate::Server`]; the `flowopt serve` flags set them.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (default 127.0.0.1:8080).
    pub addr: SocketAddr,
    /// Where the neural planners run (default the CPU).
    pub device: DeviceChoice,
    /// Generator weights of the `flowopt` planner (default the shipped ones).
    pub generator: GeneratorChoice,
    /// Warm start of the safety filter (default the shipped one).
    pub warm_start: WarmStartChoice,
    /// Largest request body in bytes (default 4 MiB); larger bodies get 413.
    pub max_body_bytes: usize,
    /// Largest problems accepted (robots, obstacles, samples); larger ones get 422.
    pub limits: ValidationConfig,
    /// Most candidates a request may ask for (default 64).
    pub max_candidates: usize,
    /// The `flowopt` planner's settings under every request's options (default
    /// [`FlowOptSettings::default`]; `flowopt serve --tuning`).
    pub flowopt: FlowOptSettings,
    /// The `flowopt` options of requests that leave them unset (default none; `flowopt serve
    /// --candidates ...`). A request's own options take their place, and the result applies to
    /// [`Self::flowopt`] once.
    pub flowopt_options: FlowOptOptions,
    /// Most problems in one `POST /v1/plan/batch` (default 64).
    pub max_batch_request: usize,
    /// Deadline of a request when it sets none, and the longest it may set (default 30 s);
    /// a request still waiting or planning at its deadline gets 504.
    pub deadline: Duration,
    /// Plans waiting for the planners, beyond which requests get 429 (default 256).
    pub queue_capacity: usize,
    /// How long the inference worker waits to gather concurrent requests into one batch
    /// (default 2 ms).
    pub batch_window: Duration,
    /// Most problems in one batched generator + filter call (default 32).
    pub max_batch: usize,
    /// Plans by the CPU-only planners (`scp`, `orca`, `straight`) running at once, beyond
    /// which requests get 429 (default 2).
    pub cpu_workers: usize,
    /// Folder of agent checkpoints: every one is loaded at start-up, and `save`/`load` use it
    /// (default none: `flowopt serve` passes `assets/agents` when it exists).
    pub agents_dir: Option<PathBuf>,
    /// Bounds of the agent API.
    pub agent_limits: AgentLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            device: DeviceChoice::Cpu,
            generator: GeneratorChoice::Shipped,
            warm_start: WarmStartChoice::Shipped,
            max_body_bytes: 4 << 20,
            limits: ValidationConfig {
                max_robots: 64,
                max_obstacles: 256,
                max_samples: 1000,
            },
            max_candidates: 64,
            flowopt: FlowOptSettings::default(),
            flowopt_options: FlowOptOptions::default(),
            max_batch_request: 64,
            deadline: Duration::from_secs(30),
            queue_capacity: 256,
            batch_window: Duration::from_millis(2),
            max_batch: 32,
            cpu_workers: 2,
            agents_dir: None,
            agent_limits: AgentLimits::default(),
        }
    }
}
