//! Chinese full-text search over 留言标题, 主要诉求, the reply and 反映人.
//!
//! SQLite: an FTS5 trigram table serves words of three characters or more; a second FTS5
//! table holds the same text split into single characters, so one- and two-character
//! words (the commonest Chinese queries) are found as phrases through an index too.
//! PostgreSQL: pg_trgm (GIN) for three or more characters and a `simple` tsvector of the
//! split text for shorter words. The index is written by the application in the same
//! transaction as the message. User text is always a bound parameter and is quoted as a
//! phrase, so FTS syntax in it has no effect.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

use crate::db::schema::messages::dsl as m;
use crate::db::DbConn;

/// At most this many words in one query.
pub const MAX_TERMS: usize = 5;

/// The words of a query: split on spaces, punctuation dropped, at most `MAX_TERMS`.
pub fn terms(q: &str) -> Vec<String> {
    q.split_whitespace()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().take(50).collect())
        .take(MAX_TERMS)
        .collect()
}

/// Text split into single characters separated by spaces (letters and digits only).
pub fn split_chars(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.push(c);
            out.push(' ');
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out
}

/// An FTS5 phrase: the text in double quotes, inner quotes doubled.
pub fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A LIKE pattern that matches the text anywhere, with LIKE's own characters escaped.
pub fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The searchable text of a message.
pub fn body(title: &str, appeal: &str, reply: Option<&str>, name: &str) -> String {
    format!("{title}\n{appeal}\n{}\n{name}", reply.unwrap_or(""))
}

/// (Re)index one message, inside the caller's transaction.
pub fn index(conn: &mut DbConn, id: i32) -> QueryResult<()> {
    let (title, appeal, reply, name): (String, String, Option<String>, String) = m::messages
        .find(id)
        .select((
            m::title,
            m::appeal,
            m::handling_summary,
            m::complainant_name,
        ))
        .first(conn)?;
    write(
        conn,
        id,
        &body(&title, &appeal, reply.as_deref(), &name),
        true,
    )
}

/// Index a message that has never been indexed (a bulk load): no old entry to remove.
pub fn index_new(conn: &mut DbConn, id: i32, text: &str) -> QueryResult<()> {
    write(conn, id, text, false)
}

fn write(conn: &mut DbConn, id: i32, text: &str, replace: bool) -> QueryResult<()> {
    let chars = split_chars(text);
    match conn {
        DbConn::Sqlite(c) => {
            if replace {
                diesel::sql_query("DELETE FROM messages_fts WHERE rowid = ?")
                    .bind::<Integer, _>(id)
                    .execute(c)?;
                diesel::sql_query("DELETE FROM messages_chars WHERE rowid = ?")
                    .bind::<Integer, _>(id)
                    .execute(c)?;
            }
            diesel::sql_query("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)")
                .bind::<Integer, _>(id)
                .bind::<Text, _>(text)
                .execute(c)?;
            diesel::sql_query("INSERT INTO messages_chars (rowid, chars) VALUES (?, ?)")
                .bind::<Integer, _>(id)
                .bind::<Text, _>(&chars)
                .execute(c)?;
        }
        DbConn::Pg(c) => {
            diesel::sql_query(
                "INSERT INTO message_search (message_id, body, chars) \
                 VALUES ($1, $2, to_tsvector('simple', $3)) \
                 ON CONFLICT (message_id) DO UPDATE SET body = EXCLUDED.body, chars = EXCLUDED.chars",
            )
            .bind::<Integer, _>(id)
            .bind::<Text, _>(text)
            .bind::<Text, _>(&chars)
            .execute(c)?;
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Max {
    #[diesel(sql_type = diesel::sql_types::Nullable<Integer>)]
    n: Option<i32>,
}

/// Index the messages added since the index was last complete (after an upgrade, the
/// demo seeding or a bulk load). Cheap when nothing is missing: two index look-ups.
pub fn rebuild_if_needed(conn: &mut DbConn) -> QueryResult<usize> {
    let indexed = match conn {
        DbConn::Sqlite(c) => {
            diesel::sql_query("SELECT MAX(rowid) AS n FROM messages_fts")
                .get_result::<Max>(c)?
                .n
        }
        DbConn::Pg(c) => {
            diesel::sql_query("SELECT MAX(message_id) AS n FROM message_search")
                .get_result::<Max>(c)?
                .n
        }
    }
    .unwrap_or(0);
    let ids: Vec<i32> = m::messages
        .filter(m::id.gt(indexed))
        .select(m::id)
        .order(m::id)
        .load(conn)?;
    for chunk in ids.chunks(1000) {
        conn.transaction(|c| {
            for id in chunk {
                index(c, *id)?;
            }
            QueryResult::Ok(())
        })?;
    }
    Ok(ids.len())
}

type Backend = <DbConn as Connection>::Backend;

/// The condition "message matches this word", for the backend in use.
pub fn condition(
    pg: bool,
    term: &str,
) -> Box<dyn BoxableExpression<m::messages, Backend, SqlType = Bool>> {
    let short = term.chars().count() < 3;
    let chars = split_chars(term).trim().to_string();
    match (pg, short) {
        (false, false) => Box::new(
            diesel::dsl::sql::<Bool>(
                "messages.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ",
            )
            .bind::<Text, _>(fts_phrase(term))
            .sql(")"),
        ),
        (false, true) => Box::new(
            diesel::dsl::sql::<Bool>(
                "messages.id IN (SELECT rowid FROM messages_chars WHERE messages_chars MATCH ",
            )
            .bind::<Text, _>(fts_phrase(&chars))
            .sql(")"),
        ),
        (true, false) => Box::new(
            diesel::dsl::sql::<Bool>(
                "messages.id IN (SELECT message_id FROM message_search WHERE body ILIKE ",
            )
            .bind::<Text, _>(like_pattern(term))
            .sql(")"),
        ),
        (true, true) => Box::new(
            diesel::dsl::sql::<Bool>(
                "messages.id IN (SELECT message_id FROM message_search WHERE chars @@ phraseto_tsquery('simple', ",
            )
            .bind::<Text, _>(chars)
            .sql("))"),
        ),
    }
}

/// Split text into (segment, is_hit) for highlighting every occurrence of the terms.
pub fn highlight(text: &str, terms: &[String]) -> Vec<(String, bool)> {
    let lower = text.to_lowercase();
    let chars: Vec<char> = text.chars().collect();
    let low: Vec<char> = lower.chars().collect();
    if chars.len() != low.len() || terms.is_empty() {
        return vec![(text.to_string(), false)];
    }
    let mut hit = vec![false; chars.len()];
    for t in terms {
        let t: Vec<char> = t.to_lowercase().chars().collect();
        if t.is_empty() || t.len() > low.len() {
            continue;
        }
        for i in 0..=low.len() - t.len() {
            if low[i..i + t.len()] == t[..] {
                hit[i..i + t.len()].iter_mut().for_each(|h| *h = true);
            }
        }
    }
    let mut out: Vec<(String, bool)> = Vec::new();
    for (c, h) in chars.into_iter().zip(hit) {
        match out.last_mut() {
            Some((s, lh)) if *lh == h => s.push(c),
            _ => out.push((c.to_string(), h)),
        }
    }
    out
}

/// A short excerpt around the first hit (about `radius` characters each side).
pub fn snippet(text: &str, terms: &[String], radius: usize) -> Option<Vec<(String, bool)>> {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = text.to_lowercase().chars().collect();
    if chars.len() != lower.len() {
        return None;
    }
    let first = terms
        .iter()
        .filter_map(|t| {
            let t: Vec<char> = t.to_lowercase().chars().collect();
            (0..lower.len().saturating_sub(t.len().saturating_sub(1)))
                .find(|&i| !t.is_empty() && lower[i..].starts_with(&t))
        })
        .min()?;
    let start = first.saturating_sub(radius);
    let end = (first + radius * 2).min(chars.len());
    let mut piece: String = chars[start..end].iter().collect();
    piece = piece.replace(['\n', '\r', '\t'], " ");
    if start > 0 {
        piece.insert(0, '…');
    }
    if end < chars.len() {
        piece.push('…');
    }
    Some(highlight(&piece, terms))
}

/// Which index serves a word (shown in tests and the benchmark).
pub fn describe(pg: bool, term: &str) -> &'static str {
    match (pg, term.chars().count() < 3) {
        (false, false) => "fts5-trigram",
        (false, true) => "fts5-chars",
        (true, false) => "pg_trgm",
        (true, true) => "tsvector-chars",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_split_and_neutralised() {
        assert_eq!(terms("  停水  小区物业 "), vec!["停水", "小区物业"]);
        assert_eq!(
            terms("\"停水\" OR NEAR(a b)*"),
            vec!["停水", "OR", "NEARa", "b"]
        );
        assert_eq!(fts_phrase("a\"b"), "\"a\"\"b\"");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
        assert_eq!(split_chars("停水，三天A1"), "停 水 三 天 A 1 ");
        assert_eq!(describe(false, "停水"), "fts5-chars");
        assert_eq!(describe(false, "停水了"), "fts5-trigram");
        assert_eq!(describe(true, "水"), "tsvector-chars");
    }

    #[test]
    fn hits_are_highlighted() {
        let h = highlight("小区停水三天，停水", &["停水".to_string()]);
        assert_eq!(
            h,
            vec![
                ("小区".to_string(), false),
                ("停水".to_string(), true),
                ("三天，".to_string(), false),
                ("停水".to_string(), true)
            ]
        );
        let s = snippet(
            &format!("{}停水{}", "甲".repeat(100), "乙".repeat(100)),
            &["停水".to_string()],
            5,
        )
        .expect("snippet");
        assert_eq!(s[0].0, "…甲甲甲甲甲");
        assert!(s[1].1);
    }
}
