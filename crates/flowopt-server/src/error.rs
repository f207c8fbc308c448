//! The API's error body, `{"error":{"code","message","field"}}`, and its status codes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flowopt_core::{ErrorKind, InputError, PlanError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Errors of the HTTP API, each with its status code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or a parameter could not be parsed.
    #[error("{0}")]
    Malformed(InputError),
    /// 422: parsed, but invalid (NaN, robots overlapping, goal outside the workspace, ...).
    #[error("{0}")]
    Invalid(InputError),
    /// 404: no such route or resource.
    #[error("{0}")]
    NotFound(String),
    /// 409: the resource is in a state that forbids this (an agent already training, a
    /// policy-only agent asked to train).
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the server accepts.
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    /// 415: the body is not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 429: the queue is full; retry later.
    #[error("server busy: {0}")]
    Busy(String),
    /// 503: shutting down, or a planner is unavailable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 504: the request's deadline passed before its plan was ready.
    #[error("deadline of {0} ms exceeded")]
    Deadline(u64),
    /// 500: the planner failed.
    #[error("{0}")]
    Internal(String),
}

/// The JSON error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code (`malformed`, `robots_overlap`, `too_many`, `busy`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// JSON path of the offending field (`robots[3].goal`), or null.
    pub field: Option<String>,
}

impl ApiError {
    /// The error of a problem or option that failed: malformed documents are 400, every other
    /// invalid value 422.
    pub fn input(error: InputError) -> Self {
        if error.kind == ErrorKind::Malformed {
            Self::Malformed(error)
        } else {
            Self::Invalid(error)
        }
    }

    /// A 422 about `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(InputError::new(ErrorKind::OutOfRange, field, message))
    }

    /// A 400 about `field`.
    pub fn malformed(field: &str, message: impl Into<String>) -> Self {
        Self::Malformed(InputError::new(ErrorKind::Malformed, field, message))
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Deadline(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        let (code, field, message) = match self {
            Self::Malformed(e) | Self::Invalid(e) => (
                e.kind.code().to_string(),
                Some(e.field.clone()),
                e.message.clone(),
            ),
            Self::NotFound(_) => ("not_found".into(), None, self.to_string()),
            Self::Conflict(_) => ("conflict".into(), None, self.to_string()),
            Self::TooLarge(_) => ("too_large".into(), Some("body".into()), self.to_string()),
            Self::UnsupportedMediaType => (
                "unsupported_media_type".into(),
                Some("content-type".into()),
                self.to_string(),
            ),
            Self::Busy(_) => ("busy".into(), None, self.to_string()),
            Self::Unavailable(_) => ("unavailable".into(), None, self.to_string()),
            Self::Deadline(_) => ("deadline_exceeded".into(), None, self.to_string()),
            Self::Internal(_) => ("internal".into(), None, self.to_string()),
        };
        ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field,
            },
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(error: PlanError) -> Self {
        match error {
            PlanError::Input(input) => Self::input(input),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(status = %self.status(), "{self}");
        }
        (self.status(), Json(self.body())).into_response()
    }
}
