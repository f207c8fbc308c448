//! A trained generator on one device: Burn weights (`x.bpk`) with the training report
//! (`x.json`, [`GeneratorReport`]) beside them; the report's `config` says how to build the
//! network before loading.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
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
    /// The weights do not fit the network described by the JSON document.
    #[error("generator weights {what}: {message}")]
    Record {
        /// Which weights.
        what: String,
        /// Burn's message.
        message: String,
    },
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

/// A generator network on one device.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GeneratorConfig,
    net: GeneratorNet,
}

impl Generator {
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
        let what = weights.display().to_string();
        if !weights.is_file() {
            return Err(GeneratorError::Io {
                path: weights.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let record = ModuleRecord::load(weights).map_err(|e| GeneratorError::Record {
            what: what.clone(),
            message: e.to_string(),
        })?;
        config
            .init(device)
            .try_load_record(record)
            .map_err(|e| GeneratorError::Record {
                what,
                message: e.to_string(),
            })
    }

    /// Saves the weights to `path.bpk` and `report` to `path.json`.
    pub fn save(&self, path: &Path, report: &GeneratorReport) -> Result<(), GeneratorError> {
        let weights = path.with_extension("bpk");
        if let Some(dir) = weights.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| GeneratorError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        self.net
            .clone()
            .save_file(&weights)
            .map_err(|e| GeneratorError::Record {
                what: weights.display().to_string(),
                message: e.to_string(),
            })?;
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
