//! `simpul audit verify`: the ledger checked against the log it claims to cover. Every event is
//! read again in the feed's commit order and its leaf recomputed from its stored bytes; the
//! stored leaves must be those, at those indexes, in those provinces; every stored checkpoint
//! must be signed by the key and commit to the heads recomputed from the log; and so must a
//! checkpoint the auditor kept from earlier (`--checkpoint`).

use std::collections::HashMap;

use simpul_ledger::{formed_province, Checkpoint, SubLogs, Verifier};
use simpul_projections::ledger::leaf_of;
use simpul_projections::ledger::query::{self, Heads, Leaf, StoredCheckpoint};
use simpul_projections::ProjectionError;
use simpul_store::{EventStore, StoreError, StoredEvent};

/// Events read per page of the feed.
const PAGE: u32 = 5_000;

/// What to verify with.
pub struct VerifyOptions {
    /// The verifier key the checkpoints must be signed with.
    pub verifier: Verifier,
    /// A signed checkpoint kept outside the database (its note), which the log must still
    /// extend.
    pub checkpoint: Option<String>,
}

/// Where the ledger and the log disagree, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The first ledger index concerned, where one is.
    pub ledger_index: Option<u64>,
    /// Its event's community and sequence, where known.
    pub event: Option<(String, u64)>,
    /// What differs.
    pub what: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.ledger_index, &self.event) {
            (Some(index), Some((community, sequence))) => write!(
                f,
                "ledger index {index} (community {community}, sequence {sequence}): {}",
                self.what
            ),
            (Some(index), None) => write!(f, "ledger index {index}: {}", self.what),
            (None, _) => f.write_str(&self.what),
        }
    }
}

/// Why verification did not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The ledger does not match the log.
    #[error("{0}")]
    Mismatch(Mismatch),
    /// The checkpoint given to compare with does not read or is not signed by the key.
    #[error("the checkpoint given: {0}")]
    BadCheckpoint(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A read model's storage failed.
    #[error(transparent)]
    ReadModel(#[from] ProjectionError),
}

/// What a verification proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events checked (the ledger's size).
    pub events: u64,
    /// Events of the log the ledger has not reached yet (not checked).
    pub pending: u64,
    /// Stored checkpoints checked.
    pub checkpoints: usize,
    /// The largest of them.
    pub latest: Option<u64>,
    /// Province sub-logs checked.
    pub provinces: usize,
    /// The size of the checkpoint given, which the log extends.
    pub given: Option<u64>,
}

fn mismatch(ledger_index: Option<u64>, event: Option<&StoredEvent>, what: String) -> VerifyError {
    VerifyError::Mismatch(Mismatch {
        ledger_index,
        event: event.map(|event| (event.aggregate_id.clone(), event.sequence)),
        what,
    })
}

/// Checks the whole ledger against the log.
pub async fn verify(
    store: &EventStore,
    options: &VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    let db = store.database();
    let size = query::size(db).await?;
    let checkpoints = all_checkpoints(store).await?;
    let given = match &options.checkpoint {
        Some(note) => Some(
            options
                .verifier
                .open(note)
                .map_err(|error| VerifyError::BadCheckpoint(error.to_string()))?,
        ),
        None => None,
    };
    let mut walk = Walk {
        verifier: &options.verifier,
        checkpoints: &checkpoints,
        next_checkpoint: 0,
        given: given.as_ref(),
        heads: Heads::default(),
        provinces: HashMap::new(),
        sizes: HashMap::new(),
    };
    // The log is read a page ahead (events and their stored leaves) while the page before is
    // hashed and checked: the database's work and the decoding overlap the hashing.
    let (pages, mut next) = tokio::sync::mpsc::channel(2);
    let reader = tokio::spawn(read_ahead(store.clone(), size, pages));
    let mut pending = 0u64;
    while let Some(page) = next.recv().await {
        let (events, leaves) = page?;
        for (i, event) in events.iter().enumerate() {
            match leaves.get(i) {
                Some(leaf) => walk.event(leaf, event)?,
                None => pending += 1,
            }
        }
    }
    // The reader ends when the log does or when a page failed (sent above): nothing to wait for,
    // but a panic in it is not swallowed.
    if let Err(error) = reader.await {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    let checked = walk.heads.size();
    if checked < size {
        let leaf = query::leaves(db, checked, checked + 1).await?;
        let position = leaf.first().map_or(0, |leaf| leaf.position);
        return Err(mismatch(
            Some(checked),
            None,
            format!(
                "the ledger holds {size} leaves but the log ends after {checked} events: the \
                 event at position {position} was deleted"
            ),
        ));
    }
    if let Some(beyond) = checkpoints.get(walk.next_checkpoint) {
        return Err(mismatch(
            None,
            None,
            format!(
                "checkpoint of size {}: the ledger holds only {checked} events",
                beyond.size
            ),
        ));
    }
    if let Some(given) = &given {
        if given.size > checked {
            return Err(mismatch(
                None,
                None,
                format!(
                    "the checkpoint given commits to {} events; the log holds only {checked}: \
                     events were deleted",
                    given.size
                ),
            ));
        }
    }
    Ok(VerifyReport {
        events: checked,
        pending,
        checkpoints: checkpoints.len(),
        latest: checkpoints.last().map(|checkpoint| checkpoint.size),
        provinces: walk.sizes.len(),
        given: given.map(|given| given.size),
    })
}

/// A page of the log in commit order and the stored leaves of the same ledger indexes.
type Page = (Vec<StoredEvent>, Vec<Leaf>);

/// Reads the log a page at a time, each page with the stored leaves at its ledger indexes (the
/// ledger holds `size`), until the log ends, a read fails or the walk stops listening.
async fn read_ahead(
    store: EventStore,
    size: u64,
    pages: tokio::sync::mpsc::Sender<Result<Page, VerifyError>>,
) {
    let (mut after, mut from) = (0u64, 0u64);
    loop {
        // The events and the leaves they should have, read at once (a full page has `PAGE`
        // events; a shorter one, the log's end, keeps only as many leaves).
        let page = async {
            let (events, mut leaves) = tokio::try_join!(
                async { Ok::<_, VerifyError>(store.read_all(after, PAGE).await?) },
                async {
                    Ok(if from < size {
                        query::leaves(store.database(), from, size.min(from + u64::from(PAGE)))
                            .await?
                    } else {
                        Vec::new()
                    })
                },
            )?;
            leaves.truncate(events.len());
            Ok::<_, VerifyError>((events, leaves))
        }
        .await;
        let done = match &page {
            Ok((events, _)) => match events.last() {
                Some(last) => {
                    after = last.position;
                    from += events.len() as u64;
                    false
                }
                None => true,
            },
            Err(_) => true,
        };
        if (page.is_err() || !done) && pages.send(page).await.is_err() {
            return;
        }
        if done {
            return;
        }
    }
}

async fn all_checkpoints(store: &EventStore) -> Result<Vec<StoredCheckpoint>, VerifyError> {
    let mut all: Vec<StoredCheckpoint> = Vec::new();
    loop {
        let from = all.last().map_or(1, |last| last.size + 1);
        let page = query::checkpoints(store.database(), from, u64::MAX, 1000).await?;
        if page.is_empty() {
            return Ok(all);
        }
        all.extend(page);
    }
}

/// The walk along the log, one event at a time.
struct Walk<'a> {
    verifier: &'a Verifier,
    checkpoints: &'a [StoredCheckpoint],
    next_checkpoint: usize,
    given: Option<&'a Checkpoint>,
    heads: Heads,
    /// Each community's province, from its formation.
    provinces: HashMap<String, String>,
    /// Each sub-log's size so far.
    sizes: HashMap<String, u64>,
}

impl Walk<'_> {
    /// Checks the stored leaf of the next ledger index against the next event of the log.
    fn event(&mut self, leaf: &Leaf, event: &StoredEvent) -> Result<(), VerifyError> {
        let index = self.heads.size();
        let fail = |what: String| Err(mismatch(Some(index), Some(event), what));
        if leaf.position != event.position {
            return fail(format!(
                "the ledger's leaf is the event at position {}, but the log's next event in \
                 commit order is at position {}: an event was deleted, inserted or moved",
                leaf.position, event.position
            ));
        }
        let hash = leaf_of(event)?;
        if hash != leaf.hash {
            return fail(
                "its bytes (payload, metadata, type or sequence) are not those its leaf was \
                 made from: the event was altered after it was recorded"
                    .to_owned(),
            );
        }
        let province = match formed_province(&event.event_type, &event.payload) {
            Some(Ok(province)) => {
                self.provinces
                    .insert(event.aggregate_id.clone(), province.to_owned());
                province.to_owned()
            }
            Some(Err(error)) => return fail(error),
            None => match self.provinces.get(&event.aggregate_id) {
                Some(province) => province.clone(),
                None => return fail("its community was never formed".to_owned()),
            },
        };
        let province_index = self.sizes.entry(province.clone()).or_insert(0);
        if leaf.province != province || leaf.province_index != *province_index {
            return fail(format!(
                "the ledger puts it at index {} of province {}'s sub-log; the log at index {} of \
                 province {province}'s",
                leaf.province_index, leaf.province, province_index
            ));
        }
        *province_index += 1;
        self.heads.push(&Leaf {
            hash,
            ..leaf.clone()
        });
        self.at_size()
    }

    /// Checks every checkpoint of the size just reached.
    fn at_size(&mut self) -> Result<(), VerifyError> {
        let size = self.heads.size();
        while let Some(stored) = self.checkpoints.get(self.next_checkpoint) {
            if stored.size > size {
                break;
            }
            self.next_checkpoint += 1;
            let fail = |what: String| {
                Err(mismatch(
                    None,
                    None,
                    format!("checkpoint of size {}: {what}", stored.size),
                ))
            };
            let signed = match self.verifier.open(&stored.note) {
                Ok(signed) => signed,
                Err(error) => return fail(error.to_string()),
            };
            if signed.size != stored.size || signed.root != stored.root {
                return fail("its stored size or head is not the signed one".to_owned());
            }
            if signed.root != self.heads.root() {
                return fail(
                    "the tree head recomputed from the log differs from the signed one: the log \
                     and the ledger were rewritten after it was signed"
                        .to_owned(),
                );
            }
            if !signed.extensions.is_empty() {
                let sublogs = self.heads.sublogs();
                if !sublogs.is_committed_by(&signed.extensions) || sublogs.table() != stored.sublogs
                {
                    let differs = first_difference(&sublogs, &stored.sublogs);
                    return fail(format!(
                        "the province sub-logs recomputed from the log differ from the signed \
                         ones{differs}"
                    ));
                }
            }
        }
        if let Some(given) = self.given {
            if given.size == size && given.root != self.heads.root() {
                return Err(mismatch(
                    None,
                    None,
                    format!(
                        "the checkpoint given (size {size}): the tree head recomputed from the \
                         log differs from the signed one: the log was rewritten after it was \
                         signed"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// ` (province P)` for the first province whose sub-log differs from the stored table's.
fn first_difference(recomputed: &SubLogs, stored: &str) -> String {
    let Ok(stored) = SubLogs::parse(stored) else {
        return String::new();
    };
    let differs = recomputed
        .iter()
        .map(|(code, size, head)| (code.to_owned(), Some((size, *head))))
        .chain(stored.iter().map(|(code, _, _)| (code.to_owned(), None)))
        .find(|(code, found)| match found {
            Some(found) => stored.get(code) != Some(*found),
            None => recomputed.get(code).is_none(),
        });
    differs
        .map(|(code, _)| format!(" (province {code})"))
        .unwrap_or_default()
}
