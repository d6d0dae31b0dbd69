//! The write path every command takes, whoever sends it: authorise the principal for the
//! command (`Action::for_command`), claim its Idempotency-Key, seal an appointment's personal
//! texts, run it, and record the key's outcome in the transaction that appends the events.
//! The HTTP handlers only extract, call and respond. A bimtek session over many KIM
//! ([`Writes::record_bimtek_session`], `bimtek.rs`) takes the same steps for every KIM it names
//! and writes them in one transaction.

mod bimtek;

pub use bimtek::{
    Attendance, AttendanceError, AttendanceFailure, BimtekSession, SessionError, SessionEvent,
    SessionRecorded, SessionWritten, MAX_SESSION_COMMUNITIES,
};

use std::sync::Arc;

use simpul_domain::commands::AppointOfficer;
use simpul_domain::events::Eligibility;
use simpul_domain::sealed::check_personal_text;
use simpul_domain::{CommunityCommand, CommunityEvent, DomainError, OfficerRole};
use simpul_store::{Claim, IdempotencyStore, KeyStore, Recorded, StoreError};
use uuid::Uuid;

use crate::auth::{Action, AuthError, Principal};
use crate::error::AppError;
use crate::executor::{CommandExecutor, Outcome};

/// An officer's appointment as it is asked for: name and contact in plain text, sealed with the
/// person's key only once the principal is authorised and the key claimed.
#[derive(Clone, Debug)]
pub struct Appointment {
    /// The person, if they held an office in this KIM before; generated otherwise.
    pub person_id: Option<Uuid>,
    /// The office.
    pub role: OfficerRole,
    /// The field, for a kepala bidang.
    pub bidang: Option<String>,
    /// Full name (personal data).
    pub name: String,
    /// Phone or e-mail (personal data).
    pub contact: Option<String>,
    /// Date of appointment.
    pub appointed_on: chrono::NaiveDate,
    /// Attestations (R4).
    pub eligibility: Eligibility,
}

/// What a principal asks to record.
#[derive(Clone, Debug)]
pub enum Request {
    /// A command as the domain takes it.
    Command(CommunityCommand),
    /// An appointment, sealed on the way.
    Appoint(Appointment),
}

impl Request {
    fn action(&self) -> Action {
        match self {
            Request::Command(command) => Action::for_command(command),
            Request::Appoint(_) => Action::AppointOfficer,
        }
    }
}

/// Everything about a write besides what it asks.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// The request id recorded with every event (R11).
    pub request_id: String,
    /// The version the client last saw (`If-Match`).
    pub if_match: Option<u64>,
    /// The Idempotency-Key, with the digest of what it was sent with and the status a success
    /// answers.
    pub idempotency: Option<IdempotencyKey>,
}

/// An Idempotency-Key as a write carries it.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    /// The key.
    pub key: String,
    /// The digest of the request (method, path, body).
    pub digest: String,
    /// The status a success answers (200, 201).
    pub status: u16,
}

/// What a write did.
#[derive(Debug)]
pub enum Written {
    /// The command was recorded now.
    Recorded(Outcome),
    /// The key's first request was answered before: this is its outcome again.
    Replayed(Recorded),
}

/// Why a write recorded nothing.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Not in scope (404) or not permitted (403).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Refused by the rules, a version mismatch, a conflict, or a store failure.
    #[error(transparent)]
    App(#[from] AppError),
    /// A chosen id belongs to a KIM this principal cannot see: taken, saying nothing of whose.
    #[error("this id is already in use; leave `id` out to let the server choose one")]
    IdTaken,
    /// The Idempotency-Key was used with another request.
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyMismatch,
    /// The key's first request is still running.
    #[error("a request with this Idempotency-Key is still in progress; retry in {retry_after} s")]
    InProgress {
        /// Seconds until the key may be taken over.
        retry_after: u64,
    },
    /// The person was erased: nothing about them is recorded again.
    #[error("person {0} was erased; their data cannot be recorded again")]
    Erased(Uuid),
}

impl From<StoreError> for WriteError {
    fn from(error: StoreError) -> Self {
        WriteError::App(error.into())
    }
}

impl From<DomainError> for WriteError {
    fn from(error: DomainError) -> Self {
        WriteError::App(AppError::Domain(error))
    }
}

/// The write path over one database.
#[derive(Clone)]
pub struct Writes {
    executor: Arc<CommandExecutor>,
    idempotency: IdempotencyStore,
    keys: KeyStore,
}

impl Writes {
    /// Writes through `executor`, with `idempotency` keys and `keys` for personal data.
    pub fn new(
        executor: Arc<CommandExecutor>,
        idempotency: IdempotencyStore,
        keys: KeyStore,
    ) -> Self {
        Self {
            executor,
            idempotency,
            keys,
        }
    }

    /// Records `request` on community `id` for `principal`: authorised first (a KIM out of
    /// scope is [`AuthError::NotFound`] before anything about the request is looked at), then
    /// the key claimed (a replay answers the first outcome), then sealed and run.
    pub async fn write(
        &self,
        principal: &Principal,
        id: &str,
        request: Request,
        options: WriteOptions,
    ) -> Result<Written, WriteError> {
        self.authorize(principal, id, &request).await?;
        let completion = match &options.idempotency {
            None => None,
            Some(key) => match self
                .idempotency
                .claim(&principal.actor_id(), &key.key, &key.digest, key.status)
                .await?
            {
                Claim::New(completion) => Some(completion),
                Claim::Replay(recorded) => return Ok(Written::Replayed(recorded)),
                Claim::Mismatch => return Err(WriteError::IdempotencyMismatch),
                Claim::InProgress { retry_after } => {
                    return Err(WriteError::InProgress { retry_after })
                }
            },
        };
        let context = principal.command_context(options.request_id, options.if_match);
        let (command, new_person) = match self.prepare(id, request).await {
            Ok(prepared) => prepared,
            Err(error) => {
                if let Some(completion) = &completion {
                    self.idempotency.release(completion).await?;
                }
                return Err(error);
            }
        };
        let executed = match &completion {
            Some(completion) => {
                self.executor
                    .execute_completing(id, command, &context, completion)
                    .await
            }
            None => self.executor.execute(id, command, &context).await,
        };
        match executed {
            Ok(outcome) => Ok(Written::Recorded(outcome)),
            Err(error) => {
                // Refused: no event names a new person, so their key goes again.
                if let Some(person) = new_person {
                    self.keys.discard_unused(person).await?;
                }
                if let Some(completion) = &completion {
                    self.idempotency.release(completion).await?;
                }
                Err(error.into())
            }
        }
    }

    /// May `principal` ask for `request` on `id`? Forming is decided on the desa (and a chosen
    /// id that another scope's KIM holds says only "taken"); every other command on the KIM
    /// as last seen.
    async fn authorize(
        &self,
        principal: &Principal,
        id: &str,
        request: &Request,
    ) -> Result<(), WriteError> {
        let action = request.action();
        if let Request::Command(CommunityCommand::FormCommunity(form)) = request {
            principal.authorize_region(action, &form.village)?;
            let (existing, version) = self.executor.current_state(id).await?;
            let visible = principal
                .authorize_community(Action::ReadCommunity, id, existing.village())
                .is_ok();
            if version > 0 && !visible {
                return Err(WriteError::IdTaken);
            }
            return Ok(());
        }
        let (community, _) = self.executor.current_state(id).await?;
        principal.authorize_community(action, id, community.village())?;
        Ok(())
    }

    /// The domain command for `request`: an appointment's texts checked and sealed with the
    /// person's key (and whether that person is new here, so a refused command discards it).
    async fn prepare(
        &self,
        id: &str,
        request: Request,
    ) -> Result<(CommunityCommand, Option<Uuid>), WriteError> {
        let appointment = match request {
            Request::Command(command) => return Ok((command, None)),
            Request::Appoint(appointment) => appointment,
        };
        let name = appointment.name.trim();
        if name.is_empty() {
            return Err(DomainError::invalid("name", "must not be empty").into());
        }
        let contact = appointment
            .contact
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        check_personal_text("name", name)?;
        if let Some(contact) = contact {
            check_personal_text("contact", contact)?;
        }
        // A chosen person_id is a new person, or one of this KIM's own officers (a
        // re-appointment). A person known elsewhere — another KIM's officer, erased or not — is
        // refused alike, revealing nothing about them (and their key is never reused here).
        let new_person = match appointment.person_id {
            None => true,
            Some(person) => {
                let ours = self.executor.store().stream(id).await?.iter().any(|event| {
                    matches!(
                        serde_json::from_value::<CommunityEvent>(event.payload.clone()),
                        Ok(CommunityEvent::OfficerAppointed(appointed)) if appointed.person_id == person
                    )
                });
                if !ours && self.keys.is_known(person).await? {
                    return Err(DomainError::invalid(
                        "person_id",
                        "is not an officer of this KIM; leave it out to appoint someone new",
                    )
                    .into());
                }
                !ours
            }
        };
        let person_id = appointment.person_id.unwrap_or_else(Uuid::new_v4);
        let sealed_name = self
            .keys
            .seal(person_id, name)
            .await?
            .ok_or(WriteError::Erased(person_id))?;
        let sealed_contact = match contact {
            Some(contact) => Some(
                self.keys
                    .seal(person_id, contact)
                    .await?
                    .ok_or(WriteError::Erased(person_id))?,
            ),
            None => None,
        };
        let command = CommunityCommand::AppointOfficer(AppointOfficer {
            person_id,
            role: appointment.role,
            bidang: appointment.bidang,
            name: sealed_name,
            contact: sealed_contact,
            appointed_on: appointment.appointed_on,
            eligibility: appointment.eligibility,
        });
        Ok((command, new_person.then_some(person_id)))
    }
}
