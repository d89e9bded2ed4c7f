//! 答复质量, stored: the check of each message's latest reply (one row per message,
//! replaced by a later reply), and the counts 统计分析 shows per unit.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{self, Scope};
use super::reply_check::Check;
use crate::db::schema::messages::dsl as m;
use crate::db::schema::reply_checks::dsl as rc;
use crate::db::DbConn;

/// The bit of each item (in `Check::items` order) in `warnings`.
fn warning_bits(c: &Check) -> i32 {
    c.items
        .iter()
        .enumerate()
        .filter(|(_, i)| !i.pass)
        .map(|(k, _)| 1 << k)
        .sum()
}

/// Keep the check of the reply `unit` gave at `at` (replacing an earlier one).
pub fn save(
    conn: &mut DbConn,
    message_id: i32,
    unit: Option<i32>,
    at: NaiveDateTime,
    c: &Check,
) -> QueryResult<()> {
    diesel::delete(rc::reply_checks.filter(rc::message_id.eq(message_id))).execute(conn)?;
    diesel::insert_into(rc::reply_checks)
        .values((
            rc::message_id.eq(message_id),
            rc::unit_id.eq(unit),
            rc::replied_at.eq(at),
            rc::score.eq(c.score as i32),
            rc::answers.eq(c.answers),
            rc::warnings.eq(warning_bits(c)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Per replying unit, the replies in [t0, t1) within the scope: (checked, with any 提示,
/// judged 不答所问).
pub fn counts(
    conn: &mut DbConn,
    scope: &Scope,
    t0: NaiveDateTime,
    t1: NaiveDateTime,
) -> QueryResult<HashMap<i32, (i64, i64, i64)>> {
    let rows: Vec<(i32, Option<i32>, bool, i32)> = rc::reply_checks
        .filter(rc::replied_at.ge(t0))
        .filter(rc::replied_at.lt(t1))
        .select((rc::message_id, rc::unit_id, rc::answers, rc::warnings))
        .load(conn)?;
    // Only messages in scope count (the centre's scope holds every one).
    let visible: Option<std::collections::HashSet<i32>> = match scope {
        Scope::All => None,
        _ => {
            let ids: Vec<i32> = rows.iter().map(|r| r.0).collect();
            let mut seen = std::collections::HashSet::new();
            for chunk in ids.chunks(900) {
                let found: Vec<i32> = model::scoped(scope)
                    .filter(m::id.eq_any(chunk))
                    .select(m::id)
                    .load(conn)?;
                seen.extend(found);
            }
            Some(seen)
        }
    };
    let rows = rows
        .into_iter()
        .filter(|r| visible.as_ref().is_none_or(|v| v.contains(&r.0)))
        .map(|(_, unit, answers, warnings)| (unit, answers, warnings));
    let mut out: HashMap<i32, (i64, i64, i64)> = HashMap::new();
    for (unit, answers, warnings) in rows {
        let Some(u) = unit else { continue };
        let e = out.entry(u).or_default();
        e.0 += 1;
        if warnings != 0 {
            e.1 += 1;
        }
        if !answers {
            e.2 += 1;
        }
    }
    Ok(out)
}
