//! Errors of the pages: the same classes as the API's (`ApiError`), answered with a page in the
//! visitor's language. A handler returns a [`WebError`]; its response carries only the status and
//! an [`ErrorPage`] extension, which the router's `error_pages` layer (which knows the request's
//! language) turns into the page.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use simpul_http::ApiError;

use crate::i18n::Lang;
use crate::layout;

/// A page that could not be shown.
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    /// What the visitor may be told (never an internal detail).
    detail: Option<String>,
}

impl WebError {
    /// 404: no such page, or one outside the visitor's scope.
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            detail: None,
        }
    }

    /// 400 with what is wrong (a field and its rule).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            detail: Some(detail.into()),
        }
    }

    /// 403: a form without its session's anti-forgery value.
    pub fn forged() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            detail: Some("csrf".to_owned()),
        }
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> Self {
        let status = error.status();
        let detail = match &error {
            ApiError::Malformed { .. } | ApiError::Forbidden(_) | ApiError::Conflict { .. } => {
                Some(error.to_string())
            }
            ApiError::Unprocessable(domain) => Some(domain.to_string()),
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, "page failed");
                None
            }
            _ => None,
        };
        Self { status, detail }
    }
}

impl From<simpul_app::ReadError> for WebError {
    fn from(error: simpul_app::ReadError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<simpul_store::StoreError> for WebError {
    fn from(error: simpul_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

/// The status and detail of an error page still to be rendered.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    detail: Option<String>,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(ErrorPage {
            detail: self.detail,
        });
        response
    }
}

/// Renders every [`ErrorPage`] (and any other empty 404 of the pages) in the request's language.
pub async fn error_pages(request: Request, next: Next) -> Response {
    let lang = Lang::of_request(request.uri().query(), request.headers()).0;
    let response = next.run(request).await;
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let status = response.status();
    let (title, text) = match status {
        StatusCode::NOT_FOUND => (
            lang.tr("Halaman tidak ditemukan", "Page not found"),
            lang.tr(
                "Halaman ini tidak ada, atau berada di luar wilayah token Anda.",
                "This page does not exist, or it is outside your token's region.",
            ),
        ),
        StatusCode::FORBIDDEN if page.detail.as_deref() == Some("csrf") => (
            lang.tr("Formulir ditolak", "Form refused"),
            lang.tr(
                "Formulir ini tidak membawa kode keamanan sesi Anda (CSRF). Muat ulang halaman lalu kirim lagi.",
                "This form did not carry your session's security code (CSRF). Reload the page and send it again.",
            ),
        ),
        StatusCode::FORBIDDEN => (
            lang.tr("Tidak diizinkan", "Not allowed"),
            lang.tr(
                "Peran token Anda tidak boleh melakukan ini.",
                "Your token's role may not do this.",
            ),
        ),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT => (
            lang.tr("Permintaan tidak dapat diproses", "The request cannot be processed"),
            lang.tr("Periksa isian berikut:", "Check the following:"),
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            lang.tr("Layanan sedang tidak tersedia", "Service unavailable"),
            lang.tr(
                "Basis data tidak dapat dihubungi. Coba lagi sebentar lagi.",
                "The database cannot be reached. Try again shortly.",
            ),
        ),
        _ => (
            lang.tr("Terjadi kesalahan", "Something went wrong"),
            lang.tr(
                "Kesalahan ini telah dicatat di log server.",
                "The error was written to the server's log.",
            ),
        ),
    };
    let detail = page.detail.filter(|detail| detail != "csrf");
    let body = layout::bare(lang, title, text, detail.as_deref());
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (parts, Html(body.into_string())).into_response()
}
