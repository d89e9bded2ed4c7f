//! Persistence of scoring: a year's rules, manual entries and their reversals, the
//! frozen results of a finalised year, and the owner's findings on returns.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{
    return_marks::dsl as rm, score_entries::dsl as se, score_results::dsl as sr,
    score_years::dsl as sy,
};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::scoring::{ManualPoint, Rules, Score};

/// A year's rules and whether it is finalised (定稿).
pub struct Year {
    pub year: i32,
    pub rules: Rules,
    pub finalised: Option<(NaiveDateTime, String)>,
}

pub fn year(conn: &mut DbConn, year: i32) -> Result<Year, AppError> {
    let row: Option<(String, Option<NaiveDateTime>, Option<String>)> = sy::score_years
        .find(year)
        .select((sy::rules, sy::finalised_at, sy::finalised_by))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((rules, at, by)) => Year {
            year,
            rules: serde_json::from_str(&rules).map_err(AppError::internal)?,
            finalised: at.map(|t| (t, by.unwrap_or_default())),
        },
        None => Year {
            year,
            rules: Rules::default(),
            finalised: None,
        },
    })
}

/// Save a year's rules; refused once the year is finalised.
pub fn save_rules(conn: &mut DbConn, y: i32, rules: &Rules) -> Result<bool, AppError> {
    let current = year(conn, y)?;
    if current.finalised.is_some() {
        return Ok(false);
    }
    let json = serde_json::to_string(rules).map_err(AppError::internal)?;
    let n = diesel::update(sy::score_years.find(y))
        .set(sy::rules.eq(&json))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(sy::score_years)
            .values((sy::year.eq(y), sy::rules.eq(&json)))
            .execute(conn)?;
    }
    Ok(true)
}

#[derive(Queryable, Debug, Clone)]
pub struct Entry {
    pub id: i32,
    pub year: i32,
    pub unit_id: i32,
    pub item: String,
    pub points: i32,
    pub entry_date: NaiveDate,
    pub reason: String,
    pub evidence_name: Option<String>,
    pub evidence_stored: Option<String>,
    pub evidence_sha256: Option<String>,
    pub author_id: Option<i32>,
    pub author_name: String,
    pub created_at: NaiveDateTime,
    pub reverses: Option<i32>,
    /// How many times the item occurred (points = the item's points × occurrences).
    pub occurrences: i32,
    /// The document the entry rests on (文号), when no file is attached.
    pub evidence_ref: Option<String>,
}

pub fn entries(conn: &mut DbConn, year: i32) -> QueryResult<Vec<Entry>> {
    se::score_entries
        .filter(se::year.eq(year))
        .order(se::id)
        .load(conn)
}

pub fn find_entry(conn: &mut DbConn, id: i32) -> QueryResult<Option<Entry>> {
    se::score_entries.find(id).first(conn).optional()
}

/// A new manual entry (inside the caller's transaction).
pub struct NewEntry<'a> {
    pub year: i32,
    pub unit_id: i32,
    pub item: &'a str,
    pub points: i64,
    pub date: NaiveDate,
    pub reason: &'a str,
    pub evidence: Option<(String, String, String)>,
    pub author_id: i32,
    pub author_name: &'a str,
    pub reverses: Option<i32>,
    pub occurrences: i32,
    pub evidence_ref: Option<&'a str>,
}

pub fn add_entry(conn: &mut DbConn, e: &NewEntry) -> QueryResult<i32> {
    let (name, stored, sha) = match &e.evidence {
        Some((n, s, h)) => (Some(n.clone()), Some(s.clone()), Some(h.clone())),
        None => (None, None, None),
    };
    diesel::insert_into(se::score_entries)
        .values((
            se::year.eq(e.year),
            se::unit_id.eq(e.unit_id),
            se::item.eq(e.item),
            se::points.eq(e.points as i32),
            se::entry_date.eq(e.date),
            se::reason.eq(e.reason),
            se::evidence_name.eq(name),
            se::evidence_stored.eq(stored),
            se::evidence_sha256.eq(sha),
            se::author_id.eq(e.author_id),
            se::author_name.eq(e.author_name),
            se::created_at.eq(db::now()),
            se::reverses.eq(e.reverses),
            se::occurrences.eq(e.occurrences),
            se::evidence_ref.eq(e.evidence_ref),
        ))
        .returning(se::id)
        .get_result(conn)
}

/// Manual points per unit counted up to `end`.
pub fn manual_points(
    conn: &mut DbConn,
    year: i32,
    end: NaiveDate,
) -> QueryResult<HashMap<i32, Vec<ManualPoint>>> {
    let mut out: HashMap<i32, Vec<ManualPoint>> = HashMap::new();
    for e in entries(conn, year)? {
        if e.entry_date > end {
            continue;
        }
        out.entry(e.unit_id).or_default().push(ManualPoint {
            entry_id: e.id,
            item: e.item,
            points: e.points as i64,
            date: e.entry_date.to_string(),
            reason: e.reason,
            author: e.author_name,
        });
    }
    Ok(out)
}

/// Freeze a year: its rules and every unit's score as they are now.
pub fn finalise(
    conn: &mut DbConn,
    y: i32,
    rules: &Rules,
    results: &[(i32, Score, usize)],
    by: &str,
) -> Result<bool, AppError> {
    if year(conn, y)?.finalised.is_some() {
        return Ok(false);
    }
    save_rules(conn, y, rules)?;
    for (unit, score, rank) in results {
        diesel::insert_into(sr::score_results)
            .values((
                sr::year.eq(y),
                sr::unit_id.eq(unit),
                sr::total.eq(score.total as i32),
                sr::grade.eq(score.grade.label()),
                sr::rank.eq(*rank as i32),
                sr::score.eq(serde_json::to_string(score).map_err(AppError::internal)?),
            ))
            .execute(conn)?;
    }
    diesel::update(sy::score_years.find(y))
        .set((
            sy::finalised_at.eq(Some(db::now())),
            sy::finalised_by.eq(Some(by)),
        ))
        .execute(conn)?;
    Ok(true)
}

/// The frozen scores of a finalised year: (unit, score, rank).
pub fn frozen(conn: &mut DbConn, y: i32) -> Result<Vec<(i32, Score, usize)>, AppError> {
    let rows: Vec<(i32, String, i32)> = sr::score_results
        .filter(sr::year.eq(y))
        .select((sr::unit_id, sr::score, sr::rank))
        .load(conn)?;
    rows.into_iter()
        .map(|(u, s, r)| {
            Ok((
                u,
                serde_json::from_str(&s).map_err(AppError::internal)?,
                r as usize,
            ))
        })
        .collect()
}

/// Record the owner's finding that a return was unjustified; false if already marked.
pub fn mark_return(
    conn: &mut DbConn,
    message_id: i32,
    event_seq: i32,
    unit_id: i32,
    reason: &str,
    by: &str,
) -> QueryResult<bool> {
    let exists: i64 = rm::return_marks
        .filter(rm::message_id.eq(message_id))
        .filter(rm::event_seq.eq(event_seq))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(rm::return_marks)
        .values((
            rm::message_id.eq(message_id),
            rm::event_seq.eq(event_seq),
            rm::unit_id.eq(unit_id),
            rm::reason.eq(reason),
            rm::marked_by.eq(by),
            rm::marked_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(true)
}

/// The findings on one message's returns: (event seq, reason).
pub fn marks_of(conn: &mut DbConn, message_id: i32) -> QueryResult<Vec<(i32, String)>> {
    rm::return_marks
        .filter(rm::message_id.eq(message_id))
        .select((rm::event_seq, rm::reason))
        .load(conn)
}
