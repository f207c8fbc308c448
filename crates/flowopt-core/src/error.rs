//! Typed errors. Every input error names the JSON field it is about, so the CLI can print it and
//! the HTTP API can return it as `{"error":{"code","message","field"}}`.

use thiserror::Error;

/// What is wrong with an input value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A number is NaN or infinite.
    NotFinite,
    /// A value is outside its allowed range (radius <= 0, horizon <= 0, ...).
    OutOfRange,
    /// A robot's start or goal is (partly) outside the workspace.
    OutsideWorkspace,
    /// Two robots overlap at their starts or at their goals.
    RobotsOverlap,
    /// A robot's start or goal overlaps an obstacle.
    InsideObstacle,
    /// More robots or obstacles than the configured limit.
    TooMany,
    /// The robot list is empty.
    Empty,
    /// A plan does not have the shape its problem requires (robot count, sample times, ...).
    Shape,
    /// The document could not be parsed.
    Malformed,
}

impl ErrorKind {
    /// A stable machine-readable code, used in JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::NotFinite => "not_finite",
            ErrorKind::OutOfRange => "out_of_range",
            ErrorKind::OutsideWorkspace => "outside_workspace",
            ErrorKind::RobotsOverlap => "robots_overlap",
            ErrorKind::InsideObstacle => "inside_obstacle",
            ErrorKind::TooMany => "too_many",
            ErrorKind::Empty => "empty",
            ErrorKind::Shape => "shape",
            ErrorKind::Malformed => "malformed",
        }
    }
}

/// An invalid problem, plan or option, with the JSON path of the offending field
/// (for example `robots[3].goal`).
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{field}: {message}")]
pub struct InputError {
    /// What kind of error it is.
    pub kind: ErrorKind,
    /// JSON path of the offending field, e.g. `robots[2].radius`.
    pub field: String,
    /// Human-readable explanation.
    pub message: String,
}

impl InputError {
    /// A new error of `kind` about `field`.
    pub fn new(kind: ErrorKind, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            field: field.into(),
            message: message.into(),
        }
    }

    /// Parses `T` from JSON; a failure names the JSON path where it happened (for example
    /// `robots[2].goal` for a missing goal, `robots[0].radius` for a string radius).
    pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let mut field = if path == "." || path == "?" {
                String::new()
            } else {
                path
            };
            // A missing or unknown field is reported at its parent: append its name.
            if let Some(name) = missing_or_unknown_field(&inner.to_string()) {
                if !field.is_empty() && !field.ends_with(&name) {
                    field.push('.');
                }
                if !field.ends_with(&name) {
                    field.push_str(&name);
                }
            }
            if field.is_empty() {
                field = what.to_string();
            }
            Self::new(
                ErrorKind::Malformed,
                field,
                format!("invalid {what} JSON: {inner}"),
            )
        })
    }
}

/// Extracts `name` from serde messages such as "missing field `name`" or "unknown field `name`".
fn missing_or_unknown_field(message: &str) -> Option<String> {
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.split(prefix).nth(1) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// Errors of planners: invalid input, or a failure of the planner itself.
///
/// An infeasible plan is *not* an error: it is a [`crate::Plan`] whose `feasible` flag is false.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The problem or the options are invalid.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The planner could not run (numerical failure, missing model, ...).
    #[error("{planner}: {message}")]
    Planner {
        /// Name of the planner that failed.
        planner: String,
        /// What went wrong.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_the_field_path() {
        let ws = r#""workspace":{"min":[0,0],"max":[4,4]}"#;
        let field = |robots: &str| {
            let text = format!(r#"{{{ws},"robots":[{{"start":[1,1],"goal":[2,2]}},{robots}]}}"#);
            let e = InputError::parse_json::<crate::Problem>(&text, "problem").unwrap_err();
            assert_eq!(e.kind, ErrorKind::Malformed);
            e.field
        };
        assert_eq!(field(r#"{"start":[3,3]}"#), "robots[1].goal");
        assert_eq!(
            field(r#"{"start":[3,3],"goal":[1,3],"radius":"big"}"#),
            "robots[1].radius"
        );
        assert_eq!(
            field(r#"{"start":[3,3],"goal":[1,3],"radious":1}"#),
            "robots[1].radious"
        );
        let e = InputError::parse_json::<crate::Problem>("{", "problem").unwrap_err();
        assert_eq!(e.field, "problem");
    }
}
