//! Per-province sub-logs and how a checkpoint commits to them (`docs/ledger.md`).
//!
//! Every event also belongs to the sub-log of its community's province, where it has a dense
//! *province index* of its own. A sub-log is an RFC 9162 tree over the same leaf hashes. The
//! global checkpoint commits to every sub-log's size and head through one extension line,
//! `simpul-provinces <base64 of SHA-256 of the table>`, where the table is one line per
//! non-empty sub-log in ascending code order: `<code> <size> <base64 head>` and a newline. A
//! province absent from the table has no event. So an auditor of one province holding the
//! signed checkpoint, the table and the province's events can prove the events are all of that
//! province's events up to the checkpoint, without seeing any other province's.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// What starts the extension line that commits to the sub-log table.
pub const SUBLOGS_EXTENSION: &str = "simpul-provinces ";

/// Why a sub-log table does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A line that is not `<code> <size> <base64 head>`.
    #[error("sub-log table line {line}: {what}")]
    BadLine {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        what: &'static str,
    },
}

/// The size and head of every non-empty sub-log, by province code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubLogs(BTreeMap<String, (u64, Hash)>);

impl SubLogs {
    /// Records the size and head of `code`'s sub-log (an empty one is left out).
    pub fn insert(&mut self, code: &str, size: u64, head: Hash) {
        if size > 0 {
            self.0.insert(code.to_owned(), (size, head));
        }
    }

    /// The size and head of `code`'s sub-log: size 0 (and no head) when it holds no event.
    pub fn get(&self, code: &str) -> Option<(u64, Hash)> {
        self.0.get(code).copied()
    }

    /// Each sub-log's code, size and head, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64, &Hash)> {
        self.0
            .iter()
            .map(|(code, (size, head))| (code.as_str(), *size, head))
    }

    /// The sum of the sub-logs' sizes (the global tree's size, when the table is whole).
    pub fn total(&self) -> u64 {
        self.0.values().map(|(size, _)| size).sum()
    }

    /// The table's text: one `<code> <size> <base64 head>` line per sub-log, in code order.
    pub fn table(&self) -> String {
        self.iter()
            .map(|(code, size, head)| format!("{code} {size} {}\n", BASE64.encode(head)))
            .collect()
    }

    /// Reads a table written by [`SubLogs::table`]; codes must ascend and sizes be positive.
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut logs = BTreeMap::new();
        let mut previous: Option<&str> = None;
        for (number, line) in text.lines().enumerate() {
            let bad = |what| TableError::BadLine {
                line: number + 1,
                what,
            };
            let mut fields = line.split(' ');
            let (Some(code), Some(size), Some(head), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(bad("expected `<code> <size> <base64 head>`"));
            };
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(bad("the code is not a region code"));
            }
            if previous.is_some_and(|previous| previous >= code) {
                return Err(bad("codes must ascend"));
            }
            let size = size
                .parse::<u64>()
                .ok()
                .filter(|value| *value > 0 && value.to_string() == size)
                .ok_or(bad("the size is not a positive decimal"))?;
            let head = BASE64
                .decode(head)
                .ok()
                .and_then(|head| Hash::try_from(head.as_slice()).ok())
                .ok_or(bad("the head is not a base64 SHA-256 hash"))?;
            logs.insert(code.to_owned(), (size, head));
            previous = Some(code);
        }
        if !text.is_empty() && !text.ends_with('\n') {
            return Err(TableError::BadLine {
                line: text.lines().count(),
                what: "the table must end in a newline",
            });
        }
        Ok(Self(logs))
    }

    /// SHA-256 of the table's text: what the checkpoint's extension line carries.
    pub fn commitment(&self) -> Hash {
        Sha256::digest(self.table().as_bytes()).into()
    }

    /// The checkpoint extension line committing to this table.
    pub fn extension_line(&self) -> String {
        format!("{SUBLOGS_EXTENSION}{}", BASE64.encode(self.commitment()))
    }

    /// Whether `extensions` (a checkpoint's extension lines) commit to this table.
    pub fn is_committed_by(&self, extensions: &[String]) -> bool {
        extensions.iter().any(|line| *line == self.extension_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn logs() -> SubLogs {
        let mut logs = SubLogs::default();
        logs.insert("35", 2, leaf_hash(b"b"));
        logs.insert("11", 1, leaf_hash(b"a"));
        logs.insert("99", 0, leaf_hash(b"empty"));
        logs
    }

    #[test]
    fn the_table_lists_non_empty_sub_logs_in_code_order_and_reads_back() {
        let logs = logs();
        let table = logs.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("11 1 "));
        assert!(lines[1].starts_with("35 2 "));
        assert_eq!(SubLogs::parse(&table), Ok(logs.clone()));
        assert_eq!(logs.total(), 3);
        assert_eq!(logs.get("99"), None);
    }

    #[test]
    fn the_extension_line_changes_with_any_size_or_head() {
        let logs = logs();
        let line = logs.extension_line();
        assert!(line.starts_with(SUBLOGS_EXTENSION));
        assert!(logs.is_committed_by(std::slice::from_ref(&line)));
        let mut bigger = logs.clone();
        bigger.insert("35", 3, leaf_hash(b"b"));
        assert!(!bigger.is_committed_by(std::slice::from_ref(&line)));
        let mut other = logs;
        other.insert("11", 1, leaf_hash(b"z"));
        assert!(!other.is_committed_by(&[line]));
    }

    #[test]
    fn malformed_tables_are_refused() {
        let head = BASE64.encode(leaf_hash(b"a"));
        for bad in [
            format!("35 1 {head}\n11 1 {head}\n"),
            format!("11 0 {head}\n"),
            format!("11 01 {head}\n"),
            format!("11 1 {head}"),
            "11 1 notbase64\n".to_owned(),
            format!("x1 1 {head}\n"),
            format!("11 1 {head} extra\n"),
        ] {
            assert!(SubLogs::parse(&bad).is_err(), "{bad:?} was read");
        }
    }
}
