//! The fast s-step's disc rows, each with its closed-form residual r = G c - Proj(G c):
//! - outside a disc of radius D (robot pairs, robots and obstacles): r = g min(0, 1 - D/|g|),
//!   and its image under G' on the robots' positions (+r on robot i, -r on robot j of a pair);
//! - inside a disc of radius L (scaled speeds and accelerations): r = g max(0, 1 - L/|g|).
//!
//! Written with tensor ops, each is a chain of eight to ten passes over (B, 2, rows, M) tensors
//! (the pair tensors no longer fit in cache) plus, for pairs, the incidence matmul. On the plain
//! (non-autodiff) flex backend the functions here run each family as one loop per instance
//! instead (rayon over instances), skipping the chunks of samples whose bounding boxes show
//! them clear of the disc (their rows are exactly zero; `ChunkBoxes`). Everywhere else — wgpu,
//! and autodiff, where gradients must flow through the unrolled solver — the same math runs as
//! composed tensor ops; the tests check that both agree.

use std::ops::Range;

use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::TensorData;
use rayon::prelude::*;

use crate::batch::Batch;
use crate::solver::EPS;

/// A family's residual rows (when kept) and their image under G' on the positions (B, 2, N, M).
pub type Kept<const D: usize> = (Option<Tensor<D>>, Tensor<4>);

/// Pair residuals (B, 2, P, M) in [`crate::pair_order`] and their image on the positions, for
/// positions `x` (B, 2, N, M); `None` for one robot. With `keep` false the residual rows are
/// not returned (only the solver's checks read them; the fused loop then skips writing them).
pub fn pair_rows(batch: &Batch, x: &Tensor<4>, keep: bool) -> Option<Kept<4>> {
    if batch.robots < 2 {
        return None;
    }
    Some(pair_rows_fused(batch, x, keep).unwrap_or_else(|| {
        let (r, image) = pair_rows_composed(batch, x);
        (keep.then_some(r), image)
    }))
}

/// Obstacle residuals (B, 2, N, O, M) and their image on the positions (B, 2, N, M); `None`
/// without obstacles. `keep` as for [`pair_rows`].
pub fn obstacle_rows(batch: &Batch, x: &Tensor<4>, keep: bool) -> Option<Kept<5>> {
    let (centre, dist) = (
        batch.obstacle_centre.as_ref()?,
        batch.obstacle_dist.as_ref()?,
    );
    Some(
        obstacle_rows_fused(batch, x, centre, dist, keep).unwrap_or_else(|| {
            let (r, image) = obstacle_rows_composed(batch, x, centre, dist);
            (keep.then_some(r), image)
        }),
    )
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

/// One instance's slices in a fused outside-disc loop: its positions (x and y halves, N M
/// each), its residual rows (x and y halves; all rows when kept, else one scratch row that each
/// row overwrites) and its image on the positions (x and y halves, accumulated).
struct Slices<'s> {
    x: &'s [f32],
    y: &'s [f32],
    rx: &'s mut [f32],
    ry: &'s mut [f32],
    ix: &'s mut [f32],
    iy: &'s mut [f32],
}

/// Residual row `row` of `rx` and `ry` (or the scratch row 0 when rows are not kept).
fn residual_row<'r>(
    rx: &'r mut [f32],
    ry: &'r mut [f32],
    row: usize,
    keep: bool,
    m: usize,
) -> (&'r mut [f32], &'r mut [f32]) {
    let slot = if keep { row } else { 0 };
    (
        &mut rx[slot * m..(slot + 1) * m],
        &mut ry[slot * m..(slot + 1) * m],
    )
}

/// Runs `fill(instance, slices)` for every instance of positions `x` (B, 2, N, M) with `rows`
/// residual rows each, in parallel over instances, and returns the rows (B, 2, rows, M) when
/// `keep` and the image (B, 2, N, M); `None` when `x` is not a plain flex f32 tensor.
fn fused_outside(
    x: &Tensor<4>,
    rows: usize,
    keep: bool,
    fill: impl Fn(usize, Slices) + Sync,
) -> Option<(Option<Vec<f32>>, Tensor<4>)> {
    let [b, _, n, m] = x.dims();
    let xs = flex_values(x)?;
    let xs = xs.as_slice::<f32>()?;
    let written = if keep { rows } else { 1 };
    let mut r = vec![0f32; b * 2 * written * m];
    let mut image = vec![0f32; b * 2 * n * m];
    r.par_chunks_mut(2 * written * m)
        .zip(image.par_chunks_mut(2 * n * m))
        .zip(xs.par_chunks(2 * n * m))
        .enumerate()
        .for_each(|(inst, ((r, image), x))| {
            let (x, y) = x.split_at(n * m);
            let (rx, ry) = r.split_at_mut(written * m);
            let (ix, iy) = image.split_at_mut(n * m);
            fill(
                inst,
                Slices {
                    x,
                    y,
                    rx,
                    ry,
                    ix,
                    iy,
                },
            );
        });
    Some((keep.then_some(r), flex_tensor(image, [b, 2, n, m])))
}

fn pair_rows_fused(batch: &Batch, x: &Tensor<4>, keep: bool) -> Option<Kept<4>> {
    let [b, _, n, m] = x.dims();
    let dist = flex_values(&batch.pair_dist)?;
    let dist = dist.as_slice::<f32>()?;
    let p = n * (n - 1) / 2;
    let (r, image) = fused_outside(x, p, keep, |inst, sl| {
        let Slices {
            x,
            y,
            rx,
            ry,
            ix,
            iy,
        } = sl;
        let dist = &dist[inst * p..(inst + 1) * p];
        let boxes = ChunkBoxes::new(x, y, n, m);
        let mut row = 0;
        for s in 1..n {
            for i in 0..n - s {
                let j = i + s;
                let d = dist[row];
                let (rxp, ryp) = residual_row(rx, ry, row, keep, m);
                for chunk in boxes.chunks() {
                    // A chunk whose boxes are apart is clear: its rows stay zero.
                    if boxes.apart(i, j, chunk.clone(), d) {
                        continue;
                    }
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
                    scatter_pair(iy, i, j, m, chunk, ryc);
                }
                row += 1;
            }
        }
    })?;
    Some((r.map(|r| flex_tensor(r, [b, 2, p, m])), image))
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
/// robot-obstacle pairs are far apart most of the time.
struct ChunkBoxes {
    m: usize,
    chunks: usize,
    /// Per robot and chunk: x min, x max, y min, y max.
    boxes: Vec<[f32; 4]>,
}

/// Samples per culling box.
const CHUNK: usize = 16;

impl ChunkBoxes {
    fn new(x: &[f32], y: &[f32], n: usize, m: usize) -> Self {
        let chunks = m.div_ceil(CHUNK);
        let mut boxes = Vec::with_capacity(n * chunks);
        for i in 0..n {
            let (xi, yi) = (&x[i * m..(i + 1) * m], &y[i * m..(i + 1) * m]);
            for (xs, ys) in xi.chunks(CHUNK).zip(yi.chunks(CHUNK)) {
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
                boxes.push(if nx + ny > 0 {
                    [neg, inf, neg, inf]
                } else {
                    [x0, x1, y0, y1]
                });
            }
        }
        Self { m, chunks, boxes }
    }

    /// The sample ranges of the chunks.
    fn chunks(&self) -> impl Iterator<Item = Range<usize>> + use<> {
        let m = self.m;
        (0..self.chunks).map(move |c| c * CHUNK..((c + 1) * CHUNK).min(m))
    }

    fn chunk_of(&self, i: usize, chunk: &Range<usize>) -> [f32; 4] {
        self.boxes[i * self.chunks + chunk.start / CHUNK]
    }

    /// Whether robots `i` and `j` are at least `d` apart at every sample of `chunk`.
    fn apart(&self, i: usize, j: usize, chunk: Range<usize>, d: f32) -> bool {
        boxes_apart(self.chunk_of(i, &chunk), self.chunk_of(j, &chunk), d)
    }

    /// Whether robot `i` is at least `d` from the point `c` at every sample of `chunk`.
    fn clear_of(&self, i: usize, chunk: Range<usize>, c: [f32; 2], d: f32) -> bool {
        boxes_apart(self.chunk_of(i, &chunk), [c[0], c[0], c[1], c[1]], d)
    }
}

/// Whether boxes `a` and `b` (x min, x max, y min, y max; a point is a box of size zero) are
/// at least `d` apart, with a margin that keeps the skipped rows' residuals exactly zero
/// despite rounding: every sample's distance then exceeds `d`, and r = g min(0, 1 - d/|g|) = 0.
fn boxes_apart(a: [f32; 4], b: [f32; 4], d: f32) -> bool {
    let gx = (a[0] - b[1]).max(b[0] - a[1]).max(0.0);
    let gy = (a[2] - b[3]).max(b[2] - a[3]).max(0.0);
    gx * gx + gy * gy >= d * d * 1.0001
}

fn obstacle_rows_fused(
    batch: &Batch,
    x: &Tensor<4>,
    centre: &Tensor<5>,
    dist: &Tensor<5>,
    keep: bool,
) -> Option<Kept<5>> {
    let [b, _, n, m] = x.dims();
    let o = batch.obstacles;
    let (cs, ds) = (flex_values(centre)?, flex_values(dist)?);
    let (cs, ds) = (cs.as_slice::<f32>()?, ds.as_slice::<f32>()?);
    let (r, image) = fused_outside(x, n * o, keep, |inst, sl| {
        let Slices {
            x,
            y,
            rx,
            ry,
            ix,
            iy,
        } = sl;
        let (cx, cy) = cs[inst * 2 * o..(inst + 1) * 2 * o].split_at(o);
        let dist = &ds[inst * n * o..(inst + 1) * n * o];
        let boxes = ChunkBoxes::new(x, y, n, m);
        for i in 0..n {
            for ob in 0..o {
                let (d, cx, cy) = (dist[i * o + ob], cx[ob], cy[ob]);
                let (rxo, ryo) = residual_row(rx, ry, i * o + ob, keep, m);
                for chunk in boxes.chunks() {
                    // A chunk whose box is clear of the obstacle: its rows stay zero.
                    if boxes.clear_of(i, chunk.clone(), [cx, cy], d) {
                        continue;
                    }
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
    })?;
    Some((r.map(|r| flex_tensor(r, [b, 2, n, o, m])), image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FilterSettings, Instance, perturbed_candidates};
    use flowopt_core::{DEFAULT_ORDER, Scenario, ScenarioConfig};

    fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
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
        let cands = perturbed_candidates(&problem, 3, 0.8, 4);
        let inst = Instance::each(&problem, &cands);
        let batch = Batch::new(
            &inst,
            &FilterSettings::default(),
            DEFAULT_ORDER,
            &Device::flex(),
        )
        .unwrap();
        let (b, n, k, m) = (batch.size, batch.robots, batch.k, batch.samples);
        let x = batch
            .cbar
            .clone()
            .reshape([b * 2 * n, k])
            .matmul(batch.pt.clone())
            .reshape([b, 2, n, m]);

        let (r, image) = pair_rows_fused(&batch, &x, true).expect("flex takes the fused path");
        let (r_ref, image_ref) = pair_rows_composed(&batch, &x);
        assert_close(r.expect("kept"), r_ref);
        assert_close(image, image_ref.clone());
        // Without the rows: the same image.
        let (none, image) = pair_rows_fused(&batch, &x, false).expect("fused");
        assert!(none.is_none());
        assert_close(image, image_ref);

        let (centre, dist) = (
            batch.obstacle_centre.as_ref().unwrap(),
            batch.obstacle_dist.as_ref().unwrap(),
        );
        let (r, image) =
            obstacle_rows_fused(&batch, &x, centre, dist, true).expect("flex takes the fused path");
        let (r_ref, image_ref) = obstacle_rows_composed(&batch, &x, centre, dist);
        assert_close(r.expect("kept"), r_ref);
        assert_close(image, image_ref.clone());
        let (none, image) = obstacle_rows_fused(&batch, &x, centre, dist, false).expect("fused");
        assert!(none.is_none());
        assert_close(image, image_ref);

        // A non-contiguous view of the same positions gives the same rows.
        let transposed = x.clone().swap_dims(2, 3) * 1.0;
        let view = transposed.swap_dims(2, 3);
        let (r, _) = pair_rows_fused(&batch, &view, true).expect("flex takes the fused path");
        assert_close(r.expect("kept"), pair_rows_composed(&batch, &x).0);

        // Speeds against a limit most of them exceed.
        let v = x.clone() * 3.0;
        let limit = batch.speed.clone();
        let fused = inside_rows_fused(&v, &limit).expect("flex takes the fused path");
        assert_close(fused, inside(v, limit));
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
        let boxes = ChunkBoxes::new(&x, &y, 2, m);
        let chunks: Vec<_> = boxes.chunks().collect();
        assert_eq!(chunks, vec![0..CHUNK, CHUNK..m]);
        assert!(boxes.apart(0, 1, chunks[0].clone(), 1.0));
        assert!(!boxes.apart(0, 1, chunks[0].clone(), 5.0));
        assert!(!boxes.apart(0, 1, chunks[1].clone(), 1.0));
        assert!(boxes.clear_of(1, chunks[0].clone(), [0.0, 3.0], 3.5));
        assert!(!boxes.clear_of(1, chunks[0].clone(), [5.0, 3.0], 3.5));
        y[CHUNK - 1] = f32::NAN;
        let boxes = ChunkBoxes::new(&x, &y, 2, m);
        assert!(!boxes.apart(0, 1, chunks[0].clone(), 1.0));
        assert!(boxes.apart(0, 1, chunks[1].clone(), 0.1));
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
