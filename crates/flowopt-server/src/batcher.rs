//! The inference worker: one OS thread that owns the neural planners, gathers concurrent plan
//! requests for a short window and answers them with one batched planner call per planner
//! setting (`Planner::plan_batch`: one generator call per robot count, one filter batch per
//! problem shape). Burn work never runs on the tokio runtime.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use flowopt_core::{Plan, PlanOptions, Planner, Problem};
use flowopt_planner::{FlowOptPlanner, FlowOptSettings};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// The planners the worker runs.
pub struct NeuralPlanners {
    /// The `flowopt` planner with the server's default options.
    pub flowopt: FlowOptPlanner,
    /// The `filter` planner.
    pub filter: Box<dyn Planner>,
}

/// Which planner, with which options, a job asks for: jobs with equal keys share a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum PlannerKey {
    /// `flowopt` with these options.
    FlowOpt(FlowOptSettings),
    /// `filter`.
    Filter,
}

/// One plan request waiting for the worker.
pub struct Job {
    /// Planner and options.
    pub key: PlannerKey,
    /// The (validated) problem.
    pub problem: Problem,
    /// Its seed.
    pub options: PlanOptions,
    /// When the answer stops being useful.
    pub deadline: Instant,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Plan, ApiError>>,
}

/// The sending side of the worker's bounded queue.
#[derive(Clone)]
pub struct Batcher {
    jobs: SyncSender<Job>,
    metrics: Metrics,
}

impl Batcher {
    /// Starts the worker thread with `planners`; it ends when every [`Batcher`] is dropped.
    pub fn start(
        planners: NeuralPlanners,
        capacity: usize,
        window: Duration,
        max_batch: usize,
        metrics: Metrics,
    ) -> std::io::Result<Self> {
        let (jobs, queue) = sync_channel(capacity);
        let worker_metrics = metrics.clone();
        std::thread::Builder::new()
            .name("flowopt-inference".into())
            .spawn(move || work(planners, queue, window, max_batch.max(1), worker_metrics))?;
        Ok(Self { jobs, metrics })
    }

    /// Queues a job, or refuses it at once when the queue is full (429) or the worker is gone
    /// (503).
    pub fn submit(&self, job: Job) -> Result<(), ApiError> {
        match self.jobs.try_send(job) {
            Ok(()) => {
                self.metrics.queue_depth.inc();
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(ApiError::Busy(
                "the planning queue is full; retry later".into(),
            )),
            Err(TrySendError::Disconnected(_)) => Err(ApiError::Unavailable(
                "the inference worker has stopped".into(),
            )),
        }
    }
}

fn work(
    planners: NeuralPlanners,
    queue: Receiver<Job>,
    window: Duration,
    max_batch: usize,
    metrics: Metrics,
) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        let until = Instant::now() + window;
        while jobs.len() < max_batch {
            match queue.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        metrics.queue_depth.sub(jobs.len() as i64);
        // Answers nobody waits for any more are not computed.
        let now = Instant::now();
        jobs.retain(|job| !job.reply.is_closed() && job.deadline > now);
        while !jobs.is_empty() {
            let key = jobs[0].key.clone();
            let (group, rest): (Vec<Job>, Vec<Job>) =
                jobs.into_iter().partition(|job| job.key == key);
            jobs = rest;
            run_group(&planners, &key, group, &metrics);
        }
    }
    tracing::info!("inference worker stopped");
}

fn run_group(planners: &NeuralPlanners, key: &PlannerKey, group: Vec<Job>, metrics: &Metrics) {
    let _span = tracing::info_span!("batch", planner = ?key, problems = group.len()).entered();
    // The jobs' problems move into the planner call; their reply channels stay here.
    let mut problems = Vec::with_capacity(group.len());
    let mut options = Vec::with_capacity(group.len());
    let mut replies = Vec::with_capacity(group.len());
    for job in group {
        problems.push(job.problem);
        options.push(job.options);
        replies.push(job.reply);
    }
    let started = Instant::now();
    let results = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<_>, ApiError> {
        Ok(match key {
            PlannerKey::FlowOpt(settings) if settings == planners.flowopt.settings() => {
                planners.flowopt.plan_batch(&problems, &options)
            }
            PlannerKey::FlowOpt(settings) => planners
                .flowopt
                .with_settings(*settings)
                .map_err(ApiError::input)?
                .plan_batch(&problems, &options),
            PlannerKey::Filter => planners.filter.plan_batch(&problems, &options),
        })
    }));
    let name = match key {
        PlannerKey::FlowOpt(_) => "flowopt",
        PlannerKey::Filter => "filter",
    };
    metrics
        .plan_seconds
        .with_label_values(&[name])
        .observe(started.elapsed().as_secs_f64());
    metrics.batch_size.observe(replies.len() as f64);
    match results {
        Ok(Ok(results)) => {
            for (reply, result) in replies.into_iter().zip(results) {
                // The receiver may have given up (deadline); nothing to do then.
                let _ = reply.send(result.map_err(ApiError::from));
            }
        }
        Ok(Err(err)) => {
            for reply in replies {
                let _ = reply.send(Err(err.clone()));
            }
        }
        Err(_) => {
            tracing::error!(planner = name, "planner panicked");
            for reply in replies {
                let _ = reply.send(Err(ApiError::Internal(format!(
                    "the {name} planner failed"
                ))));
            }
        }
    }
}
