//! Gathering each assessed unit's facts for a year (up to a day) from the record: the
//! messages it handled, their events, its archive reporting and print records, the
//! centre's findings on returns, and the manual entries. Every automatic occurrence keeps
//! the message (and date) that caused it, so each point can be explained.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use crate::archive::{self, periods};
use crate::attachments;
use crate::clock::{china_day_start, to_china};
use crate::db::schema::{message_events::dsl as e, messages::dsl as m, return_marks::dsl as rm};
use crate::db::DbConn;
use crate::error::AppError;
use crate::messages::model::{self, Message};
use crate::scoring::{store, Cause, Facts};

/// Days an archive may wait for its paper copy before it counts as inconsistent.
pub const PRINT_GRACE_DAYS: i64 = 10;

fn cause(msg: &Message, what: String, date: NaiveDate) -> Cause {
    Cause {
        message_id: Some(msg.id),
        ref_no: msg.ref_no.clone(),
        what,
        date: date.to_string(),
    }
}

/// Facts for every unit in `units` for `year`, counting what happened up to `as_of`.
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
    let mut auto: HashMap<i32, HashMap<&'static str, Vec<Cause>>> = HashMap::new();
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

    // Messages handled by the units that were live in the year.
    let msgs: Vec<Message> = m::messages
        .filter(m::handling_unit_id.eq_any(units))
        .filter(
            m::accept_due
                .between(start, end)
                .or(m::due_at.between(start, end))
                .or(m::closed_at.ge(t0).and(m::closed_at.lt(t1)))
                .or(m::archived_at.ge(t0).and(m::archived_at.lt(t1)))
                .or(m::id.eq_any(
                    e::message_events
                        .filter(e::at.ge(t0))
                        .filter(e::at.lt(t1))
                        .filter(e::action.eq_any([
                            "urge",
                            "supervise",
                            "flag",
                            "reject",
                            "follow_up",
                            "approve",
                        ]))
                        .select(e::message_id),
                )),
        )
        .load(conn)?;
    let by_id: HashMap<i32, &Message> = msgs.iter().map(|x| (x.id, x)).collect();
    for msg in &msgs {
        let Some(unit) = msg.handling_unit_id else {
            continue;
        };
        // D01 超期签收.
        if let Some(due) = msg.accept_due.filter(|d| in_year(*d)) {
            match msg.accepted_at {
                Some(t) if to_china(t).date() > due => push(
                    unit,
                    "D01",
                    cause(
                        msg,
                        format!("应于 {due} 前签收，{} 签收", to_china(t).date()),
                        due,
                    ),
                ),
                None if msg.state == "assigned" && end > due => push(
                    unit,
                    "D01",
                    cause(msg, format!("应于 {due} 前签收，至今未签收"), due),
                ),
                _ => {}
            }
        }
        // D02 超期答复/超期办结.
        if let Some(due) = msg.due_at.filter(|d| in_year(*d)) {
            let running = matches!(msg.state.as_str(), "assigned" | "handling");
            match msg.replied_at {
                Some(t) if !running && to_china(t).date() > due => push(
                    unit,
                    "D02",
                    cause(
                        msg,
                        format!("应于 {due} 前答复，{} 答复", to_china(t).date()),
                        due,
                    ),
                ),
                _ if running && end > due => push(
                    unit,
                    "D02",
                    cause(msg, format!("应于 {due} 前答复，至今未答复"), due),
                ),
                _ => {}
            }
        }
        // D08 档案要素不全.
        if let Some(closed) = msg
            .closed_at
            .map(|t| to_china(t).date())
            .filter(|d| in_year(*d))
        {
            if matches!(msg.state.as_str(), "reported" | "archived") {
                let missing = msg.missing_elements();
                if !missing.is_empty() {
                    push(
                        unit,
                        "D08",
                        cause(msg, format!("缺：{}", missing.join("、")), closed),
                    );
                }
            }
        }
    }

    // Events: supervision, replies, rejections, follow-ups and approvals.
    let ids: Vec<i32> = msgs.iter().map(|x| x.id).collect();
    let mut closed: HashMap<i32, (i64, i64)> = HashMap::new();
    for chunk in ids.chunks(900) {
        let evs: Vec<model::Event> = e::message_events
            .filter(e::message_id.eq_any(chunk))
            .filter(e::action.eq_any([
                "urge",
                "supervise",
                "flag",
                "reply",
                "reject",
                "follow_up",
                "approve",
            ]))
            .order((e::message_id, e::seq))
            .load(conn)?;
        for ev in &evs {
            let Some(msg) = by_id.get(&ev.message_id) else {
                continue;
            };
            let Some(unit) = msg.handling_unit_id else {
                continue;
            };
            let day = to_china(ev.at).date();
            let detail: serde_json::Value =
                serde_json::from_str(&ev.detail).unwrap_or(serde_json::Value::Null);
            match ev.action.as_str() {
                "urge" | "supervise" | "flag" => {
                    let Some(deadline) = detail
                        .get("deadline")
                        .and_then(|v| v.as_str())
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                        .filter(|d| in_year(*d))
                    else {
                        continue;
                    };
                    let met = evs.iter().any(|r| {
                        r.message_id == ev.message_id
                            && r.seq > ev.seq
                            && r.action == "reply"
                            && to_china(r.at).date() <= deadline
                    });
                    if !met && end > deadline {
                        push(
                            unit,
                            "D03",
                            cause(
                                msg,
                                format!(
                                    "{} {}，要求 {deadline} 前落实，未按期答复",
                                    day,
                                    archive::event_label(&ev.action)
                                ),
                                deadline,
                            ),
                        );
                    }
                }
                "reject" if in_year(day) => push(
                    unit,
                    "D04",
                    cause(msg, format!("{day} 答复被驳回重办：{}", ev.text), day),
                ),
                "follow_up"
                    if in_year(day)
                        && detail.get("satisfaction").and_then(|v| v.as_str())
                            == Some("不满意") =>
                {
                    push(unit, "D05", cause(msg, format!("{day} 回访不满意"), day));
                }
                "approve" if in_year(day) => {
                    let resolved = detail.get("resolved").and_then(|v| v.as_bool());
                    let c = closed.entry(unit).or_default();
                    c.0 += 1;
                    if resolved == Some(true) {
                        c.1 += 1;
                    } else {
                        push(unit, "D06", cause(msg, format!("{day} 办结，未化解"), day));
                    }
                }
                _ => {}
            }
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

    // D10 纸质档与电子档不一致.
    let names: HashMap<i32, String> = crate::units::all(conn)?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    for msg in msgs.iter().filter(|x| x.state == "archived") {
        let Some(day) = msg
            .archived_at
            .map(|t| to_china(t).date())
            .filter(|d| in_year(*d))
        else {
            continue;
        };
        let Some(unit) = msg.handling_unit_id else {
            continue;
        };
        let events = model::events(conn, msg.id)?;
        let files = attachments::for_message(conn, msg.id)?;
        let content = archive::printed_content(msg, &names, &events, &files);
        let latest = archive::latest_print(conn, msg.id)?;
        match archive::paper_status(latest.as_ref(), &content) {
            None if end > day + Duration::days(PRINT_GRACE_DAYS) => push(
                unit,
                "D10",
                cause(
                    msg,
                    format!("{day} 销号，{PRINT_GRACE_DAYS} 天内未打印纸质档"),
                    day,
                ),
            ),
            Some(changes) if !changes.is_empty() => push(
                unit,
                "D10",
                cause(
                    msg,
                    format!("打印后电子档变更 {} 处，未重新打印", changes.len()),
                    day,
                ),
            ),
            _ => {}
        }
    }

    let manual = store::manual_points(conn, year, end)?;
    Ok(units
        .iter()
        .map(|&u| {
            let mut codes: Vec<(String, Vec<Cause>)> = auto
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
