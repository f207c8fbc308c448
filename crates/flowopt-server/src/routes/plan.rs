//! `POST /v1/plan` and `POST /v1/plan/batch`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flowopt_core::vda5050::{PlanWithVda5050, Vda5050Export};
use flowopt_core::{InputError, Plan, PlanOptions, Problem};
use flowopt_planner::FlowOptOptions;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tracing::Instrument;
use utoipa::{IntoParams, ToSchema};

use crate::batcher::{Job, PlannerKey};
use crate::error::{ApiError, ErrorBody};
use crate::json::{Document, JsonBody};
use crate::routes::query::{QueryOptions, fields_of};
use crate::state::AppState;

/// Options of a plan request, as query parameters, besides the `flowopt` planner's
/// ([`FlowOptOptions`]); the body is the problem itself, the same document `flowopt plan`
/// reads. Any other name is refused (400 naming it).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// Planner: flowopt (default), filter, scp, orca, straight.
    pub planner: Option<String>,
    /// Seed of every random choice (default 0); the same seed gives the same plan.
    pub seed: Option<u64>,
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

impl Document for Problem {
    const NAME: &'static str = "problem";
}

impl Document for BatchRequest {
    const NAME: &'static str = "batch";
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
    fn new(
        state: &AppState,
        (query, flowopt): (PlanQuery, FlowOptOptions),
    ) -> Result<Self, ApiError> {
        if !state.ready.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ApiError::Unavailable("the server is shutting down".into()));
        }
        let planner = query.planner.unwrap_or_else(|| "flowopt".into());
        let key = match planner.as_str() {
            "flowopt" => {
                // The request's options over the server's, applied once to its base settings.
                let base = state.flowopt_base;
                let options = flowopt.or(state.flowopt_options);
                let candidates = options.candidates.unwrap_or(base.candidates);
                if candidates > state.config.max_candidates {
                    return Err(ApiError::invalid(
                        "candidates",
                        format!("at most {} candidates", state.config.max_candidates),
                    ));
                }
                let settings = options.apply(base).map_err(ApiError::input)?;
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
        if !flowopt.is_empty() && planner != "flowopt" {
            return Err(ApiError::invalid(
                "planner",
                format!(
                    "{} are options of the flowopt planner",
                    fields_of::<FlowOptOptions>().join(", ")
                ),
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
    params(PlanQuery, FlowOptOptions),
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
    QueryOptions(query, flowopt): QueryOptions<PlanQuery>,
    JsonBody(problem): JsonBody<Problem>,
) -> Result<Response, ApiError> {
    let request = Request::new(&state, (query, flowopt))?;
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
    params(PlanQuery, FlowOptOptions),
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
    QueryOptions(query, flowopt): QueryOptions<PlanQuery>,
    JsonBody(batch): JsonBody<BatchRequest>,
) -> Result<Response, ApiError> {
    let request = Request::new(&state, (query, flowopt))?;
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
