//! The working-day calendar: weekends, public holidays and 调休 make-up working days.
//! Pure: the holiday list is given; nothing here reads the clock or the database.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};

#[derive(Clone, Debug, Default)]
pub struct Calendar {
    /// `true`: a day off (public holiday); `false`: a make-up working day (调休上班).
    overrides: HashMap<NaiveDate, bool>,
}

impl Calendar {
    pub fn new(entries: impl IntoIterator<Item = (NaiveDate, bool)>) -> Calendar {
        Calendar {
            overrides: entries.into_iter().collect(),
        }
    }

    /// Whether the holidays of `year` have been entered (any holiday or 调休 day in it):
    /// without them its deadlines count weekends only.
    pub fn covers(&self, year: i32) -> bool {
        self.overrides.keys().any(|d| d.year() == year)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.overrides.get(&d) {
            Some(off) => !off,
            None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The date `n` working days after `start` (`start` itself is not counted).
    pub fn add_working_days(&self, start: NaiveDate, n: i64) -> NaiveDate {
        let mut d = start;
        let mut left = n.max(0);
        while left > 0 {
            d += Duration::days(1);
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days in `(from, to]`; negative when `to` is before `from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.working_days_between(to, from);
        }
        let mut n = 0;
        let mut d = from;
        while d < to {
            d += Duration::days(1);
            if self.is_working_day(d) {
                n += 1;
            }
        }
        n
    }
}

/// Where a deadline stands today; one function so every page shows it the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineStatus {
    /// Past due by this many working days (at least 1).
    Overdue(i64),
    /// Due within 3 working days (0 = due today).
    DueSoon(i64),
    /// More than 3 working days left.
    OnTrack(i64),
}

pub const DUE_SOON_DAYS: i64 = 3;

pub fn deadline_status(cal: &Calendar, today: NaiveDate, due: NaiveDate) -> DeadlineStatus {
    if today > due {
        DeadlineStatus::Overdue(cal.working_days_between(due, today).max(1))
    } else {
        let left = cal.working_days_between(today, due);
        if left <= DUE_SOON_DAYS {
            DeadlineStatus::DueSoon(left)
        } else {
            DeadlineStatus::OnTrack(left)
        }
    }
}

impl DeadlineStatus {
    /// The words shown everywhere (screen and print).
    pub fn label(self) -> String {
        match self {
            DeadlineStatus::Overdue(n) => format!("已超期 {n} 个工作日"),
            DeadlineStatus::DueSoon(0) => "今日到期".to_string(),
            DeadlineStatus::DueSoon(n) | DeadlineStatus::OnTrack(n) => format!("剩余 {n} 个工作日"),
        }
    }

    /// CSS class: red, amber or plain.
    pub fn css(self) -> &'static str {
        match self {
            DeadlineStatus::Overdue(_) => "due-over",
            DeadlineStatus::DueSoon(_) => "due-soon",
            DeadlineStatus::OnTrack(_) => "due-ok",
        }
    }

    pub fn is_overdue(self) -> bool {
        matches!(self, DeadlineStatus::Overdue(_))
    }
}

#[derive(serde::Deserialize)]
struct HolidayEntry {
    date: NaiveDate,
    name: String,
    is_off_day: bool,
}

/// The 2025–2026 national holidays shipped with the program (国务院办公厅 notices;
/// source: src/seed/SOURCE.md): (date, name, is_off_day).
pub fn shipped_holidays() -> Result<Vec<(NaiveDate, String, bool)>, serde_json::Error> {
    let entries: Vec<HolidayEntry> =
        serde_json::from_str(include_str!("../seed/cn_holidays.json"))?;
    Ok(entries
        .into_iter()
        .map(|e| (e.date, e.name, e.is_off_day))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn cal() -> Calendar {
        Calendar::new(
            shipped_holidays()
                .expect("holidays")
                .into_iter()
                .map(|(date, _, off)| (date, off)),
        )
    }

    #[test]
    fn weekends_holidays_and_makeup_days() {
        let c = cal();
        assert!(c.is_working_day(d("2026-11-30"))); // Monday
        assert!(!c.is_working_day(d("2026-11-28"))); // Saturday
        assert!(!c.is_working_day(d("2026-02-17"))); // 春节, Tuesday
        assert!(c.is_working_day(d("2026-02-14"))); // 调休 Saturday
        assert!(c.is_working_day(d("2026-02-28"))); // 调休 Saturday
        assert!(c.is_working_day(d("2026-09-20"))); // 调休 Sunday
        assert!(c.is_working_day(d("2026-10-10"))); // 调休 Saturday
        assert!(!c.is_working_day(d("2026-10-05"))); // 国庆, Monday
    }

    #[test]
    fn deadlines_around_the_2026_spring_festival() {
        let c = cal();
        // Assigned on Friday 13 February: the next working day is the 调休 Saturday.
        assert_eq!(c.add_working_days(d("2026-02-13"), 1), d("2026-02-14"));
        assert_eq!(c.add_working_days(d("2026-02-13"), 2), d("2026-02-24"));
        assert_eq!(c.add_working_days(d("2026-02-13"), 10), d("2026-03-05"));
        assert_eq!(c.add_working_days(d("2026-02-13"), 20), d("2026-03-19"));
        assert_eq!(c.working_days_between(d("2026-02-13"), d("2026-03-05")), 10);
    }

    #[test]
    fn deadlines_around_the_2026_national_day() {
        let c = cal();
        assert_eq!(c.add_working_days(d("2026-09-18"), 1), d("2026-09-20"));
        assert_eq!(c.add_working_days(d("2026-09-18"), 10), d("2026-10-09"));
        assert_eq!(c.add_working_days(d("2026-09-18"), 11), d("2026-10-10"));
        assert_eq!(c.add_working_days(d("2026-09-30"), 1), d("2026-10-08"));
        assert_eq!(
            c.working_days_between(d("2026-10-09"), d("2026-09-18")),
            -10
        );
    }

    #[test]
    fn deadline_status_words() {
        let c = cal();
        let due = d("2026-10-09");
        assert_eq!(
            deadline_status(&c, d("2026-10-09"), due),
            DeadlineStatus::DueSoon(0)
        );
        assert_eq!(
            deadline_status(&c, d("2026-09-30"), due),
            DeadlineStatus::DueSoon(2)
        );
        assert_eq!(
            deadline_status(&c, d("2026-09-21"), due),
            DeadlineStatus::OnTrack(8)
        );
        assert_eq!(
            deadline_status(&c, d("2026-10-10"), due),
            DeadlineStatus::Overdue(1)
        );
        // Past due over a weekend still counts as overdue.
        assert_eq!(
            deadline_status(&c, d("2026-10-11"), due),
            DeadlineStatus::Overdue(1)
        );
        assert_eq!(
            deadline_status(&c, d("2026-10-13"), due),
            DeadlineStatus::Overdue(3)
        );
        assert_eq!(DeadlineStatus::Overdue(3).label(), "已超期 3 个工作日");
        assert_eq!(DeadlineStatus::DueSoon(0).label(), "今日到期");
        assert_eq!(DeadlineStatus::OnTrack(7).label(), "剩余 7 个工作日");
    }
}
