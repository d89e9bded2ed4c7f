//! Verification of the four properties (真实性、完整性、可用性、安全性) as far as data can
//! show them, in one run: every event's chain link, the event count against the version,
//! the state against the last event, every attachment file against its recorded SHA-256,
//! archived records against the digest sealed at 销号, every message's signed seal (its
//! count, chain head and record digest, and the SM2 signature), the signed state of all
//! seals (none removed, none replaced by an older one, the database not rolled back past
//! the anchor), the audit log's chain and seal, the protective triggers, and 件号 without
//! gaps.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use diesel::prelude::*;

use crate::archive::ledger::{self, Seal};
use crate::archive::signing::{Bad, Keyring};
use crate::archive::{chain, elements_digest, guards};
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
    /// Signatures checked (message seals, the audit seal, the state).
    pub signatures: usize,
    pub audit_records: usize,
    /// Temporary uploads abandoned by a crash, removed by this run.
    pub swept: usize,
    pub breaks: Vec<Break>,
    /// Signatures still to check: (message id, 文号, seal).
    pending: Vec<(i32, String, Seal)>,
    /// Signatures by keys the ring does not know: key id → (count, first 文号).
    unknown: BTreeMap<String, (usize, Vec<String>)>,
    /// Messages whose sealed 反映人 or 联系方式 do not open with this site's key:
    /// (count, first 文号).
    unreadable: (usize, Vec<String>),
}

impl<'a> Site<'a> {
    /// The site as configured, over its attachment store and key ring.
    pub fn of(store: &'a Store, ring: &'a Keyring, config: &crate::config::Config) -> Site<'a> {
        Site {
            store,
            ring,
            anchor: Some(ledger::anchor_path(&config.signing_key_path())),
            refuse: config.guards_refuse,
        }
    }
}

impl Report {
    /// The one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "已核验留言 {} 条、办理记录 {} 条、附件 {} 个、签名 {} 个、审计记录 {} 条{}：{}",
            self.messages,
            self.events,
            self.files,
            self.signatures,
            self.audit_records,
            match self.swept {
                0 => String::new(),
                n => format!("，清理遗留的临时上传文件 {n} 个"),
            },
            if self.breaks.is_empty() {
                "未发现问题。".to_string()
            } else {
                format!("发现 {} 个问题。", self.breaks.len())
            }
        )
    }
}

/// What a run needs besides the database.
pub struct Site<'a> {
    pub store: &'a Store,
    pub ring: &'a Keyring,
    /// The anchor file beside the key (None: not checked).
    pub anchor: Option<PathBuf>,
    /// Report missing guards without putting them back.
    pub refuse: bool,
}

fn general(what: String) -> Break {
    Break {
        message_id: None,
        ref_no: String::new(),
        what,
    }
}

/// A signature that did not verify: (message id, 文号, key id, why).
type Failure = (i32, String, String, Bad);

/// Check a batch of seals' signatures; returns how many were checked and the failures.
fn check_batch(ring: &Keyring, batch: Vec<(i32, String, Seal)>) -> (usize, Vec<Failure>) {
    let n = batch.len();
    let bad = batch
        .into_iter()
        .filter_map(|(id, ref_no, seal)| {
            ring.verify(&seal.key_id, &seal.statement(), &seal.signature)
                .err()
                .map(|why| (id, ref_no, seal.key_id, why))
        })
        .collect();
    (n, bad)
}

fn record_failure(report: &mut Report, (id, ref_no, key_id, why): Failure) {
    match why {
        Bad::UnknownKey => {
            let e = report.unknown.entry(key_id).or_default();
            e.0 += 1;
            if e.1.len() < 5 {
                e.1.push(ref_no);
            }
        }
        Bad::Invalid => report.breaks.push(Break {
            message_id: Some(id),
            ref_no,
            what: "签名封印的签名无效（封印被伪造或改写）".to_string(),
        }),
    }
}

/// Check the signatures collected so far (one message's).
fn finish_signatures(ring: &Keyring, report: &mut Report) {
    let (n, bad) = check_batch(ring, std::mem::take(&mut report.pending));
    report.signatures += n;
    for failure in bad {
        record_failure(report, failure);
    }
}

/// Check one message, its seal and the seal's signature.
pub fn message(conn: &mut DbConn, site: &Site, msg: &Message) -> Result<Report, AppError> {
    let names: HashMap<i32, String> = crate::units::all(conn)?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let mut report = Report::default();
    let seal = ledger::seal_of(conn, ledger::MESSAGE, msg.id)?;
    check_message(conn, site.store, msg, seal.as_ref(), &names, &mut report)?;
    finish_signatures(site.ring, &mut report);
    report_unknown(&mut report);
    Ok(report)
}

/// Signatures by unknown keys, one problem per key; sealed personal data that does not
/// open, as one problem saying the likely cause.
fn report_unknown(report: &mut Report) {
    let (n, examples) = std::mem::take(&mut report.unreadable);
    if n > 0 {
        report.breaks.push(general(format!(
            "{n} 条留言的反映人或联系方式无法用本机的加密密钥解密（如 {}）：恢复或迁移时应先把原数据目录中的 secret.key 复制过来（或设置相同的 LIUYAN_SECRET_KEY）；否则为直接改动",
            examples.join("、")
        )));
    }
    for (key, (n, examples)) in std::mem::take(&mut report.unknown) {
        report.breaks.push(general(format!(
            "{n} 个签名由本机密钥环中没有的密钥 {key} 签署（如 {}）：若签名密钥已丢失，请用 liuyan keys trust 导入原公钥；否则为伪造",
            examples.join("、")
        )));
    }
}

/// Check one message; problems are appended to the report.
fn check_message(
    conn: &mut DbConn,
    store: &Store,
    msg: &Message,
    seal: Option<&Seal>,
    names: &HashMap<i32, String>,
    report: &mut Report,
) -> Result<(), AppError> {
    let brk = |what: String| Break {
        message_id: Some(msg.id),
        ref_no: msg.ref_no.clone(),
        what,
    };
    let mut found = Vec::new();
    let unreadable = crate::messages::personal::UNREADABLE;
    if msg.complainant_name == unreadable || msg.complainant_contact == unreadable {
        report.unreadable.0 += 1;
        if report.unreadable.1.len() < 3 {
            report.unreadable.1.push(msg.ref_no.clone());
        }
    }
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
    match seal {
        None => found.push(brk("没有签名封印（记录在封印之外被写入）".to_string())),
        Some(seal) => {
            let count = events.len() as i64;
            let head = events
                .last()
                .map(|e| e.hash_sm3.clone())
                .unwrap_or_default();
            let digest = ledger::record_digest(msg, &files);
            for what in ledger::compare(seal, count, &head, &digest) {
                found.push(brk(what));
            }
            if let Some(note) = ledger::split_content(&seal.content).1 {
                found.push(brk(format!("签名封印记载：{note}")));
            }
            report
                .pending
                .push((msg.id, msg.ref_no.clone(), seal.clone()));
        }
    }
    if msg.state == "archived" {
        if msg.archive_no.is_none() {
            found.push(brk("已销号但没有档号".to_string()));
        }
        let code = msg
            .retention
            .as_deref()
            .and_then(crate::archive::retention_code);
        let in_no = msg.archive_no.as_deref().and_then(|n| n.split('-').nth(2));
        if code.is_none() || in_no.is_some() && in_no != code {
            found.push(brk(format!(
                "保管期限“{}”与档号 {} 不符（保管期限被改动）",
                msg.retention.as_deref().unwrap_or("（空）"),
                msg.archive_no.as_deref().unwrap_or("")
            )));
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

/// Check the given messages (all when `ids` is None: then also the seals' state, the
/// audit log, the guards and the 件号 sequence).
pub fn run(conn: &mut DbConn, site: &Site, ids: Option<&[i32]>) -> Result<Report, AppError> {
    let names: HashMap<i32, String> = crate::units::all(conn)?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let mut report = Report::default();
    let all_ids: Vec<i32> = match ids {
        Some(v) => v.to_vec(),
        None => m::messages.select(m::id).order(m::id).load(conn)?,
    };
    // The signatures are checked by worker threads while this one reads on: the two are
    // the bulk of the work, and SM2 verification uses every core.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(i32, String, Seal)>>(threads * 2);
    let rx = std::sync::Mutex::new(rx);
    let checked = std::sync::Mutex::new((0usize, Vec::new()));
    std::thread::scope(|sc| -> Result<(), AppError> {
        for _ in 0..threads {
            sc.spawn(|| loop {
                let batch = match rx.lock() {
                    Ok(r) => r.recv(),
                    Err(_) => break,
                };
                let Ok(batch) = batch else { break };
                let (n, bad) = check_batch(site.ring, batch);
                if let Ok(mut c) = checked.lock() {
                    c.0 += n;
                    c.1.extend(bad);
                }
            });
        }
        let result = (|| {
            for chunk in all_ids.chunks(500) {
                let msgs: Vec<Message> = m::messages
                    .filter(m::id.eq_any(chunk))
                    .order(m::id)
                    .load(conn)?;
                let seals: HashMap<i32, Seal> = ledger::seals_of(conn, chunk)?
                    .into_iter()
                    .map(|s| (s.subject_id, s))
                    .collect();
                for msg in &msgs {
                    check_message(
                        conn,
                        site.store,
                        msg,
                        seals.get(&msg.id),
                        &names,
                        &mut report,
                    )?;
                }
                let batch = std::mem::take(&mut report.pending);
                if tx.send(batch).is_err() {
                    return Err(AppError::internal("signature checkers stopped"));
                }
            }
            Ok(())
        })();
        drop(tx);
        result
    })?;
    let (n, bad) = checked.into_inner().unwrap_or_else(|p| p.into_inner());
    report.signatures += n;
    for failure in bad {
        record_failure(&mut report, failure);
    }
    if ids.is_none() {
        let known: HashSet<i32> = all_ids.iter().copied().collect();
        check_state(conn, site, &known, &mut report)?;
        check_audit(conn, site.ring, &mut report)?;
        check_pieces(conn, &mut report)?;
        check_files(conn, site.store, &mut report)?;
        // Last: putting a guard back writes to the audit log.
        let gone = guards::watch(conn, site.refuse)?;
        for g in gone {
            let line = format!(
                "数据库保护缺失：{}（{}）{}",
                g.name,
                g.what,
                if site.refuse || g.name == "superuser" {
                    ""
                } else {
                    "，已恢复"
                }
            );
            report.breaks.push(general(line));
        }
    }
    report_unknown(&mut report);
    Ok(report)
}

/// The store against the records: files nobody refers to, referenced files that are
/// gone (message attachments are also named per message above; score evidence only
/// here), and temporary uploads left by a crash swept.
fn check_files(conn: &mut DbConn, store: &Store, report: &mut Report) -> Result<(), AppError> {
    let found = attachments::check_store(conn, store)?;
    report.swept = found.swept;
    let evidence: Vec<String> = crate::db::schema::score_entries::table
        .select(crate::db::schema::score_entries::evidence_stored)
        .filter(crate::db::schema::score_entries::evidence_stored.is_not_null())
        .load::<Option<String>>(conn)?
        .into_iter()
        .flatten()
        .collect();
    for name in found.missing.iter().filter(|n| evidence.contains(n)) {
        report
            .breaks
            .push(general(format!("考评证明材料的文件缺失：{name}")));
    }
    const SHOWN: usize = 20;
    for name in found.orphans.iter().take(SHOWN) {
        report.breaks.push(general(format!(
            "附件目录中有未登记的文件：{name}（没有任何记录引用它）"
        )));
    }
    if found.orphans.len() > SHOWN {
        report.breaks.push(general(format!(
            "另有 {} 个未登记的文件未逐一列出",
            found.orphans.len() - SHOWN
        )));
    }
    Ok(())
}

/// The seals as a whole against their signed state, and the state against the anchor.
fn check_state(
    conn: &mut DbConn,
    site: &Site,
    known: &HashSet<i32>,
    report: &mut Report,
) -> Result<(), AppError> {
    let (mut n, mut sum, mut top) = (0i64, 0i128, 0i64);
    let mut after = (String::new(), 0);
    loop {
        let page = ledger::numbers_after(conn, (&after.0, after.1), 20_000)?;
        let Some(last) = page.last() else { break };
        after = (last.0.clone(), last.1);
        for (subject, id, gseq) in &page {
            n += 1;
            sum += i128::from(*gseq);
            top = top.max(*gseq);
            if subject == ledger::MESSAGE && !known.contains(id) {
                report.breaks.push(general(format!(
                    "留言 #{id} 有签名封印，但留言已不存在（留言被删除）"
                )));
            }
        }
    }
    let Some(state) = ledger::state(conn)? else {
        if n > 0 {
            report
                .breaks
                .push(general("签名状态记录缺失（被删除）".to_string()));
        }
        return Ok(());
    };
    report.signatures += 1;
    match site
        .ring
        .verify(&state.key_id, &state.statement(), &state.signature)
    {
        Ok(()) => {}
        Err(Bad::UnknownKey) => {
            let e = report.unknown.entry(state.key_id.clone()).or_default();
            e.0 += 1;
        }
        Err(Bad::Invalid) => report.breaks.push(general(
            "签名状态的签名无效（状态被伪造或改写）".to_string(),
        )),
    }
    if state.seals != n {
        report.breaks.push(general(format!(
            "签名状态记载封印 {} 个，现有 {n} 个（封印被删除或添加）",
            state.seals
        )));
    } else if i128::from(state.gseq_sum) != sum {
        report.breaks.push(general(
            "有签名封印被换成了较早的版本（回放旧封印，其后的记录可能被删除）".to_string(),
        ));
    }
    if top > state.gseq {
        report.breaks.push(general(format!(
            "有封印的序号 {top} 超过签名状态的 {}（封印被伪造）",
            state.gseq
        )));
    }
    if let Some(path) = &site.anchor {
        match ledger::read_anchor(path) {
            Some(a) if a > state.gseq => report.breaks.push(general(format!(
                "数据库被回退：本机已见到第 {a} 个签名，数据库的签名状态只到第 {} 个（恢复备份之外的回退，或旧数据库被放回）",
                state.gseq
            ))),
            _ => {
                if let Err(e) = ledger::raise_anchor(path, state.gseq) {
                    tracing::error!(error = %e, "无法写入签名锚点文件");
                }
            }
        }
    }
    Ok(())
}

/// The audit log's chain and its signed seal.
fn check_audit(conn: &mut DbConn, ring: &Keyring, report: &mut Report) -> Result<(), AppError> {
    let (checked, problems) = crate::audit::verify(conn)?;
    report.audit_records = checked;
    for p in problems {
        report.breaks.push(general(format!("审计日志：{p}")));
    }
    let (count, head) = ledger::audit_head(conn)?;
    match ledger::seal_of(conn, ledger::AUDIT, 0)? {
        None if count > 0 => report
            .breaks
            .push(general("审计日志没有签名封印".to_string())),
        None => {}
        Some(seal) => {
            for what in ledger::compare(&seal, count, &head, "") {
                report.breaks.push(general(format!("审计日志：{what}")));
            }
            if let Some(note) = ledger::split_content(&seal.content).1 {
                report
                    .breaks
                    .push(general(format!("审计日志的签名封印记载：{note}")));
            }
            report.signatures += 1;
            match ring.verify(&seal.key_id, &seal.statement(), &seal.signature) {
                Ok(()) => {}
                Err(Bad::UnknownKey) => {
                    let e = report.unknown.entry(seal.key_id.clone()).or_default();
                    e.0 += 1;
                    if e.1.len() < 5 {
                        e.1.push("审计日志".to_string());
                    }
                }
                Err(Bad::Invalid) => report.breaks.push(general(
                    "审计日志签名封印的签名无效（封印被伪造或改写）".to_string(),
                )),
            }
        }
    }
    Ok(())
}
