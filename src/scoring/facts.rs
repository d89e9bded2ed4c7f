//! Gathering each assessed unit's facts for a year (up to a day) from the record: the
//! messages it handled, their events, its archive reporting and print records, the
//! centre's findings on returns, and the manual entries. Every automatic occurrence keeps
//! the message (and date) that caused it, so each point can be explained.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::archive::{self, periods};
use crate::attachments;
use crate::clock::{china_day_start, to_china};
use crate::db::schema::{
    archive_prints::dsl as ap, message_events::dsl as e, messages::dsl as m,
    return_marks::dsl as rm,
};
use crate::db::DbConn;
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

/// Which events to load, by their JSON detail (written by this program, compactly).
enum Detail {
    Any,
    Like(&'static str),
    NotLike(&'static str),
}

/// An event (message, seq, action, time, text, detail) with its message's handling unit.
type UnitEvent = (i32, i32, String, NaiveDateTime, String, String, Option<i32>);

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
    let mut auto: HashMap<i32, HashMap<&'static str, Occurrences>> = HashMap::new();
    let mut push = |unit: i32, code: &'static str, c: Cause| {
        auto.entry(unit)
            .or_default()
            .entry(code)
            .or_default()
            .push(c);
    };
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

    // D01 超期签收: 签收 due in the year.
    // The units are checked here, not in SQL: given a list of units, SQLite would walk
    // them through a unit index and read every row, instead of the deadline's covering
    // index.
    let wanted: std::collections::HashSet<i32> = units.iter().copied().collect();
    // Only the rows that can be late are read: never accepted while waiting, or accepted
    // after the start of the due day (a timestamp compares after its date in both
    // backends; the exact China-time check follows).
    let to_accept: Vec<Dated> = m::messages
        .filter(m::accept_due.between(start, end))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "((messages.accepted_at IS NULL AND messages.state = 'assigned') \
             OR messages.accepted_at > messages.accept_due)",
        ))
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
            Some(t) if to_china(t).date() > due => push(
                unit,
                "D01",
                cause(
                    msg.id,
                    format!("应于 {due} 前签收，{} 签收", to_china(t).date()),
                    due,
                ),
            ),
            None if msg.state == "assigned" && end > due => push(
                unit,
                "D01",
                cause(msg.id, format!("应于 {due} 前签收，至今未签收"), due),
            ),
            _ => {}
        }
    }
    // D02 超期答复/超期办结: reply due in the year.
    // Likewise: still running, or replied after the start of the due day.
    let to_reply: Vec<Dated> = m::messages
        .filter(m::due_at.between(start, end))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "(messages.state IN ('assigned', 'handling') OR messages.replied_at > messages.due_at)",
        ))
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
            Some(t) if !running && to_china(t).date() > due => push(
                unit,
                "D02",
                cause(
                    msg.id,
                    format!("应于 {due} 前答复，{} 答复", to_china(t).date()),
                    due,
                ),
            ),
            _ if running && end > due => push(
                unit,
                "D02",
                cause(msg.id, format!("应于 {due} 前答复，至今未答复"), due),
            ),
            _ => {}
        }
    }
    // D08 档案要素不全: 呈报 with elements missing (销号 refuses an incomplete record and
    // later corrections are appended events, so an archived one is always complete).
    let reported: Vec<Message> = m::messages
        .filter(m::state.eq("reported"))
        .filter(m::handling_unit_id.eq_any(units))
        .filter(m::closed_at.ge(t0))
        .filter(m::closed_at.lt(t1))
        .load(conn)?;
    for msg in &reported {
        let (Some(unit), Some(closed)) = (msg.handling_unit_id, msg.closed_at) else {
            continue;
        };
        let missing = msg.missing_elements();
        if !missing.is_empty() {
            push(
                unit,
                "D08",
                cause(
                    msg.id,
                    format!("缺：{}", missing.join("、")),
                    to_china(closed).date(),
                ),
            );
        }
    }

    // Events in the year: rejections, follow-ups and approvals, against the message's
    // handling unit.
    // Only the events that count are loaded (a follow-up only when 不满意, an approval
    // only when not 化解: the JSON detail is written by this program, compactly).
    let unit_events = |conn: &mut DbConn,
                       action: &str,
                       detail: Detail,
                       from: chrono::NaiveDateTime|
     -> QueryResult<Vec<UnitEvent>> {
        let mut q = e::message_events
            .inner_join(m::messages)
            .filter(e::action.eq(action.to_string()))
            .filter(e::at.ge(from))
            .filter(e::at.lt(t1))
            .filter(m::handling_unit_id.eq_any(units))
            .select((
                e::message_id,
                e::seq,
                e::action,
                e::at,
                e::text,
                e::detail,
                m::handling_unit_id,
            ))
            .into_boxed();
        match detail {
            Detail::Any => {}
            Detail::Like(p) => q = q.filter(e::detail.like(p.to_string())),
            Detail::NotLike(p) => q = q.filter(e::detail.not_like(p.to_string())),
        }
        q.load(conn)
    };
    // Approvals in the year per unit, and how many of them 化解: counted in the database,
    // in one pass over the year's approvals.
    let approvals: Vec<(Option<i32>, i64, i64)> = e::message_events
        .inner_join(m::messages)
        .filter(e::action.eq("approve"))
        .filter(e::at.ge(t0))
        .filter(e::at.lt(t1))
        .filter(m::handling_unit_id.eq_any(units))
        .group_by(m::handling_unit_id)
        .select((
            m::handling_unit_id,
            diesel::dsl::count_star(),
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "COALESCE(SUM(CASE WHEN message_events.detail LIKE '%\"resolved\":true%' THEN 1 ELSE 0 END), 0)",
            ),
        ))
        .load(conn)?;
    let mut closed: HashMap<i32, (i64, i64)> = HashMap::new();
    for (unit, n, resolved) in approvals {
        if let Some(u) = unit {
            let c = closed.entry(u).or_default();
            c.0 += n;
            c.1 += resolved;
        }
    }
    for (id, _, _, at, text, _, unit) in unit_events(conn, "reject", Detail::Any, t0)? {
        let Some(unit) = unit else { continue };
        let day = to_china(at).date();
        push(
            unit,
            "D04",
            cause(id, format!("{day} 答复被驳回重办：{text}"), day),
        );
    }
    for (id, _, _, at, _, _, unit) in unit_events(
        conn,
        "follow_up",
        Detail::Like("%\"satisfaction\":\"不满意\"%"),
        t0,
    )? {
        let Some(unit) = unit else { continue };
        let day = to_china(at).date();
        push(unit, "D05", cause(id, format!("{day} 回访不满意"), day));
    }
    for (id, _, _, at, _, _, unit) in
        unit_events(conn, "approve", Detail::NotLike("%\"resolved\":true%"), t0)?
    {
        let Some(unit) = unit else { continue };
        let day = to_china(at).date();
        push(unit, "D06", cause(id, format!("{day} 办结，未化解"), day));
    }
    // D03 督办后未按期落实: supervision whose deadline falls in the year (issued up to a
    // year before), met only by a reply by the deadline.
    let since = china_day_start(start - Duration::days(366));
    let mut supervision = unit_events(conn, "urge", Detail::Any, since)?;
    supervision.extend(unit_events(conn, "supervise", Detail::Any, since)?);
    supervision.extend(unit_events(conn, "flag", Detail::Any, since)?);
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
    for (id, seq, action, at, _, detail, unit) in &supervision {
        let Some(unit) = *unit else { continue };
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
            push(
                unit,
                "D03",
                cause(
                    *id,
                    format!(
                        "{} {}，要求 {deadline} 前落实，未按期答复",
                        day,
                        archive::event_label(action)
                    ),
                    deadline,
                ),
            );
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
        let ref_no: String = m::messages
            .find(mid)
            .select(m::ref_no)
            .first(conn)
            .unwrap_or_default();
        let day = to_china(at).date();
        push(
            unit,
            "D07",
            Cause {
                message_id: Some(mid),
                ref_no,
                what: format!("退回理由不成立：{reason}"),
                date: day.to_string(),
            },
        );
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
                    push(
                        unit,
                        "D09",
                        Cause {
                            message_id: None,
                            ref_no: String::new(),
                            what: format!(
                                "{} 档案逾期上报（{} 上报，截止 {}）",
                                p.period,
                                date_of(s),
                                p.due_date
                            ),
                            date: date_of(s).to_string(),
                        },
                    );
                }
                if s.state == periods::RETURNED {
                    if let Some(r) = s
                        .reviewed_at
                        .map(|t| to_china(t).date())
                        .filter(|d| *d <= end)
                    {
                        push(
                            unit,
                            "D09",
                            Cause {
                                message_id: None,
                                ref_no: String::new(),
                                what: format!(
                                    "{} 档案上报被退回：{}",
                                    p.period,
                                    s.return_reason.clone().unwrap_or_default()
                                ),
                                date: r.to_string(),
                            },
                        );
                    }
                }
            }
            if mine.is_empty() && end > p.due_date {
                push(
                    unit,
                    "D09",
                    Cause {
                        message_id: None,
                        ref_no: String::new(),
                        what: format!("{} 档案截止 {} 后仍未上报", p.period, p.due_date),
                        date: p.due_date.to_string(),
                    },
                );
            }
        }
    }

    // D10 纸质档与电子档不一致: archived in the year and never printed within the grace
    // days, or changed since the latest print. After 销号 a record changes only by an
    // appended 更正, so only a print older than the 销号, or a 更正 after it, can differ:
    // those few are compared in full, as the message page does.
    // Read through the covering index (archived_at, state, handling_unit_id); the state
    // and the units are checked here (see D01).
    let archived = || {
        m::messages
            .filter(m::archived_at.ge(t0))
            .filter(m::archived_at.lt(t1))
    };
    let unprinted: Vec<(i32, String, Option<i32>, Option<NaiveDateTime>)> = archived()
        .filter(diesel::dsl::not(diesel::dsl::exists(
            ap::archive_prints.filter(ap::message_id.eq(m::id)),
        )))
        .select((m::id, m::state, m::handling_unit_id, m::archived_at))
        .load(conn)?;
    for (id, state, unit, at) in unprinted {
        let (Some(unit), Some(at)) = (unit, at) else {
            continue;
        };
        if state != "archived" || !wanted.contains(&unit) {
            continue;
        }
        let day = to_china(at).date();
        if end > day + Duration::days(PRINT_GRACE_DAYS) {
            push(
                unit,
                "D10",
                cause(
                    id,
                    format!("{day} 销号，{PRINT_GRACE_DAYS} 天内未打印纸质档"),
                    day,
                ),
            );
        }
    }
    let printed: Vec<(i32, Option<NaiveDateTime>, Option<NaiveDateTime>)> = archived()
        .inner_join(ap::archive_prints.on(ap::message_id.eq(m::id)))
        .group_by((m::id, m::archived_at))
        .select((m::id, m::archived_at, diesel::dsl::max(ap::printed_at)))
        .load(conn)?;
    let amended: std::collections::HashSet<i32> = archived()
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
                    push(
                        unit,
                        "D10",
                        cause(
                            msg.id,
                            format!("打印后电子档变更 {} 处，未重新打印", changes.len()),
                            day,
                        ),
                    );
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
                },
            )
        })
        .collect())
}
