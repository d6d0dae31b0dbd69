//! Extractors that turn raw requests into typed values or the API's own problem responses.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use simpul_app::Principal;
use tower_http::request_id::RequestId;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body: `application/json`, at most 1 MiB, unknown fields refused by the target type.
/// Failures name the field (`members.count`) in a 400 problem, never axum's plain-text rejection.
/// Keeps the SHA-256 of the raw body for idempotency checks.
pub struct AppJson<T> {
    /// The parsed body.
    pub value: T,
    /// Hex SHA-256 of the raw bytes.
    pub digest: String,
}

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::unreadable_body(&rejection)
                }
            })?;
        let digest = hex(&Sha256::digest(&bytes));
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let path = error.path().to_string();
            let field = (path != ".").then_some(path);
            ApiError::Malformed {
                detail: error.inner().to_string(),
                field,
            }
        })?;
        Ok(Self { value, digest })
    }
}

/// The authenticated principal from `Authorization: Bearer <token>`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .filter(|secret| !secret.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let stored = state
            .tokens
            .find_active(secret)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let principal = Principal::from_stored(&stored, state.regions).map_err(|error| {
            ApiError::Internal(format!("token {} is unusable: {error}", stored.id))
        })?;
        Ok(Auth(principal))
    }
}

/// The token of an `Authorization` value whose scheme is `Bearer`, in any case (RFC 9110: auth
/// schemes are case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// `If-Match: "<version>"`, when sent.
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or_default().trim();
        let text = text.strip_prefix("W/").unwrap_or(text);
        text.trim_matches('"')
            .parse()
            .map(|version| IfMatch(Some(version)))
            .map_err(|_| ApiError::Malformed {
                detail: "If-Match must be a quoted version, e.g. \"3\"".to_owned(),
                field: Some("If-Match".to_owned()),
            })
    }
}

/// `Idempotency-Key`, when sent (1–200 visible ASCII characters).
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        match value.to_str() {
            Ok(key)
                if (1..=200).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(IdempotencyKey(Some(key.to_owned())))
            }
            _ => Err(ApiError::Malformed {
                detail: "Idempotency-Key must be 1 to 200 visible ASCII characters".to_owned(),
                field: Some("Idempotency-Key".to_owned()),
            }),
        }
    }
}

/// The request id (`X-Request-Id` sent by the client, or generated by the server).
pub struct ReqId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ReqId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .extensions
            .get::<RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Ok(ReqId(id))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in ["Bearer abc", "bearer abc", "BEARER  abc ", "  BeArEr abc"] {
            assert_eq!(bearer_token(value), Some("abc"), "{value:?}");
        }
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
