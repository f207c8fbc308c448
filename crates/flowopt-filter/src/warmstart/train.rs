//! Self-supervised training of the warm start through the unrolled filter, and its evaluation
//! in iterations to tolerance (DESIGN.md section 3).
//!
//! Loss per instance, in the instance's normalised frame (divided by N s^2):
//! mean over the K unrolled iterations of log(|c_{k+1} - c_k|^2 + |u_{k+1} - u_k|^2), plus
//! w |c_K - cbar|^2. The multipliers' move is measured per constraint row (u_{k+1} - u_k is the
//! primal residual G c - s) rather than through its image lambda = -rho G'u in coefficient
//! space, and on a log scale (DESIGN.md sums the moves themselves: that loss fell while the
//! iterations to tolerance rose, because the first large moves dominate it and the tail that
//! decides convergence hardly counts). The fixed points of the iteration are exactly the filter's solutions, so the network
//! learns to start where the iteration stops moving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, grad_clipping::GradientClippingConfig};
use burn::prelude::*;
use flowopt_core::{DEFAULT_ORDER, ErrorKind, InputError, Problem, Scenario, ScenarioConfig};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{WarmStart, WarmStartConfig, WarmStartError, WarmStartInput, WarmStartNet};
use crate::batch::{Batch, Instance};
use crate::candidates::perturbed_candidates;
use crate::settings::FilterSettings;
use crate::solver;

/// Settings of `flowopt train warmstart`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmStartTrainSettings {
    /// Optimizer steps (default 1000).
    pub steps: usize,
    /// Problems drawn per step (default 4), all of one scenario and robot count.
    pub problems_per_step: usize,
    /// Candidates per problem (default 4).
    pub candidates: usize,
    /// Fewest robots per problem (default 2).
    pub min_robots: usize,
    /// Most robots per problem (default 16).
    pub max_robots: usize,
    /// Scenario families drawn from (default: all).
    pub scenarios: Vec<Scenario>,
    /// Filter iterations unrolled in the loss (default 20).
    pub unroll: usize,
    /// Adam learning rate, after a 50-step warm-up and decayed on a cosine to 10% (default 1e-3).
    pub learning_rate: f64,
    /// Weight w of |c_K - cbar|^2 (default 0.01).
    pub distance_weight: f64,
    /// Perturbation amplitude of the training candidates, metres (default 0.5, as the
    /// `filter` planner).
    pub perturbation: f64,
    /// Seed of the problems, candidates and initial weights (default 0).
    pub seed: u64,
    /// Save a checkpoint every this many steps (0: never; default 250).
    pub checkpoint_every: usize,
    /// Held-out problems for the final evaluation (default 32).
    pub eval_problems: usize,
    /// Iteration budget of the evaluation (default 500).
    pub eval_max_iterations: usize,
}

impl Default for WarmStartTrainSettings {
    fn default() -> Self {
        Self {
            steps: 1000,
            problems_per_step: 4,
            candidates: 4,
            min_robots: 2,
            max_robots: 16,
            scenarios: Scenario::ALL.to_vec(),
            unroll: 20,
            learning_rate: 1e-3,
            distance_weight: 0.01,
            perturbation: 0.5,
            seed: 0,
            checkpoint_every: 250,
            eval_problems: 32,
            eval_max_iterations: 500,
        }
    }
}

impl WarmStartTrainSettings {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |f: &str, m: &str| Err(InputError::new(ErrorKind::OutOfRange, f, m));
        if self.steps == 0 {
            return bad("steps", "must be >= 1");
        }
        if self.problems_per_step == 0 || self.candidates == 0 {
            return bad(
                "problems_per_step",
                "problems and candidates per step must be >= 1",
            );
        }
        if self.min_robots == 0 || self.min_robots > self.max_robots || self.max_robots > 64 {
            return bad("max_robots", "need 1 <= min_robots <= max_robots <= 64");
        }
        if self.scenarios.is_empty() {
            return bad("scenarios", "name at least one scenario");
        }
        if self.unroll == 0 {
            return bad("unroll", "must be >= 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", "must be a finite number > 0");
        }
        if !(self.distance_weight.is_finite() && self.distance_weight >= 0.0) {
            return bad("distance_weight", "must be a finite number >= 0");
        }
        if !(self.perturbation.is_finite() && self.perturbation >= 0.0) {
            return bad("perturbation", "must be a finite number >= 0");
        }
        if self.eval_max_iterations == 0 {
            return bad("eval_max_iterations", "must be >= 1");
        }
        Ok(())
    }
}

/// Reported after every step.
#[derive(Debug, Clone, Copy)]
pub struct TrainProgress {
    /// Steps done.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// This step's loss.
    pub loss: f64,
    /// Mean loss over the last 50 steps.
    pub recent_loss: f64,
}

/// Iterations to tolerance over the evaluation instances. An instance that does not converge
/// within the budget counts as the budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IterationStats {
    /// Median iterations.
    pub median: f64,
    /// Mean iterations.
    pub mean: f64,
    /// Instances that reached the tolerance.
    pub converged: usize,
}

impl IterationStats {
    fn of(iterations: &[Option<usize>], budget: usize) -> Self {
        let mut v: Vec<f64> = iterations
            .iter()
            .map(|i| i.unwrap_or(budget) as f64)
            .collect();
        v.sort_by(f64::total_cmp);
        let median = match v.len() {
            0 => 0.0,
            n if n % 2 == 1 => v[n / 2],
            n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
        };
        Self {
            median,
            mean: v.iter().sum::<f64>() / v.len().max(1) as f64,
            converged: iterations.iter().filter(|i| i.is_some()).count(),
        }
    }
}

/// Value of a warm start: iterations to the filter's tolerance from three starts on the same
/// held-out candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Instances (problems x candidates).
    pub instances: usize,
    /// Iteration budget.
    pub max_iterations: usize,
    /// Tolerance on the largest violation, metres.
    pub tolerance: f64,
    /// c_0 = cbar, lambda_0 = 0.
    pub plain: IterationStats,
    /// Learned c_0, lambda_0 = 0.
    pub learned_c0: IterationStats,
    /// Learned c_0 and lambda_0.
    pub learned: IterationStats,
    /// plain.median / learned.median.
    pub median_speedup: f64,
}

/// The JSON document written beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarmStartReport {
    /// The network's shape.
    pub config: WarmStartConfig,
    /// Trainable parameters.
    pub parameters: usize,
    /// The training settings.
    pub training: WarmStartTrainSettings,
    /// The filter settings trained with (the solver's rho must match at inference).
    pub filter: FilterSummary,
    /// Mean loss over the last 50 steps.
    pub final_loss: f64,
    /// Wall-clock training time.
    pub seconds: f64,
    /// Measured on held-out problems after training.
    pub evaluation: Evaluation,
}

/// The filter settings that shape what the network learns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FilterSummary {
    /// rho.
    pub rho: f64,
    /// Clearance, metres.
    pub clearance: f64,
    /// Limit margin.
    pub limit_margin: f64,
    /// Tolerance, metres.
    pub tolerance: f64,
}

/// Trains a warm start with `config` on `device` (autodiff is added here), saves checkpoints
/// to `out.checkpoints/`, the weights to `out.bpk` and the report to `out.json`.
pub fn train(
    config: WarmStartConfig,
    settings: &WarmStartTrainSettings,
    filter: &FilterSettings,
    device: &Device,
    out: &Path,
    progress: &mut dyn FnMut(&TrainProgress),
) -> Result<WarmStartReport, WarmStartError> {
    config.validate()?;
    settings.validate()?;
    filter.validate()?;
    let started = Instant::now();
    let _span = tracing::info_span!("train", model = "warmstart", steps = settings.steps).entered();
    device.seed(settings.seed);
    let ad = device.clone().autodiff();
    let mut net = config.init(&ad);
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let mut recent: Vec<f64> = Vec::new();
    for step in 0..settings.steps {
        let _step = tracing::debug_span!("train_step", step).entered();
        let problems = sample_problems(settings, settings.seed, step as u64);
        let salt = settings.seed ^ (step as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
        let (loss, value) = step_loss(&net, &problems, settings, filter, salt, &ad)?;
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(learning_rate(settings, step), net, grads);
        recent.push(value);
        if recent.len() > 50 {
            recent.remove(0);
        }
        let recent_loss = recent.iter().sum::<f64>() / recent.len() as f64;
        progress(&TrainProgress {
            step: step + 1,
            steps: settings.steps,
            loss: value,
            recent_loss,
        });
        if settings.checkpoint_every > 0 && (step + 1) % settings.checkpoint_every == 0 {
            let path = checkpoint_dir(out).join(format!("step-{:06}", step + 1));
            WarmStart::from_net(config, net.valid()).save_weights(&path)?;
        }
    }
    let final_loss = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
    let warm = WarmStart::from_net(config, net.valid());
    warm.save_weights(out)?;
    let evaluation = evaluate(&warm, settings, filter, device)?;
    let report = WarmStartReport {
        config,
        parameters: warm.num_params(),
        training: settings.clone(),
        filter: FilterSummary {
            rho: filter.rho,
            clearance: filter.clearance,
            limit_margin: filter.limit_margin,
            tolerance: filter.tolerance,
        },
        final_loss,
        seconds: started.elapsed().as_secs_f64(),
        evaluation,
    };
    let json = out.with_extension("json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| WarmStartError::Json {
        path: json.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&json, text + "\n").map_err(|source| WarmStartError::Io {
        path: json.clone(),
        source,
    })?;
    Ok(report)
}

/// Where the checkpoints of a run writing `out` go.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    let mut name = out.file_stem().unwrap_or_default().to_os_string();
    name.push(".checkpoints");
    out.with_file_name(name)
}

fn learning_rate(settings: &WarmStartTrainSettings, step: usize) -> f64 {
    let warmup = 50usize.min(settings.steps / 10).max(1);
    if step < warmup {
        return settings.learning_rate * (step + 1) as f64 / warmup as f64;
    }
    let t = (step - warmup) as f64 / (settings.steps - warmup).max(1) as f64;
    settings.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

/// The problems of one step (or evaluation round): one scenario and robot count, seeded by
/// (seed, round). Scenarios that cannot fit the robots are skipped.
fn sample_problems(settings: &WarmStartTrainSettings, seed: u64, round: u64) -> Vec<Problem> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut problems = Vec::with_capacity(settings.problems_per_step);
    for _attempt in 0..8 {
        let scenario = settings.scenarios[rng.random_range(0..settings.scenarios.len())];
        let robots = rng.random_range(settings.min_robots..=settings.max_robots);
        for _ in 0..settings.problems_per_step {
            let config = ScenarioConfig::new(robots).seed(rng.random());
            if let Ok(p) = scenario.generate(&config) {
                problems.push(p);
            }
        }
        if !problems.is_empty() {
            break;
        }
    }
    problems
}

/// The instances of `problems`, grouped by the filter's batch shape.
fn grouped<'a>(
    problems: &'a [Problem],
    candidates: &'a [Vec<Vec<flowopt_core::Coefficients>>],
) -> BTreeMap<(usize, usize, usize), Vec<Instance<'a>>> {
    let mut groups: BTreeMap<(usize, usize, usize), Vec<Instance<'a>>> = BTreeMap::new();
    for (problem, cands) in problems.iter().zip(candidates) {
        for candidate in cands {
            groups
                .entry((
                    problem.num_robots(),
                    problem.obstacles.len(),
                    problem.samples,
                ))
                .or_default()
                .push(Instance { problem, candidate });
        }
    }
    groups
}

fn candidates_for(
    problems: &[Problem],
    settings: &WarmStartTrainSettings,
    salt: u64,
) -> Vec<Vec<Vec<flowopt_core::Coefficients>>> {
    problems
        .iter()
        .enumerate()
        .map(|(i, p)| {
            perturbed_candidates(
                p,
                settings.candidates,
                settings.perturbation,
                salt.wrapping_add(i as u64),
            )
        })
        .collect()
}

/// The mean loss over every instance of `problems`, on the autodiff device.
fn step_loss(
    net: &WarmStartNet,
    problems: &[Problem],
    settings: &WarmStartTrainSettings,
    filter: &FilterSettings,
    salt: u64,
    device: &Device,
) -> Result<(Tensor<1>, f64), WarmStartError> {
    let candidates = candidates_for(problems, settings, salt);
    let groups = grouped(problems, &candidates);
    let total: usize = groups.values().map(Vec::len).sum();
    let mut loss: Option<Tensor<1>> = None;
    for instances in groups.values() {
        let batch = Batch::new(instances, filter, DEFAULT_ORDER, device)?;
        let input = WarmStartInput::new(instances, &batch, filter);
        let start = net.forward(&input);
        let group = unrolled_loss(&batch, &input, start.c0, start.lambda0, settings, filter).sum()
            / total as f32;
        loss = Some(match loss {
            Some(l) => l + group,
            None => group,
        });
    }
    let loss = loss.ok_or_else(|| {
        InputError::new(
            ErrorKind::Empty,
            "scenarios",
            "no problem could be generated",
        )
    })?;
    let value = f64::from(loss.clone().into_scalar::<f32>());
    Ok((loss, value))
}

/// Per-instance loss (B,) of K unrolled iterations from (c0, lambda0).
fn unrolled_loss(
    batch: &Batch,
    input: &WarmStartInput,
    c0: Tensor<3>,
    lambda0: Tensor<3>,
    settings: &WarmStartTrainSettings,
    filter: &FilterSettings,
) -> Tensor<1> {
    let b = batch.size;
    let per_instance =
        |t: Tensor<3>| -> Tensor<1> { t.square().sum_dim(2).sum_dim(1).reshape([b]) };
    let rho = filter.rho as f32;
    let norm = input.scale.clone().reshape([b]).square() * batch.robots as f32;
    let mut state = solver::start(batch, c0, lambda0, rho);
    let mut fixed_point: Option<Tensor<1>> = None;
    for _ in 0..settings.unroll {
        let c = state.c.clone();
        state = solver::step(batch, state, rho);
        // |c_{k+1} - c_k|^2 + |u_{k+1} - u_k|^2, the multipliers' move being the primal residual,
        // on a log scale: every tenfold reduction counts the same, early or late.
        let moved = per_instance(state.c.clone() - c) + solver::rows_sq(batch, &state.r);
        let log_moved = (moved / norm.clone() + LOG_FLOOR).log();
        fixed_point = Some(match fixed_point {
            Some(f) => f + log_moved,
            None => log_moved,
        });
    }
    let fixed_point = fixed_point.unwrap_or_else(|| norm.zeros_like());
    let distance = per_instance(state.c - batch.cbar.clone()) / norm;
    fixed_point / settings.unroll as f32 + distance * settings.distance_weight as f32
}

/// Floor of the normalised squared moves under the logarithm (well below the tolerance).
const LOG_FLOOR: f32 = 1e-10;

/// Iterations to tolerance on held-out problems (a seed stream training never draws) from the
/// plain start, the learned c_0 alone and the learned (c_0, lambda_0).
pub fn evaluate(
    warm: &WarmStart,
    settings: &WarmStartTrainSettings,
    filter: &FilterSettings,
    device: &Device,
) -> Result<Evaluation, WarmStartError> {
    let _span = tracing::info_span!("evaluate", model = "warmstart").entered();
    let eval_settings = FilterSettings {
        max_iterations: settings.eval_max_iterations,
        check_every: 1,
        ..filter.clone()
    };
    let seed = settings.seed ^ 0x005E_ED0F_E7A1;
    let mut problems = Vec::new();
    let mut round = 0;
    while problems.len() < settings.eval_problems && round < 10 * settings.eval_problems as u64 {
        let one = WarmStartTrainSettings {
            problems_per_step: 1,
            ..settings.clone()
        };
        problems.extend(sample_problems(&one, seed, round));
        round += 1;
    }
    let candidates = candidates_for(&problems, settings, seed);
    let groups = grouped(&problems, &candidates);
    let (mut plain, mut c0_only, mut learned) = (Vec::new(), Vec::new(), Vec::new());
    for instances in groups.values() {
        let batch = Batch::new(instances, &eval_settings, DEFAULT_ORDER, device)?;
        let start = warm.predict(instances, &batch, &eval_settings);
        let cbar = batch.cbar.clone();
        plain
            .extend(solver::run(&batch, cbar.clone(), cbar.zeros_like(), &eval_settings).converged);
        c0_only.extend(
            solver::run(&batch, start.c0.clone(), cbar.zeros_like(), &eval_settings).converged,
        );
        learned.extend(solver::run(&batch, start.c0, start.lambda0, &eval_settings).converged);
    }
    let budget = settings.eval_max_iterations;
    let (plain, learned_c0, learned) = (
        IterationStats::of(&plain, budget),
        IterationStats::of(&c0_only, budget),
        IterationStats::of(&learned, budget),
    );
    Ok(Evaluation {
        instances: problems.len() * settings.candidates,
        max_iterations: budget,
        tolerance: filter.tolerance,
        median_speedup: plain.median / learned.median.max(1.0),
        plain,
        learned_c0,
        learned,
    })
}
