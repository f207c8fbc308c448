//! Planners by name.

use flowopt_baselines::{OrcaPlanner, ScpPlanner};
use flowopt_core::{ErrorKind, InputError, Planner, StraightPlanner};

/// Names and one-line descriptions of the planners [`planner_by_name`] knows.
pub const PLANNERS: &[(&str, &str)] = &[
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

/// The planner called `name`, or an error naming the `planner` field that lists the choices.
pub fn planner_by_name(name: &str) -> Result<Box<dyn Planner>, InputError> {
    match name {
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
