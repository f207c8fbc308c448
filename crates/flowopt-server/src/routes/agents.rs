//! The agent API (`/v1/agents/...`): create, train, act with, feed, evaluate, save and load
//! the RL flow-policy agents of [`flowopt_rl`], so an external environment in any language can
//! use and train them over HTTP.
//!
//! Training runs as a background job on a thread of its own; acting runs on tokio's blocking
//! pool and never waits for training (see [`crate::agents`]).

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flowopt_core::InputError;
use flowopt_rl::nets::Noise;
use flowopt_rl::{
    Agent, AgentConfig, Algorithm, Dataset, EnvKind, Quality, RlError, TrainSettings,
};

use crate::agents::schema::*;
use crate::agents::{AgentSlot, Job, lock, read};
use crate::error::{ApiError, ErrorBody};
use crate::json::{Document, JsonBody};
use crate::state::AppState;

/// The agent routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/agents/algorithms", get(algorithms))
        .route("/v1/agents/environments", get(environments))
        .route("/v1/agents", get(list).post(create))
        .route("/v1/agents/load", post(load))
        .route("/v1/agents/{id}", get(agent).delete(remove))
        .route("/v1/agents/{id}/train", post(train))
        .route("/v1/agents/{id}/jobs/{job}", get(job).delete(cancel))
        .route("/v1/agents/{id}/act", post(act))
        .route("/v1/agents/{id}/act/stream", post(act_stream))
        .route("/v1/agents/{id}/observe", post(observe))
        .route("/v1/agents/{id}/evaluate", post(evaluate))
        .route("/v1/agents/{id}/rollout", post(rollout))
        .route("/v1/agents/{id}/save", post(save))
}

/// The algorithms.
#[utoipa::path(get, path = "/v1/agents/algorithms", responses((status = 200, body = Vec<AlgorithmInfo>)), tag = "agents")]
pub async fn algorithms() -> Json<Vec<AlgorithmInfo>> {
    Json(
        Algorithm::ALL
            .iter()
            .map(|a| AlgorithmInfo {
                name: a.name().into(),
                description: a.description().into(),
                uses_critic: a.uses_critic(),
                online: a.is_online(),
                streams: *a == Algorithm::StreamingFlow,
                default_config: AgentConfig::default(),
            })
            .collect(),
    )
}

/// The built-in environments.
#[utoipa::path(get, path = "/v1/agents/environments", responses((status = 200, body = Vec<EnvironmentInfo>)), tag = "agents")]
pub async fn environments() -> Json<Vec<EnvironmentInfo>> {
    Json(
        EnvKind::ALL
            .iter()
            .map(|&kind| {
                let env = kind.make();
                EnvironmentInfo {
                    name: kind.name().into(),
                    description: kind.description().into(),
                    observation_dim: env.observation_space().dim(),
                    action_dim: env.action_space().dim(),
                    episode_limit: env.episode_limit(),
                }
            })
            .collect(),
    )
}

/// The agents held (created, loaded, shipped).
#[utoipa::path(get, path = "/v1/agents", responses((status = 200, body = Vec<AgentInfo>)), tag = "agents")]
pub async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<AgentInfo>> {
    Json(state.agents.list().iter().map(|s| s.info()).collect())
}

/// Creates an agent with fresh weights.
#[utoipa::path(
    post,
    path = "/v1/agents",
    request_body = CreateAgent,
    responses(
        (status = 201, body = AgentInfo),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "Unknown algorithm or environment, bad dimensions or config", body = ErrorBody),
        (status = 429, description = "Too many agents", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    JsonBody(request): JsonBody<CreateAgent>,
) -> Result<(StatusCode, Json<AgentInfo>), ApiError> {
    let algorithm = Algorithm::from_str(&request.algorithm).map_err(|e| rl(e, "algorithm"))?;
    let env = request
        .env
        .as_deref()
        .map(EnvKind::from_str)
        .transpose()
        .map_err(|e| rl(e, "env"))?;
    let (obs_dim, act_dim) = match env {
        Some(kind) => {
            let probe = kind.make();
            let dims = (probe.observation_space().dim(), probe.action_space().dim());
            for (field, given, expected) in [
                ("observation_dim", request.observation_dim, dims.0),
                ("action_dim", request.action_dim, dims.1),
            ] {
                if given.is_some_and(|g| g != expected) {
                    return Err(ApiError::invalid(
                        field,
                        format!("`{}` has {expected}", kind.name()),
                    ));
                }
            }
            dims
        }
        None => {
            let need = |field: &str, v: Option<usize>| {
                v.filter(|d| (1..=4096).contains(d))
                    .ok_or_else(|| ApiError::invalid(field, "give 1..=4096, or a built-in `env`"))
            };
            (
                need("observation_dim", request.observation_dim)?,
                need("action_dim", request.action_dim)?,
            )
        }
    };
    let mut config: AgentConfig = match request.config {
        Some(value) => {
            serde_json::from_value(value).map_err(|e| ApiError::invalid("config", e.to_string()))?
        }
        None => AgentConfig::default(),
    };
    let pretrained = match (request.init, algorithm == Algorithm::Swfp) {
        (Some(name), true) => {
            let ckpt = state.agents.read_checkpoint(&name)?;
            config.hidden = ckpt.spec.hidden;
            config.flow_steps = ckpt.spec.flow_steps;
            Some(ckpt.policy)
        }
        (None, true) => {
            return Err(ApiError::invalid(
                "init",
                "swfp fine-tunes a pretrained flow: name a checkpoint holding one",
            ));
        }
        (Some(_), false) => {
            return Err(ApiError::invalid(
                "init",
                "only swfp starts from a pretrained flow",
            ));
        }
        (None, false) => None,
    };
    let device = state.agents.device.clone();
    let agent = blocking(move || {
        let mut agent = Agent::new(algorithm, config, obs_dim, act_dim, request.seed, &device)
            .map_err(|e| rl(e, "config"))?;
        if let Some(policy) = &pretrained {
            agent.set_pretrained_flow(policy).map_err(|e| rl(e, ""))?;
        }
        Ok::<_, ApiError>(agent)
    })
    .await??;
    let slot = state.agents.create(agent, env)?;
    tracing::info!(agent = %slot.id, algorithm = algorithm.name(), "created agent");
    Ok((StatusCode::CREATED, Json(slot.info())))
}

/// Loads a checkpoint of the agents folder as a new agent.
#[utoipa::path(
    post,
    path = "/v1/agents/load",
    request_body = CheckpointRequest,
    responses(
        (status = 201, body = AgentInfo),
        (status = 404, description = "No such checkpoint", body = ErrorBody),
        (status = 409, description = "No agents folder", body = ErrorBody),
        (status = 422, description = "Bad name", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn load(
    State(state): State<Arc<AppState>>,
    JsonBody(request): JsonBody<CheckpointRequest>,
) -> Result<(StatusCode, Json<AgentInfo>), ApiError> {
    let store = state.clone();
    let slot = blocking(move || store.agents.load(&request.name)).await??;
    Ok((StatusCode::CREATED, Json(slot.info())))
}

/// An agent.
#[utoipa::path(
    get,
    path = "/v1/agents/{id}",
    params(("id" = String, Path, description = "agent id")),
    responses((status = 200, body = AgentInfo), (status = 404, body = ErrorBody)),
    tag = "agents"
)]
pub async fn agent(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<AgentInfo>, ApiError> {
    Ok(Json(state.agents.get(&id)?.info()))
}

/// Deletes an agent (cancelling its training job).
#[utoipa::path(
    delete,
    path = "/v1/agents/{id}",
    params(("id" = String, Path, description = "agent id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    tag = "agents"
)]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.agents.remove(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a training job (one per agent at a time); poll it at `/v1/agents/{id}/jobs/{job}`.
#[utoipa::path(
    post,
    path = "/v1/agents/{id}/train",
    params(("id" = String, Path, description = "agent id")),
    request_body = TrainRequest,
    responses(
        (status = 202, description = "Started", body = JobStatus),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already training, or a policy-only agent", body = ErrorBody),
        (status = 422, description = "Bad settings or data; `field` names it", body = ErrorBody),
        (status = 429, description = "Too many jobs running", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn train(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<TrainRequest>,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    let slot = state.agents.get(&id)?;
    let limits = &state.agents.limits;
    let defaults = TrainSettings::default();
    let settings = TrainSettings {
        steps: request.steps.unwrap_or(2000),
        batch_size: request.batch_size.unwrap_or(defaults.batch_size),
        eval_every: request.eval_every.unwrap_or(500),
        eval_episodes: request.eval_episodes.unwrap_or(defaults.eval_episodes),
        final_episodes: request.final_episodes.unwrap_or(defaults.final_episodes),
        seed: request.seed.unwrap_or(0),
        warmup: request.warmup.unwrap_or(defaults.warmup),
    };
    settings.validate().map_err(|e| rl(e, ""))?;
    if settings.steps > limits.max_train_steps {
        return Err(ApiError::invalid(
            "steps",
            format!("must be at most {}", limits.max_train_steps),
        ));
    }
    for (field, n) in [
        ("eval_episodes", settings.eval_episodes),
        ("final_episodes", settings.final_episodes),
    ] {
        if n > limits.max_episodes {
            return Err(ApiError::invalid(
                field,
                format!("must be at most {}", limits.max_episodes),
            ));
        }
    }
    let (obs_dim, act_dim, env, online) = {
        let meta = read(&slot.meta);
        (
            meta.obs_dim,
            meta.act_dim,
            meta.env,
            meta.algorithm.is_online(),
        )
    };
    let max_episodes = limits.max_episodes;
    let buffer_capacity = limits.buffer_capacity;
    let source = match (request.dataset, online) {
        (None, true) => {
            let kind = env.ok_or_else(|| {
                ApiError::invalid(
                    "env",
                    "an online agent learns in a built-in environment; this agent has none",
                )
            })?;
            let status =
                state
                    .agents
                    .train(slot, None, format!("{}-online", kind.name()), settings)?;
            tracing::info!(agent = %id, job = status.id, "online training job started");
            return Ok((StatusCode::ACCEPTED, Json(status)));
        }
        (Some(_), true) => {
            return Err(ApiError::invalid(
                "dataset",
                "online algorithms learn from their own interaction and take no dataset",
            ));
        }
        (None, false) => {
            return Err(ApiError::invalid(
                "dataset",
                "is required: offline algorithms learn from a dataset",
            ));
        }
        (Some(source), false) => source,
    };
    let (data, name) = match source {
        DatasetSource::Collect {
            quality,
            episodes,
            seed,
        } => {
            let kind = env.ok_or_else(|| {
                ApiError::invalid(
                    "dataset.source",
                    "`collect` needs an agent made for a built-in `env`; use `observed` or `upload`",
                )
            })?;
            let quality = Quality::from_str(&quality).map_err(|e| rl(e, "dataset.quality"))?;
            if !(1..=max_episodes).contains(&episodes) {
                return Err(ApiError::invalid(
                    "dataset.episodes",
                    format!("must be in 1..={max_episodes}"),
                ));
            }
            let data = blocking(move || Dataset::collect(kind, quality, episodes, seed))
                .await?
                .map_err(|e| rl(e, "dataset"))?;
            (data, format!("{}-{}", kind.name(), quality.name()))
        }
        DatasetSource::Observed => (lock(&slot.buffer).clone(), "observed".to_string()),
        DatasetSource::Upload { transitions } => {
            if transitions.len() > buffer_capacity {
                return Err(ApiError::invalid(
                    "dataset.transitions",
                    format!("at most {buffer_capacity} transitions"),
                ));
            }
            let mut data = Dataset::empty(obs_dim, act_dim);
            append(&mut data, transitions, "dataset.transitions")?;
            (data, "uploaded".to_string())
        }
    };
    if data.is_empty() {
        return Err(ApiError::invalid("dataset", "has no transitions"));
    }
    let status = state.agents.train(slot, Some(data), name, settings)?;
    tracing::info!(agent = %id, job = status.id, "training job started");
    Ok((StatusCode::ACCEPTED, Json(status)))
}

/// A training job's progress.
#[utoipa::path(
    get,
    path = "/v1/agents/{id}/jobs/{job}",
    params(("id" = String, Path, description = "agent id"), ("job" = u64, Path, description = "job id")),
    responses((status = 200, body = JobStatus), (status = 404, body = ErrorBody)),
    tag = "agents"
)]
pub async fn job(
    State(state): State<Arc<AppState>>,
    Path((id, job)): Path<(String, u64)>,
) -> Result<Json<JobStatus>, ApiError> {
    let slot = state.agents.get(&id)?;
    Ok(Json(job_of(&slot, job)?.status()))
}

/// Cancels a training job; the agent keeps the updates made so far.
#[utoipa::path(
    delete,
    path = "/v1/agents/{id}/jobs/{job}",
    params(("id" = String, Path, description = "agent id"), ("job" = u64, Path, description = "job id")),
    responses((status = 202, body = JobStatus), (status = 404, body = ErrorBody)),
    tag = "agents"
)]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Path((id, job)): Path<(String, u64)>,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    let slot = state.agents.get(&id)?;
    let job = job_of(&slot, job)?;
    job.cancel();
    Ok((StatusCode::ACCEPTED, Json(job.status())))
}

/// Actions for a batch of observations.
#[utoipa::path(
    post,
    path = "/v1/agents/{id}/act",
    params(("id" = String, Path, description = "agent id")),
    request_body = ActRequest,
    responses(
        (status = 200, body = ActResponse),
        (status = 404, body = ErrorBody),
        (status = 422, description = "An observation of the wrong length or not finite; `field` names it", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn act(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ActRequest>,
) -> Result<Json<ActResponse>, ApiError> {
    let slot = state.agents.get(&id)?;
    let (observations, previous) = act_inputs(
        &state,
        &slot,
        request.observations,
        request.previous_actions,
    )?;
    let device = state.agents.device.clone();
    let (chunks, streams) = blocking(move || {
        let policy = read(&slot.policy).clone();
        let run = |noise: &mut Noise| {
            policy.chunk(&observations, &previous, noise, &device, &mut |_, _| {
                ControlFlow::Continue(())
            })
        };
        let chunks = match request.seed {
            Some(seed) => run(&mut Noise::new(seed, &device)),
            None => run(&mut lock(&slot.noise)),
        };
        chunks.map(|c| (c, policy.chunking().is_some()))
    })
    .await?
    .map_err(|e| rl(e, "observations"))?;
    let actions = chunks
        .iter()
        .map(|c| c.first().cloned().unwrap_or_default())
        .collect();
    Ok(Json(ActResponse {
        actions,
        chunks: streams.then_some(chunks),
    }))
}

/// Runs `work` on tokio's blocking pool (Burn calls and file I/O must not stall the async
/// workers); a panic in it becomes a 500.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Rows of numbers (observations, actions).
type Rows = Vec<Vec<f32>>;

/// Checks an act request's observations (and previous actions, zeros when absent) against the
/// agent's dimensions and the batch limit; errors name the offending row.
fn act_inputs(
    state: &AppState,
    slot: &AgentSlot,
    observations: Vec<Vec<f32>>,
    previous: Option<Vec<Vec<f32>>>,
) -> Result<(Rows, Rows), ApiError> {
    let max = state.agents.limits.max_act_batch;
    if observations.len() > max {
        return Err(ApiError::Invalid(InputError::new(
            flowopt_core::ErrorKind::TooMany,
            "observations",
            format!("at most {max} observations per call"),
        )));
    }
    let (obs_dim, act_dim) = {
        let meta = read(&slot.meta);
        (meta.obs_dim, meta.act_dim)
    };
    let previous = match previous {
        Some(previous) if previous.len() != observations.len() => {
            return Err(ApiError::invalid(
                "previous_actions",
                format!(
                    "has {} rows for {} observations",
                    previous.len(),
                    observations.len()
                ),
            ));
        }
        Some(previous) => previous,
        None => vec![vec![0.0; act_dim]; observations.len()],
    };
    for (name, rows, dim) in [
        ("observations", &observations, obs_dim),
        ("previous_actions", &previous, act_dim),
    ] {
        for (i, row) in rows.iter().enumerate() {
            if row.len() != dim {
                return Err(ApiError::invalid(
                    &format!("{name}[{i}]"),
                    format!("has {} values, expected {dim}", row.len()),
                ));
            }
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return Err(ApiError::invalid(
                    &format!("{name}[{i}][{j}]"),
                    "is NaN or infinite",
                ));
            }
            if name == "previous_actions"
                && let Some(j) = row.iter().position(|v| v.abs() > 1.0)
            {
                return Err(ApiError::invalid(
                    &format!("{name}[{i}][{j}]"),
                    "must lie in [-1, 1]",
                ));
            }
        }
    }
    Ok((observations, previous))
}

/// A streaming policy's chunk, each action sent as soon as it is integrated.
///
/// The body is newline-delimited JSON (`application/x-ndjson`), one [`StreamedActions`] line
/// per action of the chunk, so a controller can execute the first action while the next ones
/// are still being integrated. Other policies send one line. An error after the first line
/// ends the stream with a line `{"error": ...}`.
#[utoipa::path(
    post,
    path = "/v1/agents/{id}/act/stream",
    params(("id" = String, Path, description = "agent id")),
    request_body = ActRequest,
    responses(
        (status = 200, description = "One StreamedActions JSON object per line", body = StreamedActions, content_type = "application/x-ndjson"),
        (status = 404, body = ErrorBody),
        (status = 422, description = "An observation or previous action of the wrong length, not finite, or outside [-1, 1]; `field` names it", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn act_stream(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ActRequest>,
) -> Result<Response, ApiError> {
    let slot = state.agents.get(&id)?;
    let (observations, previous) = act_inputs(
        &state,
        &slot,
        request.observations,
        request.previous_actions,
    )?;
    let device = state.agents.device.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        let policy = read(&slot.policy).clone();
        let run = |noise: &mut Noise| {
            policy.chunk(
                &observations,
                &previous,
                noise,
                &device,
                &mut |index, actions| {
                    let line = StreamedActions {
                        index,
                        actions: actions.to_vec(),
                    };
                    let mut text = serde_json::to_vec(&line).unwrap_or_default();
                    text.push(b'\n');
                    // A client that hung up stops the integration.
                    match tx.blocking_send(Bytes::from(text)) {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(_) => ControlFlow::Break(()),
                    }
                },
            )
        };
        let result = match request.seed {
            Some(seed) => run(&mut Noise::new(seed, &device)),
            None => run(&mut lock(&slot.noise)),
        };
        if let Err(e) = result {
            let line = serde_json::json!({ "error": e.to_string() }).to_string() + "\n";
            let _ = tx.blocking_send(Bytes::from(line));
        }
    });
    let lines = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|line| (Ok::<_, Infallible>(line), rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response())
}

/// Transitions from an external environment, kept for `train` with `"source": "observed"`.
#[utoipa::path(
    post,
    path = "/v1/agents/{id}/observe",
    params(("id" = String, Path, description = "agent id")),
    request_body = ObserveRequest,
    responses(
        (status = 200, body = ObserveResponse),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A transition of the wrong shape, not finite, or an action outside [-1, 1]; nothing is kept", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn observe(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ObserveRequest>,
) -> Result<Json<ObserveResponse>, ApiError> {
    let slot = state.agents.get(&id)?;
    let (obs_dim, act_dim) = {
        let meta = read(&slot.meta);
        (meta.obs_dim, meta.act_dim)
    };
    let accepted = request.transitions.len();
    let mut fresh = Dataset::empty(obs_dim, act_dim);
    append(&mut fresh, request.transitions, "transitions")?;
    let mut buffer = lock(&slot.buffer);
    buffer.extend(&fresh).map_err(|e| rl(e, "transitions"))?;
    buffer.keep_last(state.agents.limits.buffer_capacity);
    Ok(Json(ObserveResponse {
        accepted,
        buffered: buffer.len(),
    }))
}

/// Runs episodes of the agent's built-in environment with its policy.
#[utoipa::path(
    post,
    path = "/v1/agents/{id}/evaluate",
    params(("id" = String, Path, description = "agent id")),
    request_body = EvaluateRequest,
    responses(
        (status = 200, body = EvaluationBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "No built-in environment, or too many episodes", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn evaluate(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<EvaluateRequest>,
) -> Result<Json<EvaluationBody>, ApiError> {
    let slot = state.agents.get(&id)?;
    let kind = builtin_env(&slot)?;
    let episodes = request.episodes.unwrap_or(20);
    let max = state.agents.limits.max_episodes;
    if !(1..=max).contains(&episodes) {
        return Err(ApiError::invalid(
            "episodes",
            format!("must be in 1..={max}"),
        ));
    }
    let device = state.agents.device.clone();
    let seed = request.seed.unwrap_or(0);
    let evaluation = blocking(move || {
        let policy = read(&slot.policy).clone();
        flowopt_rl::evaluate(&policy, kind, episodes, seed, &device)
    })
    .await?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(evaluation.into()))
}

/// One episode of the agent's built-in environment, every step recorded (the agent
/// visualizer at `/agents` draws it).
#[utoipa::path(
    post,
    path = "/v1/agents/{id}/rollout",
    params(("id" = String, Path, description = "agent id")),
    request_body = RolloutRequest,
    responses(
        (status = 200, body = RolloutBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "No built-in environment", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn rollout(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<RolloutRequest>,
) -> Result<Json<RolloutBody>, ApiError> {
    let slot = state.agents.get(&id)?;
    let kind = builtin_env(&slot)?;
    let device = state.agents.device.clone();
    let seed = request.seed.unwrap_or(0);
    let rollout = blocking(move || {
        let policy = read(&slot.policy).clone();
        flowopt_rl::rollout(&policy, kind, seed, &device)
    })
    .await?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(RolloutBody {
        env: kind.name().to_string(),
        seed,
        frames: rollout.frames,
        episode_return: rollout.episode_return,
        success: rollout.success,
    }))
}

/// Saves the agent as a checkpoint of the agents folder (`flowopt serve --agents DIR`).
#[utoipa::path(
    post,
    path = "/v1/agents/{id}/save",
    params(("id" = String, Path, description = "agent id")),
    request_body = CheckpointRequest,
    responses(
        (status = 201, body = CheckpointInfo),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Training now, or no agents folder", body = ErrorBody),
        (status = 422, description = "Bad name", body = ErrorBody),
    ),
    tag = "agents"
)]
pub async fn save(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<CheckpointRequest>,
) -> Result<(StatusCode, Json<CheckpointInfo>), ApiError> {
    let slot = state.agents.get(&id)?;
    let store = state.clone();
    let name = request.name.clone();
    let trainable = blocking(move || store.agents.save(&slot, &name)).await??;
    Ok((
        StatusCode::CREATED,
        Json(CheckpointInfo {
            name: request.name,
            trainable,
        }),
    ))
}

fn job_of(slot: &AgentSlot, job: u64) -> Result<Arc<Job>, ApiError> {
    slot.job(job)
        .ok_or_else(|| ApiError::NotFound(format!("agent `{}` has no job {job}", slot.id)))
}

/// Appends `transitions` to the fresh `data`, stopping at the first bad one (named
/// `prefix[i].field`); the caller then drops `data`, so nothing is kept.
fn append(
    data: &mut Dataset,
    transitions: Vec<TransitionBody>,
    prefix: &str,
) -> Result<(), ApiError> {
    for (i, t) in transitions.into_iter().enumerate() {
        data.push(&t.into())
            .map_err(|e| rl(e, &format!("{prefix}[{i}]")))?;
    }
    Ok(())
}

impl Document for ActRequest {
    const NAME: &'static str = "act";
}

impl Document for CheckpointRequest {
    const NAME: &'static str = "checkpoint";
}

impl Document for CreateAgent {
    const NAME: &'static str = "agent";
}

impl Document for EvaluateRequest {
    const NAME: &'static str = "evaluate";

    fn empty() -> Option<Self> {
        Some(Self::default())
    }
}

impl Document for ObserveRequest {
    const NAME: &'static str = "observe";
}

impl Document for RolloutRequest {
    const NAME: &'static str = "rollout";

    fn empty() -> Option<Self> {
        Some(Self::default())
    }
}

impl Document for TrainRequest {
    const NAME: &'static str = "train";
}

/// The agent's built-in environment, or a 422 for an agent made from spaces alone.
fn builtin_env(slot: &AgentSlot) -> Result<EnvKind, ApiError> {
    read(&slot.meta).env.ok_or_else(|| {
        ApiError::invalid(
            "env",
            "the agent has no built-in environment to run episodes in",
        )
    })
}

/// A 422 for an agent error, its field under `prefix`.
fn rl(e: RlError, prefix: &str) -> ApiError {
    let join = |field: &str| match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{field}"),
    };
    match &e {
        RlError::Shape { field, .. }
        | RlError::NonFinite { field }
        | RlError::Invalid { field, .. } => ApiError::invalid(&join(field), e.to_string()),
        RlError::Unknown { .. } => ApiError::invalid(&join(""), e.to_string()),
        _ => ApiError::Internal(e.to_string()),
    }
}
