//! What reads return: a community's current state and its history, folded from the events, with
//! personal data opened only for roles that may see it.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use simpul_app::{CommunityRead, Principal};
use simpul_domain::events::CommunityEvent;
use simpul_domain::sealed::SealedText;
use simpul_domain::{Community, RegionCode, RegionLevel};
use simpul_store::{KeyStore, StoredEvent, Unsealed};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

/// Shown instead of a name the caller's role may not read.
pub const SEALED: &str = "[tersegel]";
/// Shown instead of a name whose key was erased.
pub const ERASED: &str = "[dihapus]";

/// A region with its name.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedRegion {
    /// Kemendagri code.
    pub code: String,
    /// Name with its kind, e.g. `Kabupaten Sleman`.
    pub name: String,
}

/// An active officer.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficerView {
    /// The person.
    #[schema(format = Uuid)]
    pub person_id: String,
    /// The office.
    #[schema(value_type = simpul_domain::OfficerRole)]
    pub role: String,
    /// The field, for a kepala bidang.
    pub bidang: Option<String>,
    /// The name, or `[tersegel]` (sealed for this role) or `[dihapus]` (erased).
    pub name: String,
}

/// A KIM's current state, folded from its events.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityView {
    /// The community id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Name.
    pub name: String,
    /// Desa/kelurahan, kecamatan, kabupaten/kota and province.
    pub desa: NamedRegion,
    /// Kecamatan.
    pub kecamatan: NamedRegion,
    /// Kabupaten/kota.
    pub kabupaten_kota: NamedRegion,
    /// Province.
    pub provinsi: NamedRegion,
    /// Formation date.
    #[schema(format = Date)]
    pub formed_on: Option<String>,
    /// Whether it is working, suspended or dissolved.
    #[schema(value_type = simpul_domain::CommunityStatus)]
    pub status: String,
    /// The maturity stage.
    #[schema(value_type = simpul_domain::Stage)]
    pub stage: String,
    /// SK and nomor induk both present.
    pub legal: bool,
    /// Active SK number, if any.
    pub sk_number: Option<String>,
    /// Nomor induk, if assigned.
    pub nomor_induk: Option<String>,
    /// Members.
    pub member_count: u32,
    /// Active officers.
    pub officers: Vec<OfficerView>,
    /// Bimtek attended.
    pub bimtek_count: u32,
    /// Activities recorded.
    pub activity_count: usize,
    /// Active media channels.
    pub media_channel_count: usize,
    /// Active e-businesses.
    pub e_business_count: usize,
    /// The version (number of events); also the `ETag`.
    pub version: u64,
    /// Only for `?as_of=` or `?at_index=`: what the state is as of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<AsOfView>,
}

/// What a state "as of" is as of.
#[derive(Debug, Serialize, ToSchema)]
pub struct AsOfView {
    /// The ledger index of the last event folded in (absent when the ledger has not reached it).
    pub ledger_index: Option<u64>,
    /// When that event was recorded (UTC).
    #[schema(format = DateTime)]
    pub recorded_at: Option<String>,
}

/// One event of a community's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Sequence within the community, from 1.
    pub sequence: u64,
    /// Global position.
    pub position: u64,
    /// Ledger index (`docs/ledger.md`): its leaf in the verifiable ledger; absent until the
    /// ledger has reached the event.
    pub ledger_index: Option<u64>,
    /// Event type, e.g. `SkIssued`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Payload version.
    pub event_version: String,
    /// The payload's fields; sealed personal data opened, `[tersegel]` or `[dihapus]`.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Server time of the append (UTC).
    #[schema(format = DateTime)]
    pub recorded_at: Option<String>,
    /// Who.
    pub actor: Option<String>,
    /// In which role.
    pub role: Option<String>,
    /// From which request.
    pub request_id: Option<String>,
    /// Why, where given.
    pub reason: Option<String>,
}

/// A community folded from its stored events, with its officers' sealed names.
pub struct Folded {
    /// The community as of its last event.
    pub community: Community,
    names: HashMap<uuid::Uuid, SealedText>,
}

impl Folded {
    /// The state of a KIM as read, with the sealed name of every person ever appointed.
    pub fn of(read: CommunityRead) -> Self {
        let names = read
            .decoded
            .iter()
            .filter_map(|event| match event {
                CommunityEvent::OfficerAppointed(appointed) => {
                    Some((appointed.person_id, appointed.name.clone()))
                }
                _ => None,
            })
            .collect();
        Self {
            community: read.community,
            names,
        }
    }
}

/// The view of one folded community, names opened as `principal` may read them.
pub async fn community_view(
    state: &AppState,
    principal: &Principal,
    id: &str,
    folded: &Folded,
) -> Result<CommunityView, ApiError> {
    let Folded { community, names } = folded;
    let village = community.village().cloned().ok_or(ApiError::NotFound)?;
    let mut officers = Vec::new();
    for (person_id, role) in community.active_officers() {
        let name = match names.get(&person_id) {
            Some(sealed) => open(&state.keys, principal, sealed).await?,
            None => SEALED.to_owned(),
        };
        officers.push(OfficerView {
            person_id: person_id.to_string(),
            role: role.as_str().to_owned(),
            bidang: community.bidang_of(person_id).map(str::to_owned),
            name,
        });
    }
    Ok(CommunityView {
        id: id.to_owned(),
        name: community
            .name()
            .map(ToString::to_string)
            .unwrap_or_default(),
        desa: named(state, &village, RegionLevel::Village),
        kecamatan: named(state, &village, RegionLevel::District),
        kabupaten_kota: named(state, &village, RegionLevel::Regency),
        provinsi: named(state, &village, RegionLevel::Province),
        formed_on: community.formed_on().map(|d| d.to_string()),
        status: community.status().as_str().to_owned(),
        stage: community.stage().as_str().to_owned(),
        legal: community.is_legal(),
        sk_number: community.active_sk().map(|(number, _)| number.to_string()),
        nomor_induk: community.registration_number().map(ToString::to_string),
        member_count: community.member_count(),
        officers,
        bimtek_count: community.bimtek_count(),
        activity_count: community.activity_count(),
        media_channel_count: community.active_media_channel_count(),
        e_business_count: community.active_e_business_count(),
        version: community.version(),
        as_of: None,
    })
}

/// The history, with sealed values opened (or masked) for `principal`.
pub async fn history(
    state: &AppState,
    principal: &Principal,
    events: Vec<StoredEvent>,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let ledger = state.reads.ledger_indexes(&events).await?;
    let mut entries = Vec::with_capacity(events.len());
    for event in events {
        let mut payload = event.payload;
        for (sealed_type, keys) in CommunityEvent::SEALED_FIELDS {
            let Some(fields) = payload.get_mut(sealed_type).and_then(Value::as_object_mut) else {
                continue;
            };
            for key in keys {
                let sealed = fields
                    .get(*key)
                    .and_then(|v| serde_json::from_value::<SealedText>(v.clone()).ok());
                if let Some(sealed) = sealed {
                    let text = open(&state.keys, principal, &sealed).await?;
                    fields.insert((*key).to_owned(), Value::String(text));
                }
            }
        }
        let fields = payload
            .as_object()
            .and_then(|object| object.values().next().cloned())
            .unwrap_or(Value::Null);
        let meta = |key: &str| event.metadata.get(key).cloned();
        entries.push(HistoryEntry {
            sequence: event.sequence,
            position: event.position,
            ledger_index: ledger.get(&event.position).copied(),
            event_type: event.event_type,
            event_version: event.event_version,
            payload: fields,
            recorded_at: meta("recorded_at"),
            actor: meta("actor_id"),
            role: meta("actor_role"),
            request_id: meta("request_id"),
            reason: meta("reason"),
        });
    }
    Ok(entries)
}

async fn open(
    keys: &KeyStore,
    principal: &Principal,
    sealed: &SealedText,
) -> Result<String, ApiError> {
    if !principal.may_unseal_personal_data() {
        return Ok(SEALED.to_owned());
    }
    Ok(match keys.open(sealed).await? {
        Unsealed::Plain(text) => text,
        Unsealed::Erased => ERASED.to_owned(),
    })
}

fn named(state: &AppState, village: &RegionCode, level: RegionLevel) -> NamedRegion {
    let code = village
        .ancestor_at(level)
        .unwrap_or_else(|| village.clone());
    NamedRegion {
        name: state.regions.display_name(&code).unwrap_or_default(),
        code: code.to_string(),
    }
}
