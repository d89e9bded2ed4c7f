//! 热点发现, stored: what each message names (read once), the clusters and their
//! members; the full recomputation and the placing of new messages that the background
//! worker (`worker`) runs; and the clerk's decisions — rename, merge, split, dismiss,
//! mark 热点 — each one transaction with its audit record.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{summary, Grouper, Item};
use crate::audit::{self, Actor};
use crate::db::schema::hot_clusters::dsl as hc;
use crate::db::schema::hot_features::dsl as hf;
use crate::db::schema::hot_members::dsl as hm;
use crate::db::schema::messages::dsl as m;
use crate::db::{self, DbConn};
use crate::dispatch::text::Sparse;
use crate::error::AppError;

/// A full recomputation reads the messages posted in the last year.
pub const YEAR_DAYS: i64 = 365;
/// Rows per statement when many are written or looked up.
const CHUNK: usize = 500;

diesel::define_sql_function!(fn substr(x: diesel::sql_types::Text, start: diesel::sql_types::Integer, len: diesel::sql_types::Integer) -> diesel::sql_types::Text);

/// A cluster as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::hot_clusters)]
pub struct Stored {
    pub id: i32,
    pub place: String,
    pub name: Option<String>,
    pub description: String,
    pub first_at: NaiveDateTime,
    pub last_at: NaiveDateTime,
    pub messages: i32,
    pub users: i32,
    pub votes: i32,
    pub heat: f64,
    pub growth: f64,
    pub warning: bool,
    pub status: String,
    pub marked: bool,
    pub fixed: bool,
    pub updated_at: NaiveDateTime,
}

impl Stored {
    /// What the clerk calls it, else the place it is about.
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.place)
    }
    pub fn dismissed(&self) -> bool {
        self.status == DISMISSED
    }
}

pub const OPEN: &str = "open";
pub const DISMISSED: &str = "dismissed";

/// The centre's dictionary of names (热点地名/对象) and its digest.
pub struct Dictionary {
    pub names: Vec<String>,
    pub digest: i64,
}

pub fn dictionary(conn: &mut DbConn) -> QueryResult<Dictionary> {
    use sha2::Digest;
    let mut names = crate::messages::config::list(conn, crate::messages::config::HOT_NAME)?;
    names.sort();
    let digest = if names.is_empty() {
        0
    } else {
        let d = sha2::Sha256::digest(names.join("\n").as_bytes());
        i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    };
    Ok(Dictionary { names, digest })
}

/// Keep what a message names and its 点赞 + 反对 (at import, where the votes are known;
/// other messages get theirs from `backfill`).
pub fn note(
    conn: &mut DbConn,
    dict: &Dictionary,
    id: i32,
    title: &str,
    appeal: &str,
    votes: i32,
) -> QueryResult<()> {
    diesel::insert_into(hf::hot_features)
        .values((
            hf::message_id.eq(id),
            hf::names.eq(super::names_of(title, appeal, &dict.names).join("|")),
            hf::votes.eq(votes),
            hf::dict.eq(dict.digest),
        ))
        .execute(conn)?;
    Ok(())
}

/// Names of some (id, title, lead) on all cores.
fn read_names(rows: &[(i32, String, String)], dict: &[String]) -> Vec<(i32, String)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let per = rows.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(id, t, a)| (*id, super::names_of(t, a, dict).join("|")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Read the names of the messages after id `since` that have none yet (all of them after
/// an upgrade: `since` 0) and, with `again`, those of the last year's messages read with
/// another dictionary; (read, read again, the highest message id checked).
pub fn backfill(
    conn: &mut DbConn,
    now: NaiveDateTime,
    since: i32,
    again: bool,
) -> QueryResult<(usize, usize, i32)> {
    let dict = dictionary(conn)?;
    let newest: Option<i32> = m::messages.select(diesel::dsl::max(m::id)).first(conn)?;
    let newest = newest.unwrap_or(0);
    let mut done = (0, 0, newest);
    let mut after = since;
    // Every message has its names when the two tables hold as many rows (each row names a
    // message, once): counted on an index, not by reading the messages.
    let mut missing = since > 0 || {
        let a: i64 = m::messages.count().get_result(conn)?;
        let b: i64 = hf::hot_features.count().get_result(conn)?;
        a != b
    };
    // Names read with another dictionary (its digest indexed).
    let mut again = again && {
        let n: i64 = hf::hot_features
            .filter(hf::dict.lt(dict.digest).or(hf::dict.gt(dict.digest)))
            .count()
            .get_result(conn)?;
        n > 0
    };
    while missing || again {
        let fresh: Vec<(i32, String, String)> = if !missing {
            Vec::new()
        } else {
            m::messages
                .left_join(hf::hot_features)
                .filter(hf::message_id.nullable().is_null())
                .filter(m::id.gt(after))
                .filter(m::id.le(newest))
                .select((m::id, m::title, substr(m::appeal, 1, super::LEAD as i32)))
                .order(m::id)
                .limit(20_000)
                .load(conn)?
        };
        missing = !fresh.is_empty();
        let stale: Vec<(i32, String, String)> = if fresh.is_empty() && again {
            m::messages
                .inner_join(hf::hot_features)
                .filter(hf::dict.lt(dict.digest).or(hf::dict.gt(dict.digest)))
                .filter(m::posted_at.gt(now - Duration::days(YEAR_DAYS)))
                .select((m::id, m::title, substr(m::appeal, 1, super::LEAD as i32)))
                .order(m::id)
                .limit(20_000)
                .load(conn)?
        } else {
            Vec::new()
        };
        if fresh.is_empty() {
            again = !stale.is_empty();
        }
        if fresh.is_empty() && stale.is_empty() {
            break;
        }
        if let Some((id, _, _)) = fresh.last() {
            after = *id;
        }
        let named_fresh = read_names(&fresh, &dict.names);
        let named_stale = read_names(&stale, &dict.names);
        db::write_tx(conn, |c| {
            for (id, n) in &named_fresh {
                diesel::insert_into(hf::hot_features)
                    .values((
                        hf::message_id.eq(*id),
                        hf::names.eq(n.as_str()),
                        hf::votes.eq(0),
                        hf::dict.eq(dict.digest),
                    ))
                    .execute(c)?;
            }
            for (id, n) in &named_stale {
                diesel::update(hf::hot_features.find(*id))
                    .set((hf::names.eq(n.as_str()), hf::dict.eq(dict.digest)))
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        done.0 += fresh.len();
        done.1 += stale.len();
    }
    Ok(done)
}

type Row = (
    i32,
    Option<String>,
    String,
    String,
    NaiveDateTime,
    String,
    i32,
    Option<i32>,
    Option<bool>,
);

fn item((id, user, title, lead, at, names, votes, cluster, pinned): Row) -> Item {
    Item {
        id: id as i64,
        user: user.unwrap_or_else(|| format!("#{id}")),
        title,
        lead,
        at,
        votes: votes as i64,
        names: names
            .split('|')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
        pin: cluster.filter(|_| pinned == Some(true)).map(|c| c as i64),
    }
}

macro_rules! items_query {
    () => {
        m::messages
            .inner_join(hf::hot_features)
            .left_join(hm::hot_members)
            .select((
                m::id,
                // Who wrote it, as the sealed 反映人's look-up digest: only compared.
                m::name_key,
                m::title,
                substr(m::appeal, 1, super::LEAD as i32),
                m::posted_at,
                hf::names,
                hf::votes,
                hm::cluster_id.nullable(),
                hm::pinned.nullable(),
            ))
    };
}

/// The messages posted after `from` with an id in (after, upto], as items.
fn load_items(
    conn: &mut DbConn,
    from: NaiveDateTime,
    after: i32,
    upto: i32,
) -> QueryResult<Vec<Item>> {
    let rows: Vec<Row> = items_query!()
        .filter(m::posted_at.gt(from))
        .filter(m::id.gt(after))
        .filter(m::id.le(upto))
        .order(m::id)
        .load(conn)?;
    Ok(rows.into_iter().map(item).collect())
}

/// Some messages as items (any age).
fn items_of(conn: &mut DbConn, ids: &[i32]) -> QueryResult<Vec<Item>> {
    let mut out = Vec::with_capacity(ids.len());
    for part in ids.chunks(CHUNK) {
        let rows: Vec<Row> = items_query!().filter(m::id.eq_any(part)).load(conn)?;
        out.extend(rows.into_iter().map(item));
    }
    Ok(out)
}

/// The grouping the site keeps in memory between recomputations, and the newest
/// message it has placed.
pub struct Kept {
    pub grouper: Grouper,
    pub upto: i32,
    /// Messages up to this id have their names read.
    pub checked: i32,
    /// The dictionary the names were read with.
    pub digest: i64,
    pub computed: NaiveDateTime,
    /// Messages it was fitted on, and placed since.
    pub fitted: usize,
    pub placed: usize,
}

impl Kept {
    /// Whether `n` more messages are too many to place on this grouping's vocabulary (an
    /// import of a file, or a site that had few messages): regroup them all instead.
    pub fn outgrown_by(&self, n: usize) -> bool {
        self.placed + n > (self.fitted / 10).max(50)
    }
}

fn write_figures(
    conn: &mut DbConn,
    id: i32,
    c: &super::Cluster,
    description: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let set = (
        hc::first_at.eq(c.first),
        hc::last_at.eq(c.last),
        hc::messages.eq(c.members.len() as i32),
        hc::users.eq(c.users as i32),
        hc::votes.eq(c.votes.min(i32::MAX as i64) as i32),
        hc::heat.eq(c.heat),
        hc::growth.eq(c.growth),
        hc::warning.eq(c.warning),
        hc::updated_at.eq(now),
    );
    let q = diesel::update(hc::hot_clusters.find(id));
    match description {
        Some(d) => q.set((set, hc::description.eq(d))).execute(conn)?,
        None => q.set(set).execute(conn)?,
    };
    Ok(())
}

fn insert_cluster(conn: &mut DbConn, c: &super::Cluster, now: NaiveDateTime) -> QueryResult<i32> {
    diesel::insert_into(hc::hot_clusters)
        .values((
            hc::place.eq(&c.place),
            hc::description.eq(&c.description),
            hc::first_at.eq(c.first),
            hc::last_at.eq(c.last),
            hc::messages.eq(c.members.len() as i32),
            hc::users.eq(c.users as i32),
            hc::votes.eq(c.votes.min(i32::MAX as i64) as i32),
            hc::heat.eq(c.heat),
            hc::growth.eq(c.growth),
            hc::warning.eq(c.warning),
            hc::status.eq(OPEN),
            hc::marked.eq(false),
            hc::fixed.eq(false),
            hc::updated_at.eq(now),
        ))
        .returning(hc::id)
        .get_result(conn)
}

/// Numbers only, so the statement is written out (the backends share no batch insert).
fn insert_members(conn: &mut DbConn, cluster: i32, ids: &[i32], pinned: bool) -> QueryResult<()> {
    use std::fmt::Write;
    for part in ids.chunks(CHUNK) {
        let mut sql =
            String::from("INSERT INTO hot_members (message_id, cluster_id, pinned) VALUES ");
        for (k, id) in part.iter().enumerate() {
            let sep = if k == 0 { "" } else { "," };
            let _ = write!(
                sql,
                "{sep}({id}, {cluster}, {})",
                if pinned { "TRUE" } else { "FALSE" }
            );
        }
        diesel::sql_query(sql).execute(conn)?;
    }
    Ok(())
}

/// Regroup the last year's messages and store the result: clusters a clerk fixed keep
/// their id and members; others keep the id of the earlier cluster most of their
/// messages were in, so links stay valid. Returns the grouping for `place_new`, or none
/// when a clerk changed a cluster meanwhile (run again).
pub fn recompute(
    conn: &mut DbConn,
    window_days: i64,
    now: NaiveDateTime,
) -> Result<Option<Kept>, AppError> {
    recompute_upto(conn, window_days, now, i32::MAX)
}

/// `recompute` of the messages up to id `upto` (the benchmark leaves the newest out to
/// place them as they would arrive).
pub fn recompute_upto(
    conn: &mut DbConn,
    window_days: i64,
    now: NaiveDateTime,
    upto: i32,
) -> Result<Option<Kept>, AppError> {
    let (_, _, checked) = backfill(conn, now, 0, true)?;
    let digest = dictionary(conn)?.digest;
    // Only messages whose names were read: a newer one is placed by the next pass.
    let upto = upto.min(checked);
    let items = load_items(conn, now - Duration::days(YEAR_DAYS), 0, upto)?;
    let pins: Vec<(i32, i64)> = items
        .iter()
        .filter_map(|i| i.pin.map(|p| (i.id as i32, p)))
        .collect();
    let (mut grouper, vectors) = Grouper::fit(&items, window_days);
    let index: HashMap<i64, usize> = items.iter().enumerate().map(|(k, x)| (x.id, k)).collect();
    let found: Vec<(usize, super::Cluster)> = grouper
        .groups()
        .map(|(k, place, id)| {
            let members: Vec<(&Item, &Sparse)> = grouper
                .members(k)
                .iter()
                .filter_map(|x| index.get(x))
                .map(|&i| (&items[i], &vectors[i]))
                .collect();
            (k, summary(place, id, &members, now))
        })
        .collect();
    let written = db::write_tx(conn, |c| -> Result<bool, AppError> {
        // The pins as they are now: a decision taken while this ran wins.
        let now_pinned: Vec<(i32, i32)> = hm::hot_members
            .inner_join(m::messages)
            .filter(hm::pinned.eq(true))
            .filter(m::posted_at.gt(now - Duration::days(YEAR_DAYS)))
            .select((hm::message_id, hm::cluster_id))
            .load(c)?;
        let mut a: Vec<(i32, i64)> = now_pinned.iter().map(|(x, y)| (*x, *y as i64)).collect();
        let mut b = pins.clone();
        a.sort_unstable();
        b.sort_unstable();
        if a != b {
            return Ok(false);
        }
        let fixed: HashSet<i32> = hc::hot_clusters
            .filter(hc::fixed.eq(true))
            .select(hc::id)
            .load::<i32>(c)?
            .into_iter()
            .collect();
        let previous: HashMap<i64, i32> = hm::hot_members
            .filter(hm::pinned.eq(false))
            .select((hm::message_id, hm::cluster_id))
            .load::<(i32, i32)>(c)?
            .into_iter()
            .filter(|(_, k)| !fixed.contains(k))
            .map(|(x, k)| (x as i64, k))
            .collect();
        diesel::delete(hm::hot_members.filter(hm::pinned.eq(false))).execute(c)?;
        let mut claimed: HashSet<i32> = HashSet::new();
        for (k, s) in &found {
            let id = match s.id {
                Some(id) => {
                    let id = id as i32;
                    write_figures(c, id, s, Some(&s.description), now)?;
                    id
                }
                None => {
                    let mut tally: HashMap<i32, usize> = HashMap::new();
                    for x in &s.members {
                        if let Some(p) = previous.get(x) {
                            *tally.entry(*p).or_default() += 1;
                        }
                    }
                    let mut best: Vec<(usize, i32)> =
                        tally.into_iter().map(|(id, n)| (n, id)).collect();
                    best.sort_unstable_by(|x, y| y.cmp(x));
                    match best
                        .into_iter()
                        .map(|(_, id)| id)
                        .find(|id| !claimed.contains(id))
                    {
                        Some(id) => {
                            diesel::update(hc::hot_clusters.find(id))
                                .set(hc::place.eq(&s.place))
                                .execute(c)?;
                            write_figures(c, id, s, Some(&s.description), now)?;
                            id
                        }
                        None => insert_cluster(c, s, now)?,
                    }
                }
            };
            claimed.insert(id);
            grouper.name(*k, id as i64);
            let free: Vec<i32> = s
                .members
                .iter()
                .filter(|x| index.get(x).is_some_and(|&i| items[i].pin.is_none()))
                .map(|x| *x as i32)
                .collect();
            insert_members(c, id, &free, false)?;
        }
        let stale: Vec<i32> = hc::hot_clusters
            .filter(hc::fixed.eq(false))
            .select(hc::id)
            .load::<i32>(c)?
            .into_iter()
            .filter(|id| !claimed.contains(id))
            .collect();
        for part in stale.chunks(CHUNK) {
            diesel::delete(hm::hot_members.filter(hm::cluster_id.eq_any(part))).execute(c)?;
            diesel::delete(hc::hot_clusters.filter(hc::id.eq_any(part))).execute(c)?;
        }
        Ok(true)
    })?;
    grouper.prune(now);
    Ok(written.then_some(Kept {
        grouper,
        upto,
        checked,
        digest,
        computed: now,
        fitted: items.len(),
        placed: 0,
    }))
}

/// A stored cluster's figures from its members as they are now (a description only
/// when a grouping is at hand to read the texts).
fn refresh(
    conn: &mut DbConn,
    id: i32,
    grouper: Option<&Grouper>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let ids: Vec<i32> = hm::hot_members
        .filter(hm::cluster_id.eq(id))
        .select(hm::message_id)
        .load(conn)?;
    let items = items_of(conn, &ids)?;
    let vectors: Vec<Sparse> = match grouper {
        Some(g) => items.iter().map(|i| g.vector(i)).collect(),
        None => vec![Vec::new(); items.len()],
    };
    let members: Vec<(&Item, &Sparse)> = items.iter().zip(&vectors).collect();
    let place: String = hc::hot_clusters.find(id).select(hc::place).first(conn)?;
    let s = summary(&place, Some(id as i64), &members, now);
    write_figures(conn, id, &s, grouper.map(|_| s.description.as_str()), now)
}

/// Place the messages that arrived since the grouping was made (in the order they
/// arrived), store what they joined; how many were placed — or none when they are too
/// many for the grouping (`Kept::outgrown_by`: regroup).
pub fn place_new(
    conn: &mut DbConn,
    kept: &mut Kept,
    now: NaiveDateTime,
) -> Result<Option<usize>, AppError> {
    // A changed dictionary changes the names already grouped: regroup.
    if dictionary(conn)?.digest != kept.digest {
        return Ok(None);
    }
    kept.checked = backfill(conn, now, kept.checked, false)?.2;
    let mut items = load_items(
        conn,
        now - Duration::days(YEAR_DAYS),
        kept.upto,
        kept.checked,
    )?;
    // Placed already (by another instance of the site): not again.
    let ids: Vec<i32> = items.iter().map(|i| i.id as i32).collect();
    let mut placed: HashSet<i32> = HashSet::new();
    for part in ids.chunks(CHUNK) {
        placed.extend(
            hm::hot_members
                .filter(hm::message_id.eq_any(part))
                .select(hm::message_id)
                .load::<i32>(conn)?,
        );
    }
    if let Some(max) = ids.iter().max() {
        kept.upto = kept.upto.max(*max);
    }
    items.retain(|i| !placed.contains(&(i.id as i32)));
    if items.is_empty() {
        return Ok(Some(0));
    }
    if kept.outgrown_by(items.len()) {
        return Ok(None);
    }
    kept.placed += items.len();
    let mut touched: Vec<usize> = Vec::new();
    for i in &items {
        kept.upto = kept.upto.max(i.id as i32);
        if let Some(k) = kept.grouper.push(i) {
            if !touched.contains(&k) {
                touched.push(k);
            }
        }
    }
    let g = &mut kept.grouper;
    db::write_tx(conn, |c| -> Result<(), AppError> {
        for &k in &touched {
            let members: Vec<i32> = g.members(k).iter().map(|x| *x as i32).collect();
            let id = match g.id_of(k) {
                Some(id) => id as i32,
                None if members.len() >= 2 => {
                    let list = items_of(c, &members)?;
                    let vectors: Vec<Sparse> = list.iter().map(|i| g.vector(i)).collect();
                    let pairs: Vec<(&Item, &Sparse)> = list.iter().zip(&vectors).collect();
                    let place = g
                        .groups()
                        .find(|(x, _, _)| *x == k)
                        .map(|(_, p, _)| p.to_string())
                        .unwrap_or_default();
                    let id = insert_cluster(c, &summary(&place, None, &pairs, now), now)?;
                    g.name(k, id as i64);
                    id
                }
                None => continue,
            };
            let present: HashSet<i32> = hm::hot_members
                .filter(hm::message_id.eq_any(&members))
                .select(hm::message_id)
                .load::<i32>(c)?
                .into_iter()
                .collect();
            let new: Vec<i32> = members
                .into_iter()
                .filter(|x| !present.contains(x))
                .collect();
            insert_members(c, id, &new, false)?;
            refresh(c, id, Some(g), now)?;
        }
        Ok(())
    })?;
    Ok(Some(items.len()))
}

// ---------- reading ----------

/// The hottest clusters not dismissed, active in the window before `now`.
pub fn top(
    conn: &mut DbConn,
    window_days: i64,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Stored>> {
    hc::hot_clusters
        .filter(hc::status.eq(OPEN))
        .filter(hc::last_at.ge(now - Duration::days(window_days)))
        .order(hc::heat.desc())
        .limit(limit)
        .select(Stored::as_select())
        .load(conn)
}

/// Every cluster a list shows (`which`: 活跃 / 热点 / 已撤销 / 全部), hottest first.
pub fn list(
    conn: &mut DbConn,
    which: &str,
    window_days: i64,
    now: NaiveDateTime,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<Stored>, i64)> {
    let q = || {
        let mut q = hc::hot_clusters.into_boxed();
        match which {
            "marked" => q = q.filter(hc::marked.eq(true)),
            "dismissed" => q = q.filter(hc::status.eq(DISMISSED)),
            "all" => {}
            _ => {
                q = q
                    .filter(hc::status.eq(OPEN))
                    .filter(hc::last_at.ge(now - Duration::days(window_days)))
            }
        }
        q
    };
    let total = q().count().get_result(conn)?;
    let rows = q()
        .order((hc::heat.desc(), hc::id))
        .offset(offset)
        .limit(limit)
        .select(Stored::as_select())
        .load(conn)?;
    Ok((rows, total))
}

pub fn get(conn: &mut DbConn, id: i32) -> QueryResult<Option<Stored>> {
    hc::hot_clusters
        .find(id)
        .select(Stored::as_select())
        .first(conn)
        .optional()
}

/// A cluster's message ids, oldest first.
pub fn member_ids(conn: &mut DbConn, id: i32) -> QueryResult<Vec<i32>> {
    hm::hot_members
        .inner_join(m::messages)
        .filter(hm::cluster_id.eq(id))
        .order((m::posted_at, m::id))
        .select(hm::message_id)
        .load(conn)
}

/// Clusters marked 热点 and not dismissed that were active in [t0, t1) — a message in
/// it or within the window before it: for the 督办通报.
pub fn marked_in(
    conn: &mut DbConn,
    t0: NaiveDateTime,
    t1: NaiveDateTime,
    window_days: i64,
) -> QueryResult<Vec<Stored>> {
    hc::hot_clusters
        .filter(hc::marked.eq(true))
        .filter(hc::status.eq(OPEN))
        .filter(hc::last_at.ge(t0 - Duration::days(window_days)))
        .filter(hc::first_at.lt(t1))
        .order(hc::heat.desc())
        .select(Stored::as_select())
        .load(conn)
}

/// For each of some clusters, how many of its messages are in `ids` (a scope's).
pub fn members_among(conn: &mut DbConn, clusters: &[i32]) -> QueryResult<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    for part in clusters.chunks(CHUNK) {
        out.extend(
            hm::hot_members
                .filter(hm::cluster_id.eq_any(part))
                .select((hm::cluster_id, hm::message_id))
                .load::<(i32, i32)>(conn)?,
        );
    }
    Ok(out)
}

/// A version of the clusters: it moves with every write to them (for cached summaries).
pub fn version(conn: &mut DbConn) -> QueryResult<(Option<NaiveDateTime>, i64)> {
    hc::hot_clusters
        .select((diesel::dsl::max(hc::updated_at), diesel::dsl::count_star()))
        .first(conn)
}

// ---------- the clerk's decisions ----------

/// What a clerk does to a cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Rename(String),
    /// Merge the other cluster into this one.
    Merge(i32),
    /// Move these messages out into a new cluster.
    Split(Vec<i32>),
    Dismiss,
    Restore,
    Mark,
    Unmark,
}

impl Decision {
    fn event(&self) -> &'static str {
        match self {
            Decision::Rename(_) => "hot_rename",
            Decision::Merge(_) => "hot_merge",
            Decision::Split(_) => "hot_split",
            Decision::Dismiss => "hot_dismiss",
            Decision::Restore => "hot_restore",
            Decision::Mark => "hot_mark",
            Decision::Unmark => "hot_unmark",
        }
    }
}

/// Pin a cluster's members to it and mark it fixed (a clerk has decided about it).
fn fix(conn: &mut DbConn, id: i32, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(hm::hot_members.filter(hm::cluster_id.eq(id)))
        .set(hm::pinned.eq(true))
        .execute(conn)?;
    diesel::update(hc::hot_clusters.find(id))
        .set((hc::fixed.eq(true), hc::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Apply a clerk's decision in one transaction with its audit record; the cluster the
/// page should show next. Errors are the clerk's to read.
pub fn decide(
    conn: &mut DbConn,
    actor: &Actor,
    id: i32,
    d: &Decision,
    now: NaiveDateTime,
) -> Result<Result<i32, String>, AppError> {
    db::write_tx(conn, |c| {
        let Some(cluster) = get(c, id)? else {
            return Err(AppError::NotFound);
        };
        let mut next = id;
        let detail = match d {
            Decision::Rename(name) => {
                let name = name.trim();
                if name.is_empty() || name.chars().count() > 60 {
                    return Ok(Err("名称应为 1–60 个字。".into()));
                }
                fix(c, id, now)?;
                diesel::update(hc::hot_clusters.find(id))
                    .set(hc::name.eq(name))
                    .execute(c)?;
                format!("“{}”改名为“{name}”", cluster.title())
            }
            Decision::Merge(other) => {
                if *other == id {
                    return Ok(Err("不能与自身合并，请选择另一个问题。".into()));
                }
                let Some(o) = get(c, *other)? else {
                    return Ok(Err(
                        "要合并的问题不存在（可能已被合并），请刷新后重选。".into()
                    ));
                };
                fix(c, id, now)?;
                diesel::update(hm::hot_members.filter(hm::cluster_id.eq(*other)))
                    .set((hm::cluster_id.eq(id), hm::pinned.eq(true)))
                    .execute(c)?;
                diesel::delete(hc::hot_clusters.find(*other)).execute(c)?;
                if o.marked {
                    diesel::update(hc::hot_clusters.find(id))
                        .set(hc::marked.eq(true))
                        .execute(c)?;
                }
                refresh(c, id, None, now)?;
                format!(
                    "“{}”（{} 条）并入“{}”",
                    o.title(),
                    o.messages,
                    cluster.title()
                )
            }
            Decision::Split(ids) => {
                let members: HashSet<i32> = member_ids(c, id)?.into_iter().collect();
                let moving: Vec<i32> = ids
                    .iter()
                    .copied()
                    .filter(|x| members.contains(x))
                    .collect();
                if moving.is_empty() {
                    return Ok(Err("请勾选要拆分出去的留言。".into()));
                }
                if moving.len() == members.len() {
                    return Ok(Err("不能把全部留言都拆出去：至少留下一条。".into()));
                }
                fix(c, id, now)?;
                let first = items_of(c, &moving[..1])?;
                let title = first.first().map(|i| i.title.clone()).unwrap_or_default();
                let new: i32 = diesel::insert_into(hc::hot_clusters)
                    .values((
                        hc::place.eq(&cluster.place),
                        hc::description.eq(&title),
                        hc::first_at.eq(now),
                        hc::last_at.eq(now),
                        hc::messages.eq(0),
                        hc::users.eq(0),
                        hc::votes.eq(0),
                        hc::heat.eq(0.0),
                        hc::growth.eq(0.0),
                        hc::warning.eq(false),
                        hc::status.eq(OPEN),
                        hc::marked.eq(false),
                        hc::fixed.eq(true),
                        hc::updated_at.eq(now),
                    ))
                    .returning(hc::id)
                    .get_result(c)?;
                for part in moving.chunks(CHUNK) {
                    diesel::update(hm::hot_members.filter(hm::message_id.eq_any(part)))
                        .set((hm::cluster_id.eq(new), hm::pinned.eq(true)))
                        .execute(c)?;
                }
                refresh(c, id, None, now)?;
                refresh(c, new, None, now)?;
                next = new;
                format!(
                    "从“{}”拆出 {} 条为新问题 {new}",
                    cluster.title(),
                    moving.len()
                )
            }
            Decision::Dismiss | Decision::Restore => {
                fix(c, id, now)?;
                let status = if *d == Decision::Dismiss {
                    DISMISSED
                } else {
                    OPEN
                };
                diesel::update(hc::hot_clusters.find(id))
                    .set(hc::status.eq(status))
                    .execute(c)?;
                cluster.title().to_string()
            }
            Decision::Mark | Decision::Unmark => {
                fix(c, id, now)?;
                diesel::update(hc::hot_clusters.find(id))
                    .set(hc::marked.eq(*d == Decision::Mark))
                    .execute(c)?;
                cluster.title().to_string()
            }
        };
        audit::record(
            c,
            actor,
            d.event(),
            &format!("hot:{id}"),
            audit::OK,
            &detail,
        )?;
        Ok(Ok(next))
    })
}
