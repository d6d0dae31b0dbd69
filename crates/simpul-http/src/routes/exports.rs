//! Exports: `GET /exports/communities` (CSV or XLSX, chosen by `Accept`),
//! `GET /exports/events` and `GET /exports/analytics` (JSON lines). The same tokens and scopes
//! as the queries; the formats live in `simpul_projections::exports`, shared with
//! `simpul export`. Rows are read in pages; CSV and JSON lines are streamed page by page, XLSX is
//! assembled from a constant-memory sheet.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use simpul_app::{AnalyticsEvents, ReadError, ScopedEvents};
use simpul_projections::exports::analytics::{self as analytics_export, Pseudonyms};
use simpul_projections::exports::communities::{
    self as communities_export, CommunityPages, ExportFormat, XlsxExport, CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
};
use simpul_projections::exports::events::{
    EventLine, PersonalData, MEDIA_TYPE as NDJSON_MEDIA_TYPE,
};
use simpul_projections::exports::ExportError;
use simpul_store::KeyStore;
use tokio::sync::mpsc;
use tracing::Instrument as _;
use utoipa::IntoParams;

use super::queries::{invalid, parse_region, position, AppQuery};
use super::ReadErrors;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// Parameters of `GET /exports/communities`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommunityExportParams {
    /// A region prefix at any level: `34`, `34.04`, `34.04.01`, `34.04.01.2001`; defaults to the
    /// token's scope (the whole country for national scopes).
    #[param(
        pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        example = "34.04"
    )]
    region: Option<String>,
}

/// Parameters of `GET /exports/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventExportParams {
    /// Start after this global position (absent or 0: from the beginning). Pass the last line's
    /// `position` to continue.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    after: Option<u64>,
    /// At most this many events (absent: everything committed so far).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    limit: Option<u64>,
}

/// Parameters of `GET /exports/analytics`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsExportParams {
    /// A region prefix at any level: `34`, `34.04`, `34.04.01`, `34.04.01.2001`; defaults to the
    /// token's scope (the whole country for national scopes).
    #[param(
        pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        example = "34.04"
    )]
    region: Option<String>,
    /// Start after this global position (absent or 0: from the beginning). Pass the last line's
    /// `position` to continue.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    after: Option<u64>,
    /// At most this many lines (absent: everything committed so far).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    limit: Option<u64>,
}

/// Every KIM of a region from the `community_summary` read model, ordered by id, with Indonesian
/// column names (`id`, `nama_kim`, `kode_desa`, … `versi`). `Accept: text/csv` (also `*/*` or
/// none) or `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`; any
/// other type is 406.
#[utoipa::path(get, path = "/exports/communities", operation_id = "exportCommunities", tag = "exports",
    params(CommunityExportParams),
    responses(
        (status = 200, description = "A file (`Content-Disposition: attachment`)", content(
            (String = "text/csv"),
            (crate::openapi::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json",
            description = "A query parameter is malformed (`field` names it)"),
        (status = 406, body = crate::error::Problem, content_type = "application/problem+json",
            description = "`Accept` allows neither CSV nor XLSX (`field`: `Accept`)"),
        ReadErrors),
    security(("bearer" = [])))]
pub async fn communities(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<CommunityExportParams>,
) -> Result<Response, ApiError> {
    let format = match negotiate(&headers, &[CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE])? {
        XLSX_MEDIA_TYPE => ExportFormat::Xlsx,
        _ => ExportFormat::Csv,
    };
    let region = params.region.as_deref().map(parse_region).transpose()?;
    let (mut pages, region) = state.reads.community_export(&principal, region.as_ref())?;
    let filename = communities_export::filename(region.as_deref(), format);
    let body = match format {
        ExportFormat::Csv => {
            let first = pages.next_page().await.map_err(export_error)?;
            let head = communities_export::csv_bytes(first.as_deref().unwrap_or_default(), true)
                .map_err(export_error)?;
            stream(Bytes::from(head), Chunks::Communities(pages))
        }
        ExportFormat::Xlsx => {
            let mut workbook = XlsxExport::new().map_err(export_error)?;
            while let Some(rows) = pages.next_page().await.map_err(export_error)? {
                for row in &rows {
                    workbook.write(row).map_err(export_error)?;
                }
            }
            let bytes = tokio::task::spawn_blocking(move || workbook.finish())
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(export_error)?;
            Body::from(bytes)
        }
    };
    Ok(attachment(body, format.content_type(), &filename))
}

/// The event log as JSON lines in feed order (`EventStore::read_all`): position, community id,
/// sequence, event type, event version, payload and metadata. For admin and auditor (the roles
/// that read full histories); a regional auditor gets the events of the KIM in its scope.
/// Officers' names are opened for roles that may read personal data, as in a KIM's history
/// (`[dihapus]` after erasure); otherwise they stay sealed.
#[utoipa::path(get, path = "/exports/events", operation_id = "exportEvents", tag = "exports",
    params(EventExportParams),
    responses(
        (status = 200, description = "One JSON object per line", content(
            (String = "application/x-ndjson"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json",
            description = "A query parameter is malformed (`field` names it)"),
        (status = 406, body = crate::error::Problem, content_type = "application/problem+json",
            description = "`Accept` does not allow `application/x-ndjson` (`field`: `Accept`)"),
        ReadErrors),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<EventExportParams>,
) -> Result<Response, ApiError> {
    negotiate(&headers, &[NDJSON_MEDIA_TYPE])?;
    if params.limit == Some(0) {
        return Err(invalid("limit", "must be at least 1"));
    }
    let after = position("after", params.after)?.unwrap_or(0);
    let mut chunks = EventChunks {
        events: state.reads.event_export(&principal, after)?,
        remaining: params.limit,
        keys: principal
            .may_unseal_personal_data()
            .then(|| state.keys.clone()),
    };
    let first = chunks.next().await?.unwrap_or_default();
    let body = stream(first, Chunks::Events(Box::new(chunks)));
    Ok(attachment(
        body,
        NDJSON_MEDIA_TYPE,
        &format!("simpul-events-after-{after}.jsonl"),
    ))
}

/// The events progression is measured by, as JSON lines in feed order (`position`, `kim`,
/// `event`, the KIM's region codes, the event's own dates, stages and bimtek counts): each KIM's
/// id replaced by a keyed pseudonym, stable for the installation; no names, officers, SK
/// numbers, nomor induk, reasons or actors. For analyst, auditor and admin, in scope.
#[utoipa::path(get, path = "/exports/analytics", operation_id = "exportAnalytics", tag = "exports",
    params(AnalyticsExportParams),
    responses(
        (status = 200, description = "One JSON object per line (`Content-Disposition: attachment`)", content(
            (String = "application/x-ndjson"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json",
            description = "A query parameter is malformed (`field` names it)"),
        (status = 406, body = crate::error::Problem, content_type = "application/problem+json",
            description = "`Accept` does not allow `application/x-ndjson` (`field`: `Accept`)"),
        ReadErrors),
    security(("bearer" = [])))]
pub async fn analytics(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<AnalyticsExportParams>,
) -> Result<Response, ApiError> {
    negotiate(&headers, &[NDJSON_MEDIA_TYPE])?;
    if params.limit == Some(0) {
        return Err(invalid("limit", "must be at least 1"));
    }
    let after = position("after", params.after)?.unwrap_or(0);
    let region = params.region.as_deref().map(parse_region).transpose()?;
    let (lines, region) = state.reads.analytics_export(
        &principal,
        region.as_ref(),
        after,
        Pseudonyms::new(state.keys.analytics_pseudonym_secret()),
    )?;
    let mut chunks = AnalyticsChunks {
        lines,
        remaining: params.limit,
    };
    let first = chunks.next().await?.unwrap_or_default();
    let body = stream(first, Chunks::Analytics(Box::new(chunks)));
    Ok(attachment(
        body,
        NDJSON_MEDIA_TYPE,
        &analytics_export::filename(region.as_deref(), after),
    ))
}

/// What a streamed body reads its next chunk from.
enum Chunks {
    Communities(CommunityPages),
    Events(Box<EventChunks>),
    Analytics(Box<AnalyticsChunks>),
}

impl Chunks {
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        match self {
            Chunks::Communities(pages) => match pages.next_page().await.map_err(export_error)? {
                Some(rows) => Ok(Some(Bytes::from(
                    communities_export::csv_bytes(&rows, false).map_err(export_error)?,
                ))),
                None => Ok(None),
            },
            Chunks::Events(events) => events.next().await,
            Chunks::Analytics(lines) => lines.next().await,
        }
    }
}

/// The analytics export's state between chunks.
struct AnalyticsChunks {
    /// The feed's progression events in the token's scope, pseudonymised.
    lines: AnalyticsEvents,
    remaining: Option<u64>,
}

impl AnalyticsChunks {
    /// The JSON lines of the next batch that has any, or `None` at the end.
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        loop {
            let max = match self.remaining {
                Some(0) => return Ok(None),
                Some(remaining) => remaining,
                None => u64::MAX,
            };
            let Some(batch) = self.lines.next_batch().await? else {
                return Ok(None);
            };
            let mut out = Vec::new();
            for line in batch
                .into_iter()
                .take(usize::try_from(max).unwrap_or(usize::MAX))
            {
                line.write_to(&mut out).map_err(export_error)?;
                if let Some(remaining) = &mut self.remaining {
                    *remaining -= 1;
                }
            }
            if !out.is_empty() {
                return Ok(Some(Bytes::from(out)));
            }
        }
    }
}

/// The events export's state between chunks.
struct EventChunks {
    /// The feed, filtered to the token's scope.
    events: ScopedEvents,
    remaining: Option<u64>,
    /// Keys to open sealed names with, for roles that may read personal data.
    keys: Option<KeyStore>,
}

impl EventChunks {
    /// The JSON lines of the next batch that has any in scope, or `None` at the end.
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        loop {
            let max = match self.remaining {
                Some(0) => return Ok(None),
                Some(remaining) => remaining,
                None => u64::MAX,
            };
            let Some(batch) = self.events.next_batch(max).await? else {
                return Ok(None);
            };
            let mut out = Vec::new();
            for event in batch
                .into_iter()
                .take(usize::try_from(max).unwrap_or(usize::MAX))
            {
                let personal = match &self.keys {
                    Some(keys) => PersonalData::Opened(keys),
                    None => PersonalData::Sealed,
                };
                EventLine::from_stored(event, personal)
                    .await
                    .and_then(|line| line.write_to(&mut out))
                    .map_err(export_error)?;
                if let Some(remaining) = &mut self.remaining {
                    *remaining -= 1;
                }
            }
            if !out.is_empty() {
                return Ok(Some(Bytes::from(out)));
            }
        }
    }
}

/// A body that sends `first`, then every further chunk as it is read (at most two chunks ahead
/// of the client). A failure after the headers are out ends the body early, so the client sees a
/// broken transfer rather than a silently short file.
fn stream(first: Bytes, mut chunks: Chunks) -> Body {
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let producer = async move {
        if sender.send(Ok(first)).await.is_err() {
            return;
        }
        loop {
            let item = match chunks.next().await {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => return,
                Err(error) => {
                    tracing::error!(%error, "export stopped after the response began");
                    Err(std::io::Error::other(error.to_string()))
                }
            };
            let failed = item.is_err();
            if sender.send(item).await.is_err() || failed {
                return;
            }
        }
    };
    tokio::spawn(producer.instrument(tracing::Span::current()));
    Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ))
}

fn attachment(body: Body, content_type: &'static str, filename: &str) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

fn export_error(error: ExportError) -> ApiError {
    ReadError::from(error).into()
}

/// The offered media type the `Accept` header prefers (highest q-value, then the order
/// offered); without the header, the first offered. 406 when it allows none of them.
pub(crate) fn negotiate(
    headers: &HeaderMap,
    offered: &[&'static str],
) -> Result<&'static str, ApiError> {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let ranges: Vec<(String, f32)> = values
        .iter()
        .flat_map(|value| value.split(','))
        .filter_map(media_range)
        .collect();
    if ranges.is_empty() {
        if let Some(first) = offered.first() {
            return Ok(first);
        }
    }
    let mut best: Option<(&'static str, f32)> = None;
    for media in offered {
        let q = quality(&ranges, media);
        if q > 0.0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((media, q));
        }
    }
    best.map(|(media, _)| media).ok_or_else(|| {
        ApiError::NotAcceptable(format!(
            "the Accept header (`{}`) allows none of the types offered here: {}",
            values.join(", "),
            offered.join(", ")
        ))
    })
}

/// `text/csv;q=0.5` → (`text/csv`, 0.5).
fn media_range(text: &str) -> Option<(String, f32)> {
    let mut parts = text.split(';');
    let media = parts.next()?.trim().to_ascii_lowercase();
    if media.is_empty() {
        return None;
    }
    let mut q = 1.0;
    for parameter in parts {
        if let Some((name, value)) = parameter.split_once('=') {
            if name.trim().eq_ignore_ascii_case("q") {
                q = value.trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0);
            }
        }
    }
    Some((media, q))
}

/// The q-value of `media` under the most specific matching range: exact, `type/*`, `*/*`.
fn quality(ranges: &[(String, f32)], media: &str) -> f32 {
    let kind = media.split('/').next().unwrap_or(media);
    let best = |pattern: &str| {
        ranges
            .iter()
            .filter(|(range, _)| range == pattern)
            .map(|(_, q)| *q)
            .reduce(f32::max)
    };
    best(media)
        .or_else(|| best(&format!("{kind}/*")))
        .or_else(|| best("*/*"))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::ACCEPT, value);
        }
        headers
    }

    #[test]
    fn negotiation_prefers_the_highest_quality_then_the_order_offered() {
        let offered = [CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE];
        let pick = |value: &str| negotiate(&accept(value), &offered).ok();
        assert_eq!(
            negotiate(&HeaderMap::new(), &offered).ok(),
            Some(CSV_MEDIA_TYPE)
        );
        assert_eq!(pick("*/*"), Some(CSV_MEDIA_TYPE));
        assert_eq!(pick("text/csv; charset=utf-8"), Some(CSV_MEDIA_TYPE));
        assert_eq!(pick(XLSX_MEDIA_TYPE), Some(XLSX_MEDIA_TYPE));
        assert_eq!(
            pick("text/csv;q=0.4, application/*;q=0.9"),
            Some(XLSX_MEDIA_TYPE)
        );
        assert_eq!(pick("text/html, */*;q=0.8"), Some(CSV_MEDIA_TYPE));
        assert_eq!(pick("application/json"), None);
        assert_eq!(pick("text/csv;q=0, application/json"), None);
    }
}
