//! Bulk writes: many communities' events, their nomor induk claims and their persons' keys in
//! one transaction — all or nothing. Used by the demo generator and the registry import, whose
//! events were decided by the same aggregate as the API's; only the persistence differs: `COPY`
//! on PostgreSQL, one large transaction of prepared inserts on SQLite.
//!
//! The caller bounds the size of each call (a long write transaction holds back the feed's
//! watermark for every projection).

use chrono::{SecondsFormat, Utc};
use uuid::Uuid;

use crate::db::Database;
use crate::error::StoreError;
use crate::event_store::{Append, EventStore, AGGREGATE_TYPE};

/// A person's data key, wrapped by the master key, ready to be stored.
#[derive(Clone, Debug)]
pub struct WrappedKey {
    /// The person.
    pub person_id: Uuid,
    /// The data key, encrypted by the master key.
    pub wrapped: Vec<u8>,
    /// The nonce of that encryption.
    pub nonce: Vec<u8>,
}

/// What one bulk write stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Events appended.
    pub events: u64,
    /// Nomor induk claims taken.
    pub claims: u64,
    /// Person keys stored.
    pub keys: u64,
}

/// One event row as stored.
struct Row<'a> {
    community_id: &'a str,
    sequence: i64,
    event_type: &'a str,
    event_version: &'a str,
    payload: String,
    metadata: &'a str,
}

impl EventStore {
    /// Appends every `Append` (each after its `after_sequence`, as decided), with their claims
    /// and the given person keys, in one transaction. A stream that moved meanwhile or a nomor
    /// induk already claimed fails the whole call and nothing is written.
    pub async fn append_bulk(
        &self,
        appends: &[Append],
        keys: &[WrappedKey],
    ) -> Result<BulkOutcome, StoreError> {
        let metadata = appends
            .iter()
            .map(|append| Ok(serde_json::to_string(&append.metadata.to_map()?)?))
            .collect::<Result<Vec<String>, StoreError>>()?;
        let mut rows = Vec::new();
        for (append, metadata) in appends.iter().zip(&metadata) {
            for (event, sequence) in append.events.iter().zip(append.after_sequence + 1..) {
                rows.push(Row {
                    community_id: &append.community_id,
                    sequence: i64::try_from(sequence).map_err(|_| {
                        StoreError::Config(format!("sequence {sequence} is too large"))
                    })?,
                    event_type: &event.event_type,
                    event_version: &event.event_version,
                    payload: event.payload.to_string(),
                    metadata,
                });
            }
        }
        let claims: Vec<_> = appends
            .iter()
            .flat_map(|a| a.claims.iter().map(move |c| (a.community_id.as_str(), c)))
            .collect();
        let outcome = BulkOutcome {
            events: rows.len() as u64,
            claims: claims.len() as u64,
            keys: keys.len() as u64,
        };
        let written = match self.database() {
            Database::Postgres(pool) => bulk_postgres(pool, &rows, &claims, keys).await,
            Database::Sqlite { writer, .. } => bulk_sqlite(writer, &rows, &claims, keys).await,
        };
        written.map_err(classify)?;
        self.appended().notify_waiters();
        Ok(outcome)
    }
}

type Claims<'a> = [(&'a str, &'a crate::event_store::RegistrationClaim)];

async fn bulk_postgres(
    pool: &sqlx::PgPool,
    rows: &[Row<'_>],
    claims: &Claims<'_>,
    keys: &[WrappedKey],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !keys.is_empty() {
        sqlx::query(
            "INSERT INTO person_keys (person_id, wrapped_key, nonce, created_at)
             SELECT id, wrapped, nonce, now() FROM UNNEST($1::uuid[], $2::bytea[], $3::bytea[])
                 AS k(id, wrapped, nonce)",
        )
        .bind(keys.iter().map(|k| k.person_id).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.wrapped.clone()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.nonce.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    if !claims.is_empty() {
        sqlx::query(
            "INSERT INTO registration_claims (regency, number, community_id, sequence)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[])",
        )
        .bind(
            claims
                .iter()
                .map(|(_, c)| c.regency.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            claims
                .iter()
                .map(|(_, c)| c.number.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            claims
                .iter()
                .map(|(id, _)| (*id).to_owned())
                .collect::<Vec<_>>(),
        )
        .bind(
            claims
                .iter()
                .map(|(_, c)| c.sequence as i64)
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    if !rows.is_empty() {
        let mut copy = CopyCsv::start(
            &mut tx,
            "COPY events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                          payload, metadata) FROM STDIN WITH (FORMAT csv)",
        )
        .await?;
        for row in rows {
            copy.text(AGGREGATE_TYPE)
                .text(row.community_id)
                .number(row.sequence)
                .text(row.event_type)
                .text(row.event_version)
                .text(&row.payload)
                .text(row.metadata);
            copy.end_row().await?;
        }
        copy.finish().await?;
    }
    tx.commit().await
}

/// Rows streamed into `COPY … FROM STDIN WITH (FORMAT csv)` (PostgreSQL), sent in 1 MiB pieces.
pub struct CopyCsv<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut sqlx::PgConnection>,
    buffer: String,
    fields: usize,
}

impl<'c> CopyCsv<'c> {
    /// Starts `statement` (a `COPY … FROM STDIN WITH (FORMAT csv)`) on `connection`.
    pub async fn start(
        connection: &'c mut sqlx::PgConnection,
        statement: &str,
    ) -> Result<Self, sqlx::Error> {
        Ok(Self {
            copy: connection.copy_in_raw(statement).await?,
            buffer: String::with_capacity(1 << 20),
            fields: 0,
        })
    }

    fn separator(&mut self) {
        if self.fields > 0 {
            self.buffer.push(',');
        }
        self.fields += 1;
    }

    /// A text field, quoted with `"` doubled.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.separator();
        self.buffer.push('"');
        for c in value.chars() {
            if c == '"' {
                self.buffer.push('"');
            }
            self.buffer.push(c);
        }
        self.buffer.push('"');
        self
    }

    /// A text field or NULL (an unquoted empty field).
    pub fn optional(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => {
                self.separator();
                self
            }
        }
    }

    /// A number.
    pub fn number(&mut self, value: i64) -> &mut Self {
        self.separator();
        self.buffer.push_str(&value.to_string());
        self
    }

    /// Ends the row; sends what is buffered once it passes 1 MiB.
    pub async fn end_row(&mut self) -> Result<(), sqlx::Error> {
        self.buffer.push('\n');
        self.fields = 0;
        if self.buffer.len() > 1 << 20 {
            self.copy.send(self.buffer.as_bytes()).await?;
            self.buffer.clear();
        }
        Ok(())
    }

    /// Sends the rest and ends the `COPY`; returns the rows copied.
    pub async fn finish(mut self) -> Result<u64, sqlx::Error> {
        if !self.buffer.is_empty() {
            self.copy.send(self.buffer.as_bytes()).await?;
        }
        self.copy.finish().await
    }
}

async fn bulk_sqlite(
    writer: &sqlx::SqlitePool,
    rows: &[Row<'_>],
    claims: &Claims<'_>,
    keys: &[WrappedKey],
) -> Result<(), sqlx::Error> {
    let mut tx = writer.begin().await?;
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    for key in keys {
        sqlx::query(
            "INSERT INTO person_keys (person_id, wrapped_key, nonce, created_at)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(key.person_id.to_string())
        .bind(&key.wrapped)
        .bind(&key.nonce)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    for (community_id, claim) in claims {
        sqlx::query(include_str!("sql/sqlite/claim_registration.sql"))
            .bind(&claim.regency)
            .bind(&claim.number)
            .bind(*community_id)
            .bind(claim.sequence as i64)
            .execute(&mut *tx)
            .await?;
    }
    for row in rows {
        sqlx::query(include_str!("sql/sqlite/append_event.sql"))
            .bind(AGGREGATE_TYPE)
            .bind(row.community_id)
            .bind(row.sequence)
            .bind(row.event_type)
            .bind(row.event_version)
            .bind(&row.payload)
            .bind(row.metadata)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Unique violations mean a stream moved, a nomor induk is taken, or a key exists.
fn classify(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db_error) = &error {
        if db_error.is_unique_violation() {
            let detail = db_error
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|pg| pg.detail().map(str::to_owned))
                .unwrap_or_else(|| db_error.message().to_owned());
            return StoreError::BulkConflict(detail);
        }
    }
    StoreError::from(error)
}
