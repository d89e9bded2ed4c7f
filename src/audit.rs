//! The append-only audit trail (等保: who, when, from where, what, on what, with which
//! result). There is deliberately no update or delete function here, and the database
//! triggers refuse both. Passwords and session keys are never written to it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_log::dsl as a;
use crate::db::{self, DbConn};

/// Who is acting, and from where.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Option<i32>,
    pub username: String,
    pub unit_id: Option<i32>,
    pub ip: String,
}

impl Actor {
    /// The command-line tool acting on the server itself.
    pub fn cli() -> Actor {
        Actor {
            user_id: None,
            username: "（命令行）".to_string(),
            unit_id: None,
            ip: "localhost".to_string(),
        }
    }

    /// Start-up tasks (seeding, first administrator).
    pub fn system() -> Actor {
        Actor {
            user_id: None,
            username: "（系统）".to_string(),
            unit_id: None,
            ip: "localhost".to_string(),
        }
    }
}

pub const OK: &str = "成功";
pub const FAILED: &str = "失败";

/// Append one audit record.
pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    event: &str,
    object: &str,
    result: &str,
    detail: &str,
) -> QueryResult<()> {
    let username: String = actor.username.chars().take(64).collect();
    diesel::insert_into(a::audit_log)
        .values((
            a::at.eq(db::now()),
            a::user_id.eq(actor.user_id),
            a::username.eq(username),
            a::unit_id.eq(actor.unit_id),
            a::ip.eq(&actor.ip),
            a::event.eq(event),
            a::object.eq(object),
            a::result.eq(result),
            a::detail.eq(detail),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Queryable, Debug, Clone)]
pub struct AuditRow {
    pub id: i32,
    pub at: NaiveDateTime,
    pub user_id: Option<i32>,
    pub username: String,
    pub unit_id: Option<i32>,
    pub ip: String,
    pub event: String,
    pub object: String,
    pub result: String,
    pub detail: String,
}

/// Filters of the audit list page.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub page: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;

/// One page of the audit log, newest first, with the total count.
pub fn list(conn: &mut DbConn, f: &AuditFilter) -> QueryResult<(Vec<AuditRow>, i64)> {
    let build = || {
        let mut q = a::audit_log.into_boxed();
        if !f.username.trim().is_empty() {
            q = q.filter(a::username.eq(f.username.trim().to_string()));
        }
        if !f.event.trim().is_empty() {
            q = q.filter(a::event.eq(f.event.trim().to_string()));
        }
        q
    };
    let total = build().count().get_result::<i64>(conn)?;
    let page = f.page.unwrap_or(1).max(1);
    let rows = build()
        .order(a::id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
        .load::<AuditRow>(conn)?;
    Ok((rows, total))
}

/// Every event name written by the application, with its Chinese label.
pub const EVENTS: &[(&str, &str)] = &[
    ("login", "登录"),
    ("logout", "退出"),
    ("lock", "账户锁定"),
    ("unlock", "账户解锁"),
    ("password_change", "修改密码"),
    ("password_reset", "重置密码"),
    ("user_create", "新建用户"),
    ("user_update", "修改用户"),
    ("user_disable", "停用用户"),
    ("user_enable", "启用用户"),
    ("unit_create", "新建单位"),
    ("unit_update", "修改单位"),
    ("unit_disable", "停用单位"),
    ("unit_enable", "启用单位"),
    ("seed", "初始化数据"),
    ("settings_change", "修改业务设置"),
    ("period_open", "开启上报期"),
    ("archive_submit", "档案上报"),
    ("archive_review", "审核档案上报"),
    ("archive_export", "导出档案移交包"),
    ("score_rules", "修改考评规则"),
    ("score_entry", "录入加减分"),
    ("score_entry_reverse", "撤销加减分"),
    ("score_finalise", "考评定稿"),
    ("return_mark", "认定退回理由不成立"),
    ("import", "导入留言"),
    ("contact_view", "查看完整联系方式"),
    ("2fa_enable", "启用双因素认证"),
    ("2fa_disable", "关闭双因素认证"),
    ("2fa_recovery_codes", "重新生成恢复码"),
    ("2fa_recovery_used", "使用恢复码登录"),
    ("2fa_policy", "修改双因素认证策略"),
    ("session_end", "结束会话"),
    ("export", "导出留言"),
];

pub fn event_label(event: &str) -> &str {
    EVENTS
        .iter()
        .find(|(e, _)| *e == event)
        .map(|(_, l)| *l)
        .unwrap_or(event)
}
