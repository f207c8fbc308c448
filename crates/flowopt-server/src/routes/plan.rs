//! `POST /v1/plan` and `POST /v1/plan/batch`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowopt_core::vda5050::{PlanWithVda5050, Vda5050Export};
use flowopt_core::{InputError, Plan, PlanOptions, Problem};
use flowopt_planner::FlowOptSettings;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tracing::Instrument;
use utoipa::{IntoParams, ToSchema};

use crate::batcher::{Job, PlannerKey};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Options of a plan request, as query parameters (the body is the problem itself, the same
/// document `flowopt plan` reads).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// Planner: flowopt (default), filter, scp, orca, straight.
    pub planner: Option<String>,
    /// Seed of every random choice (default 0); the same seed gives the same plan.
    pub seed: Option<u64>,
    /// `flowopt`: candidates sampled (default 4, `flowopt_planner::CANDIDATES`).
    pub candidates: Option<usize>,
    /// `flowopt`: candidates sampled for a problem on an open floor, where no robot's straight
    /// line crosses an obstacle, at most `candidates` (default 2,
    /// `flowopt_planner::OPEN_CANDIDATES`; 0: `candidates`). Not applied with
    /// `return_candidates`.
    pub open_candidates: Option<usize>,
    /// `flowopt`: flow integration steps (default 4).
    pub flow_steps: Option<usize>,
    /// `flowopt`: flow integration steps for a problem on an open floor, at most `flow_steps`
    /// (default 1, `flowopt_planner::OPEN_FLOW_STEPS`; 0: `flow_steps`). Not applied with
    /// `return_candidates`.
    pub open_flow_steps: Option<usize>,
    /// `flowopt`: most safety-filter iterations per pass (default 2000,
    /// `flowopt_planner::FILTER_ITERATIONS`).
    pub filter_iterations: Option<usize>,
    /// `flowopt`: also return every feasible filtered candidate (default false); every
    /// candidate then runs to convergence (no successive halving) instead of stopping at the
    /// first verified one.
    pub return_candidates: Option<bool>,
    /// `flowopt`: most iterations of a polishing filter pass that smooths plans around
    /// obstacles, kept where it passes the check and is smoother (default 500,
    /// `flowopt_planner::POLISH_ITERATIONS`; 0: off).
    pub polish_iterations: Option<usize>,
    /// `flowopt`: weight of the smoothness term in the polishing pass (default 30).
    pub polish_smoothing: Option<f64>,
    /// `flowopt`: most proximal rounds of the polishing pass (default 20,
    /// `flowopt_planner::POLISH_ROUNDS`; 0: stop at its first point that passes the check).
    pub polish_rounds: Option<usize>,
    /// `json` (default) or `vda5050` (adds each robot's path as a VDA 5050 NURBS trajectory).
    pub format: Option<String>,
    /// Give up after this many milliseconds (default and most: the server's deadline).
    pub deadline_ms: Option<u64>,
}

/// The body of `POST /v1/plan/batch`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The problems; each is planned with the query's planner, options and seed.
    pub problems: Vec<Problem>,
}

/// The answer of `POST /v1/plan/batch`: one plan per problem, in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    /// The plans (with `vda5050` exports when `format=vda5050`).
    pub plans: Vec<serde_json::Value>,
}

/// A parsed and checked request.
struct Request {
    planner: String,
    key: Option<PlannerKey>,
    options: PlanOptions,
    vda5050: bool,
    deadline: Duration,
}

impl Request {
    fn new(state: &AppState, query: PlanQuery) -> Result<Self, ApiError> {
        if !state.ready.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ApiError::Unavailable("the server is shutting down".into()));
        }
        let planner = query.planner.unwrap_or_else(|| "flowopt".into());
        let flowopt_options = query.candidates.is_some()
            || query.open_candidates.is_some()
            || query.open_flow_steps.is_some()
            || query.flow_steps.is_some()
            || query.filter_iterations.is_some()
            || query.return_candidates.is_some()
            || query.polish_iterations.is_some()
            || query.polish_smoothing.is_some()
            || query.polish_rounds.is_some();
        let key = match planner.as_str() {
            "flowopt" => {
                let defaults = state.flowopt_defaults;
                let candidates = query.candidates.unwrap_or(defaults.candidates);
                if candidates > state.config.max_candidates {
                    return Err(ApiError::invalid(
                        "candidates",
                        format!("at most {} candidates", state.config.max_candidates),
                    ));
                }
                let return_candidates = query.return_candidates.unwrap_or(false);
                let settings = FlowOptSettings {
                    candidates,
                    open_candidates: query.open_candidates.unwrap_or(defaults.open_candidates),
                    flow_steps: query.flow_steps.unwrap_or(defaults.flow_steps),
                    open_flow_steps: query.open_flow_steps.unwrap_or(defaults.open_flow_steps),
                    filter_iterations: query
                        .filter_iterations
                        .unwrap_or(defaults.filter_iterations),
                    return_candidates,
                    polish_iterations: query
                        .polish_iterations
                        .unwrap_or(defaults.polish_iterations),
                    polish_smoothing: query.polish_smoothing.unwrap_or(defaults.polish_smoothing),
                    polish_rounds: query.polish_rounds.unwrap_or(defaults.polish_rounds),
                    ..defaults
                };
                let settings = if return_candidates {
                    settings.returning_candidates()
                } else {
                    // Fewer candidates asked for (and open floors sample fewer): one verified
                    // is still the answer.
                    FlowOptSettings {
                        stop_after: settings.stop_after.min(settings.candidates_for(true)),
                        ..settings
                    }
                };
                settings.validate().map_err(ApiError::input)?;
                Some(PlannerKey::FlowOpt(settings))
            }
            "filter" => Some(PlannerKey::Filter),
            name if state.cpu_planners.contains_key(name) => None,
            name => {
                let mut names = vec!["flowopt", "filter"];
                names.extend(state.cpu_planners.keys());
                return Err(ApiError::invalid(
                    "planner",
                    format!(
                        "unknown planner `{name}`; expected one of {}",
                        names.join(", ")
                    ),
                ));
            }
        };
        if flowopt_options && planner != "flowopt" {
            return Err(ApiError::invalid(
                "planner",
                "candidates, open_candidates, flow_steps, open_flow_steps, filter_iterations, \
                 return_candidates, polish_iterations, polish_smoothing and polish_rounds are \
                 options of the flowopt planner",
            ));
        }
        let vda5050 = match query.format.as_deref() {
            None | Some("json") => false,
            Some("vda5050") => true,
            Some(other) => {
                return Err(ApiError::invalid(
                    "format",
                    format!("unknown format `{other}`; expected json or vda5050"),
                ));
            }
        };
        let most = state.config.deadline;
        let deadline = match query.deadline_ms {
            Some(0) => return Err(ApiError::invalid("deadline_ms", "must be positive")),
            Some(ms) => Duration::from_millis(ms).min(most),
            None => most,
        };
        Ok(Self {
            planner,
            key,
            options: PlanOptions {
                seed: query.seed.unwrap_or(0),
            },
            vda5050,
            deadline,
        })
    }
}

/// The body as text, after the content-type and size checks (415, 413).
pub(crate) fn json_text(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<String, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(state.config.max_body_bytes)
        } else {
            ApiError::malformed("body", rejection.body_text())
        }
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::malformed("body", "body is not UTF-8"))
}

fn query_of(query: Result<Query<PlanQuery>, QueryRejection>) -> Result<PlanQuery, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|rejection| ApiError::malformed("query", rejection.body_text()))
}

/// Plans `problems` on the planner the request asks for, within its deadline: the neural
/// planners through the batching worker (every problem queued before any answer is awaited, so
/// they share batches), the others in one task on tokio's blocking pool.
async fn plan_all(
    state: &AppState,
    request: &Request,
    problems: Vec<Problem>,
) -> Result<Vec<Plan>, ApiError> {
    let deadline_ms = request.deadline.as_millis() as u64;
    let work = async {
        match &request.key {
            Some(key) => {
                let deadline = Instant::now() + request.deadline;
                let mut answers = Vec::with_capacity(problems.len());
                // Jobs already queued when a later one is refused are skipped by the worker
                // once their receivers are dropped here.
                for problem in problems {
                    let (reply, answer) = oneshot::channel();
                    state.batcher.submit(Job {
                        key: key.clone(),
                        problem,
                        options: request.options.clone(),
                        deadline,
                        reply,
                    })?;
                    answers.push(answer);
                }
                let mut plans = Vec::with_capacity(answers.len());
                for answer in answers {
                    // A dropped sender: the worker skipped the job (its deadline had passed).
                    plans.push(
                        answer
                            .await
                            .map_err(|_| ApiError::Deadline(deadline_ms))??,
                    );
                }
                Ok(plans)
            }
            None => {
                let planner = state
                    .cpu_planners
                    .get(request.planner.as_str())
                    .cloned()
                    .ok_or_else(|| ApiError::invalid("planner", "unknown planner"))?;
                let permit = state.cpu_slots.clone().try_acquire_owned().map_err(|_| {
                    ApiError::Busy(format!(
                        "{} plans by the CPU planners are running; retry later",
                        state.config.cpu_workers
                    ))
                })?;
                let options = vec![request.options.clone(); problems.len()];
                let results = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    planner.plan_batch(&problems, &options)
                })
                .await
                .map_err(|err| ApiError::Internal(format!("planner task failed: {err}")))?;
                results
                    .into_iter()
                    .map(|r| r.map_err(ApiError::from))
                    .collect()
            }
        }
    };
    tokio::time::timeout(request.deadline, work)
        .await
        .map_err(|_| ApiError::Deadline(deadline_ms))?
}

fn rendered(problem: &Problem, plan: Plan, vda5050: bool) -> Result<serde_json::Value, ApiError> {
    let value = if vda5050 {
        let export = Vda5050Export::of(problem, &plan).map_err(ApiError::input)?;
        serde_json::to_value(PlanWithVda5050 {
            plan,
            vda5050: export,
        })
    } else {
        serde_json::to_value(plan)
    };
    value.map_err(|e| ApiError::Internal(format!("serialising the plan: {e}")))
}

fn validated(state: &AppState, problem: &Problem, prefix: &str) -> Result<(), ApiError> {
    problem.validate(&state.config.limits).map_err(|e| {
        ApiError::input(InputError {
            field: format!("{prefix}{}", e.field),
            ..e
        })
    })
}

/// Plans one problem.
#[utoipa::path(
    post,
    path = "/v1/plan",
    params(PlanQuery),
    request_body(content = Problem, content_type = "application/json"),
    responses(
        (status = 200, description = "The plan (with `vda5050` when format=vda5050); `feasible` says whether every constraint holds", body = Plan),
        (status = 400, description = "Malformed JSON or query", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Invalid problem or option; `field` names it", body = ErrorBody),
        (status = 429, description = "Queue full", body = ErrorBody),
        (status = 503, description = "Shutting down", body = ErrorBody),
        (status = 504, description = "Deadline exceeded", body = ErrorBody),
    ),
    tag = "planning"
)]
pub async fn plan(
    State(state): State<Arc<AppState>>,
    query: Result<Query<PlanQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request = Request::new(&state, query_of(query)?)?;
    let text = json_text(&state, &headers, body)?;
    let problem: Problem = InputError::parse_json(&text, "problem").map_err(ApiError::input)?;
    validated(&state, &problem, "")?;
    let span = tracing::info_span!(
        "plan_request",
        planner = %request.planner,
        robots = problem.num_robots()
    );
    let plan = plan_all(&state, &request, vec![problem.clone()])
        .instrument(span)
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("no plan".into()))?;
    Ok(Json(rendered(&problem, plan, request.vda5050)?).into_response())
}

/// Plans several problems (same planner, options and seed); concurrent problems share the
/// batched planner calls.
#[utoipa::path(
    post,
    path = "/v1/plan/batch",
    params(PlanQuery),
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One plan per problem, in order", body = BatchResponse),
        (status = 400, description = "Malformed JSON or query", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Invalid problem (`field` is e.g. problems[2].robots[0].goal) or too many problems", body = ErrorBody),
        (status = 429, description = "Queue full", body = ErrorBody),
        (status = 504, description = "Deadline exceeded", body = ErrorBody),
    ),
    tag = "planning"
)]
pub async fn plan_batch(
    State(state): State<Arc<AppState>>,
    query: Result<Query<PlanQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request = Request::new(&state, query_of(query)?)?;
    let text = json_text(&state, &headers, body)?;
    let batch: BatchRequest = InputError::parse_json(&text, "batch").map_err(ApiError::input)?;
    if batch.problems.is_empty() {
        return Err(ApiError::invalid("problems", "no problems"));
    }
    if batch.problems.len() > state.config.max_batch_request {
        return Err(ApiError::Invalid(InputError::new(
            flowopt_core::ErrorKind::TooMany,
            "problems",
            format!(
                "{} problems; at most {} per batch request",
                batch.problems.len(),
                state.config.max_batch_request
            ),
        )));
    }
    for (i, problem) in batch.problems.iter().enumerate() {
        validated(&state, problem, &format!("problems[{i}]."))?;
    }
    let span = tracing::info_span!(
        "plan_batch_request",
        planner = %request.planner,
        problems = batch.problems.len()
    );
    let plans = plan_all(&state, &request, batch.problems.clone())
        .instrument(span)
        .await?;
    let plans = batch
        .problems
        .iter()
        .zip(plans)
        .map(|(problem, plan)| rendered(problem, plan, request.vda5050))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(BatchResponse { plans }).into_response())
}
