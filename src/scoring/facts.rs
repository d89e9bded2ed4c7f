//! Gathering each assessed unit's facts for a year (up to a day) from the record: the
//! messages it handled, their events, its archive reporting and print records, the
//! centre's findings on returns, and the manual entries. Every automatic occurrence keeps
//! the message (and date) that caused it, so each point can be explained.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::archive::{self, periods};
use crate::attachments;
use crate::clock::{china_day_start, to_china};
use crate::db::schema::{
    archive_prints::dsl as ap, message_events::dsl as e, messages::dsl as m,
    return_marks::dsl as rm,
};
use crate::db::{Backend, DbConn};
use crate::error::AppError;
use crate::messages::model::{self, Message};
use crate::scoring::{store, Cause, Facts, Occurrences};

/// Days an archive may wait for its paper copy before it counts as inconsistent.
pub const PRINT_GRACE_DAYS: i64 = 10;

/// A cause naming a message; its 文号 is filled in at the end, for the listed ones only.
fn cause(id: i32, what: String, date: NaiveDate) -> Cause {
    Cause {
        message_id: Some(id),
        ref_no: String::new(),
        what,
        date: date.to_string(),
    }
}

/// The columns of a message the deadline items need (no long texts).
#[derive(Queryable)]
struct Dated {
    id: i32,
    unit: Option<i32>,
    state: String,
    accept_due: Option<NaiveDate>,
    accepted_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDate>,
    replied_at: Option<NaiveDateTime>,
}

/// An event (message, seq, action, time, text, detail).
type Event = (i32, i32, String, NaiveDateTime, String, String);

/// The automatic occurrences found so far, per unit and item code.
type Auto = HashMap<i32, HashMap<&'static str, Occurrences>>;

/// Counts an occurrence of `code` against `unit`; the cause is built only if listed.
fn note(auto: &mut Auto, unit: i32, code: &'static str, cause: impl FnOnce() -> Cause) {
    auto.entry(unit)
        .or_default()
        .entry(code)
        .or_default()
        .push(cause);
}

/// The handling unit of every message that has one, indexed by message id (0: none),
/// read from the (handling unit, id) index alone. The year's events are charged to their
/// message's unit through it: joining each of a year's hundreds of thousands of events to
/// its message row read a page per event.
fn handling_units(conn: &mut DbConn) -> QueryResult<Vec<i32>> {
    let pairs: Vec<(i32, i32)> = m::messages
        .filter(m::handling_unit_id.is_not_null())
        .select((m::id, m::handling_unit_id.assume_not_null()))
        .load(conn)?;
    let len = pairs.iter().map(|p| p.0).max().unwrap_or(0).max(0) as usize + 1;
    let mut by_id = vec![0; len];
    for (id, unit) in pairs {
        if let Ok(i) = usize::try_from(id) {
            by_id[i] = unit;
        }
    }
    Ok(by_id)
}

/// SQL for "`at` falls after the China day `day`" (both columns of `messages`): the rows
/// that can be late. The exact check, in China time, is made on what it returns.
fn after_day(backend: Backend, at: &str, day: &str) -> String {
    // The China day after `day` starts at 16:00 UTC on `day`.
    let utc = 24 - crate::clock::CST_HOURS;
    match backend {
        Backend::Sqlite => format!("messages.{at} >= messages.{day} || ' {utc:02}:00:00'"),
        Backend::Postgres => format!("messages.{at} >= messages.{day} + time '{utc:02}:00'"),
    }
}

/// Facts for every unit in `units` for `year`, counting what happened up to `as_of`.
///
/// Each item is read with its own indexed query and only the columns it needs: a year
/// holds hundreds of thousands of messages, and loading them whole (with 主要诉求 and the
/// timeline of each) took minutes.
pub fn gather(
    conn: &mut DbConn,
    year: i32,
    as_of: NaiveDate,
    units: &[i32],
) -> Result<HashMap<i32, Facts>, AppError> {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).ok_or(AppError::NotFound)?;
    let end = NaiveDate::from_ymd_opt(year, 12, 31)
        .ok_or(AppError::NotFound)?
        .min(as_of);
    let mut auto: Auto = HashMap::new();
    let (t0, t1) = (
        china_day_start(start),
        china_day_start(end + Duration::days(1)),
    );
    let in_year = |d: NaiveDate| d >= start && d <= end;
    let dated_cols = (
        m::id,
        m::handling_unit_id,
        m::state,
        m::accept_due,
        m::accepted_at,
        m::due_at,
        m::replied_at,
    );
    let backend = conn.backend();
    // The units are checked here, not in SQL: given a list of units, SQLite would walk
    // them through a unit index and read every row, instead of the covering indexes.
    let wanted: HashSet<i32> = units.iter().copied().collect();
    let by_id = handling_units(conn)?;
    let unit_of = |id: i32| {
        usize::try_from(id)
            .ok()
            .and_then(|i| by_id.get(i).copied())
            .filter(|u| wanted.contains(u))
    };

    // D01 超期签收: 签收 due in the year, never accepted while waiting or accepted after
    // the due day.
    let to_accept: Vec<Dated> = m::messages
        .filter(m::accept_due.between(start, end))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "((messages.accepted_at IS NULL AND messages.state = 'assigned') OR {})",
            after_day(backend, "accepted_at", "accept_due")
        )))
        .select(dated_cols)
        .load(conn)?;
    for msg in to_accept
        .iter()
        .filter(|d| d.unit.is_some_and(|u| wanted.contains(&u)))
    {
        let (Some(unit), Some(due)) = (msg.unit, msg.accept_due) else {
            continue;
        };
        match msg.accepted_at {
            Some(t) if to_china(t).date() > due => note(&mut auto, unit, "D01", || {
                cause(
                    msg.id,
                    format!("应于 {due} 前签收，{} 签收", to_china(t).date()),
                    due,
                )
            }),
            None if msg.state == "assigned" && end > due => note(&mut auto, unit, "D01", || {
                cause(msg.id, format!("应于 {due} 前签收，至今未签收"), due)
            }),
            _ => {}
        }
    }
    // D02 超期答复/超期办结: reply due in the year, still running or replied after the
    // due day.
    let to_reply: Vec<Dated> = m::messages
        .filter(m::due_at.between(start, end))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "(messages.state IN ('assigned', 'handling') OR {})",
            after_day(backend, "replied_at", "due_at")
        )))
        .select(dated_cols)
        .load(conn)?;
    for msg in to_reply
        .iter()
        .filter(|d| d.unit.is_some_and(|u| wanted.contains(&u)))
    {
        let (Some(unit), Some(due)) = (msg.unit, msg.due_at) else {
            continue;
        };
        let running = matches!(msg.state.as_str(), "assigned" | "handling");
        match msg.replied_at {
            Some(t) if !running && to_china(t).date() > due => note(&mut auto, unit, "D02", || {
                cause(
                    msg.id,
                    format!("应于 {due} 前答复，{} 答复", to_china(t).date()),
                    due,
                )
            }),
            _ if running && end > due => note(&mut auto, unit, "D02", || {
                cause(msg.id, format!("应于 {due} 前答复，至今未答复"), due)
            }),
            _ => {}
        }
    }
    // D08 档案要素不全: 呈报 with elements missing, as they stand now (a 补正 completes
    // them; 销号 refuses an incomplete record and a 更正 cannot empty a required element,
    // so an archived one is always complete).
    let reported: Vec<Message> = m::messages
        .filter(m::state.eq("reported"))
        .filter(m::closed_at.ge(t0))
        .filter(m::closed_at.lt(t1))
        .load(conn)?;
    for msg in &reported {
        let (Some(unit), Some(closed)) = (msg.handling_unit_id, msg.closed_at) else {
            continue;
        };
        if !wanted.contains(&unit) {
            continue;
        }
        let missing = msg.missing_elements();
        if !missing.is_empty() {
            note(&mut auto, unit, "D08", || {
                cause(
                    msg.id,
                    format!("缺：{}", missing.join("、")),
                    to_china(closed).date(),
                )
            });
        }
    }

    // Events in the year, charged to their message's handling unit. Only the events that
    // count are loaded (a follow-up only when 不满意: the JSON detail is written by this
    // program, compactly).
    let in_period = |action: &'static str, from: NaiveDateTime| {
        e::message_events
            .filter(e::action.eq(action))
            .filter(e::at.ge(from))
            .filter(e::at.lt(t1))
    };
    const RESOLVED: &str = "%\"resolved\":true%";
    // Approvals (办结) per unit, and how many of them 化解, from the index alone.
    let approvals: Vec<(i32, bool)> = in_period("approve", t0)
        .select((
            e::message_id,
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "message_events.detail LIKE '{RESOLVED}'"
            )),
        ))
        .load(conn)?;
    let mut closed: HashMap<i32, (i64, i64)> = HashMap::new();
    for (id, resolved) in approvals {
        if let Some(unit) = unit_of(id) {
            let c = closed.entry(unit).or_default();
            c.0 += 1;
            c.1 += i64::from(resolved);
        }
    }
    // D06 办结未化解.
    let unresolved: Vec<(i32, NaiveDateTime)> = in_period("approve", t0)
        .filter(e::detail.not_like(RESOLVED))
        .select((e::message_id, e::at))
        .load(conn)?;
    for (id, at) in unresolved {
        if let Some(unit) = unit_of(id) {
            let day = to_china(at).date();
            note(&mut auto, unit, "D06", || {
                cause(id, format!("{day} 办结，未化解"), day)
            });
        }
    }
    // D05 回访不满意.
    let dissatisfied: Vec<(i32, NaiveDateTime)> = in_period("follow_up", t0)
        .filter(e::detail.like("%\"satisfaction\":\"不满意\"%"))
        .select((e::message_id, e::at))
        .load(conn)?;
    for (id, at) in dissatisfied {
        if let Some(unit) = unit_of(id) {
            let day = to_china(at).date();
            note(&mut auto, unit, "D05", || {
                cause(id, format!("{day} 回访不满意"), day)
            });
        }
    }
    // The rarer events, whole.
    let events = |conn: &mut DbConn, action: &'static str, from| -> QueryResult<Vec<Event>> {
        in_period(action, from)
            .select((e::message_id, e::seq, e::action, e::at, e::text, e::detail))
            .load(conn)
    };
    // D04 答复被驳回重办.
    for (id, _, _, at, text, _) in events(conn, "reject", t0)? {
        if let Some(unit) = unit_of(id) {
            let day = to_china(at).date();
            note(&mut auto, unit, "D04", || {
                cause(id, format!("{day} 答复被驳回重办：{text}"), day)
            });
        }
    }
    // D03 督办后未按期落实: supervision whose deadline falls in the year (issued up to a
    // year before), met only by a reply by the deadline.
    let since = china_day_start(start - Duration::days(366));
    let mut supervision = events(conn, "urge", since)?;
    supervision.extend(events(conn, "supervise", since)?);
    supervision.extend(events(conn, "flag", since)?);
    supervision.retain(|s| unit_of(s.0).is_some());
    let supervised: Vec<i32> = supervision.iter().map(|s| s.0).collect();
    let mut replies: HashMap<i32, Vec<(i32, NaiveDate)>> = HashMap::new();
    for chunk in supervised.chunks(900) {
        let rows: Vec<(i32, i32, NaiveDateTime)> = e::message_events
            .filter(e::message_id.eq_any(chunk))
            .filter(e::action.eq("reply"))
            .select((e::message_id, e::seq, e::at))
            .load(conn)?;
        for (id, seq, at) in rows {
            replies
                .entry(id)
                .or_default()
                .push((seq, to_china(at).date()));
        }
    }
    for (id, seq, action, at, _, detail) in &supervision {
        let Some(unit) = unit_of(*id) else { continue };
        let detail: serde_json::Value =
            serde_json::from_str(detail).unwrap_or(serde_json::Value::Null);
        let Some(deadline) = detail
            .get("deadline")
            .and_then(|v| v.as_str())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .filter(|d| in_year(*d))
        else {
            continue;
        };
        let met = replies
            .get(id)
            .is_some_and(|r| r.iter().any(|(s, d)| s > seq && *d <= deadline));
        if !met && end > deadline {
            let day = to_china(*at).date();
            note(&mut auto, unit, "D03", || {
                cause(
                    *id,
                    format!(
                        "{} {}，要求 {deadline} 前落实，未按期答复",
                        day,
                        archive::event_label(action)
                    ),
                    deadline,
                )
            });
        }
    }

    // D07 退回理由不成立: the owner's findings.
    let marks: Vec<(i32, i32, String, chrono::NaiveDateTime)> = rm::return_marks
        .filter(rm::unit_id.eq_any(units))
        .filter(rm::marked_at.ge(t0))
        .filter(rm::marked_at.lt(t1))
        .select((rm::message_id, rm::unit_id, rm::reason, rm::marked_at))
        .load(conn)?;
    for (mid, unit, reason, at) in marks {
        let day = to_china(at).date();
        note(&mut auto, unit, "D07", || {
            cause(mid, format!("退回理由不成立：{reason}"), day)
        });
    }

    // D09 档案未按期上报或被退回.
    for p in periods::all(conn)? {
        if !p.period.starts_with(&format!("{year}-")) {
            continue;
        }
        let subs = periods::submissions(conn, p.id)?;
        for &unit in units {
            let mine: Vec<&periods::Submission> =
                subs.iter().filter(|s| s.unit_id == unit).collect();
            let date_of = |s: &periods::Submission| to_china(s.submitted_at).date();
            for s in &mine {
                if s.late && date_of(s) <= end {
                    note(&mut auto, unit, "D09", || Cause {
                        message_id: None,
                        ref_no: String::new(),
                        what: format!(
                            "{} 档案逾期上报（{} 上报，截止 {}）",
                            p.period,
                            date_of(s),
                            p.due_date
                        ),
                        date: date_of(s).to_string(),
                    });
                }
                if s.state == periods::RETURNED {
                    if let Some(r) = s
                        .reviewed_at
                        .map(|t| to_china(t).date())
                        .filter(|d| *d <= end)
                    {
                        note(&mut auto, unit, "D09", || Cause {
                            message_id: None,
                            ref_no: String::new(),
                            what: format!(
                                "{} 档案上报被退回：{}",
                                p.period,
                                s.return_reason.clone().unwrap_or_default()
                            ),
                            date: r.to_string(),
                        });
                    }
                }
            }
            if mine.is_empty() && end > p.due_date {
                note(&mut auto, unit, "D09", || Cause {
                    message_id: None,
                    ref_no: String::new(),
                    what: format!("{} 档案截止 {} 后仍未上报", p.period, p.due_date),
                    date: p.due_date.to_string(),
                });
            }
        }
    }

    // D10 纸质档与电子档不一致: archived in the year and never printed within the grace
    // days, or changed since the latest print. After 销号 a record changes only by an
    // appended 更正, so only a print older than the 销号, or a 更正 after it, can differ:
    // those few are compared in full, as the message page does.
    // Read through the covering index (archived_at, state, handling_unit_id); the state
    // and the units are checked here (see D01: given the state, SQLite would walk every
    // archived message through a state index).
    let archived = || {
        m::messages
            .filter(m::archived_at.ge(t0))
            .filter(m::archived_at.lt(t1))
    };
    // Unprinted past the grace days: 销号 before the day `end - grace` began.
    let graced = china_day_start(end - Duration::days(PRINT_GRACE_DAYS));
    let unprinted: Vec<(i32, String, Option<i32>, Option<NaiveDateTime>)> = archived()
        .filter(m::archived_at.lt(graced))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            ap::archive_prints.filter(ap::message_id.eq(m::id)),
        )))
        .select((m::id, m::state, m::handling_unit_id, m::archived_at))
        .load(conn)?;
    for (id, state, unit, at) in unprinted {
        let (Some(unit), Some(at)) = (unit, at) else {
            continue;
        };
        if state == "archived" && wanted.contains(&unit) {
            let day = to_china(at).date();
            note(&mut auto, unit, "D10", || {
                cause(
                    id,
                    format!("{day} 销号，{PRINT_GRACE_DAYS} 天内未打印纸质档"),
                    day,
                )
            });
        }
    }
    let printed: Vec<(i32, Option<NaiveDateTime>, Option<NaiveDateTime>)> = archived()
        .inner_join(ap::archive_prints.on(ap::message_id.eq(m::id)))
        .group_by((m::id, m::archived_at))
        .select((m::id, m::archived_at, diesel::dsl::max(ap::printed_at)))
        .load(conn)?;
    let amended: HashSet<i32> = archived()
        .inner_join(e::message_events)
        .filter(e::action.eq("amend"))
        .select(m::id)
        .load::<i32>(conn)?
        .into_iter()
        .collect();
    let to_compare: Vec<i32> = printed
        .into_iter()
        .filter(|(id, archived_at, last)| amended.contains(id) || last < archived_at)
        .map(|(id, _, _)| id)
        .collect();
    if !to_compare.is_empty() {
        let names: HashMap<i32, String> = crate::units::all(conn)?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        for id in to_compare {
            let msg: Message = m::messages.find(id).first(conn)?;
            let (Some(unit), Some(at)) = (msg.handling_unit_id, msg.archived_at) else {
                continue;
            };
            if msg.state != "archived" || !wanted.contains(&unit) {
                continue;
            }
            let day = to_china(at).date();
            let events = model::events(conn, msg.id)?;
            let files = attachments::for_message(conn, msg.id)?;
            let content = archive::printed_content(&msg, &names, &events, &files);
            let latest = archive::latest_print(conn, msg.id)?;
            if let Some(changes) = archive::paper_status(latest.as_ref(), &content) {
                if !changes.is_empty() {
                    note(&mut auto, unit, "D10", || {
                        cause(
                            msg.id,
                            format!("打印后电子档变更 {} 处，未重新打印", changes.len()),
                            day,
                        )
                    });
                }
            }
        }
    }

    // The 文号 of the causes that are listed (not of every occurrence counted).
    let ids: Vec<i32> = auto
        .values()
        .flat_map(|h| h.values())
        .flat_map(|o| o.listed.iter())
        .filter(|c| c.ref_no.is_empty())
        .filter_map(|c| c.message_id)
        .collect();
    let mut refs: HashMap<i32, String> = HashMap::new();
    for chunk in ids.chunks(900) {
        refs.extend(
            m::messages
                .filter(m::id.eq_any(chunk))
                .select((m::id, m::ref_no))
                .load::<(i32, String)>(conn)?,
        );
    }
    for o in auto.values_mut().flat_map(|h| h.values_mut()) {
        for c in o.listed.iter_mut().filter(|c| c.ref_no.is_empty()) {
            if let Some(r) = c.message_id.and_then(|i| refs.get(&i)) {
                c.ref_no = r.clone();
            }
        }
    }

    // Messages with a reply deadline in the year, per handling unit (a covering index).
    let due: HashMap<i32, i64> = m::messages
        .filter(m::due_at.between(start, end))
        .filter(m::handling_unit_id.is_not_null())
        .group_by(m::handling_unit_id)
        .select((
            m::handling_unit_id.assume_not_null(),
            diesel::dsl::count_star(),
        ))
        .load::<(i32, i64)>(conn)?
        .into_iter()
        .collect();
    let manual = store::manual_points(conn, year, end)?;
    Ok(units
        .iter()
        .map(|&u| {
            let mut codes: Vec<(String, Occurrences)> = auto
                .remove(&u)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            codes.sort_by(|a, b| a.0.cmp(&b.0));
            let (c, r) = closed.get(&u).copied().unwrap_or((0, 0));
            (
                u,
                Facts {
                    auto: codes,
                    closed: c,
                    resolved: r,
                    manual: manual.get(&u).cloned().unwrap_or_default(),
                    due: due.get(&u).copied().unwrap_or(0),
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::units::dsl as u;

    type Counts = HashMap<(i32, String), i64>;

    /// The items whose reading is narrowed in SQL (late rows, covering indexes, the unit
    /// map), counted again from every message and event, naively.
    fn naive(
        conn: &mut DbConn,
        start: NaiveDate,
        end: NaiveDate,
        units: &[i32],
    ) -> (Counts, HashMap<i32, (i64, i64)>) {
        let mut counts = Counts::new();
        let mut add = |unit: i32, code: &str| *counts.entry((unit, code.into())).or_default() += 1;
        let all: Vec<Message> = m::messages.load(conn).expect("messages");
        let unit_of: HashMap<i32, i32> = all
            .iter()
            .filter_map(|msg| msg.handling_unit_id.map(|u| (msg.id, u)))
            .filter(|(_, u)| units.contains(u))
            .collect();
        for msg in &all {
            let Some(&unit) = unit_of.get(&msg.id) else {
                continue;
            };
            let china = |t: Option<NaiveDateTime>| t.map(|t| to_china(t).date());
            if let Some(due) = msg.accept_due.filter(|d| *d >= start && *d <= end) {
                let late = match china(msg.accepted_at) {
                    Some(d) => d > due,
                    None => msg.state == "assigned" && end > due,
                };
                if late {
                    add(unit, "D01");
                }
            }
            if let Some(due) = msg.due_at.filter(|d| *d >= start && *d <= end) {
                let running = matches!(msg.state.as_str(), "assigned" | "handling");
                let late = if running {
                    end > due
                } else {
                    china(msg.replied_at).is_some_and(|d| d > due)
                };
                if late {
                    add(unit, "D02");
                }
            }
            if msg.state == "archived" {
                if let Some(day) = china(msg.archived_at).filter(|d| *d >= start && *d <= end) {
                    if end > day + Duration::days(PRINT_GRACE_DAYS) {
                        add(unit, "D10");
                    }
                }
            }
        }
        let events: Vec<(i32, String, NaiveDateTime, String)> = e::message_events
            .select((e::message_id, e::action, e::at, e::detail))
            .load(conn)
            .expect("events");
        let mut closed: HashMap<i32, (i64, i64)> = HashMap::new();
        for (id, action, at, detail) in events {
            let day = to_china(at).date();
            let Some(&unit) = unit_of.get(&id).filter(|_| day >= start && day <= end) else {
                continue;
            };
            let detail: serde_json::Value = serde_json::from_str(&detail).expect("json");
            match action.as_str() {
                "approve" => {
                    let c = closed.entry(unit).or_default();
                    c.0 += 1;
                    if detail["resolved"] == serde_json::Value::Bool(true) {
                        c.1 += 1;
                    } else {
                        add(unit, "D06");
                    }
                }
                "follow_up" if detail["satisfaction"] == "不满意" => add(unit, "D05"),
                "reject" => add(unit, "D04"),
                _ => {}
            }
        }
        (counts, closed)
    }

    /// The scoreboard's facts equal a naive count over a generated record, including
    /// acceptances and replies at the last second of the China due day and the first of
    /// the next.
    #[test]
    fn facts_match_a_naive_count() {
        let (_dir, mut conn, today) = crate::generate::sample_db(1500);
        // Boundaries: 23:59:59 China time on the due day (on time), 00:00:00 the next day
        // (late), for 签收 and for 答复.
        let accepted: Vec<i32> = m::messages
            .filter(m::accepted_at.is_not_null())
            .filter(m::accept_due.is_not_null())
            .select(m::id)
            .load(&mut conn)
            .expect("accepted");
        for (i, id) in accepted.iter().step_by(10).enumerate() {
            let (col, due) = if i % 2 == 0 {
                ("accepted_at", "accept_due")
            } else {
                ("replied_at", "due_at")
            };
            let time = if i % 4 < 2 { "15:59:59" } else { "16:00:00" };
            diesel::sql_query(format!(
                "UPDATE messages SET {col} = {due} || ' {time}' \
                 WHERE id = {id} AND {col} IS NOT NULL"
            ))
            .execute(&mut conn)
            .expect("boundary");
        }
        let units: Vec<i32> = u::units.select(u::id).load(&mut conn).expect("units");
        for year in [2025, 2026] {
            let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("start");
            let end = NaiveDate::from_ymd_opt(year, 12, 31)
                .expect("end")
                .min(today);
            let facts = gather(&mut conn, year, today, &units).expect("gather");
            let (want, want_closed) = naive(&mut conn, start, end, &units);
            let mut got = Counts::new();
            for (unit, f) in &facts {
                for (code, o) in &f.auto {
                    if ["D01", "D02", "D04", "D05", "D06", "D10"].contains(&code.as_str()) {
                        got.insert((*unit, code.clone()), o.count);
                    }
                }
                let c = want_closed.get(unit).copied().unwrap_or((0, 0));
                assert_eq!(
                    (f.closed, f.resolved),
                    c,
                    "closed/resolved of {unit} in {year}"
                );
            }
            assert_eq!(got, want, "{year}");
            for code in ["D01", "D02", "D06", "D10"] {
                assert!(
                    want.keys().any(|(_, c)| c == code),
                    "{code} occurs in {year}: {want:?}"
                );
            }
        }
    }
}
