//! The one driver every read model runs under: a read model states once what it keeps, how it
//! folds a batch and what a batch writes ([`ReadModel`]); only reading its rows back and writing
//! them differ between the two SQL dialects ([`Storage`], one impl per connection type). The
//! skeleton of a batch — read back the communities memory lacks, fold, write what is due — is
//! written here once, for both.

use async_trait::async_trait;
use simpul_store::StoredEvent;

use super::{Budget, Entries, Memory, Projection, ProjectionError};

/// A read model, dialect aside.
pub trait ReadModel: Send + Sync + 'static {
    /// Its name (checkpoint, lock, scratch space).
    const NAME: &'static str;
    /// Its tables, emptied by a rebuild.
    const TABLES: &'static [&'static str];
    /// What it keeps in [`Memory`] between batches.
    type State: Remembered<Self::Loaded> + Default + Send + 'static;
    /// What is read back from its tables for one community memory does not hold.
    type Loaded: Send;
    /// What one write stores.
    type Rows: Send;

    /// Folds a batch into `state`.
    fn fold(&self, state: &mut Self::State, events: &[StoredEvent]) -> Result<(), ProjectionError>;
    /// What to write now, or `None` while a rebuild may still defer it.
    fn take(
        &self,
        state: &mut Self::State,
        budget: Budget,
    ) -> Result<Option<Self::Rows>, ProjectionError>;
}

/// What a read model keeps per community, and what it is missing.
pub trait Remembered<L> {
    /// The communities of `events` whose rows must be read back before [`ReadModel::fold`].
    fn missing(&self, events: &[StoredEvent], budget: Budget) -> Vec<String>;
    /// Holds what was read back: `found` for some of `missing` (the others have no rows).
    fn loaded(&mut self, missing: Vec<String>, found: Vec<(String, L)>);
}

impl<E> Remembered<E> for Entries<E> {
    fn missing(&self, events: &[StoredEvent], budget: Budget) -> Vec<String> {
        Entries::missing(self, events, budget)
    }

    fn loaded(&mut self, _missing: Vec<String>, found: Vec<(String, E)>) {
        for (id, entry) in found {
            Entries::loaded(self, id, entry);
        }
    }
}

/// The rows read back for some communities, by id.
pub type Loaded<M> = Vec<(String, <M as ReadModel>::Loaded)>;

/// How a read model reads and writes its tables through one dialect's connection `C`.
#[async_trait]
pub trait Storage<C: Send>: ReadModel {
    /// Reads back the rows of `ids` (those that have any): on PostgreSQL one query over all of
    /// them ([`load_any`]), on SQLite one prepared query each ([`load_each`]).
    async fn load(&self, tx: &mut C, ids: &[String]) -> Result<Loaded<Self>, ProjectionError>;
    /// Writes `rows`. `events` is the batch that made them (empty for a rebuild's final write).
    async fn write(
        &self,
        tx: &mut C,
        rows: Self::Rows,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError>;
}

/// Runs a [`ReadModel`] as a [`Projection`] on either dialect.
pub struct Driver<M>(pub M);

impl<M> Driver<M> {
    /// One batch: read back, fold, write what is due, in the runner's transaction.
    async fn apply<C: Send>(
        &self,
        tx: &mut C,
        events: &[StoredEvent],
        memory: &mut Memory,
    ) -> Result<(), ProjectionError>
    where
        M: Storage<C>,
    {
        let model = &self.0;
        let budget = memory.budget();
        let state = memory.state::<M::State>();
        let missing = state.missing(events, budget);
        if !missing.is_empty() {
            let found = model.load(tx, &missing).await?;
            state.loaded(missing, found);
        }
        model.fold(state, events)?;
        match model.take(state, budget)? {
            Some(rows) => model.write(tx, rows, events).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl<M> Projection for Driver<M>
where
    M: Storage<sqlx::PgConnection> + Storage<sqlx::SqliteConnection>,
{
    fn name(&self) -> &'static str {
        M::NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        M::TABLES
    }

    async fn apply_postgres(
        &self,
        tx: &mut sqlx::PgConnection,
        events: &[StoredEvent],
        memory: &mut Memory,
    ) -> Result<(), ProjectionError> {
        self.apply(tx, events, memory).await
    }

    async fn apply_sqlite(
        &self,
        tx: &mut sqlx::SqliteConnection,
        events: &[StoredEvent],
        memory: &mut Memory,
    ) -> Result<(), ProjectionError> {
        self.apply(tx, events, memory).await
    }
}

/// PostgreSQL: the rows of every id in one `… WHERE community_id = ANY($1)` query `sql`, whose
/// `community_id` column names each row's community.
pub async fn load_any<L>(
    tx: &mut sqlx::PgConnection,
    sql: &str,
    ids: &[String],
    read: impl Fn(&sqlx::postgres::PgRow) -> Result<L, ProjectionError>,
) -> Result<Vec<(String, L)>, ProjectionError> {
    use sqlx::Row as _;
    let rows = sqlx::query(sql).bind(ids).fetch_all(&mut *tx).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        found.push((row.try_get("community_id")?, read(row)?));
    }
    Ok(found)
}

/// SQLite: the row of each id that has one, by the prepared query `sql` (`?1`: the id).
pub async fn load_each<L>(
    tx: &mut sqlx::SqliteConnection,
    sql: &str,
    ids: &[String],
    read: impl Fn(&sqlx::sqlite::SqliteRow) -> Result<L, ProjectionError>,
) -> Result<Vec<(String, L)>, ProjectionError> {
    let mut found = Vec::new();
    for id in ids {
        if let Some(row) = sqlx::query(sql).bind(id).fetch_optional(&mut *tx).await? {
            found.push((id.clone(), read(&row)?));
        }
    }
    Ok(found)
}
