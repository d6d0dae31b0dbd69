//! `/communities`: forming a KIM, every command on it, its current state and its history.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use simpul_app::{Action, Appointment, AsOf, Request};
use simpul_domain::commands::*;
use simpul_domain::events::Eligibility;
use simpul_domain::CommunityCommand;
use utoipa::IntoParams;
use uuid::Uuid;

use super::queries::{invalid, AppQuery};
use super::{execute, update, QueryErrors, WriteErrors, WriteRequest, Written};
use crate::dto::*;
use crate::error::ApiError;
use crate::extract::{AppJson, Auth, IdempotencyKey, IfMatch, ReqId};
use crate::state::AppState;
use crate::views::{self, AsOfView, CommunityView, HistoryEntry};

/// What every write reads besides its body: its headers, and its route as requested.
pub struct WriteHeaders {
    /// Method and path (below `/api/v1`), e.g. `POST /communities/<id>/sk`: an
    /// Idempotency-Key's digest covers them, so a key sent again to another KIM or route is
    /// another request.
    route: String,
    request_id: String,
    if_match: Option<u64>,
    idempotency_key: Option<String>,
}

impl WriteHeaders {
    fn request(self, digest: &str) -> WriteRequest {
        WriteRequest::new(
            &self.route,
            digest,
            self.request_id,
            self.if_match,
            self.idempotency_key,
        )
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for WriteHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let ReqId(request_id) = ReqId::from_request_parts(parts, state).await?;
        let IfMatch(if_match) = IfMatch::from_request_parts(parts, state).await?;
        let IdempotencyKey(idempotency_key) =
            IdempotencyKey::from_request_parts(parts, state).await?;
        Ok(Self {
            // Inside the `/api/v1` router, the path is the route's own (the prefix is stripped).
            route: format!("{} {}", parts.method, parts.uri.path()),
            request_id,
            if_match,
            idempotency_key,
        })
    }
}

/// Record the formation of a KIM (R1, R2, R3). A government role records it on the community's
/// behalf and must name who initiated it; the new KIM starts at KIM 1.
#[utoipa::path(post, path = "/communities", operation_id = "formCommunity", tag = "communities",
    request_body = FormCommunityBody,
    responses((status = 201, description = "Formed", body = Created,
               headers(("Location" = String, description = "`/api/v1/communities/{id}`"))), WriteErrors),
    security(("bearer" = [])))]
pub async fn form(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: WriteHeaders,
    body: AppJson<FormCommunityBody>,
) -> Result<Response, ApiError> {
    let value = body.value;
    let id = value.id.unwrap_or_else(Uuid::now_v7).to_string();
    let command = CommunityCommand::FormCommunity(FormCommunity {
        name: value.name,
        village: value.village,
        formed_on: value.formed_on,
        origin_group: value.origin_group,
        member_count: value.member_count,
        initiated_by: value.initiated_by,
        recorded_by_role: principal.role,
    });
    let request = headers.request(&body.digest);
    execute(
        &state,
        &principal,
        &id,
        Request::Command(command),
        request,
        Written::Created,
    )
    .await
}

/// Parameters of a KIM's state and history "as of" a past moment.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AsOfParams {
    /// What the registry had recorded by then: a date (`2024-12-31`, to the end of that day,
    /// UTC) or an RFC 3339 time (`2024-12-31T17:00:00+07:00`).
    #[param(example = "2024-12-31")]
    as_of: Option<String>,
    /// Everything up to and including this ledger index.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    at_index: Option<u64>,
    /// Wait (at most 2 s) until the read models (here: the ledger's indexes) include the event
    /// at this global position, as a write answered it; past the log's end is a 400.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

impl AsOfParams {
    /// The moment asked for, if any; 400 naming the field when it does not read.
    fn moment(&self) -> Result<Option<AsOf>, ApiError> {
        match (&self.as_of, self.at_index) {
            (Some(_), Some(_)) => Err(invalid("at_index", "give `as_of` or `at_index`, not both")),
            (None, Some(index)) => {
                super::queries::position("at_index", Some(index))?;
                Ok(Some(AsOf::Index(index)))
            }
            (Some(text), None) => AsOf::time(text)
                .map(|time| Some(AsOf::Time(time)))
                .map_err(|error| invalid("as_of", &error)),
            (None, None) => Ok(None),
        }
    }
}

/// A KIM's current state, folded from its events, with `ETag: "<version>"`; with `as_of` or
/// `at_index`, its state then, stamped with the ledger index it is as of (404 if it had no
/// event by then).
#[utoipa::path(get, path = "/communities/{id}", operation_id = "getCommunity", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id"), AsOfParams),
    responses((status = 200, description = "The KIM as of its last event, or as of the moment asked", body = CommunityView), QueryErrors),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    AppQuery(params): AppQuery<AsOfParams>,
) -> Result<Response, ApiError> {
    // One read of the stream: the state that is authorised is the state that is shown.
    let reads = super::queries::reads(&state, params.min_position)?;
    let (read, stamp) = match params.moment()? {
        Some(moment) => {
            let (read, stamp) = reads
                .community_as_of(&principal, Action::ReadCommunity, &id, moment)
                .await?;
            (read, Some(stamp))
        }
        None => (
            reads
                .community(&principal, Action::ReadCommunity, &id)
                .await?,
            None,
        ),
    };
    let folded = views::Folded::of(read);
    let mut view = views::community_view(&state, &principal, &id, &folded).await?;
    view.as_of = stamp.map(|stamp| AsOfView {
        ledger_index: stamp.ledger_index,
        recorded_at: stamp.recorded_at,
    });
    let etag = HeaderValue::from_str(&format!("\"{}\"", view.version))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([(header::ETAG, etag)], Json(view)).into_response())
}

/// The full history of a KIM: every event with its sequence, global position, type, payload,
/// time, actor, role, request id and reason. Officers' names are opened only for roles that may
/// read personal data; `[dihapus]` after erasure.
/// With `as_of` or `at_index`: the events up to that moment only.
#[utoipa::path(get, path = "/communities/{id}/events", operation_id = "getCommunityHistory", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id"), AsOfParams),
    responses((status = 200, description = "Every event, oldest first", body = Vec<HistoryEntry>), QueryErrors),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    AppQuery(params): AppQuery<AsOfParams>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let reads = super::queries::reads(&state, params.min_position)?;
    let read = match params.moment()? {
        Some(moment) => {
            reads
                .community_as_of(&principal, Action::ReadTimeline, &id, moment)
                .await?
                .0
        }
        None => {
            reads
                .community(&principal, Action::ReadTimeline, &id)
                .await?
        }
    };
    Ok(Json(views::history(&state, &principal, read.events).await?))
}

/// Appoint an officer (R4, R5). The name and contact are sealed with the person's own key.
#[utoipa::path(post, path = "/communities/{id}/officers", operation_id = "appointOfficer", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = AppointOfficerBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn appoint_officer(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<AppointOfficerBody>,
) -> Result<Response, ApiError> {
    let value = body.value;
    let appointment = Appointment {
        person_id: value.person_id,
        role: value.role,
        bidang: value.bidang,
        name: value.name,
        contact: value.contact,
        appointed_on: value.appointed_on,
        eligibility: Eligibility {
            not_asn: value.eligibility.not_asn,
            no_criminal_record: value.eligibility.no_criminal_record,
            no_party_affiliation: value.eligibility.no_party_affiliation,
            no_ngo_affiliation: value.eligibility.no_ngo_affiliation,
        },
    };
    let request = headers.request(&body.digest);
    let appoint = Request::Appoint(appointment);
    execute(&state, &principal, &id, appoint, request, Written::Updated).await
}

/// Dismiss an active officer, with a reason (R10).
#[utoipa::path(post, path = "/communities/{id}/officers/{person_id}/dismiss", operation_id = "dismissOfficer", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id"),
           ("person_id" = Uuid, Path, description = "The officer")),
    request_body = ReasonBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn dismiss_officer(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, person_id)): Path<(String, String)>,
    headers: WriteHeaders,
    body: AppJson<ReasonBody>,
) -> Result<Response, ApiError> {
    let person_id = Uuid::parse_str(&person_id).map_err(|_| ApiError::NotFound)?;
    let command = CommunityCommand::DismissOfficer(DismissOfficer {
        person_id,
        dismissed_on: body.value.effective_on,
        reason: body.value.reason,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Set the member count (R1: 3–30).
#[utoipa::path(put, path = "/communities/{id}/members", operation_id = "updateMemberCount", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = MembersBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn members(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<MembersBody>,
) -> Result<Response, ApiError> {
    let command = CommunityCommand::UpdateMemberCount(UpdateMemberCount {
        member_count: body.value.member_count,
        effective_on: body.value.effective_on,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Record the village head's SK establishing the KIM (R6, R7).
#[utoipa::path(post, path = "/communities/{id}/sk", operation_id = "issueSk", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = SkBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn issue_sk(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<SkBody>,
) -> Result<Response, ApiError> {
    let value = body.value;
    let command = CommunityCommand::IssueSk(IssueSk {
        number: value.number,
        issued_on: value.issued_on,
        subject: value.subject,
        issuing_office: value.issuing_office,
        signed_by: value.signed_by,
        roster_acknowledged: value.roster_acknowledged,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Revoke the active SK, with a reason (R10).
#[utoipa::path(post, path = "/communities/{id}/sk/revoke", operation_id = "revokeSk", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = ReasonBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn revoke_sk(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<ReasonBody>,
) -> Result<Response, ApiError> {
    let command = CommunityCommand::RevokeSk(RevokeSk {
        revoked_on: body.value.effective_on,
        reason: body.value.reason,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Assign the nomor induk (R8: active SK, the KIM's own kabupaten/kota, unique there).
#[utoipa::path(post, path = "/communities/{id}/registration", operation_id = "assignNomorInduk", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = RegistrationBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn registration(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<RegistrationBody>,
) -> Result<Response, ApiError> {
    let command = CommunityCommand::AssignRegistrationNumber(AssignRegistrationNumber {
        number: body.value.number,
        regency: body.value.regency,
        assigned_on: body.value.assigned_on,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Record attendance at a bimtek (or workshop, sarasehan, forum diskusi).
#[utoipa::path(post, path = "/communities/{id}/bimtek", operation_id = "recordBimtek", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = BimtekBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn bimtek(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<BimtekBody>,
) -> Result<Response, ApiError> {
    let value = body.value;
    let command = CommunityCommand::RecordBimtek(RecordBimtek {
        session_id: value.session_id.unwrap_or_else(Uuid::new_v4),
        kind: value.kind,
        title: value.title,
        held_on: value.held_on,
        organizer_region: value.organizer_region,
        participants: value.participants,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Record an activity (forum, development agent, dissemination, aspiration, networking).
#[utoipa::path(post, path = "/communities/{id}/activities", operation_id = "recordActivity", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = ActivityBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn activity(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<ActivityBody>,
) -> Result<Response, ApiError> {
    let value = body.value;
    let command = CommunityCommand::RecordActivity(RecordActivity {
        activity_id: value.activity_id.unwrap_or_else(Uuid::new_v4),
        kind: value.kind,
        title: value.title,
        held_on: value.held_on,
        participants: value.participants,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Register a new-media channel (website, social media, messaging): evidence for KIM 3.
#[utoipa::path(post, path = "/communities/{id}/media-channels", operation_id = "registerMediaChannel", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = MediaChannelBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn media_channel(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<MediaChannelBody>,
) -> Result<Response, ApiError> {
    let value = body.value;
    let command = CommunityCommand::RegisterMediaChannel(RegisterMediaChannel {
        channel_id: value.channel_id.unwrap_or_else(Uuid::new_v4),
        kind: value.kind,
        name: value.name,
        url: value.url,
        registered_on: value.registered_on,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Deactivate a media channel, with a reason (R10).
#[utoipa::path(post, path = "/communities/{id}/media-channels/{cid}/deactivate", operation_id = "deactivateMediaChannel", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id"),
           ("cid" = Uuid, Path, description = "The channel")),
    request_body = ReasonBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn deactivate_media_channel(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, channel_id)): Path<(String, String)>,
    headers: WriteHeaders,
    body: AppJson<ReasonBody>,
) -> Result<Response, ApiError> {
    let channel_id = Uuid::parse_str(&channel_id).map_err(|_| ApiError::NotFound)?;
    let command = CommunityCommand::DeactivateMediaChannel(DeactivateMediaChannel {
        channel_id,
        deactivated_on: body.value.effective_on,
        reason: body.value.reason,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Register an e-business (online shop or marketplace presence): evidence for KIM 4.
#[utoipa::path(post, path = "/communities/{id}/enterprises", operation_id = "registerEBusiness", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = EnterpriseBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn enterprise(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<EnterpriseBody>,
) -> Result<Response, ApiError> {
    let value = body.value;
    let command = CommunityCommand::RegisterEBusiness(RegisterEBusiness {
        enterprise_id: value.enterprise_id.unwrap_or_else(Uuid::new_v4),
        name: value.name,
        platform: value.platform,
        url: value.url,
        registered_on: value.registered_on,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Deactivate an e-business, with a reason (R10).
#[utoipa::path(post, path = "/communities/{id}/enterprises/{eid}/deactivate", operation_id = "deactivateEBusiness", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id"),
           ("eid" = Uuid, Path, description = "The e-business")),
    request_body = ReasonBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn deactivate_enterprise(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, enterprise_id)): Path<(String, String)>,
    headers: WriteHeaders,
    body: AppJson<ReasonBody>,
) -> Result<Response, ApiError> {
    let enterprise_id = Uuid::parse_str(&enterprise_id).map_err(|_| ApiError::NotFound)?;
    let command = CommunityCommand::DeactivateEBusiness(DeactivateEBusiness {
        enterprise_id,
        deactivated_on: body.value.effective_on,
        reason: body.value.reason,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Assess the maturity stage: `advance` one step citing evidence, or `lower` with a reason (R9).
#[utoipa::path(post, path = "/communities/{id}/stage", operation_id = "assessStage", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = StageBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn stage(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<StageBody>,
) -> Result<Response, ApiError> {
    let value = body.value;
    let command = match value.direction {
        StageDirection::Advance => CommunityCommand::AdvanceStage(AdvanceStage {
            to: value.to,
            assessed_on: value.assessed_on,
            evidence: value.evidence,
            assessed_by_role: principal.role,
        }),
        StageDirection::Lower => CommunityCommand::LowerStage(LowerStage {
            to: value.to,
            assessed_on: value.assessed_on,
            reason: value.reason.ok_or_else(|| ApiError::Malformed {
                detail: "lowering a stage needs a reason".to_owned(),
                field: Some("reason".to_owned()),
            })?,
        }),
    };
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Suspend an active KIM, with a reason.
#[utoipa::path(post, path = "/communities/{id}/suspend", operation_id = "suspendCommunity", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = ReasonBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn suspend(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<ReasonBody>,
) -> Result<Response, ApiError> {
    let command = CommunityCommand::SuspendCommunity(SuspendCommunity {
        suspended_on: body.value.effective_on,
        reason: body.value.reason,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Reactivate a suspended KIM, with a reason.
#[utoipa::path(post, path = "/communities/{id}/reactivate", operation_id = "reactivateCommunity", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = ReasonBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn reactivate(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<ReasonBody>,
) -> Result<Response, ApiError> {
    let command = CommunityCommand::ReactivateCommunity(ReactivateCommunity {
        reactivated_on: body.value.effective_on,
        reason: body.value.reason,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}

/// Dissolve a KIM for good, with a reason: it accepts no more commands.
#[utoipa::path(post, path = "/communities/{id}/dissolve", operation_id = "dissolveCommunity", tag = "communities",
    params(("id" = Uuid, Path, description = "Community id")),
    request_body = ReasonBody,
    responses((status = 200, description = "Recorded: the KIM's new version (`ETag`) and the event's global position", body = WriteResult), WriteErrors),
    security(("bearer" = [])))]
pub async fn dissolve(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: WriteHeaders,
    body: AppJson<ReasonBody>,
) -> Result<Response, ApiError> {
    let command = CommunityCommand::DissolveCommunity(DissolveCommunity {
        dissolved_on: body.value.effective_on,
        reason: body.value.reason,
    });
    let request = headers.request(&body.digest);
    update(&state, &principal, &id, command, request).await
}
