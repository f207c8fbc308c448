//! Planners by name.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{FilterPlanner, FlowOptPlanner, FlowOptSettings};
use burn::tensor::{Device, DeviceKind};
use flowopt_baselines::{OrcaPlanner, ScpPlanner};
use flowopt_core::{ErrorKind, InputError, Planner, StraightPlanner};
use flowopt_filter::{FilterSettings, WarmStart, WarmStartError};
use flowopt_generator::{Generator, GeneratorError};

/// Where neural and tensor work runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The pure-Rust CPU backend (flex), the default.
    #[default]
    Cpu,
    /// A GPU through wgpu (on machines without one, Mesa's llvmpipe: correct but slow).
    Wgpu,
}

impl DeviceChoice {
    /// The Burn device.
    pub fn device(&self) -> Device {
        match self {
            DeviceChoice::Cpu => Device::flex(),
            DeviceChoice::Wgpu => Device::wgpu(DeviceKind::DefaultDevice),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "wgpu" => Ok(DeviceChoice::Wgpu),
            _ => Err(InputError::new(
                ErrorKind::OutOfRange,
                "device",
                format!("unknown device `{s}`; expected cpu or wgpu"),
            )),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Wgpu => "wgpu",
        })
    }
}

/// Which warm start the safety filter uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WarmStartChoice {
    /// The network shipped in `assets/warmstart.bpk` (embedded in the binary), the default.
    #[default]
    Shipped,
    /// None: every projection starts from its candidate with zero multipliers.
    None,
    /// Weights written by `flowopt train warmstart` (`x.bpk` with `x.json` beside it).
    Path(PathBuf),
}

impl WarmStartChoice {
    /// The network on `device`, if any.
    pub fn load(&self, device: &Device) -> Result<Option<WarmStart>, WarmStartError> {
        match self {
            WarmStartChoice::Shipped => WarmStart::shipped(device).map(Some),
            WarmStartChoice::None => Ok(None),
            WarmStartChoice::Path(path) => WarmStart::load(path, device).map(Some),
        }
    }
}

impl FromStr for WarmStartChoice {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "shipped" => WarmStartChoice::Shipped,
            "none" => WarmStartChoice::None,
            path => WarmStartChoice::Path(path.into()),
        })
    }
}

/// Which generator weights the `flowopt` planner uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum GeneratorChoice {
    /// The generator shipped in `assets/generator.bpk` (embedded in the binary), the default.
    #[default]
    Shipped,
    /// Weights written by `flowopt train generator` (`x.bpk` with `x.json` beside it).
    Path(PathBuf),
}

impl GeneratorChoice {
    /// The generator on `device`.
    pub fn load(&self, device: &Device) -> Result<Generator, GeneratorError> {
        match self {
            GeneratorChoice::Shipped => Generator::shipped(device),
            GeneratorChoice::Path(path) => Generator::load(path, device),
        }
    }
}

impl FromStr for GeneratorChoice {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "shipped" => GeneratorChoice::Shipped,
            path => GeneratorChoice::Path(path.into()),
        })
    }
}

/// The command-line spelling of [`GeneratorChoice::Shipped`].
pub const DEFAULT_GENERATOR: &str = "shipped";

/// How [`planner_by_name`] builds a planner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlannerOptions {
    /// Where tensor work runs.
    pub device: DeviceChoice,
    /// The safety filter's warm start.
    pub warm_start: WarmStartChoice,
    /// Generator weights of the `flowopt` planner.
    pub generator: GeneratorChoice,
    /// Options of the `flowopt` planner.
    pub flowopt: FlowOptSettings,
}

/// Errors building a planner.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A bad name or setting.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The warm start could not be loaded.
    #[error(transparent)]
    WarmStart(#[from] WarmStartError),
    /// The generator weights could not be loaded.
    #[error("generator weights (train them with `flowopt train generator`): {0}")]
    Generator(#[from] GeneratorError),
}

/// Names and one-line descriptions of the planners [`planner_by_name`] knows.
pub const PLANNERS: &[(&str, &str)] = &[
    (
        "flowopt",
        "flow-matching generator -> learned warm start -> batched safety filter -> best candidate",
    ),
    (
        "filter",
        "perturbed straight lines (paths around obstacles) projected by the batched safety filter",
    ),
    (
        "scp",
        "centralized optimization of all robots' polynomials (sequential convex programming, Clarabel)",
    ),
    (
        "orca",
        "decentralized reactive collision avoidance (ORCA), simulated over the horizon",
    ),
    (
        "straight",
        "each robot on its smoothest path to the goal, ignoring the others (no collision avoidance)",
    ),
];

/// The `flowopt` planner built with `options` (generator and warm start loaded on its device):
/// [`planner_by_name`]`("flowopt", ..)` as its own type, for callers that change its settings
/// per request ([`FlowOptPlanner::with_settings`]).
pub fn flowopt_planner(options: &PlannerOptions) -> Result<FlowOptPlanner, RegistryError> {
    let device = options.device.device();
    let generator = options.generator.load(&device)?;
    let warm_start = options.warm_start.load(&device)?;
    Ok(FlowOptPlanner::new(
        generator,
        warm_start,
        options.flowopt,
        device,
    )?)
}

/// The planner called `name`, built with `options`, or an error naming the `planner` field
/// that lists the choices.
pub fn planner_by_name(
    name: &str,
    options: &PlannerOptions,
) -> Result<Box<dyn Planner>, RegistryError> {
    match name {
        "filter" => {
            let device = options.device.device();
            let warm_start = options.warm_start.load(&device)?;
            let mut planner = FilterPlanner::new(FilterSettings::default(), device)?;
            if let Some(warm) = warm_start {
                planner = planner.with_warm_start(warm);
            }
            Ok(Box::new(planner))
        }
        "flowopt" => Ok(Box::new(flowopt_planner(options)?)),
        "straight" => Ok(Box::new(StraightPlanner::default())),
        "scp" => Ok(Box::new(ScpPlanner::default())),
        "orca" => Ok(Box::new(OrcaPlanner::default())),
        _ => {
            let names: Vec<&str> = PLANNERS.iter().map(|(n, _)| *n).collect();
            Err(InputError::new(
                ErrorKind::OutOfRange,
                "planner",
                format!(
                    "unknown planner `{name}`; expected one of {}",
                    names.join(", ")
                ),
            )
            .into())
        }
    }
}
