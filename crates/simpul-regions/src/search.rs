//! Finding regions by name.

use std::borrow::Cow;

use simpul_domain::region::RegionLevel;

use crate::region::Region;
use crate::regions::{level_index, Regions};

/// How well a name matches a query; smaller is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    /// The whole name, ignoring case.
    Exact,
    /// The start of the name.
    Prefix,
    /// The start of a later word of the name.
    WordStart,
    /// Anywhere else inside a word.
    Inside,
}

impl Regions {
    /// Regions whose name contains `query`, ignoring case, at most `limit` of them.
    ///
    /// Only the name is searched, not the title (`sleman` finds Kabupaten Sleman; `kabupaten
    /// sleman` finds nothing). Surrounding whitespace in the query is ignored, and an empty query
    /// finds nothing. `level` restricts the search to one level.
    ///
    /// Results are ranked: whole-name matches first, then matches at the start of the name, then
    /// at the start of a later word, then anywhere. Within a rank, higher levels come first
    /// (provinces before regencies before districts before villages), then codes in order.
    pub fn search(&self, query: &str, level: Option<RegionLevel>, limit: usize) -> Vec<Region> {
        let needle = query.trim().to_lowercase();
        if needle.is_empty() || limit == 0 {
            return Vec::new();
        }

        let mut hits: Vec<(Match, usize, usize)> = Vec::new();
        for (at, entries) in self.levels.iter().enumerate() {
            if level.is_some_and(|level| level_index(level) != at) {
                continue;
            }
            for (index, entry) in entries.iter().enumerate() {
                if let Some(quality) = best_match(self.str(entry.name), &needle) {
                    hits.push((quality, at, index));
                }
            }
        }

        if hits.len() > limit {
            hits.select_nth_unstable(limit);
            hits.truncate(limit);
        }
        hits.sort_unstable();
        hits.into_iter()
            .filter_map(|(_, at, index)| {
                let entry = self.levels.get(at)?.get(index)?;
                self.region(entry)
            })
            .collect()
    }
}

/// The best place where the lowercase `needle` occurs in `name`, ignoring case, if anywhere.
fn best_match(name: &str, needle: &str) -> Option<Match> {
    // Names are ASCII but for three apostrophes (U+2019), so folding ASCII case in place is
    // exact for nearly all of them and avoids an allocation per name.
    let folded: Cow<'_, str> = if name.is_ascii() {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    };
    let haystack = folded.as_bytes();
    let needle = needle.as_bytes();
    if needle.len() > haystack.len() {
        return None;
    }

    let mut best: Option<Match> = None;
    for start in 0..=haystack.len() - needle.len() {
        let window = haystack
            .get(start..start + needle.len())
            .unwrap_or_default();
        if !window.eq_ignore_ascii_case(needle) {
            continue;
        }
        let quality = if start == 0 && window.len() == haystack.len() {
            Match::Exact
        } else if start == 0 {
            Match::Prefix
        } else if haystack
            .get(start - 1)
            .is_some_and(|before| !before.is_ascii_alphanumeric() && before.is_ascii())
        {
            Match::WordStart
        } else {
            Match::Inside
        };
        best = Some(best.map_or(quality, |best| best.min(quality)));
        if quality != Match::Inside {
            // Later occurrences start past 0, so none can beat a prefix or a word start.
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_ranked_by_position() {
        assert_eq!(best_match("Sleman", "sleman"), Some(Match::Exact));
        assert_eq!(best_match("Kulon Progo", "kulon"), Some(Match::Prefix));
        assert_eq!(best_match("Kulon Progo", "progo"), Some(Match::WordStart));
        assert_eq!(best_match("Gunungkidul", "kidul"), Some(Match::Inside));
        assert_eq!(best_match("Gunungkidul", "kulon"), None);
        assert_eq!(best_match("Bu Nuapu’u", "pu’u"), Some(Match::Inside));
        assert_eq!(best_match("Bantul", "bantul raya"), None);
    }

    #[test]
    fn a_later_word_start_beats_an_earlier_inner_match() {
        assert_eq!(
            best_match("Sidoarjo Arjosari", "arjo"),
            Some(Match::WordStart)
        );
    }
}
