//! Pieces shared by the benches (each bench is its own crate and includes this file).

#![allow(dead_code)]

use std::time::Duration;

use anyhow::Context as _;
use simpul_app::CommandContext;
use simpul_domain::{ActorRole, CommunityCommand};
use uuid::Uuid;

/// This process's resident set, in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The `q` quantile of `values`, in milliseconds (sorts them).
pub fn percentile(values: &mut [Duration], q: f64) -> f64 {
    values.sort();
    let index = ((values.len().saturating_sub(1)) as f64 * q).round() as usize;
    values.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The command the writers of a bench send: a networking activity on `held_on`.
pub fn networking_activity(held_on: (i32, u32, u32)) -> anyhow::Result<CommunityCommand> {
    Ok(CommunityCommand::RecordActivity(
        simpul_domain::commands::RecordActivity {
            activity_id: Uuid::new_v4(),
            kind: simpul_domain::events::ActivityKind::Networking,
            title: simpul_domain::text::Title::parse("Jejaring")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            held_on: chrono::NaiveDate::from_ymd_opt(held_on.0, held_on.1, held_on.2)
                .context("date")?,
            participants: None,
        },
    ))
}

/// A bench writer's context (a pegiat, a fresh request id).
pub fn writer_context() -> CommandContext {
    CommandContext {
        actor_id: "bench".to_owned(),
        actor_role: ActorRole::Pegiat,
        request_id: Uuid::new_v4().to_string(),
        expected_version: None,
    }
}

/// Runs `bench` against a fresh database on the server of `SIMPUL_TEST_DATABASE_URL` (the tests'
/// default otherwise), dropped afterwards whatever the outcome.
pub async fn with_database<F, Fut>(prefix: &str, bench: F) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let server = std::env::var("SIMPUL_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = sqlx::PgPool::connect(&server).await.context("connecting")?;
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let url = format!(
        "{}/{name}",
        server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b)
    );
    let result = bench(url).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    result
}

/// A registry of `rows` KIM for `simpul import`, one per desa spread over all Indonesia, every
/// column filled, stages 1–4 in turn (with the evidence each needs).
pub fn registry_csv(regions: &simpul_regions::Regions, rows: usize) -> anyhow::Result<Vec<u8>> {
    use std::fmt::Write as _;
    let villages: Vec<_> = regions
        .at_level(simpul_domain::RegionLevel::Village)
        .collect();
    anyhow::ensure!(rows <= villages.len(), "at most one KIM per desa");
    let step = villages.len() / rows.max(1);
    let mut numbers: std::collections::HashMap<String, u32> = Default::default();
    let mut csv = String::from(
        "source_id,nama_kim,kode_desa,tanggal_terbentuk,jumlah_anggota,ketua,sekretaris,\
         bendahara,nomor_sk,tanggal_sk,nomor_induk,tahap,kegiatan_agen_pembangunan,kanal_media,\
         e_bisnis,asal_kelompok\n",
    );
    for (i, village) in villages.iter().step_by(step.max(1)).take(rows).enumerate() {
        let code = village.code.as_str();
        let regency: String = code.chars().take(5).filter(|c| *c != '.').collect();
        let number = numbers.entry(regency.clone()).or_default();
        *number += 1;
        let stage = i % 4 + 1;
        let name = village.name.replace('"', "");
        writeln!(
            csv,
            "BENCH-{i},\"KIM {name}\",{code},2019-03-{day:02},{members},Ketua {i},Sekretaris {i},\
             Bendahara {i},{i}/KPTS/2020,2020-02-{day:02},{regency}/KIM/{number:04},KIM {stage},\
             {activity},{channel},{business},Karang Taruna {i}",
            day = i % 28 + 1,
            members = 10 + i % 20,
            activity = if stage >= 2 {
                "Sosialisasi program desa"
            } else {
                ""
            },
            channel = if stage >= 3 { "Grup WhatsApp KIM" } else { "" },
            business = if stage >= 4 { "Toko daring KIM" } else { "" },
        )?;
    }
    Ok(csv.into_bytes())
}
