//! Office time. The database stores naive UTC (`db::now`); the office works in China
//! Standard Time (UTC+8, no daylight saving). Every conversion goes through here.

use chrono::{Duration, NaiveDate, NaiveDateTime};

pub const CST_HOURS: i64 = 8;

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
    to_china(crate::db::now()).date()
}

/// Screen format for a stored UTC time, shown in China time: `2026-11-30 14:05`.
/// A date as printed in documents: `2026年11月30日`.
pub fn print_date(d: NaiveDate) -> String {
    d.format("%Y年%m月%d日").to_string()
}

pub fn format_time(t: NaiveDateTime) -> String {
    to_china(t).format("%Y-%m-%d %H:%M").to_string()
}
