//! 补正 (before 销号) and 更正 (after it): which of the 16 elements a person entered may
//! be corrected, by whom, how a typed value is checked, and what the correction changes.
//! 文号, 核办单位, 到期时间 and 回访时间 are set by the lifecycle and are not corrected
//! here. Pure: no SQL, no clock.

use chrono::{Datelike, Duration, NaiveDateTime};

use crate::auth::roles::Role;
use crate::clock::{format_time, from_china, to_china};
use crate::messages::lifecycle::Standing;
use crate::messages::model::{mask_contact, Changes, Message};
use crate::messages::service::{check_contact, parse_china_datetime, COUNTY_LEVEL, SATISFACTION};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Level,
    Platform,
    PlatformRef,
    Name,
    Contact,
    Title,
    Appeal,
    PostedAt,
    Category,
    Summary,
    Resolved,
    Evaluation,
    ReportRef,
}

pub const ALL_FIELDS: [Field; 13] = [
    Field::Level,
    Field::Platform,
    Field::PlatformRef,
    Field::Name,
    Field::Contact,
    Field::Title,
    Field::Appeal,
    Field::PostedAt,
    Field::Category,
    Field::Summary,
    Field::Resolved,
    Field::Evaluation,
    Field::ReportRef,
];

/// How a field is typed on the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// One of a configured list (级别, 来源平台, 所属类型).
    Choice,
    /// One line of text, at most this many characters.
    Line(usize),
    /// Long text.
    Text,
    /// China time, `YYYY-MM-DDTHH:MM`.
    DateTime,
    /// 已化解 / 未化解.
    YesNo,
    /// 满意度 and the citizen's words.
    Evaluation,
}

impl Field {
    pub fn code(self) -> &'static str {
        match self {
            Field::Level => "level",
            Field::Platform => "source_platform",
            Field::PlatformRef => "platform_ref",
            Field::Name => "complainant_name",
            Field::Contact => "complainant_contact",
            Field::Title => "title",
            Field::Appeal => "appeal",
            Field::PostedAt => "posted_at",
            Field::Category => "category",
            Field::Summary => "handling_summary",
            Field::Resolved => "resolved",
            Field::Evaluation => "evaluation",
            Field::ReportRef => "report_ref_no",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        ALL_FIELDS.iter().copied().find(|f| f.code() == s)
    }

    /// The name the clerk sees (the element's name; 平台编号 is part of element 3).
    pub fn label(self) -> &'static str {
        match self {
            Field::Level => "级别",
            Field::Platform => "留言来源平台",
            Field::PlatformRef => "平台编号",
            Field::Name => "反映人",
            Field::Contact => "联系方式",
            Field::Title => "留言标题",
            Field::Appeal => "主要诉求",
            Field::PostedAt => "留言时间",
            Field::Category => "所属类型",
            Field::Summary => "办理情况",
            Field::Resolved => "是否化解",
            Field::Evaluation => "评价内容",
            Field::ReportRef => "呈报文号",
        }
    }

    /// The element's number among the 16 (DESIGN §2).
    pub fn element_no(self) -> usize {
        match self {
            Field::Level => 2,
            Field::Platform | Field::PlatformRef => 3,
            Field::Name => 4,
            Field::Contact => 5,
            Field::Title => 6,
            Field::Appeal => 7,
            Field::PostedAt => 8,
            Field::Category => 11,
            Field::Summary => 12,
            Field::Resolved => 13,
            Field::Evaluation => 14,
            Field::ReportRef => 16,
        }
    }

    pub fn input(self) -> Input {
        match self {
            Field::Level | Field::Platform | Field::Category => Input::Choice,
            Field::PlatformRef | Field::ReportRef => Input::Line(64),
            Field::Name | Field::Contact => Input::Line(50),
            Field::Title => Input::Line(200),
            Field::Appeal | Field::Summary => Input::Text,
            Field::PostedAt => Input::DateTime,
            Field::Resolved => Input::YesNo,
            Field::Evaluation => Input::Evaluation,
        }
    }

    /// Fields that only exist once a step has recorded them: corrected, not invented.
    fn recorded(self, msg: &Message) -> bool {
        match self {
            Field::Summary => msg.handling_summary.is_some(),
            // Also once 办结 without it (an import taken as 办结 on the platform).
            Field::Resolved => msg.resolved.is_some() || msg.closed_at.is_some(),
            Field::Evaluation => msg.satisfaction.is_some(),
            Field::ReportRef => msg.report_ref_no.is_some(),
            _ => true,
        }
    }
}

/// The fields this user may correct on this message: the owner any element a person
/// entered; the handling unit its own 办理情况.
pub fn correctable(msg: &Message, s: Standing) -> Vec<Field> {
    ALL_FIELDS
        .iter()
        .copied()
        .filter(|f| f.recorded(msg))
        .filter(|f| s.owner || (s.handler && *f == Field::Summary))
        .collect()
}

/// The configured lists a value is checked against, and who corrects.
pub struct Lists<'a> {
    pub levels: &'a [String],
    pub platforms: &'a [String],
    pub categories: &'a [String],
    pub role: Role,
}

impl Lists<'_> {
    /// The choices offered for a `Choice` field (级别 as the registering unit may set it).
    pub fn choices(&self, f: Field) -> Vec<String> {
        match f {
            Field::Level => self
                .levels
                .iter()
                .filter(|l| (l.as_str() == COUNTY_LEVEL) == (self.role == Role::CountyOperator))
                .cloned()
                .collect(),
            Field::Platform => self.platforms.to_vec(),
            Field::Category => self.categories.to_vec(),
            _ => Vec::new(),
        }
    }
}

/// What the clerk typed for the new value.
#[derive(Clone, Copy, Debug, Default)]
pub struct Typed<'a> {
    pub value: &'a str,
    pub resolved: &'a str,
    pub satisfaction: &'a str,
}

/// The current value as the form shows it for editing (联系方式 is not shown in full:
/// the clerk types the new one).
pub fn current(msg: &Message, f: Field) -> String {
    match f {
        Field::Contact => String::new(),
        Field::PostedAt => to_china(msg.posted_at).format("%Y-%m-%dT%H:%M").to_string(),
        Field::Resolved => match msg.resolved {
            Some(true) => "1".to_string(),
            Some(false) => "0".to_string(),
            None => String::new(),
        },
        Field::Evaluation => msg.evaluation.clone().unwrap_or_default(),
        _ => shown(msg, f),
    }
}

/// The value as the timeline and the archive record it (联系方式 masked).
pub fn shown(msg: &Message, f: Field) -> String {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    match f {
        Field::Level => msg.level.clone(),
        Field::Platform => msg.source_platform.clone(),
        Field::PlatformRef => opt(&msg.platform_ref),
        Field::Name => msg.complainant_name.clone(),
        Field::Contact => mask_contact(&msg.complainant_contact),
        Field::Title => msg.title.clone(),
        Field::Appeal => msg.appeal.clone(),
        Field::PostedAt => format_time(msg.posted_at),
        Field::Category => msg.category.clone(),
        Field::Summary => opt(&msg.handling_summary),
        Field::Resolved => match msg.resolved {
            Some(true) => "已化解".to_string(),
            Some(false) => "未化解".to_string(),
            None => String::new(),
        },
        Field::Evaluation => match (&msg.satisfaction, &msg.evaluation) {
            (Some(s), Some(w)) if !w.trim().is_empty() => format!("{s}：{w}"),
            (Some(s), _) => s.clone(),
            _ => String::new(),
        },
        Field::ReportRef => opt(&msg.report_ref_no),
    }
}

/// The value as a correction event stores it: as `shown`, with a 反映人 sealed like its
/// column (`personal`; `describe` opens it).
pub fn recorded(msg: &Message, f: Field) -> String {
    match f {
        Field::Name => crate::messages::personal::seal(&shown(msg, f)),
        _ => shown(msg, f),
    }
}

/// A refused value: the form field to mark and why.
pub type Invalid = (&'static str, String);

/// The message as it is after the correction, or why the typed value is refused.
pub fn apply(
    msg: &Message,
    f: Field,
    typed: Typed,
    lists: &Lists,
    now_utc: NaiveDateTime,
) -> Result<Message, Invalid> {
    let mut after = msg.clone();
    let v = typed.value.trim();
    let bad = |why: &str| Err(("value", why.to_string()));
    let line = |max: usize, required: &str| -> Result<String, Invalid> {
        if v.is_empty() && !required.is_empty() {
            Err(("value", required.to_string()))
        } else if v.chars().count() > max {
            Err(("value", format!("不超过 {max} 个字。")))
        } else {
            Ok(v.to_string())
        }
    };
    match f {
        Field::Level | Field::Platform | Field::Category => {
            if !lists.choices(f).iter().any(|c| c == v) {
                return bad(&format!("请选择{}。", f.label()));
            }
            let slot = match f {
                Field::Level => &mut after.level,
                Field::Platform => &mut after.source_platform,
                _ => &mut after.category,
            };
            *slot = v.to_string();
        }
        Field::PlatformRef => {
            after.platform_ref = Some(line(64, "")?).filter(|s| !s.is_empty());
        }
        Field::Name => after.complainant_name = line(50, "请填写反映人。")?,
        Field::Contact => {
            let c = line(50, "请填写联系方式。")?;
            if let Err(why) = check_contact(&c) {
                return bad(why);
            }
            after.complainant_contact = c;
        }
        Field::Title => after.title = line(200, "请填写留言标题。")?,
        Field::Appeal => after.appeal = line(20000, "请填写主要诉求。")?,
        Field::Summary => after.handling_summary = Some(line(20000, "请填写办理情况。")?),
        Field::ReportRef => after.report_ref_no = Some(line(64, "请填写呈报文号。")?),
        Field::PostedAt => {
            let Some(t) = parse_china_datetime(v) else {
                return bad("请填写留言时间，格式如 2026-11-30 14:05。");
            };
            let utc = from_china(t);
            if t.year() < 2000 {
                return bad("留言时间有误，请核对年份。");
            }
            if utc > now_utc + Duration::minutes(1) {
                return bad("留言时间不能晚于现在。");
            }
            if utc > msg.registered_at + Duration::minutes(1) {
                return bad(&format!(
                    "留言时间不能晚于登记时间（{}）。",
                    format_time(msg.registered_at)
                ));
            }
            after.posted_at = utc;
        }
        Field::Resolved => {
            after.resolved = match typed.resolved {
                "1" => Some(true),
                "0" => Some(false),
                _ => return Err(("resolved", "请选择是否化解。".to_string())),
            }
        }
        Field::Evaluation => {
            if !SATISFACTION.contains(&typed.satisfaction) {
                return Err(("satisfaction", "请选择满意度。".to_string()));
            }
            after.satisfaction = Some(typed.satisfaction.to_string());
            after.evaluation = Some(line(20000, "")?);
        }
    }
    let unchanged = match f {
        // The masked form hides a change of digits in the middle: compare in full.
        Field::Contact => after.complainant_contact == msg.complainant_contact,
        _ => shown(&after, f) == shown(msg, f),
    };
    if unchanged {
        return Err((
            if matches!(f, Field::Resolved) {
                "resolved"
            } else {
                "value"
            },
            "新值与原值相同，无需补正。".to_string(),
        ));
    }
    Ok(after)
}

/// The columns a correction writes.
pub fn changes(f: Field, after: &Message) -> Changes {
    let mut ch = Changes::default();
    match f {
        Field::Level => ch.level = Some(after.level.clone()),
        Field::Platform => ch.source_platform = Some(after.source_platform.clone()),
        Field::PlatformRef => ch.platform_ref = Some(after.platform_ref.clone()),
        Field::Name => ch.complainant_name = Some(after.complainant_name.clone()),
        Field::Contact => ch.complainant_contact = Some(after.complainant_contact.clone()),
        Field::Title => ch.title = Some(after.title.clone()),
        Field::Appeal => ch.appeal = Some(after.appeal.clone()),
        Field::PostedAt => ch.posted_at = Some(after.posted_at),
        Field::Category => ch.category = Some(after.category.clone()),
        Field::Summary => ch.handling_summary = Some(after.handling_summary.clone()),
        Field::Resolved => ch.resolved = Some(after.resolved),
        Field::Evaluation => {
            ch.satisfaction = Some(after.satisfaction.clone());
            ch.evaluation = Some(after.evaluation.clone());
        }
        Field::ReportRef => ch.report_ref_no = Some(after.report_ref_no.clone()),
    }
    ch
}

/// The line the timeline and the printed archive show for a correction event's detail
/// (`{"element", "old", "new"}`), if it is one.
pub fn describe(detail: &serde_json::Value) -> Option<String> {
    let element = detail.get("element")?.as_str()?;
    let text = |k: &str| {
        detail
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(crate::messages::personal::open)
            .unwrap_or_else(|| "（空）".to_string())
    };
    Some(format!("{element}：{} → {}", text("old"), text("new")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    fn msg() -> Message {
        Message {
            level: "市级".into(),
            source_platform: "市长信箱".into(),
            complainant_name: "张三".into(),
            complainant_contact: String::new(),
            title: "小区停水".into(),
            appeal: "停水三天".into(),
            category: "投诉举报".into(),
            posted_at: at("2026-11-01 02:00"),
            registered_at: at("2026-11-02 02:00"),
            ..Default::default()
        }
    }

    fn lists(role: Role) -> (Vec<String>, Vec<String>, Vec<String>, Role) {
        (
            vec!["省级".into(), "市级".into(), COUNTY_LEVEL.into()],
            vec!["市长信箱".into(), "人民网".into()],
            vec!["投诉举报".into(), "咨询".into()],
            role,
        )
    }

    fn check(m: &Message, f: Field, value: &str) -> Result<Message, Invalid> {
        let (l, p, c, role) = lists(Role::CityOperator);
        let lists = Lists {
            levels: &l,
            platforms: &p,
            categories: &c,
            role,
        };
        let typed = Typed {
            value,
            ..Default::default()
        };
        apply(m, f, typed, &lists, at("2026-11-30 02:00"))
    }

    #[test]
    fn owners_correct_what_people_entered_handlers_their_reply() {
        let owner = Standing {
            owner: true,
            ..Default::default()
        };
        let handler = Standing {
            handler: true,
            ..Default::default()
        };
        let mut m = msg();
        let fields = correctable(&m, owner);
        assert!(fields.contains(&Field::Contact) && fields.contains(&Field::PostedAt));
        assert!(!fields.contains(&Field::Summary), "nothing replied yet");
        assert!(correctable(&m, handler).is_empty());
        m.handling_summary = Some("已修复".into());
        assert_eq!(correctable(&m, handler), vec![Field::Summary]);
        assert!(correctable(&m, Standing::default()).is_empty());
    }

    #[test]
    fn values_are_checked_as_at_registration() {
        let m = msg();
        let done = check(&m, Field::Contact, "13812345678").expect("contact");
        assert_eq!(done.complainant_contact, "13812345678");
        assert_eq!(shown(&done, Field::Contact), "138****5678");
        assert!(check(&m, Field::Contact, "1381234567").is_err());
        assert!(check(&m, Field::Name, " ").is_err());
        assert!(check(&m, Field::Name, "张三").is_err(), "unchanged");
        assert!(
            check(&m, Field::Level, COUNTY_LEVEL).is_err(),
            "city sets no county level"
        );
        assert_eq!(
            check(&m, Field::Level, "省级").expect("level").level,
            "省级"
        );
        assert!(check(&m, Field::Category, "其他").is_err());
        // 留言时间: not after registration, not in the future.
        assert!(check(&m, Field::PostedAt, "2026-11-03T09:00").is_err());
        let t = check(&m, Field::PostedAt, "2026-10-31T09:00").expect("time");
        assert_eq!(t.posted_at, at("2026-10-31 01:00"));
        let ch = changes(Field::PostedAt, &t);
        assert_eq!(ch.posted_at, Some(at("2026-10-31 01:00")));
        assert!(ch.title.is_none());
        let cleared = check(
            &Message {
                platform_ref: Some("D300256".into()),
                ..m.clone()
            },
            Field::PlatformRef,
            "",
        )
        .expect("cleared");
        assert_eq!(cleared.platform_ref, None);
    }

    #[test]
    fn a_changed_contact_is_seen_behind_the_mask() {
        let m = Message {
            complainant_contact: "13812345678".into(),
            ..msg()
        };
        assert!(check(&m, Field::Contact, "13899995678").is_ok());
    }

    #[test]
    fn descriptions() {
        let d = serde_json::json!({"element": "反映人", "old": "张三", "new": "张山"});
        assert_eq!(describe(&d).as_deref(), Some("反映人：张三 → 张山"));
        let d = serde_json::json!({"element": "联系方式", "old": "", "new": "138****5678"});
        assert_eq!(
            describe(&d).as_deref(),
            Some("联系方式：（空） → 138****5678")
        );
        assert_eq!(describe(&serde_json::json!({"unit": "x"})), None);
    }
}
