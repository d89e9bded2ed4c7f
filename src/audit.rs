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

/// Append one audit record and seal it into the hash chain, in one transaction (a
/// savepoint when the caller already has one). On PostgreSQL an advisory lock orders
/// the writers; on SQLite the write lock the insert takes does.
pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    event: &str,
    object: &str,
    result: &str,
    detail: &str,
) -> QueryResult<()> {
    // One line per value: a newline in a name cannot forge another record.
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(max)
            .collect()
    };
    let username = clean(&actor.username, 64);
    conn.transaction(|conn| {
        if let DbConn::Pg(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock(7426001)").execute(pg)?;
        }
        diesel::insert_into(a::audit_log)
            .values((
                a::at.eq(db::now()),
                a::user_id.eq(actor.user_id),
                a::username.eq(username),
                a::unit_id.eq(actor.unit_id),
                a::ip.eq(clean(&actor.ip, 64)),
                a::event.eq(event),
                a::object.eq(clean(object, 500)),
                a::result.eq(result),
                a::detail.eq(clean(detail, 2000)),
                a::hash.eq(""),
            ))
            .execute(conn)?;
        seal(conn)?;
        crate::archive::ledger::seal_audit(conn)
    })
}

/// The bytes a record's hash covers (its sequence number included).
fn canonical(r: &AuditRow, seq: i64) -> String {
    serde_json::json!([
        seq,
        r.id,
        r.at.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        r.user_id,
        r.username,
        r.unit_id,
        r.ip,
        r.event,
        r.object,
        r.result,
        r.detail
    ])
    .to_string()
}

fn link(prev: &str, r: &AuditRow, seq: i64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(canonical(r, seq).as_bytes());
    hex::encode(h.finalize())
}

/// Seal every unsealed record, in id order, continuing the chain (inside the caller's
/// transaction, which must hold the write lock).
pub fn seal(conn: &mut DbConn) -> QueryResult<usize> {
    let last: Option<(Option<i64>, String)> = a::audit_log
        .filter(a::seal_seq.is_not_null())
        .order(a::seal_seq.desc())
        .select((a::seal_seq, a::hash))
        .first(conn)
        .optional()?;
    let (mut seq, mut prev) = last
        .map(|(s, h)| (s.unwrap_or(0), h))
        .unwrap_or((0, String::new()));
    let rows: Vec<AuditRow> = a::audit_log
        .filter(a::seal_seq.is_null())
        .order(a::id)
        .load(conn)?;
    for r in &rows {
        seq += 1;
        let hash = link(&prev, r, seq);
        diesel::update(
            a::audit_log
                .filter(a::id.eq(r.id))
                .filter(a::seal_seq.is_null()),
        )
        .set((a::seal_seq.eq(Some(seq)), a::hash.eq(&hash)))
        .execute(conn)?;
        prev = hash;
    }
    Ok(rows.len())
}

/// Check the chain: every sealed record in sequence, each hash over its predecessor and
/// its own content. Reports edited, removed and reordered records, and unsealed ones.
pub fn verify(conn: &mut DbConn) -> QueryResult<(usize, Vec<String>)> {
    let rows: Vec<AuditRow> = a::audit_log
        .order((a::seal_seq.asc(), a::id.asc()))
        .load(conn)?;
    let mut problems = Vec::new();
    let mut prev = String::new();
    let mut expected = 1i64;
    let mut checked = 0;
    for r in &rows {
        let Some(seq) = r.seal_seq else {
            problems.push(format!("第 {} 号记录未封存", r.id));
            continue;
        };
        checked += 1;
        if seq != expected {
            problems.push(format!(
                "封存序号 {expected} 至 {} 的记录缺失（记录被删除）",
                seq - 1
            ));
        }
        if link(&prev, r, seq) != r.hash {
            problems.push(format!(
                "第 {} 号记录（封存序号 {seq}）与哈希链不符：记录被修改或顺序被调换",
                r.id
            ));
        }
        prev = r.hash.clone();
        expected = seq + 1;
    }
    Ok((checked, problems))
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
    pub seal_seq: Option<i64>,
    pub hash: String,
}

/// Events that mean someone worked around the application: shown to the 安全管理员 and
/// on the 完整性核验 page.
pub const ALERTS: &[&str] = &["guard_missing", "tamper_found", "signing_key_new"];

/// The latest alerts since `since`, newest first: (time, label, object, detail).
pub fn alerts(
    conn: &mut DbConn,
    since: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(String, String, String, String)>> {
    let rows: Vec<AuditRow> = a::audit_log
        .filter(a::event.eq_any(ALERTS))
        .filter(a::at.ge(since))
        .order(a::id.desc())
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                crate::clock::format_time(r.at),
                event_label(&r.event).to_string(),
                r.object,
                r.detail,
            )
        })
        .collect())
}

/// Filters of the audit list page.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub event: String,
    /// China days, YYYY-MM-DD.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub unit: String,
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
        if let Ok(d) = chrono::NaiveDate::parse_from_str(f.from.trim(), "%Y-%m-%d") {
            q = q.filter(a::at.ge(crate::clock::china_day_start(d)));
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(f.to.trim(), "%Y-%m-%d") {
            q = q.filter(a::at.lt(crate::clock::china_day_start(d + chrono::Duration::days(1))));
        }
        if let Ok(u) = f.unit.trim().parse::<i32>() {
            q = q.filter(a::unit_id.eq(u));
        }
        q
    };
    let total = build().count().get_result::<i64>(conn)?;
    if f.page == Some(0) {
        // Page 0: everything (exports), newest first, at most 100,000 rows.
        let rows = build()
            .order(a::id.desc())
            .limit(100_000)
            .load::<AuditRow>(conn)?;
        return Ok((rows, total));
    }
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
    ("password_confirm", "敏感操作前确认密码"),
    ("2fa_disable", "关闭双因素认证"),
    ("2fa_recovery_codes", "重新生成恢复码"),
    ("2fa_recovery_used", "使用恢复码登录"),
    ("2fa_policy", "修改双因素认证策略"),
    ("session_end", "结束会话"),
    ("audit_export", "导出审计日志"),
    ("backup", "备份"),
    ("lifecycle", "留言办理"),
    ("restore", "恢复"),
    ("export", "导出留言"),
    ("guard_missing", "数据库保护缺失"),
    ("signing_key_new", "生成签名密钥"),
    ("signing_key_rotate", "轮换签名密钥"),
    ("signing_key_trust", "导入核验公钥"),
    ("seal_backfill", "补签封印"),
    ("tamper_found", "发现记录被改动"),
    ("hot_rename", "热点问题改名"),
    ("hot_merge", "合并热点问题"),
    ("hot_split", "拆分热点问题"),
    ("hot_dismiss", "撤销热点问题"),
    ("hot_restore", "恢复热点问题"),
    ("hot_mark", "标为热点"),
    ("hot_unmark", "取消热点标记"),
];

pub fn event_label(event: &str) -> &str {
    EVENTS
        .iter()
        .find(|(e, _)| *e == event)
        .map(|(_, l)| *l)
        .unwrap_or(event)
}

/// Refused requests (403, 404) are audit records, at most one per client, user and status
/// a minute: the repeats are counted and named in the next record, so a scanner cannot
/// flood the log.
#[derive(Default)]
pub struct Refusals {
    seen: std::sync::Mutex<std::collections::HashMap<RefusalKey, (i64, u64)>>,
}

/// Client address, user, status → (the minute of the last record, repeats since).
type RefusalKey = (String, Option<i32>, u16);

impl Refusals {
    /// Whether to write a record for this refusal now (in minute `minute`), and how many
    /// like it went unrecorded before it.
    pub fn admit(&self, ip: &str, user: Option<i32>, status: u16, minute: i64) -> Option<u64> {
        let mut seen = self.seen.lock().ok()?;
        if seen.len() > 10_000 {
            seen.retain(|_, (m, _)| minute - *m < 10);
        }
        let entry = seen
            .entry((ip.to_string(), user, status))
            .or_insert((minute - 1, 0));
        if entry.0 == minute {
            entry.1 += 1;
            return None;
        }
        let repeats = entry.1;
        *entry = (minute, 0);
        Some(repeats)
    }
}

/// Write the record of a refused request (see `Refusals`): by user `uid` (None: not
/// logged in) from `ip`, for `path`, with how many like it went unrecorded before it.
pub async fn refusal(
    pool: &crate::db::DbPool,
    uid: Option<i32>,
    ip: String,
    path: String,
    status: u16,
    repeats: u64,
) -> Result<(), crate::error::AppError> {
    let why = if status == 403 {
        "403 未通过安全校验（CSRF 令牌或请求来源）"
    } else {
        "404 页面不存在或不在权限范围内"
    };
    let detail = match repeats {
        0 => why.to_string(),
        n => format!("{why}；此前一分钟内另有 {n} 次同类拒绝未逐条记录"),
    };
    crate::db::run(pool, move |c| {
        let user = match uid {
            Some(id) => crate::users::find(c, id)?,
            None => None,
        };
        let actor = Actor {
            user_id: user.as_ref().map(|u| u.id),
            username: user
                .as_ref()
                .map_or_else(|| "（未登录）".to_string(), |u| u.username.clone()),
            unit_id: user.as_ref().map(|u| u.unit_id),
            ip,
        };
        record(c, &actor, "refused", &path, FAILED, &detail)?;
        Ok(())
    })
    .await
}

/// A print document opened (督办通知书, 书面函告 or 约谈通知, 督办通报): who opened which
/// one, from where and when — a paper copy can be made from any view.
pub async fn print_view(
    pool: &crate::db::DbPool,
    actor: Actor,
    what: String,
) -> Result<(), crate::error::AppError> {
    crate::db::run(pool, move |c| {
        record(c, &actor, "print_view", &what, OK, "打开打印页")?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod refusal_tests {
    #[test]
    fn one_record_a_minute_and_the_repeats_counted() {
        let r = super::Refusals::default();
        assert_eq!(r.admit("10.0.0.1", None, 404, 100), Some(0));
        for _ in 0..50 {
            assert_eq!(r.admit("10.0.0.1", None, 404, 100), None);
        }
        // Another client, user or status is its own.
        assert_eq!(r.admit("10.0.0.2", None, 404, 100), Some(0));
        assert_eq!(r.admit("10.0.0.1", Some(3), 404, 100), Some(0));
        assert_eq!(r.admit("10.0.0.1", None, 403, 100), Some(0));
        // The next minute's first one says how many went unrecorded.
        assert_eq!(r.admit("10.0.0.1", None, 404, 101), Some(50));
        assert_eq!(r.admit("10.0.0.1", None, 404, 103), Some(0));
    }
}
