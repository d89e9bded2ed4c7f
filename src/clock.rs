//! Office time. The database stores naive UTC (`db::now`); the office works in China
//! Standard Time (UTC+8, no daylight saving). Every conversion goes through here.
//!
//! **One source of "now".** The application's clock lives in its state
//! (`Config::clock`, the system clock in production). The server installs it on each of
//! its worker threads and `db::run` carries it onto the blocking thread that does the
//! database work, so every reading of the time — `db::now()`, `china_today()`, session
//! ages — comes from that one clock, and a test can run the whole site on a day of its
//! choosing.

use std::cell::Cell;

use chrono::{Duration, NaiveDate, NaiveDateTime, SubsecRound, Utc};

pub const CST_HOURS: i64 = 8;

/// A clock: the system clock moved by a fixed offset. It keeps ticking, so events keep
/// their order; only the day it shows is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    offset_us: i64,
}

impl Clock {
    /// The system clock (production).
    pub const fn system() -> Clock {
        Clock { offset_us: 0 }
    }

    /// A clock that reads `utc` now and runs on from there.
    pub fn starting_at(utc: NaiveDateTime) -> Clock {
        let offset = utc - Utc::now().naive_utc();
        Clock {
            offset_us: offset.num_microseconds().unwrap_or(0),
        }
    }

    /// A clock that reads the China time `t` now.
    pub fn starting_at_china(t: NaiveDateTime) -> Clock {
        Clock::starting_at(from_china(t))
    }

    /// A clock `days` days ahead of (or, negative, behind) the system clock.
    pub fn days_ahead(days: i64) -> Clock {
        Clock {
            offset_us: days * 86_400 * 1_000_000,
        }
    }

    /// Parse a clock setting: `+400d` / `-3d` (days from today) or a China time
    /// `2026-12-31T23:30` (seconds optional).
    pub fn parse(s: &str) -> Option<Clock> {
        let s = s.trim();
        if let Some(days) = s.strip_suffix('d') {
            return days
                .trim_start_matches('+')
                .parse::<i64>()
                .ok()
                .map(Clock::days_ahead);
        }
        ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .map(Clock::starting_at_china)
    }

    /// The current time in UTC, to the microsecond (both backends store the same value).
    pub fn now(&self) -> NaiveDateTime {
        (Utc::now().naive_utc() + Duration::microseconds(self.offset_us)).trunc_subsecs(6)
    }

    /// Today in China.
    pub fn today(&self) -> NaiveDate {
        to_china(self.now()).date()
    }

    /// Unix seconds (session stamps).
    pub fn timestamp(&self) -> i64 {
        self.now().and_utc().timestamp()
    }

    /// Make this the clock of the current thread until the guard is dropped.
    pub fn enter(self) -> ClockGuard {
        let previous = CURRENT.with(|c| c.replace(self));
        ClockGuard { previous }
    }

    /// Make this the clock of the current thread for good (a server's worker thread).
    pub fn install(self) {
        CURRENT.with(|c| c.set(self));
    }
}

thread_local! {
    static CURRENT: Cell<Clock> = const { Cell::new(Clock::system()) };
}

/// Restores the thread's previous clock when dropped.
pub struct ClockGuard {
    previous: Clock,
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// The clock of the current thread: the application's clock inside the server, the
/// system clock elsewhere.
pub fn current() -> Clock {
    CURRENT.with(|c| c.get())
}

/// A stored UTC time as China time.
pub fn to_china(t: NaiveDateTime) -> NaiveDateTime {
    t + Duration::hours(CST_HOURS)
}

/// A China time as stored UTC.
pub fn from_china(t: NaiveDateTime) -> NaiveDateTime {
    t - Duration::hours(CST_HOURS)
}

/// UTC instant of the start (00:00 China time) of a China date.
pub fn china_day_start(d: NaiveDate) -> NaiveDateTime {
    from_china(d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

pub fn china_today() -> NaiveDate {
    current().today()
}

/// Screen format for a stored UTC time, shown in China time: `2026-11-30 14:05`.
pub fn format_time(t: NaiveDateTime) -> String {
    to_china(t).format("%Y-%m-%d %H:%M").to_string()
}

/// The day of the week in Chinese: `星期一` … `星期日`.
pub fn weekday_cn(d: NaiveDate) -> &'static str {
    use chrono::Datelike;
    [
        "星期一",
        "星期二",
        "星期三",
        "星期四",
        "星期五",
        "星期六",
        "星期日",
    ][d.weekday().num_days_from_monday() as usize]
}

/// A date as printed in documents: `2026年11月30日`.
pub fn print_date(d: NaiveDate) -> String {
    d.format("%Y年%m月%d日").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_clock_shows_its_day_and_keeps_ticking() {
        let at = NaiveDate::from_ymd_opt(2026, 12, 31)
            .and_then(|d| d.and_hms_opt(23, 30, 0))
            .unwrap();
        let clock = Clock::starting_at_china(at);
        assert_eq!(clock.today(), at.date());
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
        assert!((to_china(a) - at).num_seconds().abs() < 5);
        assert_eq!(
            Clock::parse("2026-12-31T23:30").map(|c| c.today()),
            Some(at.date())
        );
        let ahead = Clock::parse("+400d").unwrap();
        assert_eq!(ahead.today(), Clock::system().today() + Duration::days(400));
        assert!(Clock::parse("明天").is_none());
    }

    #[test]
    fn weekdays_are_named_in_chinese() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
        assert_eq!(weekday_cn(d), "星期六");
        assert_eq!(weekday_cn(d + Duration::days(1)), "星期日");
        assert_eq!(weekday_cn(d + Duration::days(2)), "星期一");
    }

    #[test]
    fn entering_a_clock_is_undone_by_its_guard() {
        let ahead = Clock::days_ahead(10);
        {
            let _g = ahead.enter();
            assert_eq!(china_today(), Clock::system().today() + Duration::days(10));
        }
        assert_eq!(current(), Clock::system());
    }
}
