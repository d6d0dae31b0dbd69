//! The OpenAPI document and the Swagger UI, served from vendored assets (no CDN).

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::RefOr;
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
    components(schemas(crate::error::Problem, crate::routes::queries::EventType)),
    tags(
        (name = "communities", description = "KIM: pembentukan, pengurus, SK, nomor induk, bimtek, tahap"),
        (name = "regions", description = "Kode wilayah Kemendagri 2025"),
        (name = "analytics", description = "Analitik tahap: waktu ke tahap (Kaplan–Meier), corong kohort, efek bimtek, tren, perbandingan wilayah"),
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

/// A file's bytes (an XLSX workbook), for the document: `type: string, format: binary`.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// The document as served: what the handlers declare, plus what every operation shares — the
/// request and response headers, and links from a formed KIM to the operations on it. Built
/// once at start-up.
pub fn document(declared: utoipa::openapi::OpenApi) -> Value {
    let mut document = serde_json::to_value(declared).unwrap_or_else(|_| json!({}));
    add_shared_components(&mut document);
    let ids = operations_on_a_community(&document);
    let Some(paths) = document["paths"].as_object_mut() else {
        return document;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let write = method == "post" || method == "put";
            // A command on one KIM takes an Idempotency-Key and If-Match and answers its version
            // (`ETag`); a bimtek session over many KIM takes an Idempotency-Key only.
            let command = write && path.starts_with("/communities");
            let idempotent = command || (write && path == "/bimtek-sessions");
            let mut parameters = vec![json!({"$ref": "#/components/parameters/RequestId"})];
            if idempotent {
                parameters.push(json!({"$ref": "#/components/parameters/IdempotencyKey"}));
            }
            if command {
                parameters.push(json!({"$ref": "#/components/parameters/IfMatch"}));
            }
            match operation["parameters"].as_array_mut() {
                Some(declared) => declared.extend(parameters),
                None => operation["parameters"] = Value::Array(parameters),
            }
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let mut headers = response["headers"].as_object().cloned().unwrap_or_default();
                let mut shared = |name: &str, component: &str| {
                    let reference = format!("#/components/headers/{component}");
                    headers.insert(name.to_owned(), json!({"$ref": reference}));
                };
                shared("X-Request-Id", "RequestId");
                match status.as_str() {
                    "401" => shared("WWW-Authenticate", "WWWAuthenticate"),
                    "503" => shared("Retry-After", "RetryAfter"),
                    "409" if idempotent => shared("Retry-After", "RetryAfter"),
                    "200" | "201" if idempotent => {
                        if command {
                            shared("ETag", "ETag");
                        }
                        shared("Idempotent-Replayed", "IdempotentReplayed");
                    }
                    "200" if path == "/communities/{id}" => shared("ETag", "ETag"),
                    _ => {}
                }
                if status.starts_with('2')
                    && (path.starts_with("/exports")
                        || path == "/communities"
                        || path == "/dashboard/stages")
                {
                    shared("Content-Disposition", "ContentDisposition");
                }
                response["headers"] = Value::Object(headers);
                if path == "/communities" && method == "post" && status == "201" {
                    response["links"] = links_to(&ids);
                }
            }
        }
    }
    document
}

/// `operationId`s of the operations whose path has the community `{id}`.
fn operations_on_a_community(document: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            if !path.starts_with("/communities/{id}") {
                continue;
            }
            if let Some(item) = item.as_object() {
                for operation in item.values() {
                    if let Some(id) = operation["operationId"].as_str() {
                        ids.push(id.to_owned());
                    }
                }
            }
        }
    }
    ids
}

/// Links from a `201` of `POST /communities` to every operation on the new KIM.
fn links_to(ids: &[String]) -> Value {
    let links: serde_json::Map<String, Value> = ids
        .iter()
        .map(|id| {
            let link = json!({
                "operationId": id,
                "parameters": {"id": "$response.body#/id"},
                "description": "The KIM just formed",
            });
            (id.clone(), link)
        })
        .collect();
    Value::Object(links)
}

/// The headers every operation shares, declared once under `components`.
fn add_shared_components(document: &mut Value) {
    let visible_ascii = "^[!-~]+$";
    document["components"]["parameters"] = json!({
        "RequestId": {
            "name": "X-Request-Id", "in": "header", "required": false,
            "description": "Correlates the request with the log and with every event it writes. \
                Echoed in the response; one of more than 128 characters, or with other than \
                visible ASCII, is replaced by a fresh id.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": visible_ascii},
            "example": "3f6c2b1e-5d0a-4c6f-9a43-2b7d9e1c0a51"
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Makes the write safe to retry: the same key with the same body answers \
                the first response again (`Idempotent-Replayed: true`); with another body, 422; \
                while the first is still running, 409 with `Retry-After`. Kept per token.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": visible_ascii},
            "example": "b1c7e2e0-0a4f-4f55-8d0e-5e3f7c9a6d21"
        },
        "IfMatch": {
            "name": "If-Match", "in": "header", "required": false,
            "description": "The KIM's version the client last saw (its `ETag`, e.g. `\"3\"`): \
                the write is refused with 412 if another came first.",
            "schema": {"type": "string", "pattern": "^(W/)?\"?[0-9]{1,19}\"?$"},
            "example": "\"3\""
        }
    });
    document["components"]["headers"] = json!({
        "RequestId": {
            "description": "The request's id: the client's `X-Request-Id`, or one generated.",
            "schema": {"type": "string"}
        },
        "ETag": {
            "description": "The KIM's version after this response, quoted (for `If-Match`).",
            "schema": {"type": "string", "pattern": "^\"[0-9]+\"$"}
        },
        "IdempotentReplayed": {
            "description": "`true` when this is the first response to the same `Idempotency-Key`, \
                sent again.",
            "schema": {"type": "string", "enum": ["true"]}
        },
        "RetryAfter": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"}
        },
        "WWWAuthenticate": {
            "description": "`Bearer`, with the error when a token was sent.",
            "schema": {"type": "string"}
        },
        "ContentDisposition": {
            "description": "`attachment; filename=\"…\"` for a file download (CSV, XLSX, JSON lines).",
            "schema": {"type": "string"}
        }
    });
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
