//! The kind of a region: which of the legal forms of its level it takes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use simpul_domain::region::RegionLevel;

/// The legal form of a region, spelled as in [`RegionInfo::kind`](simpul_domain::RegionInfo).
///
/// Regencies are either kabupaten or kota and villages either desa or kelurahan; provinces and
/// districts have a single kind each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKind {
    /// Provinsi (level 1).
    Provinsi,
    /// Kabupaten, a regency (level 2, codes `PP.01`–`PP.69`).
    Kabupaten,
    /// Kota, a city (level 2, codes `PP.71`–`PP.99`).
    Kota,
    /// Kecamatan, called distrik in the Papua provinces (level 3).
    Kecamatan,
    /// Desa, including desa adat and Sleman's kalurahan (level 4).
    Desa,
    /// Kelurahan, an urban village run by the regency/city (level 4).
    Kelurahan,
}

/// A kind string that is none of `provinsi`, `kabupaten`, `kota`, `kecamatan`, `desa`, `kelurahan`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a region kind (expected provinsi, kabupaten, kota, kecamatan, desa or kelurahan)"
)]
pub struct UnknownRegionKind(pub String);

impl RegionKind {
    /// The lowercase id, e.g. `kabupaten`, as stored in the CSVs and in [`RegionInfo::kind`](simpul_domain::RegionInfo).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provinsi => "provinsi",
            Self::Kabupaten => "kabupaten",
            Self::Kota => "kota",
            Self::Kecamatan => "kecamatan",
            Self::Desa => "desa",
            Self::Kelurahan => "kelurahan",
        }
    }

    /// The capitalised title used in front of a name, e.g. `Kabupaten`.
    pub fn title(self) -> &'static str {
        match self {
            Self::Provinsi => "Provinsi",
            Self::Kabupaten => "Kabupaten",
            Self::Kota => "Kota",
            Self::Kecamatan => "Kecamatan",
            Self::Desa => "Desa",
            Self::Kelurahan => "Kelurahan",
        }
    }

    /// The administrative level this kind belongs to.
    pub fn level(self) -> RegionLevel {
        match self {
            Self::Provinsi => RegionLevel::Province,
            Self::Kabupaten | Self::Kota => RegionLevel::Regency,
            Self::Kecamatan => RegionLevel::District,
            Self::Desa | Self::Kelurahan => RegionLevel::Village,
        }
    }
}

impl FromStr for RegionKind {
    type Err = UnknownRegionKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "provinsi" => Ok(Self::Provinsi),
            "kabupaten" => Ok(Self::Kabupaten),
            "kota" => Ok(Self::Kota),
            "kecamatan" => Ok(Self::Kecamatan),
            "desa" => Ok(Self::Desa),
            "kelurahan" => Ok(Self::Kelurahan),
            other => Err(UnknownRegionKind(other.to_owned())),
        }
    }
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
