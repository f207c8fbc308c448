//! Offline training: seeded minibatches of a [`Dataset`], periodic evaluation in the
//! environment, a JSON metrics log and the best policy's checkpoint.
//!
//! Minibatches are drawn on the host from a seeded generator instead of Burn's
//! `TransitionBuffer`: that buffer draws indices from the backend's global generator (a run is
//! then not reproducible per seed when anything else uses it) and fills itself one transition
//! (one tensor write) at a time, which is slow for a million-row dataset.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::RlError;
use crate::agent::Agent;
use crate::algo::{AgentConfig, Algorithm, Batch, Losses};
use crate::dataset::Dataset;
use crate::env::EnvKind;
use crate::eval::{Evaluation, evaluate};
use crate::nets::Noise;

/// Settings of `flowopt agent train`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Gradient updates (default 20000).
    pub steps: usize,
    /// Transitions per update (default 256).
    pub batch_size: usize,
    /// Evaluate every this many updates (default 2000; also after the last).
    pub eval_every: usize,
    /// Episodes per evaluation (default 10).
    pub eval_episodes: usize,
    /// Seed of the weights, minibatches, noise and evaluation episodes (default 0).
    pub seed: u64,
    /// Episodes of the final evaluation of the last policy, on reset seeds
    /// [`FINAL_SEEDS`].. that no periodic evaluation uses (default 50).
    pub final_episodes: usize,
    /// Online training: environment steps of uniform random actions before the first update
    /// (default 1000; ignored offline).
    pub warmup: usize,
}

/// First reset seed of the final evaluation.
pub const FINAL_SEEDS: u64 = 1_000_000;

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            steps: 20_000,
            batch_size: 256,
            eval_every: 2000,
            eval_episodes: 10,
            seed: 0,
            final_episodes: 50,
            warmup: 1000,
        }
    }
}

impl TrainSettings {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), RlError> {
        let bad = |field: &'static str, message: &str| {
            Err(RlError::Invalid {
                field,
                message: message.to_string(),
            })
        };
        if self.steps == 0 {
            return bad("steps", "must be >= 1");
        }
        if !(1..=65_536).contains(&self.batch_size) {
            return bad("batch_size", "must be in 1..=65536");
        }
        if self.eval_every == 0 {
            return bad("eval_every", "must be >= 1");
        }
        if self.eval_episodes == 0 {
            return bad("eval_episodes", "must be >= 1");
        }
        if self.final_episodes == 0 {
            return bad("final_episodes", "must be >= 1");
        }
        Ok(())
    }
}

/// One point of the learning curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Updates so far.
    pub step: usize,
    /// The mean of each loss over the updates since the previous point.
    pub losses: Vec<(String, f32)>,
    /// The evaluation at this point (when an environment is given).
    pub eval: Option<Evaluation>,
}

/// The JSON report of a training run, written beside its checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The evaluation environment, if any.
    pub env: Option<EnvKind>,
    /// Where the dataset came from.
    pub dataset: String,
    /// Transitions in it.
    pub transitions: usize,
    /// Hyperparameters.
    pub config: AgentConfig,
    /// Training settings.
    pub settings: TrainSettings,
    /// The learning curve.
    pub curve: Vec<CurvePoint>,
    /// The evaluation after the last update (periodic-evaluation episodes).
    pub last: Option<Evaluation>,
    /// The best periodic evaluation, and its step (its policy is `best.bpk`). Picked on the
    /// evaluation episodes, so an optimistic figure.
    pub best: Option<(usize, Evaluation)>,
    /// The last policy on `final_episodes` fresh episodes: the figure to report.
    pub final_eval: Option<Evaluation>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Updates done.
    pub step: usize,
    /// Of this many.
    pub steps: usize,
    /// The latest losses.
    pub losses: Vec<(&'static str, f32)>,
    /// The latest evaluation, when one was just made.
    pub eval: Option<Evaluation>,
}

/// A minibatch of `dataset` rows `rows` on `device`.
pub fn batch_of(dataset: &Dataset, rows: &[usize], device: &Device) -> Batch {
    let b = rows.len();
    let (o, a) = (dataset.obs_dim, dataset.act_dim);
    let gather = |values: &[f32], width: usize| -> Tensor<2> {
        let mut out = Vec::with_capacity(b * width);
        for &r in rows {
            out.extend_from_slice(&values[r * width..(r + 1) * width]);
        }
        Tensor::from_data(TensorData::new(out, [b, width]), device)
    };
    let column = |values: &[f32], f: fn(f32) -> f32| -> Tensor<1> {
        let out: Vec<f32> = rows.iter().map(|&r| f(values[r])).collect();
        Tensor::from_data(TensorData::new(out, [b]), device)
    };
    Batch {
        obs: gather(&dataset.observations, o),
        act: gather(&dataset.actions, a),
        reward: column(&dataset.rewards, |r| r),
        mask: column(&dataset.terminals, |t| 1.0 - t),
        next_obs: gather(&dataset.next_observations, o),
    }
}

/// Trains `agent` on `dataset` for `settings.steps` updates, evaluating in `env` (when given)
/// every `eval_every` updates. Writes `out/report.json`, `out/agent.bpk` (every network, at the
/// end) and `out/best.{bpk,json}` and `out/last.{bpk,json}` (the acting policy). `progress` is
/// called after every update; when it returns `ControlFlow::Break` the run stops with
/// [`RlError::Cancelled`] (the agent keeps the updates made so far).
pub fn train_offline(
    agent: &mut Agent,
    dataset: &Dataset,
    dataset_name: &str,
    env: Option<EnvKind>,
    settings: &TrainSettings,
    out: &Path,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<TrainReport, RlError> {
    settings.validate()?;
    dataset.validate()?;
    if dataset.obs_dim != agent.obs_dim() || dataset.act_dim != agent.act_dim() {
        return Err(RlError::Invalid {
            field: "dataset",
            message: format!(
                "has observations of {} and actions of {} values; the agent expects {} and {}",
                dataset.obs_dim,
                dataset.act_dim,
                agent.obs_dim(),
                agent.act_dim()
            ),
        });
    }
    if let Some(kind) = env {
        let probe = kind.make();
        let (o, a) = (probe.observation_space().dim(), probe.action_space().dim());
        if (o, a) != (dataset.obs_dim, dataset.act_dim) {
            return Err(RlError::Invalid {
                field: "dataset",
                message: format!(
                    "has observations of {} and actions of {} values; `{}` has {o} and {a}",
                    dataset.obs_dim,
                    dataset.act_dim,
                    kind.name()
                ),
            });
        }
    }
    if dataset.is_empty() {
        return Err(RlError::Invalid {
            field: "dataset",
            message: "has no transitions".into(),
        });
    }
    std::fs::create_dir_all(out).map_err(|source| RlError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let _span = tracing::info_span!(
        "train",
        algo = agent.algorithm().name(),
        steps = settings.steps
    )
    .entered();
    // Streaming flow imitates the chunk of actions that follows each observation.
    let chunked;
    let dataset = if agent.algorithm() == Algorithm::StreamingFlow {
        chunked = dataset.action_chunks(agent.config().horizon)?;
        &chunked
    } else {
        dataset
    };
    let device = agent.training_device();
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut noise = Noise::new(settings.seed.wrapping_add(1), &device);
    let mut run = Run::start(
        agent,
        env,
        dataset_name.to_string(),
        dataset.len(),
        settings,
        out,
    );
    for step in 1..=settings.steps {
        let rows: Vec<usize> = (0..settings.batch_size)
            .map(|_| rng.random_range(0..dataset.len()))
            .collect();
        let batch = batch_of(dataset, &rows, &device);
        let losses = agent.update(&batch, &mut noise)?;
        run.step(agent, step, losses, progress)?;
    }
    run.finish(agent)
}

/// What both training loops record: the losses averaged between evaluations, the periodic
/// evaluation on the same episodes, `best`/`last` policies, `report.json`, progress (with its
/// cancellation), and at the end the final evaluation and the agent's weights.
pub(crate) struct Run<'a> {
    /// The report being written.
    pub report: TrainReport,
    sums: Vec<(&'static str, f32, usize)>,
    started: Instant,
    settings: &'a TrainSettings,
    out: &'a Path,
    inference: Device,
}

impl<'a> Run<'a> {
    /// A run of `agent` on data `dataset` (`transitions` rows so far), evaluated in `env`.
    pub fn start(
        agent: &Agent,
        env: Option<EnvKind>,
        dataset: String,
        transitions: usize,
        settings: &'a TrainSettings,
        out: &'a Path,
    ) -> Self {
        Self {
            report: TrainReport {
                algorithm: agent.algorithm(),
                env,
                dataset,
                transitions,
                config: agent.config().clone(),
                settings: settings.clone(),
                curve: Vec::new(),
                last: None,
                best: None,
                final_eval: None,
                seconds: 0.0,
            },
            sums: Vec::new(),
            started: Instant::now(),
            settings,
            out,
            inference: agent.device().clone(),
        }
    }

    /// After step `step` (which made `losses`, empty without an update): accumulates the
    /// losses, evaluates and writes at a checkpoint, reports progress, and stops with
    /// [`RlError::Cancelled`] when `progress` asks.
    pub fn step(
        &mut self,
        agent: &Agent,
        step: usize,
        losses: Losses,
        progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<(), RlError> {
        for &(name, v) in &losses {
            match self.sums.iter_mut().find(|(n, ..)| *n == name) {
                Some(entry) => {
                    entry.1 += v;
                    entry.2 += 1;
                }
                None => self.sums.push((name, v, 1)),
            }
        }
        let settings = self.settings;
        let mut evaluation = None;
        if step.is_multiple_of(settings.eval_every) || step == settings.steps {
            let policy = agent.policy();
            let report = &mut self.report;
            if let Some(kind) = report.env {
                // The same episodes at every point: the curve compares policies, not luck.
                let e = evaluate(
                    &policy,
                    kind,
                    settings.eval_episodes,
                    settings.seed ^ 0xE7A1,
                    &self.inference,
                )?;
                tracing::info!(
                    step,
                    ret = e.return_mean,
                    success = e.success_rate,
                    "evaluated"
                );
                let better = report
                    .best
                    .as_ref()
                    .is_none_or(|(_, b)| e.return_mean > b.return_mean);
                if better {
                    policy.save(&self.out.join("best"), &agent.policy_spec())?;
                    report.best = Some((step, e.clone()));
                }
                evaluation = Some(e);
            }
            report.curve.push(CurvePoint {
                step,
                losses: self
                    .sums
                    .iter()
                    .map(|(n, s, c)| (n.to_string(), s / *c as f32))
                    .collect(),
                eval: evaluation.clone(),
            });
            self.sums.clear();
            if step == settings.steps {
                policy.save(&self.out.join("last"), &agent.policy_spec())?;
                report.last = evaluation.clone();
            }
            report.seconds = self.started.elapsed().as_secs_f64();
            write_report(&self.out.join("report.json"), report)?;
        }
        let flow = progress(&Progress {
            step,
            steps: settings.steps,
            losses,
            eval: evaluation,
        });
        if flow.is_break() {
            tracing::info!(step, "training cancelled");
            return Err(RlError::Cancelled { step });
        }
        Ok(())
    }

    /// The final evaluation of the last policy on fresh episodes, `agent.bpk` and the report.
    pub fn finish(mut self, agent: &Agent) -> Result<TrainReport, RlError> {
        if let Some(kind) = self.report.env {
            let e = evaluate(
                &agent.policy(),
                kind,
                self.settings.final_episodes,
                FINAL_SEEDS,
                &self.inference,
            )?;
            tracing::info!(
                ret = e.return_mean,
                success = e.success_rate,
                "final evaluation"
            );
            self.report.final_eval = Some(e);
        }
        agent.save(&self.out.join("agent"))?;
        self.report.seconds = self.started.elapsed().as_secs_f64();
        write_report(&self.out.join("report.json"), &self.report)?;
        Ok(self.report)
    }
}

fn write_report(path: &PathBuf, report: &TrainReport) -> Result<(), RlError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| RlError::Invalid {
        field: "report",
        message: e.to_string(),
    })?;
    std::fs::write(path, text + "\n").map_err(|source| RlError::Io {
        path: path.clone(),
        source,
    })
}
