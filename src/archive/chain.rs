//! The hash chain over a message's events (真实性、完整性): each event's hash covers its
//! own fields, the names and SHA-256 of the files attached with it, and the previous
//! event's hash — in SHA-256 and, beside it, SM3 (GB/T 32905). Events are appended only
//! through `append`, so every event is chained from the moment it is written.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use sm3::Sm3;

use crate::db::schema::message_events::dsl as e;
use crate::db::DbConn;

/// An event about to be appended.
pub struct NewEvent<'a> {
    pub message_id: i32,
    pub at: NaiveDateTime,
    pub user_id: Option<i32>,
    pub actor_name: &'a str,
    pub unit_id: Option<i32>,
    pub action: &'a str,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    pub text: &'a str,
    pub detail: String,
    /// (file name, SHA-256) of the files attached with this event, in order.
    pub files: Vec<(String, String)>,
}

/// The bytes an event's hash is computed over.
#[allow(clippy::too_many_arguments)]
pub fn canonical(
    message_id: i32,
    seq: i32,
    at: NaiveDateTime,
    user_id: Option<i32>,
    actor_name: &str,
    unit_id: Option<i32>,
    action: &str,
    from_state: Option<&str>,
    to_state: &str,
    text: &str,
    detail: &str,
    files: &[(String, String)],
) -> Vec<u8> {
    serde_json::json!([
        message_id,
        seq,
        at.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        user_id,
        actor_name,
        unit_id,
        action,
        from_state,
        to_state,
        text,
        detail,
        files
    ])
    .to_string()
    .into_bytes()
}

/// (SHA-256, SM3) of an event, chained to the previous event's pair.
pub fn link(prev: (&str, &str), body: &[u8]) -> (String, String) {
    let mut a = Sha256::new();
    a.update(prev.0.as_bytes());
    a.update(body);
    let mut b = Sm3::new();
    b.update(prev.1.as_bytes());
    b.update(body);
    (hex::encode(a.finalize()), hex::encode(b.finalize()))
}

/// Append one event with its chain hashes, inside the caller's transaction; returns
/// its sequence number.
pub fn append(conn: &mut DbConn, ev: &NewEvent) -> QueryResult<i32> {
    let prev: Option<(i32, String, String)> = e::message_events
        .filter(e::message_id.eq(ev.message_id))
        .order(e::seq.desc())
        .select((e::seq, e::hash, e::hash_sm3))
        .first(conn)
        .optional()?;
    let (prev_seq, prev_sha, prev_sm3) = prev.unwrap_or((0, String::new(), String::new()));
    let seq = prev_seq + 1;
    let body = canonical(
        ev.message_id,
        seq,
        ev.at,
        ev.user_id,
        ev.actor_name,
        ev.unit_id,
        ev.action,
        ev.from_state,
        ev.to_state,
        ev.text,
        &ev.detail,
        &ev.files,
    );
    let (hash, hash_sm3) = link((&prev_sha, &prev_sm3), &body);
    diesel::insert_into(e::message_events)
        .values((
            e::message_id.eq(ev.message_id),
            e::seq.eq(seq),
            e::at.eq(ev.at),
            e::user_id.eq(ev.user_id),
            e::actor_name.eq(ev.actor_name),
            e::unit_id.eq(ev.unit_id),
            e::action.eq(ev.action),
            e::from_state.eq(ev.from_state),
            e::to_state.eq(ev.to_state),
            e::text.eq(ev.text),
            e::detail.eq(&ev.detail),
            e::hash.eq(hash),
            e::hash_sm3.eq(hash_sm3),
        ))
        .execute(conn)?;
    Ok(seq)
}

/// The SHA-256 of a file on disk, streamed.
pub fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// SHA-256 and SM3 of some bytes (manifests, packages).
pub fn digests(bytes: &[u8]) -> (String, String) {
    (
        hex::encode(Sha256::digest(bytes)),
        hex::encode(Sm3::digest(bytes)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_matches_the_standard_example() {
        // GB/T 32905-2016, example 1: SM3("abc").
        assert_eq!(
            digests(b"abc").1,
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn a_change_anywhere_breaks_the_link() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .and_then(|d| d.and_hms_opt(1, 2, 3))
            .unwrap_or_default();
        let body = |text: &str| {
            canonical(
                1,
                1,
                at,
                Some(2),
                "张三",
                Some(3),
                "reply",
                Some("handling"),
                "replied",
                text,
                "{}",
                &[],
            )
        };
        let a = link(("", ""), &body("已答复"));
        assert_eq!(a, link(("", ""), &body("已答复")));
        assert_ne!(a, link(("", ""), &body("已答复。")));
        assert_ne!(a, link(("x", "x"), &body("已答复")));
    }
}
