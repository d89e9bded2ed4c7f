//! Business configuration kept in the database: the lists (级别, 来源平台, 所属类型),
//! reply-deadline rules and the holiday calendar, with their shipped defaults.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{deadline_rules::dsl as r, holidays::dsl as h, options::dsl as o};
use crate::db::DbConn;
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

/// Seed the lists, rules and holidays into empty tables.
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
