//! The read-only endpoints: planners, scenarios, health, readiness, metrics.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use flowopt_core::{DEFAULT_RADIUS, Problem, Scenario, ScenarioConfig};
use flowopt_planner::PLANNERS;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A planner the service offers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlannerInfo {
    /// Its name (the `planner` query parameter).
    pub name: String,
    /// What it does.
    pub description: String,
    /// Whether concurrent requests to it are batched into one call.
    pub batched: bool,
    /// Whether it is the default.
    pub default: bool,
}

/// A scenario family.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScenarioInfo {
    /// Its name.
    pub name: String,
    /// What it generates.
    pub description: String,
    /// Extra obstacles it adds unless told otherwise.
    pub default_obstacles: usize,
}

/// A status answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `ok`, `ready` or `shutting_down`.
    pub status: String,
}

/// The planners.
#[utoipa::path(get, path = "/v1/planners", responses((status = 200, body = Vec<PlannerInfo>)), tag = "catalog")]
pub async fn planners() -> Json<Vec<PlannerInfo>> {
    Json(
        PLANNERS
            .iter()
            .map(|(name, description)| PlannerInfo {
                name: name.to_string(),
                description: description.to_string(),
                batched: matches!(*name, "flowopt" | "filter"),
                default: *name == "flowopt",
            })
            .collect(),
    )
}

/// The scenario families.
#[utoipa::path(get, path = "/v1/scenarios", responses((status = 200, body = Vec<ScenarioInfo>)), tag = "catalog")]
pub async fn scenarios() -> Json<Vec<ScenarioInfo>> {
    Json(
        Scenario::ALL
            .iter()
            .map(|s| ScenarioInfo {
                name: s.name().into(),
                description: s.description().into(),
                default_obstacles: s.default_obstacles(),
            })
            .collect(),
    )
}

/// Parameters of a generated scenario.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScenarioQuery {
    /// Robots (default 8).
    pub robots: Option<usize>,
    /// Extra obstacles (default: the family's).
    pub obstacles: Option<usize>,
    /// Seed (default 0).
    pub seed: Option<u64>,
    /// Robot radius in metres (default 0.2).
    pub radius: Option<f64>,
}

/// A seeded problem of a scenario family, ready for `POST /v1/plan`.
#[utoipa::path(
    get,
    path = "/v1/scenarios/{name}",
    params(("name" = String, Path, description = "scenario family"), ScenarioQuery),
    responses(
        (status = 200, body = Problem),
        (status = 404, description = "No such family", body = ErrorBody),
        (status = 422, description = "Bad parameter", body = ErrorBody),
    ),
    tag = "catalog"
)]
pub async fn scenario(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    query: Result<Query<ScenarioQuery>, QueryRejection>,
) -> Result<Json<Problem>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        let text = rejection.body_text();
        // Name an unknown option (serde: "unknown field `x`, expected ...").
        let field = text
            .split("unknown field `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .unwrap_or("query")
            .to_string();
        ApiError::malformed(&field, text)
    })?;
    let scenario: Scenario = name
        .parse()
        .map_err(|e: flowopt_core::InputError| ApiError::NotFound(e.message))?;
    let robots = query.robots.unwrap_or(8);
    if robots > state.config.limits.max_robots {
        return Err(ApiError::Invalid(flowopt_core::InputError::new(
            flowopt_core::ErrorKind::TooMany,
            "robots",
            format!("at most {} robots", state.config.limits.max_robots),
        )));
    }
    if let Some(obstacles) = query.obstacles
        && obstacles > state.config.limits.max_obstacles
    {
        return Err(ApiError::Invalid(flowopt_core::InputError::new(
            flowopt_core::ErrorKind::TooMany,
            "obstacles",
            format!("at most {} obstacles", state.config.limits.max_obstacles),
        )));
    }
    let config = ScenarioConfig {
        robots,
        obstacles: query.obstacles,
        seed: query.seed.unwrap_or(0),
        radius: query.radius.unwrap_or(DEFAULT_RADIUS),
    };
    let problem = scenario.generate(&config).map_err(ApiError::input)?;
    Ok(Json(problem))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Status)), tag = "operations")]
pub async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// Readiness: the planners are loaded and the server is not shutting down.
#[utoipa::path(
    get,
    path = "/readyz",
    responses((status = 200, body = Status), (status = 503, body = Status)),
    tag = "operations"
)]
pub async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if state.ready.load(Ordering::SeqCst) {
        (
            StatusCode::OK,
            Json(Status {
                status: "ready".into(),
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Status {
                status: "shutting_down".into(),
            }),
        )
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)), tag = "operations")]
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
