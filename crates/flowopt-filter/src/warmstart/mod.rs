//! The learned warm start of the safety filter: a permutation-equivariant network reading the
//! problem and the candidate and predicting the solver's starting point (c_0, lambda_0),
//! trained self-supervised through unrolled filter iterations ([`train`]).
//!
//! Weights are Burn files (`.bpk`) with a JSON document beside them holding the network's
//! shape, the training settings and the measured value ([`WarmStartReport`]). The weights the
//! project ships (`assets/warmstart.bpk`) are embedded in the binary: [`WarmStart::shipped`].

mod features;
mod model;
mod train;

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use flowopt_core::InputError;
use serde::{Deserialize, Serialize};

pub use features::WarmStartInput;
pub use model::{WarmStartConfig, WarmStartNet, WarmStartOutput};
pub use train::{
    Evaluation, TrainProgress, WarmStartReport, WarmStartTrainSettings, evaluate, train,
};

use crate::batch::{Batch, Instance};
use crate::settings::FilterSettings;

/// Errors loading or saving warm-start weights.
#[derive(Debug, thiserror::Error)]
pub enum WarmStartError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The weights file is missing or does not fit the network the JSON document describes.
    #[error("warm-start weights: {0}")]
    Weights(#[from] flowopt_nn::WeightsError),
    /// The JSON document beside the weights is malformed.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A setting is out of range.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// The shipped weights and their JSON document, produced by `flowopt train warmstart`.
const SHIPPED_WEIGHTS: &[u8] = include_bytes!("../../../../assets/warmstart.bpk");
const SHIPPED_REPORT: &str = include_str!("../../../../assets/warmstart.json");

/// The part of the JSON document a loader needs.
#[derive(Deserialize, Serialize)]
struct Header {
    config: WarmStartConfig,
}

/// A warm-start network on one device.
#[derive(Debug, Clone)]
pub struct WarmStart {
    config: WarmStartConfig,
    net: WarmStartNet,
}

impl WarmStart {
    /// An untrained network (its output layer is zero: it predicts c_0 = cbar, lambda_0 = 0).
    pub fn new(config: WarmStartConfig, device: &Device) -> Result<Self, WarmStartError> {
        config.validate()?;
        Ok(Self {
            config,
            net: config.init(device),
        })
    }

    /// The network trained and shipped with Flow-Opt (`assets/warmstart.bpk`, embedded).
    pub fn shipped(device: &Device) -> Result<Self, WarmStartError> {
        let header: Header =
            serde_json::from_str(SHIPPED_REPORT).map_err(|e| WarmStartError::Json {
                path: "assets/warmstart.json".into(),
                message: e.to_string(),
            })?;
        Self::with_weights(header.config, device, |net| {
            flowopt_nn::load_bytes(net, SHIPPED_WEIGHTS, "assets/warmstart.bpk")
        })
    }

    /// Loads `path` (`x.bpk`, with `x.json` beside it; the extension may be left out).
    pub fn load(path: &Path, device: &Device) -> Result<Self, WarmStartError> {
        let json = path.with_extension("json");
        let text = std::fs::read_to_string(&json).map_err(|source| WarmStartError::Io {
            path: json.clone(),
            source,
        })?;
        let header: Header = serde_json::from_str(&text).map_err(|e| WarmStartError::Json {
            path: json.clone(),
            message: e.to_string(),
        })?;
        Self::with_weights(header.config, device, |net| flowopt_nn::load(net, path))
    }

    fn with_weights(
        config: WarmStartConfig,
        device: &Device,
        load: impl FnOnce(WarmStartNet) -> Result<WarmStartNet, flowopt_nn::WeightsError>,
    ) -> Result<Self, WarmStartError> {
        config.validate()?;
        let net = load(config.init(device))?;
        Ok(Self { config, net })
    }

    /// Saves the weights to `path.bpk` (the JSON document is written by the trainer).
    pub fn save_weights(&self, path: &Path) -> Result<(), WarmStartError> {
        flowopt_nn::save(&self.net, path)?;
        Ok(())
    }

    /// The network's shape.
    pub fn config(&self) -> &WarmStartConfig {
        &self.config
    }

    /// The network.
    pub fn net(&self) -> &WarmStartNet {
        &self.net
    }

    /// The network's parameter count.
    pub fn num_params(&self) -> usize {
        self.net.num_params()
    }

    /// Predicts the starting point for `batch`, built from `instances`.
    pub fn predict(
        &self,
        instances: &[Instance],
        batch: &Batch,
        settings: &FilterSettings,
    ) -> WarmStartOutput {
        let _span = tracing::debug_span!("warm_start", instances = batch.size).entered();
        self.net
            .forward(&WarmStartInput::new(instances, batch, settings))
    }

    pub(crate) fn from_net(config: WarmStartConfig, net: WarmStartNet) -> Self {
        Self { config, net }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidates::perturbed_candidates;
    use flowopt_core::{Coefficients, DEFAULT_ORDER, Problem, Scenario, ScenarioConfig};
    use proptest::prelude::*;

    fn host(t: Tensor<3>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// Predicted (c0, lambda0) of one instance, as host vectors in the solver layout.
    fn predict_one(
        warm: &WarmStart,
        problem: &Problem,
        candidate: &[Coefficients],
    ) -> (Vec<f32>, Vec<f32>) {
        let settings = FilterSettings::default();
        let inst = [Instance { problem, candidate }];
        let batch = Batch::new(&inst, &settings, DEFAULT_ORDER, &Device::flex()).unwrap();
        let out = warm.predict(&inst, &batch, &settings);
        (host(out.c0), host(out.lambda0))
    }

    fn problem(robots: usize, seed: u64) -> (Problem, Vec<Coefficients>) {
        let p = Scenario::Obstacles
            .generate(&ScenarioConfig::new(robots).seed(seed))
            .unwrap();
        let c = perturbed_candidates(&p, 1, 0.5, seed).swap_remove(0);
        (p, c)
    }

    #[test]
    fn an_untrained_network_is_the_plain_start() {
        let warm = WarmStart::new(WarmStartConfig::default(), &Device::flex()).unwrap();
        let (p, c) = problem(4, 1);
        let (c0, lambda0) = predict_one(&warm, &p, &c);
        let settings = FilterSettings::default();
        let inst = [Instance {
            problem: &p,
            candidate: &c,
        }];
        let cbar = host(
            Batch::new(&inst, &settings, DEFAULT_ORDER, &Device::flex())
                .unwrap()
                .cbar,
        );
        assert_eq!(c0, cbar);
        assert!(lambda0.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn the_shipped_network_loads_and_moves_the_start() {
        let warm = WarmStart::shipped(&Device::flex()).unwrap();
        let (p, c) = problem(5, 2);
        let (_, lambda0) = predict_one(&warm, &p, &c);
        assert!(
            lambda0.iter().any(|v| v.abs() > 1e-4),
            "trained output is zero"
        );
        assert!(lambda0.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn weights_round_trip_through_a_file() {
        let device = Device::flex();
        let warm = WarmStart::shipped(&device).unwrap();
        let dir = std::env::temp_dir().join(format!("flowopt-ws-{}", std::process::id()));
        let path = dir.join("copy");
        warm.save_weights(&path).unwrap();
        std::fs::write(path.with_extension("json"), SHIPPED_REPORT).unwrap();
        let loaded = WarmStart::load(&path, &device).unwrap();
        let (p, c) = problem(3, 4);
        assert_eq!(predict_one(&warm, &p, &c), predict_one(&loaded, &p, &c));
        std::fs::remove_dir_all(&dir).ok();
        // A missing file and mismatched weights are errors, not panics.
        assert!(matches!(
            WarmStart::load(&dir.join("missing"), &device),
            Err(WarmStartError::Io { .. })
        ));
        let wider = WarmStartConfig {
            width: 32,
            ..Default::default()
        };
        let wider = WarmStart::with_weights(wider, &device, |net| {
            flowopt_nn::load_bytes(net, SHIPPED_WEIGHTS, "shipped")
        });
        assert!(matches!(
            wider,
            Err(WarmStartError::Weights(
                flowopt_nn::WeightsError::Record { .. }
            ))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]

        /// Permuting the robots permutes the prediction (to 1e-4 m); permuting the obstacles
        /// changes nothing.
        #[test]
        fn the_prediction_is_permutation_equivariant(seed in 0u64..1000, shift in 1usize..5) {
            let warm = WarmStart::shipped(&Device::flex()).unwrap();
            let (p, c) = problem(5, seed);
            let n = p.num_robots();
            let order: Vec<usize> = (0..n).map(|i| (i * 3 + shift) % n).collect();
            let mut q = p.clone();
            q.robots = order.iter().map(|&i| p.robots[i]).collect();
            q.obstacles.reverse();
            let qc: Vec<Coefficients> = order.iter().map(|&i| c[i].clone()).collect();
            let (c0, l0) = predict_one(&warm, &p, &c);
            let (qc0, ql0) = predict_one(&warm, &q, &qc);
            let k = DEFAULT_ORDER + 1;
            for axis in 0..2 {
                for (new, &old) in order.iter().enumerate() {
                    for j in 0..k {
                        let a = (axis * n + old) * k + j;
                        let b = (axis * n + new) * k + j;
                        prop_assert!((c0[a] - qc0[b]).abs() < 1e-4);
                        prop_assert!((l0[a] - ql0[b]).abs() < 1e-4);
                    }
                }
            }
        }
    }

    #[test]
    fn a_short_training_run_writes_weights_checkpoints_and_a_report() {
        let dir = std::env::temp_dir().join(format!("flowopt-train-{}", std::process::id()));
        let out = dir.join("ws");
        let settings = WarmStartTrainSettings {
            steps: 4,
            problems_per_step: 1,
            candidates: 2,
            min_robots: 2,
            max_robots: 4,
            unroll: 3,
            checkpoint_every: 2,
            eval_problems: 2,
            eval_max_iterations: 50,
            ..Default::default()
        };
        let config = WarmStartConfig {
            width: 16,
            heads: 2,
            blocks: 1,
            ..Default::default()
        };
        let mut seen = Vec::new();
        let report = train(
            config,
            &settings,
            &FilterSettings::default(),
            &Device::flex(),
            &out,
            &mut |p| seen.push(p.step),
        )
        .unwrap();
        assert_eq!(seen, vec![1, 2, 3, 4]);
        assert!(report.final_loss.is_finite());
        assert_eq!(report.evaluation.instances, 4);
        assert!(dir.join("ws.checkpoints/step-000002.bpk").is_file());
        assert!(dir.join("ws.checkpoints/step-000004.bpk").is_file());
        let loaded = WarmStart::load(&out, &Device::flex()).unwrap();
        assert_eq!(loaded.config(), &config);
        let text = std::fs::read_to_string(out.with_extension("json")).unwrap();
        let parsed: WarmStartReport = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.training, settings);
        std::fs::remove_dir_all(&dir).ok();
    }
}
