//! Turning valid rows into the events the aggregate decides for them, against each KIM's current
//! state: a new KIM's whole story, or only what changed for one that exists.
//!
//! Every command goes through [`Community::decide`] in order, on a working copy that folds each
//! decided event, so later commands see earlier ones (an SK sees the officers, an assessment
//! cites the sequence of the evidence just recorded). A domain error becomes a [`RowError`] for
//! the column that caused it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate as _;
use simpul_domain::commands::{
    AdvanceStage, AppointOfficer, AssignRegistrationNumber, DismissOfficer, FormCommunity, IssueSk,
    LowerStage, RecordActivity, RegisterEBusiness, RegisterMediaChannel, RevokeSk,
    UpdateMemberCount,
};
use simpul_domain::events::{ActivityKind, CommunityEvent, Eligibility, MediaChannelKind};
use simpul_domain::sealed::{DataKey, SealedText};
use simpul_domain::stage::Evidence;
use simpul_domain::text::{Reason, Title};
use simpul_domain::{
    rules, Community, CommunityCommand, CommunityServices, DomainError, ErrorKind, OfficerRole,
    Stage,
};
use simpul_store::{
    Append, DerivedSecret, EventStore, KeyStore, PersonKeys, StoreError, StoredEvent, Unsealed,
    WrappedKey,
};
use uuid::Uuid;

use super::csv::{collapse, Column, RegistryRow};
use super::{ImportError, RowError, RowOutcome, RowOutcomeKind};
use crate::auth::Scope;
use crate::executor::{append_request, CommandContext};

/// Why a row could not be planned: a problem of the row (reported), or of the store (fatal).
pub(super) enum Failure {
    /// Goes into the report.
    Row(Box<RowError>),
    /// Ends the import.
    Fatal(ImportError),
}

impl From<RowError> for Failure {
    fn from(error: RowError) -> Self {
        Failure::Row(Box::new(error))
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Fatal(ImportError::Store(error))
    }
}

/// One valid row's events, as appends, and its new officers' keys.
pub(super) struct Planned {
    pub outcome: RowOutcome,
    pub appends: Vec<Append>,
    pub keys: Vec<WrappedKey>,
}

/// How imported KIM get their ids: keyed by a secret of the deployment, so that nobody without
/// its master key can compute the id a row of a registry will get (and form a KIM there first to
/// make that import fail), while a re-import in the same deployment finds the same streams.
#[derive(Clone, Debug)]
pub struct ImportIds {
    secret: DerivedSecret,
}

impl ImportIds {
    /// Ids under `secret` ([`KeyStore::import_id_secret`] in a deployment).
    pub fn new(secret: DerivedSecret) -> Self {
        Self { secret }
    }

    /// The ids of the deployment whose master key `keys` holds.
    pub fn of(keys: &KeyStore) -> Self {
        Self::new(keys.import_id_secret())
    }

    /// The community id of an import key: the first 16 bytes of HMAC-SHA256 of the key under the
    /// deployment's import id secret, as a UUID of version 8 (custom) and the RFC 4122 variant.
    /// The same key and master key always give the same id; a version-8 id never equals a
    /// [`legacy_community_id`] (version 5).
    pub fn community_id(&self, key: &str) -> Uuid {
        let mac = self.secret.mac(key.as_bytes());
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&mac[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}

/// The namespace of the legacy ids (v5 of a fixed URL), so that they never collided with another
/// use of v5.
fn legacy_namespace() -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"https://simpul.id/ns/registry-import",
    )
}

/// The id imports gave before ids were keyed: a UUID v5 of the import key, which anyone can
/// compute. Only looked up, never given to a new KIM: a re-import keeps using it for a KIM an
/// import formed there ([`formed_by_import`]).
pub fn legacy_community_id(key: &str) -> Uuid {
    Uuid::new_v5(&legacy_namespace(), key.as_bytes())
}

/// Whether a stream was formed by a registry import: its first event is the formation, stamped
/// with an import's file and digest. Only an import writes that metadata (the executor, hence the
/// API and every other command, never does), and imports have stamped it from the start.
fn formed_by_import(stream: &[StoredEvent]) -> bool {
    stream.first().is_some_and(|first| {
        first.sequence == 1
            && first.event_type == "CommunityFormed"
            && first.metadata.contains_key("import_file")
            && first.metadata.contains_key("import_sha256")
    })
}

/// A row's import key and the column it comes from: `source:<kabupaten/kota>:<source_id>` when
/// the row has a source id, else `nomor-induk:<kabupaten/kota>:<canonical nomor induk>`. Source
/// ids are scoped by the desa's kabupaten/kota, so two Dinas numbering their rows 1, 2, 3 … never
/// meet. A row with neither is an error naming both columns.
pub fn import_key(row: &RegistryRow) -> Result<(String, Column), RowError> {
    if let Some(source) = &row.source_id {
        return Ok((format!("source:{}:{source}", row.regency), Column::SourceId));
    }
    if let Some(number) = &row.registration {
        return Ok((
            format!("nomor-induk:{}:{}", row.regency, number.canonical()),
            Column::NomorInduk,
        ));
    }
    Err(RowError::rule(
        "key",
        row.line(),
        "source_id, nomor_induk",
        "",
        "a row needs a `source_id` or a `nomor_induk` to be recognised on a re-import",
    ))
}

/// Scope, identity and the checks across rows: a key twice in the file, a nomor induk twice in
/// one kabupaten/kota. Returns the rows that pass with their keys; the others are in `errors`.
pub(super) fn identify(
    rows: Vec<RegistryRow>,
    scope: &Scope,
    errors: &mut Vec<RowError>,
) -> Vec<(RegistryRow, String)> {
    let mut keys: HashMap<String, u64> = HashMap::new();
    let mut numbers: HashMap<(String, String), u64> = HashMap::new();
    let mut keyed = Vec::with_capacity(rows.len());
    for row in rows {
        if !scope.covers_region(&row.village) {
            errors.push(RowError::rule(
                "scope",
                row.line(),
                Column::KodeDesa.name(),
                row.raw.get(Column::KodeDesa),
                format!(
                    "desa/kelurahan {} is outside this token's scope ({scope})",
                    row.village
                ),
            ));
            continue;
        }
        let (key, column) = match import_key(&row) {
            Ok(found) => found,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        if let Some(first) = keys.get(&key) {
            errors.push(RowError::rule(
                "key",
                row.line(),
                column.name(),
                row.raw.get(column),
                format!(
                    "line {first} has the same {column} in kabupaten/kota {}",
                    row.regency
                ),
            ));
            continue;
        }
        keys.insert(key.clone(), row.line());
        if let Some(number) = &row.registration {
            let claim = (row.regency.to_string(), number.canonical());
            if let Some(first) = numbers.get(&claim) {
                errors.push(RowError::rule(
                    "R8",
                    row.line(),
                    Column::NomorInduk.name(),
                    row.raw.get(Column::NomorInduk),
                    format!(
                        "nomor induk {number} is given to another KIM on line {first}; it is \
                         unique within kabupaten/kota {}",
                        row.regency
                    ),
                ));
                continue;
            }
            numbers.insert(claim, row.line());
        }
        keyed.push((row, key));
    }
    keyed
}

/// What the store holds for the rows of one import, read in a few queries before any row is
/// planned (a query per row would make a 20 000-row import wait on 40 000 round trips).
pub(super) struct Prefetched {
    /// How the rows' ids are derived.
    ids: ImportIds,
    /// The rows whose KIM an earlier import formed at its legacy id: import key → that id.
    legacy: HashMap<String, String>,
    /// The events of every KIM the rows name, by community id.
    streams: HashMap<String, Vec<StoredEvent>>,
    /// The holders of the rows' nomor induk, by (kabupaten/kota, canonical number).
    holders: HashMap<(String, String), String>,
    /// The data keys of the officers of those KIM, to compare their names.
    keys: PersonKeys,
}

impl Prefetched {
    /// Reads what planning `keyed` needs.
    ///
    /// A row's KIM is at its keyed id ([`ImportIds::community_id`]); when nothing is there but an
    /// import formed a KIM at the row's [`legacy_community_id`] (a deployment that imported before
    /// ids were keyed), the row keeps that KIM. A stream at the legacy id that an import did not
    /// form (a client-chosen id on `POST /communities`) is not the row's and is ignored.
    pub(super) async fn read(
        store: &EventStore,
        keys: &KeyStore,
        ids: ImportIds,
        keyed: &[(RegistryRow, String)],
    ) -> Result<Self, StoreError> {
        let keyed_ids: Vec<String> = keyed
            .iter()
            .map(|(_, key)| ids.community_id(key).to_string())
            .collect();
        let mut streams = store.streams(&keyed_ids).await?;
        let unknown: Vec<(&str, String)> = keyed
            .iter()
            .zip(&keyed_ids)
            .filter(|(_, id)| !streams.contains_key(*id))
            .map(|((_, key), _)| (key.as_str(), legacy_community_id(key).to_string()))
            .collect();
        let mut legacy = HashMap::new();
        if !unknown.is_empty() {
            let legacy_ids: Vec<String> = unknown.iter().map(|(_, id)| id.clone()).collect();
            let mut found = store.streams(&legacy_ids).await?;
            for (key, id) in unknown {
                if let Some(stream) = found.remove(&id).filter(|s| formed_by_import(s)) {
                    legacy.insert(key.to_owned(), id.clone());
                    streams.insert(id, stream);
                }
            }
        }
        let numbers: Vec<(String, String)> = keyed
            .iter()
            .filter_map(|(row, _)| {
                row.registration
                    .as_ref()
                    .map(|number| (row.regency.to_string(), number.canonical()))
            })
            .collect();
        let holders = store.registration_holders(&numbers).await?;
        let persons: Vec<Uuid> = streams
            .values()
            .flatten()
            .filter(|event| event.event_type == "OfficerAppointed")
            .filter_map(|event| {
                event
                    .payload
                    .get("OfficerAppointed")?
                    .get("person_id")?
                    .as_str()?
                    .parse()
                    .ok()
            })
            .collect();
        let keys = keys.keys_of(&persons).await?;
        Ok(Self {
            ids,
            legacy,
            streams,
            holders,
            keys,
        })
    }

    /// The id of the KIM of `key`: its legacy id when an import formed it there, else its keyed id.
    fn community_id(&self, key: &str) -> String {
        match self.legacy.get(key) {
            Some(id) => id.clone(),
            None => self.ids.community_id(key).to_string(),
        }
    }
}

/// What every row's plan shares.
pub(super) struct Planner<'a> {
    pub prefetched: &'a Prefetched,
    pub keys: &'a KeyStore,
    pub services: &'a CommunityServices,
    pub context: &'a CommandContext,
    pub file: &'a str,
    pub sha256: &'a str,
    pub import_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

/// A KIM being planned: its state with the events decided so far folded in.
struct Working<'a> {
    row: &'a RegistryRow,
    community: Community,
    events: Vec<CommunityEvent>,
    keys: Vec<WrappedKey>,
}

impl Planner<'_> {
    /// The events of one row, against the KIM's stream as prefetched; decides nothing it would
    /// not decide for the API.
    pub(super) fn plan(
        &self,
        row: &RegistryRow,
        key: &str,
        scope: &Scope,
    ) -> Result<Planned, Failure> {
        let id = self.prefetched.community_id(key);
        let stored = self.prefetched.streams.get(&id).map(Vec::as_slice);
        let mut community = Community::default();
        let mut names: HashMap<Uuid, SealedText> = HashMap::new();
        for event in stored.unwrap_or_default() {
            let event: CommunityEvent = serde_json::from_value(event.payload.clone())
                .map_err(|e| StoreError::Corrupt(format!("event of {id}: {e}")))?;
            if let CommunityEvent::OfficerAppointed(appointed) = &event {
                names.insert(appointed.person_id, appointed.name.clone());
            }
            community.apply(event);
        }
        let start = community.version();
        let existing = community.is_formed();
        if let Some(village) = community.village() {
            if !scope.covers_region(village) {
                return Err(RowError::rule(
                    "scope",
                    row.line(),
                    Column::KodeDesa.name(),
                    row.raw.get(Column::KodeDesa),
                    format!("the KIM of this row is outside this token's scope ({scope})"),
                )
                .into());
            }
        }
        let mut working = Working {
            row,
            community,
            events: Vec::new(),
            keys: Vec::new(),
        };
        if existing {
            self.plan_existing(&mut working, &id, &names)?;
        } else {
            self.plan_new(&mut working, &id)?;
        }
        let outcome = RowOutcome {
            line: row.line(),
            id: id.clone(),
            key: key.to_owned(),
            outcome: match (existing, working.events.is_empty()) {
                (false, _) => RowOutcomeKind::Created,
                (true, false) => RowOutcomeKind::Updated,
                (true, true) => RowOutcomeKind::Unchanged,
            },
            events: working.events.iter().map(|e| e.name().to_owned()).collect(),
        };
        let appends = self.appends(&id, start, &working.events)?;
        Ok(Planned {
            outcome,
            appends,
            keys: working.keys,
        })
    }

    /// A KIM the log does not know: formation, officers, SK, nomor induk, then evidence and one
    /// assessment per stage up to `tahap`.
    fn plan_new(&self, w: &mut Working<'_>, id: &str) -> Result<(), Failure> {
        let row = w.row;
        self.decide(
            w,
            CommunityCommand::FormCommunity(FormCommunity {
                name: row.name.clone(),
                village: row.village.clone(),
                formed_on: row.formed_on,
                origin_group: row.origin_group.clone(),
                member_count: row.member_count,
                // The registry lists the KIM as formed by its community (R3); `inisiator` names
                // who, when the file says.
                initiated_by: Some(
                    row.initiator
                        .clone()
                        .unwrap_or_else(|| rules::COMMUNITY_INITIATOR.to_owned()),
                ),
                recorded_by_role: self.context.actor_role,
            }),
            Column::NamaKim,
            Column::TanggalTerbentuk,
        )?;
        for (role, name) in &row.officers {
            if let Some(name) = name {
                self.appoint(w, *role, name, row.formed_on, Column::TanggalTerbentuk)?;
            }
        }
        if row.sk.is_some() {
            self.issue_sk(w)?;
        }
        if row.registration.is_some() {
            self.assign_number(w, id)?;
        }
        self.change_stage(w)
    }

    /// A KIM the log knows: compare and decide only what changed.
    fn plan_existing(
        &self,
        w: &mut Working<'_>,
        id: &str,
        names: &HashMap<Uuid, SealedText>,
    ) -> Result<(), Failure> {
        let row = w.row;
        self.check_fixed_facts(w)?;
        if row.member_count != w.community.member_count() {
            self.decide(
                w,
                CommunityCommand::UpdateMemberCount(UpdateMemberCount {
                    member_count: row.member_count,
                    effective_on: self.import_date,
                }),
                Column::JumlahAnggota,
                Column::JumlahAnggota,
            )?;
        }
        for (role, name) in &row.officers {
            let column = Column::of_officer(*role);
            match (w.community.holder_of(*role), name) {
                (None, None) => {}
                (Some(_), None) => {
                    return Err(fixed(
                        row,
                        column,
                        format!(
                            "the cell is empty, but the KIM has an active {}; an import never \
                             removes a fact: dismiss the officer through the API, with a reason",
                            role.as_str()
                        ),
                    ));
                }
                (None, Some(name)) => {
                    self.appoint(w, *role, name, self.import_date, column)?;
                }
                (Some(person), Some(name)) => {
                    let same = match names.get(&person) {
                        Some(sealed) => match self.prefetched.keys.open(sealed)? {
                            Unsealed::Plain(current) => same_text(&current, name),
                            // An erased person cannot be compared; their data is not recorded again.
                            Unsealed::Erased => true,
                        },
                        None => false,
                    };
                    if !same {
                        let reason = self.reason(
                            row,
                            column,
                            &format!("{} menurut registri adalah orang lain", role.as_str()),
                        )?;
                        self.decide(
                            w,
                            CommunityCommand::DismissOfficer(DismissOfficer {
                                person_id: person,
                                dismissed_on: self.import_date,
                                reason,
                            }),
                            column,
                            column,
                        )?;
                        self.appoint(w, *role, name, self.import_date, column)?;
                    }
                }
            }
        }
        match (w.community.active_sk(), &row.sk) {
            (None, None) => {}
            (Some((number, _)), None) => {
                return Err(fixed(
                    row,
                    Column::NomorSk,
                    format!(
                        "the cell is empty, but the KIM has SK {number}; an import never removes \
                         a fact: revoke the SK through the API, with a reason"
                    ),
                ));
            }
            (None, Some(_)) => self.issue_sk(w)?,
            (Some((number, issued_on)), Some((new_number, new_date))) => {
                if !same_text(number.as_str(), new_number.as_str()) || issued_on != *new_date {
                    let reason = self.reason(
                        row,
                        Column::NomorSk,
                        &format!("SK menurut registri adalah {new_number} tanggal {new_date}"),
                    )?;
                    self.decide(
                        w,
                        CommunityCommand::RevokeSk(RevokeSk {
                            revoked_on: self.import_date,
                            reason,
                        }),
                        Column::NomorSk,
                        Column::NomorSk,
                    )?;
                    self.issue_sk(w)?;
                }
            }
        }
        match (w.community.registration_number(), &row.registration) {
            (Some(_), Some(_)) | (None, None) => {}
            (Some(number), None) => {
                return Err(fixed(
                    row,
                    Column::NomorInduk,
                    format!(
                        "the cell is empty, but the KIM has nomor induk {number}; a nomor induk is \
                         never withdrawn"
                    ),
                ));
            }
            (None, Some(_)) => self.assign_number(w, id)?,
        }
        self.change_stage(w)
    }

    /// Name, desa/kelurahan, formation date and nomor induk are facts no event changes (R10).
    fn check_fixed_facts(&self, w: &Working<'_>) -> Result<(), Failure> {
        let row = w.row;
        let community = &w.community;
        if let Some(name) = community.name() {
            if !same_text(name.as_str(), row.name.as_str()) {
                return Err(fixed(
                    row,
                    Column::NamaKim,
                    format!(
                        "the KIM is named {name}; a name is fixed at formation and no event \
                         changes it"
                    ),
                ));
            }
        }
        if let Some(village) = community.village() {
            if village != &row.village {
                return Err(fixed(
                    row,
                    Column::KodeDesa,
                    format!(
                        "the KIM is anchored in {village}; the desa/kelurahan is fixed at \
                         formation and no event changes it"
                    ),
                ));
            }
        }
        if let Some(formed_on) = community.formed_on() {
            if formed_on != row.formed_on {
                return Err(fixed(
                    row,
                    Column::TanggalTerbentuk,
                    format!(
                        "the KIM was formed on {formed_on}; the formation date is fixed and no \
                         event changes it"
                    ),
                ));
            }
        }
        if let (Some(have), Some(want)) = (community.registration_number(), &row.registration) {
            if have.canonical() != want.canonical() {
                return Err(fixed(
                    row,
                    Column::NomorInduk,
                    format!(
                        "the KIM has nomor induk {have}; a nomor induk is assigned once and no \
                         event changes it"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Decides one command on the working state and folds its events.
    fn decide(
        &self,
        w: &mut Working<'_>,
        command: CommunityCommand,
        column: Column,
        date_column: Column,
    ) -> Result<(), Failure> {
        let events = w
            .community
            .decide(command, self.services)
            .map_err(|error| row_error(error, w.row, column, date_column))?;
        for event in events {
            w.community.apply(event.clone());
            w.events.push(event);
        }
        Ok(())
    }

    /// A new person with a fresh data key; the registry attests the four R4 conditions.
    fn appoint(
        &self,
        w: &mut Working<'_>,
        role: OfficerRole,
        name: &str,
        appointed_on: NaiveDate,
        date_column: Column,
    ) -> Result<(), Failure> {
        let person_id = Uuid::new_v4();
        let key = DataKey::generate();
        let sealed = key
            .seal(person_id, name)
            .map_err(|_| Failure::Fatal(ImportError::Seal))?;
        let wrapped = self.keys.wrap(person_id, &key)?;
        self.decide(
            w,
            CommunityCommand::AppointOfficer(AppointOfficer {
                person_id,
                role,
                bidang: None,
                name: sealed,
                contact: None,
                appointed_on,
                eligibility: Eligibility {
                    not_asn: true,
                    no_criminal_record: true,
                    no_party_affiliation: true,
                    no_ngo_affiliation: true,
                },
            }),
            Column::of_officer(role),
            date_column,
        )?;
        w.keys.push(wrapped);
        Ok(())
    }

    /// The row's SK, issued by its own desa/kelurahan (R7), signed by its Kepala Desa or Lurah.
    fn issue_sk(&self, w: &mut Working<'_>) -> Result<(), Failure> {
        let row = w.row;
        let Some((number, issued_on)) = &row.sk else {
            return Ok(());
        };
        let signed_by = match self.services.regions.lookup(&row.village) {
            Some(info) if info.kind == "kelurahan" => format!("Lurah {}", info.name),
            Some(info) => format!("Kepala Desa {}", info.name),
            None => format!("Kepala Desa/Lurah {}", row.village),
        };
        let subject = Title::parse(&format!(
            "Pembentukan Komunitas Informasi Masyarakat {}",
            row.name
        ))
        .map_err(|e| RowError::format(row.line(), "nama_kim", row.name.as_str(), e.to_string()))?;
        self.decide(
            w,
            CommunityCommand::IssueSk(IssueSk {
                number: number.clone(),
                issued_on: *issued_on,
                subject,
                issuing_office: row.village.clone(),
                signed_by,
                roster_acknowledged: false,
            }),
            Column::NomorSk,
            Column::TanggalSk,
        )
    }

    /// The row's nomor induk, from the Dinas of its own kabupaten/kota; one another KIM holds
    /// already is R8.
    fn assign_number(&self, w: &mut Working<'_>, id: &str) -> Result<(), Failure> {
        let row = w.row;
        let Some(number) = &row.registration else {
            return Ok(());
        };
        let holder = self
            .prefetched
            .holders
            .get(&(row.regency.to_string(), number.canonical()));
        if let Some(holder) = holder.filter(|holder| *holder != id) {
            return Err(RowError::rule(
                "R8",
                row.line(),
                Column::NomorInduk.name(),
                row.raw.get(Column::NomorInduk),
                format!(
                    "nomor induk {number} is already assigned in kabupaten/kota {} to KIM {holder}",
                    row.regency
                ),
            )
            .into());
        }
        let (assigned_on, date_column) = match (row.registered_on, &row.sk) {
            (Some(date), _) => (date, Column::TanggalNomorInduk),
            (None, Some((_, issued_on))) => (*issued_on, Column::TanggalSk),
            (None, None) => (self.import_date, Column::NomorInduk),
        };
        self.decide(
            w,
            CommunityCommand::AssignRegistrationNumber(AssignRegistrationNumber {
                number: number.clone(),
                regency: row.regency.clone(),
                assigned_on,
            }),
            Column::NomorInduk,
            date_column,
        )
    }

    /// Up to `tahap` one step at a time, each citing its evidence (R9); down with a reason.
    fn change_stage(&self, w: &mut Working<'_>) -> Result<(), Failure> {
        let row = w.row;
        let assessed_on = row.assessed_on.unwrap_or(self.import_date);
        if row.stage < w.community.stage() {
            let reason = self.reason(
                row,
                Column::Tahap,
                &format!("tahap menurut registri adalah {}", row.stage),
            )?;
            return self.decide(
                w,
                CommunityCommand::LowerStage(LowerStage {
                    to: row.stage,
                    assessed_on,
                    reason,
                }),
                Column::Tahap,
                Column::TanggalTahap,
            );
        }
        while w.community.stage() < row.stage {
            let Some(next) = w.community.stage().next() else {
                break;
            };
            rules::r9_legal(w.community.is_legal())
                .map_err(|error| row_error(error, row, Column::Tahap, Column::TanggalTahap))?;
            let evidence = self.evidence(w, next, assessed_on)?;
            self.decide(
                w,
                CommunityCommand::AdvanceStage(AdvanceStage {
                    to: next,
                    assessed_on,
                    evidence: vec![evidence],
                    assessed_by_role: self.context.actor_role,
                }),
                Column::Tahap,
                Column::TanggalTahap,
            )?;
        }
        Ok(())
    }

    /// The evidence for reaching `stage`: the fact the row's evidence column states, recorded
    /// now, or else a qualifying event the KIM already has. Neither is R9, naming the column.
    fn evidence(&self, w: &mut Working<'_>, stage: Stage, on: NaiveDate) -> Result<u64, Failure> {
        let row = w.row;
        let Some(kind) = self.services.policy.evidence_for(stage) else {
            return Ok(w.community.version());
        };
        let (column, value, what) = match kind {
            Evidence::DevelopmentAgentActivity => (
                Column::KegiatanAgenPembangunan,
                &row.development_activity,
                "a development-agent activity",
            ),
            Evidence::ActiveMediaChannel => (
                Column::KanalMedia,
                &row.media_channel,
                "an active new-media channel",
            ),
            Evidence::ActiveEBusiness => (Column::EBisnis, &row.e_business, "an active e-business"),
        };
        let Some(value) = value else {
            let existing = (1..=w.community.version())
                .rev()
                .find(|sequence| w.community.satisfies_evidence(*sequence, kind));
            return existing.ok_or_else(|| {
                RowError::rule(
                    "R9",
                    row.line(),
                    column.name(),
                    "",
                    format!(
                        "{stage} needs {what} as evidence, and `{column}` is empty; the import \
                         records only facts the file states"
                    ),
                )
                .into()
            });
        };
        let command = match kind {
            Evidence::DevelopmentAgentActivity => {
                CommunityCommand::RecordActivity(RecordActivity {
                    activity_id: Uuid::new_v4(),
                    kind: ActivityKind::DevelopmentAgent,
                    title: value.clone(),
                    held_on: on,
                    participants: None,
                })
            }
            Evidence::ActiveMediaChannel => {
                let url = url_of(value.as_str());
                CommunityCommand::RegisterMediaChannel(RegisterMediaChannel {
                    channel_id: Uuid::new_v4(),
                    kind: media_kind(value.as_str(), url.as_deref()),
                    name: value.clone(),
                    url,
                    registered_on: on,
                })
            }
            Evidence::ActiveEBusiness => {
                let url = url_of(value.as_str());
                let platform =
                    Title::parse(&platform_of(value.as_str(), url.as_deref())).map_err(|e| {
                        RowError::format(row.line(), column.name(), value.as_str(), e.to_string())
                    })?;
                CommunityCommand::RegisterEBusiness(RegisterEBusiness {
                    enterprise_id: Uuid::new_v4(),
                    name: value.clone(),
                    platform,
                    url,
                    registered_on: on,
                })
            }
        };
        self.decide(w, command, column, Column::TanggalTahap)?;
        Ok(w.community.version())
    }

    /// The reason of a compensating event written by this import (R10): names the file and its
    /// digest.
    fn reason(&self, row: &RegistryRow, column: Column, what: &str) -> Result<Reason, Failure> {
        Reason::parse(&format!(
            "Impor registri {} (sha256 {}): {what}",
            self.file, self.sha256
        ))
        .map_err(|e| {
            RowError::rule(
                "invalid",
                row.line(),
                column.name(),
                row.raw.get(column),
                e.to_string(),
            )
            .into()
        })
    }

    /// The events grouped into appends that share a reason (R11 stores one reason per append),
    /// each marked with the file and its digest.
    fn appends(
        &self,
        id: &str,
        start: u64,
        events: &[CommunityEvent],
    ) -> Result<Vec<Append>, Failure> {
        let mut appends = Vec::new();
        let mut version = start;
        for group in events.chunk_by(|a, b| a.reason() == b.reason()) {
            let mut append = append_request(
                self.services,
                id,
                version,
                group,
                self.context,
                self.recorded_at,
            )
            .map_err(|e| Failure::Fatal(ImportError::Store(StoreError::Corrupt(e.to_string()))))?;
            append.metadata.import_file = Some(self.file.to_owned());
            append.metadata.import_sha256 = Some(self.sha256.to_owned());
            version += group.len() as u64;
            appends.push(append);
        }
        Ok(appends)
    }
}

/// A fact the import cannot change by an event (R10).
fn fixed(row: &RegistryRow, column: Column, message: String) -> Failure {
    RowError::rule(
        "R10",
        row.line(),
        column.name(),
        row.raw.get(column),
        message,
    )
    .into()
}

/// The same text for a person: whitespace collapsed, case ignored.
fn same_text(a: &str, b: &str) -> bool {
    collapse(a).to_lowercase() == collapse(b).to_lowercase()
}

/// A domain error as a report line: the CSV column the field comes from, its value and the rule.
fn row_error(
    error: DomainError,
    row: &RegistryRow,
    column: Column,
    date_column: Column,
) -> Failure {
    let column = match error.field.as_str() {
        "member_count" => Column::JumlahAnggota,
        "village" | "issuing_office" | "regency" | "signed_by" => Column::KodeDesa,
        "initiated_by" => Column::Inisiator,
        "origin_group" => Column::AsalKelompok,
        "officers.ketua" => Column::Ketua,
        "officers.sekretaris" => Column::Sekretaris,
        "officers.bendahara" => Column::Bendahara,
        "sk" => Column::NomorSk,
        "legal" if row.sk.is_none() => Column::NomorSk,
        "legal" => Column::NomorInduk,
        field if field.ends_with("_on") => date_column,
        _ => column,
    };
    let rule = match (error.rule, error.kind) {
        (Some(rule), _) => rule.to_string(),
        (None, ErrorKind::Invalid) => "invalid".to_owned(),
        (None, _) => "lifecycle".to_owned(),
    };
    RowError::rule(
        &rule,
        row.line(),
        column.name(),
        row.raw.get(column),
        error.message,
    )
    .into()
}

/// The address in a cell: the cell itself when it is a URL (`www.` gets `https://`).
fn url_of(value: &str) -> Option<String> {
    let value = value.trim();
    if value.chars().any(char::is_whitespace) {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Some(value.to_owned())
    } else if lower.starts_with("www.") {
        Some(format!("https://{value}"))
    } else {
        None
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    host.trim_start_matches("www.").to_ascii_lowercase()
}

/// Social media and messaging by their well-known names or hosts; any other address a website.
fn media_kind(value: &str, url: Option<&str>) -> MediaChannelKind {
    let text = url.map_or_else(|| value.to_lowercase(), host_of);
    let has = |names: &[&str]| names.iter().any(|name| text.contains(name));
    if has(&["whatsapp", "wa.me", "t.me", "telegram", "signal"]) {
        MediaChannelKind::Messaging
    } else if has(&[
        "facebook",
        "fb.com",
        "instagram",
        "youtube",
        "youtu.be",
        "tiktok",
        "twitter",
        "x.com",
        "threads",
    ]) || (url.is_none() && value.trim_start().starts_with('@'))
    {
        MediaChannelKind::SocialMedia
    } else {
        MediaChannelKind::Website
    }
}

/// The marketplace by its well-known name or host; another address is an own shop named by its
/// host; neither is `tidak disebutkan` (not stated).
fn platform_of(value: &str, url: Option<&str>) -> String {
    let text = url.map_or_else(|| value.to_lowercase(), host_of);
    let known = [
        ("tokopedia", "Tokopedia"),
        ("shopee", "Shopee"),
        ("bukalapak", "Bukalapak"),
        ("lazada", "Lazada"),
        ("blibli", "Blibli"),
        ("tiktok", "TikTok Shop"),
        ("facebook", "Facebook Marketplace"),
        ("instagram", "Instagram"),
        ("whatsapp", "WhatsApp Business"),
        ("wa.me", "WhatsApp Business"),
    ];
    if let Some((_, platform)) = known.iter().find(|(needle, _)| text.contains(needle)) {
        return (*platform).to_owned();
    }
    match url {
        Some(url) => format!("toko daring {}", host_of(url)),
        None => "tidak disebutkan".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_shops_are_classified_by_name_or_host() {
        let url = url_of("https://www.instagram.com/kim_maju");
        assert_eq!(
            media_kind("https://www.instagram.com/kim_maju", url.as_deref()),
            MediaChannelKind::SocialMedia
        );
        assert_eq!(
            media_kind("Grup WhatsApp KIM Maju", None),
            MediaChannelKind::Messaging
        );
        let url = url_of("www.kimmaju.desa.id");
        assert_eq!(url.as_deref(), Some("https://www.kimmaju.desa.id"));
        assert_eq!(
            media_kind("www.kimmaju.desa.id", url.as_deref()),
            MediaChannelKind::Website
        );
        assert_eq!(
            platform_of("x", Some("https://shopee.co.id/kimmaju")),
            "Shopee"
        );
        assert_eq!(
            platform_of("x", Some("https://kopi.desa.id/toko")),
            "toko daring kopi.desa.id"
        );
        assert_eq!(platform_of("Kopi Mbah", None), "tidak disebutkan");
        assert_eq!(url_of("Kopi Mbah"), None);
    }

    fn ids(master: &simpul_store::MasterKey) -> ImportIds {
        ImportIds::new(master.derive(simpul_store::IMPORT_IDS_LABEL))
    }

    #[test]
    fn ids_are_keyed_by_the_master_key_and_stable_per_key() {
        let master = simpul_store::MasterKey::generate();
        let key = "source:34.04:17";
        let id = ids(&master).community_id(key);
        // Stable for the same master key (a re-import finds the stream), per key.
        assert_eq!(id, ids(&master).community_id(key));
        assert_ne!(id, ids(&master).community_id("source:34.71:17"));
        // Not the public v5 id, and another deployment's master key gives another id.
        assert_ne!(id, legacy_community_id(key));
        assert_ne!(
            id,
            ids(&simpul_store::MasterKey::generate()).community_id(key)
        );
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(legacy_community_id(key).get_version_num(), 5);
    }

    #[test]
    fn ids_do_not_change_across_releases() {
        // Pinned: a change here would make every deployment's re-imports miss their KIM.
        let master =
            simpul_store::MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
                .unwrap();
        assert_eq!(
            ids(&master).community_id("source:34.04:17").to_string(),
            "e4e438c0-1f35-82cd-ab50-67ef2b73c5da"
        );
        assert_eq!(
            legacy_community_id("source:34.04:17").to_string(),
            "56160ce0-9a7e-540f-9601-be6bb6ac40d9"
        );
    }
}
