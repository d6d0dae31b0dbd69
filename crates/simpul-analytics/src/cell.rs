//! Small-cell suppression. Analytics never publish a cell counting fewer than 5 KIM: a count
//! that small can point at one community and the people in it. Every published count goes
//! through [`Cell::suppress`]; a rate, share or curve computed from a suppressed cell must be
//! withheld as well (this module only guards the counts).

use std::fmt;

use serde::{Serialize, Serializer};

/// The smallest count that is published as it is.
pub const SUPPRESSION_THRESHOLD: u64 = 5;

/// A published count: the count itself, or only that it is below the threshold. Serialized as
/// a JSON number, or as the text `"< 5"` (`"< {threshold}"`); displayed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Count(u64),
    Suppressed { threshold: u64 },
}

impl Cell {
    /// `count`, or suppressed when below [`SUPPRESSION_THRESHOLD`] (0 included: "none" is as
    /// telling as "one" next to other published cells).
    pub fn suppress(count: u64) -> Self {
        Self::suppress_below(count, SUPPRESSION_THRESHOLD)
    }

    /// `count`, or suppressed when below `threshold` (a stricter policy than the default; a
    /// threshold of 0 or 1 suppresses only what is below it).
    pub fn suppress_below(count: u64, threshold: u64) -> Self {
        if count < threshold {
            Self::Suppressed { threshold }
        } else {
            Self::Count(count)
        }
    }

    /// The count, when published.
    pub fn count(&self) -> Option<u64> {
        match self {
            Self::Count(count) => Some(*count),
            Self::Suppressed { .. } => None,
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(count) => write!(formatter, "{count}"),
            Self::Suppressed { threshold } => write!(formatter, "< {threshold}"),
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(count) => serializer.serialize_u64(*count),
            Self::Suppressed { .. } => serializer.collect_str(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_below_five_are_suppressed_and_five_is_published() {
        for count in 0..5 {
            assert_eq!(Cell::suppress(count), Cell::Suppressed { threshold: 5 });
            assert_eq!(Cell::suppress(count).count(), None);
        }
        assert_eq!(Cell::suppress(5), Cell::Count(5));
        assert_eq!(Cell::suppress(1234).count(), Some(1234));
        assert_eq!(
            Cell::suppress_below(9, 10),
            Cell::Suppressed { threshold: 10 }
        );
        assert_eq!(Cell::suppress_below(0, 0), Cell::Count(0));
    }

    #[test]
    fn cells_serialize_as_a_number_or_as_less_than_the_threshold() {
        let cells = [
            Cell::suppress(3),
            Cell::suppress(12),
            Cell::suppress_below(7, 10),
        ];
        assert_eq!(
            serde_json::to_string(&cells).expect("serializes"),
            r#"["< 5",12,"< 10"]"#
        );
        assert_eq!(Cell::suppress(0).to_string(), "< 5");
        assert_eq!(Cell::suppress(5).to_string(), "5");
    }
}
