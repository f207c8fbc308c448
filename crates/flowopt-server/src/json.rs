//! [`JsonBody`]: the extractor every handler takes its JSON request body through, so every
//! endpoint refuses a bad body the same way: 415 unless `application/json`, 413 over the
//! server's body limit, 400 naming the JSON path of the first malformed field.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use flowopt_core::InputError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A request document: what errors call it, and what an empty body means.
pub trait Document: DeserializeOwned {
    /// The document's name in error messages and, when the whole body is wrong, in `field`
    /// (e.g. `problem`, `act`).
    const NAME: &'static str;

    /// The document an empty body stands for, where the request has defaults; `None` (the
    /// default) refuses an empty body as malformed.
    fn empty() -> Option<Self> {
        None
    }
}

/// A JSON request body parsed as `T` (see the module notes for the errors).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: Document> FromRequest<Arc<AppState>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let json = is_json(request.headers());
        // The media type is checked before the body is read, but an empty body stands for
        // the document's defaults whatever its type.
        if !json && T::empty().is_none() {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await;
        if let Ok(bytes) = &bytes
            && bytes.is_empty()
            && let Some(empty) = T::empty()
        {
            return Ok(Self(empty));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = bytes.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(state.config.max_body_bytes)
            } else {
                ApiError::malformed("body", rejection.body_text())
            }
        })?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::malformed("body", "body is not UTF-8"))?;
        InputError::parse_json(text, T::NAME)
            .map(Self)
            .map_err(ApiError::input)
    }
}

/// Whether the request says its body is `application/json` (parameters such as `charset`
/// allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        })
}
