//! Bimtek `/bimtek` (province and kabupaten/kota operators, admin): one bimtek session recorded
//! for many KIM at once — the same write as `POST /api/v1/bimtek-sessions` (`Writes::
//! record_bimtek_session`): one `BimtekAttended` per KIM, all or nothing, and otherwise a list of
//! every KIM that could not record it and why.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;
use simpul_app::{
    Action, Attendance, AttendanceError, BimtekSession, CommunityQuery, SessionError,
    SessionWritten, WriteOptions, MAX_SESSION_COMMUNITIES,
};
use simpul_domain::events::BimtekKind;
use simpul_domain::text::Title;
use simpul_domain::RegionCode;
use simpul_http::AppState;
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::{stage_label, Lang};
use crate::layout;
use crate::session::Visitor;

/// The kinds of session, with their labels.
fn kinds(lang: Lang) -> [(BimtekKind, &'static str, &'static str); 4] {
    [
        (
            BimtekKind::Bimtek,
            "bimtek",
            lang.tr("Bimbingan teknis (bimtek)", "Technical guidance (bimtek)"),
        ),
        (
            BimtekKind::Workshop,
            "workshop",
            lang.tr("Workshop / lokakarya", "Workshop"),
        ),
        (BimtekKind::Sarasehan, "sarasehan", "Sarasehan"),
        (
            BimtekKind::ForumDiskusi,
            "forum_diskusi",
            lang.tr("Forum diskusi", "Discussion forum"),
        ),
    ]
}

/// Which KIM the form lists, and a session just recorded.
#[derive(Deserialize, Default)]
pub struct FormParams {
    #[serde(default)]
    region: String,
    #[serde(default)]
    tercatat: String,
    #[serde(default)]
    jumlah: String,
}

/// What the visitor typed, to show again after a refusal.
#[derive(Default)]
struct Entered {
    kind: String,
    title: String,
    held_on: String,
    organizer: String,
    chosen: Vec<(String, String)>,
}

/// The region the form lists KIM of: the one asked for, else the token's own; 404 outside it.
fn region_of(state: &AppState, visitor: &Visitor, asked: &str) -> Result<RegionCode, WebError> {
    let code = match asked.trim() {
        "" => match &visitor.principal.scope {
            simpul_app::Scope::Region(code) => code.clone(),
            _ => {
                return Err(WebError::bad_request(
                    "region: choose a region for the list of KIM",
                ))
            }
        },
        text => RegionCode::parse(text).map_err(|_| WebError::not_found())?,
    };
    if state.regions.get(&code).is_none() || !visitor.principal.scope.covers_region(&code) {
        return Err(WebError::not_found());
    }
    Ok(code)
}

/// `GET /bimtek?region=…`: the form, listing the region's KIM.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<FormParams>,
) -> Result<Response, WebError> {
    if !visitor.principal.can(Action::RecordBimtek) {
        return Err(simpul_http::ApiError::Forbidden("may not record a bimtek".to_owned()).into());
    }
    if params.region.trim().is_empty() && visitor.principal.scope == simpul_app::Scope::National {
        return Ok(page(
            &state,
            &visitor,
            None,
            &Entered::default(),
            &[],
            None,
            &params,
        )
        .await?
        .into_response());
    }
    let region = region_of(&state, &visitor, &params.region)?;
    Ok(page(
        &state,
        &visitor,
        Some(&region),
        &Entered::default(),
        &[],
        None,
        &params,
    )
    .await?
    .into_response())
}

/// Renders the form; `failures` (index, KIM id, message) after a refusal.
async fn page(
    state: &AppState,
    visitor: &Visitor,
    region: Option<&RegionCode>,
    entered: &Entered,
    failures: &[(String, String)],
    problem: Option<String>,
    params: &FormParams,
) -> Result<Html<String>, WebError> {
    let lang = visitor.lang;
    let kim = match region {
        Some(region) => {
            state
                .reads
                .communities(
                    &visitor.principal,
                    CommunityQuery {
                        region: Some(region.clone()),
                        status: Some(simpul_domain::CommunityStatus::Active),
                        limit: simpul_app::MAX_PAGE,
                        ..CommunityQuery::default()
                    },
                )
                .await?
        }
        None => simpul_app::Page {
            items: Vec::new(),
            next_cursor: None,
        },
    };
    let organizer = if entered.organizer.is_empty() {
        match &visitor.principal.scope {
            simpul_app::Scope::Region(code) => code.as_str().to_owned(),
            _ => String::new(),
        }
    } else {
        entered.organizer.clone()
    };
    let chosen = |id: &str| {
        entered
            .chosen
            .iter()
            .find(|(kim, _)| kim == id)
            .map(|(_, p)| p.as_str())
    };
    let region_text = region.map(|r| r.as_str().to_owned()).unwrap_or_default();
    let body = html! {
        p { (lang.tr(
            "Catat satu sesi bimtek untuk banyak KIM sekaligus: setiap KIM yang dipilih mendapat satu peristiwa \"Mengikuti bimtek\" dengan sesi yang sama. Semua tercatat, atau tidak satu pun.",
            "Record one bimtek session for many KIM at once: each KIM chosen gets one \"Bimtek attended\" event of the same session. All are recorded, or none.")) }
        @if !params.tercatat.is_empty() {
            p.notice role="status" {
                (lang.tr("Tercatat: sesi ", "Recorded: session ")) code { (params.tercatat) }
                (lang.tr(" untuk ", " for ")) (params.jumlah) " KIM."
            }
        }
        form.filters method="get" action="/bimtek" {
            label { (lang.tr("Wilayah KIM (kecamatan atau kabupaten/kota)", "Region of the KIM (kecamatan or kabupaten/kota)"))
                input type="text" name="region" value=(region_text) inputmode="numeric" pattern="[0-9.]*" placeholder="34.03.01"; }
            button type="submit" { (lang.tr("Tampilkan KIM", "Show KIM")) }
        }
        @if let Some(problem) = &problem {
            div.notice role="alert" {
                p { strong { (problem) } }
                @if !failures.is_empty() {
                    ul { @for (who, why) in failures { li { (who) ": " (why) } } }
                }
            }
        }
        @if region.is_some() {
            form method="post" action="/bimtek" {
                input type="hidden" name="csrf" value=(visitor.csrf);
                input type="hidden" name="region" value=(region_text);
                div.filters {
                    label { (lang.tr("Jenis", "Kind"))
                        select name="kind" required {
                            @for (_, value, label) in kinds(lang) {
                                option value=(value) selected[entered.kind == value] { (label) }
                            }
                        }
                    }
                    label { (lang.tr("Judul", "Title")) input type="text" name="title" required maxlength="200" value=(entered.title); }
                    label { (lang.tr("Tanggal", "Date")) input type="date" name="held_on" required value=(entered.held_on); }
                    label { (lang.tr("Penyelenggara (kode wilayah)", "Organiser (region code)"))
                        input type="text" name="organizer_region" required value=(organizer); }
                }
                @if kim.items.is_empty() {
                    p { (lang.tr("Tidak ada KIM aktif di wilayah ini.", "No active KIM in this region.")) }
                } @else {
                    @if kim.next_cursor.is_some() {
                        p.notice { (lang.tr(
                            "Wilayah ini punya lebih banyak KIM aktif daripada yang dapat dicatat sekaligus; pilih wilayah yang lebih kecil.",
                            "This region has more active KIM than one session records; choose a smaller region.")) }
                    }
                    div.table-wrap {
                        table {
                            thead { tr {
                                th scope="col" { (lang.tr("Ikut", "Attended")) }
                                th scope="col" { (lang.tr("Nama KIM", "KIM name")) }
                                th scope="col" { (lang.tr("Desa/kelurahan", "Village")) }
                                th scope="col" { (lang.tr("Tahap", "Stage")) }
                                th.num scope="col" { (lang.tr("Peserta", "Participants")) }
                            } }
                            tbody {
                                @for row in &kim.items {
                                    @let id = &row.community_id;
                                    tr {
                                        td { input type="checkbox" name="kim" value=(id) id={ "kim-" (id) } checked[chosen(id).is_some()]; }
                                        th scope="row" { label for={ "kim-" (id) } { (row.name) } }
                                        td { (row.desa_name) }
                                        td { (stage_label(&row.stage)) }
                                        td.num { input type="number" name={ "peserta_" (id) } min="1" max="10000"
                                            aria-label={ (lang.tr("Peserta dari ", "Participants from ")) (row.name) }
                                            value=(chosen(id).unwrap_or("1")); }
                                    }
                                }
                            }
                        }
                    }
                    p { button.primary type="submit" { (lang.tr("Catat sesi bimtek", "Record the bimtek session")) } }
                }
            }
        }
    };
    let title = lang.tr("Catat bimtek", "Record a bimtek");
    Ok(Html(layout::page(visitor, title, body).into_string()))
}

/// `POST /bimtek`: records the session for the KIM ticked, or shows the form again with every
/// KIM that could not record it.
pub async fn submit(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    };
    if !visitor.csrf_matches(&field("csrf")) {
        return Err(WebError::forged());
    }
    let lang = visitor.lang;
    let region = region_of(&state, &visitor, &field("region"))?;
    let chosen: Vec<(String, String)> = fields
        .iter()
        .filter(|(key, _)| key == "kim")
        .map(|(_, id)| (id.clone(), field(&format!("peserta_{id}"))))
        .collect();
    let entered = Entered {
        kind: field("kind"),
        title: field("title"),
        held_on: field("held_on"),
        organizer: field("organizer_region"),
        chosen: chosen.clone(),
    };
    let refuse = |problem: String, failures: Vec<(String, String)>| {
        let state = state.clone();
        let region = region.clone();
        let visitor = &visitor;
        let entered = &entered;
        async move {
            let page = page(
                &state,
                visitor,
                Some(&region),
                entered,
                &failures,
                Some(problem),
                &FormParams::default(),
            )
            .await?;
            Ok::<_, WebError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    };
    let Some((kind, _, _)) = kinds(lang)
        .into_iter()
        .find(|(_, value, _)| *value == entered.kind)
    else {
        return refuse(format!("kind: `{}`", entered.kind), Vec::new()).await;
    };
    let title = match Title::parse(&entered.title) {
        Ok(title) => title,
        Err(error) => return refuse(format!("title: {error}"), Vec::new()).await,
    };
    let Ok(held_on) = NaiveDate::parse_from_str(&entered.held_on, "%Y-%m-%d") else {
        return refuse(
            lang.tr(
                "held_on: isi tanggal (YYYY-MM-DD)",
                "held_on: give a date (YYYY-MM-DD)",
            )
            .to_owned(),
            Vec::new(),
        )
        .await;
    };
    let Ok(organizer_region) = RegionCode::parse(&entered.organizer) else {
        return refuse(
            format!("organizer_region: `{}`", entered.organizer),
            Vec::new(),
        )
        .await;
    };
    let mut attendees = Vec::with_capacity(chosen.len());
    for (id, participants) in &chosen {
        let (Ok(community_id), Ok(participants)) = (Uuid::parse_str(id), participants.parse())
        else {
            return refuse(
                format!(
                    "{id}: {}",
                    lang.tr("jumlah peserta tidak valid", "not a number of participants")
                ),
                Vec::new(),
            )
            .await;
        };
        attendees.push(Attendance {
            community_id,
            participants,
        });
    }
    if attendees.is_empty() || attendees.len() > MAX_SESSION_COMMUNITIES {
        return refuse(
            lang.tr(
                "Pilih 1–500 KIM yang mengikuti sesi ini.",
                "Choose 1–500 KIM that attended this session.",
            )
            .to_owned(),
            Vec::new(),
        )
        .await;
    }
    let names: Vec<(String, String)> = {
        let page = state
            .reads
            .communities(
                &visitor.principal,
                CommunityQuery {
                    region: Some(region.clone()),
                    limit: simpul_app::MAX_PAGE,
                    ..CommunityQuery::default()
                },
            )
            .await?;
        page.items
            .into_iter()
            .map(|row| (row.community_id, row.name))
            .collect()
    };
    let name_of = |id: &str| {
        names
            .iter()
            .find(|(kim, _)| kim == id)
            .map_or_else(|| id.to_owned(), |(_, name)| name.clone())
    };
    let session = BimtekSession {
        kind,
        title,
        held_on,
        organizer_region,
        attendees,
    };
    let options = WriteOptions {
        request_id: Uuid::new_v4().to_string(),
        if_match: None,
        idempotency: None,
    };
    match state
        .writes
        .record_bimtek_session(&visitor.principal, session, options)
        .await
    {
        Ok(SessionWritten::Recorded(recorded)) => {
            let query = serde_urlencoded::to_string([
                ("region", region.as_str()),
                ("tercatat", &recorded.session_id.to_string()),
                ("jumlah", &recorded.events.len().to_string()),
            ])
            .unwrap_or_default();
            Ok(Redirect::to(&format!("/bimtek?{query}")).into_response())
        }
        Ok(SessionWritten::Replayed(_)) => Ok(Redirect::to("/bimtek").into_response()),
        Err(SessionError::Rejected { total, failures }) => {
            let list = failures
                .iter()
                .map(|failure| {
                    let why = match &failure.error {
                        AttendanceError::NotFound => {
                            lang.tr("tidak ditemukan", "not found").to_owned()
                        }
                        AttendanceError::Refused(error) => error.to_string(),
                    };
                    (name_of(&failure.community_id), why)
                })
                .collect();
            let problem = format!(
                "{} {} {total} KIM {}",
                failures.len(),
                lang.tr("dari", "of"),
                lang.tr(
                    "tidak dapat mencatat sesi ini; tidak ada yang dicatat.",
                    "cannot record this session; nothing was recorded."
                )
            );
            refuse(problem, list).await
        }
        Err(SessionError::Invalid { field, detail }) => {
            refuse(format!("{field}: {detail}"), Vec::new()).await
        }
        Err(SessionError::Write(error)) => Err(simpul_http::ApiError::from(error).into()),
    }
}
