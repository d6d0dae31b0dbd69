//! Exports: every KIM of a region from `community_summary` as CSV or XLSX with Indonesian column
//! names, the event log as JSON lines, and the progression events as pseudonymised JSON lines
//! for analysts (`analytics`, served by `GET /api/v1/exports/analytics` only). The one place for
//! these formats, used by `simpul export …` and by `GET /api/v1/exports/…` alike.
//!
//! Both read in bounded pages (keyset on the community id, or the feed's own cursor), so an
//! export of the whole country never holds every row in memory; an XLSX worksheet is written in
//! constant-memory mode (rows spill to a temporary file until the workbook is assembled).
//!
//! Every CSV Simpul writes for people (this export, `Accept: text/csv` on the community list and
//! the stage dashboard) goes through [`csv_cell`]: free text that a spreadsheet would read as a
//! formula (`=`, `+`, `-`, `@`, tab or carriage return first) is written with a leading `'`
//! ("CSV injection", OWASP); Simpul's own numbers and dates are never changed. XLSX cells are
//! written as typed strings, which a spreadsheet never evaluates, so they keep the text as it is.

pub mod analytics;
pub mod communities;
pub mod events;

use std::borrow::Cow;

use simpul_store::StoreError;

use self::communities::Cell;
use crate::runtime::ProjectionError;

/// First characters that make a spreadsheet read a CSV cell as a formula (OWASP "CSV
/// injection"): a free-text cell starting with one of them is written with a leading `'`.
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One cell as a CSV field, ready to write between commas: [`Cell::Text`] (names, titles, SK
/// numbers, nomor induk, codes — text that may come from users) starting with one of
/// [`FORMULA_TRIGGERS`] gets a leading `'` so that spreadsheets show it as text, not a formula;
/// numbers, dates and booleans (Simpul's own) are never prefixed. Then RFC 4180 quoting: a field
/// containing `,`, `"`, LF or CR is put in double quotes, with its quotes doubled.
///
/// ```
/// use simpul_projections::exports::{communities::Cell, csv_cell};
///
/// assert_eq!(csv_cell(&Cell::Text("=SUM(A1,A2)")), "\"'=SUM(A1,A2)\"");
/// assert_eq!(csv_cell(&Cell::Text("KIM Maju")), "KIM Maju");
/// assert_eq!(csv_cell(&Cell::Integer(-1)), "-1");
/// ```
pub fn csv_cell<'a>(cell: &'a Cell<'_>) -> Cow<'a, str> {
    let text = match cell {
        Cell::Text(text) => spreadsheet_text(text),
        other => other.text(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        text
    }
}

/// Appends one CSV record to `line`: the cells through [`csv_cell`], separated by commas,
/// ended by CRLF.
pub fn push_csv_record<'c, 'a: 'c>(
    line: &mut String,
    cells: impl IntoIterator<Item = &'c Cell<'a>>,
) {
    for (index, cell) in cells.into_iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        line.push_str(&csv_cell(cell));
    }
    line.push_str("\r\n");
}

/// Free text as a spreadsheet should show it: with a leading `'` when it starts with one of
/// [`FORMULA_TRIGGERS`].
fn spreadsheet_text(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_TRIGGERS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the read model failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// Reading the event log or a person's key failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_neutralise_formulas_and_quote() {
        // Each trigger character gets a leading quote, whatever follows it.
        for (text, expected) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "\"'\r=1\""),
            ("=", "'="),
        ] {
            assert_eq!(csv_cell(&Cell::Text(text)), expected, "{text:?}");
        }
        // Ordinary text is untouched, triggers later in the text too.
        for text in [
            "KIM Maju Bersama",
            "12/2025",
            "KIM-3404-0001",
            "34.04.01.2001",
            "a=b",
            " =1",
            "'=1",
            "",
        ] {
            assert!(
                matches!(csv_cell(&Cell::Text(text)), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
        // Quoting: commas, quotes, line breaks.
        assert_eq!(csv_cell(&Cell::Text("Maju, Jaya")), "\"Maju, Jaya\"");
        assert_eq!(
            csv_cell(&Cell::Text("KIM \"Maju\"")),
            "\"KIM \"\"Maju\"\"\""
        );
        assert_eq!(csv_cell(&Cell::Text("satu\ndua")), "\"satu\ndua\"");
        assert_eq!(csv_cell(&Cell::Text("satu\rdua")), "\"satu\rdua\"");
        // Simpul's own values are never prefixed.
        assert_eq!(csv_cell(&Cell::Integer(-1)), "-1");
        assert_eq!(csv_cell(&Cell::Integer(25)), "25");
        assert_eq!(csv_cell(&Cell::Date("2025-05-20")), "2025-05-20");
        assert_eq!(csv_cell(&Cell::Boolean(false)), "false");
        assert_eq!(csv_cell(&Cell::Empty), "");
    }

    #[test]
    fn csv_records_read_back_with_the_text_shown() {
        let mut line = String::new();
        push_csv_record(
            &mut line,
            &[
                Cell::Text("=HYPERLINK(\"http://x\")"),
                Cell::Text("Maju, Jaya"),
                Cell::Integer(-3),
                Cell::Empty,
            ],
        );
        push_csv_record(&mut line, &[Cell::Text("@SUM(A1)")]);
        assert_eq!(
            line,
            "\"'=HYPERLINK(\"\"http://x\"\")\",\"Maju, Jaya\",-3,\r\n'@SUM(A1)\r\n"
        );
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line.as_bytes());
        let records: Vec<Vec<String>> = reader
            .records()
            .map(|record| record.map(|r| r.iter().map(str::to_owned).collect()))
            .collect::<Result<_, _>>()
            .expect("valid CSV");
        assert_eq!(
            records,
            [
                vec!["'=HYPERLINK(\"http://x\")", "Maju, Jaya", "-3", ""],
                vec!["'@SUM(A1)"],
            ]
        );
    }
}
