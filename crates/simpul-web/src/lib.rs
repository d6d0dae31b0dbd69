//! The supervisors' web application (`docs/web.md`): server-rendered pages in Bahasa Indonesia
//! (English on request), served by `simpul serve` beside the API, over the same reads, writes
//! and access policy. Signing in at `/masuk` with an API token opens a server-side session.
//!
//! Handlers are thin: they take a [`session::Visitor`] (the token's principal), call the
//! application's `Reads` as the JSON endpoints do, and render with maud. Charts are SVG drawn
//! here; the stylesheet is embedded; there is no script.

mod assets;
mod cookies;
mod error;
pub mod i18n;
mod layout;
mod map;
mod pages;
mod session;
mod svg;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use simpul_http::AppState;
use tower_http::set_header::SetResponseHeaderLayer;

pub use session::{WebSettings, SESSION_COOKIE};

/// The pages' content security policy: their own stylesheet and images, inline SVG, no script,
/// forms only to this site, never framed.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The web application's routes, to be merged beside the API.
pub fn pages(settings: WebSettings) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::region::home))
        .route(
            "/masuk",
            get(pages::sign_in::show).post(pages::sign_in::submit),
        )
        .route(
            "/keluar",
            get(pages::sign_in::confirm).post(pages::sign_in::submit_sign_out),
        )
        .route(
            "/bimtek",
            get(pages::bimtek::show).post(pages::bimtek::submit),
        )
        .route("/analitik", get(pages::analytics::index))
        .route("/analitik/waktu", get(pages::analytics::time_to_stage))
        .route("/analitik/corong", get(pages::analytics::funnel))
        .route("/analitik/bimtek", get(pages::analytics::bimtek_effect))
        .route("/analitik/tren", get(pages::analytics::trends))
        .route("/analitik/banding", get(pages::analytics::compare))
        .route("/audit", get(pages::audit::trail))
        .route("/audit/unduh", get(pages::audit::download))
        .route("/status", get(pages::audit::status))
        .route("/wilayah", get(pages::region::country))
        .route("/wilayah/{code}", get(pages::region::region))
        .route("/kim", get(pages::kim::list))
        .route("/kim/unduh", get(pages::kim::download))
        .route("/kim/{id}", get(pages::kim::show))
        .route(assets::CSS_PATH, get(assets::css))
        .route(assets::ICON_PATH, get(assets::icon))
        .layer(axum::middleware::from_fn(error::error_pages))
        .layer(axum::middleware::from_fn(remember_lang))
        .layer(Extension(settings))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// `?lang=` on any page is remembered for a year.
async fn remember_lang(request: Request, next: Next) -> Response {
    let (lang, asked) = i18n::Lang::of_request(request.uri().query(), request.headers());
    let secure = request
        .extensions()
        .get::<WebSettings>()
        .copied()
        .unwrap_or_default()
        .secure(request.headers());
    let mut response = next.run(request).await;
    if asked {
        let cookie = cookies::set(
            i18n::LANG_COOKIE,
            lang.code(),
            cookies::CookieOptions {
                secure,
                http_only: true,
                max_age: Some(365 * 24 * 3600),
            },
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}
