//! Parsing the four CSV files into [`Regions`].

use csv::StringRecord;
use simpul_domain::region::{RegionCode, RegionLevel};

use crate::error::RegionsError;
use crate::kind::RegionKind;
use crate::regions::{Entry, Regions, Span};

/// The layout of one level's CSV file.
struct Layout {
    level: RegionLevel,
    file: &'static str,
    header: &'static [&'static str],
    /// The column naming the parent code, absent for provinces.
    parent_column: Option<usize>,
    name_column: usize,
    kind: KindSource,
}

/// Where a level's kind comes from.
enum KindSource {
    /// The column naming the kind (regencies and villages).
    Column(usize),
    /// The single kind of a level without a kind column (provinces and districts).
    Fixed(RegionKind),
}

/// The layouts of `provinces.csv`, `regencies.csv`, `districts.csv` and `villages.csv`, in the
/// order of [`Regions::levels`].
const LAYOUTS: [Layout; 4] = [
    Layout {
        level: RegionLevel::Province,
        file: "provinces.csv",
        header: &["code", "name"],
        parent_column: None,
        name_column: 1,
        kind: KindSource::Fixed(RegionKind::Provinsi),
    },
    Layout {
        level: RegionLevel::Regency,
        file: "regencies.csv",
        header: &["code", "province_code", "name", "kind"],
        parent_column: Some(1),
        name_column: 2,
        kind: KindSource::Column(3),
    },
    Layout {
        level: RegionLevel::District,
        file: "districts.csv",
        header: &["code", "regency_code", "name"],
        parent_column: Some(1),
        name_column: 2,
        kind: KindSource::Fixed(RegionKind::Kecamatan),
    },
    Layout {
        level: RegionLevel::Village,
        file: "villages.csv",
        header: &["code", "district_code", "name", "kind"],
        parent_column: Some(1),
        name_column: 2,
        kind: KindSource::Column(3),
    },
];

/// An entry read from a file, with the line it came from.
struct Row {
    entry: Entry,
    line: u64,
}

impl Regions {
    /// Parses the four CSV files of an edition (see `data/README.md` for their columns).
    ///
    /// Every file needs its exact header row. Rows may come in any order; each level is sorted by
    /// code. Every code must have the shape of its level, its parent column must be its prefix and
    /// be listed one level up, and no code may repeat. Errors name the file by its canonical name
    /// (`villages.csv`, …) and the 1-based line, the header being line 1.
    pub fn parse(
        provinces: &str,
        regencies: &str,
        districts: &str,
        villages: &str,
    ) -> Result<Self, RegionsError> {
        let inputs = [provinces, regencies, districts, villages];
        let mut text = String::with_capacity(inputs.iter().map(|input| input.len()).sum());
        let mut rows: [Vec<Row>; 4] = Default::default();
        for ((layout, input), rows) in LAYOUTS.iter().zip(inputs).zip(&mut rows) {
            *rows = read(layout, input, &mut text)?;
        }

        // The reservation above also covered parent codes, kinds and separators.
        text.shrink_to_fit();

        let mut levels: [Vec<Entry>; 4] = Default::default();
        let mut lines: [Vec<u64>; 4] = Default::default();
        for (at, rows) in rows.into_iter().enumerate() {
            let (entries, row_lines) = sort_unique(&LAYOUTS[at], rows, &text)?;
            levels[at] = entries;
            lines[at] = row_lines;
        }

        for at in 1..levels.len() {
            let (upper, lower) = levels.split_at_mut(at);
            link(&mut upper[at - 1], &lower[0], &lines[at], at, &text)?;
        }

        Ok(Self { text, levels })
    }
}

/// Reads one file into unsorted rows, appending codes and names to `text`.
fn read(layout: &Layout, input: &str, text: &mut String) -> Result<Vec<Row>, RegionsError> {
    let file = layout.file;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input.as_bytes());
    let header = reader.headers().map_err(|error| csv_error(file, &error))?;
    if !header.iter().eq(layout.header.iter().copied()) {
        return Err(RegionsError::Malformed {
            file,
            line: 1,
            reason: format!(
                "expected the header `{}`, found `{}`",
                layout.header.join(","),
                header.iter().collect::<Vec<_>>().join(",")
            ),
        });
    }

    let mut rows = Vec::new();
    let mut record = StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|error| csv_error(file, &error))?
    {
        let line = record.position().map_or(0, csv::Position::line);
        let entry = read_row(layout, &record, text).map_err(|reason| RegionsError::Malformed {
            file,
            line,
            reason,
        })?;
        rows.push(Row { entry, line });
    }
    Ok(rows)
}

/// Checks one record and appends its code and name to `text`; the error is the reason.
fn read_row(layout: &Layout, record: &StringRecord, text: &mut String) -> Result<Entry, String> {
    let level = layout.level;
    let field = |column: usize| record.get(column).unwrap_or_default();

    let code = RegionCode::parse(field(0)).map_err(|error| error.to_string())?;
    if code.level() != level {
        return Err(format!(
            "`{code}` is a {} code, not a {} code",
            level_name(code.level()),
            level_name(level)
        ));
    }
    if let Some(column) = layout.parent_column {
        let parent = field(column);
        if code.parent().as_ref().map(RegionCode::as_str) != Some(parent) {
            return Err(format!(
                "the parent column `{parent}` is not the prefix of `{code}`"
            ));
        }
    }

    let name = field(layout.name_column);
    if name.trim().is_empty() {
        return Err(format!("`{code}` has an empty name"));
    }

    let kind = match layout.kind {
        KindSource::Column(column) => field(column)
            .parse::<RegionKind>()
            .map_err(|error| error.to_string())?,
        KindSource::Fixed(kind) => kind,
    };
    if kind.level() != level {
        return Err(format!(
            "`{kind}` is not a kind of {} (`{code}`)",
            level_name(level)
        ));
    }

    Ok(Entry {
        code: append(text, code.as_str())?,
        name: append(text, name)?,
        kind,
        children: Span::default(),
    })
}

/// Appends `s` to `text`, returning where it landed.
fn append(text: &mut String, s: &str) -> Result<Span, String> {
    let too_large = || "the region data exceeds 4 GiB".to_owned();
    let start = u32::try_from(text.len()).map_err(|_| too_large())?;
    let end = u32::try_from(text.len() + s.len()).map_err(|_| too_large())?;
    text.push_str(s);
    Ok(Span { start, end })
}

/// Sorts one level by code and rejects repeated codes; returns the entries and their lines.
fn sort_unique(
    layout: &Layout,
    mut rows: Vec<Row>,
    text: &str,
) -> Result<(Vec<Entry>, Vec<u64>), RegionsError> {
    let code = |entry: &Entry| text.get(entry.code.range()).unwrap_or_default();
    // Stable, so of two equal codes the earlier line comes first. The files are already sorted,
    // which the merge sort finishes in one pass.
    rows.sort_by(|a, b| code(&a.entry).cmp(code(&b.entry)));
    if let Some(pair) = rows
        .windows(2)
        .find(|pair| code(&pair[0].entry) == code(&pair[1].entry))
    {
        return Err(RegionsError::DuplicateCode {
            file: layout.file,
            line: pair[1].line,
            code: code(&pair[1].entry).to_owned(),
            first_line: pair[0].line,
        });
    }
    Ok(rows.into_iter().map(|row| (row.entry, row.line)).unzip())
}

/// Finds the parent of each entry of level `child_level` and records on every parent the index
/// range of its children. Both levels are sorted by code, so the children of a parent, which share
/// its code as prefix, are contiguous.
fn link(
    parents: &mut [Entry],
    children: &[Entry],
    child_lines: &[u64],
    child_level: usize,
    text: &str,
) -> Result<(), RegionsError> {
    let code = |span: Span| text.get(span.range()).unwrap_or_default();
    for (index, (child, &line)) in children.iter().zip(child_lines).enumerate() {
        let child_code = code(child.code);
        let parent_code = child_code
            .rfind('.')
            .and_then(|dot| child_code.get(..dot))
            .unwrap_or_default();
        let Ok(parent) = parents.binary_search_by(|parent| code(parent.code).cmp(parent_code))
        else {
            return Err(RegionsError::UnknownParent {
                file: LAYOUTS[child_level].file,
                line,
                code: child_code.to_owned(),
                parent: parent_code.to_owned(),
                parent_file: LAYOUTS[child_level - 1].file,
            });
        };
        // Fits: there are fewer entries than bytes of text, which `append` keeps within `u32`.
        let index = index as u32;
        let span = &mut parents[parent].children;
        if span.start == span.end {
            *span = Span {
                start: index,
                end: index + 1,
            };
        } else {
            span.end = index + 1;
        }
    }
    Ok(())
}

/// The lowercase English name of a level, for messages.
fn level_name(level: RegionLevel) -> &'static str {
    match level {
        RegionLevel::Province => "province",
        RegionLevel::Regency => "regency",
        RegionLevel::District => "district",
        RegionLevel::Village => "village",
    }
}

/// A CSV syntax error, located by the reader.
fn csv_error(file: &'static str, error: &csv::Error) -> RegionsError {
    RegionsError::Malformed {
        file,
        line: error.position().map_or(0, csv::Position::line),
        reason: error.to_string(),
    }
}
