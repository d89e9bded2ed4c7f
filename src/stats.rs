//! Statistics for any period and set of handling units, with one definition of each
//! figure (shown on the pages), computed within the user's scope: the same counts the
//! lists show when followed through their links.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::clock::{china_day_start, to_china};
use crate::db::schema::{message_events::dsl as e, messages::dsl as m};
use crate::db::DbConn;
use crate::messages::calendar::Calendar;
use crate::messages::model::{self, Scope, RUNNING};

/// The definitions, in the order of the columns.
pub const DEFINITIONS: [(&str, &str); 13] = [
    ("受理数", "留言时间在统计期内、交由该单位核办的留言件数。"),
    ("办结数", "办结（审核通过）时间在统计期内的留言件数。"),
    ("按期办结率", "办结的留言中，答复时间不晚于到期时间的比例。"),
    ("化解率", "办结的留言中，审核认定“已化解”的比例。"),
    ("满意率", "回访时间在统计期内的留言中，回访结果为满意或基本满意的比例。"),
    ("超期数", "受理的留言中，答复晚于到期时间、或已过到期时间仍未答复的件数（重办的留言按重办后的到期时间计）。"),
    ("平均办理时长", "办结的留言从转办到答复所用的工作日数的平均值（不含节假日、周末，含调休上班日；导入时已在平台答复、没有转办记录的不计）。"),
    ("退回数", "统计期内该单位退回交办单位的次数。"),
    ("督办数", "统计期内对该单位留言催办、督办、挂牌督办的次数。"),
    ("重办数", "统计期内该单位留言被驳回重办或因回访不满意重办的次数。"),
    ("重复件数", "受理的留言中，标记为重复件、并入原件办理的件数。"),
    ("答复质量提示率", "答复时间在统计期内的答复中，答复质量检查（相关性、完整性、及时性、套话）有任一项提示的比例（每件留言按最后一次答复计）。"),
    ("不答所问率", "答复时间在统计期内的答复中，检查判为只表示收悉或转交、或与留言无关的比例。"),
];

/// The figures of one unit (or of the total).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures {
    pub received: i64,
    pub closed: i64,
    pub on_time: i64,
    pub resolved: i64,
    pub followed: i64,
    pub satisfied: i64,
    pub overdue: i64,
    /// Sum of working days from 转办 to 答复 over the closed messages that have both (an
    /// imported one answered on the platform has no 转办), and how many those are.
    pub days: i64,
    pub timed: i64,
    pub returned: i64,
    pub supervised: i64,
    pub redone: i64,
    /// Received messages marked as 重复件 of an earlier one.
    pub repeats: i64,
    /// 答复质量 of the replies in the period: checked, with any 提示, judged 不答所问.
    pub replies_checked: i64,
    pub replies_flagged: i64,
    pub replies_no_answer: i64,
}

/// Tenths written with one decimal: `35` → "3.5", `-4` → "-0.4".
pub fn tenths_text(t: i64) -> String {
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{}", t.abs() / 10, t.abs() % 10)
}

/// "93.5%", or "—" when there is nothing to divide.
pub fn rate(part: i64, whole: i64) -> String {
    if whole == 0 {
        "—".to_string()
    } else {
        format!("{}%", tenths_text((part * 1000 + whole / 2) / whole))
    }
}

impl Figures {
    pub fn on_time_rate(&self) -> String {
        rate(self.on_time, self.closed)
    }
    pub fn resolution_rate(&self) -> String {
        rate(self.resolved, self.closed)
    }
    pub fn satisfaction_rate(&self) -> String {
        rate(self.satisfied, self.followed)
    }
    pub fn flagged_rate(&self) -> String {
        rate(self.replies_flagged, self.replies_checked)
    }
    pub fn no_answer_rate(&self) -> String {
        rate(self.replies_no_answer, self.replies_checked)
    }
    pub fn average_days(&self) -> String {
        if self.timed == 0 {
            "—".to_string()
        } else {
            tenths_text((self.days * 10 + self.timed / 2) / self.timed)
        }
    }
    pub fn add(&mut self, o: &Figures) {
        self.received += o.received;
        self.closed += o.closed;
        self.on_time += o.on_time;
        self.resolved += o.resolved;
        self.followed += o.followed;
        self.satisfied += o.satisfied;
        self.overdue += o.overdue;
        self.days += o.days;
        self.timed += o.timed;
        self.repeats += o.repeats;
        self.returned += o.returned;
        self.supervised += o.supervised;
        self.redone += o.redone;
        self.replies_checked += o.replies_checked;
        self.replies_flagged += o.replies_flagged;
        self.replies_no_answer += o.replies_no_answer;
    }
}

type Received = (
    Option<i32>,
    String,
    Option<NaiveDate>,
    Option<NaiveDateTime>,
    Option<i32>,
);
type Closed = (
    Option<i32>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDate>,
    Option<bool>,
);

/// Figures per handling unit for [from, to] (China days), within the scope.
pub fn by_unit(
    conn: &mut DbConn,
    scope: &Scope,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    cal: &Calendar,
) -> QueryResult<HashMap<i32, Figures>> {
    let (t0, t1) = (
        china_day_start(from),
        china_day_start(to + chrono::Duration::days(1)),
    );
    let mut out: HashMap<i32, Figures> = HashMap::new();
    // Received, and how many of them went overdue.
    let received: Vec<Received> = model::scoped(scope)
        .filter(m::posted_at.ge(t0))
        .filter(m::posted_at.lt(t1))
        .filter(m::handling_unit_id.is_not_null())
        .select((
            m::handling_unit_id,
            m::state,
            m::due_at,
            m::replied_at,
            m::duplicate_of,
        ))
        .load(conn)?;
    for (unit, state, due, replied, duplicate_of) in received {
        let Some(u) = unit else { continue };
        let f = out.entry(u).or_default();
        f.received += 1;
        if duplicate_of.is_some() {
            f.repeats += 1;
        }
        if let Some(due) = due {
            let running = matches!(state.as_str(), "assigned" | "handling");
            let late = match replied {
                Some(t) if !running => to_china(t).date() > due,
                _ => running && today > due,
            };
            if late {
                f.overdue += 1;
            }
        }
    }
    // Closed: on time, resolved, working days taken.
    let closed: Vec<Closed> = model::scoped(scope)
        .filter(m::closed_at.ge(t0))
        .filter(m::closed_at.lt(t1))
        .filter(m::handling_unit_id.is_not_null())
        .select((
            m::handling_unit_id,
            m::assigned_at,
            m::replied_at,
            m::due_at,
            m::resolved,
        ))
        .load(conn)?;
    for (unit, assigned, replied, due, resolved) in closed {
        let Some(u) = unit else { continue };
        let f = out.entry(u).or_default();
        f.closed += 1;
        if resolved == Some(true) {
            f.resolved += 1;
        }
        if let (Some(r), Some(d)) = (replied, due) {
            if to_china(r).date() <= d {
                f.on_time += 1;
            }
        }
        // Only real 转办 → 答复 spans count: never one that ends before it starts.
        if let (Some(a), Some(r)) = (assigned, replied) {
            if r >= a {
                f.days += cal.working_days_between(to_china(a).date(), to_china(r).date());
                f.timed += 1;
            }
        }
    }
    // Follow-ups in the period.
    let followed: Vec<(Option<i32>, Option<String>)> = model::scoped(scope)
        .filter(m::followed_up_at.ge(t0))
        .filter(m::followed_up_at.lt(t1))
        .select((m::handling_unit_id, m::satisfaction))
        .load(conn)?;
    for (unit, sat) in followed {
        let Some(u) = unit else { continue };
        let f = out.entry(u).or_default();
        f.followed += 1;
        if matches!(sat.as_deref(), Some("满意") | Some("基本满意")) {
            f.satisfied += 1;
        }
    }
    // Events in the period: returns count against the unit that returned (the actor's
    // unit); supervision and redo against the message's handling unit.
    let events: Vec<(i32, String, Option<i32>)> = e::message_events
        .filter(e::action.eq_any(["return", "urge", "supervise", "flag", "reject", "reopen"]))
        .filter(e::at.ge(t0))
        .filter(e::at.lt(t1))
        .select((e::message_id, e::action, e::unit_id))
        .load(conn)?;
    let mut ids: Vec<i32> = events.iter().map(|(id, _, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut handler: HashMap<i32, Option<i32>> = HashMap::new();
    for chunk in ids.chunks(900) {
        let rows: Vec<(i32, Option<i32>)> = model::scoped(scope)
            .filter(m::id.eq_any(chunk))
            .select((m::id, m::handling_unit_id))
            .load(conn)?;
        handler.extend(rows);
    }
    for (id, action, actor_unit) in events {
        // Only messages in scope count.
        let Some(h) = handler.get(&id) else { continue };
        match action.as_str() {
            "return" => {
                if let Some(u) = actor_unit {
                    out.entry(u).or_default().returned += 1;
                }
            }
            "urge" | "supervise" | "flag" => {
                if let Some(u) = h {
                    out.entry(*u).or_default().supervised += 1;
                }
            }
            _ => {
                if let Some(u) = h {
                    out.entry(*u).or_default().redone += 1;
                }
            }
        }
    }
    // 答复质量 of the replies given in the period, against the unit that replied.
    for (u, (checked, flagged, no_answer)) in
        crate::messages::reply_store::counts(conn, scope, t0, t1)?
    {
        let f = out.entry(u).or_default();
        f.replies_checked += checked;
        f.replies_flagged += flagged;
        f.replies_no_answer += no_answer;
    }
    Ok(out)
}

/// Dashboard counts, all within the scope.
#[derive(Debug, Default, Clone)]
pub struct Overview {
    pub by_state: Vec<(String, i64)>,
    pub overdue: i64,
    pub due_soon: i64,
    pub supervised: i64,
    pub overdue_by_unit: Vec<(i32, i64)>,
    /// (first day of month, received, closed, closed on time)
    pub months: Vec<(NaiveDate, i64, i64, i64)>,
    pub by_category: Vec<(String, i64)>,
    pub by_platform: Vec<(String, i64)>,
    pub by_level: Vec<(String, i64)>,
}

fn month_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(chrono::Datelike::year(&d), chrono::Datelike::month(&d), 1).unwrap_or(d)
}

fn add_months(d: NaiveDate, n: i32) -> NaiveDate {
    use chrono::Datelike;
    let total = d.year() * 12 + d.month0() as i32 + n;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(d)
}

pub fn overview(
    conn: &mut DbConn,
    scope: &Scope,
    windows: &crate::messages::deadline::Today,
    year_from: NaiveDate,
) -> QueryResult<Overview> {
    let today = windows.today;
    let mut o = Overview {
        by_state: m::messages
            .filter(model::scope_filter(scope))
            .group_by(m::state)
            .select((m::state, count_star()))
            .load(conn)?,
        ..Default::default()
    };
    // Overdue and due soon by the one deadline each message waits on (`deadline`).
    o.overdue = model::scoped(scope)
        .filter(model::deadline_in(&windows.overdue))
        .count()
        .get_result(conn)?;
    o.due_soon = model::scoped(scope)
        .filter(model::deadline_in(&windows.soon))
        .count()
        .get_result(conn)?;
    o.supervised = model::scoped(scope)
        .filter(m::state.eq_any(RUNNING))
        .filter(m::supervision_level.is_not_null())
        .count()
        .get_result(conn)?;
    let mut ranked: Vec<(Option<i32>, i64)> = m::messages
        .filter(model::scope_filter(scope))
        .filter(model::deadline_in(&windows.overdue))
        .group_by(m::handling_unit_id)
        .select((m::handling_unit_id, count_star()))
        .load(conn)?;
    ranked.sort_by_key(|(u, n)| (-n, *u));
    o.overdue_by_unit = ranked
        .into_iter()
        .filter_map(|(u, n)| u.map(|u| (u, n)))
        .take(10)
        .collect();
    // Twelve months up to this one.
    let first = add_months(month_start(today), -11);
    let t0 = china_day_start(first);
    let posted: Vec<NaiveDateTime> = model::scoped(scope)
        .filter(m::posted_at.ge(t0))
        .select(m::posted_at)
        .load(conn)?;
    let closed: Vec<(
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDate>,
    )> = model::scoped(scope)
        .filter(m::closed_at.ge(t0))
        .select((m::closed_at, m::replied_at, m::due_at))
        .load(conn)?;
    // Each row counted once into its month (month 0 is `first`).
    let month_of = |t: NaiveDateTime| -> Option<usize> {
        use chrono::Datelike;
        let d = to_china(t).date();
        let n = (d.year() - first.year()) * 12 + d.month0() as i32 - first.month0() as i32;
        usize::try_from(n).ok().filter(|n| *n < 12)
    };
    let mut months = [(0i64, 0i64, 0i64); 12];
    for p in posted {
        if let Some(i) = month_of(p) {
            months[i].0 += 1;
        }
    }
    for (closed_at, replied, due) in closed {
        if let Some(i) = closed_at.and_then(month_of) {
            months[i].1 += 1;
            if let (Some(r), Some(d)) = (replied, due) {
                if to_china(r).date() <= d {
                    months[i].2 += 1;
                }
            }
        }
    }
    o.months = months
        .iter()
        .enumerate()
        .map(|(i, (received, c, on_time))| (add_months(first, i as i32), *received, *c, *on_time))
        .collect();
    // The year's breakdowns by category, platform and level: one pass over an index that
    // holds those columns (and the scope's), counted here — a GROUP BY let SQLite's
    // planner walk the whole category index instead.
    let y0 = china_day_start(year_from);
    let kinds: Vec<(String, String, String)> = m::messages
        .filter(model::scope_filter(scope))
        .filter(m::posted_at.ge(y0))
        .select((m::category, m::source_platform, m::level))
        .load(conn)?;
    let mut by: [HashMap<String, i64>; 3] = Default::default();
    for (category, platform, level) in kinds {
        *by[0].entry(category).or_default() += 1;
        *by[1].entry(platform).or_default() += 1;
        *by[2].entry(level).or_default() += 1;
    }
    let sorted = |h: HashMap<String, i64>| {
        let mut v: Vec<(String, i64)> = h.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let [c, p, l] = by;
    o.by_category = sorted(c);
    o.by_platform = sorted(p);
    o.by_level = sorted(l);
    Ok(o)
}

/// The first and last day of the month starting at `start` (for links: a month as from/to).
pub fn month_range(start: NaiveDate) -> (NaiveDate, NaiveDate) {
    (start, add_months(start, 1) - chrono::Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_averages() {
        assert_eq!(rate(0, 0), "—");
        assert_eq!(rate(1, 3), "33.3%");
        assert_eq!(rate(2, 3), "66.7%");
        assert_eq!(rate(9, 10), "90.0%");
        let f = Figures {
            closed: 5,
            days: 10,
            timed: 3,
            ..Default::default()
        };
        assert_eq!(f.average_days(), "3.3", "over the timed ones only");
        assert_eq!(Figures::default().average_days(), "—");
        assert_eq!(tenths_text(-454), "-45.4");
        assert_eq!(tenths_text(-4), "-0.4");
        assert_eq!(tenths_text(35), "3.5");
    }

    #[test]
    fn months_roll_over_years() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");
        assert_eq!(add_months(month_start(d), -11).to_string(), "2025-12-01");
        assert_eq!(add_months(month_start(d), 2).to_string(), "2027-01-01");
        let (a, b) = month_range(NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"));
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
    }
}
