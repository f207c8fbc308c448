//! The planning problem: the request half of the JSON contract (DESIGN.md section 2), its defaults
//! and its validation.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, InputError};

/// Default horizon T in seconds.
pub const DEFAULT_HORIZON: f64 = 8.0;
/// Default robot radius in metres.
pub const DEFAULT_RADIUS: f64 = 0.2;
/// Default speed limit in m/s.
pub const DEFAULT_MAX_SPEED: f64 = 2.5;
/// Default acceleration limit in m/s^2.
pub const DEFAULT_MAX_ACCEL: f64 = 4.0;
/// Default number of trajectory samples M (including both ends).
pub const DEFAULT_SAMPLES: usize = 50;
/// Slack used when validating positions against the workspace and each other, so values written
/// with a few decimals are not rejected for rounding.
const GEOMETRY_SLACK: f64 = 1e-9;

/// A 2-D point or vector in metres (or m/s, m/s^2).
pub type Vec2 = [f64; 2];

/// An axis-aligned rectangular workspace.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workspace {
    /// Lower-left corner `[x, y]`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub min: Vec2,
    /// Upper-right corner `[x, y]`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub max: Vec2,
}

impl Workspace {
    /// A square workspace `[-half, half]^2`.
    pub fn square(half: f64) -> Self {
        Self {
            min: [-half, -half],
            max: [half, half],
        }
    }

    /// Width and height.
    pub fn size(&self) -> Vec2 {
        [self.max[0] - self.min[0], self.max[1] - self.min[1]]
    }

    /// The centre.
    pub fn centre(&self) -> Vec2 {
        [
            0.5 * (self.min[0] + self.max[0]),
            0.5 * (self.min[1] + self.max[1]),
        ]
    }

    /// Half the width and half the height.
    pub fn half_extents(&self) -> Vec2 {
        [
            0.5 * (self.max[0] - self.min[0]),
            0.5 * (self.max[1] - self.min[1]),
        ]
    }

    /// The larger half-extent (at least 1e-6 m): the length unit of the frame the learned
    /// models see, in which every workspace spans [-1, 1] along its longer side.
    pub fn scale(&self) -> f64 {
        let half = self.half_extents();
        half[0].max(half[1]).max(1e-6)
    }

    /// Whether a disc of radius `r` centred at `p` lies inside, up to `slack`.
    pub fn contains_disc(&self, p: Vec2, r: f64, slack: f64) -> bool {
        (0..2).all(|k| p[k] - r >= self.min[k] - slack && p[k] + r <= self.max[k] + slack)
    }

    /// How far a disc of radius `r` at `p` sticks out of the workspace (0 when inside).
    pub fn disc_violation(&self, p: Vec2, r: f64) -> f64 {
        (0..2)
            .map(|k| (self.min[k] + r - p[k]).max(p[k] + r - self.max[k]))
            .fold(0.0, f64::max)
    }
}

/// One disc-shaped robot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Robot {
    /// Start position.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub start: Vec2,
    /// Goal position, reached at rest at the horizon.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub goal: Vec2,
    /// Disc radius (default 0.2 m).
    #[serde(default = "default_radius")]
    pub radius: f64,
    /// Velocity at t = 0 (default at rest).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub start_velocity: Vec2,
    /// Acceleration at t = 0 (default zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub start_acceleration: Vec2,
}

impl Robot {
    /// A robot at rest at `start` going to `goal` with radius `radius`.
    pub fn new(start: Vec2, goal: Vec2, radius: f64) -> Self {
        Self {
            start,
            goal,
            radius,
            start_velocity: [0.0; 2],
            start_acceleration: [0.0; 2],
        }
    }
}

/// A static circular obstacle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Obstacle {
    /// Centre.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub center: Vec2,
    /// Radius.
    pub radius: f64,
}

impl Obstacle {
    /// How deep a disc of `radius` centred at `at` reaches into this obstacle, metres
    /// (negative: the gap between them).
    pub fn overlap(&self, at: Vec2, radius: f64) -> f64 {
        self.radius + radius - dist(at, self.center)
    }
}

/// Dynamic limits shared by all robots.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Limits {
    /// Maximum speed |v| in m/s (default 2.5).
    #[serde(default = "default_max_speed")]
    pub max_speed: f64,
    /// Maximum acceleration |a| in m/s^2 (default 4.0).
    #[serde(default = "default_max_accel")]
    pub max_accel: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_speed: DEFAULT_MAX_SPEED,
            max_accel: DEFAULT_MAX_ACCEL,
        }
    }
}

/// A multi-robot planning problem: the request of `flowopt plan` and `POST /v1/plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// The rectangle every robot disc must stay inside.
    pub workspace: Workspace,
    /// The robots, in the order the plan's trajectories will have.
    pub robots: Vec<Robot>,
    /// Static circular obstacles (default none).
    #[serde(default)]
    pub obstacles: Vec<Obstacle>,
    /// Horizon T in seconds: every robot reaches its goal at rest at t = T (default 8 s).
    #[serde(default = "default_horizon")]
    pub horizon: f64,
    /// Speed and acceleration limits.
    #[serde(default)]
    pub limits: Limits,
    /// Number M of uniformly spaced samples (both ends included) in a plan (default 50).
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Extra clearance required between robots, in metres, on top of r_i + r_j (default 0).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub margin: f64,
}

/// Limits applied by [`Problem::validate`]: the size of problems a service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationConfig {
    /// Most robots in one problem (default 128).
    pub max_robots: usize,
    /// Most obstacles in one problem (default 256).
    pub max_obstacles: usize,
    /// Most samples per trajectory (default 1000).
    pub max_samples: usize,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            max_robots: 128,
            max_obstacles: 256,
            max_samples: 1000,
        }
    }
}

impl Problem {
    /// A problem with the default horizon, limits and samples.
    pub fn new(workspace: Workspace, robots: Vec<Robot>, obstacles: Vec<Obstacle>) -> Self {
        Self {
            workspace,
            robots,
            obstacles,
            horizon: DEFAULT_HORIZON,
            limits: Limits::default(),
            samples: DEFAULT_SAMPLES,
            margin: 0.0,
        }
    }

    /// Parses a problem from JSON and validates it.
    pub fn from_json(text: &str, config: &ValidationConfig) -> Result<Self, InputError> {
        let problem: Problem = InputError::parse_json(text, "problem")?;
        problem.validate(config)?;
        Ok(problem)
    }

    /// Number of robots N.
    pub fn num_robots(&self) -> usize {
        self.robots.len()
    }

    /// Required centre distance between robots `i` and `j`: r_i + r_j + margin.
    pub fn separation(&self, i: usize, j: usize) -> f64 {
        self.robots[i].radius + self.robots[j].radius + self.margin
    }

    /// Times of the M uniform samples, from 0 to T.
    pub fn sample_times(&self) -> Vec<f64> {
        uniform_times(self.horizon, self.samples)
    }

    /// Checks every field; the error names the first offending one.
    ///
    /// Checks, in order: finite numbers, positive horizon, limits, radii and sample count, robot
    /// and obstacle counts, starts and goals inside the workspace, outside every obstacle and
    /// apart from each other, and start velocities within the speed limit.
    pub fn validate(&self, config: &ValidationConfig) -> Result<(), InputError> {
        use ErrorKind::*;

        finite2(self.workspace.min, "workspace.min")?;
        finite2(self.workspace.max, "workspace.max")?;
        for k in 0..2 {
            if self.workspace.max[k] <= self.workspace.min[k] {
                return Err(InputError::new(
                    OutOfRange,
                    "workspace.max",
                    "workspace.max must be greater than workspace.min on both axes",
                ));
            }
        }
        positive(self.horizon, "horizon")?;
        positive(self.limits.max_speed, "limits.max_speed")?;
        positive(self.limits.max_accel, "limits.max_accel")?;
        finite(self.margin, "margin")?;
        if self.margin < 0.0 {
            return Err(InputError::new(OutOfRange, "margin", "margin must be >= 0"));
        }
        if self.samples < 2 || self.samples > config.max_samples {
            return Err(InputError::new(
                OutOfRange,
                "samples",
                format!("samples must be in 2..={}", config.max_samples),
            ));
        }
        if self.robots.is_empty() {
            return Err(InputError::new(
                Empty,
                "robots",
                "at least one robot is required",
            ));
        }
        if self.robots.len() > config.max_robots {
            return Err(InputError::new(
                TooMany,
                "robots",
                format!(
                    "{} robots exceed the limit of {}",
                    self.robots.len(),
                    config.max_robots
                ),
            ));
        }
        if self.obstacles.len() > config.max_obstacles {
            return Err(InputError::new(
                TooMany,
                "obstacles",
                format!(
                    "{} obstacles exceed the limit of {}",
                    self.obstacles.len(),
                    config.max_obstacles
                ),
            ));
        }
        for (j, o) in self.obstacles.iter().enumerate() {
            finite2(o.center, &format!("obstacles[{j}].center"))?;
            positive(o.radius, &format!("obstacles[{j}].radius"))?;
        }
        for (i, r) in self.robots.iter().enumerate() {
            finite2(r.start, &format!("robots[{i}].start"))?;
            finite2(r.goal, &format!("robots[{i}].goal"))?;
            finite2(r.start_velocity, &format!("robots[{i}].start_velocity"))?;
            finite2(
                r.start_acceleration,
                &format!("robots[{i}].start_acceleration"),
            )?;
            positive(r.radius, &format!("robots[{i}].radius"))?;
            if norm(r.start_velocity) > self.limits.max_speed {
                return Err(InputError::new(
                    OutOfRange,
                    format!("robots[{i}].start_velocity"),
                    "start velocity exceeds limits.max_speed",
                ));
            }
            if norm(r.start_acceleration) > self.limits.max_accel {
                return Err(InputError::new(
                    OutOfRange,
                    format!("robots[{i}].start_acceleration"),
                    "start acceleration exceeds limits.max_accel",
                ));
            }
            for (point, name) in [(r.start, "start"), (r.goal, "goal")] {
                if !self
                    .workspace
                    .contains_disc(point, r.radius, GEOMETRY_SLACK)
                {
                    return Err(InputError::new(
                        OutsideWorkspace,
                        format!("robots[{i}].{name}"),
                        format!(
                            "robot disc (radius {}) at {point:?} is not inside the workspace",
                            r.radius
                        ),
                    ));
                }
                for (j, o) in self.obstacles.iter().enumerate() {
                    if dist(point, o.center) < r.radius + o.radius - GEOMETRY_SLACK {
                        return Err(InputError::new(
                            InsideObstacle,
                            format!("robots[{i}].{name}"),
                            format!("robot {name} overlaps obstacles[{j}]"),
                        ));
                    }
                }
            }
        }
        for i in 0..self.robots.len() {
            for j in (i + 1)..self.robots.len() {
                let need = self.separation(i, j) - GEOMETRY_SLACK;
                let (a, b) = (&self.robots[i], &self.robots[j]);
                if dist(a.start, b.start) < need {
                    return Err(InputError::new(
                        RobotsOverlap,
                        format!("robots[{j}].start"),
                        format!("robots {i} and {j} overlap at their starts"),
                    ));
                }
                if dist(a.goal, b.goal) < need {
                    return Err(InputError::new(
                        RobotsOverlap,
                        format!("robots[{j}].goal"),
                        format!("robots {i} and {j} overlap at their goals"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `m` uniformly spaced times from 0 to `horizon`, both included.
pub fn uniform_times(horizon: f64, m: usize) -> Vec<f64> {
    let last = (m.max(2) - 1) as f64;
    (0..m.max(2)).map(|k| horizon * k as f64 / last).collect()
}

/// Whether `times` are exactly [`uniform_times`]`(horizon, times.len())` (the grid of every
/// generated plan), so that what is cached for that grid applies.
pub fn is_uniform_times(times: &[f64], horizon: f64) -> bool {
    times.len() >= 2 && times == uniform_times(horizon, times.len()).as_slice()
}

/// Euclidean distance between two points.
pub fn dist(a: Vec2, b: Vec2) -> f64 {
    norm([a[0] - b[0], a[1] - b[1]])
}

/// Euclidean norm.
pub fn norm(v: Vec2) -> f64 {
    // A square root first: `hypot`'s care for overflow costs several times as much, and the
    // checker takes hundreds of thousands of these per plan at N = 32. `hypot` only where the
    // squares overflow (coordinates beyond 1e154).
    let squares = v[0] * v[0] + v[1] * v[1];
    if squares.is_finite() {
        squares.sqrt()
    } else {
        v[0].hypot(v[1])
    }
}

fn finite(x: f64, field: &str) -> Result<(), InputError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(InputError::new(
            ErrorKind::NotFinite,
            field,
            format!("{field} must be a finite number, got {x}"),
        ))
    }
}

fn finite2(v: Vec2, field: &str) -> Result<(), InputError> {
    finite(v[0], field).and_then(|_| finite(v[1], field))
}

fn positive(x: f64, field: &str) -> Result<(), InputError> {
    finite(x, field)?;
    if x > 0.0 {
        Ok(())
    } else {
        Err(InputError::new(
            ErrorKind::OutOfRange,
            field,
            format!("{field} must be > 0, got {x}"),
        ))
    }
}

fn default_radius() -> f64 {
    DEFAULT_RADIUS
}
fn default_max_speed() -> f64 {
    DEFAULT_MAX_SPEED
}
fn default_max_accel() -> f64 {
    DEFAULT_MAX_ACCEL
}
fn default_horizon() -> f64 {
    DEFAULT_HORIZON
}
fn default_samples() -> usize {
    DEFAULT_SAMPLES
}
fn is_zero(v: &Vec2) -> bool {
    v[0] == 0.0 && v[1] == 0.0
}
fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_robots() -> Problem {
        Problem::new(
            Workspace::square(5.0),
            vec![
                Robot::new([-3.0, 0.0], [3.0, 0.0], 0.2),
                Robot::new([3.0, 0.0], [-3.0, 0.0], 0.2),
            ],
            vec![Obstacle {
                center: [0.0, 2.0],
                radius: 0.5,
            }],
        )
    }

    fn field_of(p: &Problem) -> String {
        p.validate(&ValidationConfig::default()).unwrap_err().field
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let p: Problem = serde_json::from_str(
            r#"{"workspace":{"min":[-1,-1],"max":[1,1]},"robots":[{"start":[0,0],"goal":[0.5,0]}]}"#,
        )
        .unwrap();
        assert_eq!(p.horizon, DEFAULT_HORIZON);
        assert_eq!(p.robots[0].radius, DEFAULT_RADIUS);
        assert_eq!(p.limits, Limits::default());
        assert_eq!(p.samples, DEFAULT_SAMPLES);
        assert!(p.obstacles.is_empty());
        p.validate(&ValidationConfig::default()).unwrap();
    }

    #[test]
    fn valid_problem_round_trips() {
        let p = two_robots();
        p.validate(&ValidationConfig::default()).unwrap();
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(
            Problem::from_json(&text, &ValidationConfig::default()).unwrap(),
            p
        );
    }

    #[test]
    fn each_error_names_its_field() {
        let mut p = two_robots();
        p.robots[1].goal[0] = f64::NAN;
        assert_eq!(field_of(&p), "robots[1].goal");

        let mut p = two_robots();
        p.robots[0].radius = 0.0;
        assert_eq!(field_of(&p), "robots[0].radius");

        let mut p = two_robots();
        p.robots[1].goal = [4.9, 0.0];
        assert_eq!(field_of(&p), "robots[1].goal");

        let mut p = two_robots();
        p.robots[1].start = [-2.7, 0.0];
        let e = p.validate(&ValidationConfig::default()).unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::RobotsOverlap, "robots[1].start")
        );

        let mut p = two_robots();
        p.robots[0].goal = [0.0, 1.4];
        let e = p.validate(&ValidationConfig::default()).unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::InsideObstacle, "robots[0].goal")
        );

        let mut p = two_robots();
        p.horizon = -1.0;
        assert_eq!(field_of(&p), "horizon");

        let mut p = two_robots();
        p.robots.clear();
        assert_eq!(field_of(&p), "robots");

        let p = two_robots();
        let e = p
            .validate(&ValidationConfig {
                max_robots: 1,
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::TooMany, "robots"));

        let mut p = two_robots();
        p.obstacles[0].radius = f64::INFINITY;
        assert_eq!(field_of(&p), "obstacles[0].radius");

        let mut p = two_robots();
        p.limits.max_accel = 0.0;
        assert_eq!(field_of(&p), "limits.max_accel");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = Problem::from_json(
            r#"{"workspace":{"min":[-1,-1],"max":[1,1]},"robots":[{"start":[0,0],"goal":[0.5,0],"radious":1}]}"#,
            &ValidationConfig::default(),
        )
        .unwrap_err();
        assert_eq!(e.field, "robots[0].radious");
    }

    #[test]
    fn disc_violation_is_the_protrusion() {
        let w = Workspace::square(1.0);
        assert_eq!(w.disc_violation([0.0, 0.0], 0.5), 0.0);
        assert!((w.disc_violation([0.9, 0.0], 0.2) - 0.1).abs() < 1e-12);
        assert!((w.disc_violation([0.0, -1.3], 0.2) - 0.5).abs() < 1e-12);
    }
}
