//! Importing platform exports (XLSX or CSV): read the table, map its columns to the
//! elements (remembered per platform), check every row with reasons in plain Chinese,
//! skip blank rows and repeats (by the platform's own id), and commit all rows in one
//! transaction — or none when any row is wrong.

use std::collections::HashSet;
use std::io::Cursor;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::archive::chain::{self, NewEvent};
use crate::clock::{from_china, to_china};
use crate::db::schema::{messages::dsl as m, ref_counters::dsl as rc};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::calendar::Calendar;
use crate::messages::config;
use crate::messages::lifecycle::State;
use crate::messages::service::{format_ref_no, Acting};
use crate::units::Unit;

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
            Cell::Text(s) => s.trim().to_string(),
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
}

fn is_blank(cells: &[Cell]) -> bool {
    cells.iter().all(|c| match c {
        Cell::Text(s) => s.trim().is_empty(),
        Cell::Empty => true,
        Cell::DateTime(_) => false,
    })
}

/// The header row: the first of the first five rows in which at least two names are
/// recognised (exports often put a title above the table), else the first row.
fn header_row(rows: &[Vec<Cell>]) -> usize {
    rows.iter()
        .take(5)
        .position(|r| r.iter().filter(|c| guess(&c.text()).is_some()).count() >= 2)
        .unwrap_or(0)
}

/// Read an XLSX workbook's first sheet.
pub fn read_xlsx(bytes: &[u8]) -> Result<Table, String> {
    use calamine::{Data, DataType, Reader};
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| format!("无法读取 Excel 文件：{e}"))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or("Excel 文件中没有工作表。")?
        .map_err(|e| format!("无法读取第一个工作表：{e}"))?;
    let start_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let all: Vec<Vec<Cell>> = range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => Cell::Empty,
                    Data::String(s) => Cell::Text(s.clone()),
                    Data::DateTime(_) | Data::DateTimeIso(_) => match c.as_datetime() {
                        Some(t) => Cell::DateTime(t),
                        None => Cell::Text(c.to_string()),
                    },
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        Cell::Text(format!("{}", *f as i64))
                    }
                    other => Cell::Text(other.to_string()),
                })
                .collect()
        })
        .collect();
    if all.is_empty() {
        return Err("工作表是空的。".to_string());
    }
    let head = header_row(&all);
    let mut out = Table {
        headers: all[head].iter().map(|c| c.text()).collect(),
        rows: Vec::new(),
    };
    for (i, cells) in all.into_iter().enumerate().skip(head + 1) {
        if !is_blank(&cells) {
            out.rows.push((start_row + i + 1, cells));
        }
    }
    Ok(out)
}

/// Read a UTF-8 CSV (a byte-order mark is allowed).
pub fn read_csv(bytes: &[u8]) -> Result<Table, String> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if std::str::from_utf8(bytes).is_err() {
        return Err(
            "CSV 文件不是 UTF-8 编码。请在 Excel 中“另存为”→“CSV UTF-8（逗号分隔）”后重新上传。"
                .into(),
        );
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("无法读取 CSV 表头：{e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut out = Table {
        headers,
        rows: Vec::new(),
    };
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("CSV 第 {} 行格式错误：{e}", i + 2))?;
        let cells: Vec<Cell> = rec
            .iter()
            .map(|s| {
                if s.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(s.to_string())
                }
            })
            .collect();
        if !is_blank(&cells) {
            out.rows.push((i + 2, cells));
        }
    }
    Ok(out)
}

pub fn read(name: &str, bytes: &[u8]) -> Result<Table, String> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes)
    } else if name.to_lowercase().ends_with(".csv") {
        read_csv(bytes)
    } else {
        Err("只能导入 Excel（.xlsx）或 CSV 文件。".to_string())
    }
}

/// What a column can be mapped to: (key, label, required).
pub const TARGETS: [(&str, &str, bool); 10] = [
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
];

/// A column name's likely meaning (the platform exports and our own export).
pub fn guess(header: &str) -> Option<&'static str> {
    let h = header.trim();
    let t = match h {
        "留言编号" | "平台留言编号" | "平台编号" | "编号" => "platform_ref",
        "留言用户" | "反映人" | "姓名" | "网民" => "complainant_name",
        "联系方式" | "电话" | "联系电话" | "手机" => "complainant_contact",
        "留言主题" | "留言标题" | "标题" | "主题" => "title",
        "留言详情" | "主要诉求" | "留言内容" | "内容" => "appeal",
        "留言时间" | "时间" => "posted_at",
        "一级分类" | "一级标签" | "所属类型" | "分类" | "类型" => "category",
        "级别" => "level",
        "答复意见" | "答复内容" | "办理情况" | "答复" => "reply",
        "答复时间" => "replied_at",
        _ => return None,
    };
    Some(t)
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

/// Times as written in exports: `2019/2/28 11:25:05`, `2019-02-28 11:25`, a date …
pub fn parse_time(cell: &Cell) -> Option<NaiveDateTime> {
    match cell {
        Cell::DateTime(t) => Some(*t),
        Cell::Text(s) => {
            let s = s.trim();
            for f in [
                "%Y/%m/%d %H:%M:%S",
                "%Y-%m-%d %H:%M:%S",
                "%Y/%m/%d %H:%M",
                "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%dT%H:%M",
                "%Y年%m月%d日 %H:%M",
            ] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return Some(t);
                }
            }
            for f in ["%Y/%m/%d", "%Y-%m-%d", "%Y年%m月%d日"] {
                if let Ok(d) = NaiveDate::parse_from_str(s, f) {
                    return d.and_hms_opt(0, 0, 0);
                }
            }
            None
        }
        Cell::Empty => None,
    }
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
    pub errors: Vec<RowError>,
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
    let mut out = Checked::default();
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
                });
            }
        } else {
            out.errors.extend(errs);
        }
    }
    out
}

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

/// Commit the checked rows in one transaction: each becomes a registered message (with
/// 转办/签收/答复 when the file carries the reply). Returns how many were imported.
#[allow(clippy::too_many_arguments)]
pub fn commit(
    conn: &mut DbConn,
    acting: &Acting,
    owner: &Unit,
    reply_unit: Option<&Unit>,
    rows: &[ValidRow],
    platform: &str,
    file_name: &str,
    cal: &Calendar,
) -> Result<usize, AppError> {
    db::write_tx(conn, |conn| {
        let rules = config::rules(conn)?;
        let format = config::ref_format(conn)?;
        let prefix = if owner.kind() == Some(crate::auth::roles::UnitKind::Centre) {
            "安".to_string()
        } else {
            owner.short_name.chars().take(2).collect()
        };
        let now = db::now();
        let year = chrono::Datelike::year(&to_china(now));
        // Reserve the numbers for the whole file at once: gap-free and one update.
        let first = {
            let bumped: Option<i32> = diesel::update(
                rc::ref_counters
                    .filter(rc::owner_unit_id.eq(owner.id))
                    .filter(rc::year.eq(year)),
            )
            .set(rc::last_seq.eq(rc::last_seq + rows.len() as i32))
            .returning(rc::last_seq)
            .get_result(conn)
            .optional()?;
            match bumped {
                Some(last) => last - rows.len() as i32 + 1,
                None => {
                    diesel::insert_into(rc::ref_counters)
                        .values((
                            rc::owner_unit_id.eq(owner.id),
                            rc::year.eq(year),
                            rc::last_seq.eq(rows.len() as i32),
                        ))
                        .execute(conn)?;
                    1
                }
            }
        };
        for (i, r) in rows.iter().enumerate() {
            let ref_no = format_ref_no(&format, &prefix, year, first + i as i32);
            let replied = r.reply.is_some() && reply_unit.is_some();
            let state = if replied {
                State::Replied
            } else {
                State::Registered
            };
            let days = config::reply_days(&rules, &r.level, platform, &r.category) as i64;
            let posted_day = to_china(r.posted_at).date();
            let due = replied.then(|| cal.add_working_days(posted_day, days));
            let id: i32 = diesel::insert_into(m::messages)
                .values((
                    m::ref_no.eq(&ref_no),
                    m::owner_unit_id.eq(owner.id),
                    m::level.eq(&r.level),
                    m::source_platform.eq(platform),
                    m::platform_ref.eq(&r.platform_ref),
                    m::complainant_name.eq(&r.name),
                    m::complainant_contact.eq(&r.contact),
                    m::title.eq(&r.title),
                    m::appeal.eq(&r.appeal),
                    m::posted_at.eq(r.posted_at),
                    m::category.eq(&r.category),
                    m::state.eq(state.as_str()),
                    m::version.eq(if replied { 4 } else { 1 }),
                    m::registered_at.eq(now),
                    m::extension_days.eq(0),
                    m::updated_at.eq(now),
                    m::handling_unit_id.eq(reply_unit.filter(|_| replied).map(|u| u.id)),
                    m::assigned_at.eq(replied.then_some(now)),
                    m::accepted_at.eq(replied.then_some(now)),
                    m::due_at.eq(due),
                    m::handling_summary.eq(r
                        .reply
                        .as_ref()
                        .filter(|_| replied)
                        .map(|x| x.0.clone())),
                    m::replied_at.eq(r.reply.as_ref().filter(|_| replied).map(|x| x.1)),
                ))
                .returning(m::id)
                .get_result(conn)?;
            let ev = |action: &'static str,
                      from: Option<State>,
                      to: State,
                      text: &'static str,
                      detail: serde_json::Value,
                      unit: i32| {
                event(id, now, acting, action, from, to, text, detail, unit)
            };
            chain::append(
                conn,
                &ev(
                    "register",
                    None,
                    State::Registered,
                    "",
                    serde_json::json!({ "ref_no": ref_no, "imported": file_name, "line": r.line }),
                    acting.unit_id,
                ),
            )?;
            if let (true, Some(u), Some((text, at))) = (replied, reply_unit, &r.reply) {
                chain::append(
                    conn,
                    &ev(
                        "assign",
                        Some(State::Registered),
                        State::Assigned,
                        "",
                        serde_json::json!({ "unit": u.name, "reply_days": days, "imported": true }),
                        acting.unit_id,
                    ),
                )?;
                chain::append(
                    conn,
                    &ev(
                        "accept",
                        Some(State::Assigned),
                        State::Handling,
                        "",
                        serde_json::json!({ "imported": true }),
                        u.id,
                    ),
                )?;
                let mut reply = ev(
                    "reply",
                    Some(State::Handling),
                    State::Replied,
                    "",
                    serde_json::json!({
                        "imported": true,
                        "replied_on": to_china(*at).format("%Y-%m-%d %H:%M").to_string(),
                    }),
                    u.id,
                );
                reply.text = text;
                chain::append(conn, &reply)?;
            }
            crate::search::index(conn, id)?;
        }
        Ok(rows.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
