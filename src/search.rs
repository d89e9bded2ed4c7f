//! Chinese full-text search over 留言标题, 主要诉求, the reply and 反映人.
//!
//! SQLite: an FTS5 trigram table serves words of three characters or more; a second FTS5
//! table holds each run of text as its overlapping character pairs (and its last
//! character), so a two-character word — the commonest Chinese query — is one token of
//! an index, and a single character is a prefix of one. PostgreSQL: the same pairs as the
//! lexemes of a tsvector (GIN), each prefixed with the block of 65,536 message ids its
//! message falls in (`5:停水`), so that a search can ask for the newest blocks first and
//! read only their postings (a GIN index returns its matches unordered: without blocks
//! a common word's every match is read before the newest 100 are known); words of three
//! characters or more need all their pairs in a block and are then checked in the text.
//! The index is written by the application in the same transaction as the message. User
//! text is always a bound parameter and is quoted as a phrase, so FTS syntax in it has no
//! effect.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};

use crate::db::schema::messages::dsl as m;
use crate::db::DbConn;
use crate::error::AppError;

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

/// Text as the tokens of the short-word index: for each run of letters and digits, its
/// overlapping pairs of characters and its last character alone ("停水三天" → "停水 水三
/// 三天 天"). A two-character word is then one token; a single character is a prefix.
pub fn grams(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    let mut run: Vec<char> = Vec::new();
    let flush = |run: &mut Vec<char>, out: &mut String| {
        for w in run.windows(2) {
            out.extend(w);
            out.push(' ');
        }
        if let Some(last) = run.last() {
            out.push(*last);
            out.push(' ');
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            run.extend(c.to_lowercase());
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// PostgreSQL: message ids fall in blocks of 2^16; a block is part of each lexeme.
const PG_BLOCK_BITS: u32 = 16;

/// PostgreSQL: the lexemes of a message's search entry, space-separated: each of its
/// `grams` prefixed with the message's block ("5:停水 5:水三 …").
pub fn pg_lexemes(id: i32, text: &str) -> String {
    let block = id >> PG_BLOCK_BITS;
    let mut all: Vec<&str> = Vec::new();
    let grams = grams(text);
    all.extend(grams.split_whitespace());
    all.sort_unstable();
    all.dedup();
    let mut out = String::with_capacity(all.len() * 10);
    for g in all {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{block}:{g}"));
    }
    out
}

/// PostgreSQL: the tsquery of one word in block `#` (the block number is put in by the
/// query, block by block): its pair for two characters, all its pairs for more (the text
/// is then checked as well), a prefix of a pair or last character for one. The word is
/// letters and digits only (`terms`), so it needs no quoting inside the quotes.
pub fn pg_block_query(term: &str) -> String {
    let word: Vec<char> = term
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect();
    match word.len() {
        0 => String::new(),
        1 => format!("'#:{}':*", word[0]),
        _ => {
            let pairs: Vec<String> = word
                .windows(2)
                .map(|p| format!("'#:{}{}'", p[0], p[1]))
                .collect();
            format!("({})", pairs.join(" & "))
        }
    }
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

/// The searchable text of a message: 标题, 诉求 and 办理情况. The 反映人 is not in the
/// index (it is sealed at rest, `messages::personal`); a name is found by its digest.
pub fn body(title: &str, appeal: &str, reply: Option<&str>) -> String {
    format!("{title}\n{appeal}\n{}", reply.unwrap_or(""))
}

/// The searchable text of a stored message.
fn stored_text(conn: &mut DbConn, id: i32) -> QueryResult<String> {
    let (title, appeal, reply): (String, String, Option<String>) = m::messages
        .find(id)
        .select((m::title, m::appeal, m::handling_summary))
        .first(conn)?;
    Ok(body(&title, &appeal, reply.as_deref()))
}

/// (Re)index one message, inside the caller's transaction.
pub fn index(conn: &mut DbConn, id: i32) -> QueryResult<()> {
    let text = stored_text(conn, id)?;
    write(conn, id, &text, true)
}

/// PostgreSQL, a bulk load into an empty database: the search entries are written
/// without their GIN index, which is built once at the end (`pg_bulk_finish`) — adding
/// 200 lexemes a row to a GIN index one row at a time is most of a bulk load's work. A
/// load that stops half-way leaves a database to delete (the generator refuses to add
/// to it anyway).
pub fn pg_bulk_start(conn: &mut DbConn) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        c.batch_execute("DROP INDEX IF EXISTS message_search_grams")?;
    }
    Ok(())
}

/// PostgreSQL: the search index a bulk load left out, built in one pass.
pub fn pg_bulk_finish(conn: &mut DbConn) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        c.batch_execute(
            "CREATE INDEX IF NOT EXISTS message_search_grams ON message_search USING gin (grams)",
        )?;
        // Statistics for the planner, and the visibility map, so that the id look-ups
        // of a search are index-only (each its own statement: VACUUM runs outside a
        // transaction).
        for table in ["message_search", "messages", "message_events"] {
            c.batch_execute(&format!("VACUUM (ANALYZE) {table}"))?;
        }
    }
    Ok(())
}

/// PostgreSQL: index messages that have never been indexed, many per statement (a bulk
/// load; SQLite's bulk load builds its indexes beside the database, `BulkIndex`).
pub fn index_new_batch(conn: &mut DbConn, items: &[(i32, String)]) -> QueryResult<()> {
    let DbConn::Pg(c) = conn else {
        for (id, text) in items {
            write(conn, *id, text, false)?;
        }
        return Ok(());
    };
    for part in items.chunks(1000) {
        let ids: Vec<i32> = part.iter().map(|(id, _)| *id).collect();
        let bodies: Vec<&str> = part.iter().map(|(_, t)| t.as_str()).collect();
        let lexemes: Vec<String> = part.iter().map(|(id, t)| pg_lexemes(*id, t)).collect();
        diesel::sql_query(
            "INSERT INTO message_search (message_id, body, grams) \
             SELECT id, body, array_to_tsvector(string_to_array(lexemes, ' ')) \
             FROM unnest($1::int4[], $2::text[], $3::text[]) AS t(id, body, lexemes)",
        )
        .bind::<diesel::sql_types::Array<Integer>, _>(ids)
        .bind::<diesel::sql_types::Array<Text>, _>(bodies)
        .bind::<diesel::sql_types::Array<Text>, _>(lexemes)
        .execute(c)?;
    }
    Ok(())
}

fn write(conn: &mut DbConn, id: i32, text: &str, replace: bool) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => {
            if replace {
                diesel::sql_query("DELETE FROM messages_fts WHERE rowid = ?")
                    .bind::<Integer, _>(id)
                    .execute(c)?;
            }
            diesel::sql_query("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)")
                .bind::<Integer, _>(id)
                .bind::<Text, _>(text)
                .execute(c)?;
            write_grams(c, id, text, replace)?;
        }
        DbConn::Pg(c) => {
            diesel::sql_query(
                "INSERT INTO message_search (message_id, body, grams) \
                 VALUES ($1, $2, array_to_tsvector(string_to_array($3, ' '))) \
                 ON CONFLICT (message_id) DO UPDATE SET body = EXCLUDED.body, grams = EXCLUDED.grams",
            )
            .bind::<Integer, _>(id)
            .bind::<Text, _>(text)
            .bind::<Text, _>(pg_lexemes(id, text))
            .execute(c)?;
        }
    }
    Ok(())
}

/// A batch of (message id, searchable text) for the bulk indexers.
type Batch = std::sync::Arc<Vec<(i32, String)>>;

/// SQLite: the full-text indexes of a bulk load (the generator), built beside it.
///
/// Filling the two FTS5 indexes is two thirds of a bulk load's work, and a database is
/// written by one thread at a time. So each index is built by a thread of its own in a
/// database file of its own next to the main one (same table definition, up to 256 MB
/// of entries gathered in memory per segment instead of 1 MB), and at the end its tables
/// — an FTS5 index is nothing but its shadow tables — are copied in, in one transaction.
/// Big batches pay: FTS5 sorts all its pending terms at every commit, and fewer, larger
/// sorts cost less (300,000 messages: batches of 40,000 with 256 MB, 148 s; of 10,000
/// with 64 MB, 190 s). Each builder holds up to 256 MB of pending terms, plus the
/// batch of texts it is working on.
pub struct BulkIndex {
    workers: Vec<BulkWorker>,
}

struct BulkWorker {
    table: &'static str,
    path: std::path::PathBuf,
    send: std::sync::mpsc::SyncSender<Batch>,
    handle: Option<std::thread::JoinHandle<QueryResult<()>>>,
}

/// Waits for a builder thread to end, with what stopped it.
fn wait(
    table: &str,
    handle: Option<std::thread::JoinHandle<QueryResult<()>>>,
) -> Result<(), AppError> {
    match handle.map(|h| h.join()) {
        Some(Ok(done)) => Ok(done?),
        Some(Err(_)) => Err(AppError::internal(format!("{table} 索引生成线程异常退出"))),
        None => Ok(()),
    }
}

#[derive(QueryableByName)]
struct DatabaseFile {
    #[diesel(sql_type = Text)]
    file: String,
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    name: String,
}

impl BulkIndex {
    /// Starts the builders next to an SQLite database (`None` on PostgreSQL, where the
    /// entries are written with the messages).
    pub fn start(conn: &mut DbConn) -> Result<Option<BulkIndex>, AppError> {
        let DbConn::Sqlite(c) = conn else {
            return Ok(None);
        };
        let main = diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .get_result::<DatabaseFile>(c)?
            .file;
        let mut workers = Vec::new();
        // The short-word index is the quicker to build: it is finished, and copied in,
        // while the trigram index is still being built.
        for table in ["messages_grams", "messages_fts"] {
            let create = diesel::sql_query(
                "SELECT sql AS name FROM sqlite_master WHERE type = 'table' AND name = ?",
            )
            .bind::<Text, _>(table)
            .get_result::<Named>(c)?
            .name;
            let path = std::path::PathBuf::from(format!("{main}.{table}.build"));
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(AppError::internal(format!("{}: {e}", path.display())))
                }
                _ => {}
            }
            let mut side = diesel::SqliteConnection::establish(&path.to_string_lossy())
                .map_err(AppError::internal)?;
            // A scratch file: rebuilt from the start if the load is interrupted.
            side.batch_execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
            side.batch_execute(&create)?;
            diesel::sql_query(format!(
                "INSERT INTO {table} ({table}, rank) VALUES ('hashsize', {})",
                256 << 20
            ))
            .execute(&mut side)?;
            let (send, receive) = std::sync::mpsc::sync_channel::<Batch>(0);
            let handle = std::thread::Builder::new()
                .name(table.into())
                .spawn(move || {
                    let short = table == "messages_grams";
                    let insert = format!(
                        "INSERT INTO {table} (rowid, {}) VALUES (?, ?)",
                        if short { "grams" } else { "body" }
                    );
                    for batch in receive {
                        side.transaction(|side| {
                            for (id, text) in batch.iter() {
                                let grams;
                                let body = if short {
                                    grams = self::grams(text);
                                    &grams
                                } else {
                                    text
                                };
                                diesel::sql_query(&insert)
                                    .bind::<Integer, _>(*id)
                                    .bind::<Text, _>(body)
                                    .execute(side)?;
                            }
                            QueryResult::Ok(())
                        })?;
                    }
                    diesel::sql_query(format!(
                        "INSERT INTO {table} ({table}, rank) VALUES ('hashsize', {})",
                        1 << 20
                    ))
                    .execute(&mut side)?;
                    Ok(())
                })
                .map_err(AppError::internal)?;
            workers.push(BulkWorker {
                table,
                path,
                send,
                handle: Some(handle),
            });
        }
        Ok(Some(BulkIndex { workers }))
    }

    /// Hands a batch to every builder, waiting until each has taken it: a builder works on
    /// one batch while the next is gathered, so little is left to build when the load
    /// ends (a queue of two batches left 55 s of a million-message load after the last
    /// message; now 29 s, the copy included).
    pub fn add(&mut self, batch: Vec<(i32, String)>) -> Result<(), AppError> {
        let batch: Batch = std::sync::Arc::new(batch);
        for w in &mut self.workers {
            if w.send.send(batch.clone()).is_err() {
                // The builder stopped (a full disk, say): report why.
                wait(w.table, w.handle.take())?;
                return Err(AppError::internal(format!("{} 索引生成中断", w.table)));
            }
        }
        Ok(())
    }

    /// Waits for the builders and moves their tables into the main database, then
    /// removes their files.
    pub fn finish(self, conn: &mut DbConn) -> Result<(), AppError> {
        let DbConn::Sqlite(c) = conn else {
            return Ok(());
        };
        for BulkWorker {
            table,
            path,
            send,
            handle,
        } in self.workers
        {
            // Closing the channel ends the builder's loop.
            drop(send);
            wait(table, handle)?;
            diesel::sql_query("ATTACH DATABASE ? AS bulk")
                .bind::<Text, _>(path.to_string_lossy())
                .execute(c)?;
            let copied = (|| {
                let shadows: Vec<Named> = diesel::sql_query(
                    "SELECT name FROM bulk.sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\\'",
                )
                .bind::<Text, _>(format!("{table}\\_%"))
                .load(c)?;
                c.immediate_transaction(|c| {
                    for Named { name } in &shadows {
                        c.batch_execute(&format!(
                            "DELETE FROM main.\"{name}\"; \
                             INSERT INTO main.\"{name}\" SELECT * FROM bulk.\"{name}\";"
                        ))?;
                    }
                    QueryResult::Ok(())
                })
            })();
            diesel::sql_query("DETACH DATABASE bulk").execute(c)?;
            copied?;
            std::fs::remove_file(&path)
                .map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }
}

/// The short-word (SQLite) index entry of one message.
fn write_grams(
    c: &mut diesel::SqliteConnection,
    id: i32,
    text: &str,
    replace: bool,
) -> QueryResult<()> {
    if replace {
        diesel::sql_query("DELETE FROM messages_grams WHERE rowid = ?")
            .bind::<Integer, _>(id)
            .execute(c)?;
    }
    diesel::sql_query("INSERT INTO messages_grams (rowid, grams) VALUES (?, ?)")
        .bind::<Integer, _>(id)
        .bind::<Text, _>(grams(text))
        .execute(c)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Max {
    #[diesel(sql_type = diesel::sql_types::Nullable<Integer>)]
    n: Option<i32>,
}

/// How many messages the index may be missing (0 when complete): the rebuild runs at
/// start-up when few, in the background when many (after an upgrade of a large site).
pub fn behind(conn: &mut DbConn) -> QueryResult<i64> {
    let (full, short) = watermarks(conn)?;
    m::messages
        .filter(m::id.gt(full.min(short)))
        .count()
        .get_result(conn)
}

fn watermarks(conn: &mut DbConn) -> QueryResult<(i32, i32)> {
    let max = |conn: &mut DbConn, sql: &str| -> QueryResult<i32> {
        Ok(match conn {
            DbConn::Sqlite(c) => diesel::sql_query(sql).get_result::<Max>(c)?.n,
            DbConn::Pg(c) => diesel::sql_query(sql).get_result::<Max>(c)?.n,
        }
        .unwrap_or(0))
    };
    if matches!(conn, DbConn::Sqlite(_)) {
        Ok((
            max(conn, "SELECT MAX(rowid) AS n FROM messages_fts")?,
            max(conn, "SELECT MAX(rowid) AS n FROM messages_grams")?,
        ))
    } else {
        let n = max(conn, "SELECT MAX(message_id) AS n FROM message_search")?;
        Ok((n, n))
    }
}

/// Index the messages added since the index was last complete (after an upgrade, the
/// demo seeding or a bulk load). Cheap when nothing is missing: a few index look-ups.
pub fn rebuild_if_needed(conn: &mut DbConn) -> QueryResult<usize> {
    let regrammed = pg_fill_grams(conn)?;
    let (full, short) = watermarks(conn)?;
    let ids: Vec<i32> = m::messages
        .filter(m::id.gt(full.min(short)))
        .select(m::id)
        .order(m::id)
        .load(conn)?;
    for chunk in ids.chunks(1000) {
        conn.transaction(|c| {
            for &id in chunk {
                if id > full {
                    index(c, id)?;
                } else {
                    // Only the short-word index is behind (it was added by an upgrade).
                    let text = stored_text(c, id)?;
                    if let DbConn::Sqlite(sc) = c {
                        write_grams(sc, id, &text, id <= short)?;
                    }
                }
            }
            QueryResult::Ok(())
        })?;
    }
    Ok(ids.len() + regrammed)
}

#[derive(QueryableByName)]
struct Entry {
    #[diesel(sql_type = Integer)]
    message_id: i32,
    #[diesel(sql_type = Text)]
    body: String,
}

/// PostgreSQL: the block pairs of the entries written before they existed (an upgrade
/// leaves them empty), a thousand at a time.
fn pg_fill_grams(conn: &mut DbConn) -> QueryResult<usize> {
    let DbConn::Pg(c) = conn else { return Ok(0) };
    let mut done = 0;
    loop {
        let part: Vec<Entry> = diesel::sql_query(
            "SELECT message_id, body FROM message_search WHERE grams IS NULL \
             ORDER BY message_id LIMIT 1000",
        )
        .load(c)?;
        if part.is_empty() {
            return Ok(done);
        }
        let ids: Vec<i32> = part.iter().map(|e| e.message_id).collect();
        let lexemes: Vec<String> = part
            .iter()
            .map(|e| pg_lexemes(e.message_id, &e.body))
            .collect();
        diesel::sql_query(
            "UPDATE message_search s SET grams = array_to_tsvector(string_to_array(t.lexemes, ' ')) \
             FROM unnest($1::int4[], $2::text[]) AS t(id, lexemes) WHERE s.message_id = t.id",
        )
        .bind::<diesel::sql_types::Array<Integer>, _>(ids)
        .bind::<diesel::sql_types::Array<Text>, _>(lexemes)
        .execute(c)?;
        done += part.len();
    }
}

type Backend = <DbConn as Connection>::Backend;

/// An inclusive range of message ids that a search is confined to (see `window_floor`).
pub type Window = (i32, i32);

/// The SQLite FTS table and MATCH query that find one word: the trigram index for three
/// characters or more, the character-pairs index for shorter words (a prefix for one).
fn sqlite_match(term: &str) -> (&'static str, String) {
    let word = term.to_lowercase();
    match word.chars().count() {
        1 => ("messages_grams", format!("{}*", fts_phrase(&word))),
        2 => ("messages_grams", fts_phrase(&word)),
        _ => ("messages_fts", fts_phrase(term)),
    }
}

/// The condition "message matches this word", for the backend in use; on SQLite
/// optionally confined to a window of ids, so that only the index entries inside it are
/// read.
pub fn condition(
    pg: bool,
    term: &str,
    window: Option<Window>,
) -> Box<dyn BoxableExpression<m::messages, Backend, SqlType = Bool>> {
    let short = term.chars().count() < 3;
    if !pg {
        let (table, query) = sqlite_match(term);
        let sql = diesel::dsl::sql::<Bool>(&format!(
            "messages.id IN (SELECT rowid FROM {table} WHERE {table} MATCH "
        ))
        .bind::<Text, _>(query);
        return match window {
            Some((lo, hi)) => Box::new(
                sql.sql(" AND rowid BETWEEN ")
                    .bind::<Integer, _>(lo)
                    .sql(" AND ")
                    .bind::<Integer, _>(hi)
                    .sql(")"),
            ),
            None => Box::new(sql.sql(")")),
        };
    }
    // The blocks the window covers (all of them without a window), no further than the
    // newest message's; the query names the word in each, OR-ed, evaluated once.
    let (lo, hi) = window.unwrap_or((0, i32::MAX));
    let q = diesel::dsl::sql::<Bool>(
        "messages.id IN (SELECT message_id FROM message_search WHERE grams @@ \
         (SELECT string_agg(replace(",
    )
    .bind::<Text, _>(pg_block_query(term))
    .sql(", '#', b::text), ' | ')::tsquery FROM generate_series(")
    .bind::<Integer, _>(lo.max(0) >> PG_BLOCK_BITS)
    .sql(", LEAST(")
    .bind::<Integer, _>(hi.max(0) >> PG_BLOCK_BITS)
    .sql(&format!(
        ", (SELECT COALESCE(MAX(id), 0) FROM messages) >> {PG_BLOCK_BITS})) AS b) \
         AND message_id BETWEEN "
    ))
    .bind::<Integer, _>(lo)
    .sql(" AND ")
    .bind::<Integer, _>(hi);
    if short {
        return Box::new(q.sql(")"));
    }
    // A word without letter case (Chinese, digits) is checked with LIKE, which is exact
    // for it and much cheaper than ILIKE over long texts.
    let cased = term.to_lowercase() != term.to_uppercase();
    Box::new(
        q.sql(if cased {
            " AND body ILIKE "
        } else {
            " AND body LIKE "
        })
        .bind::<Text, _>(like_pattern(term))
        .sql(")"),
    )
}

/// SQLite: the id of the `k`-th newest message at or below `top` that the word matches,
/// read from the FTS index in id order without collecting the matches; `None` when fewer
/// than `k` are left. `[that id, top]` is then a window holding exactly `k` matches.
///
/// PostgreSQL: its index is not ordered by id, so the window is whole blocks below `top`
/// (from the newest message down), one block for each 1,024 of `k` (the first window one
/// block, 65,536 ids), whatever they hold; `None` once it reaches the first block.
pub fn window_floor(conn: &mut DbConn, term: &str, top: i32, k: i64) -> QueryResult<Option<i32>> {
    if let DbConn::Pg(_) = conn {
        let newest = watermarks(conn)?.0;
        let blocks = i32::try_from((k / 1024).max(1)).unwrap_or(i32::MAX);
        let lowest = (top.min(newest).max(0) >> PG_BLOCK_BITS).saturating_sub(blocks - 1);
        return Ok((lowest > 0).then_some(lowest << PG_BLOCK_BITS));
    }
    let (table, query) = sqlite_match(term);
    diesel::select(
        diesel::dsl::sql::<Nullable<Integer>>(&format!(
            "(SELECT rowid FROM {table} WHERE {table} MATCH "
        ))
        .bind::<Text, _>(query)
        .sql(" AND rowid <= ")
        .bind::<Integer, _>(top)
        .sql(" ORDER BY rowid DESC LIMIT 1 OFFSET ")
        .bind::<BigInt, _>(k - 1)
        .sql(")"),
    )
    .get_result(conn)
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
        (true, false) => "pg-block-pairs+text",
        (true, true) => "pg-block-pairs",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The indexes a bulk load builds beside the database and copies in pass FTS5's own
    /// integrity check and find, for words of one, two and more characters, exactly the
    /// messages a plain scan of the texts finds.
    #[test]
    fn bulk_built_indexes_find_what_a_scan_finds() {
        let (_dir, mut conn, _) = crate::generate::sample_db(600);
        let DbConn::Sqlite(c) = &mut conn else {
            panic!("SQLite")
        };
        for table in ["messages_fts", "messages_grams"] {
            c.batch_execute(&format!(
                "INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 0)"
            ))
            .expect("integrity");
        }
        let left: Vec<_> = std::fs::read_dir(_dir.path())
            .expect("dir")
            .filter_map(|f| f.ok())
            .filter(|f| f.file_name().to_string_lossy().ends_with(".build"))
            .collect();
        assert!(left.is_empty(), "build files removed: {left:?}");
        let mut found = 0;
        for word in ["水", "停水", "小区", "物业费", "道路交通", "不存在的词"] {
            let mut by_index: Vec<i32> = m::messages
                .filter(condition(false, word, None))
                .select(m::id)
                .load(&mut conn)
                .expect("search");
            let like = format!("%{word}%");
            let mut by_scan: Vec<i32> = m::messages
                .filter(
                    m::title
                        .like(&like)
                        .or(m::appeal.like(&like))
                        .or(m::handling_summary.like(&like)),
                )
                .select(m::id)
                .load(&mut conn)
                .expect("scan");
            by_index.sort_unstable();
            by_scan.sort_unstable();
            assert_eq!(by_index, by_scan, "{word}");
            found += by_scan.len();
        }
        assert!(found > 100, "the words occur: {found}");
    }

    #[test]
    fn queries_are_split_and_neutralised() {
        assert_eq!(terms("  停水  小区物业 "), vec!["停水", "小区物业"]);
        assert_eq!(
            terms("\"停水\" OR NEAR(a b)*"),
            vec!["停水", "OR", "NEARa", "b"]
        );
        assert_eq!(fts_phrase("a\"b"), "\"a\"\"b\"");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
        assert_eq!(grams("停水三天，A1"), "停水 水三 三天 天 a1 1 ");
        assert_eq!(grams("水"), "水 ");
        assert_eq!(describe(false, "停水"), "fts5-chars");
        assert_eq!(describe(false, "停水了"), "fts5-trigram");
        assert_eq!(describe(true, "水"), "pg-block-pairs");
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
