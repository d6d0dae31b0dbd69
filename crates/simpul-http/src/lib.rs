//! The HTTP API of Simpul: axum routes under `/api/v1`, bearer tokens with role and scope,
//! RFC 9457 problems, OpenAPI at `/api/openapi.json` and Swagger UI at `/api/docs`.
//!
//! Invariant: turns HTTP into application calls and back; reaches no further than `simpul-app`
//! for decisions (the store is used for reads and keys only).

mod dto;
mod error;
mod extract;
mod openapi;
mod routes;
mod serve;
mod state;
pub mod views;

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, Problem};
/// The parameter checks the API's reads use, for other front ends of the same reads (the web
/// application).
pub use routes::queries::{check_time, event_type};
pub use serve::{serve_with_limits, Limits};
pub use state::AppState;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The API router and its OpenAPI document.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use routes::{
        analytics, bimtek, communities, exports, health, imports, ledger, queries, regions,
    };
    let (v1, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(communities::form))
        .routes(routes!(communities::show))
        .routes(routes!(communities::events))
        .routes(routes!(communities::appoint_officer))
        .routes(routes!(communities::dismiss_officer))
        .routes(routes!(communities::members))
        .routes(routes!(communities::issue_sk))
        .routes(routes!(communities::revoke_sk))
        .routes(routes!(communities::registration))
        .routes(routes!(communities::bimtek))
        .routes(routes!(bimtek::create))
        .routes(routes!(communities::activity))
        .routes(routes!(communities::media_channel))
        .routes(routes!(communities::deactivate_media_channel))
        .routes(routes!(communities::enterprise))
        .routes(routes!(communities::deactivate_enterprise))
        .routes(routes!(communities::stage))
        .routes(routes!(communities::suspend))
        .routes(routes!(communities::reactivate))
        .routes(routes!(communities::dissolve))
        .routes(routes!(queries::list))
        .routes(routes!(queries::stages))
        .routes(routes!(queries::projections))
        .routes(routes!(queries::audit))
        .routes(routes!(queries::changes))
        .routes(routes!(queries::stage_transitions))
        .routes(routes!(analytics::time_to_stage))
        .routes(routes!(analytics::funnel))
        .routes(routes!(analytics::bimtek_effect))
        .routes(routes!(analytics::trends))
        .routes(routes!(analytics::compare))
        .routes(routes!(ledger::checkpoint))
        .routes(routes!(ledger::checkpoints))
        .routes(routes!(ledger::inclusion))
        .routes(routes!(ledger::consistency))
        .routes(routes!(exports::communities))
        .routes(routes!(exports::events))
        .routes(routes!(exports::analytics))
        .routes(routes!(imports::create))
        .routes(routes!(regions::show))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .split_for_parts();
    (v1, document)
}

/// The OpenAPI document `/api/openapi.json` serves.
pub fn openapi_document() -> serde_json::Value {
    openapi::document(api().1)
}

/// The whole server: API, docs, health, request ids, tracing, the body size limit and the
/// body-read timeout of `limits`.
pub fn app(state: AppState, limits: &Limits) -> Router {
    app_with_pages(state, limits, Router::new())
}

/// [`app`] with `pages` (the web application, `simpul-web`) served beside the API, under the
/// same request ids, tracing, limits and headers; the pages set their own content security
/// policy.
pub fn app_with_pages(state: AppState, limits: &Limits, pages: Router<AppState>) -> Router {
    let (v1, document) = api();
    // Serialised once and shared: the router's handlers are cloned for every connection, and a
    // captured `OpenApi` value made each idle connection cost about 2 MB.
    let document = axum::body::Bytes::from(
        serde_json::to_vec(&openapi::document(document)).unwrap_or_default(),
    );
    let health = Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz));
    // API answers may carry personal data: no cache keeps them.
    let v1 = v1.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ));
    Router::new()
        .nest("/api/v1", v1)
        .merge(health)
        .route(
            "/api/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .route(
            "/api/docs",
            get(openapi::docs_page).layer(SetResponseHeaderLayer::overriding(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(openapi::DOCS_CSP),
            )),
        )
        .route("/api/docs/", get(|| async { Redirect::permanent("/api/docs") }))
        .route("/api/docs/init.js", get(openapi::docs_init))
        .route("/api/docs/swagger-ui-bundle.js", get(openapi::swagger_bundle))
        .route("/api/docs/swagger-ui.css", get(openapi::swagger_css))
        .merge(pages)
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // On every response: no content sniffing, no framing, and (unless the docs page set its
        // own) a policy that lets an answer load nothing.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or_default();
            // The path only: a query string may carry what must not be logged.
            tracing::info_span!("request", request.id = id, method = %request.method(), path = %request.uri().path())
        })
        // Failures are logged once, where they are handled (`ApiError`): a 500 as an error, an
        // outage's 503 as a warning; not again here as an ERROR for every 5xx.
        .on_failure(()))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(bounded_request_id))
}

/// The longest `X-Request-Id` kept: longer ones (or any with other than visible ASCII) are
/// replaced by a fresh id, so what is echoed is what every event of the request stores.
pub const MAX_REQUEST_ID: usize = 128;

/// Drops an `X-Request-Id` that is too long or not visible ASCII; `SetRequestIdLayer` then
/// generates one.
async fn bounded_request_id(mut request: Request<axum::body::Body>) -> Request<axum::body::Body> {
    let acceptable = request.headers().get("x-request-id").map(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID
            && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
    });
    if acceptable == Some(false) {
        request.headers_mut().remove("x-request-id");
    }
    request
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes in-flight requests,
/// with the default [`Limits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::default();
    serve_with_limits(listener, app(state, &limits), limits, shutdown).await
}
