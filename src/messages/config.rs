//! Business configuration kept in the database: the lists (级别, 来源平台, 所属类型),
//! reply-deadline rules and the holiday calendar, with their shipped defaults.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{
    deadline_rules::dsl as r, holidays::dsl as h, options::dsl as o, reply_templates::dsl as t,
};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::calendar::{self, Calendar};

/// A settings change and its audit row, in one transaction: `f` makes the change or
/// says what is wrong with the form (then nothing is written).
pub fn change<T>(
    conn: &mut DbConn,
    actor: &crate::audit::Actor,
    what: &str,
    f: impl FnOnce(&mut DbConn) -> Result<Result<T, crate::forms::FieldErrors>, AppError>,
) -> Result<Result<T, crate::forms::FieldErrors>, AppError> {
    db::write_tx(conn, |c| {
        let out = f(c)?;
        if out.is_ok() {
            crate::audit::record(c, actor, "settings_change", what, crate::audit::OK, "")?;
        }
        Ok(out)
    })
}

pub const LEVEL: &str = "level";
pub const PLATFORM: &str = "platform";
pub const CATEGORY: &str = "category";
/// 热点发现's dictionary: place and object names the centre adds (read as names wherever
/// they appear, even without a …小区/…路 ending).
pub const HOT_NAME: &str = "hot_name";

pub const DEFAULT_LEVELS: &[&str] = &["省级", "市级", "县（区）级"];
pub const DEFAULT_PLATFORMS: &[&str] = &[
    "人民网领导留言板",
    "省长信箱",
    "市长信箱",
    "12345政务服务便民热线",
    "政府门户网站",
    "其他",
];
pub const DEFAULT_CATEGORIES: &[&str] = &[
    "投诉举报",
    "征地拆迁",
    "欠薪欠资",
    "问题房开",
    "政策咨询",
    "建议",
    "城乡建设",
    "环境保护",
    "交通运输",
    "教育文体",
    "劳动和社会保障",
    "商贸旅游",
    "卫生计生",
    "其他",
];

/// Fixed handling periods in working days (DESIGN §8 defaults).
pub const ACCEPT_DAYS: i64 = 1;
pub const RETURN_DAYS: i64 = 2;
pub const MAX_EXTENSION_DAYS: i32 = 15;
pub const FOLLOWUP_DAYS: i64 = 1;
/// Reply period when no rule matches.
pub const DEFAULT_REPLY_DAYS: i32 = 20;

/// The active values of one list, in order.
pub fn list(conn: &mut DbConn, kind: &str) -> QueryResult<Vec<String>> {
    o::options
        .filter(o::kind.eq(kind))
        .filter(o::active.eq(true))
        .order((o::sort_order, o::id))
        .select(o::value)
        .load(conn)
}

#[derive(Queryable, Debug, Clone)]
pub struct Rule {
    pub id: i32,
    pub level: Option<String>,
    pub source_platform: Option<String>,
    pub category: Option<String>,
    pub reply_days: i32,
    pub note: String,
}

/// Reply days for a message: the matching rule with the most specific fields wins.
pub fn reply_days(rules: &[Rule], level: &str, platform: &str, category: &str) -> i32 {
    rules
        .iter()
        .filter(|x| {
            x.level.as_deref().is_none_or(|v| v == level)
                && x.source_platform.as_deref().is_none_or(|v| v == platform)
                && x.category.as_deref().is_none_or(|v| v == category)
        })
        .max_by_key(|x| {
            (
                x.category.is_some() as u8
                    + x.source_platform.is_some() as u8
                    + x.level.is_some() as u8,
                x.id,
            )
        })
        .map(|x| x.reply_days)
        .unwrap_or(DEFAULT_REPLY_DAYS)
}

pub fn rules(conn: &mut DbConn) -> QueryResult<Vec<Rule>> {
    r::deadline_rules.order(r::id).load(conn)
}

pub fn calendar(conn: &mut DbConn) -> QueryResult<Calendar> {
    let rows: Vec<(NaiveDate, bool)> = h::holidays.select((h::day, h::is_off)).load(conn)?;
    Ok(Calendar::new(rows))
}

/// The 留言文号 format, kept in `settings`.
pub const REF_FORMAT_KEY: &str = "ref_no_format";
pub const DEFAULT_REF_FORMAT: &str = "{简称}网留〔{年}〕{序号}号";

pub fn ref_format(conn: &mut DbConn) -> QueryResult<String> {
    Ok(db::get_setting(conn, REF_FORMAT_KEY)?.unwrap_or_else(|| DEFAULT_REF_FORMAT.to_string()))
}

/// A 文号 format must name the owner, the year and the number, so that numbers stay
/// unique across units and years.
pub fn check_ref_format(format: &str) -> Result<String, &'static str> {
    let f = format.trim();
    if f.chars().count() > 40 {
        return Err("文号格式不超过 40 字。");
    }
    if !(f.contains("{简称}") && f.contains("{年}") && f.contains("{序号}")) {
        return Err("文号格式须同时包含 {简称}、{年}、{序号}，以保证各单位、各年度文号不重复。");
    }
    Ok(f.to_string())
}

/// The name shown for a list kind.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        LEVEL => "级别",
        PLATFORM => "留言来源平台",
        CATEGORY => "所属类型",
        HOT_NAME => "热点地名/对象",
        _ => "",
    }
}

/// One value of a configurable list.
#[derive(Queryable, Debug, Clone)]
pub struct OptionRow {
    pub id: i32,
    pub kind: String,
    pub value: String,
    pub sort_order: i32,
    pub active: bool,
}

/// Every value of every list, active or not.
pub fn all_options(conn: &mut DbConn) -> QueryResult<Vec<OptionRow>> {
    o::options.order((o::kind, o::sort_order, o::id)).load(conn)
}

/// Add a value to a list; returns an error text for the form when it is not acceptable.
pub fn add_option(
    conn: &mut DbConn,
    kind: &str,
    value: &str,
) -> Result<Result<(), String>, AppError> {
    let v = value.trim();
    if kind_label(kind).is_empty() {
        return Ok(Err("请选择列表。".to_string()));
    }
    if kind == HOT_NAME && v.chars().count() < 2 {
        return Ok(Err("热点地名/对象至少 2 个字。".to_string()));
    }
    if v.is_empty() || v.chars().count() > 30 {
        return Ok(Err(format!(
            "请填写{}名称（不超过 30 字）。",
            kind_label(kind)
        )));
    }
    let exists: i64 = o::options
        .filter(o::kind.eq(kind))
        .filter(o::value.eq(v))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(Err(format!(
            "“{v}”已在{}列表中（如已停用，可直接启用）。",
            kind_label(kind)
        )));
    }
    let max: Option<i32> = o::options
        .filter(o::kind.eq(kind))
        .select(diesel::dsl::max(o::sort_order))
        .first(conn)?;
    diesel::insert_into(o::options)
        .values((
            o::kind.eq(kind),
            o::value.eq(v),
            o::sort_order.eq(max.unwrap_or(0) + 10),
            o::active.eq(true),
        ))
        .execute(conn)?;
    Ok(Ok(()))
}

/// Switch a list value on or off (values in use are never deleted); returns the value.
pub fn set_option_active(conn: &mut DbConn, id: i32, active: bool) -> QueryResult<Option<String>> {
    let n = diesel::update(o::options.find(id))
        .set(o::active.eq(active))
        .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    o::options.find(id).select(o::value).first(conn).optional()
}

/// A validated deadline rule.
pub struct NewRule {
    pub level: Option<String>,
    pub source_platform: Option<String>,
    pub category: Option<String>,
    pub reply_days: i32,
    pub note: String,
}

/// Check a rule as typed: each condition empty (任意) or a value from its list; days 1–60.
pub fn check_rule(
    level: &str,
    platform: &str,
    category: &str,
    days: &str,
    note: &str,
    lists: (&[String], &[String], &[String]),
) -> Result<NewRule, crate::forms::FieldErrors> {
    let mut e = crate::forms::FieldErrors::default();
    let pick = |v: &str, list: &[String], field: &str, e: &mut crate::forms::FieldErrors| {
        let v = v.trim();
        if v.is_empty() {
            None
        } else if list.iter().any(|x| x == v) {
            Some(v.to_string())
        } else {
            e.add(field, "请从列表中选择，或选“任意”。");
            None
        }
    };
    let level = pick(level, lists.0, "level", &mut e);
    let source_platform = pick(platform, lists.1, "source_platform", &mut e);
    let category = pick(category, lists.2, "category", &mut e);
    let reply_days = match days.trim().parse::<i32>() {
        Ok(d) if (1..=60).contains(&d) => d,
        _ => {
            e.add("reply_days", "答复期限应为 1–60 个工作日。");
            0
        }
    };
    if note.chars().count() > 200 {
        e.add("note", "说明不超过 200 字。");
    }
    if e.is_empty() {
        Ok(NewRule {
            level,
            source_platform,
            category,
            reply_days,
            note: note.trim().to_string(),
        })
    } else {
        Err(e)
    }
}

/// Save a rule; a rule with the same three conditions is replaced.
pub fn save_rule(conn: &mut DbConn, rule: &NewRule) -> QueryResult<()> {
    let same: Vec<Rule> = rules(conn)?
        .into_iter()
        .filter(|x| {
            x.level == rule.level
                && x.source_platform == rule.source_platform
                && x.category == rule.category
        })
        .collect();
    for x in same {
        diesel::delete(r::deadline_rules.find(x.id)).execute(conn)?;
    }
    diesel::insert_into(r::deadline_rules)
        .values((
            r::level.eq(&rule.level),
            r::source_platform.eq(&rule.source_platform),
            r::category.eq(&rule.category),
            r::reply_days.eq(rule.reply_days),
            r::note.eq(&rule.note),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete_rule(conn: &mut DbConn, id: i32) -> QueryResult<usize> {
    diesel::delete(r::deadline_rules.find(id)).execute(conn)
}

/// One calendar entry: a public holiday (放假) or a 调休 working day.
#[derive(Queryable, Debug, Clone)]
pub struct Holiday {
    pub day: NaiveDate,
    pub name: String,
    pub is_off: bool,
}

impl Holiday {
    /// The day of the week, in Chinese.
    pub fn weekday(&self) -> &'static str {
        crate::clock::weekday_cn(self.day)
    }
}

pub fn holidays_of_year(conn: &mut DbConn, year: i32) -> QueryResult<Vec<Holiday>> {
    let (from, to) = (
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or_default(),
    );
    h::holidays
        .filter(h::day.between(from, to))
        .order(h::day)
        .select((h::day, h::name, h::is_off))
        .load(conn)
}

/// Years that have calendar entries.
pub fn holiday_years(conn: &mut DbConn) -> QueryResult<Vec<i32>> {
    use chrono::Datelike;
    let days: Vec<NaiveDate> = h::holidays.select(h::day).order(h::day).load(conn)?;
    let mut years: Vec<i32> = days.iter().map(|d| d.year()).collect();
    years.dedup();
    Ok(years)
}

/// Set one day (replacing what the calendar said about it).
pub fn put_holiday(conn: &mut DbConn, day: NaiveDate, name: &str, is_off: bool) -> QueryResult<()> {
    diesel::delete(h::holidays.filter(h::day.eq(day))).execute(conn)?;
    diesel::insert_into(h::holidays)
        .values((h::day.eq(day), h::name.eq(name), h::is_off.eq(is_off)))
        .execute(conn)?;
    Ok(())
}

pub fn delete_holiday(conn: &mut DbConn, day: NaiveDate) -> QueryResult<usize> {
    diesel::delete(h::holidays.filter(h::day.eq(day))).execute(conn)
}

/// A reply template (答复模板) for one 所属类型.
#[derive(Queryable, Debug, Clone)]
pub struct ReplyTemplate {
    pub id: i32,
    pub category: String,
    pub title: String,
    pub body: String,
    pub active: bool,
    pub updated_at: chrono::NaiveDateTime,
}

/// All templates (the settings page), by category then title.
pub fn all_templates(conn: &mut DbConn) -> QueryResult<Vec<ReplyTemplate>> {
    t::reply_templates
        .order((t::category, t::title, t::id))
        .load(conn)
}

/// The active templates offered for a message of this category: its own first, then
/// the general ones (category 通用).
pub fn templates_for(conn: &mut DbConn, category: &str) -> QueryResult<Vec<ReplyTemplate>> {
    let mut v: Vec<ReplyTemplate> = t::reply_templates
        .filter(t::active.eq(true))
        .filter(t::category.eq(category).or(t::category.eq(GENERAL)))
        .order((t::title, t::id))
        .load(conn)?;
    v.sort_by_key(|x| x.category == GENERAL);
    Ok(v)
}

pub fn find_template(conn: &mut DbConn, id: i32) -> QueryResult<Option<ReplyTemplate>> {
    t::reply_templates.find(id).first(conn).optional()
}

/// Templates of this category apply to every message.
pub const GENERAL: &str = "通用";

/// Save a template (new when `id` is None).
pub fn save_template(
    conn: &mut DbConn,
    id: Option<i32>,
    category: &str,
    title: &str,
    body: &str,
    active: bool,
) -> QueryResult<i32> {
    let now = db::now();
    match id {
        Some(id) => {
            diesel::update(t::reply_templates.find(id))
                .set((
                    t::category.eq(category),
                    t::title.eq(title),
                    t::body.eq(body),
                    t::active.eq(active),
                    t::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(id)
        }
        None => diesel::insert_into(t::reply_templates)
            .values((
                t::category.eq(category),
                t::title.eq(title),
                t::body.eq(body),
                t::active.eq(active),
                t::updated_at.eq(now),
            ))
            .returning(t::id)
            .get_result(conn),
    }
}

const DEFAULT_TEMPLATES: &[(&str, &str, &str)] = &[
    (
        GENERAL,
        "通用答复",
        "网友您好！您反映的问题收悉。经调查核实，现将有关情况答复如下：\n一、基本情况：\n二、处理情况：\n三、下一步措施：\n如有疑问，请联系（单位、联系人、电话）。感谢您对我们工作的关心和支持！",
    ),
    (
        "政策咨询",
        "政策咨询答复",
        "网友您好！您咨询的问题收悉。根据（政策文件名称及文号）规定：\n（政策内容）\n您可到（办理地点）办理，或拨打（咨询电话）咨询。感谢您的关注！",
    ),
    (
        "欠薪欠资",
        "欠薪问题答复",
        "网友您好！您反映的欠薪问题收悉。我单位会同人社部门进行了调查：\n一、核实情况：\n二、处理结果（已支付金额、支付时间）：\n如仍有未结清工资，请携带劳动合同、考勤记录等材料到（劳动保障监察机构）投诉。",
    ),
    (
        "建议",
        "建议答复",
        "网友您好！感谢您提出的宝贵建议。经研究，答复如下：\n（采纳情况及理由）\n欢迎继续为我市发展建言献策。",
    ),
];

/// Seed the lists, rules, holidays and reply templates into empty tables.
pub fn seed_if_empty(conn: &mut DbConn) -> Result<(), AppError> {
    if o::options.count().get_result::<i64>(conn)? == 0 {
        for (kind, values) in [
            (LEVEL, DEFAULT_LEVELS),
            (PLATFORM, DEFAULT_PLATFORMS),
            (CATEGORY, DEFAULT_CATEGORIES),
        ] {
            for (i, v) in values.iter().enumerate() {
                diesel::insert_into(o::options)
                    .values((
                        o::kind.eq(kind),
                        o::value.eq(*v),
                        o::sort_order.eq(i as i32 * 10),
                        o::active.eq(true),
                    ))
                    .execute(conn)?;
            }
        }
    }
    if r::deadline_rules.count().get_result::<i64>(conn)? == 0 {
        let defaults: [(Option<&str>, i32, &str); 3] = [
            (
                None,
                DEFAULT_REPLY_DAYS,
                "调查处理类：转办后 20 个工作日内答复（贵州省政府督查室 2014）",
            ),
            (Some("政策咨询"), 10, "咨询类：转办后 10 个工作日内答复"),
            (Some("建议"), 10, "建议类：转办后 10 个工作日内答复"),
        ];
        for (category, days, note) in defaults {
            diesel::insert_into(r::deadline_rules)
                .values((
                    r::level.eq(None::<String>),
                    r::source_platform.eq(None::<String>),
                    r::category.eq(category),
                    r::reply_days.eq(days),
                    r::note.eq(note),
                ))
                .execute(conn)?;
        }
    }
    if t::reply_templates.count().get_result::<i64>(conn)? == 0 {
        for (category, title, body) in DEFAULT_TEMPLATES {
            save_template(conn, None, category, title, body, true)?;
        }
    }
    if h::holidays.count().get_result::<i64>(conn)? == 0 {
        for (day, name, off) in calendar::shipped_holidays().map_err(AppError::internal)? {
            diesel::insert_into(h::holidays)
                .values((h::day.eq(day), h::name.eq(name), h::is_off.eq(off)))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Setting: from which day of the year (`MM-DD`, default `11-01`) the centre is warned
/// while next year's holidays have not been entered.
pub const CALENDAR_WARN_FROM_KEY: &str = "calendar_warn_from";

/// The calendar warning for today, if any (see `deadline::calendar_warning`).
pub fn calendar_warning(
    conn: &mut DbConn,
    cal: &crate::messages::calendar::Calendar,
    today: NaiveDate,
) -> QueryResult<Option<String>> {
    let from = crate::db::get_setting(conn, CALENDAR_WARN_FROM_KEY)?
        .and_then(|v| {
            let (m, d) = v.trim().split_once('-')?;
            Some((m.parse::<u32>().ok()?, d.parse::<u32>().ok()?))
        })
        .unwrap_or((11, 1));
    Ok(crate::messages::deadline::calendar_warning(
        cal, today, from,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: i32, level: Option<&str>, category: Option<&str>, days: i32) -> Rule {
        Rule {
            id,
            level: level.map(str::to_string),
            source_platform: None,
            category: category.map(str::to_string),
            reply_days: days,
            note: String::new(),
        }
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let rules = vec![
            rule(1, None, None, 20),
            rule(2, None, Some("政策咨询"), 10),
            rule(3, Some("省级"), Some("政策咨询"), 8),
        ];
        assert_eq!(reply_days(&rules, "市级", "市长信箱", "投诉举报"), 20);
        assert_eq!(reply_days(&rules, "市级", "市长信箱", "政策咨询"), 10);
        assert_eq!(reply_days(&rules, "省级", "市长信箱", "政策咨询"), 8);
        assert_eq!(reply_days(&[], "省级", "x", "y"), DEFAULT_REPLY_DAYS);
    }
}
