//! Signed seals over what the archive shows (真实性): after every write, a message's seal
//! states how many events it has, the digest its event chain ends on and the digest of
//! its record (every column of its row — the 16 elements, 档号, 保管期限, the dates —
//! and every attachment's SHA-256), under a global sequence number, signed with the site's
//! SM2 key. The audit log has one seal of the same kind (records, last hash).
//!
//! The signed state holds the last sequence number, the number of seals and the sum of
//! their sequence numbers: a seal replaced by an older (genuinely signed) one lowers the
//! sum, a removed one the count. The state cannot be made newer without the key; an older
//! state put back (the whole database rolled back) is found by the anchor file beside the
//! key, which keeps the highest sequence number this server has seen.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::archive::signing::{self, Keyring};
use crate::attachments::Attachment;
use crate::db::schema::{
    audit_log::dsl as a, message_events::dsl as e, seal_state::dsl as st, seals::dsl as s,
};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::model::Message;

pub const MESSAGE: &str = "message";
pub const AUDIT: &str = "audit";
pub const ANCHOR_FILE: &str = "signing.anchor";

/// A stored seal.
#[derive(Queryable, Debug, Clone, PartialEq)]
pub struct Seal {
    pub subject: String,
    pub subject_id: i32,
    pub count: i64,
    pub head: String,
    pub content: String,
    pub gseq: i64,
    pub at: NaiveDateTime,
    pub key_id: String,
    pub signature: String,
}

#[derive(Queryable, Debug, Clone, Default)]
pub struct State {
    pub id: i32,
    pub gseq: i64,
    pub seals: i64,
    pub gseq_sum: i64,
    pub at: NaiveDateTime,
    pub key_id: String,
    pub signature: String,
}

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// The bytes a seal's signature covers.
#[allow(clippy::too_many_arguments)]
pub fn statement(
    subject: &str,
    subject_id: i32,
    count: i64,
    head: &str,
    content: &str,
    gseq: i64,
    at: NaiveDateTime,
) -> Vec<u8> {
    serde_json::json!([
        "liuyan-seal-1",
        subject,
        subject_id,
        count,
        head,
        content,
        gseq,
        stamp(at)
    ])
    .to_string()
    .into_bytes()
}

impl Seal {
    pub fn statement(&self) -> Vec<u8> {
        statement(
            &self.subject,
            self.subject_id,
            self.count,
            &self.head,
            &self.content,
            self.gseq,
            self.at,
        )
    }
}

impl State {
    pub fn statement(&self) -> Vec<u8> {
        state_statement(self.gseq, self.seals, self.gseq_sum, self.at)
    }
}

fn state_statement(gseq: i64, seals: i64, sum: i64, at: NaiveDateTime) -> Vec<u8> {
    serde_json::json!(["liuyan-state-1", gseq, seals, sum, stamp(at)])
        .to_string()
        .into_bytes()
}

/// The SM3 digest of everything a message's record holds: every column of its row and
/// its attachments (id, event, name, type, size, SHA-256).
pub fn record_digest(m: &Message, files: &[Attachment]) -> String {
    use sm3::{Digest, Sm3};
    let t = |v: &Option<NaiveDateTime>| v.map(stamp);
    let d = |v: &Option<chrono::NaiveDate>| v.map(|d| d.to_string());
    let row = serde_json::json!([
        m.id,
        m.ref_no,
        m.owner_unit_id,
        m.level,
        m.source_platform,
        m.platform_ref,
        m.complainant_name,
        m.complainant_contact,
        m.title,
        m.appeal,
        stamp(m.posted_at),
        m.category,
        m.handling_unit_id,
        m.forwarded_unit_id,
        m.state,
        m.version,
        stamp(m.registered_at),
        t(&m.assigned_at),
        d(&m.accept_due),
        t(&m.accepted_at),
        d(&m.due_at),
        m.extension_days,
        m.extension_requested_days,
        m.draft_reply,
        m.handling_summary,
        m.proposed_resolved,
        t(&m.replied_at),
        m.resolved,
        t(&m.closed_at),
        d(&m.followup_due),
        m.satisfaction,
        m.evaluation,
        t(&m.followed_up_at),
        m.report_ref_no,
        t(&m.reported_at),
        t(&m.archived_at),
        m.supervision_level,
        d(&m.supervision_due),
        stamp(m.updated_at),
        m.archive_no,
        m.retention,
        t(&m.forward_accepted_at),
        t(&m.no_reopen_at),
        m.duplicate_of,
        files
            .iter()
            .map(|f| serde_json::json!([
                f.id,
                f.event_seq,
                f.original_name,
                f.content_type,
                f.size_bytes,
                f.sha256
            ]))
            .collect::<Vec<_>>()
    ]);
    hex::encode(Sm3::digest(row.to_string().as_bytes()))
}

/// (count, head) of a message's event chain: how many events, and the SM3 link of the
/// last one.
fn message_head(conn: &mut DbConn, id: i32) -> QueryResult<(i64, String)> {
    let last: Option<(i32, String)> = e::message_events
        .filter(e::message_id.eq(id))
        .order(e::seq.desc())
        .select((e::seq, e::hash_sm3))
        .first(conn)
        .optional()?;
    let n: i64 = e::message_events
        .filter(e::message_id.eq(id))
        .count()
        .get_result(conn)?;
    Ok((n, last.map(|(_, h)| h).unwrap_or_default()))
}

/// (count, head) of the audit log's chain: sealed records and the last hash.
pub fn audit_head(conn: &mut DbConn) -> QueryResult<(i64, String)> {
    let last: Option<(Option<i64>, String)> = a::audit_log
        .filter(a::seal_seq.is_not_null())
        .order(a::seal_seq.desc())
        .select((a::seal_seq, a::hash))
        .first(conn)
        .optional()?;
    Ok(last
        .map(|(n, h)| (n.unwrap_or(0), h))
        .unwrap_or((0, String::new())))
}

/// What a message's seal says now, computed from the database.
pub fn message_facts(conn: &mut DbConn, id: i32) -> Result<(i64, String, String), AppError> {
    let msg: Message = crate::db::schema::messages::dsl::messages
        .find(id)
        .first(conn)?;
    let files = crate::attachments::for_message(conn, id)?;
    let (count, head) = message_head(conn, id)?;
    Ok((count, head, record_digest(&msg, &files)))
}

fn load_state(conn: &mut DbConn) -> QueryResult<Option<State>> {
    st::seal_state.find(1).first(conn).optional()
}

/// Seal these subjects as they are now, inside the caller's transaction, and sign the new
/// state once.
fn put(
    conn: &mut DbConn,
    ring: &Keyring,
    items: &[(&str, i32, i64, String, String)],
) -> QueryResult<()> {
    put_as(conn, ring, items, false)
}

/// `put`; `fresh`: the subjects are known to have no seal yet (their seals are written
/// in multi-row INSERTs).
fn put_as(
    conn: &mut DbConn,
    ring: &Keyring,
    items: &[(&str, i32, i64, String, String)],
    fresh: bool,
) -> QueryResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    if let DbConn::Pg(pg) = conn {
        // The audit log's lock: one writer of the global sequence at a time.
        diesel::sql_query("SELECT pg_advisory_xact_lock(7426001)").execute(pg)?;
    }
    let now = db::now();
    let old = load_state(conn)?;
    let (mut gseq, mut seals, mut sum) = old
        .as_ref()
        .map(|o| (o.gseq, o.seals, o.gseq_sum))
        .unwrap_or((0, 0, 0));
    let mut new_rows = Vec::new();
    for (subject, id, count, head, content) in items {
        let previous: Option<i64> = if fresh {
            None
        } else {
            s::seals
                .filter(s::subject.eq(*subject))
                .filter(s::subject_id.eq(*id))
                .select(s::gseq)
                .first(conn)
                .optional()?
        };
        gseq += 1;
        let body = statement(subject, *id, *count, head, content, gseq, now);
        let (key_id, signature) = ring.sign(&body);
        match previous {
            Some(p) => {
                sum = sum - p + gseq;
                diesel::update(
                    s::seals
                        .filter(s::subject.eq(*subject))
                        .filter(s::subject_id.eq(*id)),
                )
                .set((
                    s::count.eq(count),
                    s::head.eq(head),
                    s::content.eq(content),
                    s::gseq.eq(gseq),
                    s::at.eq(now),
                    s::key_id.eq(&key_id),
                    s::signature.eq(&signature),
                ))
                .execute(conn)?;
            }
            None => {
                sum += gseq;
                seals += 1;
                let row = (
                    s::subject.eq(*subject),
                    s::subject_id.eq(*id),
                    s::count.eq(*count),
                    s::head.eq(head.clone()),
                    s::content.eq(content.clone()),
                    s::gseq.eq(gseq),
                    s::at.eq(now),
                    s::key_id.eq(key_id),
                    s::signature.eq(signature),
                );
                if fresh {
                    new_rows.push(row);
                } else {
                    diesel::insert_into(s::seals).values(row).execute(conn)?;
                }
            }
        }
    }
    // 9 columns × 1,000 bound values per statement.
    for part in db::batches(new_rows, 1000) {
        crate::insert_rows!(conn, s::seals, part)?;
    }
    let (key_id, signature) = ring.sign(&state_statement(gseq, seals, sum, now));
    let values = (
        st::gseq.eq(gseq),
        st::seals.eq(seals),
        st::gseq_sum.eq(sum),
        st::at.eq(now),
        st::key_id.eq(&key_id),
        st::signature.eq(&signature),
    );
    if old.is_some() {
        diesel::update(st::seal_state.find(1))
            .set(values)
            .execute(conn)?;
    } else {
        diesel::insert_into(st::seal_state)
            .values((st::id.eq(1), values))
            .execute(conn)?;
    }
    Ok(())
}

/// A seal's content: the record's digest, then (after `;`) what was found wrong when it
/// was last renewed — kept in every later seal, so a later write cannot launder it.
pub fn split_content(content: &str) -> (&str, Option<&str>) {
    match content.split_once(';') {
        Some((d, note)) => (d, Some(note)),
        None => (content, None),
    }
}

fn with_note(digest: String, old: Option<&str>, new: Option<&str>) -> String {
    let notes: Vec<&str> = [old, new].into_iter().flatten().collect();
    if notes.is_empty() {
        digest
    } else {
        format!("{digest};{}", notes.join("；"))
    }
}

/// What is wrong with a seal against what the database holds now (pure).
pub fn compare(seal: &Seal, count: i64, head: &str, digest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (sealed, _) = split_content(&seal.content);
    if seal.count != count {
        out.push(format!(
            "签名封印记载{} {} 条，现有 {count} 条（记录被删除或添加）",
            if seal.subject == AUDIT {
                "审计记录"
            } else {
                "办理记录"
            },
            seal.count
        ));
    } else if seal.head != head {
        out.push(if seal.subject == AUDIT {
            "审计日志哈希链的末端与签名封印不符（记录被改动后重算了哈希链）".to_string()
        } else {
            "办理记录哈希链的末端与签名封印不符（记录被改动后重算了哈希链）".to_string()
        });
    }
    if seal.subject == MESSAGE && sealed != digest {
        out.push(
            "留言的记录与签名封印不符（要素、档号、保管期限、日期或附件被直接改动）".to_string(),
        );
    }
    out
}

/// Before a message is changed by an action: does it still match its seal? What is
/// wrong is recorded in the audit log and carried in its next seal.
pub fn check_before(conn: &mut DbConn, msg: &Message) -> Result<Option<String>, AppError> {
    let Some(seal) = seal_of(conn, MESSAGE, msg.id)? else {
        return Ok(None);
    };
    let files = crate::attachments::for_message(conn, msg.id)?;
    let (count, head) = message_head(conn, msg.id)?;
    let found = compare(&seal, count, &head, &record_digest(msg, &files));
    if found.is_empty() {
        return Ok(None);
    }
    let note = format!(
        "{} 办理前发现：{}",
        crate::clock::format_time(db::now()),
        found.join("，")
    );
    tracing::error!(message = msg.id, problem = %note, "留言记录与签名封印不符");
    crate::audit::record(
        conn,
        &crate::audit::Actor::system(),
        "tamper_found",
        &format!("留言 {}", msg.ref_no),
        crate::audit::FAILED,
        &note,
    )?;
    Ok(Some(note))
}

/// Seal messages as they are now (after their last write in this transaction).
pub fn seal_messages(conn: &mut DbConn, ids: &[i32]) -> Result<(), AppError> {
    let noted: Vec<(i32, Option<String>)> = ids.iter().map(|&id| (id, None)).collect();
    seal_noting(conn, &noted)
}

pub fn seal_message(conn: &mut DbConn, id: i32) -> Result<(), AppError> {
    seal_messages(conn, &[id])
}

/// Seal messages that have never been sealed (a bulk load: the generator), from what the
/// loader knows of them: (id, events, the last event's SM3 hash, `record_digest`).
pub fn seal_new_messages(
    conn: &mut DbConn,
    items: &[(i32, i64, String, String)],
) -> Result<(), AppError> {
    let ring = signing::current()?;
    let items: Vec<(&str, i32, i64, String, String)> = items
        .iter()
        .map(|(id, count, head, digest)| (MESSAGE, *id, *count, head.clone(), digest.clone()))
        .collect();
    for chunk in items.chunks(5_000) {
        put_as(conn, &ring, chunk, true)?;
    }
    Ok(())
}

/// Seal messages, each with what `check_before` found (if anything).
pub fn seal_noting(conn: &mut DbConn, ids: &[(i32, Option<String>)]) -> Result<(), AppError> {
    let ring = signing::current()?;
    let mut items = Vec::with_capacity(ids.len());
    for (id, note) in ids {
        let (count, head, digest) = message_facts(conn, *id)?;
        let old = seal_of(conn, MESSAGE, *id)?;
        let old_note = old.as_ref().and_then(|o| split_content(&o.content).1);
        items.push((
            MESSAGE,
            *id,
            count,
            head,
            with_note(digest, old_note, note.as_deref()),
        ));
    }
    for chunk in items.chunks(5_000) {
        put(conn, &ring, chunk)?;
    }
    Ok(())
}

/// Seal the audit log as it is now (inside `audit::record`'s transaction). When the
/// records the last seal ended on are no longer there as sealed (the log was cut or
/// rewritten), the new seal says so.
pub fn seal_audit(conn: &mut DbConn) -> QueryResult<()> {
    let Some(ring) = signing::installed() else {
        // Nothing signs without the site's key; `verify` reports the log as unsealed.
        tracing::error!("签名密钥未加载：审计日志未签名");
        return Ok(());
    };
    let (count, head) = audit_head(conn)?;
    let old = seal_of(conn, AUDIT, 0)?;
    let mut note = None;
    if let Some(o) = &old {
        let then: Option<String> = a::audit_log
            .filter(a::seal_seq.eq(o.count))
            .select(a::hash)
            .first(conn)
            .optional()?;
        if o.count > 0 && then.as_deref() != Some(o.head.as_str()) {
            note = Some(format!(
                "{} 写入时发现：签名封印记载的第 {} 条审计记录已不在或被改动（日志被截断或改写）",
                crate::clock::format_time(db::now()),
                o.count
            ));
        }
    }
    let old_note = old.as_ref().and_then(|o| split_content(&o.content).1);
    let content = with_note(String::new(), old_note, note.as_deref());
    put(conn, &ring, &[(AUDIT, 0, count, head, content)])
}

pub fn seal_of(conn: &mut DbConn, subject: &str, id: i32) -> QueryResult<Option<Seal>> {
    s::seals
        .filter(s::subject.eq(subject))
        .filter(s::subject_id.eq(id))
        .first(conn)
        .optional()
}

pub fn seals_of(conn: &mut DbConn, ids: &[i32]) -> QueryResult<Vec<Seal>> {
    s::seals
        .filter(s::subject.eq(MESSAGE))
        .filter(s::subject_id.eq_any(ids))
        .load(conn)
}

/// A key id other than `current` that signed some seal (after a key was lost).
pub fn other_key(conn: &mut DbConn, current: &str) -> QueryResult<Option<String>> {
    s::seals
        .filter(s::key_id.ne(current))
        .select(s::key_id)
        .first(conn)
        .optional()
}

pub fn state(conn: &mut DbConn) -> QueryResult<Option<State>> {
    load_state(conn)
}

/// (subject, id, number) of every seal, in key order, `limit` after `after`.
pub fn numbers_after(
    conn: &mut DbConn,
    after: (&str, i32),
    limit: i64,
) -> QueryResult<Vec<(String, i32, i64)>> {
    s::seals
        .filter(
            s::subject.gt(after.0.to_string()).or(s::subject
                .eq(after.0.to_string())
                .and(s::subject_id.gt(after.1))),
        )
        .order((s::subject, s::subject_id))
        .select((s::subject, s::subject_id, s::gseq))
        .limit(limit)
        .load(conn)
}

/// Messages without a seal (written before seals existed, or by a path that forgot).
pub fn unsealed(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<i32>> {
    use crate::db::schema::messages::dsl as m;
    let sealed = s::seals
        .filter(s::subject.eq(MESSAGE))
        .select(s::subject_id);
    m::messages
        .filter(m::id.ne_all(sealed))
        .select(m::id)
        .order(m::id)
        .limit(limit)
        .load(conn)
}

/// Seal every message that has no seal yet, and the audit log when unsealed (the first
/// start after the upgrade that brought seals). Returns how many messages were sealed.
pub fn backfill(conn: &mut DbConn) -> Result<usize, AppError> {
    use crate::db::schema::messages::dsl as m;
    // At every start: two counts, not a scan for unsealed messages, when nothing is
    // missing.
    let messages: i64 = m::messages.count().get_result(conn)?;
    let sealed: i64 = s::seals
        .filter(s::subject.eq(MESSAGE))
        .count()
        .get_result(conn)?;
    if sealed >= messages && seal_of(conn, AUDIT, 0)?.is_some() {
        return Ok(0);
    }
    let mut done = 0;
    loop {
        let ids = unsealed(conn, 5_000)?;
        if ids.is_empty() {
            break;
        }
        db::write_tx(conn, |c| seal_messages(c, &ids))?;
        done += ids.len();
        if done % 50_000 == 0 {
            tracing::info!(done, "正在为已有留言补签封印");
        }
    }
    if seal_of(conn, AUDIT, 0)?.is_none() {
        db::write_tx(conn, |c| seal_audit(c).map_err(AppError::from))?;
    }
    Ok(done)
}

/// The anchor beside the key: the highest global number this server has seen.
pub fn anchor_path(key_file: &Path) -> PathBuf {
    key_file.with_file_name(ANCHOR_FILE)
}

pub fn read_anchor(path: &Path) -> Option<i64> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Raise the anchor to `gseq` (never lowers it).
pub fn raise_anchor(path: &Path, gseq: i64) -> std::io::Result<()> {
    if read_anchor(path).is_some_and(|a| a >= gseq) {
        return Ok(());
    }
    let tmp = path.with_extension("anchor.new");
    std::fs::write(&tmp, gseq.to_string())?;
    std::fs::rename(tmp, path)
}
