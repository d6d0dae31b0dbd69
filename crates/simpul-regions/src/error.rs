//! Why region data could not be loaded.

/// A defect in the region CSVs, located by file name and 1-based line (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegionsError {
    /// A row (or the header) does not have the expected shape: bad CSV, wrong columns, a code of the
    /// wrong level, a parent column that is not the code's prefix, an empty name or an unknown kind.
    #[error("{file} line {line}: {reason}")]
    Malformed {
        /// The CSV file, e.g. `villages.csv`.
        file: &'static str,
        /// The 1-based line of the offending row.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A row's parent code is not listed one level up.
    #[error(
        "{file} line {line}: `{code}` belongs to `{parent}`, which {parent_file} does not list"
    )]
    UnknownParent {
        /// The CSV file of the orphan row.
        file: &'static str,
        /// The 1-based line of the orphan row.
        line: u64,
        /// The orphan's code.
        code: String,
        /// The missing parent code.
        parent: String,
        /// The file that should have listed the parent.
        parent_file: &'static str,
    },
    /// The same code is listed twice.
    #[error("{file} line {line}: code `{code}` is already listed on line {first_line}")]
    DuplicateCode {
        /// The CSV file holding both rows.
        file: &'static str,
        /// The 1-based line of the repeated row.
        line: u64,
        /// The repeated code.
        code: String,
        /// The 1-based line where the code first appears.
        first_line: u64,
    },
}
