//! The one deadline a message waits on, the same on every screen, list, count, print and
//! in SQL. Pure: the calendar and today are given.
//!
//! | state            | waits on               | whose work    |
//! |------------------|------------------------|---------------|
//! | 已转办 Assigned   | 签收期限 (`accept_due`) | handling unit |
//! | 办理中 Handling   | 答复期限 (`due_at`)     | handling unit |
//! | 待审核 Replied    | 审核: `REVIEW_DAYS` working days after the reply | owner |
//! | 已办结 Closed     | 回访期限 (`followup_due`) | owner       |
//! | other states     | nothing                |               |
//!
//! So a reply sent on time is never the handler's overdue while it waits for 审核, and an
//! overdue 签收 is overdue. An assigned message without a 签收期限 (imported before it was
//! kept) waits on its 答复期限.

use chrono::{NaiveDate, NaiveDateTime};

use crate::clock::{china_day_start, to_china};
use crate::messages::calendar::{deadline_status, Calendar, DeadlineStatus, DUE_SOON_DAYS};
use crate::messages::lifecycle::State;
use crate::messages::model::Message;

/// Working days the owner has to review (审核) a reply.
pub const REVIEW_DAYS: i64 = 2;

/// What the message is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    Accept,
    Reply,
    Review,
    FollowUp,
}

impl Waiting {
    /// The step's name, as in 待办 and the deadline box.
    pub fn label(self) -> &'static str {
        match self {
            Waiting::Accept => "签收",
            Waiting::Reply => "答复",
            Waiting::Review => "审核",
            Waiting::FollowUp => "回访",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub waiting: Waiting,
    pub due: NaiveDate,
}

/// The deadline of a 审核 for a reply sent at `replied_at` (stored UTC), counted from when
/// the owner could first see it: a reply imported with its platform's date is reviewed
/// from the import (`registered_at`), not from years ago.
pub fn review_due(
    cal: &Calendar,
    replied_at: NaiveDateTime,
    registered_at: NaiveDateTime,
) -> NaiveDate {
    cal.add_working_days(to_china(replied_at.max(registered_at)).date(), REVIEW_DAYS)
}

/// The one deadline the message waits on now, if any.
pub fn current(cal: &Calendar, msg: &Message) -> Option<Deadline> {
    let (waiting, due) = match msg.state() {
        State::Assigned => match msg.accept_due {
            Some(d) => (Waiting::Accept, d),
            None => (Waiting::Reply, msg.due_at?),
        },
        State::Handling => (Waiting::Reply, msg.due_at?),
        State::Replied => (
            Waiting::Review,
            review_due(cal, msg.replied_at?, msg.registered_at),
        ),
        State::Closed => (Waiting::FollowUp, msg.followup_due?),
        _ => return None,
    };
    Some(Deadline { waiting, due })
}

/// Where the message's deadline stands today.
pub fn status(
    cal: &Calendar,
    today: NaiveDate,
    msg: &Message,
) -> Option<(Deadline, DeadlineStatus)> {
    current(cal, msg).map(|d| (d, deadline_status(cal, today, d.due)))
}

/// The cue shown beside a message everywhere: (words, css class). The reply deadline
/// speaks for itself ("剩余 3 个工作日"); the others name their step ("签收已超期 1 个工作日").
pub fn cue(cal: &Calendar, today: NaiveDate, msg: &Message) -> Option<(String, &'static str)> {
    let (d, st) = status(cal, today, msg)?;
    let mut words = match d.waiting {
        Waiting::Reply => st.label(),
        w => format!("{}{}", w.label(), st.label()),
    };
    words.push_str(uncovered_mark(cal, d.due));
    Some((words, st.css()))
}

/// Said beside a deadline in a year whose holidays have not been entered.
pub const UNCOVERED: &str = "（节假日未设置，暂按周末计算）";

/// `UNCOVERED` when the deadline's year has no calendar, else nothing.
pub fn uncovered_mark(cal: &Calendar, due: NaiveDate) -> &'static str {
    use chrono::Datelike;
    if cal.covers(due.year()) {
        ""
    } else {
        UNCOVERED
    }
}

/// The warning for the centre while a calendar is missing: this year's at any time,
/// next year's from `warn_from` (month, day; default 1 November).
pub fn calendar_warning(cal: &Calendar, today: NaiveDate, warn_from: (u32, u32)) -> Option<String> {
    use chrono::Datelike;
    let year = today.year();
    if !cal.covers(year) {
        return Some(format!(
            "{year} 年的节假日和调休尚未设置，期限暂按周末计算，可能算错。请在“业务设置 › 节假日”录入。"
        ));
    }
    let from = NaiveDate::from_ymd_opt(year, warn_from.0, warn_from.1)?;
    (today >= from && !cal.covers(year + 1)).then(|| {
        format!(
            "{} 年的节假日和调休尚未设置：跨年的期限暂按周末计算（元旦、春节会被算作工作日）。国务院办公厅通知发布后，请在“业务设置 › 节假日”录入。",
            year + 1
        )
    })
}

pub fn is_overdue(cal: &Calendar, today: NaiveDate, msg: &Message) -> bool {
    status(cal, today, msg).is_some_and(|(_, st)| st.is_overdue())
}

/// The bounds that let SQL select by deadline: a date range of deadlines, with the range
/// of reply times whose 审核 deadline falls in it (the review deadline grows with the
/// reply day, so a date range of deadlines is a time range of replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Deadlines on or after this day (None: no lower bound).
    pub from: Option<NaiveDate>,
    /// Deadlines on or before this day (None: no upper bound).
    pub to: Option<NaiveDate>,
    /// Replies seen (the later of reply and registration) at or after this instant have a
    /// 审核 deadline on or after `from`.
    pub replied_from: Option<NaiveDateTime>,
    /// Replies seen before this instant have a 审核 deadline on or before `to`.
    pub replied_before: Option<NaiveDateTime>,
}

/// The first China day whose reply gets a 审核 deadline on or after `d`.
fn first_reply_day_due_from(cal: &Calendar, d: NaiveDate) -> NaiveDate {
    // The review deadline is REVIEW_DAYS working days on: step back while the day
    // before still reaches `d` (bounded: a few weeks of holidays at most).
    let mut day = d;
    for _ in 0..60 {
        let before = day - chrono::Duration::days(1);
        if cal.add_working_days(before, REVIEW_DAYS) >= d {
            day = before;
        } else {
            break;
        }
    }
    day
}

impl Window {
    /// Deadlines in `[from, to]`.
    pub fn between(cal: &Calendar, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Window {
        Window {
            from,
            to,
            replied_from: from.map(|f| china_day_start(first_reply_day_due_from(cal, f))),
            replied_before: to.map(|t| {
                china_day_start(first_reply_day_due_from(cal, t + chrono::Duration::days(1)))
            }),
        }
    }

    /// Deadlines already passed today (overdue).
    pub fn overdue(cal: &Calendar, today: NaiveDate) -> Window {
        Window::between(cal, None, Some(today - chrono::Duration::days(1)))
    }

    /// Deadlines from today to the end of the "due soon" days.
    pub fn due_soon(cal: &Calendar, today: NaiveDate) -> Window {
        Window::between(
            cal,
            Some(today),
            Some(cal.add_working_days(today, DUE_SOON_DAYS)),
        )
    }
}

/// Today's deadline windows, computed once per request from the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Today {
    pub today: NaiveDate,
    pub overdue: Window,
    pub soon: Window,
}

impl Today {
    pub fn new(cal: &Calendar, today: NaiveDate) -> Today {
        Today {
            today,
            overdue: Window::overdue(cal, today),
            soon: Window::due_soon(cal, today),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    /// Whether a deadline is in the window: the pure twin of `model::deadline_in`.
    fn contains(w: &Window, d: Deadline) -> bool {
        w.from.is_none_or(|f| d.due >= f) && w.to.is_none_or(|t| d.due <= t)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn msg(state: State) -> Message {
        let t = china_day_start(day("2026-11-02"));
        Message {
            state: state.as_str().to_string(),
            accept_due: Some(day("2026-11-03")),
            due_at: Some(day("2026-11-30")),
            replied_at: Some(t + Duration::hours(10)),
            followup_due: Some(day("2026-11-04")),
            ..Message::default()
        }
    }

    #[test]
    fn each_state_waits_on_its_own_deadline() {
        let cal = Calendar::default();
        let today = day("2026-11-10");
        assert_eq!(current(&cal, &msg(State::Registered)), None);
        let a = current(&cal, &msg(State::Assigned)).unwrap();
        assert_eq!((a.waiting, a.due), (Waiting::Accept, day("2026-11-03")));
        assert!(
            is_overdue(&cal, today, &msg(State::Assigned)),
            "late 签收 is overdue"
        );
        assert!(
            !is_overdue(&cal, today, &msg(State::Handling)),
            "reply due 11-30"
        );
        // Replied on Monday 11-02: 审核 due Wednesday 11-04 — the owner's, not the handler's.
        let r = current(&cal, &msg(State::Replied)).unwrap();
        assert_eq!((r.waiting, r.due), (Waiting::Review, day("2026-11-04")));
        let (words, css) = cue(&cal, today, &msg(State::Replied)).unwrap();
        assert!(words.starts_with("审核已超期"), "{words}");
        assert_eq!(css, "due-over");
        assert_eq!(
            current(&cal, &msg(State::Closed)).unwrap().waiting,
            Waiting::FollowUp
        );
        assert_eq!(current(&cal, &msg(State::Archived)), None);
        let mut imported = msg(State::Assigned);
        imported.accept_due = None;
        assert_eq!(current(&cal, &imported).unwrap().waiting, Waiting::Reply);
        // A reply imported today with its platform's date of 2019: reviewed from today.
        let mut old = msg(State::Replied);
        old.replied_at = Some(china_day_start(day("2019-04-25")));
        old.registered_at = china_day_start(today) + Duration::hours(3);
        let d = current(&cal, &old).unwrap();
        assert_eq!(d.due, day("2026-11-12"));
        assert!(!is_overdue(&cal, today, &old));
    }

    #[test]
    fn a_year_without_holidays_is_said_so() {
        let cal = Calendar::new([(day("2026-10-01"), true)]);
        let mut m = msg(State::Handling);
        m.due_at = Some(day("2027-01-08"));
        let (words, _) = cue(&cal, day("2026-12-28"), &m).unwrap();
        assert!(words.ends_with(UNCOVERED), "{words}");
        m.due_at = Some(day("2026-12-30"));
        assert!(!cue(&cal, day("2026-12-28"), &m)
            .unwrap()
            .0
            .contains("未设置"));
        assert_eq!(calendar_warning(&cal, day("2026-10-31"), (11, 1)), None);
        assert!(calendar_warning(&cal, day("2026-11-01"), (11, 1))
            .is_some_and(|w| w.starts_with("2027 年")));
        assert!(calendar_warning(&cal, day("2027-01-04"), (11, 1))
            .is_some_and(|w| w.starts_with("2027 年")));
    }

    #[test]
    fn the_reply_window_matches_the_review_deadline_over_holidays() {
        // 国庆: 10-01..10-07 off, 10-10 (Saturday) a working day.
        let mut entries: Vec<(NaiveDate, bool)> = (1..=7)
            .map(|d| (NaiveDate::from_ymd_opt(2026, 10, d).unwrap(), true))
            .collect();
        entries.push((day("2026-10-10"), false));
        let cal = Calendar::new(entries);
        for today in [
            "2026-09-29",
            "2026-10-03",
            "2026-10-08",
            "2026-10-12",
            "2026-10-14",
        ] {
            let today = day(today);
            for w in [Window::overdue(&cal, today), Window::due_soon(&cal, today)] {
                // Every reply hour from mid-September to late October.
                let mut t = china_day_start(day("2026-09-15"));
                while t < china_day_start(day("2026-10-25")) {
                    // Replied before or after the message was registered (imported).
                    let reg = if t.and_utc().timestamp() % 2 == 0 {
                        t - Duration::days(3)
                    } else {
                        t + Duration::hours(50)
                    };
                    let due = review_due(&cal, t, reg);
                    // The SQL condition of `model::deadline_in`, on the two columns.
                    let by_time = w.replied_from.is_none_or(|f| t >= f || reg >= f)
                        && w.replied_before.is_none_or(|b| t < b && reg < b);
                    let by_date = contains(
                        &w,
                        Deadline {
                            waiting: Waiting::Review,
                            due,
                        },
                    );
                    assert_eq!(by_time, by_date, "today {today}, reply {t}, due {due}");
                    t += Duration::hours(5) + Duration::seconds(1);
                }
            }
        }
    }
}
