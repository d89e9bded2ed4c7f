//! The data generator for benchmarks: N messages over several years, spread over the
//! real units, categories, platforms and states in realistic proportions, each with a
//! consistent, hash-chained timeline, 档号 for the archived ones, and the search index.
//! Texts come from real messages (a directory with the 泰迪杯 CSV files, or the demo
//! sample compiled into the program).

use std::collections::HashMap;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::archive::{self, chain};
use crate::auth::roles::UnitKind;
use crate::clock::from_china;
use crate::db::schema::{
    archive_counters::dsl as ac, message_events::dsl as e, messages::dsl as m,
    ref_counters::dsl as rc,
};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::calendar::Calendar;
use crate::messages::config;
use crate::messages::lifecycle::State;
use crate::messages::model::Message;
use crate::messages::service::format_ref_no;

/// (title, body, category) samples and replies.
pub struct Texts {
    pub messages: Vec<(String, String, String)>,
    pub replies: Vec<String>,
}

/// Texts from `dir` (the 泰迪杯 CSVs) or the compiled-in demo sample.
pub fn texts(dir: Option<&Path>) -> anyhow::Result<Texts> {
    if let Some(d) = dir {
        let mut messages = Vec::new();
        let mut replies = Vec::new();
        for (file, cat_col) in [
            ("taidi2020_messages_sample.csv", Some(5)),
            ("taidi2020_hot_messages.csv", None),
            ("taidi2020_replies.csv", None),
        ] {
            let p = d.join(file);
            if !p.exists() {
                continue;
            }
            let mut rdr = csv::Reader::from_path(&p)?;
            for rec in rdr.records() {
                let rec = rec?;
                let cat = cat_col
                    .and_then(|c| rec.get(c))
                    .filter(|c| !c.is_empty())
                    .unwrap_or("城乡建设")
                    .to_string();
                messages.push((
                    rec.get(2).unwrap_or("").chars().take(200).collect(),
                    rec.get(4).unwrap_or("").chars().take(3000).collect(),
                    cat,
                ));
                if file == "taidi2020_replies.csv" {
                    replies.push(rec.get(5).unwrap_or("").chars().take(3000).collect());
                }
            }
        }
        if !messages.is_empty() && !replies.is_empty() {
            return Ok(Texts { messages, replies });
        }
    }
    // Without the data folder: the demonstration texts shipped in the binary.
    let s = crate::demo::sample()?;
    Ok(Texts {
        messages: s.messages.into_iter().map(|x| (x.t, x.b, x.c)).collect(),
        replies: s.replies.into_iter().map(|r| r.r).collect(),
    })
}

/// The states of generated messages and their shares (per thousand).
const SHARES: [(State, u32); 8] = [
    (State::Registered, 20),
    (State::Assigned, 20),
    (State::Handling, 90),
    (State::Replied, 30),
    (State::Closed, 20),
    (State::FollowedUp, 30),
    (State::Reported, 40),
    (State::Archived, 750),
];

fn pick_state(r: u32) -> State {
    let mut acc = 0;
    for (s, share) in SHARES {
        acc += share;
        if r < acc {
            return s;
        }
    }
    State::Archived
}

struct Ev {
    at: NaiveDateTime,
    unit: i32,
    actor: &'static str,
    action: &'static str,
    from: Option<State>,
    to: State,
    text: String,
    detail: serde_json::Value,
}

/// A generated message waiting for its id: its 文号, its timeline, its 归档 (time and
/// 档号) when it is archived, and its searchable text.
struct Plan {
    ref_no: String,
    evs: Vec<Ev>,
    archive: Option<(NaiveDateTime, Option<String>)>,
    index_text: String,
}

/// A generated message stored: what its seal and its search entry need.
struct Stored {
    id: i32,
    count: i64,
    head: String,
    digest: String,
    index_text: String,
}

/// The timelines of messages just inserted (ids by 文号), hash-chained, in multi-row
/// INSERTs; the 归档 event carries the digest of the elements as stored.
fn store_timelines(
    conn: &mut DbConn,
    ids: &HashMap<String, i32>,
    plans: Vec<Plan>,
    centre: i32,
    names: &HashMap<i32, String>,
    retention: &str,
) -> Result<Vec<Stored>, AppError> {
    let all: Vec<i32> = ids.values().copied().collect();
    let mut messages: HashMap<i32, Message> = HashMap::with_capacity(all.len());
    for part in all.chunks(5000) {
        let got: Vec<Message> = m::messages.filter(m::id.eq_any(part)).load(conn)?;
        messages.extend(got.into_iter().map(|msg| (msg.id, msg)));
    }
    let mut rows = Vec::new();
    let mut out = Vec::with_capacity(plans.len());
    for mut plan in plans {
        let msg = ids
            .get(&plan.ref_no)
            .and_then(|id| messages.get(id))
            .ok_or_else(|| AppError::internal(format!("generated {} not stored", plan.ref_no)))?;
        let id = msg.id;
        if let Some((at, archive_no)) = plan.archive {
            plan.evs.push(Ev {
                at,
                unit: centre,
                actor: "中心办理员",
                action: "archive",
                from: Some(State::Reported),
                to: State::Archived,
                text: String::new(),
                detail: serde_json::json!({ "archive_no": archive_no, "retention": retention, "elements_sha256": archive::elements_digest(msg, names) }),
            });
        }
        let mut prev = (String::new(), String::new());
        for (i, ev) in plan.evs.iter().enumerate() {
            let seq = i as i32 + 1;
            let detail = ev.detail.to_string();
            let body = chain::canonical(
                id,
                seq,
                ev.at,
                None,
                ev.actor,
                Some(ev.unit),
                ev.action,
                ev.from.map(|s| s.as_str()),
                ev.to.as_str(),
                &ev.text,
                &detail,
                &[],
            );
            let (h, h2) = chain::link((&prev.0, &prev.1), &body);
            rows.push((
                e::message_id.eq(id),
                e::seq.eq(seq),
                e::at.eq(ev.at),
                e::user_id.eq(None::<i32>),
                e::actor_name.eq(ev.actor),
                e::unit_id.eq(Some(ev.unit)),
                e::action.eq(ev.action),
                e::from_state.eq(ev.from.map(|s| s.as_str())),
                e::to_state.eq(ev.to.as_str()),
                e::text.eq(ev.text.clone()),
                e::detail.eq(detail),
                e::hash.eq(h.clone()),
                e::hash_sm3.eq(h2.clone()),
            ));
            prev = (h, h2);
        }
        out.push(Stored {
            id,
            count: plan.evs.len() as i64,
            head: prev.1,
            digest: crate::archive::ledger::record_digest(msg, &[]),
            index_text: plan.index_text,
        });
    }
    // 13 columns × 2,000 bound values per statement.
    for part in db::batches(rows, 2000) {
        crate::insert_rows!(conn, e::message_events, part)?;
    }
    Ok(out)
}

/// Generate `n` messages over the `years` years up to `today`; returns how many.
pub fn generate(
    conn: &mut DbConn,
    n: usize,
    years: i64,
    today: NaiveDate,
    texts: &Texts,
    mut progress: impl FnMut(usize),
) -> Result<usize, AppError> {
    let existing: i64 = m::messages.count().get_result(conn)?;
    if existing > 0 {
        return Err(AppError::BadRequest(format!(
            "数据库中已有 {existing} 条留言：生成数据只能在没有留言的新数据库上进行。"
        )));
    }
    let all = crate::units::all(conn)?;
    let centre = all
        .iter()
        .find(|u| u.kind() == Some(UnitKind::Centre))
        .ok_or_else(|| AppError::internal("no city centre unit"))?
        .clone();
    let handlers: Vec<&crate::units::Unit> = all
        .iter()
        .filter(|u| {
            u.active
                && matches!(
                    u.kind(),
                    Some(UnitKind::County | UnitKind::Zone | UnitKind::Department)
                )
        })
        .collect();
    let names: HashMap<i32, String> = all.iter().map(|u| (u.id, u.name.clone())).collect();
    let cal: Calendar = config::calendar(conn)?;
    let rules = config::rules(conn)?;
    let platforms = config::list(conn, config::PLATFORM)?;
    let categories = config::list(conn, config::CATEGORY)?;
    let format = config::ref_format(conn)?;
    let (fonds, category_code, retention) = archive::settings(conn)?;
    let mut rng = StdRng::seed_from_u64(20261130);
    let start = today - Duration::days(365 * years);
    let span = (today - start).num_days().max(1);
    // Posting dates in order, so numbers rise with time like real registrations.
    let mut days: Vec<i64> = (0..n).map(|_| rng.gen_range(0..span)).collect();
    days.sort_unstable();
    let mut ref_seq: HashMap<i32, i32> = HashMap::new();
    let mut pieces: HashMap<(i32, String), i32> = HashMap::new();
    let mut done = 0;
    let mut to_index: Vec<(i32, String)> = Vec::new();
    // SQLite: a new database being filled is written in place, without the write-ahead
    // log (every page written twice) or syncing, until the end. An interrupted run leaves
    // a database to delete (it is refused for a second run anyway).
    if let DbConn::Sqlite(c) = conn {
        c.batch_execute("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;")?;
    }
    let mut bulk = crate::search::BulkIndex::start(conn)?;
    crate::search::pg_bulk_start(conn)?;
    for chunk in days.chunks(5000) {
        db::write_tx(conn, |conn| {
            let mut sealing = Vec::with_capacity(chunk.len());
            let mut rows = Vec::with_capacity(chunk.len());
            let mut plans: Vec<Plan> = Vec::with_capacity(chunk.len());
            for &d in chunk {
                let posted_day = start + Duration::days(d);
                let reg_day = if cal.is_working_day(posted_day) {
                    posted_day
                } else {
                    cal.add_working_days(posted_day, 1)
                };
                if reg_day > today {
                    continue;
                }
                let (title, body, cat0) = &texts.messages[rng.gen_range(0..texts.messages.len())];
                let category = if categories.contains(cat0) {
                    cat0.clone()
                } else {
                    categories[rng.gen_range(0..categories.len())].clone()
                };
                let platform = platforms[rng.gen_range(0..platforms.len())].clone();
                let level = if rng.gen_ratio(1, 5) {
                    "省级"
                } else {
                    "市级"
                };
                let handler = handlers[rng.gen_range(0..handlers.len())];
                // Older messages are further along: young ones may still be running.
                let age = (today - reg_day).num_days();
                let mut state = pick_state(rng.gen_range(0..1000));
                if age > 120 && !matches!(state, State::Archived | State::Reported) {
                    state = State::Archived;
                }
                let year = reg_day.year();
                let seq = ref_seq.entry(year).or_insert(0);
                *seq += 1;
                let ref_no = format_ref_no(&format, "安", year, *seq);
                let name = format!(
                    "{}{}",
                    [
                        "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "罗", "龙"
                    ][rng.gen_range(0..12)],
                    [
                        "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰"
                    ][rng.gen_range(0..12)]
                );
                let phone = format!("13{:09}", rng.gen_range(0..1_000_000_000u64));
                let t = |day: NaiveDate, h: u32| {
                    from_china(day.and_hms_opt(h, 0, 0).unwrap_or_default())
                };
                let reply_days = config::reply_days(&rules, level, &platform, &category) as i64;
                let mut evs: Vec<Ev> = vec![Ev {
                    at: t(reg_day, 9),
                    unit: centre.id,
                    actor: "中心办理员",
                    action: "register",
                    from: None,
                    to: State::Registered,
                    text: String::new(),
                    detail: serde_json::json!({ "ref_no": ref_no, "generated": true }),
                }];
                let reached = |s: State| {
                    crate::messages::lifecycle::ALL_STATES
                        .iter()
                        .position(|x| *x == s)
                        <= crate::messages::lifecycle::ALL_STATES
                            .iter()
                            .position(|x| *x == state)
                };
                let assign_day = reg_day;
                let accept_day = cal.add_working_days(assign_day, 1).min(today);
                let due = cal.add_working_days(assign_day, reply_days);
                let late = rng.gen_ratio(1, 12);
                let reply_day = if late {
                    cal.add_working_days(due, rng.gen_range(1..6))
                } else {
                    cal.add_working_days(accept_day, rng.gen_range(1..reply_days.max(2)))
                }
                .min(today);
                let close_day = cal.add_working_days(reply_day, 1).min(today);
                let follow_day = cal.add_working_days(close_day, 1).min(today);
                let report_day = cal.add_working_days(follow_day, 2).min(today);
                let archive_day = cal.add_working_days(report_day, 1).min(today);
                let resolved = !rng.gen_ratio(1, 8);
                let reply = texts.replies[rng.gen_range(0..texts.replies.len())].clone();
                let sat = ["满意", "满意", "满意", "基本满意", "不满意"][rng.gen_range(0..5)];
                let sat = if matches!(state, State::FollowedUp) || sat != "不满意" {
                    sat
                } else {
                    "基本满意"
                };
                let hname = handler.name.clone();
                if reached(State::Assigned) {
                    evs.push(Ev {
                        at: t(assign_day, 10),
                        unit: centre.id,
                        actor: "中心办理员",
                        action: "assign",
                        from: Some(State::Registered),
                        to: State::Assigned,
                        text: "请核实办理，按期答复。".into(),
                        detail: serde_json::json!({ "unit": hname, "reply_days": reply_days }),
                    });
                }
                if reached(State::Handling) {
                    evs.push(Ev {
                        at: t(accept_day, 9),
                        unit: handler.id,
                        actor: "单位办理员",
                        action: "accept",
                        from: Some(State::Assigned),
                        to: State::Handling,
                        text: String::new(),
                        detail: serde_json::json!({}),
                    });
                }
                if reached(State::Replied) {
                    evs.push(Ev {
                        at: t(reply_day, 11),
                        unit: handler.id,
                        actor: "单位办理员",
                        action: "reply",
                        from: Some(State::Handling),
                        to: State::Replied,
                        text: reply.clone(),
                        detail: serde_json::json!({ "resolved": resolved }),
                    });
                }
                if reached(State::Closed) {
                    evs.push(Ev {
                        at: t(close_day, 10),
                        unit: centre.id,
                        actor: "中心办理员",
                        action: "approve",
                        from: Some(State::Replied),
                        to: State::Closed,
                        text: "同意办结。".into(),
                        detail: serde_json::json!({ "resolved": resolved }),
                    });
                }
                if reached(State::FollowedUp) {
                    evs.push(Ev {
                        at: t(follow_day, 15),
                        unit: centre.id,
                        actor: "中心办理员",
                        action: "follow_up",
                        from: Some(State::Closed),
                        to: State::FollowedUp,
                        text: String::new(),
                        detail: serde_json::json!({ "method": "电话", "satisfaction": sat }),
                    });
                }
                let report_ref = format!(
                    "安网呈〔{}〕{}号",
                    report_day.year(),
                    1 + report_day.ordinal() / 7
                );
                if reached(State::Reported) {
                    evs.push(Ev {
                        at: t(report_day, 10),
                        unit: centre.id,
                        actor: "中心办理员",
                        action: "report",
                        from: Some(State::FollowedUp),
                        to: State::Reported,
                        text: String::new(),
                        detail: serde_json::json!({ "report_ref_no": report_ref }),
                    });
                }
                let archived = reached(State::Archived);
                let mut archive_no = None;
                if archived {
                    let code = archive::unit_code(handler);
                    let key = (archive_day.year(), code.clone());
                    let piece = pieces.entry(key).or_insert(0);
                    *piece += 1;
                    archive_no = Some(archive::format_archive_no(
                        &fonds,
                        &category_code,
                        archive_day.year(),
                        archive::retention_code(&retention).unwrap_or("D30"),
                        &code,
                        *piece,
                    ));
                }
                let reply_text = reached(State::Replied).then_some(reply.as_str());
                let index_text = crate::search::body(title, body, reply_text);
                rows.push((
                    m::ref_no.eq(ref_no.clone()),
                    m::owner_unit_id.eq(centre.id),
                    m::level.eq(level),
                    m::source_platform.eq(platform.clone()),
                    m::platform_ref.eq(Some(format!("G{year}{:07}", *seq))),
                    m::complainant_name.eq(crate::messages::personal::seal(&name)),
                    m::complainant_contact.eq(crate::messages::personal::seal(&phone)),
                    m::name_key.eq(crate::messages::personal::name_key(&name)),
                    m::contact_key.eq(crate::messages::personal::contact_key(&phone)),
                    m::title.eq(title.clone()),
                    m::appeal.eq(body.clone()),
                    m::posted_at.eq(t(posted_day, 8)),
                    m::category.eq(category),
                    m::state.eq(state.as_str()),
                    m::version.eq(evs.len() as i32 + i32::from(archived)),
                    m::registered_at.eq(t(reg_day, 9)),
                    m::extension_days.eq(0),
                    m::updated_at.eq(db::now()),
                    m::handling_unit_id.eq(reached(State::Assigned).then_some(handler.id)),
                    m::assigned_at.eq(reached(State::Assigned).then(|| t(assign_day, 10))),
                    m::accept_due
                        .eq(reached(State::Assigned).then(|| cal.add_working_days(assign_day, 1))),
                    m::accepted_at.eq(reached(State::Handling).then(|| t(accept_day, 9))),
                    m::due_at.eq(reached(State::Assigned).then_some(due)),
                    m::handling_summary.eq(reached(State::Replied).then(|| reply.clone())),
                    m::proposed_resolved.eq(reached(State::Replied).then_some(resolved)),
                    m::replied_at.eq(reached(State::Replied).then(|| t(reply_day, 11))),
                    m::resolved.eq(reached(State::Closed).then_some(resolved)),
                    m::closed_at.eq(reached(State::Closed).then(|| t(close_day, 10))),
                    m::followup_due
                        .eq(reached(State::Closed).then(|| cal.add_working_days(close_day, 1))),
                    m::satisfaction.eq(reached(State::FollowedUp).then(|| sat.to_string())),
                    m::evaluation.eq(reached(State::FollowedUp).then(|| "电话回访".to_string())),
                    m::followed_up_at.eq(reached(State::FollowedUp).then(|| t(follow_day, 15))),
                    m::report_ref_no.eq(reached(State::Reported).then(|| report_ref.clone())),
                    m::reported_at.eq(reached(State::Reported).then(|| t(report_day, 10))),
                    m::archived_at.eq(archived.then(|| t(archive_day, 16))),
                    m::archive_no.eq(archive_no.clone()),
                    m::retention.eq(archived.then(|| retention.clone())),
                ));
                plans.push(Plan {
                    ref_no,
                    evs,
                    archive: archived.then_some((t(archive_day, 16), archive_no)),
                    index_text,
                });
            }
            // The rows in multi-row INSERTs (36 columns × 500 bound values), their ids
            // read back by 文号.
            let mut ids: HashMap<String, i32> = HashMap::with_capacity(rows.len());
            for part in db::batches(rows, 500) {
                let got: Vec<(i32, String)> =
                    crate::insert_rows!(conn, m::messages, part, (m::id, m::ref_no))?;
                ids.extend(got.into_iter().map(|(id, r)| (r, id)));
            }
            for s in store_timelines(conn, &ids, plans, centre.id, &names, &retention)? {
                sealing.push((s.id, s.count, s.head, s.digest));
                to_index.push((s.id, s.index_text));
                done += 1;
            }
            crate::archive::ledger::seal_new_messages(conn, &sealing)?;
            // PostgreSQL: the search entries with their messages.
            if bulk.is_none() {
                crate::search::index_new_batch(conn, &std::mem::take(&mut to_index))?;
            }
            Ok::<_, AppError>(())
        })?;
        // SQLite: to the index builders, in batches of 40,000 (see `BulkIndex`).
        if let Some(b) = bulk.as_mut() {
            if to_index.len() >= 40_000 {
                b.add(std::mem::take(&mut to_index))?;
            }
        }
        progress(done);
    }
    if let Some(mut b) = bulk {
        b.add(std::mem::take(&mut to_index))?;
        b.finish(conn)?;
    }
    crate::search::pg_bulk_finish(conn)?;
    if let DbConn::Sqlite(c) = conn {
        c.batch_execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
    }
    // The counters continue where the generated numbers stop.
    db::write_tx(conn, |conn| {
        for (year, last) in &ref_seq {
            diesel::delete(
                rc::ref_counters
                    .filter(rc::owner_unit_id.eq(centre.id))
                    .filter(rc::year.eq(year)),
            )
            .execute(conn)?;
            diesel::insert_into(rc::ref_counters)
                .values((
                    rc::owner_unit_id.eq(centre.id),
                    rc::year.eq(year),
                    rc::last_seq.eq(last),
                ))
                .execute(conn)?;
        }
        for ((year, code), last) in &pieces {
            diesel::delete(
                ac::archive_counters
                    .filter(ac::fonds.eq(&fonds))
                    .filter(ac::year.eq(year))
                    .filter(ac::retention.eq(&retention))
                    .filter(ac::unit_code.eq(code)),
            )
            .execute(conn)?;
            diesel::insert_into(ac::archive_counters)
                .values((
                    ac::fonds.eq(&fonds),
                    ac::year.eq(year),
                    ac::retention.eq(&retention),
                    ac::unit_code.eq(code),
                    ac::last_seq.eq(last),
                ))
                .execute(conn)?;
        }
        Ok::<_, AppError>(())
    })?;
    Ok(done)
}

/// A fresh SQLite database in a temporary directory holding `n` generated messages over
/// two years up to 2026-11-30 (the directory lives as long as the returned guard).
#[cfg(test)]
pub fn sample_db(n: usize) -> (tempfile::TempDir, DbConn, NaiveDate) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir.path().join("t.db").to_string_lossy().to_string();
    let mut conn = crate::db::establish(&url).expect("open");
    crate::archive::signing::Keyring::ephemeral().install();
    crate::bootstrap::prepare(&mut conn, true, false).expect("prepare");
    let today = NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");
    let texts = texts(None).expect("texts");
    generate(&mut conn, n, 2, today, &texts, |_| {}).expect("generate");
    (dir, conn, today)
}
