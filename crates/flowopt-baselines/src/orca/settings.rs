//! Settings of the `orca` planner: documented fields with defaults, and `validate()` naming the
//! bad field.

use flowopt_core::{ErrorKind, InputError};

/// Settings of the [`OrcaPlanner`](super::OrcaPlanner).
#[derive(Debug, Clone, PartialEq)]
pub struct OrcaSettings {
    /// Largest simulation time step in seconds (default 0.05). The step actually used divides
    /// the sample interval T / (M - 1) exactly, so it may be a little smaller.
    pub time_step: f64,
    /// How far ahead, in seconds, robots avoid each other (default 0.5 s). Longer horizons make
    /// robots cautious enough to jam in dense crowds within the problem's horizon.
    pub time_horizon: f64,
    /// How far ahead, in seconds, robots avoid obstacles and walls (default 1 s).
    pub obstacle_time_horizon: f64,
    /// Robots whose centres are farther apart than this (plus both radii), in metres, ignore
    /// each other for the step (default 5 m).
    pub neighbour_distance: f64,
    /// Added to every radius ORCA sees, in metres (default 0.03 m), so the discretization and
    /// the straight chords between samples (what the metrics check) keep the true clearance
    /// without safety stops. Larger margins avoid more stops but jam dense crowds sooner.
    pub safety_margin: f64,
    /// Clamp each step's velocity change to `limits.max_accel * dt` (default true).
    pub limit_accel: bool,
    /// Fraction of `limits.max_accel` the preferred velocity assumes when braking towards the
    /// goal (default 0.8), leaving headroom for the clamp.
    pub braking: f64,
    /// Number of sides of the polygon that approximates each circular obstacle (default 16).
    /// The polygon circumscribes the circle, so robots never touch the true disc.
    pub obstacle_sides: usize,
    /// Magnitude of the seeded random perturbation of the preferred velocity, as a fraction of
    /// the preferred speed (default 0.01); it breaks the symmetric deadlocks of ORCA.
    pub perturbation: f64,
    /// Largest angle, in radians, by which a blocked robot turns its preferred velocity to the
    /// right (default 1); scaled by how far its progress towards the goal falls short of the
    /// preferred speed. Consistent turning dissolves the symmetric jams of ORCA, where every
    /// robot heads for the same point; 0 disables it.
    pub right_hand_bias: f64,
    /// Only robots with another robot's disc within this gap, in metres, count as blocked for
    /// the right-hand turn (default 1 m); lone robots that are slow because of their own
    /// dynamics (turning, braking) head straight for their goal.
    pub crowd_distance: f64,
    /// Cell size, in metres, of the grid on which each robot's shortest path to its goal
    /// around the obstacles is computed (default 0.1 m). Robots whose goal is hidden behind
    /// obstacles head along that path instead of straight at the goal, which would leave them
    /// stuck in front of walls and shelf rows. 0 disables the guidance (pure ORCA).
    pub guidance_cell: f64,
    /// Most simulation steps (default 200 000); longer horizons get a longer time step.
    pub max_steps: usize,
}

impl Default for OrcaSettings {
    fn default() -> Self {
        Self {
            time_step: 0.05,
            time_horizon: 0.5,
            obstacle_time_horizon: 1.0,
            neighbour_distance: 5.0,
            safety_margin: 0.03,
            limit_accel: true,
            braking: 0.8,
            obstacle_sides: 16,
            perturbation: 0.01,
            right_hand_bias: 1.0,
            guidance_cell: 0.1,
            crowd_distance: 1.0,
            max_steps: 200_000,
        }
    }
}

impl OrcaSettings {
    /// Checks every field; the error names the first offending one.
    pub fn validate(&self) -> Result<(), InputError> {
        let positive = |x: f64, field: &str| {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                Err(InputError::new(
                    ErrorKind::OutOfRange,
                    field,
                    format!("{field} must be a finite number > 0, got {x}"),
                ))
            }
        };
        positive(self.time_step, "time_step")?;
        positive(self.time_horizon, "time_horizon")?;
        positive(self.obstacle_time_horizon, "obstacle_time_horizon")?;
        positive(self.neighbour_distance, "neighbour_distance")?;
        if !(self.safety_margin.is_finite() && self.safety_margin >= 0.0) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "safety_margin",
                format!("safety_margin must be >= 0, got {}", self.safety_margin),
            ));
        }
        if !(self.braking > 0.0 && self.braking <= 1.0) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "braking",
                format!("braking must be in (0, 1], got {}", self.braking),
            ));
        }
        if !(3..=1024).contains(&self.obstacle_sides) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "obstacle_sides",
                format!(
                    "obstacle_sides must be in 3..=1024, got {}",
                    self.obstacle_sides
                ),
            ));
        }
        if !(self.perturbation >= 0.0 && self.perturbation < 1.0) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "perturbation",
                format!("perturbation must be in [0, 1), got {}", self.perturbation),
            ));
        }
        if !(self.right_hand_bias >= 0.0 && self.right_hand_bias <= std::f64::consts::FRAC_PI_2) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "right_hand_bias",
                format!(
                    "right_hand_bias must be in [0, pi/2], got {}",
                    self.right_hand_bias
                ),
            ));
        }
        if !(self.crowd_distance.is_finite() && self.crowd_distance >= 0.0) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "crowd_distance",
                format!("crowd_distance must be >= 0, got {}", self.crowd_distance),
            ));
        }
        if !(self.guidance_cell.is_finite() && self.guidance_cell >= 0.0) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "guidance_cell",
                format!("guidance_cell must be >= 0, got {}", self.guidance_cell),
            ));
        }
        if self.max_steps == 0 {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "max_steps",
                "max_steps must be > 0",
            ));
        }
        Ok(())
    }
}
