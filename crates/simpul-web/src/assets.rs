//! The pages' assets, embedded in the binary (no CDN, no build step) and served with a long
//! cache lifetime of a day under a name that carries the version.

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;

/// The stylesheet.
pub const CSS: &str = include_str!("../assets/simpul.css");
/// The icon.
pub const ICON: &str = include_str!("../assets/simpul.svg");

/// Where the stylesheet is served (the version in the name: a release is a new URL).
pub const CSS_PATH: &str = concat!("/aset/simpul-", env!("CARGO_PKG_VERSION"), ".css");
/// Where the icon is served.
pub const ICON_PATH: &str = concat!("/aset/simpul-", env!("CARGO_PKG_VERSION"), ".svg");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        body,
    )
}

/// `GET` the stylesheet.
pub async fn css() -> impl IntoResponse {
    asset("text/css; charset=utf-8", CSS)
}

/// `GET` the icon.
pub async fn icon() -> impl IntoResponse {
    asset("image/svg+xml", ICON)
}
