//! What a user sets on the `flowopt` planner, spelled once.
//!
//! [`FlowOptOptions`] is the CLI's flags (`clap::Args`, flattened into `flowopt plan`, `bench`
//! and `serve`), the HTTP API's query options (serde) and the library's way to change a
//! planner's [`FlowOptSettings`]: each option left unset keeps the value it is applied to.
//! Everything else the pipeline reads is a documented constant of [`crate::settings`]; an
//! experiment reaches those through a tuning file, a [`FlowOptSettings`] as JSON
//! ([`FlowOptSettings::from_json`], `--tuning FILE` on the command line).

use flowopt_core::InputError;
use serde::{Deserialize, Serialize};

use crate::settings::FlowOptSettings;

/// The `flowopt` planner's options a user turns (see the module notes). The defaults in the
/// docs are [`FlowOptSettings::default`]'s (a test keeps them in step).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[command(next_help_heading = "Options of the flowopt planner")]
pub struct FlowOptOptions {
    /// Candidate joint trajectories the generator samples per problem (default 4): more find
    /// a plan on harder problems and more alternatives, at a proportional cost.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<usize>,
    /// Flow integration steps of the generator (default 4).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_steps: Option<usize>,
    /// Most safety-filter iterations per pass (default 2000): the work bound of a problem
    /// that no candidate solves.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_iterations: Option<usize>,
    /// Most iterations of the polishing pass that smooths plans around obstacles, kept where
    /// it still passes the check (default 500; 0: off, faster and rougher plans).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polish_iterations: Option<usize>,
    /// Also return every feasible candidate, smoothest first (default false; how many distinct
    /// passing patterns they show is `info.distinct_passing_patterns`);
    /// every candidate then runs to convergence, which takes longer.
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_candidates: Option<bool>,
}

impl FlowOptOptions {
    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// These options, with `fallback`'s wherever these leave one unset: a request's options
    /// over a server's.
    pub fn or(self, fallback: Self) -> Self {
        Self {
            candidates: self.candidates.or(fallback.candidates),
            flow_steps: self.flow_steps.or(fallback.flow_steps),
            filter_iterations: self.filter_iterations.or(fallback.filter_iterations),
            polish_iterations: self.polish_iterations.or(fallback.polish_iterations),
            return_candidates: self.return_candidates.or(fallback.return_candidates),
        }
    }

    /// `base` with these options set, validated (an error names the bad option). With
    /// `return_candidates`, every candidate runs to the end
    /// ([`FlowOptSettings::returning_candidates`]); without, a plan is the first candidate that
    /// passes the check even when fewer candidates are sampled than `base` waits for.
    pub fn apply(&self, base: FlowOptSettings) -> Result<FlowOptSettings, InputError> {
        let settings = FlowOptSettings {
            candidates: self.candidates.unwrap_or(base.candidates),
            flow_steps: self.flow_steps.unwrap_or(base.flow_steps),
            filter_iterations: self.filter_iterations.unwrap_or(base.filter_iterations),
            polish_iterations: self.polish_iterations.unwrap_or(base.polish_iterations),
            return_candidates: self.return_candidates.unwrap_or(base.return_candidates),
            ..base
        };
        let settings = if settings.return_candidates {
            settings.returning_candidates()
        } else {
            FlowOptSettings {
                stop_after: settings.stop_after.min(settings.candidates_for(true)),
                ..settings
            }
        };
        settings.validate()?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        options: FlowOptOptions,
        /// A positional argument, as `flowopt plan PROBLEM` has.
        file: Option<String>,
    }

    fn parse(args: &[&str]) -> Result<FlowOptOptions, clap::Error> {
        Cli::try_parse_from(std::iter::once("flowopt").chain(args.iter().copied()))
            .map(|cli| cli.options)
    }

    /// `--return-candidates` alone means true and never takes the next argument (the
    /// problem file of `flowopt plan --return-candidates problem.json`) as its value.
    #[test]
    fn the_return_candidates_flag_leaves_the_next_argument_alone() {
        let cli = Cli::try_parse_from(["flowopt", "--return-candidates", "problem.json"]).unwrap();
        assert_eq!(cli.options.return_candidates, Some(true));
        assert_eq!(cli.file.as_deref(), Some("problem.json"));
        let off = parse(&["--return-candidates=false"]).unwrap();
        assert_eq!(off.return_candidates, Some(false));
    }

    #[test]
    fn unset_options_keep_the_settings_they_are_applied_to() {
        let options = parse(&[]).unwrap();
        assert!(options.is_empty());
        let base = FlowOptSettings {
            candidates: 8,
            ..FlowOptSettings::default()
        };
        assert_eq!(options.apply(base).unwrap(), base);
        assert_eq!(
            options.apply(FlowOptSettings::default()).unwrap(),
            FlowOptSettings::default()
        );
    }

    #[test]
    fn flags_and_query_options_are_the_same_options() {
        let flags = parse(&[
            "--candidates",
            "8",
            "--flow-steps",
            "2",
            "--filter-iterations",
            "300",
            "--polish-iterations",
            "0",
            "--return-candidates",
        ])
        .unwrap();
        let query: FlowOptOptions = serde_json::from_str(
            r#"{"candidates":8,"flow_steps":2,"filter_iterations":300,"polish_iterations":0,
                "return_candidates":true}"#,
        )
        .unwrap();
        assert_eq!(flags, query);
        let settings = flags.apply(FlowOptSettings::default()).unwrap();
        assert_eq!(settings.candidates, 8);
        assert_eq!(settings.flow_steps, 2);
        assert_eq!(settings.filter_iterations, 300);
        assert_eq!(settings.polish_iterations, 0);
        assert_eq!(
            settings,
            FlowOptSettings {
                candidates: 8,
                flow_steps: 2,
                filter_iterations: 300,
                polish_iterations: 0,
                ..FlowOptSettings::default()
            }
            .returning_candidates()
        );
        assert_eq!(
            parse(&["--return-candidates=false"])
                .unwrap()
                .return_candidates,
            Some(false)
        );
        assert!(serde_json::from_str::<FlowOptOptions>(r#"{"halve_every":10}"#).is_err());
    }

    #[test]
    fn a_requests_options_fall_back_to_the_servers() {
        let server = FlowOptOptions {
            candidates: Some(8),
            return_candidates: Some(true),
            ..Default::default()
        };
        let request = FlowOptOptions {
            candidates: Some(2),
            return_candidates: Some(false),
            ..Default::default()
        };
        let merged = request.or(server);
        assert_eq!(merged.candidates, Some(2));
        assert_eq!(merged.return_candidates, Some(false));
        // Asking for no alternatives undoes what alternatives change (the server's default
        // settings are never converted twice).
        let base = FlowOptSettings::default();
        assert_eq!(
            merged.apply(base).unwrap(),
            FlowOptSettings {
                candidates: 2,
                ..base
            }
        );
        assert!(
            FlowOptOptions::default()
                .or(server)
                .apply(base)
                .unwrap()
                .return_candidates
        );
    }

    #[test]
    fn bad_options_are_errors_naming_them() {
        let bad =
            |options: FlowOptOptions| options.apply(FlowOptSettings::default()).unwrap_err().field;
        let zero = FlowOptOptions {
            candidates: Some(0),
            ..Default::default()
        };
        assert_eq!(bad(zero), "candidates");
        let many = FlowOptOptions {
            flow_steps: Some(101),
            ..Default::default()
        };
        assert_eq!(bad(many), "flow_steps");
        let long = FlowOptOptions {
            polish_iterations: Some(10_001),
            ..Default::default()
        };
        assert_eq!(bad(long), "polish_iterations");
        // One candidate is enough for the first verified one to be the answer.
        let one = FlowOptOptions {
            candidates: Some(1),
            ..Default::default()
        };
        assert_eq!(one.apply(FlowOptSettings::default()).unwrap().candidates, 1);
    }

    /// The defaults the help and the docs state are the settings' defaults.
    #[test]
    fn the_documented_defaults_are_the_settings_defaults() {
        let d = FlowOptSettings::default();
        let help = Cli::command().render_long_help().to_string();
        for (flag, default) in [
            ("candidates", d.candidates.to_string()),
            ("flow-steps", d.flow_steps.to_string()),
            ("filter-iterations", d.filter_iterations.to_string()),
            ("polish-iterations", d.polish_iterations.to_string()),
            ("return-candidates", d.return_candidates.to_string()),
        ] {
            let at = help.find(&format!("--{flag}")).unwrap();
            let text: String = help[at..].split("\n\n").next().unwrap().into();
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                text.contains(&format!("(default {default}")),
                "{flag}: {text}"
            );
        }
    }
}
