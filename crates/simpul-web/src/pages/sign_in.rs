//! `/masuk` and `/keluar`: a session from an API token, and its end.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::Utc;
use maud::html;
use serde::Deserialize;
use simpul_app::Principal;
use simpul_http::AppState;
use simpul_store::SessionStore;

use crate::cookies::{self, CookieOptions};
use crate::error::WebError;
use crate::i18n::Lang;
use crate::layout;
use crate::session::{
    constant_time_eq, PageLang, Visitor, WebSettings, SESSION_COOKIE, SIGN_IN_COOKIE,
};

/// Where to go after signing in.
#[derive(Deserialize, Default)]
pub struct Next {
    next: Option<String>,
}

/// Only a path of this site (`/…`, not `//host`): never a redirect elsewhere.
fn local(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn form(lang: Lang, csrf: &str, next: &str, error: Option<&str>) -> maud::Markup {
    layout::shell(
        lang,
        lang.tr("Masuk", "Sign in"),
        html! {
            div.signin {
                p { (lang.tr(
                    "Masuk dengan token API yang diberikan administrator Simpul. Peran dan wilayah token menentukan apa yang Anda lihat.",
                    "Sign in with the API token your Simpul administrator gave you. The token's role and region decide what you see.")) }
                @if let Some(error) = error {
                    p.notice role="alert" { (error) }
                }
                form method="post" action="/masuk" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label for="token" { (lang.tr("Token API", "API token")) }
                    input #token type="password" name="token" autocomplete="off" required
                        spellcheck="false" placeholder="simpul_…";
                    p { button.primary type="submit" { (lang.tr("Masuk", "Sign in")) } }
                }
                p { a href={ "/masuk?lang=" (lang.other().code()) } lang=(lang.other().code()) {
                    (lang.tr("English", "Bahasa Indonesia")) } }
            }
        },
    )
}

fn secure_options(
    settings: &WebSettings,
    headers: &HeaderMap,
    max_age: Option<u64>,
) -> CookieOptions {
    CookieOptions {
        secure: settings.secure(headers),
        http_only: true,
        max_age,
    }
}

/// A fresh anti-forgery value for the sign-in form, and the cookie that carries it (an hour).
fn sign_in_value(settings: &WebSettings, headers: &HeaderMap) -> (String, String) {
    let csrf = simpul_store::random_base64url();
    let cookie = cookies::set(
        SIGN_IN_COOKIE,
        &csrf,
        secure_options(settings, headers, Some(3600)),
    );
    (csrf, cookie)
}

/// `GET /masuk`: the form, with a fresh anti-forgery value in a cookie and in the form.
pub async fn show(
    Extension(settings): Extension<WebSettings>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Query(next): Query<Next>,
) -> Response {
    let (csrf, cookie) = sign_in_value(&settings, &headers);
    let page = form(lang, &csrf, &local(next.next.as_deref()), None);
    ([(header::SET_COOKIE, cookie)], Html(page.into_string())).into_response()
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct SignIn {
    token: String,
    csrf: String,
    next: Option<String>,
}

/// `POST /masuk`: an active token opens a session; anything else shows the form again.
pub async fn submit(
    State(state): State<AppState>,
    Extension(settings): Extension<WebSettings>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Form(form_data): Form<SignIn>,
) -> Result<Response, WebError> {
    let expected = cookies::get(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), form_data.csrf.as_bytes()) {
        return Err(WebError::forged());
    }
    let next = local(form_data.next.as_deref());
    let refused = |text: &str| {
        let (csrf, cookie) = sign_in_value(&settings, &headers);
        (
            axum::http::StatusCode::UNAUTHORIZED,
            [(header::SET_COOKIE, cookie)],
            Html(form(lang, &csrf, &next, Some(text)).into_string()),
        )
            .into_response()
    };
    let token = state.tokens.find_active(form_data.token.trim()).await?;
    let Some(token) = token else {
        return Ok(refused(lang.tr(
            "Token tidak dikenal atau sudah dicabut.",
            "The token is unknown or was revoked.",
        )));
    };
    if Principal::from_stored(&token, state.regions).is_err() {
        return Ok(refused(lang.tr(
            "Peran atau wilayah token ini tidak lagi berlaku.",
            "This token's role or region is no longer valid.",
        )));
    }
    let opened = SessionStore::new(state.database.clone())
        .open(token.id, settings.sessions, Utc::now())
        .await?;
    tracing::info!(token.id = %token.id, "web session opened");
    let session = cookies::set(
        SESSION_COOKIE,
        &opened.secret,
        secure_options(&settings, &headers, None),
    );
    let clear = cookies::set(
        SIGN_IN_COOKIE,
        "",
        secure_options(&settings, &headers, Some(0)),
    );
    let mut response = Redirect::to(&next).into_response();
    let cookies_out = response.headers_mut();
    cookies_out.append(header::SET_COOKIE, header_value(&session)?);
    cookies_out.append(header::SET_COOKIE, header_value(&clear)?);
    Ok(response)
}

fn header_value(text: &str) -> Result<HeaderValue, WebError> {
    HeaderValue::from_str(text)
        .map_err(|error| WebError::from(simpul_http::ApiError::Internal(error.to_string())))
}

/// `GET /keluar`: a button (signing out is a form, so another site cannot do it for you).
pub async fn confirm(visitor: Visitor) -> Html<String> {
    let lang = visitor.lang;
    Html(
        layout::page(
            &visitor,
            lang.tr("Keluar", "Sign out"),
            html! {
                form method="post" action="/keluar" {
                    input type="hidden" name="csrf" value=(visitor.csrf);
                    button.primary type="submit" { (lang.tr("Keluar dari Simpul", "Sign out of Simpul")) }
                }
            },
        )
        .into_string(),
    )
}

/// A form's anti-forgery field.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /keluar`: ends the session.
pub async fn submit_sign_out(
    State(state): State<AppState>,
    Extension(settings): Extension<WebSettings>,
    headers: HeaderMap,
    visitor: Visitor,
    Form(form_data): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    if !visitor.csrf_matches(&form_data.csrf) {
        return Err(WebError::forged());
    }
    if let Some(secret) = cookies::get(&headers, SESSION_COOKIE) {
        SessionStore::new(state.database.clone())
            .close(secret)
            .await?;
    }
    let clear = cookies::set(
        SESSION_COOKIE,
        "",
        secure_options(&settings, &headers, Some(0)),
    );
    let mut response = Redirect::to("/masuk").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, header_value(&clear)?);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_signing_in() {
        assert_eq!(local(Some("/kim?stage=kim2")), "/kim?stage=kim2");
        assert_eq!(local(Some("//evil.example/")), "/");
        assert_eq!(local(Some("https://evil.example/")), "/");
        assert_eq!(local(Some("/\\evil.example")), "/");
        assert_eq!(local(None), "/");
    }
}
