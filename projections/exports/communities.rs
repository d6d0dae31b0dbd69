//! The communities export: every row of `community_summary` in a region (any level, or the whole
//! country), ordered by community id, as CSV or XLSX with Indonesian column names.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use chrono::{Datelike as _, NaiveDate};
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet};
use simpul_store::Database;

use super::{push_csv_record, ExportError};
use crate::community_summary::query::{self, ListFilter, SummaryRow};

/// Rows read from the read model per round trip.
pub const PAGE_SIZE: u32 = 1000;
/// Data rows one worksheet can hold below its header (Excel: 1,048,576 rows in all).
pub const XLSX_MAX_ROWS: u32 = 1_048_575;
/// The CSV media type.
pub const CSV_MEDIA_TYPE: &str = "text/csv";
/// The XLSX media type.
pub const XLSX_MEDIA_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The two file formats of the communities export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 4180 CSV, UTF-8, CRLF, a header row.
    Csv,
    /// An Excel workbook with one sheet `KIM`.
    Xlsx,
}

impl ExportFormat {
    /// The `Content-Type` of a file in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => XLSX_MEDIA_TYPE,
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// A suggested file name: `kim-34.04.csv`, or `kim-indonesia.xlsx` for the whole country.
pub fn filename(region: Option<&str>, format: ExportFormat) -> String {
    format!(
        "kim-{}.{}",
        region.unwrap_or("indonesia"),
        format.extension()
    )
}

/// One column: its Indonesian header and its width in an XLSX sheet (characters).
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The header, e.g. `nama_kim`.
    pub header: &'static str,
    /// Width in XLSX.
    pub width: f64,
}

const fn column(header: &'static str, width: f64) -> Column {
    Column { header, width }
}

/// The columns, in order.
pub const COLUMNS: [Column; 27] = [
    column("id", 38.0),
    column("nama_kim", 34.0),
    column("kode_desa", 15.0),
    column("desa", 24.0),
    column("kode_kecamatan", 16.0),
    column("kecamatan", 22.0),
    column("kode_kabupaten_kota", 21.0),
    column("kabupaten_kota", 26.0),
    column("kode_provinsi", 15.0),
    column("provinsi", 28.0),
    column("tahap", 8.0),
    column("status", 11.0),
    column("legal", 8.0),
    column("nomor_sk", 18.0),
    column("tanggal_sk", 12.0),
    column("nomor_induk", 18.0),
    column("jumlah_anggota", 16.0),
    column("pengurus_aktif", 16.0),
    column("jumlah_bimtek", 15.0),
    column("bimtek_terakhir", 16.0),
    column("kanal_media", 13.0),
    column("e_bisnis", 10.0),
    column("tanggal_terbentuk", 19.0),
    column("versi", 8.0),
    column("tahap_sejak", 13.0),
    column("kegiatan_terakhir", 18.0),
    column("pengurus_inti_kosong", 21.0),
];

/// One cell's value, typed for XLSX; CSV writes its text.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Text (codes stay text: `34.04` is not a number).
    Text(&'a str),
    /// A whole number.
    Integer(i64),
    /// A date, `YYYY-MM-DD`.
    Date(&'a str),
    /// `true` / `false`.
    Boolean(bool),
    /// Nothing (an SK not issued yet, no bimtek yet).
    Empty,
}

impl Cell<'_> {
    /// The cell's value as text: text as it is, dates ISO 8601, booleans `true`/`false`, empty
    /// as empty. CSV writes it through [`csv_cell`](super::csv_cell), which keeps free text from
    /// being read as a formula.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(text) | Cell::Date(text) => Cow::Borrowed(text),
            Cell::Integer(number) => Cow::Owned(number.to_string()),
            Cell::Boolean(value) => Cow::Borrowed(if *value { "true" } else { "false" }),
            Cell::Empty => Cow::Borrowed(""),
        }
    }
}

/// The cells of one row, in the order of [`COLUMNS`].
pub fn cells(row: &SummaryRow) -> [Cell<'_>; 27] {
    fn date(value: &Option<String>) -> Cell<'_> {
        match value.as_deref() {
            Some(text) if !text.is_empty() => Cell::Date(text),
            _ => Cell::Empty,
        }
    }
    fn text(value: &Option<String>) -> Cell<'_> {
        match value.as_deref() {
            Some(text) if !text.is_empty() => Cell::Text(text),
            _ => Cell::Empty,
        }
    }
    [
        Cell::Text(&row.community_id),
        Cell::Text(&row.name),
        Cell::Text(&row.desa_code),
        Cell::Text(&row.desa_name),
        Cell::Text(&row.kecamatan_code),
        Cell::Text(&row.kecamatan_name),
        Cell::Text(&row.regency_code),
        Cell::Text(&row.regency_name),
        Cell::Text(&row.province_code),
        Cell::Text(&row.province_name),
        Cell::Text(&row.stage),
        Cell::Text(&row.status),
        Cell::Boolean(row.legal),
        text(&row.sk_number),
        date(&row.sk_date),
        text(&row.nomor_induk),
        Cell::Integer(row.member_count),
        Cell::Integer(row.active_officers),
        Cell::Integer(row.bimtek_count),
        date(&row.last_bimtek_on),
        Cell::Integer(row.media_channels),
        Cell::Integer(row.e_businesses),
        Cell::Date(&row.formed_on),
        Cell::Integer(row.version),
        Cell::Date(&row.stage_since),
        date(&row.last_activity_on),
        Cell::Integer(row.vacant_posts),
    ]
}

/// Pages through the communities of a region (or one community, or all), oldest id first.
pub struct CommunityPages {
    db: Database,
    filter: ListFilter,
    done: bool,
}

impl CommunityPages {
    /// Every community whose desa is within `region` (`None`: the whole country), or only
    /// `community` (a pegiat's own).
    pub fn new(db: Database, region: Option<String>, community: Option<String>) -> Self {
        Self {
            db,
            filter: ListFilter {
                region,
                community,
                limit: PAGE_SIZE,
                ..ListFilter::default()
            },
            done: false,
        }
    }

    /// Pages of `size` rows (at least 1) instead of [`PAGE_SIZE`].
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.filter.limit = size.max(1);
        self
    }

    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<SummaryRow>>, ExportError> {
        if self.done {
            return Ok(None);
        }
        let rows = query::list(&self.db, &self.filter).await?;
        if rows.len() < self.filter.limit as usize {
            self.done = true;
        }
        match rows.last() {
            Some(last) => self.filter.after = Some(last.community_id.clone()),
            None => return Ok(None),
        }
        Ok(Some(rows))
    }
}

/// Writes rows as CSV (RFC 4180: CRLF, quotes where needed) to any writer, every cell through
/// [`csv_cell`](super::csv_cell): a name, SK number or nomor induk starting with `=`, `+`, `-`,
/// `@`, tab or CR is written with a leading `'`, so a spreadsheet shows it as text instead of
/// running a formula. Each row is one `write_all`: give it a buffered writer (a `Vec`, a
/// `BufWriter`).
pub struct CsvExport<W: Write> {
    out: W,
    line: String,
}

impl<W: Write> CsvExport<W> {
    /// A CSV export whose header row is written first.
    pub fn new(out: W) -> Result<Self, ExportError> {
        let mut export = Self::without_header(out);
        let header = COLUMNS.map(|column| Cell::Text(column.header));
        export.write_cells(&header)?;
        Ok(export)
    }

    /// A CSV export that continues one whose header is already out (a later chunk of a stream).
    pub fn without_header(out: W) -> Self {
        Self {
            out,
            line: String::new(),
        }
    }

    /// Writes one row.
    pub fn write(&mut self, row: &SummaryRow) -> Result<(), ExportError> {
        self.write_cells(&cells(row))
    }

    fn write_cells(&mut self, cells: &[Cell<'_>]) -> Result<(), ExportError> {
        self.line.clear();
        push_csv_record(&mut self.line, cells);
        self.out.write_all(self.line.as_bytes())?;
        Ok(())
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// `rows` as CSV bytes, with the header row when `header`.
pub fn csv_bytes(rows: &[SummaryRow], header: bool) -> Result<Vec<u8>, ExportError> {
    let mut export = if header {
        CsvExport::new(Vec::new())?
    } else {
        CsvExport::without_header(Vec::new())
    };
    for row in rows {
        export.write(row)?;
    }
    export.finish()
}

/// Builds an XLSX workbook row by row: a bold, frozen header with a filter, column widths,
/// numbers as numbers, dates as dates (`yyyy-mm-dd`), codes and names as text. The worksheet is
/// in constant-memory mode: finished rows go to a temporary file, not to memory.
pub struct XlsxExport {
    workbook: Workbook,
    date: Format,
    rows: u32,
}

impl XlsxExport {
    /// A workbook with its header row written.
    pub fn new() -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        let header = Format::new()
            .set_bold()
            .set_background_color(Color::RGB(0xD9E2F3))
            .set_border_bottom(FormatBorder::Thin);
        let sheet = workbook.add_worksheet_with_constant_memory();
        sheet.set_name("KIM")?;
        for (index, column) in COLUMNS.iter().enumerate() {
            let col = col_num(index);
            sheet.set_column_width(col, column.width)?;
            sheet.write_string_with_format(0, col, column.header, &header)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(Self {
            workbook,
            date: Format::new().set_num_format("yyyy-mm-dd"),
            rows: 0,
        })
    }

    /// Appends one row.
    pub fn write(&mut self, row: &SummaryRow) -> Result<(), ExportError> {
        if self.rows >= XLSX_MAX_ROWS {
            return Err(ExportError::TooManyRows { max: XLSX_MAX_ROWS });
        }
        self.rows += 1;
        let line = self.rows;
        let date = self.date.clone();
        let sheet = self.sheet()?;
        for (index, cell) in cells(row).iter().enumerate() {
            let col = col_num(index);
            match cell {
                Cell::Text(text) => {
                    sheet.write_string(line, col, *text)?;
                }
                Cell::Integer(number) => {
                    // Counts and versions are far below 2^53: exact as an Excel number.
                    sheet.write_number(line, col, *number as f64)?;
                }
                Cell::Date(text) => match excel_date(text) {
                    Some(value) => {
                        sheet.write_datetime_with_format(line, col, &value, &date)?;
                    }
                    None => {
                        sheet.write_string(line, col, *text)?;
                    }
                },
                Cell::Boolean(value) => {
                    sheet.write_boolean(line, col, *value)?;
                }
                Cell::Empty => {}
            }
        }
        Ok(())
    }

    /// Data rows written so far.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// The finished workbook as bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, ExportError> {
        self.add_filter()?;
        Ok(self.workbook.save_to_buffer()?)
    }

    /// Writes the finished workbook to `path`.
    pub fn save(mut self, path: &Path) -> Result<(), ExportError> {
        self.add_filter()?;
        self.workbook.save(path)?;
        Ok(())
    }

    fn add_filter(&mut self) -> Result<(), ExportError> {
        let last_row = self.rows;
        let last_col = col_num(COLUMNS.len() - 1);
        self.sheet()?.autofilter(0, 0, last_row, last_col)?;
        Ok(())
    }

    fn sheet(&mut self) -> Result<&mut Worksheet, ExportError> {
        Ok(self.workbook.worksheet_from_index(0)?)
    }
}

fn col_num(index: usize) -> u16 {
    // COLUMNS has 24 entries.
    u16::try_from(index).unwrap_or(u16::MAX)
}

fn excel_date(text: &str) -> Option<ExcelDateTime> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let year = u16::try_from(date.year()).ok()?;
    let month = u8::try_from(date.month()).ok()?;
    let day = u8::try_from(date.day()).ok()?;
    ExcelDateTime::from_ymd(year, month, day).ok()
}
