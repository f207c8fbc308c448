//! A running batch split into lanes: blocks of its instances that step in parallel, one per
//! worker of rayon's pool, between the solver's residual checks.
//!
//! The instances of a batch never interact within an iteration (the matrices they share are
//! constants), so a lane runs its block as a batch of its own and meets the others only at a
//! check, where the solver reads every instance's residual. On flex most of an iteration's
//! ops are too small for flex to split over threads, so one batch keeps one core busy; two
//! lanes keep two. On a GPU one batch is the better shape, and the solver keeps one lane.

use burn::prelude::*;
use rayon::prelude::*;

use crate::batch::{Batch, index_tensor};
use crate::iteration::{State, residual, residuals, step_keeping};

/// Lanes of a running batch, in row order: lane 0 holds the first rows.
pub(crate) struct Lanes {
    lanes: Vec<Lane>,
}

struct Lane {
    batch: Batch,
    /// Taken out for the steps, which consume it.
    state: Option<State>,
}

impl Lane {
    fn state(&self) -> &State {
        self.state
            .as_ref()
            .expect("a lane holds its state between steps")
    }

    /// `iterations` steps, the last one keeping every row family; the residuals after it.
    fn advance(&mut self, iterations: usize, rho: f32) -> Vec<f32> {
        let mut state = self
            .state
            .take()
            .expect("a lane holds its state between steps");
        for i in 1..=iterations {
            state = step_keeping(&self.batch, state, rho, i == iterations);
        }
        let worst = residuals(&residual(&self.batch, &state.r));
        self.state = Some(state);
        worst
    }
}

impl Lanes {
    /// `batch` and its `state` in at most `count` lanes of (nearly) equal size.
    pub fn new(batch: &Batch, state: State, count: usize) -> Self {
        let count = count.clamp(1, batch.size.max(1));
        if count == 1 {
            return Self {
                lanes: vec![Lane {
                    batch: batch.clone(),
                    state: Some(state),
                }],
            };
        }
        let device = batch.cbar.device();
        let lanes = (0..count)
            .map(|l| {
                let rows: Vec<usize> =
                    (l * batch.size / count..(l + 1) * batch.size / count).collect();
                Lane {
                    batch: batch.select(&rows),
                    state: Some(state.clone().select(&index_tensor(&rows, &device))),
                }
            })
            .collect();
        Self { lanes }
    }

    /// `iterations` steps on every lane, the lanes in parallel; every instance's residual
    /// after the last one, in row order.
    pub fn advance(&mut self, iterations: usize, rho: f32) -> Vec<f32> {
        if let [lane] = self.lanes.as_mut_slice() {
            return lane.advance(iterations, rho);
        }
        self.lanes
            .par_iter_mut()
            .map(|lane| lane.advance(iterations, rho))
            .collect::<Vec<_>>()
            .concat()
    }

    /// Every instance's coefficients (B, 2, N K), in row order.
    pub fn coefficients(&self) -> Tensor<3> {
        match self.lanes.as_slice() {
            [lane] => lane.state().c.clone(),
            lanes => Tensor::cat(lanes.iter().map(|l| l.state().c.clone()).collect(), 0),
        }
    }

    /// The lanes joined again into one state, in row order.
    pub fn into_state(self) -> State {
        State::cat(
            self.lanes
                .into_iter()
                .map(|mut l| {
                    l.state
                        .take()
                        .expect("a lane holds its state between steps")
                })
                .collect(),
        )
    }
}
