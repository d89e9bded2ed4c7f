//! Period reporting (上报) and aggregation (汇总归档): the city centre opens a monthly
//! period with a due date; each county and city department submits the archives it
//! closed out in that month; the centre accepts them or returns them with a reason.
//! Late and returned submissions stay on record for scoring.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::clock::to_china;
use crate::db::schema::{archive_periods::dsl as ap, archive_submissions::dsl as asub};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::calendar::Calendar;
use crate::messages::model::Message;

pub const SUBMITTED: &str = "submitted";
pub const ACCEPTED: &str = "accepted";
pub const RETURNED: &str = "returned";

pub fn state_label(state: &str) -> &'static str {
    match state {
        SUBMITTED => "已上报，待接收",
        ACCEPTED => "已接收归档",
        RETURNED => "已退回",
        _ => "未上报",
    }
}

#[derive(Queryable, Debug, Clone)]
pub struct Period {
    pub id: i32,
    pub period: String,
    pub due_date: NaiveDate,
    pub opened_at: NaiveDateTime,
    pub opened_by: Option<i32>,
}

impl Period {
    /// The first day of the month and the first day of the next.
    pub fn range(&self) -> (NaiveDate, NaiveDate) {
        month_bounds(&self.period).unwrap_or((self.due_date, self.due_date))
    }
}

#[derive(Queryable, Debug, Clone)]
pub struct Submission {
    pub id: i32,
    pub period_id: i32,
    pub unit_id: i32,
    pub state: String,
    pub submitted_at: NaiveDateTime,
    pub submitted_by: Option<i32>,
    pub submitter_name: String,
    pub items: String,
    pub item_count: i32,
    pub late: bool,
    pub note: String,
    pub reviewed_at: Option<NaiveDateTime>,
    pub reviewer_name: Option<String>,
    pub return_reason: Option<String>,
}

/// `YYYY-MM` → (first day, first day of the next month).
pub fn month_bounds(period: &str) -> Option<(NaiveDate, NaiveDate)> {
    let start = NaiveDate::parse_from_str(&format!("{}-01", period.trim()), "%Y-%m-%d").ok()?;
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)?
    };
    Some((start, next))
}

/// Default due date: the fifth working day after the month ends.
pub fn default_due(cal: &Calendar, period: &str) -> Option<NaiveDate> {
    let (_, next) = month_bounds(period)?;
    Some(cal.add_working_days(next - Duration::days(1), 5))
}

/// (field, message) pairs for a form.
pub type FieldProblems = Vec<(&'static str, String)>;

/// Check a period to open: a month not after the current one, not yet open.
pub fn check_new_period(
    period: &str,
    due: &str,
    today: NaiveDate,
    existing: &[Period],
) -> Result<(String, Option<NaiveDate>), FieldProblems> {
    let mut e = Vec::new();
    let p = period.trim().to_string();
    match month_bounds(&p) {
        None => e.push(("period", "请选择月份，格式如 2026-11。".to_string())),
        Some((start, _)) if start > today => {
            e.push(("period", "不能开启尚未开始的月份。".to_string()))
        }
        Some(_) if existing.iter().any(|x| x.period == p) => {
            e.push(("period", format!("{p} 的上报期已开启。")))
        }
        _ => {}
    }
    let due = match due.trim() {
        "" => None,
        d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                e.push((
                    "due_date",
                    "截止日期格式如 2026-12-07，可留空取默认。".to_string(),
                ));
                None
            }
        },
    };
    if e.is_empty() {
        Ok((p, due))
    } else {
        Err(e)
    }
}

pub fn all(conn: &mut DbConn) -> QueryResult<Vec<Period>> {
    ap::archive_periods.order(ap::period.desc()).load(conn)
}

pub fn find(conn: &mut DbConn, id: i32) -> QueryResult<Option<Period>> {
    ap::archive_periods.find(id).first(conn).optional()
}

/// Open a period (one transaction, audited): checked as `check_new_period`, due on the
/// typed date or the default one. The period's id, name and due date; or what is wrong.
pub fn open(
    conn: &mut DbConn,
    actor: &Actor,
    user_id: i32,
    (period, due): (&str, &str),
    today: NaiveDate,
) -> Result<Result<(i32, String, NaiveDate), FieldProblems>, AppError> {
    db::write_tx(conn, |c| {
        let existing = all(c)?;
        let (p, due) = match check_new_period(period, due, today, &existing) {
            Err(e) => return Ok(Err(e)),
            Ok(x) => x,
        };
        let cal = crate::messages::config::calendar(c)?;
        let due = due.or_else(|| default_due(&cal, &p)).unwrap_or(today);
        let id = insert_period(c, &p, due, user_id)?;
        audit::record(
            c,
            actor,
            "period_open",
            &format!("上报期 {p}（截止 {due}）"),
            audit::OK,
            "",
        )?;
        Ok(Ok((id, p, due)))
    })
}

fn insert_period(
    conn: &mut DbConn,
    period: &str,
    due: NaiveDate,
    user_id: i32,
) -> QueryResult<i32> {
    diesel::insert_into(ap::archive_periods)
        .values((
            ap::period.eq(period),
            ap::due_date.eq(due),
            ap::opened_at.eq(db::now()),
            ap::opened_by.eq(user_id),
        ))
        .returning(ap::id)
        .get_result(conn)
}

/// Archives a unit closed out (销号) in the period, in 档号 order.
pub fn archived_by(
    conn: &mut DbConn,
    unit_id: i32,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<Message>> {
    crate::archive::prints::archived_in(
        conn,
        &crate::messages::model::Scope::All,
        unit_id,
        from,
        to,
    )
}

/// Every submission of a period, oldest first.
pub fn submissions(conn: &mut DbConn, period_id: i32) -> QueryResult<Vec<Submission>> {
    asub::archive_submissions
        .filter(asub::period_id.eq(period_id))
        .order(asub::id.asc())
        .load(conn)
}

/// Every submission of a unit (all periods), newest first: the record for scoring.
pub fn submissions_of_unit(conn: &mut DbConn, unit_id: i32) -> QueryResult<Vec<Submission>> {
    asub::archive_submissions
        .filter(asub::unit_id.eq(unit_id))
        .order(asub::id.desc())
        .load(conn)
}

pub fn find_submission(conn: &mut DbConn, id: i32) -> QueryResult<Option<Submission>> {
    asub::archive_submissions.find(id).first(conn).optional()
}

/// The current submission of a unit for a period (the latest).
pub fn current(subs: &[Submission], unit_id: i32) -> Option<&Submission> {
    subs.iter().rev().find(|s| s.unit_id == unit_id)
}

/// The one who acts for a unit: (unit, user, name shown, audit actor).
pub struct Reporter<'a> {
    pub unit_id: i32,
    pub user_id: i32,
    pub name: &'a str,
    pub actor: &'a Actor,
}

/// Submit a unit's archives for a period (one transaction, audited). Refused (with the
/// reason) while an earlier submission is waiting or accepted.
pub fn submit(
    conn: &mut DbConn,
    period_id: i32,
    who: &Reporter,
    note: &str,
) -> Result<Result<usize, String>, AppError> {
    db::write_tx(conn, |c| {
        let p = find(c, period_id)?.ok_or(AppError::NotFound)?;
        let out = insert_submission(c, &p, who.unit_id, who.user_id, who.name, note)?;
        if let Ok(n) = &out {
            audit::record(
                c,
                who.actor,
                "archive_submit",
                &format!("{} 档案上报（{n} 份）", p.period),
                audit::OK,
                "",
            )?;
        }
        Ok(out)
    })
}

fn insert_submission(
    conn: &mut DbConn,
    period: &Period,
    unit_id: i32,
    user_id: i32,
    name: &str,
    note: &str,
) -> Result<Result<usize, String>, AppError> {
    let subs = submissions(conn, period.id)?;
    match current(&subs, unit_id).map(|s| s.state.as_str()) {
        Some(SUBMITTED) => return Ok(Err("本期档案已上报，正等待市社情民意研究中心接收。".into())),
        Some(ACCEPTED) => return Ok(Err("本期档案已被接收归档，无需再次上报。".into())),
        _ => {}
    }
    let (from, to) = period.range();
    let items = archived_by(conn, unit_id, from, to)?;
    let list: Vec<(i32, String)> = items
        .iter()
        .map(|x| (x.id, x.archive_no.clone().unwrap_or_default()))
        .collect();
    let now = db::now();
    let late = to_china(now).date() > period.due_date;
    diesel::insert_into(asub::archive_submissions)
        .values((
            asub::period_id.eq(period.id),
            asub::unit_id.eq(unit_id),
            asub::state.eq(SUBMITTED),
            asub::submitted_at.eq(now),
            asub::submitted_by.eq(user_id),
            asub::submitter_name.eq(name),
            asub::items.eq(serde_json::to_string(&list).unwrap_or_default()),
            asub::item_count.eq(list.len() as i32),
            asub::late.eq(late),
            asub::note.eq(note.trim()),
        ))
        .execute(conn)?;
    Ok(Ok(list.len()))
}

/// Accept or return (with a reason) a waiting submission (one transaction, audited):
/// the outcome, and the period the submission belongs to.
pub fn review(
    conn: &mut DbConn,
    actor: &Actor,
    submission_id: i32,
    accept: bool,
    reason: &str,
    reviewer: &str,
) -> Result<(Result<Submission, String>, i32), AppError> {
    db::write_tx(conn, |c| {
        let out = decide(c, submission_id, accept, reason, reviewer)?;
        if let Ok(s) = &out {
            audit::record(
                c,
                actor,
                "archive_review",
                &format!(
                    "档案上报 #{} {}",
                    s.id,
                    if accept { "接收" } else { "退回" }
                ),
                audit::OK,
                reason,
            )?;
        }
        let period = find_submission(c, submission_id)?.ok_or(AppError::NotFound)?;
        Ok((out, period.period_id))
    })
}

fn decide(
    conn: &mut DbConn,
    submission_id: i32,
    accept: bool,
    reason: &str,
    reviewer: &str,
) -> Result<Result<Submission, String>, AppError> {
    let Some(s) = find_submission(conn, submission_id)? else {
        return Err(AppError::NotFound);
    };
    if s.state != SUBMITTED {
        return Ok(Err(format!(
            "该上报当前为“{}”，不能再审核。",
            state_label(&s.state)
        )));
    }
    let reason = reason.trim();
    if !accept && (reason.is_empty() || reason.chars().count() > 500) {
        return Ok(Err(
            "退回须填写理由（不超过 500 字），如缺少哪些档案、哪些要素不全。".into(),
        ));
    }
    let n = diesel::update(
        asub::archive_submissions
            .filter(asub::id.eq(s.id))
            .filter(asub::state.eq(SUBMITTED)),
    )
    .set((
        asub::state.eq(if accept { ACCEPTED } else { RETURNED }),
        asub::reviewed_at.eq(Some(db::now())),
        asub::reviewer_name.eq(Some(reviewer)),
        asub::return_reason.eq((!accept).then(|| reason.to_string())),
    ))
    .execute(conn)?;
    if n != 1 {
        return Ok(Err("该上报已被他人审核，请刷新。".into()));
    }
    Ok(Ok(find_submission(conn, s.id)?.ok_or(AppError::NotFound)?))
}

/// A rough page count of a printed archive, for the catalogue's 页数 column: one page
/// holds about 1,400 characters of content.
pub fn estimated_pages(content: &[(String, String)]) -> i32 {
    let chars: usize = content
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count() + 12)
        .sum();
    (1 + chars / 1400) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::china_day_start;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn periods_are_months_not_in_the_future_and_opened_once() {
        assert_eq!(
            month_bounds("2026-12"),
            Some((d("2026-12-01"), d("2027-01-01")))
        );
        assert!(month_bounds("2026-13").is_none());
        let today = d("2026-11-30");
        assert!(check_new_period("2026-11", "", today, &[]).is_ok());
        assert!(check_new_period("2026-12", "", today, &[]).is_err());
        let existing = vec![Period {
            id: 1,
            period: "2026-10".into(),
            due_date: d("2026-11-07"),
            opened_at: china_day_start(today),
            opened_by: None,
        }];
        assert!(check_new_period("2026-10", "", today, &existing).is_err());
        assert!(check_new_period("2026-09", "bad", today, &existing).is_err());
    }

    #[test]
    fn default_due_is_five_working_days_after_month_end() {
        let cal = Calendar::new(Vec::new());
        // 2026-11-30 is a Monday: five working days later is Monday 2026-12-07.
        assert_eq!(default_due(&cal, "2026-11"), Some(d("2026-12-07")));
    }

    #[test]
    fn page_estimate_grows_with_content() {
        let short = vec![("a".to_string(), "b".to_string())];
        assert_eq!(estimated_pages(&short), 1);
        let long = vec![("a".to_string(), "字".repeat(3000))];
        assert_eq!(estimated_pages(&long), 3);
    }
}
