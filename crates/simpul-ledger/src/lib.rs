//! The pure core of Simpul's verifiable ledger (`docs/ledger.md`): the canonical bytes of an
//! event ([`canonical`]), and the RFC 9162 (Certificate Transparency v2) Merkle tree over them
//! ([`merkle`]): leaf and node hashes, tree heads, inclusion and consistency proofs and their
//! verification; and checkpoints signed as C2SP signed notes ([`checkpoint`]), which commit to the
//! per-province sub-logs ([`sublog`]); a province's export and its offline check ([`export`]).
//!
//! **Invariant:** no I/O, no clock, no randomness — a third party's verifier and Simpul's own run
//! the same functions over the same bytes.

pub mod canonical;
pub mod checkpoint;
pub mod export;
pub mod merkle;
pub mod sublog;

pub use canonical::{canonical_event, canonical_json, CanonicalError, EventFields};
pub use checkpoint::{Checkpoint, LedgerKey, NoteError, Verifier};
pub use export::{
    formed_province, ExportCheck, ExportEvent, ExportHeader, ExportMismatch, ExportSummary,
    EXPORT_FORMAT,
};
pub use merkle::{
    consistency_proof, from_hex, inclusion_proof, leaf_hash, node_hash, root, to_hex,
    verify_consistency, verify_inclusion, Frontier, Hash, ProofError,
};
pub use sublog::{SubLogs, TableError, SUBLOGS_EXTENSION};
