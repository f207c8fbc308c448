//! The agents the service holds, their training jobs and their checkpoints.
//!
//! Each agent keeps its acting [`Policy`] behind a lock that `act` only holds to clone it, so
//! acting never waits for training: a job takes the trainable [`Agent`] out of its slot, trains
//! it on its own thread, and puts it back with the new policy when it ends (the slot answers
//! 409 to a second job meanwhile).

pub mod schema;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use burn::prelude::Device;
use flowopt_rl::checkpoint::{self, CheckpointMeta};
use flowopt_rl::nets::Noise;
use flowopt_rl::policy::PolicySpec;
use flowopt_rl::train::Progress;
use flowopt_rl::{
    Agent, Dataset, EnvKind, Policy, RlError, TrainSettings, train_offline, train_online,
};

use crate::agents::schema::{AgentInfo, JobState, JobStatus};
use crate::error::ApiError;

/// Bounds of the agent API.
#[derive(Debug, Clone)]
pub struct AgentLimits {
    /// Agents held at once (default 64).
    pub max_agents: usize,
    /// Observations per `act` call (default 4096).
    pub max_act_batch: usize,
    /// Transitions an agent's `observe` buffer keeps (default 1,000,000).
    pub buffer_capacity: usize,
    /// Updates per training job (default 1,000,000).
    pub max_train_steps: usize,
    /// Episodes per evaluation or collected dataset (default 1000).
    pub max_episodes: usize,
    /// Training jobs running at once over all agents (default 2).
    pub max_jobs: usize,
}

impl Default for AgentLimits {
    fn default() -> Self {
        Self {
            max_agents: 64,
            max_act_batch: 4096,
            buffer_capacity: 1_000_000,
            max_train_steps: 1_000_000,
            max_episodes: 1000,
            max_jobs: 2,
        }
    }
}

/// One agent.
pub struct AgentSlot {
    /// Its id.
    pub id: String,
    /// `created` or the checkpoint it came from.
    pub source: String,
    /// What it is.
    pub meta: RwLock<CheckpointMeta>,
    /// How to rebuild its policy from weights.
    pub spec: PolicySpec,
    /// Whether it can be trained.
    pub trainable: bool,
    /// The trainable agent; `None` while a job has it (or for policy-only checkpoints).
    trainer: Mutex<Option<Agent>>,
    /// The acting policy.
    pub policy: RwLock<Policy>,
    /// The noise stream of `act` calls without a seed.
    pub noise: Mutex<Noise>,
    /// Transitions from `observe`.
    pub buffer: Mutex<Dataset>,
    /// Its training jobs.
    jobs: Mutex<BTreeMap<u64, Arc<Job>>>,
}

impl AgentSlot {
    /// The API view.
    pub fn info(&self) -> AgentInfo {
        let meta = read(&self.meta).clone();
        let running_job = lock(&self.jobs)
            .values()
            .find(|j| matches!(j.status().state, JobState::Queued | JobState::Running))
            .map(|j| j.id);
        AgentInfo {
            id: self.id.clone(),
            algorithm: meta.algorithm.name().to_string(),
            env: meta.env.map(|e| e.name().to_string()),
            observation_dim: meta.obs_dim,
            action_dim: meta.act_dim,
            calls_per_action: read(&self.policy).calls_per_action(),
            chunk_actions: read(&self.policy).chunking().map_or(1, |c| c.execute),
            trainable: self.trainable,
            source: self.source.clone(),
            updates: meta.updates,
            buffered: lock(&self.buffer).len(),
            running_job,
            config: meta.config,
        }
    }

    /// A job of this agent.
    pub fn job(&self, id: u64) -> Option<Arc<Job>> {
        lock(&self.jobs).get(&id).cloned()
    }
}

/// A training job.
pub struct Job {
    /// Its id.
    pub id: u64,
    cancel: AtomicBool,
    started: Instant,
    status: Mutex<JobStatus>,
}

impl Job {
    /// Its progress now.
    pub fn status(&self) -> JobStatus {
        let mut status = lock(&self.status).clone();
        if matches!(status.state, JobState::Queued | JobState::Running) {
            status.seconds = self.started.elapsed().as_secs_f64();
        }
        status
    }

    /// Asks the job to stop after its current update.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// Every agent of the service.
pub struct AgentStore {
    slots: RwLock<BTreeMap<String, Arc<AgentSlot>>>,
    next_agent: AtomicU64,
    next_job: AtomicU64,
    running: Arc<AtomicUsize>,
    /// Where checkpoints are saved and loaded (`--agents`), if anywhere.
    pub dir: Option<PathBuf>,
    /// Where agents compute.
    pub device: Device,
    /// Bounds.
    pub limits: AgentLimits,
}

impl AgentStore {
    /// An empty store; with a `dir`, every checkpoint in it (a subdirectory with `meta.json`)
    /// is loaded as an agent named after it. A checkpoint that fails to load is skipped with
    /// a warning.
    pub fn new(dir: Option<PathBuf>, device: Device, limits: AgentLimits) -> Self {
        let store = Self {
            slots: RwLock::new(BTreeMap::new()),
            next_agent: AtomicU64::new(1),
            next_job: AtomicU64::new(1),
            running: Arc::new(AtomicUsize::new(0)),
            dir,
            device,
            limits,
        };
        if let Some(dir) = &store.dir {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().join("meta.json").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            names.sort();
            for name in names {
                match store.load(&name) {
                    Ok(slot) => tracing::info!(agent = %slot.id, "loaded agent checkpoint"),
                    Err(e) => tracing::warn!(checkpoint = %name, "skipped: {e}"),
                }
            }
        }
        store
    }

    /// Every agent, by id.
    pub fn list(&self) -> Vec<Arc<AgentSlot>> {
        read(&self.slots).values().cloned().collect()
    }

    /// The agent `id`, or 404.
    pub fn get(&self, id: &str) -> Result<Arc<AgentSlot>, ApiError> {
        read(&self.slots)
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("no agent `{id}`")))
    }

    /// Removes the agent `id` (cancelling its running job), or 404.
    pub fn remove(&self, id: &str) -> Result<(), ApiError> {
        let slot = write(&self.slots)
            .remove(id)
            .ok_or_else(|| ApiError::NotFound(format!("no agent `{id}`")))?;
        for job in lock(&slot.jobs).values() {
            job.cancel();
        }
        Ok(())
    }

    /// Adds a fresh agent.
    pub fn create(&self, agent: Agent, env: Option<EnvKind>) -> Result<Arc<AgentSlot>, ApiError> {
        let id = format!("agent-{}", self.next_agent.fetch_add(1, Ordering::Relaxed));
        let meta = CheckpointMeta {
            algorithm: agent.algorithm(),
            env,
            obs_dim: agent.obs_dim(),
            act_dim: agent.act_dim(),
            config: agent.config().clone(),
            updates: 0,
            note: String::new(),
            fpmd: None,
        };
        self.insert(
            id,
            "created".into(),
            meta,
            agent.policy_spec(),
            agent.policy(),
            Some(agent),
        )
    }

    /// Loads the checkpoint `name` of the agents folder as a new agent (id `name`, or
    /// `name-N` when taken).
    pub fn load(&self, name: &str) -> Result<Arc<AgentSlot>, ApiError> {
        let ckpt = self.read_checkpoint(name)?;
        let taken = read(&self.slots).contains_key(name);
        let id = if taken {
            format!("{name}-{}", self.next_agent.fetch_add(1, Ordering::Relaxed))
        } else {
            name.to_string()
        };
        self.insert(
            id,
            format!("checkpoint {name}"),
            ckpt.meta,
            ckpt.spec,
            ckpt.policy,
            ckpt.agent,
        )
    }

    /// Reads the checkpoint `name` of the agents folder (404 when there is none).
    pub fn read_checkpoint(&self, name: &str) -> Result<checkpoint::Checkpoint, ApiError> {
        let dir = self.checkpoint_dir(name)?;
        if !dir.join("meta.json").is_file() {
            return Err(ApiError::NotFound(format!("no checkpoint `{name}`")));
        }
        checkpoint::load(&dir, &self.device)
            .map_err(|e| ApiError::Internal(format!("loading checkpoint `{name}`: {e}")))
    }

    /// Saves agent `slot` as checkpoint `name` (its whole agent when it is not training,
    /// else 409).
    pub fn save(&self, slot: &AgentSlot, name: &str) -> Result<bool, ApiError> {
        let dir = self.checkpoint_dir(name)?;
        let meta = read(&slot.meta).clone();
        let written = if slot.trainable {
            let guard = lock(&slot.trainer);
            let agent = guard.as_ref().ok_or_else(|| {
                ApiError::Conflict(format!("agent `{}` is training; save it after", slot.id))
            })?;
            checkpoint::save_agent(&dir, agent, meta.env, &meta.note).map(|()| true)
        } else {
            let policy = read(&slot.policy).clone();
            checkpoint::save_policy(&dir, &policy, &slot.spec, &meta).map(|()| false)
        };
        written.map_err(|e| ApiError::Internal(format!("saving checkpoint `{name}`: {e}")))
    }

    /// Starts training `slot` on a thread of its own: offline on `data`, or online in its
    /// built-in environment when `data` is `None`.
    pub fn train(
        &self,
        slot: Arc<AgentSlot>,
        data: Option<Dataset>,
        dataset_name: String,
        settings: TrainSettings,
    ) -> Result<JobStatus, ApiError> {
        if !slot.trainable {
            return Err(ApiError::Conflict(format!(
                "agent `{}` holds only a policy (a shipped or policy-only checkpoint) and \
                 cannot be trained",
                slot.id
            )));
        }
        let running = self.running.fetch_add(1, Ordering::SeqCst);
        let release = Release(self.running.clone());
        if running >= self.limits.max_jobs {
            return Err(ApiError::Busy(format!(
                "{running} training jobs are running (the limit is {})",
                self.limits.max_jobs
            )));
        }
        let mut agent = lock(&slot.trainer).take().ok_or_else(|| {
            ApiError::Conflict(format!("agent `{}` is already training", slot.id))
        })?;
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        let job = Arc::new(Job {
            id,
            cancel: AtomicBool::new(false),
            started: Instant::now(),
            status: Mutex::new(JobStatus {
                id,
                agent: slot.id.clone(),
                state: JobState::Queued,
                step: 0,
                steps: settings.steps,
                transitions: data.as_ref().map_or(0, Dataset::len),
                losses: BTreeMap::new(),
                eval: None,
                final_eval: None,
                error: None,
                seconds: 0.0,
            }),
        });
        lock(&slot.jobs).insert(id, job.clone());
        let status = job.status();
        // The run's report and checkpoints; the agent itself is kept by `save`. Agent and job
        // ids repeat across the stores of one process (several servers, or tests), so a
        // process-wide run number keeps each run's folder its own: one run's clean-up must not
        // remove the folder another is writing its checkpoints to.
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let run = RUNS.fetch_add(1, Ordering::SeqCst);
        let out = std::env::temp_dir()
            .join(format!("flowopt-agent-jobs-{}", std::process::id()))
            .join(format!("{}-{id}-run{run}", slot.id));
        let env = read(&slot.meta).env;
        let spawned = std::thread::Builder::new()
            .name(format!("train-{}-{id}", slot.id))
            .spawn({
                let job = job.clone();
                let slot = slot.clone();
                move || {
                    let _release = release;
                    let _span =
                        tracing::info_span!("agent_job", agent = %slot.id, job = id).entered();
                    let run = std::panic::AssertUnwindSafe(|| {
                        let mut progress = |p: &Progress| {
                            let mut s = lock(&job.status);
                            s.state = JobState::Running;
                            s.step = p.step;
                            s.losses = p.losses.iter().map(|&(n, v)| (n.to_string(), v)).collect();
                            if let Some(e) = &p.eval {
                                s.eval = Some(e.clone().into());
                            }
                            if job.cancel.load(Ordering::SeqCst) {
                                ControlFlow::Break(())
                            } else {
                                ControlFlow::Continue(())
                            }
                        };
                        match (&data, env) {
                            (Some(data), _) => train_offline(
                                &mut agent,
                                data,
                                &dataset_name,
                                env,
                                &settings,
                                &out,
                                &mut progress,
                            ),
                            (None, Some(kind)) => {
                                train_online(&mut agent, kind, &settings, &out, &mut progress)
                            }
                            (None, None) => Err(RlError::Invalid {
                                field: "env",
                                message: "online training needs a built-in environment".into(),
                            }),
                        }
                    });
                    let result = std::panic::catch_unwind(run).unwrap_or_else(|_| {
                        Err(RlError::Invalid {
                            field: "training",
                            message: "panicked (see the server log)".into(),
                        })
                    });
                    // Nothing reads the run's files once it is over: the agent stays in memory
                    // and `save` writes it. Leaving them would fill the temp dir over a long life.
                    if let Err(e) = std::fs::remove_dir_all(&out)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!("removing {}: {e}", out.display());
                    }
                    if let Some(parent) = out.parent() {
                        // Fails, as it should, while other jobs' folders are still there.
                        let _ = std::fs::remove_dir(parent);
                    }
                    // The trained policy serves from now on, whatever stopped the run.
                    *write(&slot.policy) = agent.policy();
                    write(&slot.meta).updates = agent.updates();
                    *lock(&slot.trainer) = Some(agent);
                    let mut s = lock(&job.status);
                    s.seconds = job.started.elapsed().as_secs_f64();
                    match result {
                        Ok(report) => {
                            s.state = JobState::Done;
                            s.final_eval = report.final_eval.map(Into::into);
                        }
                        Err(RlError::Cancelled { step }) => {
                            s.state = JobState::Cancelled;
                            s.step = step;
                        }
                        Err(e) => {
                            tracing::warn!("training failed: {e}");
                            s.state = JobState::Failed;
                            s.error = Some(e.to_string());
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            // The closure (and the agent in it) is gone; nothing can train this slot again.
            lock(&slot.jobs).remove(&id);
            return Err(ApiError::Internal(format!(
                "starting the training thread: {e}"
            )));
        }
        Ok(status)
    }

    fn insert(
        &self,
        id: String,
        source: String,
        meta: CheckpointMeta,
        spec: PolicySpec,
        policy: Policy,
        agent: Option<Agent>,
    ) -> Result<Arc<AgentSlot>, ApiError> {
        let mut slots = write(&self.slots);
        if slots.len() >= self.limits.max_agents {
            return Err(ApiError::Busy(format!(
                "the service holds {} agents (the limit); delete one first",
                slots.len()
            )));
        }
        let slot = Arc::new(AgentSlot {
            source,
            buffer: Mutex::new(Dataset::empty(meta.obs_dim, meta.act_dim)),
            meta: RwLock::new(meta),
            spec,
            trainable: agent.is_some(),
            trainer: Mutex::new(agent),
            policy: RwLock::new(policy),
            noise: Mutex::new(Noise::new(
                self.next_agent.load(Ordering::Relaxed),
                &self.device,
            )),
            jobs: Mutex::new(BTreeMap::new()),
            id: id.clone(),
        });
        slots.insert(id, slot.clone());
        Ok(slot)
    }

    fn checkpoint_dir(&self, name: &str) -> Result<PathBuf, ApiError> {
        let valid = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(ApiError::invalid(
                "name",
                "must be 1-64 characters of A-Z, a-z, 0-9, `_` and `-`",
            ));
        }
        let dir: &Path = self.dir.as_deref().ok_or_else(|| {
            ApiError::Conflict(
                "the service was started without an agents folder (`flowopt serve --agents DIR`)"
                    .into(),
            )
        })?;
        Ok(dir.join(name))
    }
}

/// Gives back a running-job slot when dropped.
struct Release(Arc<AtomicUsize>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Locks, recovering the data of a poisoned lock (a panicking job must not take the agent API
/// down with it).
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
