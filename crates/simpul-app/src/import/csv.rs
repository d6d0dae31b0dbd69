//! Reading a registry file: UTF-8 with or without a BOM, `,` or `;` as the delimiter (detected
//! from the header line, or an Excel `sep=;` line), Indonesian header names matched without
//! regard to case, spaces or punctuation, and each row's values normalised into typed facts.
//!
//! Nothing here knows the store: a value that is malformed is a [`RowError`] naming its line,
//! column and value; whether the facts obey the rules is decided later by the aggregate.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use simpul_domain::text::{CommunityName, RegistrationNumber, SkNumber, Title};
use simpul_domain::{OfficerRole, RegionCode, RegionLevel, Stage};

use super::{ImportError, RowError};

/// The most data rows one import takes (a province's registry has a few hundred).
pub const MAX_ROWS: usize = 20_000;

/// Longest officer name, initiator, origin group or source id accepted.
const MAX_TEXT: usize = 200;

/// A column of the registry file. Header names are matched after [`normalise_header`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// `source_id`: the row's id in the source system (optional column).
    SourceId,
    /// `nama_kim`.
    NamaKim,
    /// `kode_desa`: the desa/kelurahan code.
    KodeDesa,
    /// `tanggal_terbentuk`: formation date.
    TanggalTerbentuk,
    /// `jumlah_anggota`: member count.
    JumlahAnggota,
    /// `ketua`: the chair's name.
    Ketua,
    /// `sekretaris`: the secretary's name.
    Sekretaris,
    /// `bendahara`: the treasurer's name.
    Bendahara,
    /// `nomor_sk`: the village head's SK number.
    NomorSk,
    /// `tanggal_sk`: the SK's date.
    TanggalSk,
    /// `nomor_induk`: the registration number of the kabupaten/kota.
    NomorInduk,
    /// `tahap`: the maturity stage, 1–4.
    Tahap,
    /// `kegiatan_agen_pembangunan`: a development-agent activity (evidence for KIM 2).
    KegiatanAgenPembangunan,
    /// `kanal_media`: a new-media channel, name or address (evidence for KIM 3).
    KanalMedia,
    /// `e_bisnis`: an e-business, name or address (evidence for KIM 4).
    EBisnis,
    /// `inisiator`: who in the community initiated the KIM (R3).
    Inisiator,
    /// `asal_kelompok`: the group the KIM grew from.
    AsalKelompok,
    /// `tanggal_nomor_induk`: when the nomor induk was assigned.
    TanggalNomorInduk,
    /// `tanggal_tahap`: when the stage was assessed.
    TanggalTahap,
}

impl Column {
    /// Every column, in the documented order.
    pub const ALL: [Column; 19] = [
        Column::SourceId,
        Column::NamaKim,
        Column::KodeDesa,
        Column::TanggalTerbentuk,
        Column::JumlahAnggota,
        Column::Ketua,
        Column::Sekretaris,
        Column::Bendahara,
        Column::NomorSk,
        Column::TanggalSk,
        Column::NomorInduk,
        Column::Tahap,
        Column::KegiatanAgenPembangunan,
        Column::KanalMedia,
        Column::EBisnis,
        Column::Inisiator,
        Column::AsalKelompok,
        Column::TanggalNomorInduk,
        Column::TanggalTahap,
    ];

    /// The header name as documented.
    pub fn name(self) -> &'static str {
        match self {
            Column::SourceId => "source_id",
            Column::NamaKim => "nama_kim",
            Column::KodeDesa => "kode_desa",
            Column::TanggalTerbentuk => "tanggal_terbentuk",
            Column::JumlahAnggota => "jumlah_anggota",
            Column::Ketua => "ketua",
            Column::Sekretaris => "sekretaris",
            Column::Bendahara => "bendahara",
            Column::NomorSk => "nomor_sk",
            Column::TanggalSk => "tanggal_sk",
            Column::NomorInduk => "nomor_induk",
            Column::Tahap => "tahap",
            Column::KegiatanAgenPembangunan => "kegiatan_agen_pembangunan",
            Column::KanalMedia => "kanal_media",
            Column::EBisnis => "e_bisnis",
            Column::Inisiator => "inisiator",
            Column::AsalKelompok => "asal_kelompok",
            Column::TanggalNomorInduk => "tanggal_nomor_induk",
            Column::TanggalTahap => "tanggal_tahap",
        }
    }

    /// Whether the header must name the column (its cells may still be empty where documented).
    pub fn required(self) -> bool {
        matches!(
            self,
            Column::NamaKim
                | Column::KodeDesa
                | Column::TanggalTerbentuk
                | Column::JumlahAnggota
                | Column::Ketua
                | Column::Sekretaris
                | Column::Bendahara
                | Column::NomorSk
                | Column::TanggalSk
                | Column::NomorInduk
                | Column::Tahap
        )
    }

    fn from_header(normalised: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == normalised)
    }

    /// The officer column of a core office.
    pub fn of_officer(role: OfficerRole) -> Column {
        match role {
            OfficerRole::Sekretaris => Column::Sekretaris,
            OfficerRole::Bendahara => Column::Bendahara,
            OfficerRole::Ketua | OfficerRole::KepalaBidang => Column::Ketua,
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A header name as matched: trimmed, lower case, runs of spaces, `-`, `/` and `.` as one `_`.
pub fn normalise_header(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        if c.is_whitespace() || matches!(c, '_' | '-' | '/' | '.') {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// One data row as read: its line in the file and its trimmed cells by column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRow {
    /// The line the row starts on (the header is line 1, or 2 after a `sep=` line).
    pub line: u64,
    values: BTreeMap<Column, String>,
}

impl RawRow {
    /// The trimmed cell of `column` (empty when the column is absent or the cell blank).
    pub fn get(&self, column: Column) -> &str {
        self.values.get(&column).map_or("", String::as_str)
    }

    fn non_empty(&self, column: Column) -> Option<&str> {
        Some(self.get(column)).filter(|v| !v.is_empty())
    }
}

/// A file read into rows.
#[derive(Clone, Debug)]
pub struct ParsedFile {
    /// The delimiter found.
    pub delimiter: char,
    /// The columns the header names.
    pub columns: Vec<Column>,
    /// Every non-blank data row.
    pub rows: Vec<RawRow>,
    /// Unknown, repeated or missing header names (nothing else is checked when there are any).
    pub header_errors: Vec<RowError>,
    /// Rows with more non-empty cells than the header has columns.
    pub row_errors: Vec<RowError>,
}

/// Reads the bytes of a registry file into rows.
pub fn read(bytes: &[u8]) -> Result<ParsedFile, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|error| ImportError::NotUtf8 {
        line: line_of(bytes, error.valid_up_to()),
    })?;
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    // Excel may write `sep=;` as the first line to name the delimiter.
    let (text, line_offset, declared) = match text.split_once('\n') {
        Some((first, rest)) if first.trim().to_ascii_lowercase().starts_with("sep=") => {
            let declared = first.trim()[4..].chars().next();
            (rest, 1u64, declared)
        }
        _ => (text, 0u64, None),
    };
    let delimiter = match declared {
        Some(c @ (',' | ';' | '\t')) => c,
        _ => detect_delimiter(text.lines().next().unwrap_or_default()),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter as u8)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(record) => record.map_err(|e| ImportError::Csv(e.to_string()))?,
        None => return Err(ImportError::Empty),
    };
    let header_line = 1 + line_offset;
    let mut header_errors = Vec::new();
    let mut positions: Vec<Option<Column>> = Vec::with_capacity(header.len());
    for raw in header.iter() {
        let normalised = normalise_header(raw);
        if normalised.is_empty() {
            // Excel leaves trailing empty columns; a blank header names nothing.
            positions.push(None);
            continue;
        }
        match Column::from_header(&normalised) {
            Some(column) if positions.contains(&Some(column)) => {
                header_errors.push(RowError::header(
                    header_line,
                    raw,
                    format!("column `{column}` appears twice in the header"),
                ));
                positions.push(None);
            }
            Some(column) => positions.push(Some(column)),
            None => {
                header_errors.push(RowError::header(
                    header_line,
                    raw,
                    format!(
                        "unknown column `{}`; the columns are {}",
                        raw.trim(),
                        Column::ALL.map(Column::name).join(", ")
                    ),
                ));
                positions.push(None);
            }
        }
    }
    let columns: Vec<Column> = positions.iter().flatten().copied().collect();
    for missing in Column::ALL
        .into_iter()
        .filter(|c| c.required() && !columns.contains(c))
    {
        header_errors.push(RowError::header(
            header_line,
            missing.name(),
            format!("the header lacks the required column `{missing}`"),
        ));
    }
    let mut rows = Vec::new();
    let mut row_errors = Vec::new();
    let mut lines = LineCounter::new(text);
    for record in records {
        let record = record.map_err(|e| ImportError::Csv(e.to_string()))?;
        let line = lines.line_at(record.position().map_or(0, |p| p.byte())) + line_offset;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if rows.len() >= MAX_ROWS {
            return Err(ImportError::TooManyRows { max: MAX_ROWS });
        }
        let mut values = BTreeMap::new();
        let mut extra = false;
        for (index, cell) in record.iter().enumerate() {
            match positions.get(index) {
                Some(Some(column)) => {
                    values.insert(*column, cell.trim().to_owned());
                }
                Some(None) => {}
                None => extra |= !cell.trim().is_empty(),
            }
        }
        if extra {
            row_errors.push(RowError::format(
                line,
                "-",
                "",
                format!(
                    "the row has {} cells, more than the header's {}",
                    record.len(),
                    header.len()
                ),
            ));
        }
        rows.push(RawRow { line, values });
    }
    Ok(ParsedFile {
        delimiter,
        columns,
        rows,
        header_errors,
        row_errors,
    })
}

/// Line numbers of byte offsets that only grow (the csv crate's own line count is off by one
/// after `\r\n`, as Excel writes).
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first character at or after `byte` that is not a line break.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut target = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while matches!(self.text.get(target), Some(b'\r' | b'\n')) {
            target += 1;
        }
        if target > self.offset {
            self.line += self.text[self.offset..target]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.offset = target;
        }
        self.line
    }
}

/// `;` when the header line has more semicolons than commas outside quotes, else `,`.
fn detect_delimiter(header: &str) -> char {
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        ';'
    } else {
        ','
    }
}

fn line_of(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
}

/// One row's facts, typed. `raw` keeps the cells for the report.
#[derive(Clone, Debug)]
pub struct RegistryRow {
    /// The cells as read.
    pub raw: RawRow,
    /// `source_id`.
    pub source_id: Option<String>,
    /// `nama_kim`.
    pub name: CommunityName,
    /// `kode_desa`.
    pub village: RegionCode,
    /// The kabupaten/kota of `village`.
    pub regency: RegionCode,
    /// `tanggal_terbentuk`.
    pub formed_on: NaiveDate,
    /// `jumlah_anggota`.
    pub member_count: u32,
    /// `ketua`, `sekretaris`, `bendahara` (blank: not stated).
    pub officers: Vec<(OfficerRole, Option<String>)>,
    /// `nomor_sk` and `tanggal_sk`.
    pub sk: Option<(SkNumber, NaiveDate)>,
    /// `nomor_induk`.
    pub registration: Option<RegistrationNumber>,
    /// `tanggal_nomor_induk`.
    pub registered_on: Option<NaiveDate>,
    /// `tahap`.
    pub stage: Stage,
    /// `tanggal_tahap`.
    pub assessed_on: Option<NaiveDate>,
    /// `kegiatan_agen_pembangunan`.
    pub development_activity: Option<Title>,
    /// `kanal_media`.
    pub media_channel: Option<Title>,
    /// `e_bisnis`.
    pub e_business: Option<Title>,
    /// `inisiator`.
    pub initiator: Option<String>,
    /// `asal_kelompok`.
    pub origin_group: Option<String>,
}

impl RegistryRow {
    /// The line of the row in the file.
    pub fn line(&self) -> u64 {
        self.raw.line
    }
}

/// Parses one row's cells, collecting every malformed cell. Dates after `latest` (the import
/// date) are refused: a registry states what has happened.
pub fn parse_row(raw: RawRow, latest: NaiveDate) -> Result<RegistryRow, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut cells = Cells {
        raw: &raw,
        errors: &mut errors,
        latest,
    };
    let source_id = cells.optional_text(Column::SourceId);
    let name = cells.required(Column::NamaKim, |v| {
        CommunityName::parse(v).map_err(|e| e.to_string())
    });
    let village = cells.village();
    let formed_on = cells.required_date(Column::TanggalTerbentuk);
    let member_count = cells.required(Column::JumlahAnggota, |v| {
        v.parse::<u32>()
            .map_err(|_| "must be a whole number of members, e.g. 12".to_owned())
    });
    let officers = OfficerRole::CORE
        .into_iter()
        .map(|role| (role, cells.optional_text(Column::of_officer(role))))
        .collect();
    let sk_number = cells.optional(Column::NomorSk, |v| {
        SkNumber::parse(v).map_err(|e| e.to_string())
    });
    let sk_date = cells.optional_date(Column::TanggalSk);
    let sk = match (sk_number, sk_date) {
        (Some(number), Some(date)) => Some((number, date)),
        (None, None) => None,
        (Some(_), None) if raw.get(Column::TanggalSk).is_empty() => {
            cells.error(Column::TanggalSk, "an SK number needs the SK's date");
            None
        }
        (None, Some(_)) if raw.get(Column::NomorSk).is_empty() => {
            cells.error(Column::NomorSk, "an SK date needs the SK's number");
            None
        }
        _ => None,
    };
    let registration = cells.optional(Column::NomorInduk, |v| {
        RegistrationNumber::parse(v).map_err(|e| e.to_string())
    });
    let registered_on = cells.optional_date(Column::TanggalNomorInduk);
    let stage = cells.required(Column::Tahap, parse_stage);
    let assessed_on = cells.optional_date(Column::TanggalTahap);
    let title = |v: &str| Title::parse(v).map_err(|e| e.to_string());
    let development_activity = cells.optional(Column::KegiatanAgenPembangunan, title);
    let media_channel = cells.optional(Column::KanalMedia, title);
    let e_business = cells.optional(Column::EBisnis, title);
    let initiator = cells.optional_text(Column::Inisiator);
    let origin_group = cells.optional_text(Column::AsalKelompok);
    match (name, village, formed_on, member_count, stage) {
        (
            Some(name),
            Some((village, regency)),
            Some(formed_on),
            Some(member_count),
            Some(stage),
        ) if errors.is_empty() => Ok(RegistryRow {
            raw,
            source_id,
            name,
            village,
            regency,
            formed_on,
            member_count,
            officers,
            sk,
            registration,
            registered_on,
            stage,
            assessed_on,
            development_activity,
            media_channel,
            e_business,
            initiator,
            origin_group,
        }),
        _ => Err(errors),
    }
}

/// `1`–`4`, `KIM 1`…`KIM 4`, `kim2`, `Tahap 3`.
pub fn parse_stage(value: &str) -> Result<Stage, String> {
    let lowered = value.to_lowercase();
    let digits: String = lowered
        .trim_start_matches("tahap")
        .trim()
        .trim_start_matches("kim")
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_'))
        .collect();
    match digits.as_str() {
        "1" => Ok(Stage::Kim1),
        "2" => Ok(Stage::Kim2),
        "3" => Ok(Stage::Kim3),
        "4" => Ok(Stage::Kim4),
        _ => Err("must be a stage from 1 to 4 (`2` or `KIM 2`)".to_owned()),
    }
}

/// `YYYY-MM-DD`, `DD/MM/YYYY` or `DD-MM-YYYY`.
pub fn parse_date(value: &str) -> Result<NaiveDate, String> {
    ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"]
        .into_iter()
        .find_map(|format| NaiveDate::parse_from_str(value, format).ok())
        .filter(|date| {
            use chrono::Datelike as _;
            (1900..=9999).contains(&date.year())
        })
        .ok_or_else(|| "must be a date: YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY".to_owned())
}

/// A desa/kelurahan code, dotted (`34.04.01.2001`) or as ten digits (`3404012001`).
pub fn parse_village(value: &str) -> Result<(RegionCode, RegionCode), String> {
    let dotted = if value.len() == 10 && value.bytes().all(|b| b.is_ascii_digit()) {
        format!(
            "{}.{}.{}.{}",
            &value[..2],
            &value[2..4],
            &value[4..6],
            &value[6..]
        )
    } else {
        value.to_owned()
    };
    let code = RegionCode::parse(&dotted).map_err(|e| e.to_string())?;
    if code.level() != RegionLevel::Village {
        return Err(format!(
            "{code} is not a desa/kelurahan code (PP.RR.DD.VVVV); a KIM is anchored in a desa \
             or kelurahan"
        ));
    }
    let regency = code
        .ancestor_at(RegionLevel::Regency)
        .ok_or_else(|| format!("{code} has no kabupaten/kota"))?;
    Ok((code, regency))
}

/// Whitespace collapsed to single spaces.
pub fn collapse(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Collects the errors of one row while its cells are read.
struct Cells<'a> {
    raw: &'a RawRow,
    errors: &'a mut Vec<RowError>,
    latest: NaiveDate,
}

impl Cells<'_> {
    fn error(&mut self, column: Column, message: impl Into<String>) {
        self.errors.push(RowError::format(
            self.raw.line,
            column.name(),
            self.raw.get(column),
            message,
        ));
    }

    fn required<T>(
        &mut self,
        column: Column,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let Some(value) = self.raw.non_empty(column) else {
            self.error(column, format!("`{column}` is required"));
            return None;
        };
        match parse(value) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.error(column, message);
                None
            }
        }
    }

    fn optional<T>(
        &mut self,
        column: Column,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.raw.non_empty(column)?;
        match parse(value) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.error(column, message);
                None
            }
        }
    }

    fn optional_text(&mut self, column: Column) -> Option<String> {
        self.optional(column, |value| {
            let text = collapse(value);
            if text.chars().count() > MAX_TEXT {
                Err(format!("must be at most {MAX_TEXT} characters"))
            } else if text.chars().any(char::is_control) {
                Err("must not contain control characters".to_owned())
            } else {
                Ok(text)
            }
        })
    }

    fn required_date(&mut self, column: Column) -> Option<NaiveDate> {
        let latest = self.latest;
        self.required(column, |v| Cells::checked_date_at(v, latest))
    }

    fn optional_date(&mut self, column: Column) -> Option<NaiveDate> {
        let value = self.raw.non_empty(column)?;
        match Cells::checked_date_at(value, self.latest) {
            Ok(date) => Some(date),
            Err(message) => {
                self.error(column, message);
                None
            }
        }
    }

    fn checked_date_at(value: &str, latest: NaiveDate) -> Result<NaiveDate, String> {
        let date = parse_date(value)?;
        if date > latest {
            return Err(format!(
                "{date} is after the import date {latest}; a registry records what has happened"
            ));
        }
        Ok(date)
    }

    /// `kode_desa`: a malformed code or one that is not a desa/kelurahan breaks R2.
    fn village(&mut self) -> Option<(RegionCode, RegionCode)> {
        let column = Column::KodeDesa;
        let Some(value) = self.raw.non_empty(column) else {
            self.error(column, "`kode_desa` is required");
            return None;
        };
        match parse_village(value) {
            Ok(codes) => Some(codes),
            Err(message) => {
                self.errors.push(RowError::rule(
                    "R2",
                    self.raw.line,
                    column.name(),
                    value,
                    message,
                ));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    const HEADER: &str = "nama_kim,kode_desa,tanggal_terbentuk,jumlah_anggota,ketua,sekretaris,\
                          bendahara,nomor_sk,tanggal_sk,nomor_induk,tahap";

    #[test]
    fn headers_match_without_case_spaces_or_punctuation() {
        assert_eq!(normalise_header(" Nama KIM "), "nama_kim");
        assert_eq!(normalise_header("Tanggal-SK"), "tanggal_sk");
        assert_eq!(normalise_header("E-Bisnis"), "e_bisnis");
        assert_eq!(normalise_header("Nomor  Induk"), "nomor_induk");
        assert_eq!(normalise_header("source_id"), "source_id");
    }

    #[test]
    fn a_bom_and_semicolons_as_excel_writes_them_are_read() {
        let text = "\u{feff}Nama KIM;Kode Desa;Tanggal Terbentuk;Jumlah Anggota;Ketua;Sekretaris;\
                    Bendahara;Nomor SK;Tanggal SK;Nomor Induk;Tahap\r\n\
                    KIM Maju;34.04.01.2001;10/01/2025;12;Siti;Budi;Ani;12/2025;01-03-2025;\
                    KIM-3404-001;KIM 1\r\n;;;;;;;;;;\r\n";
        let parsed = read(text.as_bytes()).unwrap();
        assert_eq!(parsed.delimiter, ';');
        assert!(
            parsed.header_errors.is_empty(),
            "{:?}",
            parsed.header_errors
        );
        assert_eq!(parsed.rows.len(), 1, "the blank row is skipped");
        let row = parse_row(parsed.rows[0].clone(), date("2025-12-31")).unwrap();
        assert_eq!(row.line(), 2);
        assert_eq!(row.village.as_str(), "34.04.01.2001");
        assert_eq!(row.regency.as_str(), "34.04");
        assert_eq!(row.formed_on, date("2025-01-10"));
        let (number, issued_on) = row.sk.unwrap();
        assert_eq!(number.as_str(), "12/2025");
        assert_eq!(issued_on, date("2025-03-01"));
        assert_eq!(row.stage, Stage::Kim1);
        assert_eq!(
            row.officers[0],
            (OfficerRole::Ketua, Some("Siti".to_owned()))
        );
    }

    #[test]
    fn commas_are_the_default_and_quoted_semicolons_do_not_count() {
        let text = format!("{HEADER}\n\"KIM A; B\",3404012001,2025-01-10,12,,,,,,,2\n");
        let parsed = read(text.as_bytes()).unwrap();
        assert_eq!(parsed.delimiter, ',');
        let row = parse_row(parsed.rows[0].clone(), date("2025-12-31")).unwrap();
        assert_eq!(row.name.as_str(), "KIM A; B");
        assert_eq!(
            row.village.as_str(),
            "34.04.01.2001",
            "ten digits are dotted"
        );
        assert_eq!(row.stage, Stage::Kim2);
        assert!(row.officers.iter().all(|(_, name)| name.is_none()));
    }

    #[test]
    fn lines_count_from_the_header_with_crlf_blank_rows_and_quoted_breaks() {
        let text = format!(
            "{HEADER}\r\nKIM A,34.04.01.2001,2025-01-10,12,,,,,,,1\r\n,,,,,,,,,,\r\n\
             \"KIM\r\nB\",34.04.01.2001,2025-01-10,12,,,,,,,1\r\nKIM C,34.04.01.2001,2025-01-10,12,,,,,,,1\r\n"
        );
        let parsed = read(text.as_bytes()).unwrap();
        let lines: Vec<u64> = parsed.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 6]);
    }

    #[test]
    fn an_excel_sep_line_names_the_delimiter_and_shifts_lines() {
        let text = format!(
            "sep=;\n{}\nKIM A;34.04.01.2001;2025-01-10;12;;;;;;;1\n",
            HEADER.replace(',', ";")
        );
        let parsed = read(text.as_bytes()).unwrap();
        assert_eq!(parsed.delimiter, ';');
        assert_eq!(parsed.rows[0].line, 3);
    }

    #[test]
    fn unknown_repeated_and_missing_columns_are_named() {
        let text = "nama_kim,kode_desa,kode_desa,warna,tahap\nA,34.04.01.2001,x,y,1\n";
        let parsed = read(text.as_bytes()).unwrap();
        let columns: Vec<&str> = parsed
            .header_errors
            .iter()
            .map(|e| e.column.as_str())
            .collect();
        assert!(columns.contains(&"kode_desa"), "{columns:?}");
        assert!(columns.contains(&"warna"), "{columns:?}");
        for missing in [
            "tanggal_terbentuk",
            "jumlah_anggota",
            "ketua",
            "nomor_induk",
        ] {
            assert!(columns.contains(&missing), "{missing} in {columns:?}");
        }
        assert!(parsed
            .header_errors
            .iter()
            .all(|e| e.rule == "header" && e.line == 1));
    }

    #[test]
    fn dates_stages_and_codes_in_their_accepted_forms() {
        for (text, expected) in [
            ("2025-03-01", "2025-03-01"),
            ("01/03/2025", "2025-03-01"),
            ("1/3/2025", "2025-03-01"),
            ("01-03-2025", "2025-03-01"),
        ] {
            assert_eq!(parse_date(text).unwrap(), date(expected), "{text}");
        }
        for bad in ["2025/03/01", "31/02/2025", "03-2025", "kemarin", "01/03/25"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        for (text, stage) in [
            ("1", Stage::Kim1),
            ("KIM 2", Stage::Kim2),
            ("kim3", Stage::Kim3),
            ("Kim-4", Stage::Kim4),
            ("Tahap 2", Stage::Kim2),
        ] {
            assert_eq!(parse_stage(text).unwrap(), stage, "{text}");
        }
        for bad in ["0", "5", "KIM", "dua"] {
            assert!(parse_stage(bad).is_err(), "{bad}");
        }
        assert!(parse_village("34.04.01").is_err());
        assert!(parse_village("34.04.01.20").is_err());
    }

    #[test]
    fn every_bad_cell_of_a_row_is_reported_with_line_column_and_value() {
        let text = format!("{HEADER}\nKIM A,34.04.01,2025-13-01,dua belas,,,,12/2025,,,7\n");
        let parsed = read(text.as_bytes()).unwrap();
        let errors = parse_row(parsed.rows[0].clone(), date("2025-12-31")).unwrap_err();
        let found: Vec<(u64, &str, &str, &str)> = errors
            .iter()
            .map(|e| (e.line, e.column.as_str(), e.value.as_str(), e.rule.as_str()))
            .collect();
        assert!(
            found.contains(&(2, "kode_desa", "34.04.01", "R2")),
            "{found:?}"
        );
        assert!(found.contains(&(2, "tanggal_terbentuk", "2025-13-01", "format")));
        assert!(found.contains(&(2, "jumlah_anggota", "dua belas", "format")));
        assert!(found.contains(&(2, "tanggal_sk", "", "format")));
        assert!(found.contains(&(2, "tahap", "7", "format")));
    }

    #[test]
    fn a_date_after_the_import_date_is_refused() {
        let text = format!("{HEADER}\nKIM A,34.04.01.2001,2026-01-10,12,,,,,,,1\n");
        let parsed = read(text.as_bytes()).unwrap();
        let errors = parse_row(parsed.rows[0].clone(), date("2025-12-31")).unwrap_err();
        assert_eq!(errors[0].column, "tanggal_terbentuk");
    }

    #[test]
    fn unreadable_files_are_errors_not_reports() {
        assert!(matches!(read(b""), Err(ImportError::Empty)));
        assert!(matches!(read(b"\xEF\xBB\xBF \n"), Err(ImportError::Empty)));
        assert!(matches!(
            read(b"nama_kim\nKIM \xE9t\xE9\n"),
            Err(ImportError::NotUtf8 { line: 2 })
        ));
    }
}
