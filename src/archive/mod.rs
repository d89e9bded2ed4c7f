//! 记实档案: the 16 elements as printed, the printed content and its fingerprint (纸电一致),
//! 档号 and 保管期限 (DA/T 22-2015), print records, and the hash chain (`chain`) with its
//! verification (`verify`).

pub mod chain;
pub mod guards;
pub mod ledger;
pub mod package;
pub mod periods;
pub mod prints;
pub mod signing;
pub mod verify;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use sha2::{Digest, Sha256};

use crate::attachments::Attachment;
use crate::clock::format_time;
use crate::db::schema::{archive_counters::dsl as ac, archive_prints::dsl as ap};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::lifecycle::Action;
use crate::messages::model::{mask_contact, Event, Message};
use crate::units::Unit;

/// 保管期限 with their DA/T 22-2015 codes.
pub const RETENTIONS: [(&str, &str); 3] = [("永久", "Y"), ("30年", "D30"), ("10年", "D10")];
pub const FONDS_KEY: &str = "archive_fonds";
pub const DEFAULT_FONDS: &str = "A001";
pub const CATEGORY_CODE_KEY: &str = "archive_category_code";
pub const DEFAULT_CATEGORY_CODE: &str = "WS";
pub const RETENTION_KEY: &str = "archive_retention_default";
pub const DEFAULT_RETENTION: &str = "30年";

pub fn retention_code(r: &str) -> Option<&'static str> {
    RETENTIONS.iter().find(|(n, _)| *n == r).map(|(_, c)| *c)
}

/// The archive settings: (全宗号, 门类代码, default 保管期限).
pub fn settings(conn: &mut DbConn) -> QueryResult<(String, String, String)> {
    Ok((
        db::get_setting(conn, FONDS_KEY)?.unwrap_or_else(|| DEFAULT_FONDS.to_string()),
        db::get_setting(conn, CATEGORY_CODE_KEY)?
            .unwrap_or_else(|| DEFAULT_CATEGORY_CODE.to_string()),
        db::get_setting(conn, RETENTION_KEY)?.unwrap_or_else(|| DEFAULT_RETENTION.to_string()),
    ))
}

/// The 机构代码 of a unit in a 档号: its code, or `U` and its id.
pub fn unit_code(unit: &Unit) -> String {
    unit.code
        .clone()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| format!("U{:04}", unit.id))
}

/// 全宗号-门类代码·年度-保管期限代码-机构代码-件号.
pub fn format_archive_no(
    fonds: &str,
    category: &str,
    year: i32,
    retention_code: &str,
    unit_code: &str,
    piece: i32,
) -> String {
    format!("{fonds}-{category}·{year}-{retention_code}-{unit_code}-{piece:04}")
}

/// The next 件号 for (fonds, year, retention, unit), gap-free, inside the caller's
/// transaction (the same pattern as the 文号 counter).
pub fn next_piece(
    conn: &mut DbConn,
    fonds: &str,
    year: i32,
    retention: &str,
    unit_code: &str,
) -> Result<i32, AppError> {
    let key = ac::archive_counters
        .filter(ac::fonds.eq(fonds))
        .filter(ac::year.eq(year))
        .filter(ac::retention.eq(retention))
        .filter(ac::unit_code.eq(unit_code));
    let bump = |conn: &mut DbConn| -> QueryResult<Option<i32>> {
        diesel::update(key)
            .set(ac::last_seq.eq(ac::last_seq + 1))
            .returning(ac::last_seq)
            .get_result::<i32>(conn)
            .optional()
    };
    if let Some(n) = bump(conn)? {
        return Ok(n);
    }
    let inserted = conn.transaction(|c| {
        diesel::insert_into(ac::archive_counters)
            .values((
                ac::fonds.eq(fonds),
                ac::year.eq(year),
                ac::retention.eq(retention),
                ac::unit_code.eq(unit_code),
                ac::last_seq.eq(1),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(1),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            bump(conn)?.ok_or_else(|| AppError::internal("archive counter vanished"))
        }
        Err(other) => Err(other.into()),
    }
}

/// One of the 16 elements as shown and printed.
#[derive(Clone, Debug)]
pub struct Element {
    pub no: usize,
    pub name: &'static str,
    pub value: String,
    pub missing: bool,
    pub long: bool,
}

/// The 16 elements in DESIGN §2 order; 联系方式 masked, as everywhere outside the
/// explicit full view.
pub fn elements(msg: &Message, names: &HashMap<i32, String>) -> Vec<Element> {
    let name_of = |id: Option<i32>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let evaluation = match (&msg.satisfaction, &msg.evaluation) {
        (Some(s), Some(w)) if !w.is_empty() => format!("{s}：{w}"),
        (Some(s), _) => s.clone(),
        _ => String::new(),
    };
    let values: [(&str, String, bool); 16] = [
        ("留言文号", msg.ref_no.clone(), false),
        ("级别", msg.level.clone(), false),
        (
            "留言来源平台",
            match &msg.platform_ref {
                Some(p) => format!("{}（平台编号 {p}）", msg.source_platform),
                None => msg.source_platform.clone(),
            },
            false,
        ),
        ("反映人", msg.complainant_name.clone(), false),
        ("联系方式", mask_contact(&msg.complainant_contact), false),
        ("留言标题", msg.title.clone(), false),
        ("主要诉求", msg.appeal.clone(), true),
        ("留言时间", format_time(msg.posted_at), false),
        ("核办单位", name_of(msg.handling_unit_id), false),
        (
            "到期时间",
            msg.due_at
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            false,
        ),
        ("所属类型", msg.category.clone(), false),
        ("办理情况", opt(&msg.handling_summary), true),
        (
            "是否化解",
            match msg.resolved {
                Some(true) => "已化解".to_string(),
                Some(false) => "未化解".to_string(),
                None => String::new(),
            },
            false,
        ),
        ("评价内容", evaluation, true),
        (
            "回访时间",
            msg.followed_up_at.map(format_time).unwrap_or_default(),
            false,
        ),
        ("呈报文号", opt(&msg.report_ref_no), false),
    ];
    values
        .into_iter()
        .enumerate()
        .map(|(i, (name, value, long))| Element {
            no: i + 1,
            name,
            missing: value.trim().is_empty(),
            value,
            long,
        })
        .collect()
}

/// The digest of the 16 elements with the full contact, written into the 销号 event so
/// that a later direct edit of an archived record is detected.
pub fn elements_digest(msg: &Message, names: &HashMap<i32, String>) -> String {
    let mut v: Vec<(String, String)> = elements(msg, names)
        .into_iter()
        .map(|e| (e.name.to_string(), e.value))
        .collect();
    v.push((
        "联系方式（完整）".to_string(),
        msg.complainant_contact.clone(),
    ));
    hex::encode(Sha256::digest(
        serde_json::to_string(&v).unwrap_or_default().as_bytes(),
    ))
}

/// The Chinese name of an event's action.
pub fn event_label(action: &str) -> String {
    if action == "register" {
        "登记".to_string()
    } else if action == crate::import::PLATFORM_REPLY {
        "平台答复（导入）".to_string()
    } else {
        Action::parse(action)
            .map(|a| a.label().to_string())
            .unwrap_or_else(|| action.to_string())
    }
}

/// An event's text as the archive records it: a correction's old → new value before its
/// reason.
pub fn event_text(ev: &Event) -> String {
    let detail = serde_json::from_str(&ev.detail).unwrap_or(serde_json::Value::Null);
    match crate::messages::correction::describe(&detail) {
        Some(line) if ev.text.is_empty() => line,
        Some(line) => format!("{line}（理由：{}）", ev.text),
        None => ev.text.clone(),
    }
}

/// Everything an archive page prints, as (label, value) pairs in print order. The
/// fingerprint is computed over exactly this, and a paper copy is compared item by item.
pub fn printed_content(
    msg: &Message,
    names: &HashMap<i32, String>,
    events: &[Event],
    files: &[Attachment],
) -> Vec<(String, String)> {
    let mut v = vec![
        (
            "档号".to_string(),
            msg.archive_no.clone().unwrap_or_default(),
        ),
        (
            "保管期限".to_string(),
            msg.retention.clone().unwrap_or_default(),
        ),
    ];
    for e in elements(msg, names) {
        v.push((format!("{}.{}", e.no, e.name), e.value));
    }
    for ev in events {
        let unit = ev
            .unit_id
            .and_then(|u| names.get(&u).cloned())
            .unwrap_or_default();
        v.push((
            format!("办理记录{}", ev.seq),
            format!(
                "{} {} {} {}：{}",
                format_time(ev.at),
                unit,
                ev.actor_name,
                event_label(&ev.action),
                event_text(ev)
            ),
        ));
    }
    for f in files {
        v.push((
            format!("附件{}", f.id),
            format!("{} {}", f.original_name, f.sha256),
        ));
    }
    v
}

/// A short, readable fingerprint of printed content: 12 hex digits in three groups.
pub fn fingerprint(content: &[(String, String)]) -> String {
    let digest = hex::encode_upper(Sha256::digest(
        serde_json::to_string(content)
            .unwrap_or_default()
            .as_bytes(),
    ));
    format!("{}-{}-{}", &digest[0..4], &digest[4..8], &digest[8..12])
}

/// Normalise a typed or scanned fingerprint: upper case, dashes where they belong.
pub fn normalise_fingerprint(s: &str) -> Option<String> {
    let hexes: String = s
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (hexes.len() == 12).then(|| format!("{}-{}-{}", &hexes[0..4], &hexes[4..8], &hexes[8..12]))
}

/// One difference between a paper copy and the record now.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub label: String,
    pub printed: String,
    pub now: String,
}

/// What changed between two printed contents (added, removed or different items).
pub fn diff(printed: &[(String, String)], now: &[(String, String)]) -> Vec<Change> {
    let old: HashMap<&str, &str> = printed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let new: HashMap<&str, &str> = now.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut out = Vec::new();
    for (k, v) in now {
        match old.get(k.as_str()) {
            Some(o) if *o == v => {}
            o => out.push(Change {
                label: k.clone(),
                printed: o
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "（无）".to_string()),
                now: v.clone(),
            }),
        }
    }
    for (k, v) in printed {
        if !new.contains_key(k.as_str()) {
            out.push(Change {
                label: k.clone(),
                printed: v.clone(),
                now: "（无）".to_string(),
            });
        }
    }
    out
}

#[derive(Queryable, Debug, Clone)]
pub struct Print {
    pub id: i32,
    pub message_id: i32,
    pub printed_at: NaiveDateTime,
    pub user_id: Option<i32>,
    pub actor_name: String,
    pub unit_id: Option<i32>,
    pub fingerprint: String,
    pub content: String,
}

impl Print {
    pub fn content(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.content).unwrap_or_default()
    }
}

/// Record a print of this content (one row per archive printed).
pub fn record_print(
    conn: &mut DbConn,
    message_id: i32,
    user_id: i32,
    actor_name: &str,
    unit_id: i32,
    content: &[(String, String)],
) -> QueryResult<String> {
    let fp = fingerprint(content);
    diesel::insert_into(ap::archive_prints)
        .values((
            ap::message_id.eq(message_id),
            ap::printed_at.eq(db::now()),
            ap::user_id.eq(user_id),
            ap::actor_name.eq(actor_name),
            ap::unit_id.eq(unit_id),
            ap::fingerprint.eq(&fp),
            ap::content.eq(serde_json::to_string(content).unwrap_or_default()),
        ))
        .execute(conn)?;
    Ok(fp)
}

pub fn latest_print(conn: &mut DbConn, message_id: i32) -> QueryResult<Option<Print>> {
    ap::archive_prints
        .filter(ap::message_id.eq(message_id))
        .order(ap::id.desc())
        .first(conn)
        .optional()
}

pub fn print_count(conn: &mut DbConn, message_id: i32) -> QueryResult<i64> {
    ap::archive_prints
        .filter(ap::message_id.eq(message_id))
        .count()
        .get_result(conn)
}

pub fn prints_by_fingerprint(conn: &mut DbConn, fp: &str) -> QueryResult<Vec<Print>> {
    ap::archive_prints
        .filter(ap::fingerprint.eq(fp))
        .order(ap::id.desc())
        .load(conn)
}

/// Paper against record: None when never printed, else the differences since the
/// latest print (empty = 一致).
pub fn paper_status(latest: Option<&Print>, now: &[(String, String)]) -> Option<Vec<Change>> {
    latest.map(|p| diff(&p.content(), now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn archive_numbers_follow_da_t_22() {
        assert_eq!(
            format_archive_no("A001", "WS", 2026, "D30", "520402", 7),
            "A001-WS·2026-D30-520402-0007"
        );
        assert_eq!(retention_code("永久"), Some("Y"));
        assert_eq!(retention_code("5年"), None);
    }

    #[test]
    fn fingerprints_and_differences() {
        let a = kv(&[
            ("1.留言文号", "安网留〔2026〕0001号"),
            ("办理记录1", "登记"),
        ]);
        let mut b = a.clone();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 14);
        b.push(("办理记录2".into(), "转办".into()));
        b[0].1 = "安网留〔2026〕0002号".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].label, "1.留言文号");
        assert_eq!(d[1].printed, "（无）");
        assert_eq!(
            normalise_fingerprint(" ab12 cd34-ef56 "),
            Some("AB12-CD34-EF56".into())
        );
        assert_eq!(normalise_fingerprint("AB12"), None);
    }
}
