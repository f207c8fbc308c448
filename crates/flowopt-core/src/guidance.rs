//! Navigation around obstacles: a grid navigation function (shortest-path distance to the goal
//! around the obstacles) per robot. ORCA follows it as its preferred velocity (pure ORCA only
//! sees the straight line and gets stuck in front of walls and shelf rows), and
//! [`path_coefficients`] traces it from the start into polynomial initial guesses on the right
//! side of every wall for `scp` and the safety filter.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use crate::bernstein::Bernstein;
use crate::planner::StraightPlanner;
use crate::problem::{Obstacle, Problem, Vec2, dist};
use crate::trajectory::Coefficients;

/// Most cells of one grid; coarser cells are used for larger workspaces. With one `f32` field
/// per robot this bounds the memory to 256 KiB per robot.
const MAX_CELLS: usize = 65_536;

/// An occupancy grid over the workspace with, per robot, the travel distance to its goal.
pub struct Guidance {
    origin: Vec2,
    cell: f64,
    nx: usize,
    ny: usize,
    /// Per robot, its distance field; `None` for a robot left out ([`Guidance::for_robots`]).
    fields: Vec<Option<Field>>,
    /// The occupancy grids, one per reach (robot radius plus the extra clearance), each robot's
    /// field searched over `occupancy[grid[i]]` (kept to complete a partial field).
    occupancy: Vec<(f64, Vec<bool>)>,
    grid: Vec<usize>,
}

/// One robot's distance field.
struct Field {
    /// Per cell (row-major, `ix + nx * iy`): distance to the goal, `INFINITY` where blocked,
    /// unreachable or (in a partial field) not searched.
    dist: Vec<f32>,
    /// Every cell whose distance is exactly known has `dist` below this bound, every other
    /// cell's true distance is at least it (`INFINITY`: the whole field is known). A partial
    /// field comes from a search stopped once the start's neighbourhood was settled (see
    /// [`Guidance::distance_field`]).
    known: f64,
}

/// How far (in cells) past the first settled cell around the start a search for a path goes
/// on before it stops: a path step's target is at most a 5 x 5 window away (WINDOW), under
/// four cells' worth of distance, and the path then descends.
const STOP_MARGIN: f64 = 6.0;

impl Guidance {
    /// Guidance for every robot of `problem`, or `None` when the problem has no obstacles (the
    /// straight line is then always free). `extra` widens every obstacle (the safety margin);
    /// `cell` is the wanted cell size in metres.
    pub fn new(problem: &Problem, cell: f64, extra: f64) -> Option<Self> {
        Self::for_robots(problem, cell, extra, &vec![true; problem.num_robots()])
    }

    /// [`Guidance::new`] with distance fields only for the robots `wanted` flags (one Dijkstra
    /// search over the grid each, run in parallel); the others are never guided
    /// ([`Guidance::direction`] says `None` for them).
    pub fn for_robots(problem: &Problem, cell: f64, extra: f64, wanted: &[bool]) -> Option<Self> {
        Self::build(problem, cell, extra, wanted, false)
    }

    /// [`Guidance::for_robots`] for [`Guidance::path`] from the robots' starts: each search
    /// stops once it has settled the cells a path from the start can pick (see
    /// [`Field::known`]); where a path needs more, [`Guidance::path`] completes the field.
    /// The paths are those of full fields, found with less search (how much less depends on
    /// how far the start is from the goal: the searches of warehouse N = 32 took 30% less time).
    fn for_paths(problem: &Problem, cell: f64, extra: f64, wanted: &[bool]) -> Option<Self> {
        Self::build(problem, cell, extra, wanted, true)
    }

    fn build(
        problem: &Problem,
        cell: f64,
        extra: f64,
        wanted: &[bool],
        from_starts: bool,
    ) -> Option<Self> {
        if problem.obstacles.is_empty() || !(cell.is_finite() && cell > 0.0) {
            return None;
        }
        let ws = &problem.workspace;
        let size = ws.size();
        let mut cell = cell;
        if (size[0] / cell) * (size[1] / cell) > MAX_CELLS as f64 {
            cell = (size[0] * size[1] / MAX_CELLS as f64).sqrt();
        }
        let nx = ((size[0] / cell).ceil() as usize).max(1);
        let ny = ((size[1] / cell).ceil() as usize).max(1);
        let mut guidance = Self {
            origin: ws.min,
            cell,
            nx,
            ny,
            fields: Vec::new(),
            occupancy: Vec::new(),
            grid: Vec::new(),
        };
        // Robots of equal reach share the occupancy grid.
        for robot in &problem.robots {
            let reach = robot.radius + extra;
            let index = match guidance.occupancy.iter().position(|(r, _)| *r == reach) {
                Some(index) => index,
                None => {
                    let free = guidance.free_cells(problem, reach);
                    guidance.occupancy.push((reach, free));
                    guidance.occupancy.len() - 1
                }
            };
            guidance.grid.push(index);
        }
        guidance.fields = problem
            .robots
            .par_iter()
            .enumerate()
            .map(|(i, robot)| {
                let free = &guidance.occupancy[guidance.grid[i]].1;
                let stop = from_starts.then_some(robot.start);
                wanted
                    .get(i)
                    .copied()
                    .unwrap_or(false)
                    .then(|| guidance.distance_field(free, robot.goal, stop))
            })
            .collect();
        Some(guidance)
    }

    fn centre(&self, ix: usize, iy: usize) -> Vec2 {
        [
            self.origin[0] + (ix as f64 + 0.5) * self.cell,
            self.origin[1] + (iy as f64 + 0.5) * self.cell,
        ]
    }

    /// The cell holding `p`, clamped to the grid.
    fn cell_of(&self, p: Vec2) -> (usize, usize) {
        let ix = ((p[0] - self.origin[0]) / self.cell).floor();
        let iy = ((p[1] - self.origin[1]) / self.cell).floor();
        (
            (ix.max(0.0) as usize).min(self.nx - 1),
            (iy.max(0.0) as usize).min(self.ny - 1),
        )
    }

    /// Cells whose centre a disc of radius `reach` can occupy: inside the workspace and clear
    /// of every obstacle.
    fn free_cells(&self, problem: &Problem, reach: f64) -> Vec<bool> {
        let mut free = vec![true; self.nx * self.ny];
        for iy in 0..self.ny {
            for ix in 0..self.nx {
                let c = self.centre(ix, iy);
                if problem.workspace.disc_violation(c, reach) > 0.0 {
                    free[ix + self.nx * iy] = false;
                }
            }
        }
        for o in &problem.obstacles {
            self.block_disc(&mut free, o, reach);
        }
        free
    }

    fn block_disc(&self, free: &mut [bool], o: &Obstacle, reach: f64) {
        let r = o.radius + reach;
        let (x0, y0) = self.cell_of([o.center[0] - r, o.center[1] - r]);
        let (x1, y1) = self.cell_of([o.center[0] + r, o.center[1] + r]);
        for iy in y0..=y1 {
            for ix in x0..=x1 {
                if dist(self.centre(ix, iy), o.center) < r {
                    free[ix + self.nx * iy] = false;
                }
            }
        }
    }

    /// Dijkstra over the 8-connected free cells from the cells around `goal`. With `stop`, the
    /// search ends once it has gone [`STOP_MARGIN`] cells past the first settled cell of the
    /// 5 x 5 window around `stop`: every cell it settled keeps its exact distance, the rest
    /// are left `INFINITY`, and [`Field::known`] says where that cut lies. The settled cells
    /// are exactly those of the full search (the same pops in the same order, cut short).
    fn distance_field(&self, free: &[bool], goal: Vec2, stop: Option<Vec2>) -> Field {
        let mut field = vec![f64::INFINITY; free.len()];
        let mut heap = BinaryHeap::new();
        let (gx, gy) = self.cell_of(goal);
        for iy in gy.saturating_sub(1)..=(gy + 1).min(self.ny - 1) {
            for ix in gx.saturating_sub(1)..=(gx + 1).min(self.nx - 1) {
                let k = ix + self.nx * iy;
                if free[k] {
                    field[k] = dist(self.centre(ix, iy), goal);
                    heap.push(Entry(field[k], k));
                }
            }
        }
        let near_start = stop.map(|p| self.cell_of(p));
        let mut cut = f64::INFINITY;
        let diagonal = self.cell * std::f64::consts::SQRT_2;
        while let Some(Entry(d, k)) = heap.pop() {
            if d > field[k] {
                continue;
            }
            if d > cut {
                break;
            }
            let (ix, iy) = ((k % self.nx) as isize, (k / self.nx) as isize);
            if cut.is_infinite()
                && let Some((sx, sy)) = near_start
                && ix.abs_diff(sx as isize) <= WINDOW
                && iy.abs_diff(sy as isize) <= WINDOW
            {
                cut = d + STOP_MARGIN * self.cell;
            }
            for (dx, dy) in NEIGHBOURS {
                let (jx, jy) = (ix + dx, iy + dy);
                if jx < 0 || jy < 0 || jx >= self.nx as isize || jy >= self.ny as isize {
                    continue;
                }
                let j = jx as usize + self.nx * jy as usize;
                if !free[j] {
                    continue;
                }
                // No corner cutting: both side cells of a diagonal move must be free.
                if dx != 0 && dy != 0 {
                    let side1 = jx as usize + self.nx * iy as usize;
                    let side2 = ix as usize + self.nx * jy as usize;
                    if !(free[side1] && free[side2]) {
                        continue;
                    }
                }
                let step = if dx != 0 && dy != 0 {
                    diagonal
                } else {
                    self.cell
                };
                if d + step < field[j] {
                    field[j] = d + step;
                    heap.push(Entry(field[j], j));
                }
            }
        }
        // Cut short, every cell at most `cut` away was settled (popped before the first entry
        // beyond it) and every other cell is at least that far: only tentative values remain
        // above the cut, and those are dropped. Compared in f32, as the field is stored:
        // rounding keeps the order, so a dropped cell's stored distance would be >= `known`.
        let known = if cut.is_finite() {
            f64::from(cut as f32)
        } else {
            f64::INFINITY
        };
        let dist = field
            .into_iter()
            .map(|d| if d > cut { f32::INFINITY } else { d as f32 })
            .collect();
        Field { dist, known }
    }

    /// The direction robot `i` at `p` should head in to reach `goal`: straight at the goal when
    /// the straight line is clear of the obstacles (grown by `reach`), else towards the nearby
    /// cell with the least remaining travel distance. `None` when the grid knows no way (the
    /// caller then heads straight at the goal).
    pub fn direction(
        &self,
        i: usize,
        p: Vec2,
        goal: Vec2,
        reach: f64,
        obstacles: &[Obstacle],
    ) -> Option<Vec2> {
        let field = self.fields.get(i)?.as_ref()?;
        match self.heading(field, p, goal, reach, obstacles) {
            Ok(heading) => heading,
            Err(Unsettled) => {
                let full = self.complete(i, goal);
                self.heading(&full, p, goal, reach, obstacles)
                    .unwrap_or_default()
            }
        }
    }

    /// [`Guidance::direction`] on `field`; `Err` when the field is partial and a cell it did
    /// not settle could be the answer.
    fn heading(
        &self,
        field: &Field,
        p: Vec2,
        goal: Vec2,
        reach: f64,
        obstacles: &[Obstacle],
    ) -> Result<Option<Vec2>, Unsettled> {
        if line_is_clear(p, goal, reach, obstacles) {
            return Ok(None);
        }
        let (cx, cy) = self.cell_of(p);
        let mut best: Option<(f64, Vec2)> = None;
        for iy in cy.saturating_sub(WINDOW)..=(cy + WINDOW).min(self.ny - 1) {
            for ix in cx.saturating_sub(WINDOW)..=(cx + WINDOW).min(self.nx - 1) {
                let d = f64::from(field.dist[ix + self.nx * iy]);
                if !d.is_finite() {
                    continue;
                }
                let c = self.centre(ix, iy);
                let total = d + dist(p, c);
                if best.is_none_or(|(b, _)| total < b) {
                    best = Some((total, c));
                }
            }
        }
        // An unsettled cell's total is at least `known`: a best below it is the full field's
        // (totals are finite, so a full field, `known` = INFINITY, keeps every best).
        let Some((_, target)) = best.filter(|(b, _)| *b < field.known) else {
            return if field.known.is_infinite() {
                Ok(None)
            } else {
                Err(Unsettled)
            };
        };
        let to = [target[0] - p[0], target[1] - p[1]];
        let len = to[0].hypot(to[1]);
        Ok((len > 1e-9).then(|| [to[0] / len, to[1] / len]))
    }

    /// Robot `i`'s full distance field.
    fn complete(&self, i: usize, goal: Vec2) -> Field {
        self.distance_field(&self.occupancy[self.grid[i]].1, goal, None)
    }
}

/// A partial field's answer depends on cells its search did not settle.
#[derive(Debug)]
struct Unsettled;

impl Guidance {
    /// A polyline from `start` to robot `i`'s `goal` that follows the distance field until the
    /// straight line to the goal is clear; `None` when the grid knows no way.
    pub fn path(
        &self,
        i: usize,
        start: Vec2,
        goal: Vec2,
        reach: f64,
        obstacles: &[Obstacle],
    ) -> Option<Vec<Vec2>> {
        let partial = self.fields.get(i)?.as_ref()?;
        let mut full: Option<Field> = None;
        let mut path = vec![start];
        let mut p = start;
        for _ in 0..4 * (self.nx + self.ny) {
            let field = full.as_ref().unwrap_or(partial);
            let heading = match self.heading(field, p, goal, reach, obstacles) {
                Ok(heading) => heading,
                // The search was cut short too early for this path: finish it, go on from here
                // (the steps so far are those of the full field).
                Err(Unsettled) => {
                    let field = full.insert(self.complete(i, goal));
                    self.heading(field, p, goal, reach, obstacles)
                        .unwrap_or_default()
                }
            };
            match heading {
                None if line_is_clear(p, goal, reach, obstacles) => {
                    path.push(goal);
                    return Some(path);
                }
                None => return None,
                Some(d) => {
                    p = [p[0] + self.cell * d[0], p[1] + self.cell * d[1]];
                    path.push(p);
                }
            }
        }
        None
    }
}

/// Cells around the current one searched for the next target (2 = a 5 x 5 window).
const WINDOW: usize = 2;

const NEIGHBOURS: [(isize, isize); 8] = [
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
    (1, 1),
    (1, -1),
    (-1, 1),
    (-1, -1),
];

/// Whether the segment from `a` to `b` keeps `reach` away from every obstacle disc.
fn line_is_clear(a: Vec2, b: Vec2, reach: f64, obstacles: &[Obstacle]) -> bool {
    let ab = [b[0] - a[0], b[1] - a[1]];
    let len2 = ab[0] * ab[0] + ab[1] * ab[1];
    obstacles.iter().all(|o| {
        let t = if len2 > 0.0 {
            (((o.center[0] - a[0]) * ab[0] + (o.center[1] - a[1]) * ab[1]) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let q = [a[0] + ab[0] * t, a[1] + ab[1] * t];
        dist(q, o.center) >= o.radius + reach
    })
}

/// Heap entry ordered by increasing distance.
struct Entry(f64, usize);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// Grid cell size of [`path_coefficients`], metres.
const PATH_CELL: f64 = 0.1;
/// Extra clearance [`path_coefficients`] asks of a path (dropped for robots that cannot keep it).
const PATH_CLEARANCE: f64 = 0.3;

/// Clearance from the obstacles, on top of the robot's radius, that [`path_coefficients`]
/// reweights its fit for, metres.
const FIT_CLEARANCE: f64 = 0.05;
/// Most reweighting rounds of [`path_coefficients`]'s fit.
const FIT_ROUNDS: usize = 12;
/// Rounds without a smaller shortfall after which [`path_coefficients`]'s fit gives up.
const FIT_PATIENCE: usize = 2;
/// How far from the grid path's bounding box [`path_coefficients`] looks for obstacles its
/// fit could hit, metres.
const FIT_REACH: f64 = 1.5;
/// Factor by which a round raises the weight of the fit's samples that come too close to an
/// obstacle.
const FIT_BOOST: f64 = 3.0;

/// Every robot's initial polynomial: its straight line when that is clear of the obstacles,
/// else its shortest grid path around them, timed with the smooth rest-to-rest profile and
/// fitted by least squares with the boundary coefficients (three at each end) held fixed.
///
/// A polynomial with five free coefficients per axis cuts the corners of a grid path (a robot
/// dipping down to a doorway, or turning from an aisle into a cross-aisle), and a plain fit
/// sent such corners through walls and shelves by up to 0.4 m, where the safety filter could
/// get stuck against the obstacles' seams. The fit is therefore reweighted: samples (twice the
/// problem's, including the ends of each interval) closer than the robot's radius plus
/// [`FIT_CLEARANCE`] to an obstacle get [`FIT_BOOST`] times more weight, for at most
/// [`FIT_ROUNDS`] rounds, and the round whose deepest such shortfall is smallest is kept
/// (the plain fit where that is already clear). [`GuidePaths::plain`] is the plain fit.
pub fn path_coefficients(problem: &Problem, basis: &Bernstein) -> Vec<Coefficients> {
    guide_paths(problem, basis).clear
}

/// Both fits of every robot's guide path (one grid search).
#[derive(Debug, Clone, PartialEq)]
pub struct GuidePaths {
    /// The plain least-squares fit at the problem's samples (which may cut corners through
    /// obstacles): the coordinates the shipped generator was trained in.
    pub plain: Vec<Coefficients>,
    /// The reweighted fit of [`path_coefficients`].
    pub clear: Vec<Coefficients>,
    /// Per robot: whether its straight line, grown by its radius plus the guides' extra
    /// clearance, crosses an obstacle (so its guide path may leave the line).
    pub blocked: Vec<bool>,
}

impl GuidePaths {
    /// Whether no robot's straight line is blocked by an obstacle: an open floor, where the
    /// robots need only avoid each other.
    pub fn open(&self) -> bool {
        !self.blocked.contains(&true)
    }
}

/// The guide paths of every robot of `problem`, plainly fitted and reweighted away from the
/// obstacles (see [`path_coefficients`]).
pub fn guide_paths(problem: &Problem, basis: &Bernstein) -> GuidePaths {
    let straight = StraightPlanner::new(basis.clone()).coefficients(problem);
    // A path with extra clearance where one exists; robots starting or ending too close to an
    // obstacle for that clearance get a path without it. Only robots whose straight line is
    // blocked need a grid search, and only those without a roomy path a tight one.
    let path_on = |guidance: &Guidance, i: usize, clearance: f64| {
        let robot = &problem.robots[i];
        let reach = robot.radius + clearance;
        guidance.path(i, robot.start, robot.goal, reach, &problem.obstacles)
    };
    let blocked: Vec<bool> = problem
        .robots
        .iter()
        .map(|r| {
            !line_is_clear(
                r.start,
                r.goal,
                r.radius + PATH_CLEARANCE,
                &problem.obstacles,
            )
        })
        .collect();
    let Some(roomy) = Guidance::for_paths(problem, PATH_CELL, PATH_CLEARANCE, &blocked) else {
        // No obstacles: the straight lines.
        return GuidePaths {
            plain: straight.clone(),
            clear: straight,
            blocked,
        };
    };
    let mut paths: Vec<Option<Vec<Vec2>>> = (0..problem.num_robots())
        .map(|i| {
            if blocked[i] {
                path_on(&roomy, i, PATH_CLEARANCE)
            } else {
                None
            }
        })
        .collect();
    let stuck: Vec<bool> = (0..paths.len())
        .map(|i| blocked[i] && paths[i].is_none())
        .collect();
    if stuck.contains(&true)
        && let Some(tight) = Guidance::for_paths(problem, PATH_CELL, 0.0, &stuck)
    {
        for (i, path) in paths.iter_mut().enumerate().filter(|(i, _)| stuck[*i]) {
            *path = path_on(&tight, i, 0.0);
        }
    }
    // Two points: the straight line is clear.
    for path in &mut paths {
        if path.as_ref().is_some_and(|p| p.len() <= 2) {
            *path = None;
        }
    }
    GuidePaths {
        plain: fit_paths(problem, basis, straight.clone(), &paths, false),
        clear: fit_paths(problem, basis, straight, &paths, true),
        blocked,
    }
}

/// `coefficients` with every robot that has a grid path in `paths` fitted to it: plainly at the
/// problem's samples, or reweighted away from the obstacles at twice as many.
fn fit_paths(
    problem: &Problem,
    basis: &Bernstein,
    mut coefficients: Vec<Coefficients>,
    paths: &[Option<Vec<Vec2>>],
    reweight: bool,
) -> Vec<Coefficients> {
    let density = if reweight { 2 } else { 1 };
    let times = crate::problem::uniform_times(problem.horizon, density * problem.samples);
    let unit = basis.smoothest(problem.horizon, &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    let profile: Vec<f64> = times
        .iter()
        .map(|&t| basis.eval(&unit, t, problem.horizon)[0].clamp(0.0, 1.0))
        .collect();
    let samples = basis.sample_matrices(&times, problem.horizon);
    let k = basis.num_coefficients();
    let free = 3..k - 3;
    let b = samples.p.columns(free.start, free.len()).into_owned();
    for (i, (robot, path)) in problem.robots.iter().zip(paths).enumerate() {
        let Some(path) = path else { continue };
        let targets: Vec<Vec2> = profile.iter().map(|&s| along(path, s)).collect();
        // The fixed (boundary) part of every sample, per axis.
        let c = &coefficients[i];
        let rhs: [DVector<f64>; 2] = [0, 1].map(|axis| {
            let values = if axis == 0 { &c.x } else { &c.y };
            let mut fixed = DVector::from_column_slice(values);
            fixed.rows_mut(free.start, free.len()).fill(0.0);
            let fixed_part: DVector<f64> = &samples.p * fixed;
            DVector::from_fn(times.len(), |t, _| targets[t][axis] - fixed_part[t])
        });
        let reach = robot.radius + FIT_CLEARANCE;
        // The obstacles near the path (a fit strays from it by well under a metre).
        let (lo, hi) = path.iter().fold(
            ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]),
            |(lo, hi), p| {
                (
                    [lo[0].min(p[0]), lo[1].min(p[1])],
                    [hi[0].max(p[0]), hi[1].max(p[1])],
                )
            },
        );
        let near: Vec<&Obstacle> = problem
            .obstacles
            .iter()
            .filter(|o| {
                let pad = o.radius + reach + FIT_REACH;
                (0..2).all(|a| o.center[a] > lo[a] - pad && o.center[a] < hi[a] + pad)
            })
            .collect();
        let mut weights = vec![1.0; times.len()];
        let mut best: Option<(f64, [DVector<f64>; 2])> = None;
        let mut stalled = 0;
        for _ in 0..FIT_ROUNDS {
            let Some(fit) = weighted_fit(&b, &weights, &rhs) else {
                break;
            };
            if !reweight {
                // The plain fit: nothing to compare it with.
                best = Some((0.0, fit));
                break;
            }
            // Positions of the fit at every sample, and each one's shortfall.
            let mut full = [c.x.clone(), c.y.clone()];
            for (axis, solution) in fit.iter().enumerate() {
                for (f, v) in solution.iter().enumerate() {
                    full[axis][free.start + f] = *v;
                }
            }
            let xs = &samples.p * DVector::from_column_slice(&full[0]);
            let ys = &samples.p * DVector::from_column_slice(&full[1]);
            let shortfall: Vec<f64> = (0..times.len())
                .map(|t| {
                    near.iter()
                        .map(|o| o.overlap([xs[t], ys[t]], reach))
                        .fold(0.0, f64::max)
                })
                .collect();
            let worst = shortfall.iter().copied().fold(0.0, f64::max);
            if best.as_ref().is_none_or(|(w, _)| worst < *w) {
                best = Some((worst, fit));
                stalled = 0;
            } else {
                stalled += 1;
            }
            // Clear, or no better for a few rounds (e.g. a start closer to an obstacle than
            // the clearance: no weight moves the fixed ends).
            if worst <= 0.0 || stalled == FIT_PATIENCE {
                break;
            }
            for (w, s) in weights.iter_mut().zip(&shortfall) {
                if *s > 0.0 {
                    *w *= FIT_BOOST;
                }
            }
        }
        let Some((_, fit)) = best else { continue };
        let c = &mut coefficients[i];
        for (values, solution) in [&mut c.x, &mut c.y].into_iter().zip(fit) {
            for (f, v) in solution.iter().enumerate() {
                values[free.start + f] = *v;
            }
        }
    }
    coefficients
}

/// The weighted least-squares solutions x of B x = rhs (per axis) with the samples' weights;
/// `None` when the normal equations are singular.
fn weighted_fit(
    b: &DMatrix<f64>,
    weights: &[f64],
    rhs: &[DVector<f64>; 2],
) -> Option<[DVector<f64>; 2]> {
    let mut bw = b.clone();
    for (mut row, &w) in bw.row_iter_mut().zip(weights) {
        row *= w;
    }
    let normal = (bw.transpose() * b).cholesky()?;
    Some([0, 1].map(|axis| normal.solve(&(bw.transpose() * &rhs[axis]))))
}

/// Point at fraction `s` of a polyline's length.
fn along(path: &[Vec2], s: f64) -> Vec2 {
    let total: f64 = path.windows(2).map(|w| dist(w[0], w[1])).sum();
    let mut left = s * total;
    for w in path.windows(2) {
        let d = dist(w[0], w[1]);
        if left <= d && d > 0.0 {
            let u = left / d;
            return [
                w[0][0] + u * (w[1][0] - w[0][0]),
                w[0][1] + u * (w[1][1] - w[0][1]),
            ];
        }
        left -= d;
    }
    path[path.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Robot, Workspace};

    #[test]
    fn guidance_leads_around_a_wall() {
        // A wall across the middle with a gap at the top; the goal is behind the wall.
        let obstacles: Vec<Obstacle> = (0..8)
            .map(|k| Obstacle {
                center: [0.0, -4.6 + 0.8 * k as f64],
                radius: 0.4,
            })
            .collect();
        let p = Problem::new(
            Workspace::square(5.0),
            vec![Robot::new([-2.0, -2.0], [2.0, -2.0], 0.2)],
            obstacles,
        );
        let g = Guidance::new(&p, 0.1, 0.02).unwrap();
        let dir = g
            .direction(0, [-2.0, -2.0], [2.0, -2.0], 0.22, &p.obstacles)
            .unwrap();
        // Heads up towards the gap, not right into the wall.
        assert!(dir[1] > 0.7, "{dir:?}");
        // Where the goal is in plain view, no guidance is needed.
        assert!(
            g.direction(0, [2.0, 2.0], [2.0, -2.0], 0.22, &p.obstacles)
                .is_none()
        );
    }

    #[test]
    fn no_obstacles_no_guidance() {
        let p = Problem::new(
            Workspace::square(5.0),
            vec![Robot::new([-2.0, -2.0], [2.0, -2.0], 0.2)],
            vec![],
        );
        assert!(Guidance::new(&p, 0.1, 0.02).is_none());
    }

    /// The deepest a robot disc on its guide polynomial gets into an obstacle, over a grid 8x
    /// denser than the problem's samples.
    fn deepest(problem: &Problem, coefficients: &[Coefficients], basis: &Bernstein) -> f64 {
        let steps = 8 * problem.samples;
        let mut deepest = 0.0f64;
        for (robot, c) in problem.robots.iter().zip(coefficients) {
            for s in 0..=steps {
                let t = problem.horizon * s as f64 / steps as f64;
                let x = [
                    basis.eval(&c.x, t, problem.horizon)[0],
                    basis.eval(&c.y, t, problem.horizon)[0],
                ];
                for o in &problem.obstacles {
                    deepest = deepest.max(o.overlap(x, robot.radius));
                }
            }
        }
        deepest
    }

    /// The plain least-squares fit of a grid path (at the problem's samples) cut corners
    /// through shelves and walls: on these problems its guides went 0.095, 0.156, 0.354 and
    /// 0.023 m deep (up to 0.4 m over seeds 0-49 of warehouse and doorway at N = 32); the
    /// reweighted fit keeps every guide within 2 cm of clear here.
    #[test]
    fn guide_polynomials_keep_out_of_shelves_and_walls() {
        use crate::{Scenario, ScenarioConfig};
        let basis = Bernstein::default();
        for (scenario, robots, seed) in [
            (Scenario::Warehouse, 32, 6),
            (Scenario::Warehouse, 16, 45),
            (Scenario::Doorway, 32, 3),
            (Scenario::Doorway, 16, 1),
        ] {
            let p = scenario
                .generate(&ScenarioConfig::new(robots).seed(seed))
                .unwrap();
            let c = path_coefficients(&p, &basis);
            let deepest = deepest(&p, &c, &basis);
            assert!(
                deepest < 0.02,
                "{scenario} N={robots} seed {seed}: a guide {deepest:.3} m deep in an obstacle"
            );
        }
    }

    /// Searches stopped once the start's neighbourhood is settled trace the same paths as full
    /// searches, and a query far outside what they settled falls back to the full field.
    #[test]
    fn paths_on_partial_fields_are_those_on_full_fields() {
        use crate::{Scenario, ScenarioConfig};
        let mut fallbacks = 0;
        for (scenario, robots, seed) in [
            (Scenario::Doorway, 16, 1),
            (Scenario::Warehouse, 32, 6),
            (Scenario::Obstacles, 16, 2),
        ] {
            let p = scenario
                .generate(&ScenarioConfig::new(robots).seed(seed))
                .unwrap();
            let wanted = vec![true; robots];
            let partial = Guidance::for_paths(&p, PATH_CELL, PATH_CLEARANCE, &wanted).unwrap();
            let full = Guidance::for_robots(&p, PATH_CELL, PATH_CLEARANCE, &wanted).unwrap();
            let settled = |g: &Guidance, i: usize| {
                let field = g.fields[i].as_ref().unwrap();
                (
                    field.dist.iter().filter(|d| d.is_finite()).count(),
                    field.known,
                )
            };
            let mut cut_short = 0;
            for (i, r) in p.robots.iter().enumerate() {
                let reach = r.radius + PATH_CLEARANCE;
                assert_eq!(
                    partial.path(i, r.start, r.goal, reach, &p.obstacles),
                    full.path(i, r.start, r.goal, reach, &p.obstacles),
                    "{scenario} N={robots} seed {seed} robot {i}"
                );
                let ((cells, known), (all, _)) = (settled(&partial, i), settled(&full, i));
                assert!(cells <= all && (cells == all || known.is_finite()));
                cut_short += usize::from(cells < all);
                // From the workspace's corners, most of them beyond the settled cells.
                for corner in [[-4.9, -4.9], [4.9, -4.9], [-4.9, 4.9], [4.9, 4.9]] {
                    let field = partial.fields[i].as_ref().unwrap();
                    fallbacks += usize::from(
                        partial
                            .heading(field, corner, r.goal, reach, &p.obstacles)
                            .is_err(),
                    );
                    assert_eq!(
                        partial.direction(i, corner, r.goal, reach, &p.obstacles),
                        full.direction(i, corner, r.goal, reach, &p.obstacles),
                        "{scenario} N={robots} seed {seed} robot {i} from {corner:?}"
                    );
                }
            }
            assert!(cut_short > 0, "{scenario}: no search was cut short");
        }
        assert!(fallbacks > 0, "no query needed the full field");
    }

    #[test]
    fn open_floors_are_those_without_a_blocked_straight_line() {
        let basis = Bernstein::default();
        let robot = |start, goal| Robot::new(start, goal, 0.2);
        let ws = Workspace::square(5.0);
        let free = Problem::new(ws, vec![robot([-2.0, 0.0], [2.0, 0.0])], vec![]);
        assert!(guide_paths(&free, &basis).open());
        // An obstacle beside the line, farther than the radius plus the extra clearance.
        let beside = Obstacle {
            center: [0.0, 2.0],
            radius: 0.5,
        };
        let aside = Problem::new(ws, vec![robot([-2.0, 0.0], [2.0, 0.0])], vec![beside]);
        assert!(guide_paths(&aside, &basis).open());
        // One of two robots has a pillar on its line: not open, and only that robot blocked.
        let pillar = Obstacle {
            center: [0.0, -2.0],
            radius: 0.5,
        };
        let blocked = Problem::new(
            ws,
            vec![
                robot([-2.0, 0.0], [2.0, 0.0]),
                robot([-2.0, -2.0], [2.0, -2.0]),
            ],
            vec![beside, pillar],
        );
        let g = guide_paths(&blocked, &basis);
        assert!(!g.open());
        assert_eq!(g.blocked, vec![false, true]);
    }
}
