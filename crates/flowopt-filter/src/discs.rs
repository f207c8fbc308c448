//! The fast s-step's disc rows, each with its closed-form residual r = G c - Proj(G c):
//! - outside a disc of radius D (robot pairs, robots and obstacles): r = g min(0, 1 - D/|g|),
//!   and its image under G' on the robots' positions (+r on robot i, -r on robot j of a pair);
//! - inside a disc of radius L (scaled speeds and accelerations): r = g max(0, 1 - L/|g|).
//!
//! Written with tensor ops, each is a chain of eight to ten passes over (B, 2, rows, M) tensors
//! (the pair tensors no longer fit in cache) plus, for pairs, the incidence matmul. On the plain
//! (non-autodiff) flex backend, [`disc_rows`] runs both families as fused loops instead, one
//! pass per instance (rayon over instances), skipping the chunks of samples whose bounding
//! boxes show them clear of the disc (their rows are exactly zero; `ChunkBoxes`, built once per
//! instance for both families). Everywhere else — wgpu, and autodiff, where gradients must flow
//! through the unrolled solver — the same math runs as
//! composed tensor ops; the tests check that both agree.

use std::ops::Range;

use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::TensorData;
use rayon::prelude::*;

use crate::batch::Batch;

/// Small number keeping norms differentiable at zero.
pub(crate) const EPS: f32 = 1e-12;

/// The outside-disc families' residual rows (when kept) and the sum of their images under G'
/// on the positions.
pub struct DiscRows {
    /// Pair residuals (B, 2, P, M) in [`crate::batch::pair_order`]; `None` for one robot or when the
    /// rows were not kept.
    pub pairs: Option<Tensor<4>>,
    /// Obstacle residuals (B, 2, N, O, M); `None` without obstacles or when not kept.
    pub obstacles: Option<Tensor<5>>,
    /// Pair and obstacle images summed, (B, 2, N, M); `None` when neither family has rows.
    pub image: Option<Tensor<4>>,
}

/// The pair rows (outside discs of the pair distances) and obstacle rows (outside discs
/// around the obstacle centres) of positions `x` (B, 2, N, M), with their summed image on the
/// positions. With `keep` false the residual rows are not returned (only the solver's checks
/// read them; the fused loops then skip writing them).
pub fn disc_rows(batch: &Batch, x: &Tensor<4>, keep: bool) -> DiscRows {
    if let Some(fused) = disc_rows_fused(batch, x, keep) {
        return fused;
    }
    let pairs = (batch.robots > 1).then(|| pair_rows_composed(batch, x));
    let obstacles = batch
        .obstacle_centre
        .as_ref()
        .zip(batch.obstacle_dist.as_ref())
        .map(|(centre, dist)| obstacle_rows_composed(batch, x, centre, dist));
    let image = match (&pairs, &obstacles) {
        (Some((_, a)), Some((_, b))) => Some(a.clone() + b.clone()),
        (Some((_, a)), None) => Some(a.clone()),
        (None, Some((_, b))) => Some(b.clone()),
        (None, None) => None,
    };
    DiscRows {
        pairs: pairs.and_then(|(r, _)| keep.then_some(r)),
        obstacles: obstacles.and_then(|(r, _)| keep.then_some(r)),
        image,
    }
}

/// Residuals of rows `g` (B, 2, R, M) that must lie inside discs of radius `limit` (B, 1, 1, 1),
/// one radius per instance.
pub fn inside_rows(g: Tensor<4>, limit: &Tensor<4>) -> Tensor<4> {
    inside_rows_fused(&g, limit).unwrap_or_else(|| inside(g, limit.clone()))
}

/// r = g max(0, 1 - L/|g|) = g (|g| - L)+ / |g|.
fn inside(g: Tensor<4>, limit: Tensor<4>) -> Tensor<4> {
    let x = g.clone().narrow(1, 0, 1);
    let y = g.clone().narrow(1, 1, 1);
    let norm = (x.clone() * x + y.clone() * y + EPS).sqrt();
    let scale = ((norm.clone() - limit) / norm).clamp_min(0.0);
    g * scale
}

fn inside_rows_fused(g: &Tensor<4>, limit: &Tensor<4>) -> Option<Tensor<4>> {
    let [b, _, rows, m] = g.dims();
    let (gs, ls) = (flex_values(g)?, flex_values(limit)?);
    let (gs, ls) = (gs.as_slice::<f32>()?, ls.as_slice::<f32>()?);
    let len = rows * m;
    let mut r = vec![0f32; b * 2 * len];
    r.par_chunks_mut(2 * len)
        .zip(gs.par_chunks(2 * len))
        .zip(ls.par_iter())
        .for_each(|((r, g), &limit)| {
            let (x, y) = g.split_at(len);
            let (rx, ry) = r.split_at_mut(len);
            for k in 0..len {
                let norm = (x[k] * x[k] + y[k] * y[k] + EPS).sqrt();
                let scale = ((norm - limit) / norm).max(0.0);
                rx[k] = x[k] * scale;
                ry[k] = y[k] * scale;
            }
        });
    Some(flex_tensor(r, [b, 2, rows, m]))
}

/// The fast mode's box rows of positions `x` (B, 2, N, M): r = x - clamp(x) into
/// [`lo`, `hi`] (B, 2, N, 1), as `x.max_pair(lo).min_pair(hi)` clamps (a NaN stays NaN).
/// Composed, the two pair ops each compare and select over the broadcast bounds, 5% of a
/// doorway N = 32 run for the smallest family of rows; fused on flex (one pass, one thread:
/// the rows are a few thousand numbers), the same numbers.
pub fn box_rows(x: &Tensor<4>, lo: &Tensor<4>, hi: &Tensor<4>) -> Tensor<4> {
    box_rows_fused(x, lo, hi).unwrap_or_else(|| box_residual(x.clone(), x.clone(), lo, hi))
}

/// Box rows r = g - clamp(z) into [`lo`, `hi`] (B, 2, N, 1), as composed tensor ops: the
/// exact mode's (z = G c + u) and the fast mode's off flex (z = g).
pub(crate) fn box_residual(
    g: Tensor<4>,
    z: Tensor<4>,
    lo: &Tensor<4>,
    hi: &Tensor<4>,
) -> Tensor<4> {
    let lo = lo.clone().expand(g.dims());
    let hi = hi.clone().expand(g.dims());
    g - z.max_pair(lo).min_pair(hi)
}

fn box_rows_fused(x: &Tensor<4>, lo: &Tensor<4>, hi: &Tensor<4>) -> Option<Tensor<4>> {
    let dims = x.dims();
    let m = dims[3];
    let (xs, los, his) = (flex_values(x)?, flex_values(lo)?, flex_values(hi)?);
    let (xs, los, his) = (
        xs.as_slice::<f32>()?,
        los.as_slice::<f32>()?,
        his.as_slice::<f32>()?,
    );
    // One bound per row (anything broadcast otherwise takes the composed ops).
    let rows = xs.len() / m.max(1);
    if m == 0 || los.len() != rows || his.len() != rows {
        return None;
    }
    let mut r = vec![0f32; xs.len()];
    for ((row, xs), (&lo, &hi)) in r.chunks_mut(m).zip(xs.chunks(m)).zip(los.iter().zip(his)) {
        for (r, &x) in row.iter_mut().zip(xs) {
            // max_pair: lo where x < lo; min_pair: hi where hi < that.
            let above = if x < lo { lo } else { x };
            let clamped = if hi < above { hi } else { above };
            *r = x - clamped;
        }
    }
    Some(flex_tensor(r, dims))
}

/// r = g min(0, 1 - D/|g|) for rows g (B, 2, R, M) and distances (B, 1, R, 1).
fn outside(g: Tensor<4>, dist: Tensor<4>) -> Tensor<4> {
    let x = g.clone().narrow(1, 0, 1);
    let y = g.clone().narrow(1, 1, 1);
    let norm = (x.clone() * x + y.clone() * y + EPS).sqrt();
    let scale = ((norm.clone() - dist) / norm).clamp_max(0.0);
    g * scale
}

/// Pair differences of positions (B, 2, N, M) in pair order: one slice difference per offset.
pub(crate) fn pair_differences(x: &Tensor<4>) -> Tensor<4> {
    let n = x.dims()[2];
    let by_offset = (1..n)
        .map(|s| x.clone().narrow(2, 0, n - s) - x.clone().narrow(2, s, n - s))
        .collect();
    Tensor::cat(by_offset, 2)
}

fn pair_rows_composed(batch: &Batch, x: &Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let r = outside(pair_differences(x), batch.pair_dist.clone());
    // Each pair row onto its two robots: (1, 1, N, P) x (B, 2, P, M).
    let image = batch.incidence.clone().matmul(r.clone());
    (r, image)
}

fn obstacle_rows_composed(
    batch: &Batch,
    x: &Tensor<4>,
    centre: &Tensor<5>,
    dist: &Tensor<5>,
) -> (Tensor<5>, Tensor<4>) {
    let [b, _, n, m] = x.dims();
    let o = batch.obstacles;
    let e = x.clone().unsqueeze_dim::<5>(3) - centre.clone();
    let r = outside(
        e.reshape([b, 2, n * o, m]),
        dist.clone().reshape([b, 1, n * o, 1]),
    )
    .reshape([b, 2, n, o, m]);
    let image = r.clone().sum_dim(3).reshape([b, 2, n, m]);
    (r, image)
}

/// Whether `t` is a plain (non-autodiff) flex tensor.
pub(crate) fn is_flex<const D: usize>(t: &Tensor<D>) -> bool {
    t.clone().try_into_primitive::<Flex>().is_ok()
}

/// The host slice of a plain flex f32 tensor (contiguous), or `None` for any other backend,
/// an autodiff tensor or another dtype.
fn flex_values<const D: usize>(t: &Tensor<D>) -> Option<burn::backend::flex::FlexTensor> {
    let prim = t.clone().try_into_primitive::<Flex>().ok()?;
    let prim = if prim.is_contiguous() {
        prim
    } else {
        prim.to_contiguous()
    };
    prim.as_slice::<f32>()?;
    Some(prim)
}

fn flex_tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(burn::backend::flex::FlexTensor::from_data(TensorData::new(
        values, shape,
    )))
}

/// The x and y halves of each instance's rows in `buf` (B, 2, rows, M), or `b` pairs of empty
/// slices when `buf` is empty (rows not kept).
fn instance_rows(
    buf: &mut [f32],
    b: usize,
    rows: usize,
    m: usize,
) -> Vec<(&mut [f32], &mut [f32])> {
    if buf.is_empty() {
        return (0..b).map(|_| (&mut [][..], &mut [][..])).collect();
    }
    buf.chunks_mut(2 * rows * m)
        .map(|inst| inst.split_at_mut(rows * m))
        .collect()
}

/// The fused loops (plain flex f32 tensors only; `None` otherwise): in parallel over
/// instances, one pass per instance over its pair rows and then its obstacle rows, both
/// accumulating into its image and skipping the chunks of samples that its [`ChunkBoxes`]
/// show clear. Only instances run in parallel: splitting one instance's rows over threads
/// (tried, with private images summed afterwards) made doorway N = 16 plans, whose refining
/// pass filters one instance, 24% slower on two cores, as every such parallel call has to wake
/// a sleeping thread.
fn disc_rows_fused(batch: &Batch, x: &Tensor<4>, keep: bool) -> Option<DiscRows> {
    let [b, _, n, m] = x.dims();
    let o = batch.obstacles;
    let xs = flex_values(x)?;
    let xs = xs.as_slice::<f32>()?;
    let p = if n > 1 { n * (n - 1) / 2 } else { 0 };
    let pair_dist = match p {
        0 => None,
        _ => Some(flex_values(&batch.pair_dist)?),
    };
    let pair_dist = match &pair_dist {
        Some(d) => d.as_slice::<f32>()?,
        None => &[],
    };
    let obstacles = match (&batch.obstacle_centre, &batch.obstacle_dist) {
        (Some(c), Some(d)) if o > 0 => Some((flex_values(c)?, flex_values(d)?)),
        _ => None,
    };
    let (centres, obstacle_dist): (&[f32], &[f32]) = match &obstacles {
        Some((c, d)) => (c.as_slice::<f32>()?, d.as_slice::<f32>()?),
        None => (&[], &[]),
    };
    let obstacle_rows = if obstacles.is_some() { n * o } else { 0 };
    if p == 0 && obstacle_rows == 0 {
        return Some(DiscRows {
            pairs: None,
            obstacles: None,
            image: None,
        });
    }

    let kept = |rows: usize| if keep { b * 2 * rows * m } else { 0 };
    let mut pair_buf = vec![0f32; kept(p)];
    let mut obstacle_buf = vec![0f32; kept(obstacle_rows)];
    let mut image = vec![0f32; b * 2 * n * m];
    let pair_out = instance_rows(&mut pair_buf, b, p, m);
    let obstacle_out = instance_rows(&mut obstacle_buf, b, obstacle_rows, m);
    image
        .par_chunks_mut(2 * n * m)
        .zip(pair_out)
        .zip(obstacle_out)
        .enumerate()
        .for_each(|(inst, ((image, pair_out), obstacle_out))| {
            let (x, y) = xs[inst * 2 * n * m..(inst + 1) * 2 * n * m].split_at(n * m);
            let boxes = ChunkBoxes::new(x, y, n, m);
            let (ix, iy) = image.split_at_mut(n * m);
            // Without kept rows each row overwrites one scratch row (x then y, M each).
            let mut scratch = if keep { Vec::new() } else { vec![0f32; 2 * m] };
            if p > 0 {
                let dist = &pair_dist[inst * p..(inst + 1) * p];
                fill_pairs(
                    x,
                    y,
                    &boxes,
                    dist,
                    pair_out,
                    &mut scratch,
                    (&mut *ix, &mut *iy),
                );
            }
            if obstacle_rows > 0 {
                let (cx, cy) = centres[inst * 2 * o..(inst + 1) * 2 * o].split_at(o);
                let dist = &obstacle_dist[inst * n * o..(inst + 1) * n * o];
                fill_obstacles(
                    x,
                    y,
                    &boxes,
                    (cx, cy),
                    dist,
                    obstacle_out,
                    &mut scratch,
                    (ix, iy),
                );
            }
        });
    Some(DiscRows {
        pairs: (keep && p > 0).then(|| flex_tensor(pair_buf, [b, 2, p, m])),
        obstacles: (keep && obstacle_rows > 0).then(|| flex_tensor(obstacle_buf, [b, 2, n, o, m])),
        image: Some(flex_tensor(image, [b, 2, n, m])),
    })
}

/// The residual slot of row `row`: its own row of `out` (x and y halves) when rows are kept
/// (`out` non-empty), else the scratch row (2 M) that each row overwrites.
fn row_slot<'r>(
    out: &'r mut (&mut [f32], &mut [f32]),
    scratch: &'r mut [f32],
    row: usize,
    m: usize,
) -> (&'r mut [f32], &'r mut [f32]) {
    if out.0.is_empty() {
        scratch.split_at_mut(m)
    } else {
        (
            &mut out.0[row * m..(row + 1) * m],
            &mut out.1[row * m..(row + 1) * m],
        )
    }
}

/// The pair rows (in pair order) of one instance with positions `x`, `y` (N M each) and pair
/// distances `dist` (P), written to `out` (or `scratch`), their image added to `image`.
/// Chunk by chunk: one branch-free pass tests every pair's boxes, then only the pairs that may
/// be too close are computed. Each image sample still receives its rows in pair order.
fn fill_pairs(
    x: &[f32],
    y: &[f32],
    boxes: &ChunkBoxes,
    dist: &[f32],
    mut out: (&mut [f32], &mut [f32]),
    scratch: &mut [f32],
    image: (&mut [f32], &mut [f32]),
) {
    let (m, n) = (boxes.m, boxes.n);
    let (ix, iy) = image;
    let mut near = vec![false; dist.len()];
    for c in 0..boxes.chunks {
        let chunk = boxes.range(c);
        let b = boxes.chunk(c);
        let mut row = 0;
        for s in 1..n {
            // Robots i = 0..n-s against j = i + s, all slices of one length (no bounds checks).
            let len = n - s;
            let (a, other) = (
                b.sides.map(|side| &side[..len]),
                b.sides.map(|side| &side[s..n]),
            );
            let (near, dist) = (&mut near[row..row + len], &dist[row..row + len]);
            for k in 0..len {
                let (p, q) = (a.map(|side| side[k]), other.map(|side| side[k]));
                near[k] = !boxes_apart(p, q, dist[k]);
            }
            row += len;
        }
        let mut row = 0;
        for s in 1..n {
            for i in 0..n - s {
                if !near[row] {
                    row += 1;
                    continue;
                }
                let (j, d) = (i + s, dist[row]);
                let (rxp, ryp) = row_slot(&mut out, scratch, row, m);
                let (rxc, ryc) = (&mut rxp[chunk.clone()], &mut ryp[chunk.clone()]);
                let xs = x[i * m..][chunk.clone()]
                    .iter()
                    .zip(&x[j * m..][chunk.clone()]);
                let ys = y[i * m..][chunk.clone()]
                    .iter()
                    .zip(&y[j * m..][chunk.clone()]);
                for (((rx, ry), (xi, xj)), (yi, yj)) in
                    rxc.iter_mut().zip(ryc.iter_mut()).zip(xs).zip(ys)
                {
                    let (dx, dy) = (xi - xj, yi - yj);
                    let norm = (dx * dx + dy * dy + EPS).sqrt();
                    let scale = ((norm - d) / norm).min(0.0);
                    *rx = dx * scale;
                    *ry = dy * scale;
                }
                scatter_pair(ix, i, j, m, chunk.clone(), rxc);
                scatter_pair(iy, i, j, m, chunk.clone(), ryc);
                row += 1;
            }
        }
    }
}

/// The obstacle rows (row i O + o: robot i, obstacle o) of one instance with positions `x`,
/// `y`, obstacle centres `centre` (O each) and distances `dist` (N O), written to `out` (or
/// `scratch`), their image added to `image`. Chunk by chunk and robot by robot, one
/// branch-free pass tests the robot's box against every obstacle, then only the obstacles it
/// may touch are computed (each image sample still receives its rows in obstacle order).
#[expect(clippy::too_many_arguments, reason = "one instance's slices, named")]
fn fill_obstacles(
    x: &[f32],
    y: &[f32],
    boxes: &ChunkBoxes,
    centre: (&[f32], &[f32]),
    dist: &[f32],
    mut out: (&mut [f32], &mut [f32]),
    scratch: &mut [f32],
    image: (&mut [f32], &mut [f32]),
) {
    let (m, n) = (boxes.m, boxes.n);
    let o = centre.0.len();
    let (ix, iy) = image;
    let mut near = vec![false; o];
    for c in 0..boxes.chunks {
        let chunk = boxes.range(c);
        let b = boxes.chunk(c);
        for i in 0..n {
            let dist = &dist[i * o..(i + 1) * o];
            let robot = b.sides.map(|side| side[i]);
            for (((near, &cx), &cy), &d) in near.iter_mut().zip(centre.0).zip(centre.1).zip(dist) {
                *near = !boxes_apart(robot, [cx, cx, cy, cy], d);
            }
            for (ob, _) in near.iter().enumerate().filter(|(_, near)| **near) {
                let (cx, cy, d) = (centre.0[ob], centre.1[ob], dist[ob]);
                let (rxo, ryo) = row_slot(&mut out, scratch, i * o + ob, m);
                let (rxc, ryc) = (&mut rxo[chunk.clone()], &mut ryo[chunk.clone()]);
                let (xs, ys) = (&x[i * m..][chunk.clone()], &y[i * m..][chunk.clone()]);
                for (((rx, ry), xk), yk) in rxc.iter_mut().zip(ryc.iter_mut()).zip(xs).zip(ys) {
                    let (ex, ey) = (xk - cx, yk - cy);
                    let norm = (ex * ex + ey * ey + EPS).sqrt();
                    let scale = ((norm - d) / norm).min(0.0);
                    *rx = ex * scale;
                    *ry = ey * scale;
                }
                for (image, r) in [(&mut *ix, &*rxc), (&mut *iy, &*ryc)] {
                    for (acc, v) in image[i * m..][chunk.clone()].iter_mut().zip(r) {
                        *acc += v;
                    }
                }
            }
        }
    }
}

/// image[i] += r, image[j] -= r over the samples `chunk` of rows of length m (i < j).
fn scatter_pair(image: &mut [f32], i: usize, j: usize, m: usize, chunk: Range<usize>, r: &[f32]) {
    let (head, tail) = image.split_at_mut(j * m);
    for ((a, b), v) in head[i * m..][chunk.clone()]
        .iter_mut()
        .zip(&mut tail[chunk])
        .zip(r)
    {
        *a += v;
        *b -= v;
    }
}

/// Per robot, the bounding boxes of its sampled positions in chunks of [`CHUNK`] consecutive
/// samples. Where two robots' boxes (or a robot's box and an obstacle's centre) are at least
/// the required distance apart, every sample of the chunk is clear, its residual rows are
/// exactly zero and the fused loops skip it. On the cluttered problems most robot pairs and
/// robot-obstacle pairs are far apart most of the time. Stored chunk-major, one array per box
/// side, so that the tests of one chunk are branch-free loops over robots (or obstacles) over
/// contiguous slices: testing every row's chunks one at a time (a range iterator, a division
/// per lookup, a branch per test) cost more than computing the rows.
struct ChunkBoxes {
    m: usize,
    n: usize,
    chunks: usize,
    /// x min, x max, y min, y max, each at `chunk * n + robot`.
    sides: [Vec<f32>; 4],
}

/// Samples per culling box.
const CHUNK: usize = 16;

/// The robots' boxes in one chunk (x min, x max, y min, y max; N each).
struct Boxes<'a> {
    sides: [&'a [f32]; 4],
}

impl ChunkBoxes {
    fn new(x: &[f32], y: &[f32], n: usize, m: usize) -> Self {
        let chunks = m.div_ceil(CHUNK);
        let mut sides = [(); 4].map(|_| vec![0f32; chunks * n]);
        for i in 0..n {
            let (xi, yi) = (&x[i * m..(i + 1) * m], &y[i * m..(i + 1) * m]);
            for (c, (xs, ys)) in xi.chunks(CHUNK).zip(yi.chunks(CHUNK)).enumerate() {
                // A NaN sample (either axis) makes the box the whole plane, never skipped,
                // so its NaN residual still shows. Branch-free folds, so they vectorize.
                let span = |v: &[f32]| {
                    let (mut lo, mut hi, mut nan) = (f32::INFINITY, f32::NEG_INFINITY, 0u32);
                    for &a in v {
                        lo = if a < lo { a } else { lo };
                        hi = if a > hi { a } else { hi };
                        nan += u32::from(a.is_nan());
                    }
                    (lo, hi, nan)
                };
                let ((x0, x1, nx), (y0, y1, ny)) = (span(xs), span(ys));
                let (inf, neg) = (f32::INFINITY, f32::NEG_INFINITY);
                let side = if nx + ny > 0 {
                    [neg, inf, neg, inf]
                } else {
                    [x0, x1, y0, y1]
                };
                for (all, v) in sides.iter_mut().zip(side) {
                    all[c * n + i] = v;
                }
            }
        }
        Self {
            m,
            n,
            chunks,
            sides,
        }
    }

    /// The sample range of chunk `c`.
    fn range(&self, c: usize) -> Range<usize> {
        c * CHUNK..((c + 1) * CHUNK).min(self.m)
    }

    /// The robots' boxes in chunk `c`.
    fn chunk(&self, c: usize) -> Boxes<'_> {
        let at = c * self.n..(c + 1) * self.n;
        Boxes {
            sides: [0, 1, 2, 3].map(|s| &self.sides[s][at.clone()]),
        }
    }
}

/// Whether boxes `a` and `b` (x min, x max, y min, y max; a point is a box of size zero) are
/// at least `d` apart, with a margin that keeps the skipped rows' residuals exactly zero
/// despite rounding: every sample's distance then exceeds `d`, and r = g min(0, 1 - d/|g|) = 0.
/// Branch-free (selects, not `f32::max`), so the loops calling it can vectorize.
fn boxes_apart(a: [f32; 4], b: [f32; 4], d: f32) -> bool {
    let max = |p: f32, q: f32| if p > q { p } else { q };
    let gx = max(max(a[0] - b[1], b[0] - a[1]), 0.0);
    let gy = max(max(a[2] - b[3], b[2] - a[3]), 0.0);
    gx * gx + gy * gy >= d * d * 1.0001
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FilterSettings, Instance, perturbed_candidates};
    use flowopt_core::{Coefficients, DEFAULT_ORDER, Scenario, ScenarioConfig};

    fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// The default filter's batch of `candidates` for `problem`, on flex.
    fn flex_batch(problem: &flowopt_core::Problem, candidates: &[Vec<Coefficients>]) -> Batch {
        let inst = Instance::each(problem, candidates);
        Batch::new(
            &inst,
            &FilterSettings::default(),
            DEFAULT_ORDER,
            &Device::flex(),
        )
        .unwrap()
    }

    fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>) {
        assert_eq!(a.dims(), b.dims());
        let (a, b) = (host(a), host(b));
        assert!(
            a.iter().any(|v| *v != 0.0),
            "nothing violated: a vacuous test"
        );
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() <= 1e-5 * (1.0 + v.abs()), "{u} vs {v}");
        }
    }

    /// The fused loops compute what the composed tensor ops compute (and what the autodiff and
    /// wgpu paths run), on a crowded problem where many pair and obstacle rows are violated.
    #[test]
    fn fused_rows_match_the_composed_tensor_ops() {
        let problem = Scenario::Obstacles
            .generate(&ScenarioConfig::new(7).obstacles(5).seed(2))
            .unwrap();
        let batch = flex_batch(&problem, &perturbed_candidates(&problem, 3, 0.8, 4));
        let (b, n, k, m) = (batch.size, batch.robots, batch.k, batch.samples);
        let x = batch
            .cbar
            .clone()
            .reshape([b * 2 * n, k])
            .matmul(batch.pt.clone())
            .reshape([b, 2, n, m]);

        let (centre, dist) = (
            batch.obstacle_centre.as_ref().unwrap(),
            batch.obstacle_dist.as_ref().unwrap(),
        );
        let (pairs_ref, pair_image) = pair_rows_composed(&batch, &x);
        let (obstacles_ref, obstacle_image) = obstacle_rows_composed(&batch, &x, centre, dist);
        let image_ref = pair_image + obstacle_image;
        let fused = disc_rows_fused(&batch, &x, true).expect("flex takes the fused path");
        assert_close(fused.pairs.expect("kept"), pairs_ref.clone());
        assert_close(fused.obstacles.expect("kept"), obstacles_ref);
        assert_close(fused.image.expect("rows"), image_ref.clone());
        // Without the rows: the same image.
        let fused = disc_rows_fused(&batch, &x, false).expect("fused");
        assert!(fused.pairs.is_none() && fused.obstacles.is_none());
        assert_close(fused.image.expect("rows"), image_ref);

        // A non-contiguous view of the same positions gives the same rows.
        let transposed = x.clone().swap_dims(2, 3) * 1.0;
        let view = transposed.swap_dims(2, 3);
        let fused = disc_rows_fused(&batch, &view, true).expect("flex takes the fused path");
        assert_close(fused.pairs.expect("kept"), pairs_ref);

        // Positions against a box most of them leave: the same numbers, bit for bit.
        let (lo, hi) = (batch.lo.clone() * 0.5, batch.hi.clone() * 0.5);
        let fused = box_rows_fused(&x, &lo, &hi).expect("flex takes the fused path");
        let composed = box_residual(x.clone(), x.clone(), &lo, &hi);
        let (fused, composed) = (host(fused), host(composed));
        assert!(
            fused.iter().any(|v| *v != 0.0),
            "nothing outside: a vacuous test"
        );
        assert_eq!(fused, composed);

        // Speeds against a limit most of them exceed.
        let v = x.clone() * 3.0;
        let limit = batch.speed.clone();
        let fused = inside_rows_fused(&v, &limit).expect("flex takes the fused path");
        assert_close(fused, inside(v, limit));
    }

    /// One robot without obstacles has no disc rows and no image.
    #[test]
    fn one_robot_without_obstacles_has_no_disc_rows() {
        let mut problem = Scenario::Circle
            .generate(&ScenarioConfig::new(2).seed(0))
            .unwrap();
        problem.robots.truncate(1);
        let batch = flex_batch(&problem, &perturbed_candidates(&problem, 2, 0.1, 0));
        let x = Tensor::<4>::zeros([batch.size, 2, 1, batch.samples], &Device::flex());
        let fused = disc_rows_fused(&batch, &x, true).expect("flex takes the fused path");
        assert!(fused.pairs.is_none() && fused.obstacles.is_none() && fused.image.is_none());
    }

    /// Chunk boxes skip exactly the chunks that are clear: robots far apart (or far from a
    /// point) are, overlapping ones and any chunk with a NaN sample are not.
    #[test]
    fn chunk_boxes_skip_only_clear_chunks() {
        let m = 20;
        // Robot 0 at x = 0, robot 1 at x = 5 for the first chunk, then at x = 0.5.
        let x: Vec<f32> = (0..2 * m)
            .map(|k| match (k / m, k % m) {
                (0, _) => 0.0,
                (_, s) if s < CHUNK => 5.0,
                _ => 0.5,
            })
            .collect();
        let mut y = vec![0f32; 2 * m];
        let apart = |boxes: &ChunkBoxes, c: usize, d: f32| {
            let b = boxes.chunk(c).sides;
            boxes_apart(b.map(|s| s[0]), b.map(|s| s[1]), d)
        };
        let clear_of = |boxes: &ChunkBoxes, c: usize, p: [f32; 2], d: f32| {
            let b = boxes.chunk(c).sides;
            boxes_apart(b.map(|s| s[1]), [p[0], p[0], p[1], p[1]], d)
        };
        let boxes = ChunkBoxes::new(&x, &y, 2, m);
        assert_eq!(boxes.chunks, 2);
        assert_eq!((boxes.range(0), boxes.range(1)), (0..CHUNK, CHUNK..m));
        assert!(apart(&boxes, 0, 1.0));
        assert!(!apart(&boxes, 0, 5.0));
        assert!(!apart(&boxes, 1, 1.0));
        assert!(clear_of(&boxes, 0, [0.0, 3.0], 3.5));
        assert!(!clear_of(&boxes, 0, [5.0, 3.0], 3.5));
        y[CHUNK - 1] = f32::NAN;
        let boxes = ChunkBoxes::new(&x, &y, 2, m);
        assert!(!apart(&boxes, 0, 1.0));
        assert!(apart(&boxes, 1, 0.1));
    }

    /// Autodiff tensors never take the fused path (gradients must flow through the ops).
    #[test]
    fn autodiff_tensors_take_the_composed_path() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::zeros([1, 2, 3, 4], &device).require_grad();
        assert!(flex_values(&x).is_none());
        assert!(flex_values(&Tensor::<4>::zeros([1, 2, 3, 4], &Device::flex())).is_some());
    }
}
