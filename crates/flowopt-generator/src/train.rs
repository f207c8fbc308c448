//! Flow-matching training of the generator on a `flowopt dataset` file (DESIGN.md section 4):
//! seeded minibatches of (problem, verified solution) pairs, Adam with warm-up and cosine decay,
//! validation loss on held-out problems, checkpoints that a later run resumes from, and a JSON
//! report beside the weights.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::record::OptimizerRecord;
use burn::optim::{AdamConfig, GradientsParams, grad_clipping::GradientClippingConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use flowopt_core::dataset::DatasetRecord;
use flowopt_core::{Bernstein, Coefficients, ErrorKind, InputError, Problem};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::conditioning::Conditioning;
use crate::config::GeneratorConfig;
use crate::flow;
use crate::model::GeneratorNet;
use crate::representation::{baseline, encode};
use crate::symmetry::Symmetry;
use crate::{Generator, GeneratorError};

/// Settings of `flowopt train generator`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorTrainSettings {
    /// Optimizer steps (default 6000).
    pub steps: usize,
    /// Examples per step (default 32).
    pub batch_size: usize,
    /// Peak Adam learning rate, after a warm-up of 5% of the steps and decayed on a cosine to
    /// 10% (default 1e-3).
    pub learning_rate: f64,
    /// Fraction of the dataset's problems held out for the validation loss (default 0.1).
    pub validation_fraction: f64,
    /// Validation loss every this many steps (default 250; also after the last step).
    pub validate_every: usize,
    /// Checkpoint every this many steps (0: never; default 500).
    pub checkpoint_every: usize,
    /// Seed of the split, minibatches, noise, times and initial weights (default 0).
    pub seed: u64,
    /// Train on every symmetry of each training problem too (mirror images, and for square
    /// workspaces the exchanged axes: up to 8 examples per solution; default true). The
    /// validation problems are left as they are. Reports written before this option existed
    /// read as `false` (they were trained without it).
    #[serde(default)]
    pub augment: bool,
}

impl Default for GeneratorTrainSettings {
    fn default() -> Self {
        Self {
            steps: 6000,
            batch_size: 32,
            learning_rate: 1e-3,
            validation_fraction: 0.1,
            validate_every: 250,
            checkpoint_every: 500,
            seed: 0,
            augment: true,
        }
    }
}

impl GeneratorTrainSettings {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |f: &str, m: &str| Err(InputError::new(ErrorKind::OutOfRange, f, m));
        if self.steps == 0 {
            return bad("steps", "must be >= 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be >= 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", "must be a finite number > 0");
        }
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return bad("validation_fraction", "must be in [0, 0.9)");
        }
        if self.validate_every == 0 {
            return bad("validate_every", "must be >= 1");
        }
        Ok(())
    }
}

/// One training example: a problem and one of its verified solutions, encoded.
#[derive(Debug, Clone)]
pub struct Example {
    /// The problem.
    pub problem: Problem,
    /// The problem's guide paths, the origin of the target ([`baseline`]).
    pub baseline: Vec<Coefficients>,
    /// The solution as the model's target (N x 2K, see [`encode`]).
    pub target: Vec<f32>,
}

impl Example {
    /// `solution` of `problem` as an example.
    pub fn new(
        problem: Problem,
        solution: &[Coefficients],
        basis: &Bernstein,
    ) -> Result<Self, InputError> {
        let baseline = baseline(&problem, basis);
        let target = encode(&problem, &baseline, solution, basis)?;
        Ok(Self {
            problem,
            baseline,
            target,
        })
    }
}

/// Every (problem, solution) pair of `records`, split by problem into (training, validation)
/// with a seeded shuffle (`settings.validation_fraction`, `settings.seed`), so no problem is on
/// both sides; with `settings.augment`, every [`Symmetry`] image of each training pair too.
/// Encoding runs on all cores (each image needs its own guide paths).
pub fn examples(
    records: &[DatasetRecord],
    config: &GeneratorConfig,
    settings: &GeneratorTrainSettings,
) -> Result<(Vec<Example>, Vec<Example>), GeneratorError> {
    let basis = Bernstein::new(config.order)?;
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(settings.seed ^ 0x5B11_7000));
    let held = ((records.len() as f64) * settings.validation_fraction).round() as usize;
    let encoded: Vec<(bool, Vec<Example>)> = order
        .par_iter()
        .enumerate()
        .map(|(rank, &i)| {
            let record = &records[i];
            let validation = rank < held;
            let symmetries = if validation || !settings.augment {
                vec![Symmetry::default()]
            } else {
                Symmetry::of(&record.problem)
            };
            let mut out = Vec::new();
            for solution in &record.solutions {
                for s in &symmetries {
                    let example = Example::new(
                        s.problem(&record.problem),
                        &s.coefficients(&record.problem, solution),
                        &basis,
                    )
                    .map_err(|e| {
                        InputError::new(e.kind, format!("records[{i}].{}", e.field), e.message)
                    })?;
                    out.push(example);
                }
            }
            Ok((validation, out))
        })
        .collect::<Result<_, InputError>>()?;
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (validation, group) in encoded {
        if validation {
            val.extend(group);
        } else {
            train.extend(group);
        }
    }
    if train.is_empty() {
        return Err(InputError::new(
            ErrorKind::Empty,
            "dataset",
            "the dataset has no training solutions",
        )
        .into());
    }
    Ok((train, val))
}

/// Targets (B, N, 2K) padded with zeros, and the conditioning of `examples`.
pub fn batch(
    examples: &[&Example],
    dim: usize,
    device: &Device,
) -> Result<(Tensor<3>, Conditioning), GeneratorError> {
    let problems: Vec<&Problem> = examples.iter().map(|e| &e.problem).collect();
    let baselines = examples.iter().map(|e| e.baseline.clone()).collect();
    let cond = Conditioning::with_baselines(&problems, baselines, device)?;
    let [b, n, _] = cond.robots.dims();
    let mut x = vec![0f32; b * n * dim];
    for (i, e) in examples.iter().enumerate() {
        x[i * n * dim..i * n * dim + e.target.len()].copy_from_slice(&e.target);
    }
    Ok((
        Tensor::from_data(TensorData::new(x, [b, n, dim]), device),
        cond,
    ))
}

/// Reported after every step.
#[derive(Debug, Clone, Copy)]
pub struct TrainProgress {
    /// Steps done.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// Mean training loss over the last 50 steps.
    pub recent_loss: f64,
    /// The latest validation loss, if any yet.
    pub validation_loss: Option<f64>,
}

/// One point of the loss curves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    /// Steps done.
    pub step: usize,
    /// Mean training loss over the last 50 steps.
    pub train: f64,
    /// Validation loss (fixed noise and times), when there is a validation set.
    pub validation: Option<f64>,
}

/// The JSON document written beside the weights (and, with the step, beside each checkpoint).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeneratorReport {
    /// The model's shape.
    pub config: GeneratorConfig,
    /// Trainable parameters.
    pub parameters: usize,
    /// The training settings.
    pub training: GeneratorTrainSettings,
    /// The dataset file trained on.
    pub dataset: String,
    /// Training / validation examples.
    pub examples: [usize; 2],
    /// Steps done.
    pub step: usize,
    /// The loss curve, one point per validation.
    pub curve: Vec<LossPoint>,
    /// Wall-clock training time, all runs of a resumed training together.
    pub seconds: f64,
}

/// Where the checkpoints of a run writing `out` go.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    let mut name = out.file_stem().unwrap_or_default().to_os_string();
    name.push(".checkpoints");
    out.with_file_name(name)
}

fn learning_rate(settings: &GeneratorTrainSettings, step: usize) -> f64 {
    let warmup = (settings.steps / 20).max(1);
    if step < warmup {
        return settings.learning_rate * (step + 1) as f64 / warmup as f64;
    }
    let t = (step - warmup) as f64 / (settings.steps - warmup).max(1) as f64;
    settings.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

/// Validation loss with noise and times fixed by the seed, in minibatches.
fn validation_loss(
    net: &GeneratorNet,
    val: &[Example],
    settings: &GeneratorTrainSettings,
    device: &Device,
) -> Result<Option<f64>, GeneratorError> {
    if val.is_empty() {
        return Ok(None);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed ^ 0x0A11_DA7E);
    let (mut total, mut weight) = (0.0, 0.0);
    for chunk in val.chunks(settings.batch_size) {
        let refs: Vec<&Example> = chunk.iter().collect();
        let (x1, cond) = batch(&refs, net.trajectory_dim(), device)?;
        let robots: usize = cond.robot_counts.iter().sum();
        let loss = flow::loss(net, x1, &cond, &mut rng).into_scalar::<f32>();
        total += f64::from(loss) * robots as f64;
        weight += robots as f64;
    }
    Ok(Some(total / weight.max(1.0)))
}

/// Trains a generator with `config` on `train`/`val` on `device` (autodiff is added here).
/// Writes checkpoints (model, optimizer state and report every `checkpoint_every` steps) under
/// `out.checkpoints/`, the weights to `out.bpk` and the report to `out.json`. With `resume`,
/// training continues from the latest checkpoint there (same settings required).
#[allow(clippy::too_many_arguments)]
pub fn train(
    config: GeneratorConfig,
    settings: &GeneratorTrainSettings,
    dataset: &str,
    train: &[Example],
    val: &[Example],
    device: &Device,
    out: &Path,
    resume: bool,
    progress: &mut dyn FnMut(&TrainProgress),
) -> Result<GeneratorReport, GeneratorError> {
    config.validate()?;
    settings.validate()?;
    let started = Instant::now();
    let _span = tracing::info_span!("train", model = "generator", steps = settings.steps).entered();
    let ad = device.clone().autodiff();
    let mut net = config.init_seeded(&ad, settings.seed);
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let mut report = GeneratorReport {
        config,
        parameters: net.num_params(),
        training: settings.clone(),
        dataset: dataset.to_string(),
        examples: [train.len(), val.len()],
        step: 0,
        curve: Vec::new(),
        seconds: 0.0,
    };
    let dir = checkpoint_dir(out);
    let latest = if resume {
        latest_checkpoint(&dir)?
    } else {
        None
    };
    if let Some((r, weights, optimizer)) = latest {
        if r.config != config || r.training != *settings || r.examples != report.examples {
            return Err(GeneratorError::Resume(format!(
                "{} was written with another model, settings or dataset",
                dir.display()
            )));
        }
        net = Generator::load_net(config, &weights, &ad)?;
        let record = OptimizerRecord::load(&optimizer).map_err(|e| GeneratorError::Record {
            what: optimizer.display().to_string(),
            message: e.to_string(),
        })?;
        optim = optim.load_record(record);
        report = r;
        tracing::info!(step = report.step, "resumed");
    }
    let seconds_before = report.seconds;
    let mut recent: Vec<f64> = Vec::new();
    for step in report.step..settings.steps {
        let _step = tracing::debug_span!("train_step", step).entered();
        // Everything random in a step derives from (seed, step): a resumed run continues the
        // same sequence.
        let mut rng = ChaCha8Rng::seed_from_u64(
            settings.seed ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let picked: Vec<&Example> = (0..settings.batch_size)
            .map(|_| &train[rng.random_range(0..train.len())])
            .collect();
        let (x1, cond) = batch(&picked, config.trajectory_dim(), &ad)?;
        let loss = flow::loss(&net, x1, &cond, &mut rng);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        if !value.is_finite() {
            return Err(GeneratorError::Diverged { step: step + 1 });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(learning_rate(settings, step), net, grads);
        recent.push(value);
        if recent.len() > 50 {
            recent.remove(0);
        }
        let recent_loss = recent.iter().sum::<f64>() / recent.len() as f64;
        let done = step + 1;
        report.step = done;
        if done % settings.validate_every == 0 || done == settings.steps {
            let validation = validation_loss(&net.valid(), val, settings, device)?;
            report.curve.push(LossPoint {
                step: done,
                train: recent_loss,
                validation,
            });
            tracing::info!(step = done, train = recent_loss, validation, "loss");
        }
        progress(&TrainProgress {
            step: done,
            steps: settings.steps,
            recent_loss,
            validation_loss: report.curve.last().and_then(|p| p.validation),
        });
        if settings.checkpoint_every > 0 && done % settings.checkpoint_every == 0 {
            report.seconds = seconds_before + started.elapsed().as_secs_f64();
            save_checkpoint(&dir, &report, &net, optim.to_record())?;
        }
    }
    report.seconds = seconds_before + started.elapsed().as_secs_f64();
    let generator = Generator::from_net(config, net.valid());
    generator.save(out, &report)?;
    Ok(report)
}

fn save_checkpoint(
    dir: &Path,
    report: &GeneratorReport,
    net: &GeneratorNet,
    optimizer: OptimizerRecord,
) -> Result<(), GeneratorError> {
    let stem = dir.join(format!("step-{:06}", report.step));
    std::fs::create_dir_all(dir).map_err(|source| GeneratorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    // The optimizer state first: the report (JSON) written last marks a complete checkpoint.
    let path = stem.with_extension("optim.bpk");
    optimizer.save(&path).map_err(|e| GeneratorError::Record {
        what: path.display().to_string(),
        message: e.to_string(),
    })?;
    Generator::from_net(report.config, net.valid()).save(&stem, report)
}

/// The checkpoint with the most steps in `dir`: its report, weights and optimizer state.
fn latest_checkpoint(
    dir: &Path,
) -> Result<Option<(GeneratorReport, PathBuf, PathBuf)>, GeneratorError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut best: Option<PathBuf> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("step-")
            && name.ends_with(".json")
            && best.as_ref().is_none_or(|b| path > *b)
        {
            best = Some(path);
        }
    }
    let Some(json) = best else { return Ok(None) };
    let report = crate::read_report(&json)?;
    Ok(Some((
        report,
        json.with_extension("bpk"),
        json.with_extension("optim.bpk"),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::{DEFAULT_ORDER, Scenario, ScenarioConfig};

    /// Examples with made-up (not necessarily feasible) targets: the baseline bent by a
    /// problem-dependent amount.
    fn synthetic(count: usize) -> Vec<Example> {
        let basis = Bernstein::new(DEFAULT_ORDER).unwrap();
        (0..count)
            .map(|i| {
                let problem = Scenario::Random
                    .generate(&ScenarioConfig::new(2 + i % 3).seed(i as u64))
                    .unwrap();
                let mut solution = baseline(&problem, &basis);
                for (r, c) in solution.iter_mut().enumerate() {
                    for a in 3..8 {
                        c.x[a] += 0.8 * ((i + r + a) as f64).sin();
                        c.y[a] -= 0.8 * ((i * 3 + r + a) as f64).cos();
                    }
                }
                Example::new(problem, &solution, &basis).unwrap()
            })
            .collect()
    }

    /// The model overfits four examples: the flow-matching loss (fixed noise and times) drops
    /// more than tenfold; weights, report and checkpoints are written.
    #[test]
    fn a_tiny_dataset_is_overfitted_and_the_run_is_saved() {
        let _serial = crate::test_lock();
        let device = Device::flex();
        let examples = synthetic(4);
        let config = crate::config::tiny();
        let settings = GeneratorTrainSettings {
            steps: 800,
            batch_size: 4,
            learning_rate: 5e-3,
            validate_every: 200,
            checkpoint_every: 400,
            ..Default::default()
        };
        let before = validation_loss(&config.init(&device), &examples, &settings, &device)
            .unwrap()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("flowopt-gen-train-{}", std::process::id()));
        let out = dir.join("tiny");
        let report = train(
            config,
            &settings,
            "synthetic",
            &examples,
            &examples,
            &device,
            &out,
            false,
            &mut |_| {},
        )
        .unwrap();
        let after = report.curve.last().unwrap().validation.unwrap();
        assert!(after < before / 10.0, "loss {before} -> {after}");
        assert_eq!(report.step, 800);
        assert!(out.with_extension("bpk").is_file());
        let loaded = Generator::load(&out, &device).unwrap();
        assert_eq!(*loaded.config(), config);
        let reloaded = validation_loss(loaded.net(), &examples, &settings, &device)
            .unwrap()
            .unwrap();
        assert!(
            (reloaded - after).abs() < 1e-4 * after.max(1.0),
            "{reloaded} vs {after}"
        );
        assert!(checkpoint_dir(&out).join("step-000800.optim.bpk").is_file());
        // Sampling the overfitted model lands every candidate on its problem's one target, and
        // a problem's candidates do not depend on the rest of the batch.
        let sampler = crate::FlowSampler::new(
            loaded.net(),
            crate::SampleSettings {
                candidates: 3,
                steps: 8,
                ..Default::default()
            },
        );
        let problems: Vec<&Problem> = examples.iter().map(|e| &e.problem).collect();
        let cond = Conditioning::new(&problems, &device).unwrap();
        let d = config.trajectory_dim();
        let seeds = [11, 12, 13, 14];
        let all = sampler.sample(&cond, &seeds, d);
        let [_, n, _] = all.dims();
        let all: Vec<f32> = all.into_data().try_to_vec::<f32>().unwrap();
        for (i, e) in examples.iter().enumerate() {
            let rms = |v: &mut dyn Iterator<Item = f32>| {
                let (s, c) = v.fold((0f32, 0usize), |(s, c), x| (s + x * x, c + 1));
                (s / c.max(1) as f32).sqrt()
            };
            let target = rms(&mut e.target.iter().copied());
            for j in 0..3 {
                let row = &all[(i * 3 + j) * n * d..][..e.target.len()];
                let error = rms(&mut row.iter().zip(&e.target).map(|(a, b)| a - b));
                assert!(
                    error < 0.1 * target,
                    "problem {i} candidate {j}: rms error {error} of {target}"
                );
            }
        }
        let one = Conditioning::new(&problems[2..3], &device).unwrap();
        let alone: Vec<f32> = sampler
            .sample(&one, &seeds[2..3], d)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let n2 = examples[2].problem.robots.len();
        for j in 0..3 {
            let a = &alone[j * n2 * d..][..n2 * d];
            let b = &all[(2 * 3 + j) * n * d..][..n2 * d];
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4, "batch dependence: {x} vs {y}");
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A run cut short resumes from its latest checkpoint (weights and optimizer state) and
    /// ends exactly where the uninterrupted run ends.
    #[test]
    fn an_interrupted_run_resumes_to_the_same_weights() {
        let _serial = crate::test_lock();
        let device = Device::flex();
        let examples = synthetic(3);
        let config = GeneratorConfig {
            width: 16,
            heads: 2,
            blocks: 1,
            ..Default::default()
        };
        let settings = GeneratorTrainSettings {
            steps: 12,
            batch_size: 3,
            validate_every: 6,
            checkpoint_every: 6,
            ..Default::default()
        };
        let dir = std::env::temp_dir().join(format!("flowopt-gen-resume-{}", std::process::id()));
        let run = |name: &str, resume: bool| {
            train(
                config,
                &settings,
                "synthetic",
                &examples,
                &examples,
                &device,
                &dir.join(name),
                resume,
                &mut |_| {},
            )
            .unwrap()
        };
        let full = run("a", false);
        // Interrupt: a second run whose last checkpoint is step 6.
        run("b", false);
        std::fs::remove_file(dir.join("b.checkpoints/step-000012.json")).unwrap();
        let resumed = run("b", true);
        assert_eq!(resumed.step, 12);
        let loss = |name: &str| {
            let g = Generator::load(&dir.join(name), &device).unwrap();
            validation_loss(g.net(), &examples, &settings, &device)
                .unwrap()
                .unwrap()
        };
        let (a, b) = (loss("a"), loss("b"));
        assert!((a - b).abs() <= 1e-6 * a.abs().max(1e-12), "{a} vs {b}");
        assert_eq!(full.curve.len(), resumed.curve.len());
        // Other settings cannot resume from these checkpoints.
        let other = GeneratorTrainSettings {
            learning_rate: 1e-2,
            ..settings.clone()
        };
        let err = train(
            config,
            &other,
            "synthetic",
            &examples,
            &examples,
            &device,
            &dir.join("b"),
            true,
            &mut |_| {},
        );
        assert!(matches!(err, Err(GeneratorError::Resume(_))));
        std::fs::remove_dir_all(&dir).ok();
    }
}
