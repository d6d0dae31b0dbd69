//! Property: for random command sequences over several KIM in several regions, the read models
//! maintained incrementally (in random batch sizes while commands arrive) equal a full rebuild and
//! agree with the aggregates' own state.

use proptest::prelude::*;
use simpul_domain::commands::*;
use simpul_domain::events::{ActivityKind, MediaChannelKind};
use simpul_domain::text::{RegistrationNumber, Title};
use simpul_domain::{ActorRole, CommunityCommand, OfficerRole, RegionCode, RegionLevel, Stage};
use simpul_projections::Runner;
use simpul_store::Backend;

use crate::helpers::*;

const VILLAGES: [&str; 3] = [SLEMAN_DESA, "34.02.01.2001", "21.71.01.1002"];

/// One step of a history: which KIM, what to try, and whether the projections catch up after.
#[derive(Clone, Debug)]
struct Op {
    kim: usize,
    action: u8,
    value: u32,
    project_after: Option<u32>,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (
            0..VILLAGES.len(),
            0u8..16,
            0u32..1000,
            prop::option::of(1u32..8),
        )
            .prop_map(|(kim, action, value, project_after)| Op {
                kim,
                action,
                value,
                project_after,
            }),
        10..60,
    )
}

async fn command_for(
    op: &Op,
    village: &str,
    community: &simpul_domain::Community,
    keys: &simpul_store::KeyStore,
) -> CommunityCommand {
    let date = date("2025-06-01") + chrono::Days::new(u64::from(op.value % 300));
    let title = || Title::parse("Kegiatan").unwrap();
    if !community.is_formed() {
        return form(village, 3 + op.value % 28);
    }
    match op.action {
        0 | 1 => {
            let role = [
                OfficerRole::Ketua,
                OfficerRole::Sekretaris,
                OfficerRole::Bendahara,
            ][op.value as usize % 3];
            appoint(keys, role, "Nama Pengurus").await.1
        }
        2 => match community.active_officers().next() {
            Some((person_id, _)) => CommunityCommand::DismissOfficer(DismissOfficer {
                person_id,
                dismissed_on: date,
                reason: reason("pindah"),
            }),
            None => form(village, 10),
        },
        3 => CommunityCommand::UpdateMemberCount(UpdateMemberCount {
            member_count: 3 + op.value % 28,
            effective_on: date,
        }),
        4 => issue_sk(village),
        5 => CommunityCommand::RevokeSk(RevokeSk {
            revoked_on: date,
            reason: reason("salah"),
        }),
        6 => {
            let regency = RegionCode::parse(village)
                .unwrap()
                .ancestor_at(RegionLevel::Regency)
                .unwrap();
            CommunityCommand::AssignRegistrationNumber(AssignRegistrationNumber {
                number: RegistrationNumber::parse(&format!(
                    "KIM-{}",
                    uuid::Uuid::new_v4().simple()
                ))
                .unwrap(),
                regency,
                assigned_on: date,
            })
        }
        7 => CommunityCommand::RecordBimtek(RecordBimtek {
            session_id: uuid::Uuid::new_v4(),
            kind: simpul_domain::events::BimtekKind::Bimtek,
            title: title(),
            held_on: date,
            organizer_region: RegionCode::parse(village)
                .unwrap()
                .ancestor_at(RegionLevel::Regency)
                .unwrap(),
            participants: 1 + op.value % 40,
        }),
        8 => {
            let kind = [
                ActivityKind::DevelopmentAgent,
                ActivityKind::Dissemination,
                ActivityKind::ConventionalForum,
            ][op.value as usize % 3];
            CommunityCommand::RecordActivity(RecordActivity {
                activity_id: uuid::Uuid::new_v4(),
                kind,
                title: title(),
                held_on: date,
                participants: None,
            })
        }
        9 => CommunityCommand::RegisterMediaChannel(RegisterMediaChannel {
            channel_id: uuid::Uuid::new_v4(),
            kind: MediaChannelKind::SocialMedia,
            name: title(),
            url: None,
            registered_on: date,
        }),
        10 => CommunityCommand::RegisterEBusiness(RegisterEBusiness {
            enterprise_id: uuid::Uuid::new_v4(),
            name: title(),
            platform: title(),
            url: None,
            registered_on: date,
        }),
        11 | 12 => match community.stage().next() {
            Some(to) => CommunityCommand::AdvanceStage(AdvanceStage {
                to,
                assessed_on: date,
                evidence: (1..=community.version()).collect(),
                assessed_by_role: ActorRole::Regency,
            }),
            None => CommunityCommand::LowerStage(LowerStage {
                to: Stage::Kim3,
                assessed_on: date,
                reason: reason("e-bisnis tutup"),
            }),
        },
        13 => CommunityCommand::SuspendCommunity(SuspendCommunity {
            suspended_on: date,
            reason: reason("tidak aktif"),
        }),
        14 => CommunityCommand::ReactivateCommunity(ReactivateCommunity {
            reactivated_on: date,
            reason: reason("aktif lagi"),
        }),
        _ => {
            if op.value.is_multiple_of(10) {
                CommunityCommand::DissolveCommunity(DissolveCommunity {
                    dissolved_on: date,
                    reason: reason("bubar"),
                })
            } else {
                CommunityCommand::LowerStage(LowerStage {
                    to: Stage::Kim1,
                    assessed_on: date,
                    reason: reason("penilaian ulang"),
                })
            }
        }
    }
}

async fn check(backend: Backend, ops: Vec<Op>) {
    let db = TestDb::new(backend).await;
    let executor = db.executor();
    let keys = db.keys();
    let ids: Vec<String> = VILLAGES
        .iter()
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let projections = simpul_projections::all(simpul_regions::bundled().unwrap());
    let long_lived = Runner::new(db.store())
        .with_batch_size(3)
        .with_memory_capacity(2);
    let mut accepted = 0;
    for op in &ops {
        let (community, _) = db.store().load(&ids[op.kim]).await.unwrap();
        let command = command_for(op, VILLAGES[op.kim], &community, &keys).await;
        let role = match command {
            CommunityCommand::AppointOfficer(_) | CommunityCommand::DismissOfficer(_) => {
                ActorRole::Pegiat
            }
            _ => ActorRole::Regency,
        };
        if executor
            .execute(&ids[op.kim], command, &context(role))
            .await
            .is_ok()
        {
            accepted += 1;
        }
        if let Some(batch) = op.project_after {
            // Alternate a runner that keeps its memory across batches (and must notice when
            // another runner moved the checkpoint) with fresh runners of random batch sizes.
            let fresh = Runner::new(db.store()).with_batch_size(batch);
            let runner = if batch % 2 == 0 { &long_lived } else { &fresh };
            for projection in &projections {
                runner.step(projection.as_ref()).await.unwrap();
            }
        }
    }
    assert!(accepted > 0);
    let runner = Runner::new(db.store()).with_batch_size(5);
    crate::projections::settle(&runner).await;
    let incremental = crate::projections::digests(&db.database).await;
    // The oracle: the summary agrees with each aggregate loaded from the log.
    for row in &incremental.0 {
        let (community, version) = db.store().load(row[0].as_deref().unwrap()).await.unwrap();
        assert_eq!(row[10].as_deref(), Some(community.stage().as_str()));
        assert_eq!(row[11].as_deref(), Some(community.status().as_str()));
        assert_eq!(
            row[16].as_deref(),
            Some(community.member_count().to_string().as_str())
        );
        assert_eq!(row[24].as_deref(), Some(version.to_string().as_str()));
    }
    for projection in &projections {
        runner
            .rebuild(projection.as_ref(), &|_, _| {})
            .await
            .unwrap();
    }
    assert_eq!(crate::projections::digests(&db.database).await, incremental);
    // A rebuild whose deferred writes overflow a tiny memory again and again.
    let small = Runner::new(db.store()).with_memory_capacity(1);
    for projection in &projections {
        small
            .rebuild(projection.as_ref(), &|_, _| {})
            .await
            .unwrap();
    }
    assert_eq!(crate::projections::digests(&db.database).await, incremental);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn incremental_read_models_equal_a_rebuild_on_sqlite(ops in ops()) {
        tokio::runtime::Runtime::new().unwrap().block_on(check(Backend::Sqlite, ops));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn incremental_read_models_equal_a_rebuild_on_postgres(ops in ops()) {
        tokio::runtime::Runtime::new().unwrap().block_on(check(Backend::Postgres, ops));
    }
}
