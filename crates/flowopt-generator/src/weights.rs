//! A trained generator on one device: Burn weights (`x.bpk`) with the training report
//! (`x.json`, [`GeneratorReport`]) beside them; the report's `config` says how to build the
//! network before loading.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use flowopt_core::InputError;

use crate::config::GeneratorConfig;
use crate::model::GeneratorNet;
use crate::train::GeneratorReport;

/// Errors of the generator: loading, saving, training.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A training checkpoint's optimizer state cannot be read or written.
    #[error("generator optimizer state {what}: {message}")]
    Record {
        /// Which file.
        what: String,
        /// Burn's message.
        message: String,
    },
    /// The weights file is missing or does not fit the network the JSON document describes.
    #[error("generator weights: {0}")]
    Weights(#[from] flowopt_nn::WeightsError),
    /// The JSON document beside the weights is malformed.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint cannot be resumed.
    #[error("cannot resume: {0}")]
    Resume(String),
    /// The training loss became NaN or infinite.
    #[error("training diverged at step {step} (loss not finite); lower the learning rate")]
    Diverged {
        /// The step.
        step: usize,
    },
    /// A setting or input is out of range.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// Reads a training report.
pub(crate) fn read_report(path: &Path) -> Result<GeneratorReport, GeneratorError> {
    let text = std::fs::read_to_string(path).map_err(|source| GeneratorError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| GeneratorError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The shipped weights and their JSON report, produced by `flowopt train generator` (see
/// docs/training.md#training-the-generator).
const SHIPPED_WEIGHTS: &[u8] = include_bytes!("../../../assets/generator.bpk");
const SHIPPED_REPORT: &str = include_str!("../../../assets/generator.json");

/// A generator network on one device.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GeneratorConfig,
    net: GeneratorNet,
}

impl Generator {
    /// The generator trained and shipped with Flow-Opt (`assets/generator.bpk`, embedded in
    /// the binary).
    pub fn shipped(device: &Device) -> Result<Self, GeneratorError> {
        let what = "assets/generator.bpk";
        let report: GeneratorReport =
            serde_json::from_str(SHIPPED_REPORT).map_err(|e| GeneratorError::Json {
                path: "assets/generator.json".into(),
                message: e.to_string(),
            })?;
        report.config.validate()?;
        let net = flowopt_nn::load_bytes(report.config.init(device), SHIPPED_WEIGHTS, what)?;
        Ok(Self {
            config: report.config,
            net,
        })
    }

    /// Loads `path` (`x.bpk` with `x.json` beside it; the extension may be left out).
    pub fn load(path: &Path, device: &Device) -> Result<Self, GeneratorError> {
        let report = read_report(&path.with_extension("json"))?;
        let net = Self::load_net(report.config, &path.with_extension("bpk"), device)?;
        Ok(Self {
            config: report.config,
            net,
        })
    }

    pub(crate) fn load_net(
        config: GeneratorConfig,
        weights: &Path,
        device: &Device,
    ) -> Result<GeneratorNet, GeneratorError> {
        config.validate()?;
        Ok(flowopt_nn::load(config.init(device), weights)?)
    }

    /// Saves the weights to `path.bpk` and `report` to `path.json`.
    pub fn save(&self, path: &Path, report: &GeneratorReport) -> Result<(), GeneratorError> {
        flowopt_nn::save(&self.net, path)?;
        let json = path.with_extension("json");
        let text = serde_json::to_string_pretty(report).map_err(|e| GeneratorError::Json {
            path: json.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&json, text + "\n")
            .map_err(|source| GeneratorError::Io { path: json, source })
    }

    pub(crate) fn from_net(config: GeneratorConfig, net: GeneratorNet) -> Self {
        Self { config, net }
    }

    /// The model's shape.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The network.
    pub fn net(&self) -> &GeneratorNet {
        &self.net
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::GeneratorTrainSettings;
    use crate::{Conditioning, FlowSampler, SampleSettings};
    use burn::tensor::DeviceKind;
    use flowopt_core::Problem;

    fn report(config: GeneratorConfig) -> GeneratorReport {
        GeneratorReport {
            config,
            parameters: 0,
            training: GeneratorTrainSettings::default(),
            dataset: "none".into(),
            examples: [0, 0],
            step: 0,
            curve: Vec::new(),
            seconds: 0.0,
        }
    }

    fn sample(generator: &Generator, problems: &[&Problem], device: &Device) -> Vec<f32> {
        let cond = Conditioning::new(problems, device).unwrap();
        let settings = SampleSettings {
            candidates: 2,
            steps: 3,
            ..Default::default()
        };
        FlowSampler::new(generator.net(), settings)
            .sample(&cond, &[5, 6], generator.net().trajectory_dim())
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()
    }

    /// Weights saved on the CPU load on wgpu (Mesa's llvmpipe here) and sample the same
    /// candidates within 1e-3; files that do not fit the config are errors naming them.
    #[test]
    fn weights_round_trip_and_wgpu_samples_match_the_cpu() {
        let _serial = crate::test_lock();
        let cpu = Device::flex();
        let config = crate::config::tiny();
        let generator = Generator::from_net(config, config.build_seeded(&cpu, 3, false));
        let dir = std::env::temp_dir().join(format!("flowopt-gen-weights-{}", std::process::id()));
        let path = dir.join("g");
        generator.save(&path, &report(config)).unwrap();
        let [a, b] = crate::config::unequal_problems();
        let reference = sample(&generator, &[&a, &b], &cpu);
        assert!(reference.iter().any(|v| v.abs() > 1e-3), "trivial samples");
        let on_cpu = Generator::load(&path, &cpu).unwrap();
        assert_eq!(sample(&on_cpu, &[&a, &b], &cpu), reference);
        let gpu = Device::wgpu(DeviceKind::DefaultDevice);
        let on_gpu = Generator::load(&path, &gpu).unwrap();
        let moved = sample(&on_gpu, &[&a, &b], &gpu);
        let diff = moved
            .iter()
            .zip(&reference)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff < 1e-3, "wgpu differs from the CPU by {diff}");
        // A report describing another shape: the weights do not fit.
        let wider = GeneratorConfig {
            width: 64,
            ..config
        };
        std::fs::write(
            path.with_extension("json"),
            serde_json::to_string(&report(wider)).unwrap(),
        )
        .unwrap();
        let err = Generator::load(&path, &cpu).unwrap_err();
        assert!(
            matches!(
                err,
                GeneratorError::Weights(flowopt_nn::WeightsError::Record { .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("g.bpk"), "{err}");
        let err = Generator::load(&dir.join("missing"), &cpu).unwrap_err();
        assert!(err.to_string().contains("missing.json"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
