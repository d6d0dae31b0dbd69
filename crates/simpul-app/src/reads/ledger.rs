//! Reading the ledger (`docs/ledger.md`): its signed checkpoints, and inclusion and consistency
//! proofs in the global tree or in one province's sub-log. Auditors and admins only; a regional
//! scope reads its own province's sub-log.

use std::collections::HashMap;

use simpul_domain::{RegionCode, RegionLevel};
use simpul_ledger::{consistency_proof, inclusion_proof, Hash};
use simpul_projections::ledger::query::{self, Leaf, StoredCheckpoint};
use simpul_store::StoredEvent;

use super::{permitted, ReadError, Reads};
use crate::auth::{Action, Principal};

/// The most checkpoints one listing returns.
pub const MAX_CHECKPOINTS: u32 = 1000;

/// Which tree a proof is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tree {
    /// The global tree over every ledger index.
    Global,
    /// One province's sub-log, over its province indexes.
    Province(RegionCode),
}

/// An inclusion proof: the leaf at `index` is in the tree of `size` leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The index (a ledger index, or a province index in a sub-log).
    pub index: u64,
    /// The tree's size.
    pub size: u64,
    /// The leaf's hash.
    pub leaf_hash: Hash,
    /// The event's global position.
    pub position: u64,
    /// The audit path, leaf to head (RFC 9162 §2.1.3).
    pub path: Vec<Hash>,
}

/// A consistency proof: the tree of `to` leaves extends the tree of `from` leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// The proof (RFC 9162 §2.1.4).
    pub path: Vec<Hash>,
}

impl Reads {
    /// The ledger index of each of `events` the ledger has reached, by global position (events
    /// already read under the principal's scope), once the read models have reached
    /// [`Reads::waiting_for`]'s position.
    pub async fn ledger_indexes(
        &self,
        events: &[StoredEvent],
    ) -> Result<HashMap<u64, u64>, ReadError> {
        self.settle().await?;
        let positions: Vec<u64> = events.iter().map(|event| event.position).collect();
        Ok(query::ledger_indexes(self.store().database(), &positions).await?)
    }

    /// The signed checkpoints with sizes in `[from, to]`, smallest first, at most
    /// [`MAX_CHECKPOINTS`] (admin, auditor).
    pub async fn ledger_checkpoints(
        &self,
        principal: &Principal,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<Vec<StoredCheckpoint>, ReadError> {
        permitted(principal, Action::ReadLedger)?;
        let (from, to) = (from.unwrap_or(1), to.unwrap_or(u64::MAX));
        if from > to {
            return Err(ReadError::invalid("from", "must not be above `to`"));
        }
        self.settle().await?;
        Ok(query::checkpoints(self.store().database(), from, to, MAX_CHECKPOINTS).await?)
    }

    /// The proof that leaf `index` is in the tree of `size` leaves of `tree`.
    pub async fn inclusion_proof(
        &self,
        principal: &Principal,
        tree: &Tree,
        index: u64,
        size: u64,
    ) -> Result<InclusionProof, ReadError> {
        if index >= size {
            return Err(ReadError::invalid(
                "index",
                format!("must be below size ({size})"),
            ));
        }
        let leaves = self.tree_leaves(principal, tree, "size", size).await?;
        let hashes: Vec<Hash> = leaves.iter().map(|leaf| leaf.hash).collect();
        let at = usize::try_from(index).unwrap_or(usize::MAX);
        let path = inclusion_proof(&hashes, at, hashes.len())
            .map_err(|error| ReadError::invalid("index", error.to_string()))?;
        let leaf = &leaves[at];
        Ok(InclusionProof {
            index,
            size,
            leaf_hash: leaf.hash,
            position: leaf.position,
            path,
        })
    }

    /// The proof that the tree of `to` leaves of `tree` extends the tree of `from` leaves.
    pub async fn consistency_proof(
        &self,
        principal: &Principal,
        tree: &Tree,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof, ReadError> {
        if from == 0 || from > to {
            return Err(ReadError::invalid(
                "from",
                format!("must be at least 1 and at most `to` ({to})"),
            ));
        }
        let leaves = self.tree_leaves(principal, tree, "to", to).await?;
        let hashes: Vec<Hash> = leaves.iter().map(|leaf| leaf.hash).collect();
        let old = usize::try_from(from).unwrap_or(usize::MAX);
        let path = consistency_proof(&hashes, old, hashes.len())
            .map_err(|error| ReadError::invalid("from", error.to_string()))?;
        Ok(ConsistencyProof { from, to, path })
    }

    /// The first `size` leaves of `tree`, once the principal may read it; `field` names the
    /// size in the refusal when the tree is smaller.
    async fn tree_leaves(
        &self,
        principal: &Principal,
        tree: &Tree,
        field: &'static str,
        size: u64,
    ) -> Result<Vec<Leaf>, ReadError> {
        let db = self.store().database();
        let leaves = match tree {
            Tree::Global => {
                principal.authorize_national(Action::ReadLedger)?;
                self.settle().await?;
                query::leaves(db, 0, size).await?
            }
            Tree::Province(province) => {
                if province.level() != RegionLevel::Province {
                    return Err(ReadError::invalid(
                        "province",
                        "a province code (two digits, e.g. 32)",
                    ));
                }
                principal.authorize_sublog(province)?;
                self.settle().await?;
                query::province_leaves(db, province.as_str(), 0, size).await?
            }
        };
        if (leaves.len() as u64) < size {
            let which = match tree {
                Tree::Global => "the ledger".to_owned(),
                Tree::Province(province) => format!("the sub-log of province {province}"),
            };
            return Err(ReadError::invalid(
                field,
                format!("{which} holds {} leaves so far", leaves.len()),
            ));
        }
        Ok(leaves)
    }
}
