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

pub const LEVEL: &str = "level";
pub const PLATFORM: &str = "platform";
pub const CATEGORY: &str = "category";

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
