//! Reading `community_summary`: filtered lists with keyset pagination on the community id (UUID
//! v7 ids sort by creation time, so pages come oldest first and never shift under inserts).

use serde::Serialize;
use simpul_domain::{CommunityStatus, Stage};
use simpul_store::Database;
use sqlx::Row as _;

use crate::runtime::ProjectionError;
use crate::runtime::{sqlite_sql, Page};

/// Filters of a list; empty strings and `None` mean "any".
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// A region prefix (`34`, `34.04`, …).
    pub region: Option<String>,
    /// Only KIM at this stage.
    pub stage: Option<Stage>,
    /// Only KIM with this status.
    pub status: Option<CommunityStatus>,
    /// SK + nomor induk.
    pub legal: Option<bool>,
    /// Part of the name, or an exact nomor induk.
    pub q: Option<String>,
    /// Only this community (a pegiat's scope).
    pub community: Option<String>,
    /// Without an active SK (`true`) or with one (`false`).
    pub missing_sk: Option<bool>,
    /// Without a nomor induk (`true`) or with one (`false`).
    pub missing_nomor_induk: Option<bool>,
    /// Never at a bimtek (`true`) or at one at least (`false`).
    pub no_bimtek: Option<bool>,
    /// In the same stage since before this date (`YYYY-MM-DD`), and not at KIM 4.
    pub stalled_before: Option<String>,
    /// No activity or bimtek held on or after this date (`YYYY-MM-DD`), and formed before it.
    pub inactive_before: Option<String>,
    /// At least one core post (ketua, sekretaris, bendahara) vacant (`true`) or none (`false`).
    pub vacant_post: Option<bool>,
    /// The last id of the previous page.
    pub after: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// One row of `community_summary`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryRow {
    /// The community id.
    pub community_id: String,
    /// Name.
    pub name: String,
    /// Desa/kelurahan code.
    pub desa_code: String,
    /// Desa/kelurahan name.
    pub desa_name: String,
    /// Kecamatan code.
    pub kecamatan_code: String,
    /// Kecamatan name.
    pub kecamatan_name: String,
    /// Kabupaten/kota code.
    pub regency_code: String,
    /// Kabupaten/kota name.
    pub regency_name: String,
    /// Province code.
    pub province_code: String,
    /// Province name.
    pub province_name: String,
    /// `kim1` … `kim4`.
    #[cfg_attr(feature = "openapi", schema(value_type = simpul_domain::Stage))]
    pub stage: String,
    /// `active`, `suspended`, `dissolved`.
    #[cfg_attr(feature = "openapi", schema(value_type = simpul_domain::CommunityStatus))]
    pub status: String,
    /// SK and nomor induk.
    pub legal: bool,
    /// Active SK number.
    pub sk_number: Option<String>,
    /// Its date.
    pub sk_date: Option<String>,
    /// Nomor induk.
    pub nomor_induk: Option<String>,
    /// Members.
    pub member_count: i64,
    /// Active officers.
    pub active_officers: i64,
    /// Bimtek attended.
    pub bimtek_count: i64,
    /// Last bimtek date.
    pub last_bimtek_on: Option<String>,
    /// Active media channels.
    pub media_channels: i64,
    /// Active e-businesses.
    pub e_businesses: i64,
    /// Formation date.
    pub formed_on: String,
    /// Server time of its last event.
    pub last_event_at: String,
    /// Its version.
    pub version: i64,
    /// Since when in its stage: the formation date, then the last stage change's `assessed_on`.
    pub stage_since: String,
    /// The latest `held_on` of an activity or a bimtek (`null`: none yet).
    pub last_activity_on: Option<String>,
    /// How many of the core posts (ketua, sekretaris, bendahara) are vacant, 0–3.
    pub vacant_posts: i64,
}

/// A value bound by a list's `WHERE` clause.
enum Bind {
    Text(String),
    Flag(bool),
}

/// `q`: part of the name, taken literally (`%`, `_` and `\` in it are escaped, so a name means
/// itself on both backends — PostgreSQL's `LIKE` would otherwise read `\` as its escape), or an
/// exact nomor induk.
const NAME_OR_NUMBER: &str = r"(lower(name) LIKE
        '%' || replace(replace(replace(lower(?), '\', '\\'), '%', '\%'), '_', '\_') || '%'
        ESCAPE '\' OR nomor_induk = ?)";

/// The `WHERE` clause of the filters given (`$1`, `$2`, …; then the cursor and the limit), each
/// on a column an index serves: a region on the column of its own level.
fn where_clause(filter: &ListFilter) -> (String, Vec<Bind>) {
    let mut page = Page::new();
    let given = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    if let Some(region) = given(&filter.region) {
        let column = match region.split('.').count() {
            1 => "province_code",
            2 => "regency_code",
            3 => "kecamatan_code",
            _ => "desa_code",
        };
        page.filter(&format!("{column} = ?"), Bind::Text(region));
    }
    if let Some(stage) = filter.stage {
        page.filter("stage = ?", Bind::Text(stage.as_str().to_owned()));
    }
    if let Some(status) = filter.status {
        page.filter("status = ?", Bind::Text(status.as_str().to_owned()));
    }
    if let Some(legal) = filter.legal {
        page.filter("legal = ?", Bind::Flag(legal));
    }
    if let Some(q) = given(&filter.q) {
        page.filter(NAME_OR_NUMBER, Bind::Text(q));
    }
    if let Some(community) = given(&filter.community) {
        page.filter("community_id = ?", Bind::Text(community));
    }
    let either = |flag: bool, yes: &'static str, no: &'static str| if flag { yes } else { no };
    if let Some(missing) = filter.missing_sk {
        page.filter_sql(either(
            missing,
            "sk_number IS NULL",
            "sk_number IS NOT NULL",
        ));
    }
    if let Some(missing) = filter.missing_nomor_induk {
        page.filter_sql(either(
            missing,
            "nomor_induk IS NULL",
            "nomor_induk IS NOT NULL",
        ));
    }
    if let Some(none) = filter.no_bimtek {
        page.filter_sql(either(none, "bimtek_count = 0", "bimtek_count > 0"));
    }
    if let Some(vacant) = filter.vacant_post {
        page.filter_sql(either(vacant, "vacant_posts > 0", "vacant_posts = 0"));
    }
    if let Some(before) = given(&filter.stalled_before) {
        page.filter(
            "(stage <> 'kim4' AND stage_since < CAST(? AS date))",
            Bind::Text(before),
        );
    }
    if let Some(before) = given(&filter.inactive_before) {
        page.filter(
            "(formed_on < CAST(? AS date) AND (last_activity_on IS NULL OR last_activity_on < CAST(? AS date)))",
            Bind::Text(before),
        );
    }
    (
        page.sql(include_str!("list.sql"), "community_id"),
        page.values,
    )
}

/// A page of communities.
pub async fn list(db: &Database, filter: &ListFilter) -> Result<Vec<SummaryRow>, ProjectionError> {
    let (sql, values) = where_clause(filter);
    let after = filter.after.clone().unwrap_or_default();
    macro_rules! bound {
        ($query:expr) => {{
            let mut query = $query;
            for value in &values {
                query = match value {
                    Bind::Text(text) => query.bind(text.clone()),
                    Bind::Flag(flag) => query.bind(*flag),
                };
            }
            query.bind(after.clone()).bind(i64::from(filter.limit))
        }};
    }
    macro_rules! row {
        ($row:expr) => {{
            let row = $row;
            SummaryRow {
                community_id: row.try_get("community_id")?,
                name: row.try_get("name")?,
                desa_code: row.try_get("desa_code")?,
                desa_name: row.try_get("desa_name")?,
                kecamatan_code: row.try_get("kecamatan_code")?,
                kecamatan_name: row.try_get("kecamatan_name")?,
                regency_code: row.try_get("regency_code")?,
                regency_name: row.try_get("regency_name")?,
                province_code: row.try_get("province_code")?,
                province_name: row.try_get("province_name")?,
                stage: row.try_get("stage")?,
                status: row.try_get("status")?,
                legal: row.try_get("legal")?,
                sk_number: row.try_get("sk_number")?,
                sk_date: row.try_get("sk_date")?,
                nomor_induk: row.try_get("nomor_induk")?,
                member_count: row.try_get("member_count")?,
                active_officers: row.try_get("active_officers")?,
                bimtek_count: row.try_get("bimtek_count")?,
                last_bimtek_on: row.try_get("last_bimtek_on")?,
                media_channels: row.try_get("media_channels")?,
                e_businesses: row.try_get("e_businesses")?,
                formed_on: row.try_get("formed_on")?,
                last_event_at: row.try_get("last_event_at")?,
                version: row.try_get("version")?,
                stage_since: row.try_get("stage_since")?,
                last_activity_on: row.try_get("last_activity_on")?,
                vacant_posts: row.try_get("vacant_posts")?,
            }
        }};
    }
    let mut result = Vec::new();
    match db {
        Database::Postgres(pool) => {
            for row in bound!(sqlx::query(&sql)).fetch_all(pool).await? {
                result.push(row!(&row));
            }
        }
        Database::Sqlite { readers, .. } => {
            let sql = sqlite_sql(&sql);
            for row in bound!(sqlx::query(&sql)).fetch_all(readers).await? {
                result.push(row!(&row));
            }
        }
    }
    Ok(result)
}
