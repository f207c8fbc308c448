//! The online agents' replay buffer: a ring of the last `capacity` transitions on the host,
//! sampled with the run's own seeded generator.
//!
//! Burn's `burn::rl::TransitionBuffer` does not fit here: it draws its minibatch indices from
//! the device's global random generator, which every other user of the device shares (the
//! tests running beside a run, the server's concurrent training jobs), so a run would not be
//! reproducible from its seed.

use burn::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::RlError;
use crate::algo::Batch;
use crate::dataset::{Dataset, Transition};
use crate::train::batch_of;

/// A ring buffer of transitions.
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    data: Dataset,
    capacity: usize,
    head: usize,
}

impl ReplayBuffer {
    /// An empty buffer for `obs_dim` x `act_dim` transitions keeping the last `capacity`.
    pub fn new(obs_dim: usize, act_dim: usize, capacity: usize) -> Self {
        Self {
            data: Dataset::empty(obs_dim, act_dim),
            capacity: capacity.max(1),
            head: 0,
        }
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Adds `t` (checked as [`Dataset::push`] does), overwriting the oldest when full.
    pub fn push(&mut self, t: &Transition) -> Result<(), RlError> {
        if self.data.len() < self.capacity {
            return self.data.push(t);
        }
        // Check it by pushing into an empty dataset of the same shape, then overwrite the
        // oldest row.
        let mut one = Dataset::empty(self.data.obs_dim, self.data.act_dim);
        one.push(t)?;
        let (o, a, i) = (self.data.obs_dim, self.data.act_dim, self.head);
        self.data.observations[i * o..(i + 1) * o].copy_from_slice(&one.observations);
        self.data.actions[i * a..(i + 1) * a].copy_from_slice(&one.actions);
        self.data.rewards[i] = one.rewards[0];
        self.data.terminals[i] = one.terminals[0];
        self.data.next_observations[i * o..(i + 1) * o].copy_from_slice(&one.next_observations);
        self.data.timeouts[i] = one.timeouts[0];
        self.head = (self.head + 1) % self.capacity;
        Ok(())
    }

    /// `size` transitions drawn uniformly (with replacement) by `rng`, on `device`.
    pub fn sample(&self, size: usize, rng: &mut ChaCha8Rng, device: &Device) -> Batch {
        let rows: Vec<usize> = (0..size)
            .map(|_| rng.random_range(0..self.data.len()))
            .collect();
        batch_of(&self.data, &rows, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn t(i: usize) -> Transition {
        Transition {
            observation: vec![i as f32],
            action: vec![0.0],
            reward: i as f32,
            next_observation: vec![i as f32 + 1.0],
            terminal: false,
            timeout: false,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_and_samples_reproducibly() {
        let mut buffer = ReplayBuffer::new(1, 1, 3);
        for i in 0..5 {
            buffer.push(&t(i)).unwrap();
        }
        assert_eq!(buffer.len(), 3);
        let mut kept = buffer.data.rewards.clone();
        kept.sort_by(f32::total_cmp);
        assert_eq!(kept, vec![2.0, 3.0, 4.0]);
        buffer.data.validate().unwrap();
        let device = Device::flex();
        let draw = |seed| {
            let batch = buffer.sample(8, &mut ChaCha8Rng::seed_from_u64(seed), &device);
            batch.reward.into_data().try_to_vec::<f32>().unwrap()
        };
        assert_eq!(draw(4), draw(4));
        assert!(draw(4).iter().all(|r| (2.0..=4.0).contains(r)));
        assert!(
            buffer
                .push(&Transition {
                    action: vec![2.0],
                    ..t(9)
                })
                .is_err()
        );
    }
}
