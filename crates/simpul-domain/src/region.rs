//! Kemendagri region codes as the domain sees them.
//!
//! The type checks the shape of a code (`PP`, `PP.RR`, `PP.RR.DD`, `PP.RR.DD.VVVV`); whether a code
//! exists in an edition (rule R2) is answered by a [`RegionDirectory`], which the domain receives
//! through its services so that it never does I/O itself.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A dotted Kemendagri region code, e.g. `34.04.01.2001`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

/// Why a string is not a region code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Kemendagri region code (expected PP, PP.RR, PP.RR.DD or PP.RR.DD.VVVV)")]
pub struct RegionCodeError(pub String);

/// The four administrative levels, from the province down to the desa/kelurahan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// Provinsi (`PP`).
    Province,
    /// Kabupaten or kota (`PP.RR`).
    Regency,
    /// Kecamatan, called distrik in Papua (`PP.RR.DD`).
    District,
    /// Desa or kelurahan (`PP.RR.DD.VVVV`).
    Village,
}

/// What a directory knows about one code in its edition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionInfo {
    /// The code itself.
    pub code: RegionCode,
    /// The name as the edition spells it (kabupaten/kota names without their prefix).
    pub name: String,
    /// The level of the code.
    pub level: RegionLevel,
    /// `kabupaten`/`kota` for regencies, `desa`/`kelurahan` for villages, `provinsi`/`kecamatan` otherwise.
    pub kind: String,
}

/// A source of region codes of one edition (Kepmendagri 300.2.2-2138/2025 in production).
pub trait RegionDirectory: Send + Sync {
    /// The edition id recorded with every event that carries a code.
    fn edition(&self) -> &str;
    /// The code's entry in this edition, or `None` when the edition has no such code.
    fn lookup(&self, code: &RegionCode) -> Option<RegionInfo>;
}

/// A shared directory (such as the bundled `&'static` one) is a directory too.
impl<T: RegionDirectory + ?Sized> RegionDirectory for &T {
    fn edition(&self) -> &str {
        (**self).edition()
    }

    fn lookup(&self, code: &RegionCode) -> Option<RegionInfo> {
        (**self).lookup(code)
    }
}

impl RegionCode {
    /// Parses a dotted code, checking only its shape.
    pub fn parse(s: &str) -> Result<Self, RegionCodeError> {
        let widths: Vec<usize> = s.split('.').map(str::len).collect();
        let digits_and_dots = s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        match widths.as_slice() {
            [2] | [2, 2] | [2, 2, 2] | [2, 2, 2, 4] if digits_and_dots => Ok(Self(s.to_owned())),
            _ => Err(RegionCodeError(s.to_owned())),
        }
    }

    /// The code as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level implied by the code's shape.
    pub fn level(&self) -> RegionLevel {
        match self.0.split('.').count() {
            1 => RegionLevel::Province,
            2 => RegionLevel::Regency,
            3 => RegionLevel::District,
            _ => RegionLevel::Village,
        }
    }

    /// The enclosing code one level up, or `None` for a province.
    pub fn parent(&self) -> Option<RegionCode> {
        self.0
            .rfind('.')
            .map(|at| RegionCode(self.0[..at].to_owned()))
    }

    /// The enclosing code at `level`, or `None` when `level` is below this code's own level.
    pub fn ancestor_at(&self, level: RegionLevel) -> Option<RegionCode> {
        let parts = match level {
            RegionLevel::Province => 1,
            RegionLevel::Regency => 2,
            RegionLevel::District => 3,
            RegionLevel::Village => 4,
        };
        let segments: Vec<&str> = self.0.split('.').collect();
        (segments.len() >= parts).then(|| RegionCode(segments[..parts].join(".")))
    }

    /// Whether `self` lies inside `scope` (a prefix in whole segments), or is `scope` itself.
    pub fn is_within(&self, scope: &RegionCode) -> bool {
        self.0 == scope.0
            || (self.0.starts_with(&scope.0) && self.0.as_bytes().get(scope.0.len()) == Some(&b'.'))
    }
}

impl TryFrom<String> for RegionCode {
    type Error = RegionCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> Self {
        code.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RegionCode {
    type Err = RegionCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_all_four_levels_parse() {
        for (code, level) in [
            ("34", RegionLevel::Province),
            ("34.04", RegionLevel::Regency),
            ("34.04.01", RegionLevel::District),
            ("34.04.01.2001", RegionLevel::Village),
        ] {
            assert_eq!(RegionCode::parse(code).map(|c| c.level()), Ok(level));
        }
    }

    #[test]
    fn malformed_codes_are_rejected() {
        for bad in [
            "",
            "3",
            "340",
            "34.4",
            "34.04.01.201",
            "34.04.01.2001.1",
            "3a.04",
            "34..04",
        ] {
            assert!(RegionCode::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn ancestors_and_scope_follow_whole_segments() {
        let desa = RegionCode::parse("34.04.01.2001").unwrap();
        assert_eq!(
            desa.ancestor_at(RegionLevel::Regency).unwrap().as_str(),
            "34.04"
        );
        assert_eq!(desa.parent().unwrap().as_str(), "34.04.01");
        assert!(desa.is_within(&RegionCode::parse("34").unwrap()));
        assert!(desa.is_within(&RegionCode::parse("34.04").unwrap()));
        assert!(!desa.is_within(&RegionCode::parse("34.71").unwrap()));
        assert!(RegionCode::parse("34")
            .unwrap()
            .ancestor_at(RegionLevel::District)
            .is_none());
    }
}
