//! The OpenAPI document and the Swagger UI, served from vendored assets (no CDN).

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts; paths are collected from the handlers by `utoipa_axum::routes!`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Simpul API",
        description = "Riwayat lengkap setiap KIM (Komunitas Informasi Masyarakat) sebagai log \
            peristiwa yang hanya bertambah. / The full history of every KIM as an append-only \
            event log. Errors are RFC 9457 problem+json with `rule` (R1–R11) and `field`.",
        license(name = "Apache-2.0")
    ),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem)),
    tags(
        (name = "communities", description = "KIM: pembentukan, pengurus, SK, nomor induk, bimtek, tahap"),
        (name = "regions", description = "Kode wilayah Kemendagri 2025"),
        (name = "exports", description = "Ekspor KIM (CSV, XLSX) dan log peristiwa (JSON lines)"),
        (name = "imports", description = "Impor registri KIM yang sudah ada (CSV), semua atau tidak sama sekali"),
        (name = "operations", description = "Health and readiness")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

const SWAGGER_BUNDLE: &str = include_str!("../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &str = include_str!("../assets/swagger-ui/swagger-ui.css");

/// `GET /api/docs`.
pub async fn docs_page() -> Html<&'static str> {
    Html(
        r##"<!doctype html>
<html lang="id">
<head>
  <meta charset="utf-8">
  <title>Simpul API — dokumentasi</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>"##,
    )
}

/// What the docs page may load: its own scripts and styles (Swagger UI sets inline styles and
/// data: images), nothing framed, nothing else.
pub const DOCS_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// `GET /api/docs/init.js`: starts Swagger UI (a file, not an inline script, so the page's CSP
/// can forbid inline scripts).
pub async fn docs_init() -> Response {
    asset(
        "window.ui = SwaggerUIBundle({ url: \"/api/openapi.json\", dom_id: \"#swagger-ui\" });\n",
        "text/javascript; charset=utf-8",
    )
}

/// `GET /api/docs/swagger-ui-bundle.js`.
pub async fn swagger_bundle() -> Response {
    asset(SWAGGER_BUNDLE, "text/javascript; charset=utf-8")
}

/// `GET /api/docs/swagger-ui.css`.
pub async fn swagger_css() -> Response {
    asset(SWAGGER_CSS, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
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
        .into_response()
}
