//! Reading `audit_trail`: filtered, in position order, keyset-paginated on the position.

use serde::Serialize;
use simpul_store::Database;
use sqlx::Row as _;

use crate::runtime::ProjectionError;
use crate::runtime::{sqlite_sql, Page};

/// Filters; empty means "any".
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// One community.
    pub community: Option<String>,
    /// One actor (`token:<id>`).
    pub actor: Option<String>,
    /// A region prefix.
    pub region: Option<String>,
    /// An event type.
    pub event_type: Option<String>,
    /// From this server time (inclusive, RFC 3339 or a date).
    pub from: Option<String>,
    /// Before this server time (exclusive).
    pub to: Option<String>,
    /// After this position.
    pub after: u64,
    /// Page size.
    pub limit: u32,
}

/// One audit row.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRow {
    /// Global position.
    pub position: i64,
    /// Ledger index (`docs/ledger.md`); absent until the ledger has reached the event.
    pub ledger_index: Option<i64>,
    /// Server time (UTC).
    pub recorded_at: String,
    /// The community.
    pub community_id: String,
    /// Sequence within it.
    pub sequence: i64,
    /// Its desa/kelurahan.
    pub desa_code: String,
    /// Its kabupaten/kota.
    pub regency_code: String,
    /// Its province.
    pub province_code: String,
    /// Event type.
    pub event_type: String,
    /// Who.
    pub actor: String,
    /// In which role.
    pub role: String,
    /// From which request.
    pub request_id: String,
    /// Why.
    pub reason: Option<String>,
    /// What happened, in Bahasa Indonesia.
    pub summary: String,
}

/// The audit trail's CSV columns (Indonesian names, as the other exports').
pub const CSV_HEADER: [&str; 14] = [
    "posisi",
    "indeks_ledger",
    "waktu",
    "id_kim",
    "urutan",
    "kode_desa",
    "kode_kabupaten_kota",
    "kode_provinsi",
    "peristiwa",
    "pelaku",
    "peran",
    "id_permintaan",
    "alasan",
    "ringkasan",
];

impl AuditRow {
    /// Appends this row as a CSV record (free text guarded against formulas, like every export).
    pub fn push_csv(&self, out: &mut String) {
        use crate::exports::communities::Cell;
        let cells = [
            Cell::Integer(self.position),
            self.ledger_index.map_or(Cell::Empty, Cell::Integer),
            Cell::Text(&self.recorded_at),
            Cell::Text(&self.community_id),
            Cell::Integer(self.sequence),
            Cell::Text(&self.desa_code),
            Cell::Text(&self.regency_code),
            Cell::Text(&self.province_code),
            Cell::Text(&self.event_type),
            Cell::Text(&self.actor),
            Cell::Text(&self.role),
            Cell::Text(&self.request_id),
            self.reason.as_deref().map_or(Cell::Empty, Cell::Text),
            Cell::Text(&self.summary),
        ];
        crate::exports::push_csv_record(out, &cells);
    }

    /// The CSV header record.
    pub fn push_csv_header(out: &mut String) {
        use crate::exports::communities::Cell;
        let cells = CSV_HEADER.map(Cell::Text);
        crate::exports::push_csv_record(out, &cells);
    }
}

/// A filter value, unless absent or empty.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// The `WHERE` clause of a filter and the text values it binds (`$1`, `$2`, …, then the position
/// and the limit): only the filters given, each on a column an index serves — a province or
/// kabupaten/kota code on its own column, a kecamatan or desa on the desa code.
fn where_clause(filter: &AuditFilter) -> (String, Vec<String>) {
    let mut page = Page::new();
    let mut push = |condition: &str, value: &str| page.filter(condition, value.to_owned());
    if let Some(community) = given(&filter.community) {
        push("community_id = ?", community);
    }
    if let Some(actor) = given(&filter.actor) {
        push("actor = ?", actor);
    }
    if let Some(region) = given(&filter.region) {
        match region.split('.').count() {
            1 => push("province_code = ?", region),
            2 => push("regency_code = ?", region),
            4 => push("desa_code = ?", region),
            _ => push("desa_code LIKE ? || '.%'", region),
        }
    }
    if let Some(event_type) = given(&filter.event_type) {
        push("event_type = ?", event_type);
    }
    if let Some(from) = given(&filter.from) {
        push("recorded_at >= ?", from);
    }
    if let Some(to) = given(&filter.to) {
        push("recorded_at < ?", to);
    }
    (page.sql(include_str!("list.sql"), "position"), page.values)
}

/// A page of the audit trail.
pub async fn list(db: &Database, filter: &AuditFilter) -> Result<Vec<AuditRow>, ProjectionError> {
    let after = i64::try_from(filter.after).unwrap_or(i64::MAX);
    let (sql, values) = where_clause(filter);
    macro_rules! bound {
        ($query:expr) => {{
            let mut query = $query;
            for value in &values {
                query = query.bind(value);
            }
            query.bind(after).bind(i64::from(filter.limit))
        }};
    }
    macro_rules! row {
        ($row:expr) => {{
            let row = $row;
            AuditRow {
                position: row.try_get("position")?,
                ledger_index: row.try_get("ledger_index")?,
                recorded_at: row.try_get("recorded_at")?,
                community_id: row.try_get("community_id")?,
                sequence: row.try_get("sequence")?,
                desa_code: row.try_get("desa_code")?,
                regency_code: row.try_get("regency_code")?,
                province_code: row.try_get("province_code")?,
                event_type: row.try_get("event_type")?,
                actor: row.try_get("actor")?,
                role: row.try_get("role")?,
                request_id: row.try_get("request_id")?,
                reason: row.try_get("reason")?,
                summary: row.try_get("summary")?,
            }
        }};
    }
    let mut rows = Vec::new();
    match db {
        Database::Postgres(pool) => {
            for row in bound!(sqlx::query(&sql)).fetch_all(pool).await? {
                rows.push(row!(&row));
            }
        }
        Database::Sqlite { readers, .. } => {
            let sql = sqlite_sql(&sql);
            for row in bound!(sqlx::query(&sql)).fetch_all(readers).await? {
                rows.push(row!(&row));
            }
        }
    }
    Ok(rows)
}
