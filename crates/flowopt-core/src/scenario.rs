//! Seeded scenario generators. Each takes a robot count, an optional number of extra random
//! obstacles and a seed; the same inputs always give the same problem, and every problem passes
//! [`Problem::validate`].
//!
//! The horizon of each problem is fitted so that the straight-line motion needs at most half the
//! speed and acceleration limits, leaving room for the detours that avoiding each other takes.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::bernstein::Bernstein;
use crate::error::{ErrorKind, InputError};
use crate::problem::{
    DEFAULT_RADIUS, Limits, Obstacle, Problem, Robot, ValidationConfig, Vec2, Workspace, dist,
};

/// Fraction of the speed/acceleration limits the straight-line motion may use.
const LIMIT_SHARE: f64 = 0.5;
/// Shortest horizon a scenario gets, in seconds.
const MIN_HORIZON: f64 = 4.0;
/// Free space kept between robots placed at their starts or goals, on top of 2r.
const PLACEMENT_GAP: f64 = 0.3;
/// Attempts per placed object before a generator gives up.
const ATTEMPTS: usize = 2_000;

/// The built-in scenario families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Robots on a circle swap to the antipodal point.
    Circle,
    /// Random starts and goals in an open square.
    Random,
    /// Robots cross a random field of circular obstacles from one side to the other.
    Obstacles,
    /// Rows of shelves with aisles; robots move from one aisle to another.
    Warehouse,
    /// Two groups swap sides through a gap in a wall.
    Doorway,
    /// Two perpendicular streams of robots cross in the middle.
    Crossing,
}

/// Inputs of a scenario generator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScenarioConfig {
    /// Number of robots N.
    pub robots: usize,
    /// Extra random obstacles; `None` takes the scenario's default.
    pub obstacles: Option<usize>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Robot radius in metres.
    pub radius: f64,
}

impl ScenarioConfig {
    /// `robots` robots, default obstacles, seed 0, default radius.
    pub fn new(robots: usize) -> Self {
        Self {
            robots,
            obstacles: None,
            seed: 0,
            radius: DEFAULT_RADIUS,
        }
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of extra random obstacles.
    pub fn obstacles(mut self, obstacles: usize) -> Self {
        self.obstacles = Some(obstacles);
        self
    }
}

impl Scenario {
    /// Every scenario, in documentation order.
    pub const ALL: [Scenario; 6] = [
        Scenario::Circle,
        Scenario::Random,
        Scenario::Obstacles,
        Scenario::Warehouse,
        Scenario::Doorway,
        Scenario::Crossing,
    ];

    /// The name used on the command line and in the API.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Circle => "circle",
            Scenario::Random => "random",
            Scenario::Obstacles => "obstacles",
            Scenario::Warehouse => "warehouse",
            Scenario::Doorway => "doorway",
            Scenario::Crossing => "crossing",
        }
    }

    /// One-line description.
    pub fn description(&self) -> &'static str {
        match self {
            Scenario::Circle => "robots on a circle swap to the antipodal point",
            Scenario::Random => "random starts and goals in an open square",
            Scenario::Obstacles => "robots cross a random field of circular obstacles",
            Scenario::Warehouse => "rows of shelves with aisles; robots change aisles",
            Scenario::Doorway => "two groups swap sides through a gap in a wall",
            Scenario::Crossing => "two perpendicular streams cross in the middle",
        }
    }

    /// Extra random obstacles when the config does not say (6 for `obstacles`, else 0).
    /// The shelves of `warehouse` and the wall of `doorway` come on top of these.
    pub fn default_obstacles(&self) -> usize {
        match self {
            Scenario::Obstacles => 6,
            _ => 0,
        }
    }

    /// Generates the problem for `config`.
    ///
    /// Errors name `robots` when that many robots do not fit, `obstacles` when the obstacles do
    /// not, and `radius` for a non-positive radius.
    pub fn generate(&self, config: &ScenarioConfig) -> Result<Problem, InputError> {
        if config.robots == 0 {
            return Err(InputError::new(
                ErrorKind::Empty,
                "robots",
                "at least one robot is required",
            ));
        }
        if !(config.radius.is_finite() && config.radius > 0.0) {
            return Err(InputError::new(
                ErrorKind::OutOfRange,
                "radius",
                "radius must be > 0",
            ));
        }
        let limit = ValidationConfig::default().max_robots;
        if config.robots > limit {
            return Err(InputError::new(
                ErrorKind::TooMany,
                "robots",
                format!("scenarios have at most {limit} robots"),
            ));
        }
        // Mix the scenario into the seed so that families do not share random streams.
        let mut rng = ChaCha8Rng::seed_from_u64(
            config.seed ^ (*self as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut g = Generator {
            rng: &mut rng,
            r: config.radius,
            n: config.robots,
        };
        let mut problem = match self {
            Scenario::Circle => g.circle(),
            Scenario::Random => g.random(),
            Scenario::Obstacles => g.obstacles(),
            Scenario::Warehouse => g.warehouse(),
            Scenario::Doorway => g.doorway(),
            Scenario::Crossing => g.crossing(),
        }?;
        // Obstacles of the `obstacles` family fill the central band the robots must cross.
        let band = if *self == Scenario::Obstacles {
            0.5
        } else {
            1.0
        };
        g.clutter(
            &mut problem,
            config.obstacles.unwrap_or(self.default_obstacles()),
            band,
        )?;
        let min_horizon = match self {
            // Everyone squeezes through one gap: leave time to take turns.
            Scenario::Doorway => MIN_HORIZON + 0.25 * config.robots as f64,
            _ => MIN_HORIZON,
        };
        problem.horizon = fit_horizon(&problem, min_horizon);
        problem.validate(&ValidationConfig::default())?;
        Ok(problem)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = InputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
                InputError::new(
                    ErrorKind::OutOfRange,
                    "scenario",
                    format!(
                        "unknown scenario `{s}`; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// The horizon (a multiple of 0.5 s, at least `min`) at which the smoothest rest-to-rest motion
/// over the longest start-goal distance uses at most [`LIMIT_SHARE`] of the limits.
fn fit_horizon(problem: &Problem, min: f64) -> f64 {
    let basis = Bernstein::default();
    let unit = basis.smoothest(1.0, &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    let (mut kv, mut ka) = (0.0f64, 0.0f64);
    for k in 0..=200 {
        let [_, v, a] = basis.eval(&unit, k as f64 / 200.0, 1.0);
        kv = kv.max(v.abs());
        ka = ka.max(a.abs());
    }
    let d = problem
        .robots
        .iter()
        .map(|r| dist(r.start, r.goal))
        .fold(0.0, f64::max);
    let Limits {
        max_speed,
        max_accel,
    } = problem.limits;
    let t = (kv * d / (LIMIT_SHARE * max_speed))
        .max((ka * d / (LIMIT_SHARE * max_accel)).sqrt())
        .max(min);
    (t * 2.0).ceil() / 2.0
}

struct Generator<'a> {
    rng: &'a mut ChaCha8Rng,
    r: f64,
    n: usize,
}

impl Generator<'_> {
    /// Workspace half-size for roughly constant density: 5 m up to 16 robots, then growing.
    fn half_size(&self, per: f64) -> f64 {
        5.0 * (self.n as f64 / per).sqrt().max(1.0)
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        if hi > lo {
            self.rng.random_range(lo..hi)
        } else {
            lo
        }
    }

    /// Draws `count` points from `draw`, each at least `sep` from the others and accepted by
    /// `ok`; fails on `field` after too many rejections.
    fn place(
        &mut self,
        count: usize,
        sep: f64,
        field: &str,
        mut draw: impl FnMut(&mut Self) -> Vec2,
        ok: impl Fn(Vec2) -> bool,
    ) -> Result<Vec<Vec2>, InputError> {
        let mut points: Vec<Vec2> = Vec::with_capacity(count);
        let mut tries = 0;
        while points.len() < count {
            tries += 1;
            if tries > ATTEMPTS * count.max(1) {
                return Err(InputError::new(
                    ErrorKind::OutOfRange,
                    field,
                    format!("could not place {count} {field} without overlap; use fewer"),
                ));
            }
            let p = draw(self);
            if ok(p) && points.iter().all(|q| dist(p, *q) >= sep) {
                points.push(p);
            }
        }
        Ok(points)
    }

    fn sep(&self) -> f64 {
        2.0 * self.r + PLACEMENT_GAP
    }

    fn problem(&self, half: Vec2, robots: Vec<Robot>, obstacles: Vec<Obstacle>) -> Problem {
        Problem::new(
            Workspace {
                min: [-half[0], -half[1]],
                max: [half[0], half[1]],
            },
            robots,
            obstacles,
        )
    }

    fn circle(&mut self) -> Result<Problem, InputError> {
        let n = self.n as f64;
        // Neighbours on the circle keep at least 2r + gap apart.
        let needed = if self.n > 1 {
            self.sep() / (2.0 * (PI / n).sin())
        } else {
            0.0
        };
        let radius = needed.max(3.5);
        let phase = self.uniform(0.0, 2.0 * PI);
        let robots = (0..self.n)
            .map(|i| {
                let a = phase + 2.0 * PI * i as f64 / n;
                let start = [radius * a.cos(), radius * a.sin()];
                Robot::new(start, [-start[0], -start[1]], self.r)
            })
            .collect();
        let half = radius + 1.0 + self.r;
        Ok(self.problem([half, half], robots, vec![]))
    }

    fn random(&mut self) -> Result<Problem, InputError> {
        let half = self.half_size(32.0);
        let lim = half - self.r - 0.1;
        let draw = |g: &mut Self| [g.uniform(-lim, lim), g.uniform(-lim, lim)];
        let starts = self.place(self.n, self.sep(), "robots", draw, |_| true)?;
        let goals = self.place(self.n, self.sep(), "robots", draw, |_| true)?;
        let robots = zip_robots(&starts, &goals, self.r);
        Ok(self.problem([half, half], robots, vec![]))
    }

    fn obstacles(&mut self) -> Result<Problem, InputError> {
        // Starts and goals on both sides of a central band where `clutter` puts the obstacles:
        // every robot crosses the band.
        let half = self.half_size(16.0);
        let (inner, outer) = (0.5 * half + self.r, half - self.r - 0.1);
        let lim_y = half - self.r - 0.1;
        let side = |g: &mut Self| {
            let x = g.uniform(inner, outer);
            [
                if g.rng.random_bool(0.5) { x } else { -x },
                g.uniform(-lim_y, lim_y),
            ]
        };
        let starts = self.place(self.n, self.sep(), "robots", side, |_| true)?;
        let mut goals = Vec::with_capacity(self.n);
        let sep = self.sep();
        for s in &starts {
            // The goal lies on the opposite side.
            let g = self.place(
                1,
                0.0,
                "robots",
                |g: &mut Self| {
                    [
                        -s[0].signum() * g.uniform(inner, outer),
                        g.uniform(-lim_y, lim_y),
                    ]
                },
                |p| goals.iter().all(|q: &Vec2| dist(p, *q) >= sep),
            )?;
            goals.push(g[0]);
        }
        let robots = zip_robots(&starts, &goals, self.r);
        Ok(self.problem([half, half], robots, vec![]))
    }

    fn warehouse(&mut self) -> Result<Problem, InputError> {
        const AISLE: f64 = 1.4; // free width between shelves
        const SHELF_R: f64 = 0.5; // shelf discs
        const SHELF_STEP: f64 = 0.8;
        const CROSS: f64 = 1.6; // cross-aisle width at the ends and in the middle
        let shelves = 3 + self.n / 16;
        let aisles = shelves + 1;
        let half_x = 0.5 * (aisles as f64 * AISLE + shelves as f64 * 2.0 * SHELF_R);
        let half_y = self.half_size(24.0).max(5.0);
        let mut obstacles = Vec::new();
        let aisle_centre = |a: usize| -half_x + AISLE / 2.0 + a as f64 * (AISLE + 2.0 * SHELF_R);
        for s in 0..shelves {
            let x = aisle_centre(s) + AISLE / 2.0 + SHELF_R;
            // Two blocks: from the bottom cross-aisle to the middle one, and mirrored.
            let (lo, hi) = (-half_y + CROSS + SHELF_R, -CROSS / 2.0 - SHELF_R);
            let count = ((hi - lo) / SHELF_STEP).floor() as usize + 1;
            for k in 0..count {
                let y = lo + k as f64 * SHELF_STEP;
                obstacles.push(Obstacle {
                    center: [x, y],
                    radius: SHELF_R,
                });
                obstacles.push(Obstacle {
                    center: [x, -y],
                    radius: SHELF_R,
                });
            }
        }
        let r = self.r;
        let lim_y = half_y - r - 0.1;
        let jitter = (AISLE / 2.0 - r - 0.05).max(0.0);
        let clear = |p: Vec2| {
            obstacles
                .iter()
                .all(|o| dist(p, o.center) >= o.radius + r + 0.05)
        };
        let in_aisle = |g: &mut Self, a: usize| {
            [
                aisle_centre(a) + g.uniform(-jitter, jitter),
                g.uniform(-lim_y, lim_y),
            ]
        };
        let aisle_of =
            |p: Vec2| ((p[0] - aisle_centre(0)) / (AISLE + 2.0 * SHELF_R)).round() as usize;
        let starts = self.place(
            self.n,
            self.sep(),
            "robots",
            |g| {
                let a = g.rng.random_range(0..aisles);
                in_aisle(g, a)
            },
            clear,
        )?;
        let sep = self.sep();
        let mut goals: Vec<Vec2> = Vec::with_capacity(self.n);
        for s in &starts {
            let from = aisle_of(*s);
            let g = self.place(
                1,
                0.0,
                "robots",
                |g: &mut Self| {
                    // Another aisle than the start's.
                    let shift = g.rng.random_range(1..aisles);
                    in_aisle(g, (from + shift) % aisles)
                },
                |p| clear(p) && goals.iter().all(|q| dist(p, *q) >= sep),
            )?;
            goals.push(g[0]);
        }
        let robots = zip_robots(&starts, &goals, r);
        Ok(self.problem([half_x, half_y], robots, obstacles))
    }

    fn doorway(&mut self) -> Result<Problem, InputError> {
        const WALL_R: f64 = 0.25;
        const WALL_STEP: f64 = 0.4;
        let half_x = 5.0;
        let half_y = self.half_size(16.0);
        // The gap's clear width grows with the crowd; its centre moves with the seed.
        let gap = (4.0 * self.r + 0.6).max(0.1 * self.n as f64);
        let centre = self.uniform(-0.25 * half_y, 0.25 * half_y);
        let mut obstacles = Vec::new();
        let count = (2.0 * half_y / WALL_STEP).ceil() as usize + 1;
        for k in 0..count {
            let y = -half_y + k as f64 * WALL_STEP;
            if (y - centre).abs() >= gap / 2.0 + WALL_R {
                obstacles.push(Obstacle {
                    center: [0.0, y],
                    radius: WALL_R,
                });
            }
        }
        let (inner, outer) = (1.5, half_x - self.r - 0.1);
        let lim_y = half_y - self.r - 0.1;
        let left = self.n.div_ceil(2);
        let mut starts = self.place(
            left,
            self.sep(),
            "robots",
            |g: &mut Self| [-g.uniform(inner, outer), g.uniform(-lim_y, lim_y)],
            |_| true,
        )?;
        starts.extend(self.place(
            self.n - left,
            self.sep(),
            "robots",
            |g: &mut Self| [g.uniform(inner, outer), g.uniform(-lim_y, lim_y)],
            |_| true,
        )?);
        // Each group lands where the other started, mirrored, in a shuffled order.
        let mut goals: Vec<Vec2> = starts.iter().map(|s| [-s[0], s[1]]).collect();
        shuffle(self.rng, &mut goals[..left]);
        shuffle(self.rng, &mut goals[left..]);
        let robots = zip_robots(&starts, &goals, self.r);
        Ok(self.problem([half_x, half_y], robots, obstacles))
    }

    fn crossing(&mut self) -> Result<Problem, InputError> {
        let half = self.half_size(16.0);
        let east = self.n.div_ceil(2);
        let north = self.n - east;
        let spacing = self.sep() + 0.2;
        let mut robots = Vec::with_capacity(self.n);
        for (count, axis) in [(east, 0usize), (north, 1usize)] {
            if count == 0 {
                continue;
            }
            // A block of `lanes` x `depth` robots, centred across the stream's direction.
            let lanes = (count as f64).sqrt().ceil() as usize;
            let depth = count.div_ceil(lanes);
            let offset = self.uniform(-0.5, 0.5);
            let back = -half + self.r + 0.2;
            let travel = 2.0 * half - 2.0 * (self.r + 0.2) - (depth - 1) as f64 * spacing;
            for k in 0..count {
                let (lane, row) = (k % lanes, k / lanes);
                let across = offset + (lane as f64 - (lanes - 1) as f64 / 2.0) * spacing;
                let along = back + row as f64 * spacing + self.uniform(-0.1, 0.1);
                let (start, goal) = if axis == 0 {
                    ([along, across], [along + travel, across])
                } else {
                    ([across, along], [across, along + travel])
                };
                robots.push(Robot::new(start, goal, self.r));
            }
        }
        Ok(self.problem([half, half], robots, vec![]))
    }

    /// Adds `count` random obstacles (radius 0.3 to 0.6 m) that keep clear of every start, goal
    /// and existing obstacle by at least a robot's width, so robots can pass between them.
    /// Centres lie within `band` (a fraction) of the workspace's half-width around its middle.
    fn clutter(
        &mut self,
        problem: &mut Problem,
        count: usize,
        band: f64,
    ) -> Result<(), InputError> {
        if count == 0 {
            return Ok(());
        }
        let limit = ValidationConfig::default().max_obstacles;
        if problem.obstacles.len() + count > limit {
            return Err(InputError::new(
                ErrorKind::TooMany,
                "obstacles",
                format!("a problem has at most {limit} obstacles"),
            ));
        }
        let ws = problem.workspace;
        let pass = 2.0 * self.r + 0.2;
        let existing = problem.obstacles.clone();
        let robots = problem.robots.clone();
        let radii: Vec<f64> = (0..count).map(|_| self.uniform(0.3, 0.6)).collect();
        let rmax = 0.6;
        let (cx, cy) = (0.5 * ws.size()[0] - 0.5, 0.5 * ws.size()[1] - 0.5);
        let mid = [(ws.min[0] + ws.max[0]) / 2.0, (ws.min[1] + ws.max[1]) / 2.0];
        let centres = self.place(
            count,
            2.0 * rmax + pass,
            "obstacles",
            |g: &mut Self| {
                [
                    mid[0] + band * g.uniform(-cx, cx),
                    mid[1] + g.uniform(-cy, cy),
                ]
            },
            |c| {
                robots.iter().all(|r| {
                    dist(c, r.start) >= rmax + r.radius + pass
                        && dist(c, r.goal) >= rmax + r.radius + pass
                }) && existing
                    .iter()
                    .all(|o| dist(c, o.center) >= o.radius + rmax + pass)
            },
        )?;
        problem.obstacles.extend(
            centres
                .into_iter()
                .zip(radii)
                .map(|(center, radius)| Obstacle { center, radius }),
        );
        Ok(())
    }
}

fn zip_robots(starts: &[Vec2], goals: &[Vec2], r: f64) -> Vec<Robot> {
    starts
        .iter()
        .zip(goals)
        .map(|(s, g)| Robot::new(*s, *g, r))
        .collect()
}

/// Fisher-Yates shuffle with our seeded generator.
fn shuffle(rng: &mut ChaCha8Rng, items: &mut [Vec2]) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_valid_deterministic_and_seed_dependent() {
        for scenario in Scenario::ALL {
            for n in [1, 2, 5, 8, 16, 32, 64] {
                let cfg = ScenarioConfig::new(n).seed(7);
                let a = scenario
                    .generate(&cfg)
                    .unwrap_or_else(|e| panic!("{scenario} N={n}: {e}"));
                a.validate(&ValidationConfig::default()).unwrap();
                assert_eq!(a.num_robots(), n);
                assert_eq!(
                    scenario.generate(&cfg).unwrap(),
                    a,
                    "{scenario} N={n} not deterministic"
                );
                let b = scenario.generate(&cfg.seed(8)).unwrap();
                assert_ne!(
                    a, b,
                    "{scenario} N={n}: seeds 7 and 8 give the same problem"
                );
            }
        }
    }

    #[test]
    fn many_seeds_stay_valid() {
        for scenario in Scenario::ALL {
            for seed in 0..40 {
                for n in [3, 12, 24] {
                    scenario
                        .generate(&ScenarioConfig::new(n).seed(seed))
                        .unwrap_or_else(|e| panic!("{scenario} N={n} seed={seed}: {e}"));
                }
            }
        }
    }

    #[test]
    fn obstacle_counts_follow_the_config() {
        let p = Scenario::Obstacles
            .generate(&ScenarioConfig::new(8))
            .unwrap();
        assert_eq!(p.obstacles.len(), 6);
        let p = Scenario::Obstacles
            .generate(&ScenarioConfig::new(8).obstacles(10))
            .unwrap();
        assert_eq!(p.obstacles.len(), 10);
        let p = Scenario::Random
            .generate(&ScenarioConfig::new(8).obstacles(3))
            .unwrap();
        assert_eq!(p.obstacles.len(), 3);
        assert!(
            !Scenario::Warehouse
                .generate(&ScenarioConfig::new(8))
                .unwrap()
                .obstacles
                .is_empty()
        );
    }

    #[test]
    fn circle_goals_are_antipodal() {
        let p = Scenario::Circle
            .generate(&ScenarioConfig::new(8).seed(3))
            .unwrap();
        for r in &p.robots {
            assert!(
                (r.start[0] + r.goal[0]).abs() < 1e-12 && (r.start[1] + r.goal[1]).abs() < 1e-12
            );
        }
    }

    #[test]
    fn warehouse_robots_change_aisles() {
        let p = Scenario::Warehouse
            .generate(&ScenarioConfig::new(16).seed(2))
            .unwrap();
        // Every straight path crosses a shelf line (x of some shelf between start and goal).
        let shelf_xs: Vec<f64> = p.obstacles.iter().map(|o| o.center[0]).collect();
        for r in &p.robots {
            let (lo, hi) = (r.start[0].min(r.goal[0]), r.start[0].max(r.goal[0]));
            assert!(shelf_xs.iter().any(|&x| x > lo && x < hi), "{r:?}");
        }
    }

    #[test]
    fn too_many_robots_is_an_error_naming_robots() {
        let e = Scenario::Circle
            .generate(&ScenarioConfig::new(1000))
            .unwrap_err();
        assert_eq!(e.field, "robots");
        let e = Scenario::Obstacles
            .generate(&ScenarioConfig::new(4).obstacles(500))
            .unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::TooMany, "obstacles")
        );
        // Within the limit but more than fit in the band.
        let e = Scenario::Obstacles
            .generate(&ScenarioConfig::new(4).obstacles(200))
            .unwrap_err();
        assert_eq!(e.field, "obstacles");
        assert_eq!("nope".parse::<Scenario>().unwrap_err().field, "scenario");
    }
}
