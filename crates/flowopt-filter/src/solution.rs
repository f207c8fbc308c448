//! What the filter returns per instance.

use flowopt_core::Coefficients;

/// How a filter run ended for one instance. Not converging is a status, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterStatus {
    /// The largest violation on the filter's samples fell below the tolerance.
    Converged,
    /// The caller's check accepted it before its residual met the tolerance
    /// ([`crate::FilterSettings::verify_below`]).
    Verified,
    /// Successive halving took it out of the batch as one of its group's worse half
    /// ([`crate::FilterSettings::halve_every`]).
    Dropped,
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
    /// iterations its group ran (for a verified instance: until it was accepted, when
    /// `stop_after` is 1).
    pub iterations: usize,
    /// How the run ended for it.
    pub status: FilterStatus,
    /// Whether the caller's check took it (`Projection::accepting`); with
    /// `project`, whether it converged or was verified.
    pub accepted: bool,
}
