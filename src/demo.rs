//! Demo work orders for `serve --demo`: about 300 messages in every state across the demo
//! units, built from demonstration messages and replies the team wrote
//! (`seed/demo_messages.json`), with dates around today so that 待办, overdue and 督办 all
//! show something. Every message gets a timeline of events consistent with its state.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Deserialize;

use crate::archive::{self, chain, chain::NewEvent};
use crate::clock::from_china;
use crate::db::schema::{messages::dsl as m, ref_counters::dsl as rc, users::dsl as us};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::calendar::Calendar;
use crate::messages::config;
use crate::messages::lifecycle::{Action, State, ALL_STATES};
use crate::messages::model::{Changes, Message};
use crate::messages::service::format_ref_no;
use crate::units;

#[derive(Deserialize)]
pub(crate) struct Sample {
    pub messages: Vec<SampleMessage>,
    pub replies: Vec<SampleReply>,
}

/// A demonstration message: title, body, 所属类型, the demo account that handles it
/// (`xixiu`, `pingba`, `zhujian`, `renshe`), and whether the citizen left a 联系方式.
#[derive(Deserialize)]
pub(crate) struct SampleMessage {
    pub t: String,
    pub b: String,
    pub c: String,
    #[serde(default)]
    pub u: String,
    #[serde(default = "yes")]
    pub contact: bool,
}

fn yes() -> bool {
    true
}

/// A demonstration reply for messages of a 所属类型.
#[derive(Deserialize)]
pub(crate) struct SampleReply {
    pub c: String,
    pub r: String,
}

/// The demonstration texts shipped in the binary.
pub(crate) fn sample() -> Result<Sample, serde_json::Error> {
    serde_json::from_str(include_str!("seed/demo_messages.json"))
}

const SURNAMES: [&str; 12] = [
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "罗", "龙",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰",
];
const PLATFORMS: [&str; 4] = [
    "人民网领导留言板",
    "省长信箱",
    "市长信箱",
    "12345政务服务便民热线",
];

/// Target states and how many messages end in each.
const PLAN: [(State, usize); 8] = [
    (State::Registered, 20),
    (State::Assigned, 40),
    (State::Handling, 80),
    (State::Replied, 30),
    (State::Closed, 30),
    (State::FollowedUp, 30),
    (State::Reported, 20),
    (State::Archived, 50),
];

struct Actor {
    user_id: i32,
    name: String,
    unit_id: i32,
}

fn actor(conn: &mut DbConn, username: &str) -> Result<Actor, AppError> {
    let (user_id, name, unit_id) = us::users
        .filter(us::username.eq(username))
        .select((us::id, us::display_name, us::unit_id))
        .first::<(i32, String, i32)>(conn)?;
    Ok(Actor {
        user_id,
        name,
        unit_id,
    })
}

#[allow(clippy::too_many_arguments)]
fn event(
    conn: &mut DbConn,
    id: i32,
    seq: &mut i32,
    at: NaiveDateTime,
    who: &Actor,
    action: &str,
    from: Option<State>,
    to: State,
    text: &str,
    detail: serde_json::Value,
) -> QueryResult<()> {
    *seq = chain::append(
        conn,
        &NewEvent {
            message_id: id,
            at,
            user_id: Some(who.user_id),
            actor_name: &who.name,
            unit_id: Some(who.unit_id),
            action,
            from_state: from.map(|s| s.as_str()),
            to_state: to.as_str(),
            text,
            detail: detail.to_string(),
            files: Vec::new(),
        },
    )?;
    Ok(())
}

/// Morning of a China-time day, as stored UTC.
fn at(day: NaiveDate, hour: u32) -> NaiveDateTime {
    from_china(day.and_hms_opt(hour, 0, 0).unwrap_or_default())
}

pub fn seed(conn: &mut DbConn, today: NaiveDate) -> Result<usize, AppError> {
    let sample = sample().map_err(AppError::internal)?;
    if sample.messages.is_empty() || sample.replies.is_empty() {
        return Ok(0);
    }
    let cal: Calendar = config::calendar(conn)?;
    let rules = config::rules(conn)?;
    let center = actor(conn, "center")?;
    let handler_names = ["xixiu", "pingba", "zhujian", "renshe"];
    let handlers = handler_names
        .iter()
        .map(|u| actor(conn, u))
        .collect::<Result<Vec<_>, _>>()?;
    let centre_unit = center.unit_id;
    let all_units = units::all(conn)?;
    let name_of = |id: i32| {
        all_units
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.clone())
            .unwrap_or_default()
    };
    let names: std::collections::HashMap<i32, String> =
        all_units.iter().map(|u| (u.id, u.name.clone())).collect();
    let (fonds, category_code, retention) = archive::settings(conn)?;
    let mut seq_no = 0;
    let mut n = 0usize;
    for (state, count) in PLAN {
        for k in 0..count {
            let s = &sample.messages[n % sample.messages.len()];
            // A reply written for messages of its 所属类型, else any.
            let fitting: Vec<&SampleReply> = sample.replies.iter().filter(|r| r.c == s.c).collect();
            let reply_text = match fitting.len() {
                0 => &sample.replies[n % sample.replies.len()].r,
                k => &fitting[n % k].r,
            };
            let handler = match handler_names.iter().position(|u| *u == s.u) {
                Some(i) => &handlers[i],
                None => &handlers[(n * 7 / 3 + n / 11) % handlers.len()],
            };
            let platform = PLATFORMS[n % PLATFORMS.len()];
            let level = if n.is_multiple_of(5) {
                "省级"
            } else {
                "市级"
            };
            let name = format!("{}{}", SURNAMES[n % 12], GIVEN[(n / 12) % 12]);
            // Some citizens leave no 联系方式: those messages wait for it to be completed
            // (销号 refuses an incomplete archive), so only messages not yet near 销号.
            let phone = if s.contact
                || matches!(state, State::FollowedUp | State::Reported | State::Archived)
            {
                format!("139{:08}", 10_000_000 + n * 7919 % 89_999_999)
            } else {
                String::new()
            };
            // How long ago it was registered: older for later states, spread so that
            // some running deadlines are overdue and some are due soon.
            let age: i64 = match state {
                State::Registered => (k % 3) as i64,
                State::Assigned => (k % 5) as i64,
                State::Handling => 2 + (k as i64 * 11) % 45,
                State::Replied => 8 + (k % 10) as i64,
                State::Closed | State::FollowedUp => 15 + (k % 15) as i64,
                State::Reported => 25 + (k % 10) as i64,
                State::Archived => 35 + (k % 40) as i64,
            };
            let reg_day = {
                let d = today - Duration::days(age);
                if cal.is_working_day(d) {
                    d
                } else {
                    cal.add_working_days(d, 1).min(today)
                }
            };
            let posted = at(reg_day, 8) - Duration::hours(6 + (n % 30) as i64);
            seq_no += 1;
            let ref_no = format_ref_no(config::DEFAULT_REF_FORMAT, "安", today.year(), seq_no);
            let reply_days = config::reply_days(&rules, level, platform, &s.c);
            let id = diesel::insert_into(m::messages)
                .values((
                    m::ref_no.eq(&ref_no),
                    m::owner_unit_id.eq(centre_unit),
                    m::level.eq(level),
                    m::source_platform.eq(platform),
                    m::platform_ref.eq(Some(format!("D{:06}", 300_000 + n))),
                    m::complainant_name.eq(crate::messages::personal::seal(&name)),
                    m::complainant_contact.eq(crate::messages::personal::seal(&phone)),
                    m::name_key.eq(crate::messages::personal::name_key(&name)),
                    m::contact_key.eq(crate::messages::personal::contact_key(&phone)),
                    m::title.eq(&s.t),
                    m::appeal.eq(&s.b),
                    m::posted_at.eq(posted),
                    m::category.eq(&s.c),
                    m::state.eq(state.as_str()),
                    m::version.eq(1),
                    m::registered_at.eq(at(reg_day, 9)),
                    m::extension_days.eq(0),
                    m::updated_at.eq(db::now()),
                ))
                .returning(m::id)
                .get_result::<i32>(conn)?;
            let mut seq = 0;
            let mut ch = Changes::default();
            event(
                conn,
                id,
                &mut seq,
                at(reg_day, 9),
                &center,
                "register",
                None,
                State::Registered,
                "",
                serde_json::json!({ "ref_no": ref_no }),
            )?;
            // ALL_STATES is in lifecycle order.
            let reached = |x: State| {
                ALL_STATES.iter().position(|o| *o == x)
                    <= ALL_STATES.iter().position(|o| *o == state)
            };
            if reached(State::Assigned) {
                let due = cal.add_working_days(reg_day, reply_days as i64);
                ch.handling_unit_id = Some(Some(handler.unit_id));
                ch.assigned_at = Some(Some(at(reg_day, 10)));
                ch.accept_due = Some(Some(cal.add_working_days(reg_day, 1)));
                ch.due_at = Some(Some(due));
                event(
                    conn,
                    id,
                    &mut seq,
                    at(reg_day, 10),
                    &center,
                    Action::Assign.as_str(),
                    Some(State::Registered),
                    State::Assigned,
                    "请核实办理，按期答复。",
                    serde_json::json!({ "unit": name_of(handler.unit_id), "reply_days": reply_days }),
                )?;
            }
            let accept_day = cal.add_working_days(reg_day, 1).min(today);
            if reached(State::Handling) {
                ch.accepted_at = Some(Some(at(accept_day, 9)));
                event(
                    conn,
                    id,
                    &mut seq,
                    at(accept_day, 9),
                    handler,
                    Action::Accept.as_str(),
                    Some(State::Assigned),
                    State::Handling,
                    "",
                    serde_json::json!({}),
                )?;
                if state == State::Handling && k % 3 == 0 {
                    event(
                        conn,
                        id,
                        &mut seq,
                        at(accept_day, 15),
                        handler,
                        Action::Progress.as_str(),
                        Some(State::Handling),
                        State::Handling,
                        "已安排专人现场核实，正在协调相关部门处理。",
                        serde_json::json!({}),
                    )?;
                }
                if state == State::Handling && k % 5 == 1 {
                    let sup_day = today - Duration::days(1);
                    let level = if k % 8 == 1 {
                        Action::Flag
                    } else {
                        Action::Urge
                    };
                    ch.supervision_level = Some(Some(level.label().to_string()));
                    ch.supervision_due = Some(Some(cal.add_working_days(today, 3)));
                    event(
                        conn,
                        id,
                        &mut seq,
                        at(sup_day.max(accept_day), 16),
                        &center,
                        level.as_str(),
                        Some(State::Handling),
                        State::Handling,
                        "请加快办理进度，按期答复网民。",
                        serde_json::json!({ "level": level.label(), "deadline": cal.add_working_days(today, 3).to_string() }),
                    )?;
                }
            }
            let reply_day = cal.add_working_days(accept_day, 5).min(today);
            if reached(State::Replied) {
                ch.handling_summary = Some(Some(reply_text.clone()));
                ch.proposed_resolved = Some(Some(k % 6 != 0));
                ch.replied_at = Some(Some(at(reply_day, 11)));
                event(
                    conn,
                    id,
                    &mut seq,
                    at(reply_day, 11),
                    handler,
                    Action::Reply.as_str(),
                    Some(State::Handling),
                    State::Replied,
                    reply_text,
                    serde_json::json!({ "resolved": k % 6 != 0 }),
                )?;
            }
            let close_day = cal.add_working_days(reply_day, 1).min(today);
            if reached(State::Closed) {
                ch.resolved = Some(Some(k % 6 != 0));
                ch.closed_at = Some(Some(at(close_day, 10)));
                ch.followup_due = Some(Some(cal.add_working_days(close_day, 1)));
                event(
                    conn,
                    id,
                    &mut seq,
                    at(close_day, 10),
                    &center,
                    Action::Approve.as_str(),
                    Some(State::Replied),
                    State::Closed,
                    "同意办结。",
                    serde_json::json!({ "resolved": k % 6 != 0 }),
                )?;
            }
            let follow_day = cal.add_working_days(close_day, 1).min(today);
            if reached(State::FollowedUp) {
                // 不满意 leads to 重办, so only messages still at 已回访 carry it.
                let sat = if state == State::FollowedUp {
                    ["满意", "满意", "基本满意", "不满意"][k % 4]
                } else {
                    ["满意", "满意", "基本满意"][k % 3]
                };
                ch.satisfaction = Some(Some(sat.to_string()));
                ch.evaluation = Some(Some(
                    if sat == "不满意" {
                        "问题没有彻底解决"
                    } else {
                        "感谢及时处理"
                    }
                    .to_string(),
                ));
                ch.followed_up_at = Some(Some(at(follow_day, 15)));
                event(
                    conn,
                    id,
                    &mut seq,
                    at(follow_day, 15),
                    &center,
                    Action::FollowUp.as_str(),
                    Some(State::Closed),
                    State::FollowedUp,
                    "",
                    serde_json::json!({ "method": "电话", "satisfaction": sat }),
                )?;
            }
            let report_day = cal.add_working_days(follow_day, 2).min(today);
            if reached(State::Reported) {
                let r = format!("安网呈〔{}〕{}号", today.year(), 10 + n / 10);
                ch.report_ref_no = Some(Some(r.clone()));
                ch.reported_at = Some(Some(at(report_day, 10)));
                event(
                    conn,
                    id,
                    &mut seq,
                    at(report_day, 10),
                    &center,
                    Action::Report.as_str(),
                    Some(State::FollowedUp),
                    State::Reported,
                    "",
                    serde_json::json!({ "report_ref_no": r }),
                )?;
            }
            let archived = reached(State::Archived);
            let archive_day = cal.add_working_days(report_day, 1).min(today);
            let mut archive_no = String::new();
            if archived {
                let handler_unit = all_units
                    .iter()
                    .find(|u| u.id == handler.unit_id)
                    .ok_or_else(|| AppError::internal("demo handler unit missing"))?;
                let code = archive::unit_code(handler_unit);
                let year = archive_day.year();
                let piece = archive::next_piece(conn, &fonds, year, &retention, &code)?;
                archive_no = archive::format_archive_no(
                    &fonds,
                    &category_code,
                    year,
                    archive::retention_code(&retention).unwrap_or("D30"),
                    &code,
                    piece,
                );
                ch.archived_at = Some(Some(at(archive_day, 16)));
                ch.archive_no = Some(Some(archive_no.clone()));
                ch.retention = Some(Some(retention.clone()));
            }
            ch.version = Some(seq + i32::from(archived));
            ch.seal_personal();
            diesel::update(m::messages.find(id))
                .set(&ch)
                .execute(conn)?;
            if archived {
                let msg: Message = m::messages.find(id).first(conn)?;
                event(
                    conn,
                    id,
                    &mut seq,
                    at(archive_day, 16),
                    &center,
                    Action::Archive.as_str(),
                    Some(State::Reported),
                    State::Archived,
                    "",
                    serde_json::json!({
                        "archive_no": archive_no,
                        "retention": retention,
                        "elements_sha256": archive::elements_digest(&msg, &names),
                    }),
                )?;
            }
            n += 1;
        }
    }
    diesel::insert_into(rc::ref_counters)
        .values((
            rc::owner_unit_id.eq(centre_unit),
            rc::year.eq(today.year()),
            rc::last_seq.eq(seq_no),
        ))
        .execute(conn)?;
    let ids: Vec<i32> = m::messages.select(m::id).order(m::id).load(conn)?;
    crate::archive::ledger::seal_messages(conn, &ids)?;
    Ok(n)
}
