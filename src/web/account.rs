//! The user's own account: change password (also the forced change at first login).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::password;
use crate::auth::totp;
use crate::db;
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::users;
use crate::web::ctx::{Ctx, Layout};
use crate::web::extract::Query;
use crate::web::{render, render_status, see_other};

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    forced: bool,
    errors: FieldErrors,
}

pub async fn password_form(ctx: Ctx) -> Result<HttpResponse, AppError> {
    render(&PasswordPage {
        layout: ctx
            .layout("修改密码")
            .crumb("修改密码", "/account/password"),
        forced: ctx.user.must_change_password || ctx.password_expired,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn password_submit(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    password_ok(&ctx, &form.current, &mut errors, "current", "修改密码").await?;
    if let Err(reason) = password::check_policy(&ctx.user.username, &form.new_password) {
        errors.add("new_password", &reason);
    } else if form.new_password == form.current {
        errors.add("new_password", "新密码不能与当前密码相同。");
    }
    if form.confirm != form.new_password {
        errors.add("confirm", "两次输入的新密码不一致。");
    }
    if errors.get("new_password").is_none() {
        let user = ctx.user.clone();
        let recent = db::run(ctx.pool(), move |c| Ok(users::recent_hashes(c, &user)?)).await?;
        for h in recent {
            if ctx
                .state
                .hasher
                .verify(form.new_password.clone(), Some(h))
                .await?
            {
                errors.add(
                    "new_password",
                    &format!(
                        "新密码不能与最近 {} 次使用过的密码相同。",
                        users::PASSWORD_HISTORY
                    ),
                );
                break;
            }
        }
    }
    if !errors.is_empty() {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                layout: ctx
                    .layout("修改密码")
                    .crumb("修改密码", "/account/password"),
                forced: ctx.user.must_change_password || ctx.password_expired,
                errors,
            },
        );
    }
    let hash = ctx.state.hasher.hash(form.new_password.clone()).await?;
    let user = ctx.user.clone();
    let actor = ctx.actor();
    db::run(ctx.pool(), move |c| {
        users::set_password(c, &user, &hash, false, "password_change", &actor)
    })
    .await?;
    // Every session of the user was ended; keep this one under a fresh key.
    ctx.session.renew();
    ctx.flash("ok", "密码已修改。您在其他地方的登录已全部退出。");
    Ok(see_other("/"))
}

// ---------- 双因素认证 ----------

const PENDING_SECRET: &str = "totp_pending";

#[derive(Template)]
#[template(path = "account/twofactor.html")]
struct TwoFactorPage {
    layout: Layout,
    enabled: bool,
    required: bool,
    qr: String,
    secret: String,
    recovery_left: i64,
    new_codes: Vec<String>,
    errors: FieldErrors,
}

async fn twofactor_page(
    ctx: &Ctx,
    status: StatusCode,
    new_codes: Vec<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (uid, role) = (ctx.user.id, ctx.role);
    let (user, required, left) = db::run(ctx.pool(), move |c| {
        Ok((
            users::find(c, uid)?.ok_or(AppError::LoginRequired)?,
            totp::required_roles(c)?.contains(&role),
            totp::recovery_left(c, uid)?,
        ))
    })
    .await?;
    let (qr, secret) = if user.totp_enabled {
        (String::new(), String::new())
    } else {
        let secret = match pending_secret(ctx)? {
            Some(s) => s,
            None => {
                let s = totp::new_secret();
                ctx.session
                    .insert(PENDING_SECRET, ctx.state.sealer.seal(&s))
                    .map_err(AppError::internal)?;
                s
            }
        };
        let url = totp::url(&secret, &user.username)?;
        (
            crate::web::archive::qr_svg(&url, "双因素认证二维码"),
            secret
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).to_string())
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    let mut layout = ctx.layout("双因素认证").crumb("双因素认证", "");
    if required && !user.totp_enabled && errors.is_empty() && new_codes.is_empty() {
        layout = layout.with_flash(
            "error",
            "按安全策略，您的岗位必须启用双因素认证后才能使用系统。请按下面的步骤完成设置。",
        );
    }
    render_status(
        status,
        &TwoFactorPage {
            layout,
            enabled: user.totp_enabled,
            required,
            qr,
            secret,
            recovery_left: left,
            new_codes,
            errors,
        },
    )
}

/// The secret being enrolled, kept sealed in the (server-side) session.
fn pending_secret(ctx: &Ctx) -> Result<Option<String>, AppError> {
    Ok(ctx
        .session
        .get::<String>(PENDING_SECRET)
        .map_err(AppError::internal)?
        .and_then(|s| ctx.state.sealer.open(&s)))
}

pub async fn twofactor(ctx: Ctx) -> Result<HttpResponse, AppError> {
    twofactor_page(&ctx, StatusCode::OK, Vec::new(), FieldErrors::default()).await
}

#[derive(Deserialize, Default)]
pub struct TwoFactorForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// Re-enter the password before changing the second factor.
/// Check the user's own password on a form (`field`, for `what`): a wrong one is a field
/// error, audited and counted toward the account lock; the lock ends the session.
async fn password_ok(
    ctx: &Ctx,
    typed: &str,
    errors: &mut FieldErrors,
    field: &str,
    what: &'static str,
) -> Result<(), AppError> {
    if typed.is_empty() {
        // Not a guess: nothing typed.
        errors.add(
            field,
            if field == "current" {
                "请输入当前密码。"
            } else {
                "请输入登录密码。"
            },
        );
        return Ok(());
    }
    let ok = ctx
        .state
        .hasher
        .verify(typed.to_string(), Some(ctx.user.password_hash.clone()))
        .await?;
    if ok {
        return Ok(());
    }
    let (user, actor) = (ctx.user.clone(), ctx.actor());
    let cfg = ctx.state.config.clone();
    let locked = db::run(ctx.pool(), move |c| {
        users::record_wrong_password(c, &user, cfg.lock_threshold, cfg.lock_minutes, &actor, what)
    })
    .await?;
    if locked {
        ctx.session.purge();
        return Err(AppError::LoginRequired);
    }
    errors.add(
        field,
        if field == "current" {
            "当前密码不正确。"
        } else {
            "登录密码不正确。"
        },
    );
    Ok(())
}

pub async fn twofactor_enable(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<TwoFactorForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    password_ok(
        &ctx,
        &form.password,
        &mut errors,
        "password",
        "开启双因素认证",
    )
    .await?;
    let secret = pending_secret(&ctx)?.unwrap_or_default();
    let step = totp::check(&secret, &form.code, 0, totp::now_secs());
    if step.is_none() {
        errors.add(
            "code",
            "验证码不正确。请确认手机时间准确，输入验证器上本系统当前显示的 6 位数字。",
        );
    }
    let Some(step) = step.filter(|_| errors.is_empty()) else {
        return twofactor_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, Vec::new(), errors).await;
    };
    let (uid, actor, name) = (ctx.user.id, ctx.actor(), ctx.user.username.clone());
    let sealer = ctx.state.sealer.clone();
    let codes = db::run(ctx.pool(), move |c| {
        let who = totp::Holder {
            user_id: uid,
            username: &name,
            actor: &actor,
        };
        totp::enrol(c, &sealer, &who, &secret, step)
    })
    .await?;
    let _ = ctx.session.remove(PENDING_SECRET);
    twofactor_page(&ctx, StatusCode::OK, codes, FieldErrors::default()).await
}

pub async fn twofactor_disable(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<TwoFactorForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    password_ok(
        &ctx,
        &form.password,
        &mut errors,
        "password",
        "关闭双因素认证",
    )
    .await?;
    let (uid, role, actor, name) = (
        ctx.user.id,
        ctx.role,
        ctx.actor(),
        ctx.user.username.clone(),
    );
    let required = db::run(ctx.pool(), move |c| {
        Ok(totp::required_roles(c)?.contains(&role))
    })
    .await?;
    if required {
        errors.add(
            "password",
            "按安全策略，您的岗位必须使用双因素认证，不能关闭。",
        );
    }
    if !errors.is_empty() {
        return twofactor_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, Vec::new(), errors).await;
    }
    db::run(ctx.pool(), move |c| {
        let who = totp::Holder {
            user_id: uid,
            username: &name,
            actor: &actor,
        };
        totp::switch_off(c, &who)
    })
    .await?;
    ctx.flash("ok", "已关闭双因素认证。登录时只需输入密码。");
    Ok(see_other("/account/2fa"))
}

pub async fn twofactor_recovery(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<TwoFactorForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    password_ok(
        &ctx,
        &form.password,
        &mut errors,
        "password",
        "重新生成恢复码",
    )
    .await?;
    if !ctx.user.totp_enabled {
        errors.add("password", "尚未启用双因素认证。");
    }
    if !errors.is_empty() {
        return twofactor_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, Vec::new(), errors).await;
    }
    let (uid, actor, name) = (ctx.user.id, ctx.actor(), ctx.user.username.clone());
    let codes = db::run(ctx.pool(), move |c| {
        let who = totp::Holder {
            user_id: uid,
            username: &name,
            actor: &actor,
        };
        totp::renew_recovery_codes(c, &who)
    })
    .await?;
    twofactor_page(&ctx, StatusCode::OK, codes, FieldErrors::default()).await
}

// ---------- 我的会话 ----------

pub struct SessionRow {
    pub id: String,
    pub login_at: String,
    pub ip: String,
    pub expires: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage {
    layout: Layout,
    rows: Vec<SessionRow>,
    /// The account's holds and locks of the last 30 days: (when, what, the record's words).
    holds: Vec<(String, &'static str, String)>,
}

pub async fn sessions(ctx: Ctx) -> Result<HttpResponse, AppError> {
    use crate::auth::session_store::{user_sessions, TAG_KEY};
    let uid = ctx.user.id;
    let mine = ctx
        .session
        .get::<String>(TAG_KEY)
        .ok()
        .flatten()
        .unwrap_or_default();
    let name = ctx.user.username.clone();
    let since = db::now() - chrono::Duration::days(30);
    let (list, holds) = db::run(ctx.pool(), move |c| {
        Ok((
            user_sessions(c, uid)?,
            crate::users::recent_holds(c, &name, since)?,
        ))
    })
    .await?;
    let holds = holds
        .into_iter()
        .map(|(at, event, detail)| {
            let what = if event == "lock" {
                "账户锁定"
            } else {
                "暂缓登录"
            };
            (crate::web::ctx::format_time(at), what, detail)
        })
        .collect();
    let rows = list
        .into_iter()
        .map(|s| SessionRow {
            current: !mine.is_empty() && s.tag == mine,
            login_at: s
                .login_at
                .map(crate::web::ctx::format_time)
                .unwrap_or_else(|| "—".to_string()),
            ip: s.ip,
            expires: crate::web::ctx::format_time(s.expires_at),
            id: s.id,
        })
        .collect();
    render(&SessionsPage {
        layout: ctx.layout("我的会话").crumb("我的会话", ""),
        rows,
        holds,
    })
}

pub async fn session_end(
    ctx: Ctx,
    path: actix_web::web::Path<String>,
    CsrfForm(_): CsrfForm<crate::web::login::Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (uid, actor, name) = (ctx.user.id, ctx.actor(), ctx.user.username.clone());
    let n = db::run(ctx.pool(), move |c| {
        let n = crate::auth::session_store::end_one(c, uid, &id)?;
        if n > 0 {
            crate::audit::record(
                c,
                &actor,
                "session_end",
                &name,
                crate::audit::OK,
                "本人结束其他会话",
            )?;
        }
        Ok(n)
    })
    .await?;
    ctx.flash(
        if n > 0 { "ok" } else { "error" },
        if n > 0 {
            "已结束该会话，那台电脑需要重新登录。"
        } else {
            "该会话已不存在。"
        },
    );
    Ok(see_other("/account/sessions"))
}

#[derive(Template)]
#[template(path = "account/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    next: String,
    what: &'static str,
    errors: FieldErrors,
}

/// After the confirmation of a download: the file starts by itself, with a link to it and
/// the way back (a download leaves the browser on the page it was started from).
#[derive(Template)]
#[template(path = "account/confirmed.html")]
struct ConfirmedPage {
    layout: Layout,
    next: String,
    what: &'static str,
    back: String,
}

/// The page a download was asked for from: the list with the same filters, the audit
/// log, the archive page.
fn back_of(next: &str) -> String {
    let (path, query) = next.split_once('?').unwrap_or((next, ""));
    let path = path
        .strip_suffix("/export")
        .or_else(|| path.split("/package").next())
        .unwrap_or(path);
    let path = if path.is_empty() { "/" } else { path };
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

#[derive(Deserialize, Default)]
pub struct ConfirmForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Where a confirmation may return to: a path on this site, nothing else.
fn local_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control());
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

/// The download the confirmation is for, in the clerk's words (`None`: another action).
fn download_of(next: &str) -> Option<&'static str> {
    if next.starts_with("/messages/export") {
        Some("导出留言清单")
    } else if next.starts_with("/audit/export") {
        Some("导出审计日志")
    } else if next.contains("/package") {
        Some("下载档案移交包")
    } else {
        None
    }
}

/// What the confirmed action is, in the clerk's words.
fn confirm_what(next: &str) -> &'static str {
    download_of(next).unwrap_or("敏感操作")
}

fn confirm_page(
    ctx: &Ctx,
    status: StatusCode,
    next: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    render_status(
        status,
        &ConfirmPage {
            layout: ctx.layout("确认身份").crumb("确认身份", ""),
            what: confirm_what(&next),
            next,
            errors,
        },
    )
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Re-enter the password before a sensitive action.
pub async fn confirm_form(ctx: Ctx, q: Query<NextQuery>) -> Result<HttpResponse, AppError> {
    confirm_page(
        &ctx,
        StatusCode::OK,
        local_next(&q.next),
        FieldErrors::default(),
    )
}

pub async fn confirm_submit(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let next = local_next(&form.next);
    let mut errors = FieldErrors::default();
    password_ok(&ctx, &form.password, &mut errors, "password", "确认身份").await?;
    let (actor, what) = (ctx.actor(), confirm_what(&next));
    let ok = errors.is_empty();
    db::run(ctx.pool(), move |c| {
        crate::audit::record(
            c,
            &actor,
            "password_confirm",
            what,
            if ok {
                crate::audit::OK
            } else {
                crate::audit::FAILED
            },
            "",
        )?;
        Ok(())
    })
    .await?;
    if !ok {
        return confirm_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, next, errors);
    }
    ctx.session
        .insert(
            crate::web::ctx::CONFIRMED_KEY,
            crate::clock::current().timestamp(),
        )
        .map_err(AppError::internal)?;
    let Some(what) = download_of(&next) else {
        return Ok(see_other(&next));
    };
    render(&ConfirmedPage {
        layout: ctx
            .layout("身份已确认")
            .crumb("身份已确认", "")
            .download(&next),
        back: back_of(&next),
        next,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::back_of;

    #[test]
    fn a_download_returns_to_the_page_it_came_from() {
        assert_eq!(
            back_of("/messages/export?format=csv&state=registered"),
            "/messages?format=csv&state=registered"
        );
        assert_eq!(back_of("/audit/export"), "/audit");
        assert_eq!(back_of("/archive/periods/3/package"), "/archive/periods/3");
        assert_eq!(back_of("/"), "/");
    }
}
