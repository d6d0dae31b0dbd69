//! Who may do what, where: a token's principal (role + scope) and the authorization matrix.
//!
//! | role | scope | may |
//! |---|---|---|
//! | admin | `national` | everything, including tokens |
//! | national | `national` | read |
//! | province | a province code | read in scope; record bimtek |
//! | regency | a kabupaten/kota code | read in scope; form (on the community's behalf), SK, nomor induk, bimtek, stage, suspend/reactivate/dissolve; import a registry (rows in scope) |
//! | pegiat | one community id | read its own KIM; officers, members, activities, media channels, e-business |
//! | auditor | `national` or a region code of any level | read everything in scope, including full history |
//! | analyst | `national`, a province or a kabupaten/kota code | aggregates in scope; the pseudonymised analytics export |
//!
//! Every role that reads a KIM reads its timeline ([`Action::ReadTimeline`]: its events with
//! who, when, why and request id; officers' names opened only for the roles that may); only admin
//! and auditor read the history across KIM — the audit trail and the events export
//! ([`Action::ReadHistory`]). Looking up region codes ([`Action::ReadRegion`]) is open to every
//! principal everywhere: it is the published Kemendagri list.
//!
//! Aggregates over regions — the stage dashboard, the monthly counts, the stage-transition
//! analytics ([`Action::ReadAnalytics`]) — are read by every role that supervises a region and by
//! the analyst; the analytics export ([`Action::ExportAnalytics`]: progression events with KIM
//! ids replaced by a keyed pseudonym, no names) by analyst, auditor and admin. The analyst reads
//! nothing else: no single KIM, no list of KIM (they carry names), no history, no ledger, no
//! status, and it sends no command. Its scope stops at the kabupaten/kota, so no aggregate it
//! reads is narrower than a kecamatan of a kabupaten it covers.
//!
//! Two answers for "no", chosen so that ids cannot be probed: a community that does not exist or
//! lies outside the scope is [`AuthError::NotFound`] (the HTTP layer answers 404 for both), and
//! only inside the scope does a missing permission show as [`AuthError::Forbidden`] (403). A list
//! or dashboard asked for a region outside the scope is `Forbidden`: the region itself is public.
//! The scope is always checked before the permission.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use simpul_domain::{ActorRole, CommunityCommand, RegionCode, RegionDirectory, RegionLevel};
use simpul_store::{StoreError, StoredToken, TokenStore};
use uuid::Uuid;

use crate::executor::CommandContext;

/// The scope text of national tokens.
pub const NATIONAL: &str = "national";

/// The name given to the admin token created when the server starts with no tokens at all.
pub const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap admin";

/// The roles a token may have, in the order of the table (`system` is Simpul's own).
pub const TOKEN_ROLES: [ActorRole; 7] = [
    ActorRole::Admin,
    ActorRole::National,
    ActorRole::Province,
    ActorRole::Regency,
    ActorRole::Pegiat,
    ActorRole::Auditor,
    ActorRole::Analyst,
];

/// Where a principal sees and acts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole country.
    National,
    /// Everything inside a region code (whole segments: `34.04` covers `34.04.01.2001`).
    Region(RegionCode),
    /// One community, by id (pegiat).
    Community(Uuid),
}

/// Why a role or scope text is not valid for a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Not one of the token roles.
    #[error(
        "unknown role `{0}` (expected admin, national, province, regency, pegiat, auditor or \
         analyst)"
    )]
    UnknownRole(String),
    /// `system` is for Simpul's own batch jobs and never holds a token.
    #[error("role `{0}` is Simpul's own and cannot hold a token")]
    NotATokenRole(ActorRole),
    /// Admin and national tokens are national.
    #[error("role `{role}` takes the scope `national`, got `{got}`")]
    NationalOnly {
        /// The role.
        role: ActorRole,
        /// The scope text given.
        got: String,
    },
    /// The scope should be a region code and is not shaped like one.
    #[error("role `{role}` takes {expected}, got `{got}`")]
    NotARegionCode {
        /// The role.
        role: ActorRole,
        /// What the role takes, in words.
        expected: &'static str,
        /// The scope text given.
        got: String,
    },
    /// The region code does not exist in the edition.
    #[error("region {code} does not exist in edition {edition}")]
    UnknownRegion {
        /// The code.
        code: RegionCode,
        /// The edition asked.
        edition: String,
    },
    /// The region code exists but at a level the role does not take.
    #[error("role `{role}` takes {expected}, but {code} is a {actual}")]
    WrongLevel {
        /// The role.
        role: ActorRole,
        /// The code given.
        code: RegionCode,
        /// What the role takes, in words.
        expected: &'static str,
        /// What the code is (`kecamatan`, `kabupaten`, …).
        actual: String,
    },
    /// Pegiat tokens take a community id.
    #[error("role `pegiat` takes a community id (a UUID), got `{0}`")]
    NotACommunityId(String),
    /// A stored token that was revoked cannot become a principal.
    #[error("token {0} is revoked")]
    Revoked(Uuid),
}

/// Parses a token role (`admin`, `national`, `province`, `regency`, `pegiat`, `auditor`,
/// `analyst`).
pub fn parse_token_role(text: &str) -> Result<ActorRole, ScopeError> {
    match ActorRole::parse(text.trim()) {
        Some(ActorRole::System) => Err(ScopeError::NotATokenRole(ActorRole::System)),
        Some(role) => Ok(role),
        None => Err(ScopeError::UnknownRole(text.to_owned())),
    }
}

impl Scope {
    /// Parses the scope text of a token of `role`, checking region codes against `regions`.
    pub fn parse(
        role: ActorRole,
        text: &str,
        regions: &dyn RegionDirectory,
    ) -> Result<Scope, ScopeError> {
        let text = text.trim();
        match role {
            ActorRole::System => Err(ScopeError::NotATokenRole(role)),
            ActorRole::Admin | ActorRole::National => {
                if text == NATIONAL {
                    Ok(Scope::National)
                } else {
                    Err(ScopeError::NationalOnly {
                        role,
                        got: text.to_owned(),
                    })
                }
            }
            ActorRole::Province => {
                region_at(role, text, Some(RegionLevel::Province), regions).map(Scope::Region)
            }
            ActorRole::Regency => {
                region_at(role, text, Some(RegionLevel::Regency), regions).map(Scope::Region)
            }
            ActorRole::Auditor => {
                if text == NATIONAL {
                    Ok(Scope::National)
                } else {
                    region_at(role, text, None, regions).map(Scope::Region)
                }
            }
            ActorRole::Analyst => {
                if text == NATIONAL {
                    return Ok(Scope::National);
                }
                let code = region_at(role, text, None, regions).map_err(|error| match error {
                    ScopeError::NotARegionCode { role, got, .. } => ScopeError::NotARegionCode {
                        role,
                        expected: ANALYST_SCOPE,
                        got,
                    },
                    other => other,
                })?;
                match code.level() {
                    RegionLevel::Province | RegionLevel::Regency => Ok(Scope::Region(code)),
                    RegionLevel::District | RegionLevel::Village => Err(ScopeError::WrongLevel {
                        role,
                        actual: regions
                            .lookup(&code)
                            .map(|info| info.kind)
                            .unwrap_or_else(|| "region below a kabupaten/kota".to_owned()),
                        code,
                        expected: ANALYST_SCOPE,
                    }),
                }
            }
            ActorRole::Pegiat => Uuid::parse_str(text)
                .map(Scope::Community)
                .map_err(|_| ScopeError::NotACommunityId(text.to_owned())),
        }
    }

    /// The region prefix a read covering regions only (analytics) filters by (`None`: the whole
    /// country). One KIM is not a region: a community scope is refused.
    pub fn regions_only(self) -> Result<Option<RegionCode>, AuthError> {
        match self {
            Scope::National => Ok(None),
            Scope::Region(region) => Ok(Some(region)),
            Scope::Community(_) => Err(AuthError::Forbidden {
                reason: "this read covers regions; a pegiat token covers one KIM".to_owned(),
            }),
        }
    }

    /// The region of a region scope.
    pub fn region(&self) -> Option<&RegionCode> {
        match self {
            Scope::Region(code) => Some(code),
            Scope::National | Scope::Community(_) => None,
        }
    }

    /// Whether a list, dashboard or form in `region` lies inside the scope. A community scope
    /// covers no region.
    pub fn covers_region(&self, region: &RegionCode) -> bool {
        match self {
            Scope::National => true,
            Scope::Region(scope) => region.is_within(scope),
            Scope::Community(_) => false,
        }
    }

    /// Whether the community `community_id`, anchored in `village`, lies inside the scope.
    pub fn covers_community(&self, community_id: &str, village: &RegionCode) -> bool {
        match self {
            Scope::National => true,
            Scope::Region(scope) => village.is_within(scope),
            Scope::Community(own) => Uuid::parse_str(community_id.trim()).ok() == Some(*own),
        }
    }
}

/// What an analyst's scope may be, in words: aggregates narrower than a kabupaten/kota's
/// kecamatan would come close to describing single KIM.
const ANALYST_SCOPE: &str = "`national`, a province code (PP) or a kabupaten/kota code (PP.RR)";

/// The words for what a role takes, in error messages.
fn expected_words(level: Option<RegionLevel>) -> &'static str {
    match level {
        Some(RegionLevel::Province) => "a province code (PP)",
        Some(RegionLevel::Regency) => "a kabupaten/kota code (PP.RR)",
        Some(RegionLevel::District) => "a kecamatan code (PP.RR.DD)",
        Some(RegionLevel::Village) => "a desa/kelurahan code (PP.RR.DD.VVVV)",
        None => "`national` or a region code (PP, PP.RR, PP.RR.DD or PP.RR.DD.VVVV)",
    }
}

fn region_at(
    role: ActorRole,
    text: &str,
    level: Option<RegionLevel>,
    regions: &dyn RegionDirectory,
) -> Result<RegionCode, ScopeError> {
    let expected = expected_words(level);
    let code = RegionCode::parse(text).map_err(|_| ScopeError::NotARegionCode {
        role,
        expected,
        got: text.to_owned(),
    })?;
    let Some(info) = regions.lookup(&code) else {
        return Err(ScopeError::UnknownRegion {
            code,
            edition: regions.edition().to_owned(),
        });
    };
    match level {
        Some(level) if info.level != level => Err(ScopeError::WrongLevel {
            role,
            code,
            expected,
            actual: info.kind,
        }),
        _ => Ok(code),
    }
}

impl fmt::Display for Scope {
    /// `national`, the region code, or the community id: what [`Scope::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::National => f.write_str(NATIONAL),
            Scope::Region(code) => write!(f, "{code}"),
            Scope::Community(id) => write!(f, "{id}"),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Every operation of the API, as far as authorization is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read a community's current state; with a region, list communities or a dashboard.
    ReadCommunity,
    /// Read a community's full event history across communities: the audit trail and the
    /// events export (auditors, admin).
    ReadHistory,
    /// Read one community's timeline: its events with who, when, why and request id, personal
    /// data opened only for the roles that may (every role that reads the community).
    ReadTimeline,
    /// Record a KIM's formation (on the community's behalf, for government roles).
    FormCommunity,
    /// Appoint an officer.
    AppointOfficer,
    /// Dismiss an officer.
    DismissOfficer,
    /// Update the member count.
    UpdateMembers,
    /// Record the village head's SK.
    IssueSk,
    /// Revoke the SK.
    RevokeSk,
    /// Assign the nomor induk.
    AssignRegistration,
    /// Record a bimtek.
    RecordBimtek,
    /// Record an activity.
    RecordActivity,
    /// Register a media channel.
    RegisterMediaChannel,
    /// Deactivate a media channel.
    DeactivateMediaChannel,
    /// Register an e-business.
    RegisterEBusiness,
    /// Deactivate an e-business.
    DeactivateEBusiness,
    /// Advance or lower the stage.
    ChangeStage,
    /// Suspend.
    Suspend,
    /// Reactivate.
    Reactivate,
    /// Dissolve.
    Dissolve,
    /// Create, list and revoke API tokens.
    ManageTokens,
    /// Look up region codes (everyone, everywhere).
    ReadRegion,
    /// Import an existing KIM registry (a CSV file): every row inside the scope.
    ImportRegistry,
    /// Read the read models' positions, lag and failures.
    ReadStatus,
    /// Read the ledger's checkpoints and proofs.
    ReadLedger,
    /// Read aggregates over the regions in scope: the stage dashboard, the monthly counts, the
    /// stage-transition analytics. No KIM is named in them.
    ReadAnalytics,
    /// Download the analytics export: the progression events in scope with each KIM's id
    /// replaced by a keyed pseudonym, and no names.
    ExportAnalytics,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 27] = [
        Action::ReadCommunity,
        Action::ReadHistory,
        Action::ReadTimeline,
        Action::FormCommunity,
        Action::AppointOfficer,
        Action::DismissOfficer,
        Action::UpdateMembers,
        Action::IssueSk,
        Action::RevokeSk,
        Action::AssignRegistration,
        Action::RecordBimtek,
        Action::RecordActivity,
        Action::RegisterMediaChannel,
        Action::DeactivateMediaChannel,
        Action::RegisterEBusiness,
        Action::DeactivateEBusiness,
        Action::ChangeStage,
        Action::Suspend,
        Action::Reactivate,
        Action::Dissolve,
        Action::ManageTokens,
        Action::ReadRegion,
        Action::ImportRegistry,
        Action::ReadStatus,
        Action::ReadLedger,
        Action::ReadAnalytics,
        Action::ExportAnalytics,
    ];

    /// The action a command needs.
    pub fn for_command(command: &CommunityCommand) -> Action {
        match command {
            CommunityCommand::FormCommunity(_) => Action::FormCommunity,
            CommunityCommand::AppointOfficer(_) => Action::AppointOfficer,
            CommunityCommand::DismissOfficer(_) => Action::DismissOfficer,
            CommunityCommand::UpdateMemberCount(_) => Action::UpdateMembers,
            CommunityCommand::IssueSk(_) => Action::IssueSk,
            CommunityCommand::RevokeSk(_) => Action::RevokeSk,
            CommunityCommand::AssignRegistrationNumber(_) => Action::AssignRegistration,
            CommunityCommand::RecordBimtek(_) => Action::RecordBimtek,
            CommunityCommand::RecordActivity(_) => Action::RecordActivity,
            CommunityCommand::RegisterMediaChannel(_) => Action::RegisterMediaChannel,
            CommunityCommand::DeactivateMediaChannel(_) => Action::DeactivateMediaChannel,
            CommunityCommand::RegisterEBusiness(_) => Action::RegisterEBusiness,
            CommunityCommand::DeactivateEBusiness(_) => Action::DeactivateEBusiness,
            CommunityCommand::AdvanceStage(_) | CommunityCommand::LowerStage(_) => {
                Action::ChangeStage
            }
            CommunityCommand::SuspendCommunity(_) => Action::Suspend,
            CommunityCommand::ReactivateCommunity(_) => Action::Reactivate,
            CommunityCommand::DissolveCommunity(_) => Action::Dissolve,
        }
    }

    /// What the action does, for messages ("may not …").
    pub fn describe(self) -> &'static str {
        match self {
            Action::ReadCommunity => "read communities",
            Action::ReadHistory => "read the audit trail and the events export",
            Action::ReadTimeline => "read a community's timeline",
            Action::FormCommunity => "record a community's formation",
            Action::AppointOfficer => "appoint officers",
            Action::DismissOfficer => "dismiss officers",
            Action::UpdateMembers => "update the member count",
            Action::IssueSk => "record an SK",
            Action::RevokeSk => "revoke an SK",
            Action::AssignRegistration => "assign a nomor induk",
            Action::RecordBimtek => "record a bimtek",
            Action::RecordActivity => "record activities",
            Action::RegisterMediaChannel => "register media channels",
            Action::DeactivateMediaChannel => "deactivate media channels",
            Action::RegisterEBusiness => "register e-businesses",
            Action::DeactivateEBusiness => "deactivate e-businesses",
            Action::ChangeStage => "change the stage",
            Action::Suspend => "suspend a community",
            Action::Reactivate => "reactivate a community",
            Action::Dissolve => "dissolve a community",
            Action::ManageTokens => "manage API tokens",
            Action::ReadRegion => "look up region codes",
            Action::ImportRegistry => "import a KIM registry",
            Action::ReadStatus => "read the projections' status",
            Action::ReadLedger => "read the ledger's checkpoints and proofs",
            Action::ReadAnalytics => "read aggregates over regions",
            Action::ExportAnalytics => "download the analytics export",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The role column of the matrix (scope aside).
fn role_may(role: ActorRole, action: Action) -> bool {
    use Action::*;
    match role {
        ActorRole::Admin | ActorRole::System => true,
        ActorRole::National => matches!(
            action,
            ReadCommunity | ReadTimeline | ReadRegion | ReadAnalytics
        ),
        ActorRole::Province => matches!(
            action,
            ReadCommunity | ReadTimeline | ReadRegion | ReadAnalytics | RecordBimtek
        ),
        ActorRole::Regency => matches!(
            action,
            ReadCommunity
                | ReadTimeline
                | ReadRegion
                | ReadAnalytics
                | FormCommunity
                | IssueSk
                | RevokeSk
                | AssignRegistration
                | RecordBimtek
                | ChangeStage
                | Suspend
                | Reactivate
                | Dissolve
                | ImportRegistry
        ),
        ActorRole::Pegiat => matches!(
            action,
            ReadCommunity
                | ReadTimeline
                | ReadRegion
                | AppointOfficer
                | DismissOfficer
                | UpdateMembers
                | RecordActivity
                | RegisterMediaChannel
                | DeactivateMediaChannel
                | RegisterEBusiness
                | DeactivateEBusiness
        ),
        ActorRole::Auditor => matches!(
            action,
            ReadCommunity
                | ReadHistory
                | ReadTimeline
                | ReadRegion
                | ReadStatus
                | ReadLedger
                | ReadAnalytics
                | ExportAnalytics
        ),
        // Aggregates and the pseudonymised export only: everything else names a KIM, a person
        // or an actor.
        ActorRole::Analyst => matches!(action, ReadRegion | ReadAnalytics | ExportAnalytics),
    }
}

/// Why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The community does not exist or lies outside the scope: indistinguishable (404).
    #[error("not found")]
    NotFound,
    /// Inside the scope, the role lacks the permission; or a region outside the scope (403).
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why, for the response body (never names anything outside the scope).
        reason: String,
    },
}

/// What a read without a region means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithoutRegion {
    /// The token's own scope (lists, the audit trail, analytics, exports).
    OwnScope,
    /// The whole country (the dashboard): only for national scopes; others name a region.
    Country,
}

/// The holder of a token: its role and scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The token's id.
    pub token_id: Uuid,
    /// The token's name.
    pub name: String,
    /// The role.
    pub role: ActorRole,
    /// The scope.
    pub scope: Scope,
}

impl Principal {
    /// The principal of a stored token. A row whose role or scope no longer parses (edited by
    /// hand, or a region gone from the edition) and a revoked row are errors: refuse the request
    /// as unauthenticated.
    pub fn from_stored(
        token: &StoredToken,
        regions: &dyn RegionDirectory,
    ) -> Result<Principal, ScopeError> {
        if !token.is_active() {
            return Err(ScopeError::Revoked(token.id));
        }
        let role = parse_token_role(&token.role)?;
        let scope = Scope::parse(role, &token.scope, regions)?;
        Ok(Principal {
            token_id: token.id,
            name: token.name.clone(),
            role,
            scope,
        })
    }

    /// The operator at the machine (the CLI's reads): admin across the country. Whoever can run
    /// the binary against the database already holds all of it; this principal holds no token
    /// (its id is the nil UUID) and writes nothing.
    pub fn operator() -> Principal {
        Principal {
            token_id: Uuid::nil(),
            name: "cli".to_owned(),
            role: ActorRole::Admin,
            scope: Scope::National,
        }
    }

    /// The actor recorded in events (R11): `token:<id>`.
    pub fn actor_id(&self) -> String {
        format!("token:{}", self.token_id)
    }

    /// The context for running a command as this principal.
    pub fn command_context(
        &self,
        request_id: impl Into<String>,
        expected_version: Option<u64>,
    ) -> CommandContext {
        CommandContext {
            actor_id: self.actor_id(),
            actor_role: self.role,
            request_id: request_id.into(),
            expected_version,
        }
    }

    /// Whether the role may perform `action` at all (inside its scope).
    pub fn can(&self, action: Action) -> bool {
        role_may(self.role, action)
    }

    /// Whether responses may carry officers' unsealed names and contacts.
    pub fn may_unseal_personal_data(&self) -> bool {
        match self.role {
            ActorRole::Admin
            | ActorRole::Auditor
            | ActorRole::Regency
            | ActorRole::Pegiat
            | ActorRole::System => true,
            ActorRole::National | ActorRole::Province | ActorRole::Analyst => false,
        }
    }

    /// May `action` be performed on the community `community_id`, whose desa/kelurahan is
    /// `village` (`None`: the community does not exist)? Missing and out of scope are both
    /// [`AuthError::NotFound`]; only in scope does a lacking permission say
    /// [`AuthError::Forbidden`].
    pub fn authorize_community(
        &self,
        action: Action,
        community_id: &str,
        village: Option<&RegionCode>,
    ) -> Result<(), AuthError> {
        let Some(village) = village else {
            return Err(AuthError::NotFound);
        };
        if !self.scope.covers_community(community_id, village) {
            return Err(AuthError::NotFound);
        }
        self.permitted(action)
    }

    /// May `action` be performed on `region` (a list, a dashboard, or forming a KIM whose desa is
    /// `region`)? Outside the scope or lacking the permission: [`AuthError::Forbidden`].
    /// [`Action::ReadRegion`] is allowed everywhere.
    pub fn authorize_region(&self, action: Action, region: &RegionCode) -> Result<(), AuthError> {
        if action == Action::ReadRegion {
            return Ok(());
        }
        if !self.scope.covers_region(region) {
            return Err(AuthError::Forbidden {
                reason: format!(
                    "region {region} is outside this token's scope ({})",
                    self.scope
                ),
            });
        }
        self.permitted(action)
    }

    /// May `action` be performed across the whole country (a list or dashboard without a
    /// region)? Only national scopes may; others should ask for their own region
    /// ([`Scope::region`]).
    pub fn authorize_national(&self, action: Action) -> Result<(), AuthError> {
        if action == Action::ReadRegion {
            return Ok(());
        }
        if self.scope != Scope::National {
            return Err(AuthError::Forbidden {
                reason: format!(
                    "this token's scope ({}) is not national: ask for a region inside it",
                    self.scope
                ),
            });
        }
        self.permitted(action)
    }

    /// May this principal read `province`'s ledger sub-log ([`Action::ReadLedger`])? A national
    /// scope reads every one; a regional scope reads its own province's (a regency's auditor
    /// sees leaf hashes of the rest of its province, never their events). Otherwise 403.
    pub fn authorize_sublog(&self, province: &RegionCode) -> Result<(), AuthError> {
        let own = match &self.scope {
            Scope::National => true,
            Scope::Region(scope) => {
                scope.ancestor_at(RegionLevel::Province).as_ref() == Some(province)
            }
            Scope::Community(_) => false,
        };
        if !own {
            return Err(AuthError::Forbidden {
                reason: format!(
                    "the sub-log of province {province} is outside this token's scope ({})",
                    self.scope
                ),
            });
        }
        self.permitted(Action::ReadLedger)
    }

    /// What a read of `action` over many KIM covers — `requested` (a region, which must be inside
    /// the token's scope), or, when absent, what `without` says — or why it is refused: a region
    /// outside the scope, a role without the permission, or a national read by a regional
    /// token, all 403. The one scope → filter step of every list, dashboard, audit trail,
    /// analytics and export.
    pub fn read_scope(
        &self,
        action: Action,
        requested: Option<&RegionCode>,
        without: WithoutRegion,
    ) -> Result<Scope, AuthError> {
        match (requested, &self.scope, without) {
            (Some(region), _, _) => {
                self.authorize_region(action, region)?;
                Ok(Scope::Region(region.clone()))
            }
            (None, Scope::National, _) | (None, _, WithoutRegion::Country) => {
                self.authorize_national(action)?;
                Ok(Scope::National)
            }
            (None, Scope::Region(scope), WithoutRegion::OwnScope) => {
                self.authorize_region(action, scope)?;
                Ok(Scope::Region(scope.clone()))
            }
            (None, Scope::Community(id), WithoutRegion::OwnScope) => {
                self.permitted(action)?;
                Ok(Scope::Community(*id))
            }
        }
    }

    /// May the role perform `action` at all (scope aside)? [`AuthError::Forbidden`] otherwise.
    /// Only for a request whose answer names nothing in or out of the scope (a command over
    /// many KIM asks it before looking at any of them).
    pub(crate) fn permitted(&self, action: Action) -> Result<(), AuthError> {
        if self.can(action) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                reason: format!("role `{}` may not {}", self.role, action.describe()),
            })
        }
    }
}

/// When no token exists at all (revoked ones count), creates an `admin`/`national` token named
/// [`BOOTSTRAP_TOKEN_NAME`] and writes its secret to `path` (mode 0600, created new, missing
/// parent directories created 0700), returning the path for the caller to log. `None` when
/// tokens exist. The secret goes nowhere else: log the path, never the file's content.
///
/// The file is claimed before the token is created, and removed again if anything later fails,
/// so no admin token exists whose secret nobody has. A file already at `path` while the table is
/// empty (a database reset) is an error rather than overwritten.
pub async fn bootstrap_admin_token(
    tokens: &TokenStore,
    path: &Path,
) -> Result<Option<PathBuf>, StoreError> {
    if tokens.count().await? > 0 {
        return Ok(None);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Like the data directory `Database::connect` creates: owner only. An existing
        // directory keeps its mode.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            StoreError::Config(format!(
                "{} exists but the database has no API tokens: move it away to create a new \
                 admin token",
                path.display()
            ))
        } else {
            StoreError::Config(format!("cannot create {}: {e}", path.display()))
        }
    })?;
    let (token, secret) = match tokens
        .create(BOOTSTRAP_TOKEN_NAME, ActorRole::Admin.as_str(), NATIONAL)
        .await
    {
        Ok(created) => created,
        Err(error) => {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(error);
        }
    };
    let written = writeln!(file, "{secret}").and_then(|()| file.sync_all());
    if let Err(error) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        let _ = tokens.revoke(token.id).await;
        return Err(StoreError::Config(format!(
            "cannot write {}: {error}",
            path.display()
        )));
    }
    Ok(Some(path.to_path_buf()))
}

#[cfg(test)]
mod tests;
