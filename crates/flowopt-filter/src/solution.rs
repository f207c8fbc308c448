//! What the filter returns per instance.

use flowopt_core::Coefficients;

/// How a filter run ended for one instance. Not converging is a status, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterStatus {
    /// The largest violation on the filter's samples fell below the tolerance.
    Converged,
    /// The iteration budget ran out first.
    MaxIterations,
    /// The batch stopped when enough other instances had converged
    /// ([`crate::FilterSettings::stop_after`]).
    Stopped,
}

/// The projection of one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterOutput {
    /// Projected coefficients, one pair per robot.
    pub coefficients: Vec<Coefficients>,
    /// Largest constraint violation on the filter's samples (metres of coefficient differences).
    pub residual: f32,
    /// Iterations run until convergence was seen (checked every `check_every`), else the
    /// iterations the batch ran.
    pub iterations: usize,
    /// Converged or not.
    pub status: FilterStatus,
}
