//! Settings of the safety filter: a flat struct of documented fields with defaults, and
//! `validate()` naming the bad field.

use flowopt_core::{ErrorKind, InputError};

/// Settings of the augmented-Lagrangian safety filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSettings {
    /// Penalty weight rho of the augmented Lagrangian (default 1.0). The KKT inverse is cached
    /// per (robots, obstacles, samples, order, rho).
    pub rho: f64,
    /// Most iterations (default 200).
    pub max_iterations: usize,
    /// Stop when every candidate's largest constraint violation on the filter's samples is
    /// below this, in metres (default 1e-4).
    pub tolerance: f64,
    /// Residuals are read back (a device sync) every this many iterations (default 10).
    pub check_every: usize,
    /// Stop once this many instances of a batch meet the tolerance (checked with the
    /// residuals, counted over the whole batch; 0 = wait for all of them, the default). A
    /// planner that keeps one of K candidates of one problem can stop at the first converged
    /// ones (and with `SafetyFilter::project_accepting`, only ones its own check accepts)
    /// instead of running the hardest candidate to the budget; the others are returned as
    /// they stand, flagged `FilterStatus::Stopped`.
    pub stop_after: usize,
    /// Clearance added to every separation and obstacle distance, metres (default 0.03), so that
    /// nothing dips below the true bound between samples (the checker also looks 4x denser).
    pub clearance: f64,
    /// Fraction of the speed and acceleration limits kept free (default 0.02).
    pub limit_margin: f64,
    /// Samples per trajectory the filter constrains; 0 = the problem's `samples` (default 0).
    /// Denser samples leave robots less room to meet between them, at a proportional cost.
    pub samples: usize,
    /// Converge to the projection of the candidate (ADMM, slower on crowded problems) instead of
    /// stopping at the first feasible point the fast scheme reaches (default false; see
    /// `solver`).
    pub exact_projection: bool,
}

impl Default for FilterSettings {
    fn default() -> Self {
        Self {
            rho: 1.0,
            max_iterations: 200,
            tolerance: 1e-4,
            check_every: 10,
            stop_after: 0,
            clearance: 0.03,
            limit_margin: 0.02,
            samples: 0,
            exact_projection: false,
        }
    }
}

impl FilterSettings {
    /// The samples the filter constrains for `problem`: [`Self::samples`], or the problem's
    /// when that is 0.
    pub fn samples_for(&self, problem: &flowopt_core::Problem) -> usize {
        if self.samples > 0 {
            self.samples
        } else {
            problem.samples
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |f: &str, m: &str| Err(InputError::new(ErrorKind::OutOfRange, f, m));
        if !(self.rho.is_finite() && self.rho > 0.0) {
            return bad("rho", "must be a finite number > 0");
        }
        if self.max_iterations == 0 {
            return bad("max_iterations", "must be >= 1");
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return bad("tolerance", "must be a finite number > 0");
        }
        if self.check_every == 0 {
            return bad("check_every", "must be >= 1");
        }
        if !(self.clearance.is_finite() && self.clearance >= 0.0) {
            return bad("clearance", "must be a finite number >= 0");
        }
        if !(0.0..0.5).contains(&self.limit_margin) {
            return bad("limit_margin", "must be in [0, 0.5)");
        }
        if self.samples == 1 || self.samples > 1000 {
            return bad("samples", "must be 0 (the problem's) or in 2..=1000");
        }
        Ok(())
    }
}
