//! The Flow-Opt HTTP planning service (DESIGN.md sections 6-7).
//!
//! An axum router over the planners of [`flowopt_planner`]: `POST /v1/plan` takes the same
//! problem document as `flowopt plan` and answers with the same plan; concurrent requests to
//! the neural planners are gathered by an inference worker thread into batched generator and
//! filter calls ([`batcher`]), so Burn never blocks the tokio runtime. Requests are bounded
//! (body size, robots, obstacles, candidates, queue length, deadline) and refused with
//! `{"error":{"code","message","field"}}` and a 4xx/5xx status ([`ApiError`]). Also served:
//! Prometheus metrics, the OpenAPI document and the browser visualizer (`web/`). The RL
//! flow-policy agents of [`flowopt_rl`] are served under `/v1/agents` (the store in
//! [`agents`]).
//!
//! [`app`] builds the router over an [`AppState`] (what tests call with
//! `tower::ServiceExt::oneshot`, without a socket); [`Server`] loads the planners and serves
//! it with graceful shutdown. Every handler takes its JSON body through [`JsonBody`], so bad
//! bodies get the same 415/413/400 answers everywhere; a plan request's query options are its
//! own and the `flowopt` planner's ([`flowopt_planner::FlowOptOptions`]), and an unknown one is
//! a 400 naming it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use flowopt_server::{Server, ServerConfig};
//! let server = Server::new(ServerConfig::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! server.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod agents;
pub mod batcher;
mod config;
mod error;
mod json;
mod metrics;
mod routes;
mod server;
mod state;

pub use agents::AgentLimits;
pub use config::ServerConfig;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use json::{Document, JsonBody};
pub use metrics::Metrics;
pub use routes::app;
pub use routes::info::{PlannerInfo, ScenarioInfo, Status};
pub use routes::openapi::ApiDoc;
pub use routes::plan::{BatchRequest, BatchResponse, PlanQuery};
pub use server::Server;
pub use state::{AppState, ServerError};
