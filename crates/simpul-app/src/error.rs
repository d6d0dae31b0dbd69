//! Errors of running a command.

use simpul_domain::DomainError;
use simpul_store::StoreError;

/// Why a command was not recorded. Nothing was appended in every case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The command breaks a rule of the domain (R1–R10) or its lifecycle.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The caller's expected version is not the community's version.
    #[error("expected version {expected}, but the community is at version {actual}")]
    VersionMismatch {
        /// What the caller sent.
        expected: u64,
        /// What the log holds.
        actual: u64,
    },
    /// Concurrent writers kept winning; the command was retried and gave up.
    #[error("community {community_id} is being changed concurrently; retried {attempts} times")]
    Conflict {
        /// The community.
        community_id: String,
        /// How many times it was tried.
        attempts: u32,
    },
    /// The nomor induk is already assigned in the kabupaten/kota (R8).
    #[error("R8: nomor induk {number} is already assigned in {regency}")]
    DuplicateRegistrationNumber {
        /// The kabupaten/kota.
        regency: String,
        /// The number.
        number: String,
    },
    /// The store failed (unavailable, corrupt, misconfigured).
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::DuplicateRegistrationNumber { regency, number } => {
                AppError::DuplicateRegistrationNumber { regency, number }
            }
            other => AppError::Store(other),
        }
    }
}
