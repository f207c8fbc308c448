//! The ground truth of Flow-Opt: the planning problem and plan (the JSON contract shared by the
//! CLI and the HTTP API), Bernstein-polynomial trajectories, seeded scenario generators, the
//! metrics every planner is judged by, and the [`Planner`] trait with the `straight` planner.
//!
//! No neural code lives here (no Burn): the filter, generator and planners build on these types.
//!
//! ```
//! use flowopt_core::{evaluate, CheckConfig, PlanOptions, Planner, Scenario, ScenarioConfig,
//!     StraightPlanner};
//!
//! let problem = Scenario::Circle.generate(&ScenarioConfig::new(8).seed(1)).unwrap();
//! let plan = StraightPlanner::default().plan(&problem, &PlanOptions::default()).unwrap();
//! // Straight lines through the centre of a circle swap collide.
//! assert!(!plan.feasible);
//! let metrics = evaluate(&problem, &plan.trajectories, &CheckConfig::default()).unwrap();
//! assert_eq!(metrics, plan.metrics);
//! ```
#![warn(missing_docs)]

mod bernstein;
pub mod certificate;
pub mod dataset;
mod error;
mod guidance;
mod metrics;
mod plan;
mod planner;
mod pool;
mod problem;
mod scenario;
mod trajectory;
pub mod vda5050;

pub use bernstein::{BOUNDARY_ROWS, Bernstein, DEFAULT_ORDER, SampleMatrices};
pub use certificate::{Certificate, Constraint, Violation, certify};
pub use error::{ErrorKind, InputError, PlanError};
pub use guidance::{Guidance, GuidePaths, guide_paths, path_coefficients};
pub use metrics::{CheckConfig, DEFAULT_TOLERANCE, Metrics, Residuals, evaluate};
pub use plan::{Candidate, Plan, elapsed_ms};
pub use planner::{PlanOptions, Planner, StraightPlanner};
pub use pool::{lanes, on_pool};
pub use problem::{
    DEFAULT_HORIZON, DEFAULT_MAX_ACCEL, DEFAULT_MAX_SPEED, DEFAULT_RADIUS, DEFAULT_SAMPLES, Limits,
    Obstacle, Problem, Robot, ValidationConfig, Vec2, Workspace, dist, norm, uniform_times,
};
pub use scenario::{Scenario, ScenarioConfig};
pub use trajectory::{Coefficients, Trajectory, max_coefficient_difference};
