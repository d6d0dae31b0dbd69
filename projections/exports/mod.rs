//! Exports: every KIM of a region from `community_summary` as CSV or XLSX with Indonesian column
//! names, and the event log as JSON lines. The one place for these formats, used by
//! `simpul export …` and by `GET /api/v1/exports/…` alike.
//!
//! Both read in bounded pages (keyset on the community id, or the feed's own cursor), so an
//! export of the whole country never holds every row in memory; an XLSX worksheet is written in
//! constant-memory mode (rows spill to a temporary file until the workbook is assembled).

pub mod communities;
pub mod events;

use simpul_store::StoreError;

use crate::runtime::ProjectionError;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the read model failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// Reading the event log or a person's key failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing CSV failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Building the XLSX workbook failed.
    #[error("writing XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// Encoding a JSON line failed.
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing the output failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// More rows than one worksheet holds.
    #[error("an XLSX worksheet holds at most {max} rows; export a smaller region or use CSV")]
    TooManyRows {
        /// Data rows a worksheet can take (below the header).
        max: u32,
    },
}
