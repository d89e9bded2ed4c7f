//! Importing platform exports (XLSX or CSV): read the table, map its columns to the
//! elements (remembered per platform), check every row with reasons in plain Chinese,
//! skip blank rows and repeats (by the platform's own id), and commit all rows in one
//! transaction — or none when any row is wrong.

use std::collections::HashSet;
use std::io::{Cursor, Read};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::archive::chain::{self, NewEvent};
use crate::clock::{from_china, to_china};
use crate::db::schema::messages::dsl as m;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::calendar::Calendar;
use crate::messages::config;
use crate::messages::lifecycle::State;
use crate::messages::service::{format_ref_no, ref_prefix, reserve_seq, Acting};
use crate::units::Unit;

pub mod staging;

/// The setting holding the column mapping last used for a platform's files.
fn mapping_key(platform: &str) -> String {
    format!("import_map:{platform}")
}

/// The column mapping (field, column heading) last used for a platform's files.
pub fn remembered_mapping(
    conn: &mut DbConn,
    platform: &str,
) -> QueryResult<Option<Vec<(String, String)>>> {
    Ok(db::get_setting(conn, &mapping_key(platform))?.and_then(|s| serde_json::from_str(&s).ok()))
}

/// One cell as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    DateTime(NaiveDateTime),
    Empty,
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            // Control and bidi characters are removed, as from every form (a NUL cannot be
            // stored on PostgreSQL).
            Cell::Text(s) => crate::forms::clean_text(s.trim()).trim().to_string(),
            Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// A table: headers and the non-blank rows with their line numbers in the file.
#[derive(Debug, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(usize, Vec<Cell>)>,
    /// Last, so that it drops after the cells: gives their memory back.
    pub _give_back: GiveBack,
}

/// Dropped after a table's cells: hands the freed memory back to the operating system
/// (the allocator keeps it per thread otherwise, and the next step of the same import,
/// on another thread, would add its own table on top).
#[derive(Debug, Default)]
pub struct GiveBack;

impl Drop for GiveBack {
    fn drop(&mut self) {
        crate::cache::give_back_memory();
    }
}

fn is_blank(cells: &[Cell]) -> bool {
    cells.iter().all(|c| match c {
        Cell::Text(s) => s.trim().is_empty(),
        Cell::Empty => true,
        Cell::DateTime(_) => false,
    })
}

/// The header row: the first of the first ten rows in which at least two names are
/// recognised (exports put a title, merged across the columns, and notes above the
/// table), else the first row.
fn header_row(rows: &[Vec<Cell>]) -> usize {
    rows.iter()
        .take(10)
        .position(|r| r.iter().filter(|c| guess(&c.text()).is_some()).count() >= 2)
        .unwrap_or(0)
}

/// A footer line below the table (制表单位, 合计, 打印时间 …): one or two cells filled,
/// the first starting with such a word.
fn is_footer(cells: &[Cell]) -> bool {
    const MARKS: [&str; 10] = [
        "制表",
        "填表",
        "合计",
        "总计",
        "小计",
        "审核人",
        "负责人",
        "打印时间",
        "导出时间",
        "备注：",
    ];
    let filled: Vec<String> = cells
        .iter()
        .map(Cell::text)
        .filter(|t| !t.is_empty())
        .collect();
    filled.len() <= 2
        && filled
            .first()
            .is_some_and(|t| MARKS.iter().any(|m| t.starts_with(m)))
}

/// Keep the rows below the header that carry data, with their line numbers.
fn table_of(all: Vec<Vec<Cell>>, first_line: usize) -> Table {
    let head = header_row(&all);
    let headers = all
        .get(head)
        .map(|r| r.iter().map(Cell::text).collect())
        .unwrap_or_default();
    let rows = all
        .into_iter()
        .enumerate()
        .skip(head + 1)
        .filter(|(_, cells)| !is_blank(cells) && !is_footer(cells))
        .map(|(i, cells)| (first_line + i, cells))
        .collect();
    Table {
        headers,
        rows,
        _give_back: GiveBack,
    }
}

/// The text of an exported file: UTF-8 (with or without a byte-order mark), UTF-16 with
/// one (Excel's “Unicode 文本”), or GB18030/GBK (what Excel saves for Chinese on Windows).
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom..]);
        if !had_errors {
            return Ok(text.into_owned());
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_string());
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|t| t.into_owned())
        .ok_or_else(|| "无法识别文件的编码（支持 UTF-8、UTF-16 和 GB18030/GBK）。".to_string())
}

/// What an import file may hold (`LIUYAN_IMPORT_MAX_ROWS`, `…_MAX_COLS`,
/// `…_MAX_UNZIPPED_MB`): checked before the spreadsheet reader allocates anything, so a
/// small hostile file cannot make it claim gigabytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub rows: u64,
    pub cols: u64,
    /// Rows × columns of the sheet's range: the reader allocates every cell of it, even
    /// of a sparse sheet (A1 and CV200000 alone make 20 million cells).
    pub cells: u64,
    /// The workbook's parts, decompressed, in bytes.
    pub unzipped: u64,
    /// The largest decompressed/compressed ratio of one part (a “zip bomb” has thousands).
    pub ratio: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            rows: 200_000,
            cols: 100,
            cells: 3_000_000,
            unzipped: 100 * 1024 * 1024,
            ratio: 200,
        }
    }
}

/// The column number of a cell reference's letters (A = 1, XFD = 16384) and its row.
fn cell_position(r: &[u8]) -> (u64, u64) {
    let (mut col, mut row) = (0u64, 0u64);
    for &b in r {
        match b {
            b'A'..=b'Z' => {
                col = col
                    .saturating_mul(26)
                    .saturating_add(u64::from(b - b'A' + 1))
            }
            b'a'..=b'z' => {
                col = col
                    .saturating_mul(26)
                    .saturating_add(u64::from(b - b'a' + 1))
            }
            b'0'..=b'9' => row = row.saturating_mul(10).saturating_add(u64::from(b - b'0')),
            _ => {}
        }
    }
    (col, row)
}

/// The largest (column, row) named by ` r="…"` and `ref="…"` attributes in sheet XML,
/// read in chunks (a reference cut by a chunk boundary is read whole from the carry).
fn scan_refs(mut input: impl Read, sizes: &mut u64, limit: u64) -> Result<(u64, u64), String> {
    let (mut max_col, mut max_row) = (0u64, 0u64);
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| format!("无法读取 Excel 文件：{e}"))?;
        if n == 0 {
            break;
        }
        *sizes += n as u64;
        if *sizes > limit {
            return Err(too_big(limit));
        }
        carry.extend_from_slice(&buf[..n]);
        let mut i = 0;
        let mut keep_from = carry.len().saturating_sub(64);
        while let Some(pos) = find(&carry[i..], b"r=\"") {
            let at = i + pos;
            let start = at + 3;
            let Some(end) = carry[start..].iter().position(|&b| b == b'"') else {
                keep_from = keep_from.min(at.saturating_sub(4));
                break;
            };
            // Only the attributes ` r="B7"` (cells, rows) and ` ref="A1:F9"` (dimension,
            // merged cells): not `xmlns:r="…"`, `header="0.3"` and the like.
            let before = |back: usize| at.checked_sub(back).map(|k| carry[k]);
            let is_ref = match before(1) {
                Some(b) if b.is_ascii_whitespace() => true,
                Some(b'e') => {
                    before(2) == Some(b'r') && before(3).is_some_and(|b| b.is_ascii_whitespace())
                }
                _ => false,
            };
            if is_ref {
                for part in carry[start..start + end].split(|&b| b == b':') {
                    if is_cell_ref(part) {
                        let (c, r) = cell_position(part);
                        max_col = max_col.max(c);
                        max_row = max_row.max(r);
                    }
                }
            }
            i = start + end + 1;
        }
        carry.drain(..keep_from.min(carry.len()));
    }
    Ok((max_col, max_row))
}

/// `B7`, `XFD1048576`, `12` (a row): letters then digits, at most 3 letters.
fn is_cell_ref(r: &[u8]) -> bool {
    let letters = r.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    letters <= 3
        && !r.is_empty()
        && r[letters..].iter().all(u8::is_ascii_digit)
        && (letters > 0 || r.len() > letters)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn too_big(limit: u64) -> String {
    format!(
        "Excel 文件解压后超过 {} MB，不能导入。请删去无关的工作表、图片和格式后重新上传，或分成几个文件。",
        limit / 1024 / 1024
    )
}

/// Check a workbook against the limits before it is parsed: the parts' real decompressed
/// size and ratio, and every cell reference and declared dimension of every sheet.
/// The refusal of a table beyond the limits.
fn beyond(limits: &Limits, rows: u64, cols: u64) -> String {
    format!(
        "表格的范围达到第 {rows} 行、第 {cols} 列，超出导入上限（最多 {} 行、{} 列、共 {} 个单元格）。请只保留留言所在的行和列后重新上传，或分成几个文件。",
        limits.rows, limits.cols, limits.cells
    )
}

pub fn check_xlsx(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("无法读取 Excel 文件：{e}"))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut part = zip
            .by_index(i)
            .map_err(|e| format!("无法读取 Excel 文件：{e}"))?;
        let declared = part.size();
        let packed = part.compressed_size().max(1);
        if declared / packed > limits.ratio {
            return Err(format!(
                "Excel 文件中的“{}”压缩比异常（{} 倍），可能是恶意构造的文件，不能导入。",
                part.name().unwrap_or_default(),
                declared / packed
            ));
        }
        let name = part.name().unwrap_or_default().to_string();
        let before = total;
        if name.starts_with("xl/worksheets/") && name.ends_with(".xml") {
            let (cols, rows) = scan_refs(&mut part, &mut total, limits.unzipped)?;
            if rows > limits.rows || cols > limits.cols || rows * cols > limits.cells {
                return Err(beyond(limits, rows, cols));
            }
        } else {
            let n = std::io::copy(
                &mut (&mut part).take(limits.unzipped + 1 - total.min(limits.unzipped)),
                &mut std::io::sink(),
            )
            .map_err(|e| format!("无法读取 Excel 文件：{e}"))?;
            total += n;
        }
        if total > limits.unzipped {
            return Err(too_big(limits.unzipped));
        }
        // The ratio again, on the real size (the declared one can lie).
        if (total - before) / packed > limits.ratio {
            return Err(format!(
                "Excel 文件中的“{name}”压缩比异常，可能是恶意构造的文件，不能导入。"
            ));
        }
    }
    Ok(())
}

/// At most one spreadsheet is parsed per core at a time (a parse holds the file's cells
/// in memory); the others wait their turn.
fn parse_slot() -> impl Drop {
    use std::sync::{Condvar, Mutex};
    static BUSY: Mutex<usize> = Mutex::new(0);
    static FREED: Condvar = Condvar::new();
    struct Slot;
    impl Drop for Slot {
        fn drop(&mut self) {
            let mut n = BUSY.lock().unwrap_or_else(|p| p.into_inner());
            *n = n.saturating_sub(1);
            FREED.notify_one();
        }
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut n = BUSY.lock().unwrap_or_else(|p| p.into_inner());
    while *n >= cores {
        n = FREED.wait(n).unwrap_or_else(|p| p.into_inner());
    }
    *n += 1;
    Slot
}

/// A workbook cell as the importer keeps it.
fn cell_of(d: calamine::Data) -> Cell {
    use calamine::{Data, DataType};
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s),
        Data::DateTime(_) | Data::DateTimeIso(_) => match d.as_datetime() {
            Some(t) => Cell::DateTime(t),
            None => Cell::Text(d.to_string()),
        },
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Cell::Text(format!("{}", f as i64)),
        other => Cell::Text(other.to_string()),
    }
}

/// Read an XLSX workbook's first sheet (after `check_xlsx`), streaming its cells: only
/// the importer's own table is built (not the reader's range beside it), row by row from
/// the first row and column that hold anything.
pub fn read_xlsx(bytes: &[u8], limits: &Limits) -> Result<Table, String> {
    use calamine::{DataRef, Reader};
    check_xlsx(bytes, limits)?;
    let _slot = parse_slot();
    let unreadable = |e: calamine::XlsxError| format!("无法读取第一个工作表：{e}");
    let mut wb: calamine::Xlsx<_> =
        calamine::Xlsx::new(Cursor::new(bytes)).map_err(|e| format!("无法读取 Excel 文件：{e}"))?;
    let first = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or("Excel 文件中没有工作表。")?;
    let mut cells = wb.worksheet_cells_reader(&first).map_err(unreadable)?;
    let mut all: Vec<Vec<Cell>> = Vec::new();
    let (mut first_row, mut first_col) = (None::<u32>, u32::MAX);
    while let Some(c) = cells.next_cell().map_err(unreadable)? {
        let (row, col) = c.get_position();
        let value = match c.get_value() {
            DataRef::Empty => continue,
            DataRef::SharedString(s) => Cell::Text((*s).to_string()),
            DataRef::String(s) => Cell::Text(s.clone()),
            other => cell_of(other.clone().into()),
        };
        let top = *first_row.get_or_insert(row);
        let (r, k) = ((row.saturating_sub(top)) as usize, col as usize);
        if (r as u64) >= limits.rows || (k as u64) >= limits.cols {
            return Err(beyond(limits, u64::from(row) + 1, u64::from(col) + 1));
        }
        if all.len() <= r {
            // The row before is complete: no spare room kept in it.
            if let Some(done) = all.last_mut() {
                done.shrink_to_fit();
            }
            all.resize_with(r + 1, Vec::new);
        }
        let line = &mut all[r];
        if line.len() <= k {
            line.resize(k + 1, Cell::Empty);
        }
        line[k] = value;
        first_col = first_col.min(col);
    }
    if all.is_empty() {
        return Err("工作表是空的。".to_string());
    }
    let skip = first_col as usize;
    for line in &mut all {
        line.drain(..skip.min(line.len()));
    }
    Ok(table_of(all, first_row.unwrap_or(0) as usize + 1))
}

/// Read a CSV (comma- or tab-separated) in any of the encodings `decode` knows, within
/// the same limits as a workbook: its rows and fields are counted first (nothing kept),
/// so a file of a million one-character fields is refused before it is held as cells.
pub fn read_csv(bytes: &[u8], limits: &Limits) -> Result<Table, String> {
    let text = decode(bytes)
        .map_err(|why| format!("{why}请在 Excel 中“另存为”→“CSV UTF-8（逗号分隔）”后重新上传。"))?;
    // The separator the first lines use most (title lines above the table have none).
    let head: Vec<&str> = text.lines().take(10).collect();
    let count = |c: char| head.iter().map(|l| l.matches(c).count()).sum::<usize>();
    let delimiter = if count('\t') > count(',') {
        b'\t'
    } else {
        b','
    };
    let reader = || {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text.as_bytes())
    };
    let (mut rows, mut cols, mut cells) = (0u64, 0u64, 0u64);
    let mut counting = reader();
    let mut record = csv::ByteRecord::new();
    while counting
        .read_byte_record(&mut record)
        .map_err(|e| format!("CSV 第 {} 行格式错误：{e}", rows + 1))?
    {
        rows += 1;
        cols = cols.max(record.len() as u64);
        cells += record.len() as u64;
        if rows > limits.rows || cols > limits.cols || cells > limits.cells {
            return Err(beyond(limits, rows, cols));
        }
    }
    let mut rdr = reader();
    let mut all = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("CSV 第 {} 行格式错误：{e}", i + 1))?;
        all.push(
            rec.iter()
                .map(|s| {
                    if s.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(s.to_string())
                    }
                })
                .collect::<Vec<Cell>>(),
        );
    }
    if all.is_empty() {
        return Err("CSV 文件是空的。".to_string());
    }
    Ok(table_of(all, 1))
}

pub fn read(name: &str, bytes: &[u8], limits: &Limits) -> Result<Table, String> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes, limits)
    } else if name.to_lowercase().ends_with(".csv") {
        let _slot = parse_slot();
        read_csv(bytes, limits)
    } else {
        Err("只能导入 Excel（.xlsx）或 CSV 文件。".to_string())
    }
}

/// What a column can be mapped to: (key, label, required).
pub const TARGETS: [(&str, &str, bool); 12] = [
    ("platform_ref", "平台留言编号", false),
    ("complainant_name", "反映人", true),
    ("complainant_contact", "联系方式", false),
    ("title", "留言标题", true),
    ("appeal", "主要诉求", true),
    ("posted_at", "留言时间", true),
    ("category", "所属类型", false),
    ("level", "级别", false),
    ("reply", "答复内容", false),
    ("replied_at", "答复时间", false),
    ("likes", "点赞数", false),
    ("dislikes", "反对数", false),
];

/// A column name as compared: no spaces (also full-width), no required-marks (`*`), no
/// note in brackets (`留言时间（必填）`).
fn normalise_header(h: &str) -> String {
    let mut out: String = h
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '＊' && *c != '\u{3000}')
        .collect();
    for open in ['（', '('] {
        if let Some(i) = out.find(open) {
            if i > 0 {
                out.truncate(i);
            }
        }
    }
    out
}

/// Column names the platforms' exports use, by what they hold. Maintained here: add a
/// name when a platform's export brings a new one (the mapping stays editable).
pub const SYNONYMS: [(&str, &[&str]); 12] = [
    (
        "platform_ref",
        &[
            "留言编号",
            "平台留言编号",
            "平台编号",
            "编号",
            "信件编号",
            "来信编号",
            "工单编号",
            "工单号",
            "信件号",
            "受理编号",
        ],
    ),
    (
        "complainant_name",
        &[
            "留言用户",
            "反映人",
            "姓名",
            "网民",
            "来信人",
            "来信人姓名",
            "留言人",
            "诉求人",
            "网民姓名",
            "用户名",
            "昵称",
        ],
    ),
    (
        "complainant_contact",
        &[
            "联系方式",
            "电话",
            "联系电话",
            "手机",
            "手机号",
            "手机号码",
            "来信人电话",
            "电话号码",
        ],
    ),
    (
        "title",
        &[
            "留言主题",
            "留言标题",
            "标题",
            "主题",
            "信件标题",
            "来信标题",
            "诉求标题",
        ],
    ),
    (
        "appeal",
        &[
            "留言详情",
            "主要诉求",
            "留言内容",
            "内容",
            "详情",
            "信件内容",
            "来信内容",
            "诉求内容",
            "问题描述",
        ],
    ),
    (
        "posted_at",
        &[
            "留言时间",
            "时间",
            "来信时间",
            "提交时间",
            "来信日期",
            "留言日期",
            "发布时间",
            "诉求时间",
        ],
    ),
    (
        "category",
        &[
            "一级分类",
            "一级标签",
            "所属类型",
            "分类",
            "类型",
            "信件类型",
            "问题类型",
        ],
    ),
    ("level", &["级别", "留言级别"]),
    (
        "reply",
        &[
            "答复意见",
            "答复内容",
            "办理情况",
            "答复",
            "回复内容",
            "回复",
            "回复意见",
            "办理结果",
        ],
    ),
    (
        "replied_at",
        &["答复时间", "回复时间", "答复日期", "回复日期", "办结时间"],
    ),
    ("likes", &["点赞数", "点赞", "支持数", "赞同数"]),
    ("dislikes", &["反对数", "反对", "踩"]),
];

/// A column name's likely meaning (the platform exports and our own export).
pub fn guess(header: &str) -> Option<&'static str> {
    let h = normalise_header(header);
    SYNONYMS
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(key, _)| *key)
}

/// target → column index.
pub type Mapping = Vec<(String, Option<usize>)>;

/// A mapping from remembered column names, else from the headers themselves.
pub fn initial_mapping(headers: &[String], remembered: Option<&[(String, String)]>) -> Mapping {
    TARGETS
        .iter()
        .map(|(key, _, _)| {
            let by_memory = remembered.and_then(|r| {
                r.iter()
                    .find(|(k, _)| k == key)
                    .and_then(|(_, name)| headers.iter().position(|h| h == name))
            });
            let col = by_memory.or_else(|| headers.iter().position(|h| guess(h) == Some(*key)));
            (key.to_string(), col)
        })
        .collect()
}

/// Times as written in exports: `2019/2/28 11:25:05`, `2019-02-28 11:25`,
/// `2019年4月25日 09:32`, `2019.4.25`, a date alone, or an Excel serial number
/// (`43521.47`: days since 1899-12-30, as a CSV saved from Excel may hold).
pub fn parse_time(cell: &Cell) -> Option<NaiveDateTime> {
    match cell {
        Cell::DateTime(t) => Some(*t),
        Cell::Text(s) => parse_time_text(s),
        Cell::Empty => None,
    }
}

fn parse_time_text(s: &str) -> Option<NaiveDateTime> {
    // One spelling for the many: 年/月/. → -, 日/时/分/秒 → separators, T → space.
    let mut t = String::new();
    for c in s.trim().chars() {
        match c {
            '年' | '月' | '/' | '.' => t.push('-'),
            '日' | 'T' => t.push(' '),
            '时' | '点' | '分' | '：' => t.push(':'),
            '秒' => {}
            c => t.push(c),
        }
    }
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let t = t.trim_end_matches(':');
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(v) = NaiveDateTime::parse_from_str(t, f) {
            return Some(v);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t.trim_end_matches('-'), "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0);
    }
    excel_serial(s.trim())
}

/// An Excel serial date-time (1900 date system, as Excel writes it since 1 March 1900).
fn excel_serial(s: &str) -> Option<NaiveDateTime> {
    let v: f64 = s.parse().ok()?;
    // 1982 … 2119: a plain number outside is not a date.
    if !(30000.0..80000.0).contains(&v) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let seconds = (v * 86400.0).round() as i64;
    base.checked_add_signed(chrono::Duration::seconds(seconds))
}

/// The choices made on the import form.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Defaults {
    pub platform: String,
    pub level: String,
    pub category: String,
    /// The unit that gave the replies in the file (required when replies are imported).
    pub reply_unit: Option<i32>,
}

/// A row ready to be imported.
#[derive(Debug, Clone)]
pub struct ValidRow {
    pub line: usize,
    pub platform_ref: Option<String>,
    pub name: String,
    pub contact: String,
    pub title: String,
    pub appeal: String,
    /// UTC.
    pub posted_at: NaiveDateTime,
    pub category: String,
    pub level: String,
    /// (text, UTC time)
    pub reply: Option<(String, NaiveDateTime)>,
    /// 点赞数 + 反对数 where the export has them (热点发现 weighs them).
    pub votes: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub line: usize,
    pub column: String,
    pub reason: String,
}

/// The outcome of checking a table.
#[derive(Debug, Default)]
pub struct Checked {
    pub valid: Vec<ValidRow>,
    /// The first `KEPT_ERRORS` problems (a file of garbage has one per row or more).
    pub errors: Vec<RowError>,
    /// How many problems there are in all.
    pub error_count: usize,
    /// The file's column names (for the mapping shown with the results).
    pub headers: Vec<String>,
    /// (line, platform id): already in the system or earlier in the file; skipped.
    pub repeats: Vec<(usize, String)>,
}

pub struct Lists<'a> {
    pub levels: &'a [String],
    pub categories: &'a [String],
    pub existing_refs: &'a HashSet<String>,
}

/// Check every row against the mapping (times read as China time).
pub fn check(
    table: &Table,
    mapping: &Mapping,
    defaults: &Defaults,
    lists: &Lists,
    now: NaiveDateTime,
) -> Checked {
    let mut out = Checked {
        headers: table.headers.clone(),
        ..Checked::default()
    };
    let col = |key: &str| mapping.iter().find(|(k, _)| k == key).and_then(|(_, c)| *c);
    let header_of = |key: &str| {
        col(key)
            .and_then(|c| table.headers.get(c).cloned())
            .unwrap_or_else(|| {
                TARGETS
                    .iter()
                    .find(|(k, _, _)| *k == key)
                    .map(|(_, l, _)| l.to_string())
                    .unwrap_or_default()
            })
    };
    for (key, label, required) in TARGETS {
        if required && col(key).is_none() {
            out.errors.push(RowError {
                line: 1,
                column: label.to_string(),
                reason: format!("没有指定哪一列是“{label}”。"),
            });
        }
    }
    if !out.errors.is_empty() {
        out.error_count = out.errors.len();
        return out;
    }
    let mut seen: HashSet<String> = HashSet::new();
    for (line, cells) in &table.rows {
        let get = |key: &str| -> Cell {
            col(key)
                .and_then(|c| cells.get(c).cloned())
                .unwrap_or(Cell::Empty)
        };
        let mut errs = Vec::new();
        let mut err = |key: &str, reason: String| {
            errs.push(RowError {
                line: *line,
                column: header_of(key),
                reason,
            })
        };
        let text = |key: &str| get(key).text();
        let title = text("title");
        if title.is_empty() {
            err("title", "留言标题为空。".into());
        } else if title.chars().count() > 200 {
            err("title", "留言标题超过 200 字。".into());
        }
        let appeal = text("appeal");
        if appeal.is_empty() {
            err("appeal", "主要诉求为空。".into());
        } else if appeal.chars().count() > 20000 {
            err("appeal", "主要诉求超过 20000 字。".into());
        }
        let name = text("complainant_name");
        if name.is_empty() {
            err("complainant_name", "反映人为空。".into());
        } else if name.chars().count() > 50 {
            err("complainant_name", "反映人超过 50 字。".into());
        }
        let contact = text("complainant_contact");
        if contact.chars().count() > 50 {
            err("complainant_contact", "联系方式超过 50 字。".into());
        }
        let posted = match parse_time(&get("posted_at")) {
            Some(t) if from_china(t) <= now => Some(from_china(t)),
            Some(_) => {
                err("posted_at", "留言时间晚于现在。".into());
                None
            }
            None => {
                err(
                    "posted_at",
                    format!(
                        "“{}”不是有效的时间，应如 2019/2/28 11:25:05。",
                        text("posted_at")
                    ),
                );
                None
            }
        };
        let category = match text("category") {
            c if c.is_empty() => defaults.category.clone(),
            c => c,
        };
        if category.is_empty() {
            err("category", "所属类型为空，且没有选择默认所属类型。".into());
        } else if !lists.categories.contains(&category) {
            err(
                "category",
                format!("所属类型“{category}”不在列表中（可在业务设置中新增）。"),
            );
        }
        let level = match text("level") {
            l if l.is_empty() => defaults.level.clone(),
            l => l,
        };
        if !lists.levels.contains(&level) {
            err("level", format!("级别“{level}”不在列表中。"));
        }
        let reply_text = text("reply");
        let reply = if reply_text.is_empty() {
            None
        } else {
            if defaults.reply_unit.is_none() {
                err("reply", "文件中有答复内容，请选择“答复单位”。".into());
            }
            match parse_time(&get("replied_at")) {
                Some(t) => Some((reply_text, from_china(t))),
                None => {
                    err(
                        "replied_at",
                        format!("有答复内容但答复时间“{}”无效。", text("replied_at")),
                    );
                    None
                }
            }
        };
        let mut votes = 0i32;
        for key in ["likes", "dislikes"] {
            let v = text(key);
            if v.is_empty() {
                continue;
            }
            match v.parse::<u32>() {
                Ok(n) => votes = votes.saturating_add(n.min(i32::MAX as u32) as i32),
                Err(_) => err(key, format!("“{v}”不是一个不小于 0 的整数。")),
            }
        }
        let platform_ref = Some(text("platform_ref")).filter(|s| !s.is_empty());
        if let Some(r) = &platform_ref {
            if lists.existing_refs.contains(r) || !seen.insert(r.clone()) {
                out.repeats.push((*line, r.clone()));
                continue;
            }
        }
        if errs.is_empty() {
            if let Some(posted_at) = posted {
                out.valid.push(ValidRow {
                    line: *line,
                    platform_ref,
                    name,
                    contact,
                    title,
                    appeal,
                    posted_at,
                    category,
                    level,
                    reply,
                    votes,
                });
            }
        } else {
            out.error_count += errs.len();
            let room = KEPT_ERRORS.saturating_sub(out.errors.len());
            out.errors.extend(errs.into_iter().take(room));
        }
    }
    out
}

/// At most this many problems are kept for the preview (which shows 200 of them).
pub const KEPT_ERRORS: usize = 1_000;

/// Platform ids already in the system.
pub fn existing_refs(conn: &mut DbConn, platform: &str) -> QueryResult<HashSet<String>> {
    let v: Vec<Option<String>> = m::messages
        .filter(m::source_platform.eq(platform))
        .filter(m::platform_ref.is_not_null())
        .select(m::platform_ref)
        .load(conn)?;
    Ok(v.into_iter().flatten().collect())
}

#[allow(clippy::too_many_arguments)]
fn event<'a>(
    message_id: i32,
    at: NaiveDateTime,
    acting: &'a Acting,
    action: &'a str,
    from: Option<State>,
    to: State,
    text: &'a str,
    detail: serde_json::Value,
    unit: i32,
) -> NewEvent<'a> {
    NewEvent {
        message_id,
        at,
        user_id: Some(acting.user_id),
        actor_name: &acting.name,
        unit_id: Some(unit),
        action,
        from_state: from.map(|s| s.as_str()),
        to_state: to.as_str(),
        text,
        detail: detail.to_string(),
        files: Vec::new(),
    }
}

/// What an imported message that carries the platform's reply becomes (chosen in the
/// preview): answered on the platform and awaiting the centre's 审核, or taken as 办结.
pub const ANSWERED_STATES: [State; 2] = [State::Replied, State::Closed];

/// Commit the checked rows in one transaction. Each becomes a registered message; one
/// that carries the platform's reply is recorded as answered there, on the reply's own
/// date, in the state the centre chose (`answered`) — no 转办 or 签收 is invented. The
/// same transaction remembers the column mapping (field, heading) for the platform's
/// next file and writes the import's audit row.
#[allow(clippy::too_many_arguments)]
pub fn commit(
    conn: &mut DbConn,
    actor: &crate::audit::Actor,
    mapping: &[(String, String)],
    acting: &Acting,
    owner: &Unit,
    reply_unit: Option<&Unit>,
    answered: State,
    rows: &[ValidRow],
    platform: &str,
    file_name: &str,
    cal: &Calendar,
) -> Result<usize, AppError> {
    if !ANSWERED_STATES.contains(&answered) {
        return Err(AppError::internal("imported answers are 待审核 or 已办结"));
    }
    db::write_tx(conn, |conn| {
        let rules = config::rules(conn)?;
        let format = config::ref_format(conn)?;
        let prefix = ref_prefix(owner);
        let now = db::now();
        let year = chrono::Datelike::year(&to_china(now));
        // Reserve the numbers for the whole file at once: gap-free and one update.
        let first = reserve_seq(conn, owner.id, year, rows.len() as i32)?;
        let dict = crate::hot::store::dictionary(conn)?;
        let mut imported = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let ref_no = format_ref_no(&format, &prefix, year, first + i as i32);
            let reply = r.reply.as_ref().zip(reply_unit);
            let state = if reply.is_some() {
                answered
            } else {
                State::Registered
            };
            let days = config::reply_days(&rules, &r.level, platform, &r.category) as i64;
            let posted_day = to_china(r.posted_at).date();
            let due = reply.map(|_| cal.add_working_days(posted_day, days));
            let replied_at = reply.map(|((_, at), _)| *at);
            let id: i32 = diesel::insert_into(m::messages)
                .values((
                    m::ref_no.eq(&ref_no),
                    m::owner_unit_id.eq(owner.id),
                    m::level.eq(&r.level),
                    m::source_platform.eq(platform),
                    m::platform_ref.eq(&r.platform_ref),
                    m::complainant_name.eq(crate::messages::personal::seal(&r.name)),
                    m::complainant_contact.eq(crate::messages::personal::seal(&r.contact)),
                    m::name_key.eq(crate::messages::personal::name_key(&r.name)),
                    m::contact_key.eq(crate::messages::personal::contact_key(&r.contact)),
                    m::title.eq(&r.title),
                    m::appeal.eq(&r.appeal),
                    m::posted_at.eq(r.posted_at),
                    m::category.eq(&r.category),
                    m::state.eq(state.as_str()),
                    m::version.eq(if reply.is_some() { 2 } else { 1 }),
                    m::registered_at.eq(now),
                    m::extension_days.eq(0),
                    m::updated_at.eq(now),
                    m::handling_unit_id.eq(reply.map(|(_, u)| u.id)),
                    m::due_at.eq(due),
                    m::handling_summary.eq(reply.map(|((text, _), _)| text.clone())),
                    m::replied_at.eq(replied_at),
                    m::closed_at.eq(replied_at.filter(|_| state == State::Closed)),
                ))
                .returning(m::id)
                .get_result(conn)?;
            chain::append(
                conn,
                &event(
                    id,
                    now,
                    acting,
                    "register",
                    None,
                    State::Registered,
                    "",
                    serde_json::json!({ "ref_no": ref_no, "imported": file_name, "line": r.line }),
                    acting.unit_id,
                ),
            )?;
            if let Some(((text, at), u)) = reply {
                let mut answer = event(
                    id,
                    now,
                    acting,
                    PLATFORM_REPLY,
                    Some(State::Registered),
                    state,
                    "",
                    serde_json::json!({
                        "unit": u.name,
                        "imported": file_name,
                        "replied_on": to_china(*at).format("%Y-%m-%d %H:%M").to_string(),
                    }),
                    u.id,
                );
                // 答复质量 of the platform's reply (history: no 转办 to time it from).
                let c = crate::messages::reply_check::check(&r.title, &r.appeal, text, None);
                crate::messages::reply_store::save(conn, id, Some(u.id), *at, &c)?;
                answer.text = text;
                chain::append(conn, &answer)?;
            }
            crate::search::index(conn, id)?;
            crate::hot::store::note(conn, &dict, id, &r.title, &r.appeal, r.votes)?;
            imported.push(id);
        }
        crate::archive::ledger::seal_messages(conn, &imported)?;
        let mapping = serde_json::to_string(mapping).map_err(AppError::internal)?;
        db::put_setting(conn, &mapping_key(platform), &mapping)?;
        crate::audit::record(
            conn,
            actor,
            "import",
            &format!("导入“{file_name}”{} 条（{platform}）", rows.len()),
            crate::audit::OK,
            "",
        )?;
        Ok(rows.len())
    })
}

/// The event of a reply given on the platform before the message was imported.
pub const PLATFORM_REPLY: &str = "platform_reply";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_cells_lose_control_characters() {
        assert_eq!(
            Cell::Text(" 张\u{0}三\u{1b}\u{7}\u{202e} ".into()).text(),
            "张三"
        );
        assert_eq!(Cell::Text("第一行\n第二行".into()).text(), "第一行\n第二行");
    }

    #[test]
    fn cell_references_are_read_across_chunks() {
        assert_eq!(cell_position(b"XFD1048576"), (16384, 1_048_576));
        assert_eq!(cell_position(b"A1"), (1, 1));
        // A reference straddling the 64 KiB chunk boundary is still read.
        let mut xml = vec![b' '; 64 * 1024 - 5];
        xml.extend_from_slice(
            br#"<c r="CV200001"/><dimension ref="A1:B2"/><w xmlns:r="http://x" header="0.3"/>"#,
        );
        let mut total = 0;
        let (cols, rows) = scan_refs(xml.as_slice(), &mut total, u64::MAX).expect("scan");
        assert_eq!((cols, rows), (100, 200_001));
        assert_eq!(total, xml.len() as u64);
        assert!(
            scan_refs(xml.as_slice(), &mut 0, 1000).is_err(),
            "size limit"
        );
    }

    fn t(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    fn table() -> Table {
        Table {
            headers: [
                "留言编号",
                "留言用户",
                "留言主题",
                "留言时间",
                "留言详情",
                "一级分类",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![
                (
                    2,
                    vec![
                        t("1"),
                        t("A001"),
                        t("停水"),
                        t("2019/2/28 11:25:05"),
                        t("三天停水"),
                        t("城乡建设"),
                    ],
                ),
                (
                    3,
                    vec![
                        t("2"),
                        t("A002"),
                        t(""),
                        t("2019-03-01 08:00:00"),
                        t("内容"),
                        t("城乡建设"),
                    ],
                ),
                (
                    4,
                    vec![
                        t("1"),
                        t("A003"),
                        t("重复"),
                        t("2019/3/2 9:00:00"),
                        t("内容"),
                        t("城乡建设"),
                    ],
                ),
                (
                    5,
                    vec![
                        t("3"),
                        t("A004"),
                        t("时间错"),
                        t("昨天"),
                        t("内容"),
                        t("外星事务"),
                    ],
                ),
            ],
            _give_back: GiveBack,
        }
    }

    #[test]
    fn rows_are_checked_with_reasons_and_repeats_skipped() {
        let tb = table();
        let mapping = initial_mapping(&tb.headers, None);
        assert_eq!(
            mapping.iter().filter(|(_, c)| c.is_some()).count(),
            6,
            "the platform's headers are recognised"
        );
        let levels = vec!["市级".to_string()];
        let categories = vec!["城乡建设".to_string()];
        let existing = HashSet::new();
        let lists = Lists {
            levels: &levels,
            categories: &categories,
            existing_refs: &existing,
        };
        let d = Defaults {
            platform: "市长信箱".into(),
            level: "市级".into(),
            category: String::new(),
            reply_unit: None,
        };
        let now =
            NaiveDateTime::parse_from_str("2026-11-30 00:00:00", "%Y-%m-%d %H:%M:%S").expect("now");
        let c = check(&tb, &mapping, &d, &lists, now);
        assert_eq!(c.valid.len(), 1);
        assert_eq!(
            c.valid[0].posted_at.to_string(),
            "2019-02-28 03:25:05",
            "China time → UTC"
        );
        assert_eq!(c.repeats, vec![(4, "1".to_string())]);
        let lines: Vec<(usize, &str)> = c
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![(3, "留言主题"), (5, "留言时间"), (5, "一级分类")]
        );
        assert!(c.errors[1].reason.contains("“昨天”不是有效的时间"));
    }

    #[test]
    fn times_in_the_forms_exports_use() {
        for s in [
            "2019/2/28 11:25:05",
            "2019-02-28 11:25:05",
            "2019/2/28 11:25",
            "2019-02-28T11:25",
        ] {
            assert!(parse_time(&t(s)).is_some(), "{s}");
        }
        assert_eq!(
            parse_time(&t("2019/2/28")).map(|x| x.to_string()),
            Some("2019-02-28 00:00:00".to_string())
        );
        assert!(parse_time(&t("2019/13/28")).is_none());
        let at = |s: &str| parse_time(&t(s)).map(|x| x.to_string());
        assert_eq!(
            at("2019年4月25日 09:32").as_deref(),
            Some("2019-04-25 09:32:00")
        );
        assert_eq!(
            at("2019年4月25日09时32分").as_deref(),
            Some("2019-04-25 09:32:00")
        );
        assert_eq!(at("2019.4.25").as_deref(), Some("2019-04-25 00:00:00"));
        assert_eq!(at("2019-4-5 9:05").as_deref(), Some("2019-04-05 09:05:00"));
        // Excel serial numbers: 43521.5 is 2019-02-25 12:00.
        assert_eq!(at("43521.5").as_deref(), Some("2019-02-25 12:00:00"));
        assert_eq!(at("43521").as_deref(), Some("2019-02-25 00:00:00"));
        assert_eq!(at("12"), None, "a small number is not a date");
        assert_eq!(at("昨天"), None);
    }

    #[test]
    fn headers_by_their_many_names() {
        for (name, key) in [
            ("信件编号", "platform_ref"),
            ("工单编号", "platform_ref"),
            ("来信人", "complainant_name"),
            ("信件标题", "title"),
            ("来信时间", "posted_at"),
            ("提交时间", "posted_at"),
            ("信件内容", "appeal"),
            ("回复内容", "reply"),
            ("回复时间", "replied_at"),
            ("联系电话", "complainant_contact"),
            (" 留言时间（必填）", "posted_at"),
            ("*标 题", "title"),
        ] {
            assert_eq!(guess(name), Some(key), "{name}");
        }
        assert_eq!(guess("序号"), None);
    }

    #[test]
    fn a_csv_beyond_the_limits_is_refused_before_it_is_held() {
        let small = Limits {
            rows: 3,
            cols: 4,
            cells: 10,
            ..Limits::default()
        };
        let csv = |rows: usize, cols: usize| {
            let line = vec!["a"; cols].join(",");
            vec![line; rows].join("\n").into_bytes()
        };
        assert!(read_csv(&csv(3, 3), &small).is_ok());
        for (rows, cols) in [(4, 2), (2, 5), (3, 4)] {
            let why = read_csv(&csv(rows, cols), &small).expect_err("refused");
            assert!(why.contains("超出导入上限"), "{rows}×{cols}: {why}");
        }
    }

    #[test]
    fn encodings_delimiters_title_rows_and_footers() {
        let text = "某某平台信件导出\r\n导出时间：2019-05-01\r\n信件编号,来信人,信件标题,来信时间,信件内容\r\nD1,张三,路灯不亮,2019年4月25日 09:32,小区路灯坏了\r\n\r\n制表单位：某某办公室,,,,\r\n";
        let (gbk, _, bad) = encoding_rs::GB18030.encode(text);
        assert!(!bad);
        let tb = read_csv(&gbk, &Limits::default()).expect("GB18030 read");
        assert_eq!(tb.headers[0], "信件编号");
        assert_eq!(tb.rows.len(), 1, "title, note and footer rows skipped");
        assert_eq!(tb.rows[0].0, 4, "line numbers as in the file");
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(
            read_csv(&with_bom, &Limits::default())
                .expect("utf-8")
                .rows
                .len(),
            1
        );
        let tabs = text.replace(',', "\t");
        assert_eq!(
            read_csv(tabs.as_bytes(), &Limits::default())
                .expect("tabs")
                .headers
                .len(),
            5
        );
        assert!(decode(&[0xFF, 0xFE, 0x41, 0x00]).is_ok(), "UTF-16 with BOM");
        assert!(decode(&[0x81, 0x20, 0xFF]).is_err());
    }
}
