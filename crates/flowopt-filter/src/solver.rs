//! The filter's run loop: iterations of [`crate::iteration`] in lanes, residual checks, the
//! caller's acceptance of converged instances, successive halving, proximal rounds and groups
//! that stop on their own.

use burn::prelude::*;

use crate::batch::Batch;
use crate::discs;
use crate::iteration::{Duals, State};
use crate::lanes::Lanes;
use crate::settings::FilterSettings;

pub use crate::iteration::{
    Projection, Rows, duals_from_lambda, lambda_of, project, residual, rows_sq, start, step,
    unrolled,
};

/// What [`run`] ends with.
pub struct Run {
    /// Per instance, its coefficients when its group stopped (B, 2, N K).
    pub c: Tensor<3>,
    /// Per instance, the first checked iteration at which it met the tolerance.
    pub converged: Vec<Option<usize>>,
    /// Per instance, the largest primal residual when its group stopped (the last check's
    /// reading).
    pub residual: Vec<f32>,
    /// Per instance, the iterations its group ran.
    pub iterations: Vec<usize>,
    /// Per instance, whether `accept` took it (converged, or offered by
    /// [`FilterSettings::verify_below`]).
    pub accepted: Vec<bool>,
    /// Per instance, whether successive halving ([`FilterSettings::halve_every`]) took it
    /// out of the batch (its coefficients and residual are those of that check).
    pub dropped: Vec<bool>,
}

/// Runs until every instance's residual is below the tolerance (or `stop_after` of them, when
/// set), checked every `check_every` iterations, or the iteration budget is spent. The last
/// iteration is always a check, so its reading is the final residual.
pub fn run(batch: &Batch, c0: Tensor<3>, lambda0: Tensor<3>, settings: &FilterSettings) -> Run {
    run_grouped(
        batch,
        c0,
        lambda0,
        settings,
        &vec![0; batch.size],
        &mut |_, _, newly| newly.iter().map(|&(_, i)| (i, Decision::Accept)).collect(),
    )
}

/// What a caller's check decides on an instance offered to it ([`Accept`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not taken: the instance runs on.
    Reject,
    /// Taken. With proximal rounds left ([`FilterSettings::recentre`]) the instance is
    /// recentred where it stands and runs on; otherwise it counts towards `stop_after`.
    Accept,
    /// Taken as the instance's last point: it counts towards `stop_after` now, whatever
    /// rounds it has left (e.g. when its rounds stopped paying).
    Finish,
}

impl From<bool> for Decision {
    fn from(taken: bool) -> Self {
        if taken { Self::Accept } else { Self::Reject }
    }
}

/// Decides, at a check, which of the instances offered count towards their group's
/// `stop_after`: called with the current (possibly reduced) batch, its coefficients and the
/// offered instances as (row in that batch, index in the original batch); returns the original
/// indices it decided on, each with its [`Decision`] (those left out are rejected). Offered
/// are the instances that have just met the tolerance and, per group, the unconverged one
/// with the smallest residual within [`FilterSettings::verify_below`] that has not been taken
/// yet.
pub type Accept<'a> =
    dyn FnMut(&Batch, &Tensor<3>, &[(usize, usize)]) -> Vec<(usize, Decision)> + 'a;

/// [`run`] over instances that belong to independent groups (`groups[i]`: the group of
/// instance `i`, e.g. the problem whose candidate it is), where an instance counts towards its
/// group's `stop_after` only when `accept` takes it (e.g. after checking it more densely than
/// the filter's samples).
///
/// With [`FilterSettings::halve_every`] = h, at iterations h, 2h, 4h, ... each running group
/// keeps the better half (rounded up, at least one) by residual of its instances still
/// running; the others leave the batch as they are.
///
/// An instance `accept` takes (for good: no proximal rounds left, or [`Decision::Finish`])
/// leaves the batch at that check with the coefficients it was taken with, so what was
/// checked is what is returned, whatever its group does next. Each group stops on its own:
/// when it has `stop_after` accepted instances (or all of them converged or taken), its
/// instances' coefficients and residuals are kept as they are at that check, they leave the
/// batch, and the batch runs on for the other groups. A group's result is
/// therefore the one it gets alone (up to f32 rounding: matmul kernels block differently with
/// the batch size), and the finished groups cost nothing more.
pub fn run_grouped(
    batch: &Batch,
    c0: Tensor<3>,
    lambda0: Tensor<3>,
    settings: &FilterSettings,
    groups: &[usize],
    accept: &mut Accept,
) -> Run {
    assert_eq!(groups.len(), batch.size, "one group per instance");
    let rho = settings.rho as f32;
    let tol = settings.tolerance as f32;
    let verify_below = settings.verify_below as f32;
    let device = c0.device();
    let num_groups = groups.iter().max().map_or(0, |g| g + 1);
    let mut members = vec![Vec::new(); num_groups];
    for (i, &g) in groups.iter().enumerate() {
        members[g].push(i);
    }
    let enough: Vec<usize> = members
        .iter()
        .map(|m| match settings.stop_after {
            0 => m.len(),
            k => k.min(m.len()),
        })
        .collect();
    let mut accepted = vec![0; num_groups];
    // The iteration at which `accept` took an instance (each counts once).
    let mut taken_at: Vec<Option<usize>> = vec![None; batch.size];
    // Proximal rounds each instance has left ([`FilterSettings::recentre`]).
    let mut rounds_left = vec![settings.recentre; batch.size];
    // Iteration at which successive halving took an instance out of the batch.
    let mut dropped_at: Vec<Option<usize>> = vec![None; batch.size];
    let mut stopped_at: Vec<Option<usize>> =
        members.iter().map(|m| m.is_empty().then_some(0)).collect();
    let mut current = None::<Batch>;
    let lane_count = lanes_for(settings, &c0);
    let mut lanes = Lanes::new(batch, start(batch, c0, lambda0, rho), lane_count);
    // Original index of each row of the current batch.
    let mut active: Vec<usize> = (0..batch.size).collect();
    // Coefficients of the instances that left the batch, with their original indices.
    let mut done: Vec<(Vec<usize>, Tensor<3>)> = Vec::new();
    let mut converged: Vec<Option<usize>> = vec![None; batch.size];
    let mut residual = vec![f32::NAN; batch.size];
    let mut it = 0;
    while it < settings.max_iterations {
        let b = current.as_ref().unwrap_or(batch);
        // The iterations up to the next check (every `check_every`-th and the last) run
        // without reading anything back.
        let next = (it / settings.check_every + 1) * settings.check_every;
        let next = next.min(settings.max_iterations);
        let worst = lanes.advance(next - it, rho);
        it = next;
        tracing::trace!(iteration = it, residuals = ?worst, "filter check");
        let mut newly = Vec::new();
        // Per group, the unconverged instance with the smallest residual within `verify_below`.
        let mut nearest: Vec<Option<(f32, usize, usize)>> = vec![None; num_groups];
        for (row, (&i, &r)) in active.iter().zip(&worst).enumerate() {
            residual[i] = r;
            if converged[i].is_none() && r <= tol {
                converged[i] = Some(it);
                newly.push((row, i));
            } else if converged[i].is_none() && taken_at[i].is_none() && r <= verify_below {
                let slot = &mut nearest[groups[i]];
                if slot.is_none_or(|(best, ..)| r < best) {
                    *slot = Some((r, row, i));
                }
            }
        }
        newly.extend(nearest.into_iter().flatten().map(|(_, row, i)| (row, i)));
        if !newly.is_empty() {
            let mut moved = Vec::new();
            for (i, decision) in accept(b, &lanes.coefficients(), &newly) {
                match decision {
                    Decision::Reject => continue,
                    Decision::Accept if rounds_left[i] > 0 => {
                        // A proximal round: anchored where it stands, it runs on and is
                        // offered again.
                        rounds_left[i] -= 1;
                        converged[i] = None;
                        if let Some(row) = active.iter().position(|&a| a == i) {
                            moved.push(row);
                        }
                    }
                    Decision::Accept | Decision::Finish => {
                        if taken_at[i].is_none() {
                            accepted[groups[i]] += 1;
                            taken_at[i] = Some(it);
                        }
                    }
                }
            }
            if !moved.is_empty() {
                let state = lanes.into_state();
                let state = keep_duals(state, &moved, settings.recentre_keep as f32);
                let recentred = b.recentred(&moved, &state.c);
                lanes = Lanes::new(&recentred, state, lane_count);
                current = Some(recentred);
            }
        }
        let b = current.as_ref().unwrap_or(batch);
        // Successive halving: at iterations h, 2h, 4h, ... every running group keeps the better
        // half of its instances still running (by residual); the taken ones leave anyway.
        let mut finished = taken_at.contains(&Some(it));
        let h = settings.halve_every;
        if h > 0
            && it.is_multiple_of(h)
            && (it / h).is_power_of_two()
            && it < settings.max_iterations
        {
            let mut by_group: Vec<Vec<(usize, f32)>> = vec![Vec::new(); num_groups];
            for (&i, &r) in active.iter().zip(&worst) {
                if stopped_at[groups[i]].is_none() && taken_at[i].is_none() {
                    by_group[groups[i]].push((i, r));
                }
            }
            // Groups that have stopped have no rows left in the batch.
            for mut rows in by_group.into_iter().filter(|rows| !rows.is_empty()) {
                rows.sort_by(|a, b| a.1.total_cmp(&b.1));
                let keep = rows.len().div_ceil(2).max(1);
                for &(i, _) in &rows[keep..] {
                    dropped_at[i] = Some(it);
                    finished = true;
                }
            }
        }
        for g in 0..num_groups {
            let stop = accepted[g] >= enough[g]
                || members[g].iter().all(|&i| {
                    converged[i].is_some() || dropped_at[i].is_some() || taken_at[i].is_some()
                })
                || it == settings.max_iterations;
            if stopped_at[g].is_none() && stop {
                stopped_at[g] = Some(it);
                finished = true;
            }
        }
        if !finished {
            continue;
        }
        let (leaving, staying): (Vec<usize>, Vec<usize>) = (0..active.len()).partition(|&row| {
            let i = active[row];
            stopped_at[groups[i]].is_some() || dropped_at[i].is_some() || taken_at[i].is_some()
        });
        if staying.is_empty() {
            break;
        }
        let state = lanes.into_state();
        let rows = crate::batch::index_tensor(&leaving, &device);
        done.push((
            leaving.iter().map(|&row| active[row]).collect(),
            state.c.clone().select(0, rows),
        ));
        let keep = crate::batch::index_tensor(&staying, &device);
        let reduced = b.select(&staying);
        lanes = Lanes::new(&reduced, state.select(&keep), lane_count);
        current = Some(reduced);
        active = staying.iter().map(|&row| active[row]).collect();
    }
    // Back to the original order.
    done.push((active, lanes.into_state().c));
    let mut order = Vec::with_capacity(batch.size);
    let mut parts = Vec::with_capacity(done.len());
    for (indices, c) in done {
        order.extend(indices);
        parts.push(c);
    }
    let mut position = vec![0; batch.size];
    for (row, &i) in order.iter().enumerate() {
        position[i] = row;
    }
    let c = Tensor::cat(parts, 0).select(0, crate::batch::index_tensor(&position, &device));
    let iterations = groups
        .iter()
        .zip(dropped_at.iter().zip(&taken_at))
        .map(|(&g, (dropped, taken))| {
            dropped
                .or(*taken)
                .or(stopped_at[g])
                .unwrap_or(settings.max_iterations)
        })
        .collect();
    Run {
        c,
        converged,
        residual,
        iterations,
        accepted: taken_at.iter().map(Option::is_some).collect(),
        dropped: dropped_at.iter().map(Option::is_some).collect(),
    }
}

/// `state` with the fast mode's multipliers of the instances at `rows` scaled by `keep` (the
/// c-step's target follows: it holds -G'u). What a proximal round keeps of them: the
/// multipliers that held the last point are mostly right for the next, but those built up on
/// the way would otherwise never decay (see the module notes). The exact mode keeps its
/// multipliers.
fn keep_duals(mut state: State, rows: &[usize], keep: f32) -> State {
    let Duals::Image(gtu) = &state.u else {
        return state;
    };
    if keep == 1.0 {
        return state;
    }
    let [b, two, nk] = gtu.dims();
    let mut drop = vec![0.0f32; b];
    for &row in rows {
        drop[row] = 1.0 - keep;
    }
    let drop = Tensor::<3>::from_data(TensorData::new(drop, [b, 1, 1]), &gtu.device())
        .expand([b, two, nk]);
    let dropped = gtu.clone() * drop;
    state.target = state.target + dropped.clone();
    state.u = Duals::Image(gtu.clone() - dropped);
    state
}

/// The lanes a batch runs in ([`FilterSettings::lanes`]; 0: one per worker of rayon's pool
/// on flex, one elsewhere).
fn lanes_for(settings: &FilterSettings, c: &Tensor<3>) -> usize {
    flowopt_core::lanes(settings.lanes, discs::is_flex(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iteration::{apply_g, apply_gt, gtg_times};
    use crate::{Instance, perturbed_candidates};
    use flowopt_core::{DEFAULT_ORDER, Scenario, ScenarioConfig};

    fn host(t: Tensor<3>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// G' (apply_gt) is the adjoint of G (apply_g), G'G matches the cached closed form, and the
    /// multipliers built from a coefficient-space lambda map back to it: -rho G'u = lambda.
    #[test]
    fn g_and_its_transpose_agree_with_the_cached_gram_matrix() {
        let problem = Scenario::Obstacles
            .generate(&ScenarioConfig::new(4).obstacles(2).seed(3))
            .unwrap();
        let cands = perturbed_candidates(&problem, 2, 0.5, 1);
        let inst = Instance::each(&problem, &cands);
        let settings = FilterSettings::default();
        let batch = Batch::new(
            &inst,
            &settings,
            DEFAULT_ORDER,
            &burn::tensor::Device::flex(),
        )
        .unwrap();
        let c = batch.cbar.clone();
        // G'(G c) with the constant obstacle centres removed from the obstacle rows.
        let mut gc = apply_g(&batch, c.clone());
        if let (Some(rows), Some(centre)) = (gc.obstacles.take(), &batch.obstacle_centre) {
            gc.obstacles = Some(rows + centre.clone());
        }
        let via_rows = host(apply_gt(&batch, gc));
        let via_gram = host(gtg_times(&batch, c.clone()));
        let scale = via_gram.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (a, b) in via_rows.iter().zip(&via_gram) {
            assert!((a - b).abs() < 1e-4 * scale, "{a} vs {b}");
        }
        // The round trip through per-row multipliers (exact mode; fast mode keeps G'u itself).
        let exact = FilterSettings {
            exact_projection: true,
            ..settings
        };
        let batch =
            Batch::new(&inst, &exact, DEFAULT_ORDER, &burn::tensor::Device::flex()).unwrap();
        let lambda = c.clone() * 0.1 - 0.3;
        let rho = 2.0;
        let u = duals_from_lambda(&batch, lambda.clone(), rho);
        assert!(matches!(u, Duals::Rows(_)));
        let back = host(lambda_of(&batch, u, rho));
        let want = host(lambda);
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (a, b) in back.iter().zip(&want) {
            assert!((a - b).abs() < 1e-3 * scale, "{a} vs {b}");
        }
    }

    /// The multiplier update scales with `dual_step`: from zero multipliers, the first s-step
    /// leaves lambda = -gamma rho G'(G c - s), so step 2 gives exactly twice step 1's, in both
    /// modes.
    #[test]
    fn the_multiplier_update_scales_with_the_dual_step() {
        let problem = Scenario::Circle
            .generate(&ScenarioConfig::new(6).seed(1))
            .unwrap();
        let cands = perturbed_candidates(&problem, 2, 0.8, 2);
        let inst = Instance::each(&problem, &cands);
        for exact_projection in [false, true] {
            let lambda = |dual_step: f64| {
                let settings = FilterSettings {
                    dual_step,
                    exact_projection,
                    ..Default::default()
                };
                let device = burn::tensor::Device::flex();
                let batch = Batch::new(&inst, &settings, DEFAULT_ORDER, &device).unwrap();
                let state = start(&batch, batch.cbar.clone(), batch.cbar.zeros_like(), 1.0);
                host(lambda_of(&batch, state.u, 1.0))
            };
            let (one, two) = (lambda(1.0), lambda(2.0));
            let scale = one.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(scale > 1e-3, "nothing violated: a vacuous test");
            for (a, b) in one.iter().zip(&two) {
                assert!((2.0 * a - b).abs() < 1e-5 * scale, "{a} vs {b}");
            }
        }
    }
}
