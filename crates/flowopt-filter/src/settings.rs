//! Settings of the safety filter: a flat struct of documented fields with defaults, and
//! `validate()` naming the bad field.

use flowopt_core::{ErrorKind, InputError};

/// Sample counts set by [`FilterSettings::sample_period`] are multiples of this.
pub const SAMPLE_STEP: usize = 10;

/// Most samples per trajectory the filter constrains.
pub const MAX_SAMPLES: usize = 1000;

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
    /// ones (and with `Projection::accepting`, only ones its own check accepts)
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
    /// Longest time between two constrained samples, seconds (default 0: no bound). With a
    /// fixed count, a long horizon spaces the samples out until robots can pass through each
    /// other between them; with a period, a problem whose horizon needs more samples than
    /// `samples` (or the problem's) gets ceil(horizon / period) + 1 of them, rounded up to a
    /// multiple of [`SAMPLE_STEP`] (fewer batch shapes and cached matrices), at most 1000.
    pub sample_period: f64,
    /// Residual (metres) at or below which an instance that has not met the tolerance is still
    /// offered to the caller's check ([`crate::Projection::accepting`])
    /// at a check: per group and check, the one with the smallest residual not yet taken
    /// (default 0: only converged instances are offered). A planner whose own check verifies
    /// the true constraints (without the clearance) can then stop at a verified candidate
    /// instead of converging it to the tolerance. With `project` (which accepts everything),
    /// such instances count as converged enough.
    pub verify_below: f64,
    /// Successive halving (default 0: off): at iterations h, 2h, 4h, ... each group (the
    /// candidates of one problem) keeps the better half of its instances still running (those
    /// the caller's check took first, then the smaller residuals) and the others leave the
    /// batch as they are, flagged `FilterStatus::Dropped`. A planner that keeps one
    /// candidate spends its iterations on the most promising ones. A multiple of
    /// `check_every` (residuals are read at checks only).
    pub halve_every: usize,
    /// Weight mu of a smoothness term in the c-step objective (default 0: a plain projection):
    /// the filter minimizes 1/2 |c - cbar|^2 + mu/2 sum over robots and axes of the integral
    /// over tau in [0, 1] of the squared scaled acceleration x''(tau) / (n (n - 1)) (metres of
    /// coefficient differences, like the acceleration rows; horizon-free). Large mu trades
    /// closeness to the candidate for smoother trajectories in the candidate's homotopy; the
    /// constraint set is unchanged (with `exact_projection`, the fixed points minimize this
    /// objective rather than the distance alone). Cached with the KKT inverse, so it costs
    /// nothing per iteration; the filter needs more iterations, though.
    pub smoothing: f64,
    /// Step gamma of the multiplier update u <- u + gamma (G c - s) (default 1, the plain
    /// augmented-Lagrangian update). Steps above 1 build the multipliers of the violated rows
    /// up faster, so crowded problems reach a feasible point in fewer iterations, at some cost
    /// in smoothness (the point found lies further from the candidate); for convex ADMM the
    /// classic bound is gamma < (1 + sqrt 5) / 2 (Glowinski), the fast mode is a heuristic
    /// either way. In (0, 4].
    pub dual_step: f64,
    /// Converge to the projection of the candidate (ADMM, slower on crowded problems) instead of
    /// stopping at the first feasible point the fast scheme reaches (default false; see
    /// `solver`).
    pub exact_projection: bool,
    /// Proximal rounds (default 0: off). When `accept` takes an instance that has rounds
    /// left, its candidate cbar moves to where the instance stands and it runs on from there,
    /// keeping `recentre_keep` of its multipliers, instead of counting towards `stop_after`
    /// (or until the caller answers `Decision::Finish`); only the acceptance
    /// after its last round counts. With a smoothness term, every round trades a step of
    /// smoothness against closeness to the last accepted point: a proximal-point descent on
    /// the smoothness within the constraints, which the caller's `accept` sees point by point.
    pub recentre: usize,
    /// Fraction of an instance's multipliers a proximal round keeps, in [0, 1] (default 0.8;
    /// the fast mode only, the exact one keeps them all). 1 keeps the multipliers that held
    /// the last point, and rounds stall on those built up on the way (a doorway N = 32 plan
    /// polished in 400 iterations: 36.6 with 1, 36.2 with 0.8; in 1000: 29.4 and 28.6).
    pub recentre_keep: f64,
    /// Lanes: blocks of a batch's instances that step in parallel, each on its own worker of
    /// rayon's pool, and meet at the residual checks (default 0: one per worker on the CPU
    /// backend, one on a GPU). Results do not depend on it beyond f32 rounding.
    pub lanes: usize,
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
            sample_period: 0.0,
            verify_below: 0.0,
            halve_every: 0,
            smoothing: 0.0,
            dual_step: 1.0,
            exact_projection: false,
            recentre: 0,
            recentre_keep: 0.8,
            lanes: 0,
        }
    }
}

impl FilterSettings {
    /// The samples the filter constrains for `problem`: [`Self::samples`], or the problem's
    /// when that is 0.
    pub fn samples_for(&self, problem: &flowopt_core::Problem) -> usize {
        let base = if self.samples > 0 {
            self.samples
        } else {
            problem.samples
        };
        if self.sample_period <= 0.0 {
            return base;
        }
        // Saturating float-to-int cast: a huge horizon lands on the cap.
        let needed = (problem.horizon / self.sample_period).ceil() as usize + 1;
        if needed <= base {
            return base;
        }
        needed
            .div_ceil(SAMPLE_STEP)
            .saturating_mul(SAMPLE_STEP)
            .min(MAX_SAMPLES)
            .max(base)
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
        if self.samples == 1 || self.samples > MAX_SAMPLES {
            return bad("samples", "must be 0 (the problem's) or in 2..=1000");
        }
        if !(self.sample_period.is_finite() && self.sample_period >= 0.0) {
            return bad(
                "sample_period",
                "must be a finite number >= 0 (0: no bound)",
            );
        }
        if !(self.verify_below.is_finite() && self.verify_below >= 0.0) {
            return bad("verify_below", "must be a finite number >= 0 (0: off)");
        }
        if !self.halve_every.is_multiple_of(self.check_every) {
            return bad("halve_every", "must be a multiple of check_every (0: off)");
        }
        if !(self.smoothing.is_finite() && self.smoothing >= 0.0) {
            return bad("smoothing", "must be a finite number >= 0 (0: off)");
        }
        if !(self.dual_step > 0.0 && self.dual_step <= 4.0) {
            return bad("dual_step", "must be in (0, 4]");
        }
        if !(0.0..=1.0).contains(&self.recentre_keep) {
            return bad("recentre_keep", "must be in [0, 1]");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::{Scenario, ScenarioConfig};

    /// A sample period adds samples to long horizons only, in steps of ten, up to the cap.
    #[test]
    fn sample_period_densifies_long_horizons() {
        let mut problem = Scenario::Circle
            .generate(&ScenarioConfig::new(2).seed(0))
            .unwrap();
        let fixed = FilterSettings {
            samples: 100,
            ..Default::default()
        };
        let timed = FilterSettings {
            sample_period: 0.1,
            ..fixed.clone()
        };
        for (horizon, want) in [
            (8.0, 100),
            (9.9, 100),
            (13.5, 140),
            (21.0, 220),
            (1e9, 1000),
        ] {
            problem.horizon = horizon;
            assert_eq!(fixed.samples_for(&problem), 100);
            assert_eq!(timed.samples_for(&problem), want, "horizon {horizon}");
        }
        // Without a fixed count the problem's own samples are the floor.
        problem.horizon = 21.0;
        let own = FilterSettings {
            sample_period: 0.1,
            ..Default::default()
        };
        assert_eq!(own.samples_for(&problem), 220);
        problem.samples = 300;
        assert_eq!(own.samples_for(&problem), 300);
        for (bad, field) in [
            (
                FilterSettings {
                    sample_period: -1.0,
                    ..Default::default()
                },
                "sample_period",
            ),
            (
                FilterSettings {
                    verify_below: f64::NAN,
                    ..Default::default()
                },
                "verify_below",
            ),
            (
                FilterSettings {
                    smoothing: -1.0,
                    ..Default::default()
                },
                "smoothing",
            ),
            (
                FilterSettings {
                    dual_step: f64::NAN,
                    ..Default::default()
                },
                "dual_step",
            ),
            (
                FilterSettings {
                    dual_step: 0.0,
                    ..Default::default()
                },
                "dual_step",
            ),
            (
                FilterSettings {
                    recentre_keep: f64::NAN,
                    ..Default::default()
                },
                "recentre_keep",
            ),
        ] {
            assert_eq!(bad.validate().unwrap_err().field, field);
        }
    }
}
