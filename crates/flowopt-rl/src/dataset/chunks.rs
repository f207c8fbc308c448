//! Action chunks for the Streaming Flow Policy: each transition's observation paired with the
//! trajectory of actions that follows it in its episode.

use super::Dataset;
use crate::RlError;

impl Dataset {
    /// Whether row `i` is the last of its episode: it ends in a terminal or a timeout, it is the
    /// last row, or the next row does not start where it ended (files without `timeouts`).
    pub fn ends_episode(&self, i: usize) -> bool {
        let o = self.obs_dim;
        self.terminals.get(i).is_some_and(|&t| t != 0.0)
            || self.timeouts.get(i).is_some_and(|&t| t != 0.0)
            || i + 1 >= self.len()
            || self.next_observations[i * o..(i + 1) * o]
                != self.observations[(i + 1) * o..(i + 2) * o]
    }

    /// The same transitions with action chunks for actions: row i's action becomes the
    /// `horizon + 1` points p_0..p_H (flattened, `(horizon + 1) * act_dim` values) where p_0 is
    /// the action before row i in its episode (zeros at an episode's start, as when an agent
    /// starts acting) and p_1..p_H are the actions of rows i..i + H - 1, the episode's last
    /// action repeated past its end.
    pub fn action_chunks(&self, horizon: usize) -> Result<Dataset, RlError> {
        self.validate()?;
        if horizon == 0 {
            return Err(RlError::Invalid {
                field: "horizon",
                message: "must be >= 1".into(),
            });
        }
        let (n, d) = (self.len(), self.act_dim);
        // The last row of each row's episode.
        let mut last = vec![0; n];
        let mut end = n.saturating_sub(1);
        for i in (0..n).rev() {
            if self.ends_episode(i) {
                end = i;
            }
            last[i] = end;
        }
        let action = |r: usize| &self.actions[r * d..(r + 1) * d];
        let mut actions = Vec::with_capacity(n * (horizon + 1) * d);
        for (i, &end) in last.iter().enumerate() {
            let starts = i == 0 || self.ends_episode(i - 1);
            if starts {
                actions.extend(std::iter::repeat_n(0.0, d));
            } else {
                actions.extend_from_slice(action(i - 1));
            }
            for k in 0..horizon {
                actions.extend_from_slice(action((i + k).min(end)));
            }
        }
        Ok(Dataset {
            act_dim: (horizon + 1) * d,
            actions,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::tiny;

    #[test]
    fn chunks_start_at_the_previous_action_and_stay_in_their_episode() {
        // Episodes: rows 0-2 (actions 0.5, -0.5, 1.0) and rows 3-4 (-1.0, 0.0).
        let chunks = tiny().action_chunks(3).unwrap();
        assert_eq!(chunks.act_dim, 4);
        assert_eq!(chunks.len(), 5);
        let row = |i: usize| chunks.actions[i * 4..(i + 1) * 4].to_vec();
        assert_eq!(row(0), vec![0.0, 0.5, -0.5, 1.0]);
        assert_eq!(row(1), vec![0.5, -0.5, 1.0, 1.0]);
        assert_eq!(row(2), vec![-0.5, 1.0, 1.0, 1.0]);
        assert_eq!(row(3), vec![0.0, -1.0, 0.0, 0.0]);
        assert_eq!(row(4), vec![-1.0, 0.0, 0.0, 0.0]);
        chunks.validate().unwrap();
        assert!(tiny().action_chunks(0).is_err());
    }

    #[test]
    fn a_gap_between_rows_ends_an_episode_without_flags() {
        let mut d = tiny();
        d.timeouts = vec![0.0; 5];
        d.terminals = vec![0.0; 5];
        // Row 2 ends where row 3 does not start.
        d.next_observations[4] = 99.0;
        let chunks = d.action_chunks(2).unwrap();
        assert_eq!(&chunks.actions[3 * 3..4 * 3], &[0.0, -1.0, 0.0]);
        assert_eq!(&chunks.actions[2 * 3..3 * 3], &[-0.5, 1.0, 1.0]);
    }
}
