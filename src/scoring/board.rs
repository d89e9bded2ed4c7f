//! The year's scoreboard: every assessed unit's score and rank, frozen for a finalised
//! year, otherwise computed from the facts (cached until the data changes).

use chrono::NaiveDate;

use crate::db::DbConn;
use crate::error::AppError;
use crate::scoring::{self, facts, store, Score};
use crate::units::{self, Unit};

/// Units assessed each year: counties/districts, zones and city departments.
pub fn assessed(all: &[Unit]) -> Vec<Unit> {
    all.iter()
        .filter(|u| u.active && crate::units::is_assessed(u.kind()))
        .cloned()
        .collect()
}

/// Units with their scores and ranks, best first (shared with the cache, not copied).
pub type Ranked = std::sync::Arc<Vec<(Unit, Score, usize)>>;

/// The scores of all assessed units: frozen ones for a finalised year (asked for at its
/// end), otherwise computed now. Returns (unit, score, rank), best first.
pub fn board(
    conn: &mut DbConn,
    cache: &crate::cache::Cache,
    year: i32,
    as_of: NaiveDate,
) -> Result<(store::Year, Ranked, bool), AppError> {
    let y = store::year(conn, year)?;
    let all = units::all(conn)?;
    let year_end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(as_of);
    if y.finalised.is_some() && as_of >= year_end {
        let mut rows: Vec<(Unit, Score, usize)> = store::frozen(conn, year)?
            .into_iter()
            .filter_map(|(u, s, r)| all.iter().find(|x| x.id == u).map(|x| (x.clone(), s, r)))
            .collect();
        rows.sort_by_key(|(_, s, r)| (*r, -s.total));
        return Ok((y, std::sync::Arc::new(rows), true));
    }
    let rules = y.rules.clone();
    let ranked = cache.get_or(conn, format!("board {year} {as_of}"), |conn| {
        let units = assessed(&all);
        let ids: Vec<i32> = units.iter().map(|u| u.id).collect();
        let mut facts = facts::gather(conn, year, as_of, &ids)?;
        let mut rows: Vec<(Unit, Score, bool)> = units
            .into_iter()
            .map(|u| {
                let f = facts.remove(&u.id).unwrap_or_default();
                let s = scoring::compute(&rules, &f);
                (u, s, f.had_messages())
            })
            .collect();
        // Units without messages in the year are not ranked (rank 0): last, as 无留言.
        rows.sort_by_key(|(u, s, had)| (!*had, -s.total, u.sort_order, u.id));
        let ranks = scoring::ranks_of(
            &rows
                .iter()
                .map(|(_, s, had)| (s.total, *had))
                .collect::<Vec<_>>(),
        );
        Ok::<Vec<(Unit, Score, usize)>, AppError>(
            rows.into_iter()
                .zip(ranks)
                .map(|((u, s, _), r)| (u, s, r))
                .collect(),
        )
    })?;
    Ok((y, ranked, false))
}
