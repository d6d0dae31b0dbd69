//! One region as callers see it.

use serde::{Deserialize, Serialize};
use simpul_domain::region::{RegionCode, RegionInfo, RegionLevel};

use crate::kind::RegionKind;

/// The province code of DKI Jakarta, whose kabupaten/kota are *administrasi* (they have no council).
const JAKARTA: &str = "31";

/// Province codes whose third level is called *distrik* instead of kecamatan (Papua, Papua Barat,
/// Papua Selatan, Papua Tengah, Papua Pegunungan, Papua Barat Daya).
const PAPUA: [&str; 6] = ["91", "92", "93", "94", "95", "96"];

/// A region of the edition: its code, name, level, kind and parent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Region {
    /// The dotted Kemendagri code, e.g. `34.04`.
    pub code: RegionCode,
    /// The name as the edition spells it; kabupaten/kota names carry no prefix (`Sleman`).
    pub name: String,
    /// The administrative level (follows from the code).
    pub level: RegionLevel,
    /// The legal form: `provinsi`, `kabupaten`/`kota`, `kecamatan` or `desa`/`kelurahan`.
    pub kind: RegionKind,
    /// The enclosing region one level up, or `None` for a province.
    pub parent: Option<RegionCode>,
}

impl Region {
    /// The name with its title, as it is written in Indonesian prose.
    ///
    /// Provinces keep their name (`Daerah Istimewa Yogyakarta`); the other levels get the title of
    /// their kind: `Kabupaten Sleman`, `Kota Yogyakarta`, `Kecamatan Depok`, `Desa Caturtunggal`,
    /// `Kelurahan Kricak`. Two regional forms from the source are kept: DKI Jakarta's
    /// `Kota Administrasi …`/`Kabupaten Administrasi …`, and `Distrik …` in the Papua provinces.
    /// A name that already starts with its title (`Desa Adat Yoboi`) is not prefixed again.
    pub fn display_name(&self) -> String {
        let province = self.code.as_str().get(..2).unwrap_or_default();
        let title = match self.kind {
            RegionKind::Provinsi => return self.name.clone(),
            RegionKind::Kabupaten if province == JAKARTA => "Kabupaten Administrasi",
            RegionKind::Kota if province == JAKARTA => "Kota Administrasi",
            RegionKind::Kecamatan if PAPUA.contains(&province) => "Distrik",
            kind => kind.title(),
        };
        let already_titled = self
            .name
            .get(..title.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(title))
            && self.name.as_bytes().get(title.len()) == Some(&b' ');
        if already_titled {
            self.name.clone()
        } else {
            format!("{title} {}", self.name)
        }
    }
}

impl From<Region> for RegionInfo {
    fn from(region: Region) -> Self {
        RegionInfo {
            code: region.code,
            name: region.name,
            level: region.level,
            kind: region.kind.as_str().to_owned(),
        }
    }
}
