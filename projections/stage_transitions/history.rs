//! A KIM's stage changes and bimtek dates kept in its own `stage_transition_members` row, so that
//! the bimtek effect reads every KIM's spells in one indexed scan of one row per KIM instead of
//! joining three tables (issue 15's budget).
//!
//! Two text columns, each a space-separated list in log order:
//! - `stage_changes`: `<assessed_on>:<from>:<to>` per stage change, the stages by number —
//!   `2024-03-01:1:2 2025-01-10:2:3`;
//! - `bimtek_dates`: the `held_on` of every bimtek attended — `2024-02-11 2024-09-30`.
//!
//! Dates as ISO 8601 (`YYYY-MM-DD`), as the events carry them.

use chrono::{Datelike, NaiveDate};
use simpul_domain::Stage;

use super::progress::StageChange;
use crate::runtime::ProjectionError;

/// Appends a stage change to `text`.
pub(crate) fn push_change(text: &mut String, on: NaiveDate, from: Stage, to: Stage) {
    separate(text);
    push_date_text(text, on);
    text.push(':');
    text.push(char::from(b'0' + from.number()));
    text.push(':');
    text.push(char::from(b'0' + to.number()));
}

/// Appends a bimtek date to `text`.
pub(crate) fn push_date(text: &mut String, on: NaiveDate) {
    separate(text);
    push_date_text(text, on);
}

fn separate(text: &mut String) {
    if !text.is_empty() {
        text.push(' ');
    }
}

fn push_date_text(text: &mut String, on: NaiveDate) {
    use std::fmt::Write as _;
    // Writing to a `String` cannot fail.
    let _ = write!(text, "{on}");
}

/// The stage changes of a `stage_changes` column, in log order.
pub(crate) fn changes(text: &str) -> Result<Vec<StageChange>, ProjectionError> {
    text.split_ascii_whitespace()
        .map(|token| {
            let bad = || ProjectionError::Storage(format!("stage_changes `{token}`"));
            let mut parts = token.rsplitn(3, ':');
            let to = parts.next().and_then(stage_number).ok_or_else(bad)?;
            let from = parts.next().and_then(stage_number).ok_or_else(bad)?;
            let on = parts.next().and_then(date).ok_or_else(bad)?;
            Ok(StageChange { on, from, to })
        })
        .collect()
}

/// The dates of a `bimtek_dates` column, in log order.
pub(crate) fn dates(text: &str) -> Result<Vec<NaiveDate>, ProjectionError> {
    text.split_ascii_whitespace()
        .map(|token| {
            date(token).ok_or_else(|| ProjectionError::Storage(format!("bimtek_dates `{token}`")))
        })
        .collect()
}

fn stage_number(text: &str) -> Option<Stage> {
    match text {
        "1" => Some(Stage::Kim1),
        "2" => Some(Stage::Kim2),
        "3" => Some(Stage::Kim3),
        "4" => Some(Stage::Kim4),
        _ => None,
    }
}

/// `YYYY-MM-DD` read digit by digit (the bimtek effect reads ~200,000 of them nationally);
/// any other form (a year past 9999) through chrono's parser.
fn date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let year = i32::try_from(digits(0..4)?).ok()?;
        return NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?);
    }
    text.parse().ok().filter(|d: &NaiveDate| d.year() > 9999)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn changes_and_dates_read_back_as_written_in_log_order() {
        let mut changes = String::new();
        push_change(&mut changes, day("2024-03-01"), Stage::Kim1, Stage::Kim2);
        push_change(&mut changes, day("2023-12-31"), Stage::Kim2, Stage::Kim1);
        push_change(&mut changes, day("+10000-01-01"), Stage::Kim3, Stage::Kim4);
        assert_eq!(
            changes, "2024-03-01:1:2 2023-12-31:2:1 +10000-01-01:3:4",
            "the documented form"
        );
        let read = super::changes(&changes).expect("well formed");
        assert_eq!(
            read,
            vec![
                StageChange {
                    on: day("2024-03-01"),
                    from: Stage::Kim1,
                    to: Stage::Kim2
                },
                StageChange {
                    on: day("2023-12-31"),
                    from: Stage::Kim2,
                    to: Stage::Kim1
                },
                StageChange {
                    on: day("+10000-01-01"),
                    from: Stage::Kim3,
                    to: Stage::Kim4
                },
            ]
        );

        let mut bimtek = String::new();
        for on in ["2024-02-11", "2024-09-30", "2024-02-11"] {
            push_date(&mut bimtek, day(on));
        }
        assert_eq!(bimtek, "2024-02-11 2024-09-30 2024-02-11");
        assert_eq!(
            dates(&bimtek).expect("well formed"),
            vec![day("2024-02-11"), day("2024-09-30"), day("2024-02-11")]
        );
        assert_eq!(dates("").expect("empty"), Vec::<NaiveDate>::new());
        assert_eq!(super::changes("").expect("empty"), Vec::new());
    }

    #[test]
    fn a_damaged_column_is_an_error_naming_the_token() {
        for bad in ["2024-02-30:1:2", "2024-03-01:1:5", "2024-03-01:2", "x"] {
            let error = super::changes(bad).expect_err(bad).to_string();
            assert!(error.contains(bad), "{error}");
        }
        for bad in ["2024-13-01", "2024-1-011", "20240101", "2024-02-3x"] {
            let error = dates(bad).expect_err(bad).to_string();
            assert!(error.contains(bad), "{error}");
        }
    }
}
