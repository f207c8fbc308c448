//! The agent API's request and response bodies.

use std::collections::BTreeMap;

use flowopt_rl::{AgentConfig, Evaluation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An algorithm the service can train.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlgorithmInfo {
    /// Its name (`algorithm` of `POST /v1/agents`).
    pub name: String,
    /// What it does.
    pub description: String,
    /// Whether it learns a critic (and so uses rewards).
    pub uses_critic: bool,
    /// Whether it learns online in its built-in environment (`train` then takes no dataset).
    pub online: bool,
    /// Whether it acts in chunks of actions that `act/stream` streams as they are integrated.
    pub streams: bool,
    /// Its default hyperparameters (`config` of `POST /v1/agents` overrides any of them).
    #[schema(value_type = Object)]
    pub default_config: AgentConfig,
}

/// A built-in environment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentInfo {
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Observation dimension.
    pub observation_dim: usize,
    /// Action dimension (actions lie in [-1, 1]).
    pub action_dim: usize,
    /// Steps before an episode is cut.
    pub episode_limit: usize,
}

/// `POST /v1/agents`: a fresh agent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// The algorithm (`GET /v1/agents/algorithms`).
    pub algorithm: String,
    /// A built-in environment (`GET /v1/agents/environments`): sets the spaces, and lets the
    /// agent collect datasets and be evaluated. Without it give both dimensions.
    pub env: Option<String>,
    /// Observation dimension (external environments).
    pub observation_dim: Option<usize>,
    /// Action dimension (external environments; actions lie in [-1, 1]).
    pub action_dim: Option<usize>,
    /// Hyperparameters overriding the algorithm's defaults (unknown keys are refused).
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// `swfp`: the checkpoint (of the agents folder) whose flow policy it fine-tunes, e.g. a
    /// saved `flow-bc` agent; its hidden widths and flow steps become the agent's.
    pub init: Option<String>,
    /// Seed of the initial weights (default 0).
    #[serde(default)]
    pub seed: u64,
}

/// An agent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentInfo {
    /// Its id (the `{id}` of the other endpoints).
    pub id: String,
    /// The algorithm.
    pub algorithm: String,
    /// Its built-in environment, if any.
    pub env: Option<String>,
    /// Observation dimension.
    pub observation_dim: usize,
    /// Action dimension.
    pub action_dim: usize,
    /// Network calls per action (1 for one-step policies, the flow steps otherwise).
    pub calls_per_action: usize,
    /// Actions per `act` call and observation: a streaming policy's chunk (execute them in
    /// order, then ask again with the last one as `previous_actions`), else 1.
    pub chunk_actions: usize,
    /// Whether it can be trained (checkpoints with only a policy, like the shipped ones,
    /// cannot).
    pub trainable: bool,
    /// `created`, or the checkpoint it was loaded from.
    pub source: String,
    /// Gradient updates made.
    pub updates: usize,
    /// Transitions received by `observe` and kept in its buffer.
    pub buffered: usize,
    /// The running training job, if any.
    pub running_job: Option<u64>,
    /// Its hyperparameters.
    #[schema(value_type = Object)]
    pub config: AgentConfig,
}

/// Where a training job's data comes from.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum DatasetSource {
    /// Collect `episodes` episodes of the agent's environment with a scripted behaviour policy
    /// of `quality` (`expert`, `noisy`, `mixed`).
    Collect {
        /// `expert`, `noisy` or `mixed`.
        quality: String,
        /// Episodes (default 200).
        #[serde(default = "default_episodes")]
        episodes: usize,
        /// Seed of the episodes (default 0).
        #[serde(default)]
        seed: u64,
    },
    /// The transitions received by `POST /v1/agents/{id}/observe`.
    Observed,
    /// Transitions in the request.
    Upload {
        /// The transitions.
        transitions: Vec<TransitionBody>,
    },
}

fn default_episodes() -> usize {
    200
}

/// `POST /v1/agents/{id}/train`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// The data of an offline algorithm (online ones, `fpmd-r`/`fpmd-m`, take none: they
    /// act in the agent's built-in environment).
    pub dataset: Option<DatasetSource>,
    /// Online: environment steps of uniform random actions before the first update
    /// (default 1000).
    pub warmup: Option<usize>,
    /// Gradient updates, or environment steps for online algorithms (default 2000).
    pub steps: Option<usize>,
    /// Transitions per update (default 256).
    pub batch_size: Option<usize>,
    /// Evaluate (built-in environments) every this many updates (default 500).
    pub eval_every: Option<usize>,
    /// Episodes per periodic evaluation (default 10).
    pub eval_episodes: Option<usize>,
    /// Episodes of the final evaluation (default 50).
    pub final_episodes: Option<usize>,
    /// Seed of the minibatches and noise (default 0).
    pub seed: Option<u64>,
}

/// `queued`, `running`, `done`, `failed` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Started, no update yet.
    Queued,
    /// Updating.
    Running,
    /// Finished; the agent acts with the trained policy.
    Done,
    /// Stopped by an error (`error`).
    Failed,
    /// Stopped by `DELETE /v1/agents/{id}/jobs/{job}`; the agent keeps the updates made.
    Cancelled,
}

/// A training job's progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobStatus {
    /// Job id.
    pub id: u64,
    /// Agent id.
    pub agent: String,
    /// State.
    pub state: JobState,
    /// Updates done.
    pub step: usize,
    /// Of this many.
    pub steps: usize,
    /// Transitions in its dataset.
    pub transitions: usize,
    /// The latest losses.
    pub losses: BTreeMap<String, f32>,
    /// The latest periodic evaluation.
    pub eval: Option<EvaluationBody>,
    /// The final evaluation (done, built-in environments).
    pub final_eval: Option<EvaluationBody>,
    /// Why it failed.
    pub error: Option<String>,
    /// Seconds since it started.
    pub seconds: f64,
}

/// Returns and success over episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvaluationBody {
    /// Episodes run.
    pub episodes: usize,
    /// Mean undiscounted return.
    pub return_mean: f32,
    /// Its standard deviation.
    pub return_std: f32,
    /// Fraction of episodes that succeeded.
    pub success_rate: f32,
    /// 100 (R - random) / (expert - random) with the scripted policies as references.
    pub normalized_score: f32,
}

impl From<Evaluation> for EvaluationBody {
    fn from(e: Evaluation) -> Self {
        Self {
            episodes: e.episodes,
            return_mean: e.return_mean,
            return_std: e.return_std,
            success_rate: e.success_rate,
            normalized_score: e.normalized_score,
        }
    }
}

/// `POST /v1/agents/{id}/act`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    /// A batch of observations, each `observation_dim` numbers.
    pub observations: Vec<Vec<f32>>,
    /// Seed of the policy's noise: the same seed and observations give the same actions.
    /// Without it the agent's own noise stream is used.
    pub seed: Option<u64>,
    /// Streaming policies: the last action executed for each observation, where the chunk's
    /// flow starts (zeros, an episode's start, when absent). Other policies ignore it.
    pub previous_actions: Option<Vec<Vec<f32>>>,
}

/// The actions, one per observation, in [-1, 1]^action_dim.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActResponse {
    /// Actions: the first of each chunk for a streaming policy.
    pub actions: Vec<Vec<f32>>,
    /// Streaming policies: the whole chunk per observation (`chunk_actions` actions to execute
    /// in order; `actions` holds the first of each).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<Vec<Vec<f32>>>>,
}

/// One line of `POST /v1/agents/{id}/act/stream` (newline-delimited JSON).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StreamedActions {
    /// The action's index in the chunk (0, 1, ...).
    pub index: usize,
    /// The index-th action of every observation's chunk.
    pub actions: Vec<Vec<f32>>,
}

/// One transition from an external environment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// s.
    pub observation: Vec<f32>,
    /// a, in [-1, 1]^action_dim.
    pub action: Vec<f32>,
    /// r.
    pub reward: f32,
    /// s'.
    pub next_observation: Vec<f32>,
    /// Whether s' is terminal (default false).
    #[serde(default)]
    pub terminal: bool,
    /// Whether the episode was cut by a time limit at s' (default false).
    #[serde(default)]
    pub timeout: bool,
}

impl From<TransitionBody> for flowopt_rl::Transition {
    fn from(t: TransitionBody) -> Self {
        Self {
            observation: t.observation,
            action: t.action,
            reward: t.reward,
            next_observation: t.next_observation,
            terminal: t.terminal,
            timeout: t.timeout,
        }
    }
}

/// `POST /v1/agents/{id}/observe`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObserveRequest {
    /// The transitions.
    pub transitions: Vec<TransitionBody>,
}

/// What `observe` kept.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObserveResponse {
    /// Transitions accepted.
    pub accepted: usize,
    /// Transitions now in the buffer (the oldest are dropped beyond its capacity).
    pub buffered: usize,
}

/// `POST /v1/agents/{id}/evaluate`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// Episodes (default 20).
    pub episodes: Option<usize>,
    /// First reset seed (default 0).
    pub seed: Option<u64>,
}

/// `POST /v1/agents/{id}/rollout`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutRequest {
    /// Reset seed of the episode (default 0).
    pub seed: Option<u64>,
}

/// One recorded episode, for the agent visualizer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RolloutBody {
    /// The environment.
    pub env: String,
    /// The reset seed.
    pub seed: u64,
    /// Every state from the reset to the end: `observation`, `scene` (for `point-maze` and
    /// `swarm-nav`: `bounds`, `walls`, `bodies` (learner first) and `goal`, in metres),
    /// `action` taken from it and `reward` of the step that led to it.
    #[schema(value_type = Vec<Object>)]
    pub frames: Vec<flowopt_rl::Frame>,
    /// The episode's return.
    pub episode_return: f32,
    /// Whether it succeeded.
    pub success: bool,
}

/// `POST /v1/agents/{id}/save` and `POST /v1/agents/load`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRequest {
    /// The checkpoint's name: 1-64 of `A-Z a-z 0-9 _ -`, a directory of the agents folder.
    pub name: String,
}

/// A written checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckpointInfo {
    /// Its name.
    pub name: String,
    /// Whether it holds the whole agent (else only the policy).
    pub trainable: bool,
}
