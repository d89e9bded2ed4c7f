//! Verification of the four properties (真实性、完整性、可用性、安全性) as far as data can
//! show them: every event's chain link, the event count against the version, the state
//! against the last event, every attachment file against its recorded SHA-256, archived
//! records against the digest sealed at 销号, and 件号 without gaps.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;

use crate::archive::{chain, elements_digest};
use crate::attachments::{self, Store};
use crate::db::schema::{archive_counters::dsl as ac, messages::dsl as m};
use crate::db::DbConn;
use crate::error::AppError;
use crate::messages::model::{self, Message};

/// One problem found.
#[derive(Clone, Debug)]
pub struct Break {
    pub message_id: Option<i32>,
    pub ref_no: String,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub messages: usize,
    pub events: usize,
    pub files: usize,
    pub breaks: Vec<Break>,
}

/// Check one message; problems are appended to the report.
pub fn check_message(
    conn: &mut DbConn,
    store: &Store,
    msg: &Message,
    names: &HashMap<i32, String>,
    report: &mut Report,
) -> Result<(), AppError> {
    let brk = |what: String| Break {
        message_id: Some(msg.id),
        ref_no: msg.ref_no.clone(),
        what,
    };
    let mut found = Vec::new();
    let events = model::events(conn, msg.id)?;
    let files = attachments::for_message(conn, msg.id)?;
    report.messages += 1;
    report.events += events.len();
    report.files += files.len();
    let mut prev = (String::new(), String::new());
    let mut expected_seq = 1;
    for ev in &events {
        if ev.seq != expected_seq {
            found.push(brk(format!(
                "办理记录第 {expected_seq} 条缺失（记录可能被删除）"
            )));
        }
        expected_seq = ev.seq + 1;
        let with: Vec<(String, String)> = files
            .iter()
            .filter(|f| f.event_seq == ev.seq)
            .map(|f| (f.original_name.clone(), f.sha256.clone()))
            .collect();
        let body = chain::canonical(
            ev.message_id,
            ev.seq,
            ev.at,
            ev.user_id,
            &ev.actor_name,
            ev.unit_id,
            &ev.action,
            ev.from_state.as_deref(),
            &ev.to_state,
            &ev.text,
            &ev.detail,
            &with,
        );
        let (sha, sm3) = chain::link((&prev.0, &prev.1), &body);
        if sha != ev.hash || sm3 != ev.hash_sm3 {
            found.push(brk(format!(
                "办理记录第 {} 条（{}）与哈希链不符：记录或其附件登记被改动",
                ev.seq,
                crate::archive::event_label(&ev.action)
            )));
        }
        prev = (ev.hash.clone(), ev.hash_sm3.clone());
    }
    if events.len() as i32 != msg.version {
        found.push(brk(format!(
            "办理记录 {} 条，与版本号 {} 不符（记录可能被删除或添加）",
            events.len(),
            msg.version
        )));
    }
    if let Some(last) = events.last() {
        if last.to_state != msg.state {
            found.push(brk(
                "留言状态与最后一条办理记录不符（状态被直接改动）".to_string()
            ));
        }
    }
    for f in &files {
        let path = store.path_of(&f.stored_name);
        match chain::file_sha256(&path) {
            Ok(h) if h == f.sha256 => {}
            Ok(_) => found.push(brk(format!("附件“{}”的文件被改动", f.original_name))),
            Err(_) => found.push(brk(format!("附件“{}”的文件缺失", f.original_name))),
        }
    }
    if msg.state == "archived" {
        if msg.archive_no.is_none() {
            found.push(brk("已销号但没有档号".to_string()));
        }
        // The latest seal: 销号's, or that of a later 更正 of an element.
        let sealed = events
            .iter()
            .rev()
            .filter(|e| matches!(e.action.as_str(), "archive" | "amend"))
            .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok())
            .find_map(|d| {
                d.get("elements_sha256")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            });
        match sealed {
            Some(s) if s == elements_digest(msg, names) => {}
            Some(_) => found.push(brk(
                "已销号档案的要素被改动（与销号时封存的摘要不符）".to_string()
            )),
            None => found.push(brk("销号记录中没有要素摘要".to_string())),
        }
    }
    report.breaks.extend(found);
    Ok(())
}

/// 件号 gaps: for every counter, every number from 1 to its last must be in use.
pub fn check_pieces(conn: &mut DbConn, report: &mut Report) -> Result<(), AppError> {
    let counters: Vec<(String, i32, String, String, i32)> = ac::archive_counters
        .select((
            ac::fonds,
            ac::year,
            ac::retention,
            ac::unit_code,
            ac::last_seq,
        ))
        .load(conn)?;
    let numbers: Vec<String> = m::messages
        .filter(m::archive_no.is_not_null())
        .select(m::archive_no.assume_not_null())
        .load(conn)?;
    let mut used: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for n in &numbers {
        if let Some((prefix, piece)) = n.rsplit_once('-') {
            if let Ok(p) = piece.parse::<i32>() {
                used.entry(prefix.to_string()).or_default().push(p);
            }
        }
    }
    let (_, category, _) = crate::archive::settings(conn)?;
    for (fonds, year, retention, unit, last) in counters {
        let code = crate::archive::retention_code(&retention).unwrap_or("?");
        let prefix = format!("{fonds}-{category}·{year}-{code}-{unit}");
        let have = used.get(&prefix).cloned().unwrap_or_default();
        for p in 1..=last {
            if !have.contains(&p) {
                report.breaks.push(Break {
                    message_id: None,
                    ref_no: String::new(),
                    what: format!("件号缺失：{prefix}-{p:04}"),
                });
            }
        }
    }
    Ok(())
}

/// Check the given messages (all when `ids` is None) and the 件号 sequence.
pub fn run(conn: &mut DbConn, store: &Store, ids: Option<&[i32]>) -> Result<Report, AppError> {
    let names: HashMap<i32, String> = crate::units::all(conn)?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let mut report = Report::default();
    let all_ids: Vec<i32> = match ids {
        Some(v) => v.to_vec(),
        None => m::messages.select(m::id).order(m::id).load(conn)?,
    };
    for chunk in all_ids.chunks(500) {
        let msgs: Vec<Message> = m::messages
            .filter(m::id.eq_any(chunk))
            .order(m::id)
            .load(conn)?;
        for msg in &msgs {
            check_message(conn, store, msg, &names, &mut report)?;
        }
    }
    check_pieces(conn, &mut report)?;
    Ok(report)
}
