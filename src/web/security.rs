//! Security administrator: the effective security policy and locked accounts.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::csrf::CsrfForm;
use crate::auth::password::MIN_LENGTH;
use crate::auth::roles::Role;
use crate::db;
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::users;
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::login::Empty;
use crate::web::{render_status, see_other};

const SECURITY: &[Role] = &[Role::SecAdmin];

pub struct LockedRow {
    pub id: i32,
    pub username: String,
    pub display_name: String,
    pub unit_name: String,
    pub until: String,
}

#[derive(Template)]
#[template(path = "security/index.html")]
struct SecurityPage {
    layout: Layout,
    policy: Vec<(&'static str, String)>,
    locked: Vec<LockedRow>,
    /// (role code, label, two factors required)
    roles: Vec<(&'static str, &'static str, bool)>,
    /// The policy fields as shown: saved values, or what was typed when refused.
    max_age: String,
    quota_mb: String,
    errors: FieldErrors,
}

/// The policy form as typed, shown back with its errors.
struct Typed {
    roles: Vec<Role>,
    max_age: String,
    quota_mb: String,
    errors: FieldErrors,
}

pub async fn index(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(SECURITY)?;
    show(&ctx, None).await
}

/// The page, with the saved policy or with a refused form as it was typed (422).
async fn show(ctx: &Ctx, typed: Option<Typed>) -> Result<HttpResponse, AppError> {
    let (locked, required, max_age, quota_mb) = db::run(ctx.pool(), |c| {
        Ok((
            users::locked(c)?,
            crate::auth::totp::required_roles(c)?,
            crate::auth::password::max_age_days(c)?,
            crate::attachments::quota_mb(c)?,
        ))
    })
    .await?;
    let (required, max_age, quota_mb, errors, status) = match typed {
        None => (
            required,
            max_age.to_string(),
            quota_mb.to_string(),
            FieldErrors::default(),
            actix_web::http::StatusCode::OK,
        ),
        Some(t) => (
            t.roles,
            t.max_age,
            t.quota_mb,
            t.errors,
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    let roles = crate::auth::roles::ALL_ROLES
        .iter()
        .map(|r| (r.as_str(), r.label(), required.contains(r)))
        .collect();
    let cfg = &ctx.state.config;
    let policy = vec![
        ("密码最小长度", format!("{MIN_LENGTH} 个字符")),
        (
            "密码复杂度",
            "大写字母、小写字母、数字、符号中至少三类；不含用户名；不在常见密码表中".to_string(),
        ),
        (
            "登录失败锁定",
            format!(
                "同一地址对同一账户连续失败 {} 次起暂缓该地址登录（1 分钟起逐次加倍，最长 {} 分钟）；{} 个地址同时被暂缓时锁定账户 {} 分钟",
                cfg.lock_threshold,
                cfg.lock_minutes,
                crate::auth::throttle::HELD_ADDRESSES_TO_LOCK,
                cfg.lock_minutes
            ),
        ),
        (
            "空闲超时",
            format!("{} 分钟无操作自动退出", cfg.idle_timeout_min),
        ),
        (
            "登录最长有效期",
            format!("{} 小时", cfg.absolute_timeout_hours),
        ),
        (
            "会话存储",
            "服务器端（数据库），退出、停用、改密立即失效".to_string(),
        ),
        (
            "Cookie 安全标志",
            if cfg.secure_cookies {
                "Secure（仅 HTTPS）".to_string()
            } else {
                "未启用 Secure（生产环境应经 HTTPS 访问并启用）".to_string()
            },
        ),
    ];
    let rows = locked
        .into_iter()
        .map(|(u, unit)| LockedRow {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            unit_name: unit.name,
            until: u.locked_until.map(format_time).unwrap_or_default(),
        })
        .collect();
    render_status(
        status,
        &SecurityPage {
            roles,
            max_age,
            quota_mb,
            errors,
            layout: ctx.layout("账户安全").crumb("账户安全", "/security"),
            policy,
            locked: rows,
        },
    )
}

pub async fn unlock(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    ctx.require(SECURITY)?;
    let id = path.into_inner();
    let actor = ctx.actor();
    let name = db::run(ctx.pool(), move |c| {
        let user = users::find(c, id)?.ok_or(AppError::NotFound)?;
        users::unlock(c, &user, &actor)?;
        Ok(user.username)
    })
    .await?;
    ctx.flash("ok", &format!("账户“{name}”已解锁，可以重新登录。"));
    Ok(see_other("/security"))
}

/// The security policy the security administrator keeps: which roles must use two
/// factors, and how long a password stays valid.
pub async fn policy(
    ctx: Ctx,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(SECURITY)?;
    let roles: Vec<Role> = pairs
        .iter()
        .filter(|(k, _)| k == "require_2fa")
        .filter_map(|(_, v)| Role::parse(v))
        .collect();
    // A whole number within a range, or None.
    let number = |key: &str, range: std::ops::RangeInclusive<i64>| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.trim().parse::<i64>().ok())
            .filter(|n| range.contains(n))
    };
    let mut errors = FieldErrors::default();
    let max_age = number("max_age", 0..=3650);
    if max_age.is_none() {
        errors.add(
            "max_age",
            "密码有效期应为 0（永不过期）到 3650 之间的天数。",
        );
    }
    let quota = number("quota_mb", 0..=10_000_000);
    if quota.is_none() {
        errors.add(
            "quota_mb",
            "每个单位的附件容量应为 0（不限）到 10000000 之间的 MB 数。",
        );
    }
    let (Some(max_age), Some(quota)) = (max_age, quota) else {
        let typed = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let typed = Typed {
            max_age: typed("max_age"),
            quota_mb: typed("quota_mb"),
            roles,
            errors,
        };
        return show(&ctx, Some(typed)).await;
    };
    let actor = ctx.actor();
    let labels: Vec<&str> = roles.iter().map(|r| r.label()).collect();
    let what = format!(
        "双因素认证：{}；密码有效期 {max_age} 天；每单位附件容量 {quota} MB",
        if labels.is_empty() {
            "均不强制".to_string()
        } else {
            labels.join("、")
        }
    );
    let w = what.clone();
    db::run(ctx.pool(), move |c| {
        crate::auth::save_policy(c, &actor, &roles, max_age, quota, &w)
    })
    .await?;
    ctx.flash("ok", &format!("已保存安全策略（{what}）。"));
    Ok(see_other("/security"))
}
