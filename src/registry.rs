//! Planners by name.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Device, DeviceKind};
use flowopt_baselines::{OrcaPlanner, ScpPlanner};
use flowopt_core::{ErrorKind, InputError, Planner, StraightPlanner};
use flowopt_filter::{FilterPlanner, FilterSettings};

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

/// Names and one-line descriptions of the planners [`planner_by_name`] knows.
pub const PLANNERS: &[(&str, &str)] = &[
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

/// The planner called `name` (tensor work on `device`), or an error naming the `planner` field
/// that lists the choices.
pub fn planner_by_name(name: &str, device: DeviceChoice) -> Result<Box<dyn Planner>, InputError> {
    match name {
        "filter" => Ok(Box::new(FilterPlanner::new(
            FilterSettings::default(),
            device.device(),
        )?)),
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
            ))
        }
    }
}
