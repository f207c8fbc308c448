//! [`Server`]: the service on a socket, with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::state::{AppState, ServerError};

/// The Flow-Opt HTTP service.
#[derive(Clone)]
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    /// Loads every planner once (the shipped weights unless the configuration names others)
    /// and starts the inference worker ([`AppState::new`]).
    pub fn new(config: ServerConfig) -> Result<Self, ServerError> {
        Ok(Self {
            state: Arc::new(AppState::new(config)?),
        })
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The axum router of every endpoint.
    pub fn router(&self) -> axum::Router {
        crate::app(self.state.clone())
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
