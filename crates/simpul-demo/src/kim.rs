//! One KIM's synthetic life, simulated in time order and decided step by step by the aggregate.
//!
//! The simulation is a small discrete-event loop: a queue of dated tasks (the next activity, the
//! end of an officer's term, the next assessment round…). Popping a task may run one or more
//! commands through [`Community::decide`] — exactly as the API would — and push later tasks. All
//! draws come from the KIM's own generator and happen in time order, and nothing looks at
//! [`DemoConfig::until`] except the loop's stopping test (and the schedules, which are drawn year
//! by year), so a plan with an earlier `until` is a prefix of one with a later `until`.
//!
//! Causality that analytics can find: attending bimtek raises the chance of registering new media
//! and e-business and, at every assessment round, the chance of advancing a stage.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use cqrs_es::Aggregate;
use simpul_domain::commands::{
    AdvanceStage, AppointOfficer, AssignRegistrationNumber, DeactivateEBusiness,
    DeactivateMediaChannel, DismissOfficer, DissolveCommunity, FormCommunity, IssueSk, LowerStage,
    ReactivateCommunity, RecordActivity, RecordBimtek, RegisterEBusiness, RegisterMediaChannel,
    RevokeSk, SuspendCommunity, UpdateMemberCount,
};
use simpul_domain::events::{ActivityKind, Eligibility, MediaChannelKind};
use simpul_domain::sealed::DataKey;
use simpul_domain::text::{CommunityName, Reason, RegistrationNumber, SkNumber};
use simpul_domain::{
    ActorRole, Community, CommunityCommand, CommunityServices, CommunityStatus, OfficerRole,
    RegionCode, Stage,
};
use uuid::Uuid;

use crate::counts::{formation_date, kim_rng};
use crate::names;
use crate::rng::Rng;
use crate::schedule::{first_from, Schedule, Session};
use crate::{text, DemoConfig, DemoError, DemoPerson, DemoStep};

/// A desa/kelurahan a KIM can be anchored in.
#[derive(Clone, Debug)]
pub(crate) struct Village {
    pub(crate) code: RegionCode,
    /// `Desa Sardonoharjo`, `Kelurahan Kricak`.
    pub(crate) display: String,
    /// The signing office of its SK: `Kepala Desa Sardonoharjo`, `Lurah Kricak`.
    pub(crate) head: String,
    /// The name in lower-case letters and digits.
    pub(crate) slug: String,
}

/// What every KIM of one kabupaten/kota shares.
pub(crate) struct Context<'a> {
    pub(crate) config: &'a DemoConfig,
    pub(crate) services: &'a CommunityServices,
    pub(crate) regency: &'a RegionCode,
    /// The code without dots (`3404`), for nomor induk.
    pub(crate) regency_digits: String,
    pub(crate) regency_actor: String,
    pub(crate) province_actor: String,
    pub(crate) villages: &'a [Village],
    pub(crate) schedule: &'a Schedule,
}

/// One KIM's steps (in time order) and the persons it introduced.
#[derive(Default)]
pub(crate) struct KimPlan {
    pub(crate) steps: Vec<DemoStep>,
    pub(crate) persons: Vec<DemoPerson>,
}

/// Something the simulation will do on a date. Tasks falling on the same day run in the order
/// they were queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    Setup,
    IssueSk,
    AssignNumber,
    /// The end of an officer's term; `token` tells which appointment it belongs to.
    TenureEnd {
        person: Uuid,
        token: u32,
    },
    RenewSk,
    Members,
    Activity,
    Bimtek {
        province: bool,
        index: usize,
    },
    MediaCheck,
    DeactivateChannel(Uuid),
    EBusinessCheck,
    DeactivateEBusiness(Uuid),
    Round(usize),
    Suspend,
    Reactivate,
    Dissolve,
    BimtekDue,
}

/// Who sends a command, as far as the API's authorization matrix goes.
#[derive(Clone, Copy)]
enum Actor {
    /// Diskominfo Kabupaten/Kota: forming on the community's behalf, SK, nomor induk, bimtek,
    /// stages, suspension, reactivation, dissolution.
    Regency,
    /// Diskominfo Provinsi: its own bimtek.
    Province,
    /// The KIM's pegiat: officers, members, activities, media, e-business.
    Pegiat,
}

/// A person known to this KIM: their data key and (plaintext, never in a command) name.
struct Person {
    key: DataKey,
    name: String,
    phone: Option<String>,
}

/// A media channel or e-business: its id, the sequence that registered it, whether active.
struct Listing {
    id: Uuid,
    /// The kind, for a media channel.
    kind: Option<MediaChannelKind>,
    sequence: u64,
    active: bool,
}

/// Chance per assessment round of advancing to KIM 2, 3, 4 with no bimtek; multiplied by
/// [`bimtek_factor`].
const ADVANCE_BASE: [(Stage, f64); 3] = [
    (Stage::Kim2, 0.55),
    (Stage::Kim3, 0.50),
    (Stage::Kim4, 0.12),
];

/// How much attended bimtek raise the odds: ×0.4 with none, ×1.2 with two, ×2 with four or more.
fn bimtek_factor(bimtek: usize) -> f64 {
    0.4 + 0.4 * bimtek.min(4) as f64
}

/// The first draws of KIM `index` of `regency`: its formation date and id, and its generator
/// after them; `None` when it is formed after `config.until` (then it is not planned at all).
/// [`plan`] and [`crate::community_ids`] both start here, so they cannot disagree.
pub(crate) fn start(
    config: &DemoConfig,
    regency: &RegionCode,
    index: u32,
) -> Option<(Rng, NaiveDate, Uuid)> {
    let mut rng = kim_rng(config.seed, regency, index);
    let formed_on = formation_date(&mut rng);
    if formed_on > config.until {
        return None;
    }
    let id = rng.uuid();
    Some((rng, formed_on, id))
}

/// Plans KIM number `index` of the kabupaten/kota; `number` is its place in the kabupaten/kota's
/// nomor induk sequence (unique there, R8). Empty when the KIM is formed after `until`.
pub(crate) fn plan(ctx: &Context<'_>, index: u32, number: u32) -> Result<KimPlan, DemoError> {
    let Some((mut rng, formed_on, id)) = start(ctx.config, ctx.regency, index) else {
        return Ok(KimPlan::default());
    };
    let village = rng
        .pick(ctx.villages)
        .ok_or_else(|| DemoError::NoVillages(ctx.regency.clone()))?;
    let engagement = rng.unit();
    let mut kim = Kim {
        ctx,
        rng,
        id,
        village,
        name: String::new(),
        handle: String::new(),
        number,
        engagement,
        state: Community::default(),
        plan: KimPlan::default(),
        people: BTreeMap::new(),
        tokens: BTreeMap::new(),
        queue: BinaryHeap::new(),
        pushed: 0,
        last_at: None,
        development: Vec::new(),
        bimtek: Vec::new(),
        channels: Vec::new(),
        enterprises: Vec::new(),
        paused_until: None,
        sk_pending: false,
        number_decided: false,
        sk_count: 0,
    };
    kim.form(formed_on)?;
    kim.run()?;
    Ok(kim.plan)
}

struct Kim<'a> {
    ctx: &'a Context<'a>,
    rng: Rng,
    id: Uuid,
    village: &'a Village,
    /// `KIM Maju Bersama Desa Sardonoharjo`.
    name: String,
    /// `majubersamasardonoharjo`, for handles and URLs.
    handle: String,
    number: u32,
    /// 0–1: how active the KIM is (activities, bimtek attendance).
    engagement: f64,
    state: Community,
    plan: KimPlan,
    people: BTreeMap<Uuid, Person>,
    /// The latest appointment of each person, so an old term's end is ignored.
    tokens: BTreeMap<Uuid, u32>,
    queue: BinaryHeap<Reverse<(NaiveDate, u32, Task)>>,
    pushed: u32,
    last_at: Option<DateTime<Utc>>,
    /// Sequences of development-agent activities (evidence for KIM 2).
    development: Vec<u64>,
    /// Sequences of bimtek attended.
    bimtek: Vec<u64>,
    channels: Vec<Listing>,
    enterprises: Vec<Listing>,
    /// While suspended: the day of reactivation or dissolution (`NaiveDate::MAX`: never).
    paused_until: Option<NaiveDate>,
    /// An `IssueSk` task is queued.
    sk_pending: bool,
    /// Whether the Dinas' nomor induk was decided (queued or never to come).
    number_decided: bool,
    sk_count: u32,
}

impl Kim<'_> {
    fn push(&mut self, date: NaiveDate, task: Task) {
        self.pushed = self.pushed.wrapping_add(1);
        self.queue.push(Reverse((date, self.pushed, task)));
    }

    fn days(&mut self, date: NaiveDate, lo: i64, hi: i64) -> NaiveDate {
        let days = self.rng.between(lo, hi).max(0) as u64;
        date + Days::new(days)
    }

    /// A gap around `mean` days: uniform on 0.3–1.7 × mean.
    fn gap(&mut self, date: NaiveDate, mean: f64) -> NaiveDate {
        let lo = (mean * 0.3) as i64;
        let hi = (mean * 1.7) as i64;
        self.days(date, lo.max(1), hi.max(2))
    }

    fn reason(&mut self, reasons: &[&str]) -> Result<Reason, DemoError> {
        let reason = self
            .rng
            .pick(reasons)
            .copied()
            .unwrap_or("Hasil musyawarah");
        Reason::parse(reason).map_err(|error| DemoError::Text {
            text: reason.to_owned(),
            error,
        })
    }

    /// The recorded time of a step on `date`: office hours in WIB (01:00–09:00 UTC), strictly
    /// after the KIM's previous step.
    fn next_at(&mut self, date: NaiveDate) -> DateTime<Utc> {
        let start = date.and_time(NaiveTime::MIN).and_utc();
        let end = start + TimeDelta::seconds(86_399);
        let at = match self.last_at {
            Some(last) if last >= start => {
                let later = last + TimeDelta::seconds(self.rng.between(60, 900));
                if later > end {
                    last + TimeDelta::seconds(1)
                } else {
                    later
                }
            }
            _ => start + TimeDelta::seconds(3_600 + self.rng.between(0, 8 * 3_600 - 1)),
        };
        self.last_at = Some(at);
        at
    }

    /// Decides `command` on the current state, applies its events and records the step.
    fn exec(
        &mut self,
        date: NaiveDate,
        actor: Actor,
        command: CommunityCommand,
    ) -> Result<(), DemoError> {
        let events = self
            .state
            .decide(command.clone(), self.ctx.services)
            .map_err(|error| DemoError::Rejected {
                community_id: self.id,
                command: command.name(),
                on: date,
                error,
            })?;
        for event in &events {
            self.state.apply(event.clone());
        }
        let (actor_id, actor_role) = match actor {
            Actor::Regency => (self.ctx.regency_actor.clone(), ActorRole::Regency),
            Actor::Province => (self.ctx.province_actor.clone(), ActorRole::Province),
            Actor::Pegiat => (format!("demo:pegiat:{}", self.id), ActorRole::Pegiat),
        };
        let at = self.next_at(date);
        self.plan.steps.push(DemoStep {
            community_id: self.id,
            at,
            actor_id,
            actor_role,
            command,
            events,
        });
        Ok(())
    }

    fn run(&mut self) -> Result<(), DemoError> {
        while let Some(Reverse((date, _, task))) = self.queue.pop() {
            if date > self.ctx.config.until || self.state.status() == CommunityStatus::Dissolved {
                break;
            }
            if let Some(resume) = self.paused_until {
                if date <= resume && !matches!(task, Task::Reactivate | Task::Dissolve) {
                    self.postpone(resume, task);
                    continue;
                }
            }
            self.perform(date, task)?;
        }
        Ok(())
    }

    /// A task falling while the KIM is suspended waits for the reactivation (or is dropped).
    fn postpone(&mut self, resume: NaiveDate, task: Task) {
        if resume == NaiveDate::MAX {
            return;
        }
        match task {
            Task::Round(index) => {
                if let Some(next) = self.ctx.schedule.rounds.get(index + 1).copied() {
                    self.push(next, Task::Round(index + 1));
                }
            }
            Task::Suspend => {}
            Task::Bimtek { .. } | Task::BimtekDue => {
                let due = self.days(resume, 1, 60);
                self.push(due, Task::BimtekDue);
            }
            other => {
                let due = self.days(resume, 1, 60);
                self.push(due, other);
            }
        }
    }

    fn perform(&mut self, date: NaiveDate, task: Task) -> Result<(), DemoError> {
        match task {
            Task::Setup => self.setup(date),
            Task::IssueSk => self.issue_sk(date),
            Task::AssignNumber => self.assign_number(date),
            Task::TenureEnd { person, token } => self.tenure_end(date, person, token),
            Task::RenewSk => self.renew_sk(date),
            Task::Members => self.members(date),
            Task::Activity => self.activity(date),
            Task::Bimtek { province, index } => self.attend(date, province, index),
            Task::BimtekDue => {
                self.bimtek_due(date);
                Ok(())
            }
            Task::MediaCheck => self.media_check(date),
            Task::DeactivateChannel(id) => self.deactivate_channel(date, id),
            Task::EBusinessCheck => self.e_business_check(date),
            Task::DeactivateEBusiness(id) => self.deactivate_e_business(date, id),
            Task::Round(index) => self.round(date, index),
            Task::Suspend => self.suspend(date),
            Task::Reactivate => self.reactivate(date),
            Task::Dissolve => self.dissolve(date),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Formation and officers
    // -----------------------------------------------------------------------------------------

    fn form(&mut self, formed_on: NaiveDate) -> Result<(), DemoError> {
        let motto = names::motto(&mut self.rng);
        self.name = format!("KIM {motto} {}", self.village.display);
        self.handle = format!("{}{}", names::slug(motto), self.village.slug);
        let name = CommunityName::parse(&self.name).map_err(|error| DemoError::Text {
            text: self.name.clone(),
            error,
        })?;
        let origin_group = names::origin_group(&mut self.rng, &self.village.display);
        let initiated_by = names::initiator(
            &mut self.rng,
            &self.village.display,
            origin_group.as_deref(),
        );
        let member_count = self.rng.between(5, 25) as u32;
        let command = CommunityCommand::FormCommunity(FormCommunity {
            name,
            village: self.village.code.clone(),
            formed_on,
            origin_group,
            member_count,
            initiated_by: Some(initiated_by),
            recorded_by_role: ActorRole::Regency,
        });
        self.exec(formed_on, Actor::Regency, command)?;
        let setup = self.days(formed_on, 0, 10);
        self.push(setup, Task::Setup);
        if self.rng.chance(0.08) {
            let on = self.days(formed_on, 240, 2_600);
            self.push(on, Task::Suspend);
        }
        if self.rng.chance(0.025) {
            let on = self.days(formed_on, 365, 2_600);
            self.push(on, Task::Dissolve);
        }
        if self.rng.chance(0.04) {
            let on = self.days(formed_on, 400, 2_000);
            self.push(on, Task::RenewSk);
        }
        Ok(())
    }

    fn setup(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        for role in OfficerRole::CORE {
            self.appoint_new(date, role, None)?;
        }
        let heads = *self
            .rng
            .weighted(&[(0usize, 45), (1, 25), (2, 20), (3, 10)])
            .unwrap_or(&0);
        let first = self.rng.index(names::BIDANG.len());
        for k in 0..heads {
            let bidang = names::BIDANG
                .get((first + k) % names::BIDANG.len())
                .copied()
                .unwrap_or("Bidang Media dan Publikasi");
            self.appoint_new(date, OfficerRole::KepalaBidang, Some(bidang.to_owned()))?;
        }
        if self.rng.chance(0.94) {
            let on = self.days(date, 20, 300);
            self.push(on, Task::IssueSk);
            self.sk_pending = true;
        }
        let activity = self.days(date, 7, 60);
        self.push(activity, Task::Activity);
        let members = self.days(date, 120, 500);
        self.push(members, Task::Members);
        let media = self.days(date, 20, 90);
        self.push(media, Task::MediaCheck);
        let shop = self.days(date, 120, 300);
        self.push(shop, Task::EBusinessCheck);
        let due = self.gap(date, self.bimtek_mean());
        self.push(due, Task::BimtekDue);
        let first_round = date + Days::new(60);
        let rounds = &self.ctx.schedule.rounds;
        let index = rounds.partition_point(|round| *round < first_round);
        if let Some(on) = rounds.get(index).copied() {
            self.push(on, Task::Round(index));
        }
        Ok(())
    }

    /// A new person (id, key, name, maybe a phone) appointed to `role`.
    fn appoint_new(
        &mut self,
        date: NaiveDate,
        role: OfficerRole,
        bidang: Option<String>,
    ) -> Result<(), DemoError> {
        let person_id = self.rng.uuid();
        let key: [u8; 32] = self.rng.bytes();
        let name = names::person(&mut self.rng);
        let phone = self.rng.chance(0.6).then(|| names::phone(&mut self.rng));
        self.plan.persons.push(DemoPerson {
            person_id,
            key,
            name: name.clone(),
        });
        self.people.insert(
            person_id,
            Person {
                key: DataKey::from_bytes(key),
                name,
                phone,
            },
        );
        self.appoint(date, person_id, role, bidang)
    }

    /// Appoints a known person; the name (and phone) are sealed afresh with the person's key.
    fn appoint(
        &mut self,
        date: NaiveDate,
        person_id: Uuid,
        role: OfficerRole,
        bidang: Option<String>,
    ) -> Result<(), DemoError> {
        let name_nonce: [u8; 24] = self.rng.bytes();
        let phone_nonce: [u8; 24] = self.rng.bytes();
        let Some(person) = self.people.get(&person_id) else {
            return Err(DemoError::Planner(format!(
                "person {person_id} of KIM {} is unknown",
                self.id
            )));
        };
        let name = person
            .key
            .seal_with_nonce(person_id, &person.name, name_nonce)
            .map_err(DemoError::Seal)?;
        let contact = match &person.phone {
            Some(phone) => Some(
                person
                    .key
                    .seal_with_nonce(person_id, phone, phone_nonce)
                    .map_err(DemoError::Seal)?,
            ),
            None => None,
        };
        let command = CommunityCommand::AppointOfficer(AppointOfficer {
            person_id,
            role,
            bidang,
            name,
            contact,
            appointed_on: date,
            eligibility: Eligibility {
                not_asn: true,
                no_criminal_record: true,
                no_party_affiliation: true,
                no_ngo_affiliation: true,
            },
        });
        self.exec(date, Actor::Pegiat, command)?;
        let token = self.tokens.get(&person_id).map_or(0, |t| t.wrapping_add(1));
        self.tokens.insert(person_id, token);
        let term = if role == OfficerRole::KepalaBidang {
            self.days(date, 300, 1_800)
        } else {
            self.days(date, 500, 2_500)
        };
        self.push(
            term,
            Task::TenureEnd {
                person: person_id,
                token,
            },
        );
        Ok(())
    }

    fn dismiss(
        &mut self,
        date: NaiveDate,
        person_id: Uuid,
        reason: Reason,
    ) -> Result<(), DemoError> {
        let command = CommunityCommand::DismissOfficer(DismissOfficer {
            person_id,
            dismissed_on: date,
            reason,
        });
        self.exec(date, Actor::Pegiat, command)
    }

    fn role_of(&self, person: Uuid) -> Option<OfficerRole> {
        self.state
            .active_officers()
            .find(|(held_by, _)| *held_by == person)
            .map(|(_, role)| role)
    }

    /// An officer's term ends: turnover (dismissal and a successor), sometimes a sekretaris
    /// promoted to ketua, sometimes a renewed SK for the new roster.
    fn tenure_end(&mut self, date: NaiveDate, person: Uuid, token: u32) -> Result<(), DemoError> {
        if self.tokens.get(&person) != Some(&token) {
            return Ok(());
        }
        let Some(role) = self.role_of(person) else {
            return Ok(());
        };
        let reason = self.reason(names::DISMISSAL_REASONS)?;
        match role {
            OfficerRole::Ketua => {
                let sekretaris = self.state.holder_of(OfficerRole::Sekretaris);
                match sekretaris {
                    Some(sekretaris) if self.rng.chance(0.3) => {
                        self.dismiss(date, person, reason)?;
                        let moved = self.reason(&["Beralih jabatan menjadi ketua"])?;
                        self.dismiss(date, sekretaris, moved)?;
                        self.appoint(date, sekretaris, OfficerRole::Ketua, None)?;
                        self.appoint_new(date, OfficerRole::Sekretaris, None)?;
                    }
                    _ => {
                        self.dismiss(date, person, reason)?;
                        self.appoint_new(date, OfficerRole::Ketua, None)?;
                    }
                }
                if self.state.active_sk().is_some() && !self.sk_pending && self.rng.chance(0.3) {
                    let on = self.days(date, 10, 60);
                    self.push(on, Task::RenewSk);
                }
            }
            OfficerRole::KepalaBidang => {
                let bidang = self.state.bidang_of(person).map(str::to_owned);
                self.dismiss(date, person, reason)?;
                if self.rng.chance(0.6) {
                    self.appoint_new(date, OfficerRole::KepalaBidang, bidang)?;
                }
            }
            role => {
                self.dismiss(date, person, reason)?;
                self.appoint_new(date, role, None)?;
            }
        }
        Ok(())
    }

    fn members(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        let policy = &self.ctx.services.policy;
        let (min, max) = (i64::from(policy.member_min), i64::from(policy.member_max));
        let current = i64::from(self.state.member_count());
        let step = self.rng.between(1, 5);
        let delta = if self.rng.chance(0.6) { step } else { -step };
        let mut count = (current + delta).clamp(min, max);
        if count == current {
            count = if current < max {
                current + 1
            } else {
                current - 1
            };
        }
        let command = CommunityCommand::UpdateMemberCount(UpdateMemberCount {
            member_count: count as u32,
            effective_on: date,
        });
        self.exec(date, Actor::Pegiat, command)?;
        let next = self.days(date, 120, 480);
        self.push(next, Task::Members);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // SK and nomor induk
    // -----------------------------------------------------------------------------------------

    fn issue_sk(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        self.sk_pending = false;
        if self.state.active_sk().is_some() {
            return Ok(());
        }
        let complete = OfficerRole::CORE
            .into_iter()
            .all(|role| self.state.holder_of(role).is_some());
        if !complete {
            let later = self.days(date, 7, 21);
            self.push(later, Task::IssueSk);
            self.sk_pending = true;
            return Ok(());
        }
        let raw = format!("{}/KPTS/{}", self.rng.between(1, 250), date.year());
        let number = SkNumber::parse(&raw).map_err(|error| DemoError::Text { text: raw, error })?;
        let subject = if self.sk_count == 0 {
            format!("Pembentukan Komunitas Informasi Masyarakat {}", self.name)
        } else {
            format!(
                "Perubahan Susunan Pengurus Komunitas Informasi Masyarakat {}",
                self.name
            )
        };
        let roster_acknowledged = self.rng.chance(0.9);
        let command = CommunityCommand::IssueSk(IssueSk {
            number,
            issued_on: date,
            subject: text(&subject)?,
            issuing_office: self.village.code.clone(),
            signed_by: self.village.head.clone(),
            roster_acknowledged,
        });
        self.exec(date, Actor::Regency, command)?;
        self.sk_count += 1;
        if !self.number_decided {
            self.number_decided = true;
            if self.rng.chance(0.96) {
                let on = self.days(date, 14, 200);
                self.push(on, Task::AssignNumber);
            }
        }
        Ok(())
    }

    fn renew_sk(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        if self.state.active_sk().is_none() || self.sk_pending {
            return Ok(());
        }
        let reason = self.reason(names::SK_REVOCATION_REASONS)?;
        let command = CommunityCommand::RevokeSk(RevokeSk {
            revoked_on: date,
            reason,
        });
        self.exec(date, Actor::Regency, command)?;
        if self.rng.chance(0.85) {
            let on = if self.rng.chance(0.5) {
                date
            } else {
                self.days(date, 1, 45)
            };
            self.push(on, Task::IssueSk);
            self.sk_pending = true;
        }
        Ok(())
    }

    fn assign_number(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        if self.state.registration_number().is_some() {
            return Ok(());
        }
        if self.state.active_sk().is_none() {
            let later = self.days(date, 20, 40);
            self.push(later, Task::AssignNumber);
            return Ok(());
        }
        let raw = format!("KIM-{}-{:04}", self.ctx.regency_digits, self.number);
        let number = RegistrationNumber::parse(&raw)
            .map_err(|error| DemoError::Text { text: raw, error })?;
        let command = CommunityCommand::AssignRegistrationNumber(AssignRegistrationNumber {
            number,
            regency: self.ctx.regency.clone(),
            assigned_on: date,
        });
        self.exec(date, Actor::Regency, command)
    }

    // -----------------------------------------------------------------------------------------
    // Activities, bimtek, media, e-business
    // -----------------------------------------------------------------------------------------

    fn activity(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        let kinds = [
            (ActivityKind::ConventionalForum, 28),
            (ActivityKind::DevelopmentAgent, 22),
            (ActivityKind::Dissemination, 25),
            (ActivityKind::Aspiration, 15),
            (ActivityKind::Networking, 10),
        ];
        let kind = self
            .rng
            .weighted(&kinds)
            .copied()
            .unwrap_or(ActivityKind::ConventionalForum);
        let title = names::activity_title(&mut self.rng, kind, date.year());
        let participants = self
            .rng
            .chance(0.85)
            .then(|| self.rng.between(5, 80) as u32);
        let command = CommunityCommand::RecordActivity(RecordActivity {
            activity_id: self.rng.uuid(),
            kind,
            title: text(title)?,
            held_on: date,
            participants,
        });
        self.exec(date, Actor::Pegiat, command)?;
        if kind == ActivityKind::DevelopmentAgent {
            self.development.push(self.state.version());
        }
        // 4 to 13 activities a year, by engagement.
        let mean = 365.0 / (4.0 + 9.0 * self.engagement);
        let next = self.gap(date, mean);
        self.push(next, Task::Activity);
        Ok(())
    }

    /// Mean days between bimtek: 0.4 to 2 a year, by engagement.
    fn bimtek_mean(&self) -> f64 {
        365.0 / (0.4 + 1.6 * self.engagement)
    }

    fn sessions(&self, province: bool) -> &[Session] {
        if province {
            &self.ctx.schedule.province
        } else {
            &self.ctx.schedule.regency
        }
    }

    /// The KIM is ready for its next bimtek: it attends the next session of its kabupaten/kota's
    /// Dinas (or, one time in six, its province's).
    fn bimtek_due(&mut self, date: NaiveDate) {
        let province = self.rng.chance(0.15);
        let sessions = self.sessions(province);
        if let Some(index) = first_from(sessions, date) {
            if let Some(held_on) = sessions.get(index).map(|session| session.held_on) {
                self.push(held_on, Task::Bimtek { province, index });
            }
        }
    }

    fn attend(&mut self, date: NaiveDate, province: bool, index: usize) -> Result<(), DemoError> {
        let Some(session) = self.sessions(province).get(index).cloned() else {
            return Ok(());
        };
        let participants = self.rng.between(1, 5) as u32;
        let actor = match session.actor_role {
            ActorRole::Province => Actor::Province,
            _ => Actor::Regency,
        };
        let command = CommunityCommand::RecordBimtek(RecordBimtek {
            session_id: session.id,
            kind: session.kind,
            title: session.title,
            held_on: session.held_on,
            organizer_region: session.organizer,
            participants,
        });
        self.exec(date, actor, command)?;
        self.bimtek.push(self.state.version());
        let next = self.gap(date, self.bimtek_mean());
        self.push(next, Task::BimtekDue);
        Ok(())
    }

    fn bimtek_level(&self) -> f64 {
        self.bimtek.len().min(4) as f64
    }

    fn media_check(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        let active = self.channels.iter().filter(|c| c.active).count();
        let b = self.bimtek_level();
        let p = match active {
            0 => 0.18 + 0.07 * b,
            1 => 0.03 + 0.01 * b,
            _ => 0.004,
        };
        if self.rng.chance(p) {
            self.register_channel(date)?;
        }
        let next = self.days(date, 45, 120);
        self.push(next, Task::MediaCheck);
        Ok(())
    }

    fn register_channel(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        let kinds = [
            (MediaChannelKind::Messaging, 35),
            (MediaChannelKind::SocialMedia, 50),
            (MediaChannelKind::Website, 15),
        ];
        let kind = self
            .rng
            .weighted(&kinds)
            .copied()
            .unwrap_or(MediaChannelKind::SocialMedia);
        let (name, url) = names::media_channel(&mut self.rng, kind, &self.handle);
        let id = self.rng.uuid();
        let command = CommunityCommand::RegisterMediaChannel(RegisterMediaChannel {
            channel_id: id,
            kind,
            name: text(&name)?,
            url,
            registered_on: date,
        });
        self.exec(date, Actor::Pegiat, command)?;
        self.channels.push(Listing {
            id,
            kind: Some(kind),
            sequence: self.state.version(),
            active: true,
        });
        if self.rng.chance(0.3) {
            let on = self.days(date, 180, 1_100);
            self.push(on, Task::DeactivateChannel(id));
        }
        Ok(())
    }

    fn deactivate_channel(&mut self, date: NaiveDate, id: Uuid) -> Result<(), DemoError> {
        let Some(kind) = self
            .channels
            .iter()
            .find(|c| c.id == id && c.active)
            .and_then(|c| c.kind)
        else {
            return Ok(());
        };
        let reason = self.reason(names::channel_deactivation_reasons(kind))?;
        let command = CommunityCommand::DeactivateMediaChannel(DeactivateMediaChannel {
            channel_id: id,
            deactivated_on: date,
            reason,
        });
        self.exec(date, Actor::Pegiat, command)?;
        for channel in self.channels.iter_mut().filter(|c| c.id == id) {
            channel.active = false;
        }
        Ok(())
    }

    fn e_business_check(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        let active = self.enterprises.iter().filter(|e| e.active).count();
        let b = self.bimtek_level();
        let p = match active {
            0 if self.state.stage() >= Stage::Kim3 => 0.03 + 0.02 * b,
            0 => 0.005 + 0.005 * b,
            _ => 0.002,
        };
        if self.rng.chance(p) {
            self.register_e_business(date)?;
        }
        let next = self.days(date, 60, 150);
        self.push(next, Task::EBusinessCheck);
        Ok(())
    }

    fn register_e_business(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        let (name, platform, url) =
            names::e_business(&mut self.rng, &self.village.display, &self.village.slug);
        let id = self.rng.uuid();
        let command = CommunityCommand::RegisterEBusiness(RegisterEBusiness {
            enterprise_id: id,
            name: text(&name)?,
            platform: text(&platform)?,
            url,
            registered_on: date,
        });
        self.exec(date, Actor::Pegiat, command)?;
        self.enterprises.push(Listing {
            id,
            kind: None,
            sequence: self.state.version(),
            active: true,
        });
        if self.rng.chance(0.3) {
            let on = self.days(date, 180, 900);
            self.push(on, Task::DeactivateEBusiness(id));
        }
        Ok(())
    }

    fn deactivate_e_business(&mut self, date: NaiveDate, id: Uuid) -> Result<(), DemoError> {
        if !self.enterprises.iter().any(|e| e.id == id && e.active) {
            return Ok(());
        }
        let reason = self.reason(names::E_BUSINESS_DEACTIVATION_REASONS)?;
        let command = CommunityCommand::DeactivateEBusiness(DeactivateEBusiness {
            enterprise_id: id,
            deactivated_on: date,
            reason,
        });
        self.exec(date, Actor::Pegiat, command)?;
        for enterprise in self.enterprises.iter_mut().filter(|e| e.id == id) {
            enterprise.active = false;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Stages and lifecycle
    // -----------------------------------------------------------------------------------------

    /// The events an assessment for `stage` cites (R9): the latest one or two pieces of the
    /// evidence the policy requires, sometimes with the latest bimtek; `None` without evidence.
    fn evidence_for(&mut self, stage: Stage) -> Option<Vec<u64>> {
        let mut cited: Vec<u64> = match stage {
            Stage::Kim1 => Vec::new(),
            Stage::Kim2 => self.development.iter().rev().take(2).copied().collect(),
            Stage::Kim3 => active_sequences(&self.channels),
            Stage::Kim4 => active_sequences(&self.enterprises),
        };
        if cited.is_empty() {
            return None;
        }
        if let Some(bimtek) = self.bimtek.last().copied() {
            if self.rng.chance(0.5) {
                cited.push(bimtek);
            }
        }
        cited.sort_unstable();
        Some(cited)
    }

    /// An assessment round of the regency operator: lower a stage whose evidence is gone, or
    /// advance a legal KIM one step with a chance that grows with its bimtek.
    fn round(&mut self, date: NaiveDate, index: usize) -> Result<(), DemoError> {
        let stage = self.state.stage();
        let media = self.channels.iter().any(|c| c.active);
        let shop = self.enterprises.iter().any(|e| e.active);
        if stage >= Stage::Kim3 && !media && self.rng.chance(0.6) {
            self.lower(date, Stage::Kim2, names::LOWERED_NO_MEDIA)?;
        } else if stage == Stage::Kim4 && !shop && self.rng.chance(0.6) {
            self.lower(date, Stage::Kim3, names::LOWERED_NO_E_BUSINESS)?;
        } else if let Some(next) = stage.next().filter(|_| self.state.is_legal()) {
            if let Some(evidence) = self.evidence_for(next) {
                let base = ADVANCE_BASE
                    .iter()
                    .find(|(to, _)| *to == next)
                    .map_or(0.0, |(_, p)| *p);
                if self.rng.chance(base * bimtek_factor(self.bimtek.len())) {
                    let command = CommunityCommand::AdvanceStage(AdvanceStage {
                        to: next,
                        assessed_on: date,
                        evidence,
                        assessed_by_role: ActorRole::Regency,
                    });
                    self.exec(date, Actor::Regency, command)?;
                }
            }
        }
        if let Some(next) = self.ctx.schedule.rounds.get(index + 1).copied() {
            self.push(next, Task::Round(index + 1));
        }
        Ok(())
    }

    fn lower(&mut self, date: NaiveDate, to: Stage, reason: &str) -> Result<(), DemoError> {
        let reason = self.reason(&[reason])?;
        let command = CommunityCommand::LowerStage(LowerStage {
            to,
            assessed_on: date,
            reason,
        });
        self.exec(date, Actor::Regency, command)
    }

    fn suspend(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        if self.state.status() != CommunityStatus::Active {
            return Ok(());
        }
        let reason = self.reason(names::SUSPENSION_REASONS)?;
        let command = CommunityCommand::SuspendCommunity(SuspendCommunity {
            suspended_on: date,
            reason,
        });
        self.exec(date, Actor::Regency, command)?;
        let outcome = *self
            .rng
            .weighted(&[(0u8, 60), (1, 30), (2, 10)])
            .unwrap_or(&0);
        let resume = match outcome {
            0 => {
                let on = self.days(date, 60, 300);
                self.push(on, Task::Reactivate);
                on
            }
            1 => {
                let on = self.days(date, 60, 400);
                self.push(on, Task::Dissolve);
                on
            }
            _ => NaiveDate::MAX,
        };
        self.paused_until = Some(resume);
        Ok(())
    }

    fn reactivate(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        if self.state.status() != CommunityStatus::Suspended {
            return Ok(());
        }
        let reason = self.reason(names::REACTIVATION_REASONS)?;
        let command = CommunityCommand::ReactivateCommunity(ReactivateCommunity {
            reactivated_on: date,
            reason,
        });
        self.exec(date, Actor::Regency, command)?;
        self.paused_until = None;
        Ok(())
    }

    fn dissolve(&mut self, date: NaiveDate) -> Result<(), DemoError> {
        let reason = self.reason(names::DISSOLUTION_REASONS)?;
        let command = CommunityCommand::DissolveCommunity(DissolveCommunity {
            dissolved_on: date,
            reason,
        });
        self.exec(date, Actor::Regency, command)
    }
}

/// Sequences of the still-active listings, latest two.
fn active_sequences(listings: &[Listing]) -> Vec<u64> {
    listings
        .iter()
        .rev()
        .filter(|listing| listing.active)
        .take(2)
        .map(|listing| listing.sequence)
        .collect()
}
