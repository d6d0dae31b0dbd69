//! The in-memory directory of all four levels and its queries.

use std::fmt;
use std::ops::Range;

use simpul_domain::region::{RegionCode, RegionDirectory, RegionInfo, RegionLevel};

use crate::kind::RegionKind;
use crate::region::Region;
use crate::EDITION;

/// A byte or index range stored as two `u32`s, half the size of a `Range<usize>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One row of one level. Its code and name live in [`Regions::text`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// The dotted code, as a byte range of the text.
    pub(crate) code: Span,
    /// The name, as a byte range of the text.
    pub(crate) name: Span,
    pub(crate) kind: RegionKind,
    /// The children, as an index range into the next level (empty for villages).
    pub(crate) children: Span,
}

/// All regions of one edition: provinces, regencies, districts and villages.
///
/// Each level is a vector sorted by code, so a lookup is a binary search and the children of a
/// region are a contiguous range of the next level, recorded on the parent when loading. Codes and
/// names share a single string buffer; an entry is 28 bytes, so the full edition (91,599 rows)
/// takes about 4.6 MB: 2.0 MB of text and 2.6 MB of entries.
///
/// Get the bundled edition with [`bundled`](crate::bundled), or parse other CSVs (test fixtures)
/// with [`Regions::parse`].
pub struct Regions {
    /// Every code and name, back to back.
    pub(crate) text: String,
    /// Province, regency, district and village entries, each sorted by code.
    pub(crate) levels: [Vec<Entry>; 4],
}

/// The position of a level in [`Regions::levels`].
pub(crate) fn level_index(level: RegionLevel) -> usize {
    match level {
        RegionLevel::Province => 0,
        RegionLevel::Regency => 1,
        RegionLevel::District => 2,
        RegionLevel::Village => 3,
    }
}

impl Regions {
    /// The text behind a span of [`Regions::text`].
    pub(crate) fn str(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or_default()
    }

    /// The entry for `code`, with its level's position in [`Regions::levels`].
    fn entry(&self, code: &RegionCode) -> Option<(usize, &Entry)> {
        let level = level_index(code.level());
        let entries = self.levels.get(level)?;
        let at = entries
            .binary_search_by(|entry| self.str(entry.code).cmp(code.as_str()))
            .ok()?;
        entries.get(at).map(|entry| (level, entry))
    }

    /// The public view of an entry. `None` never happens for loaded entries, whose codes were
    /// checked when parsing.
    pub(crate) fn region(&self, entry: &Entry) -> Option<Region> {
        let code = RegionCode::parse(self.str(entry.code)).ok()?;
        Some(Region {
            level: code.level(),
            parent: code.parent(),
            name: self.str(entry.name).to_owned(),
            kind: entry.kind,
            code,
        })
    }

    /// The child entries of the entry at `level`.
    fn child_entries(&self, level: usize, entry: &Entry) -> &[Entry] {
        self.levels
            .get(level + 1)
            .and_then(|children| children.get(entry.children.range()))
            .unwrap_or_default()
    }

    /// The region with this code, or `None` when the edition does not list it.
    pub fn get(&self, code: &RegionCode) -> Option<Region> {
        self.entry(code).and_then(|(_, entry)| self.region(entry))
    }

    /// Whether the edition lists this code.
    pub fn contains(&self, code: &RegionCode) -> bool {
        self.entry(code).is_some()
    }

    /// All regions of one level, sorted by code.
    pub fn at_level(&self, level: RegionLevel) -> impl Iterator<Item = Region> + '_ {
        self.levels
            .get(level_index(level))
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|entry| self.region(entry))
    }

    /// All 38 provinces (in the bundled edition), sorted by code.
    pub fn provinces(&self) -> Vec<Region> {
        self.at_level(RegionLevel::Province).collect()
    }

    /// The regions one level below `code`, sorted by code; empty for a village or an unknown code.
    pub fn children(&self, code: &RegionCode) -> Vec<Region> {
        self.entry(code)
            .map(|(level, entry)| {
                self.child_entries(level, entry)
                    .iter()
                    .filter_map(|child| self.region(child))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many regions lie one level below `code`; 0 for a village or an unknown code.
    pub fn children_count(&self, code: &RegionCode) -> usize {
        self.entry(code)
            .map_or(0, |(level, entry)| self.child_entries(level, entry).len())
    }

    /// The regions enclosing `code`, province first, without `code` itself; empty for a province
    /// or an unknown code.
    pub fn ancestors(&self, code: &RegionCode) -> Vec<Region> {
        if !self.contains(code) {
            return Vec::new();
        }
        let mut ancestors: Vec<Region> =
            std::iter::successors(code.parent(), |parent| parent.parent())
                .filter_map(|parent| self.get(&parent))
                .collect();
        ancestors.reverse();
        ancestors
    }

    /// The titled name of `code` (see [`Region::display_name`]), e.g. `Kabupaten Sleman`, or
    /// `None` when the edition does not list it.
    pub fn display_name(&self, code: &RegionCode) -> Option<String> {
        self.get(code).map(|region| region.display_name())
    }

    /// How many (provinces, regencies, districts, villages) the edition lists.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let [provinces, regencies, districts, villages] = &self.levels;
        (
            provinces.len(),
            regencies.len(),
            districts.len(),
            villages.len(),
        )
    }
}

impl RegionDirectory for Regions {
    /// Always [`EDITION`], also for regions parsed from other CSVs.
    fn edition(&self) -> &str {
        EDITION
    }

    fn lookup(&self, code: &RegionCode) -> Option<RegionInfo> {
        self.get(code).map(RegionInfo::from)
    }
}

impl fmt::Debug for Regions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (provinces, regencies, districts, villages) = self.counts();
        f.debug_struct("Regions")
            .field("provinces", &provinces)
            .field("regencies", &regencies)
            .field("districts", &districts)
            .field("villages", &villages)
            .finish_non_exhaustive()
    }
}
