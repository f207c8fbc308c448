//! The router ([`app`]): endpoints, body limit, request ids, tracing and request metrics.
//!
//! - `POST /v1/plan`, `POST /v1/plan/batch` ([`plan`])
//! - `GET /v1/planners`, `GET /v1/scenarios`, `GET /v1/scenarios/{name}`, `GET /healthz`,
//!   `GET /readyz`, `GET /metrics` ([`info`])
//! - `/v1/agents/...` ([`agents`])
//! - `GET /openapi.json` ([`openapi`]), and the visualizer and API docs pages ([`web`])

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::state::AppState;
use openapi::ApiDoc;

pub(crate) mod agents;
pub(crate) mod info;
pub(crate) mod openapi;
pub(crate) mod plan;
mod query;
mod web;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids `<process start in ms>-<counter>`, unless the client sent `x-request-id`.
#[derive(Clone)]
struct Counter {
    prefix: u128,
    next: Arc<AtomicU64>,
}

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:x}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Every endpoint of the service on `state`: what [`crate::Server`] serves, and what tests
/// call with `tower::ServiceExt::oneshot`, without a socket.
pub fn app(state: Arc<AppState>) -> Router {
    let counter = Counter {
        prefix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
        next: Arc::new(AtomicU64::new(0)),
    };
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/plan", post(plan::plan))
        .route("/v1/plan/batch", post(plan::plan_batch))
        .route("/v1/planners", get(info::planners))
        .route("/v1/scenarios", get(info::scenarios))
        .route("/v1/scenarios/{name}", get(info::scenario))
        .merge(agents::routes())
        .route("/healthz", get(info::healthz))
        .route("/readyz", get(info::readyz))
        .route("/metrics", get(info::metrics))
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .route("/docs", get(web::docs))
        .route("/", get(web::index))
        .route("/app.js", get(web::app))
        .route("/common.js", get(web::common))
        .route("/style.css", get(web::style))
        .route("/agents", get(web::agents))
        .route("/agents.js", get(web::agents_app))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    id,
                    method = %request.method(),
                    uri = %request.uri()
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, counter))
        .with_state(state)
}

/// Counts requests by route and status, times them, and tracks those in flight.
async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().to_string();
    let metrics = &state.metrics;
    let in_flight = InFlight::new(&metrics.in_flight);
    let started = Instant::now();
    let response = next.run(request).await;
    drop(in_flight);
    metrics
        .requests
        .with_label_values(&[&route, &method, response.status().as_str()])
        .inc();
    metrics
        .latency
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Counts a request in flight until dropped, also when the client goes away mid-request.
struct InFlight(prometheus::IntGauge);

impl InFlight {
    fn new(gauge: &prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
