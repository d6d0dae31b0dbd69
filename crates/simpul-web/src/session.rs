//! Who is looking: the session cookie → the session → its token's principal, and the page's
//! language. Every page but the sign-in takes a [`Visitor`]; without a live session it
//! redirects to `/masuk`, keeping where the visitor was going.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use simpul_app::Principal;
use simpul_http::AppState;
use simpul_store::{SessionLimits, SessionStore};

use crate::cookies;
use crate::error::WebError;
use crate::i18n::Lang;

/// The cookie that carries a session's secret.
pub const SESSION_COOKIE: &str = "simpul_sesi";
/// The sign-in form's anti-forgery cookie (there is no session yet to keep it in).
pub const SIGN_IN_COOKIE: &str = "simpul_masuk";

/// How the web application's sessions and cookies behave.
#[derive(Clone, Copy, Debug, Default)]
pub struct WebSettings {
    /// Idle and absolute session lifetimes.
    pub sessions: SessionLimits,
    /// Mark cookies `Secure` on every response (else only when a proxy says the request came
    /// over TLS: `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
}

impl WebSettings {
    /// Whether cookies of this request are `Secure`.
    pub fn secure(&self, headers: &HeaderMap) -> bool {
        self.secure_cookies
            || headers
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
    }
}

/// A signed-in visitor.
pub struct Visitor {
    /// The token's role and scope.
    pub principal: Principal,
    /// The session's anti-forgery value, for its forms.
    pub csrf: String,
    /// The page's language.
    pub lang: Lang,
    /// The path and query of the page asked for (the language switch links back to it).
    pub path: String,
}

impl Visitor {
    /// Whether a submitted anti-forgery value is this session's.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), submitted.as_bytes())
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The settings, put on every request by the pages' router.
fn settings(parts: &Parts) -> WebSettings {
    parts
        .extensions
        .get::<WebSettings>()
        .copied()
        .unwrap_or_default()
}

/// The path and query of a request.
fn path_of(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
}

/// The language of a request (any page, signed in or not).
pub struct PageLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PageLang(
            Lang::of_request(parts.uri.query(), &parts.headers).0,
        ))
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::of_request(parts.uri.query(), &parts.headers).0;
        let path = path_of(parts);
        let to_sign_in = || {
            let next = serde_urlencoded::to_string([("next", path.as_str())]).unwrap_or_default();
            Redirect::to(&format!("/masuk?{next}")).into_response()
        };
        let Some(secret) = cookies::get(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let sessions = SessionStore::new(state.database.clone());
        let session = sessions
            .find(secret, settings(parts).sessions, Utc::now())
            .await
            .map_err(|error| WebError::from(simpul_http::ApiError::from(error)).into_response())?;
        let Some(session) = session else {
            return Err(to_sign_in());
        };
        let principal = Principal::from_stored(&session.token, state.regions).map_err(|error| {
            tracing::warn!(token.id = %session.token.id, error = %error, "a session's token no longer reads");
            to_sign_in()
        })?;
        Ok(Visitor {
            principal,
            csrf: session.csrf,
            lang,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
