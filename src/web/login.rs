//! Login and logout.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::audit::{self, Actor};
use crate::auth::csrf::{self, CsrfForm};
use crate::auth::session_store::UID_KEY;
use crate::auth::totp;
use crate::db;
use crate::error::AppError;
use crate::users::{self, User};
use crate::web::ctx::{take_flash, Ctx, Layout, LOGIN_AT_KEY};
use crate::web::extract::Query;
use crate::web::{render_status, see_other, AppState};

/// The one message for an unknown user and a wrong password alike.
pub const BAD_CREDENTIALS: &str = "用户名或密码错误。";

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    out: Option<String>,
}

pub async fn form(
    session: Session,
    state: web::Data<AppState>,
    query: Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    if session.get::<i32>(UID_KEY).ok().flatten().is_some() {
        return Ok(see_other("/"));
    }
    let token = csrf::ensure_token(&session)?;
    let mut layout = Layout::anonymous("登录", state.config.demo, token);
    layout.flash = take_flash(&session);
    if query.out.is_some() && layout.flash.is_none() {
        layout = layout.with_flash("ok", "您已安全退出。");
    }
    render_status(
        StatusCode::OK,
        &LoginPage {
            layout,
            username: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn refuse(
    state: &AppState,
    session: &Session,
    username: &str,
    message: String,
) -> Result<HttpResponse, AppError> {
    let token = csrf::ensure_token(session)?;
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &LoginPage {
            layout: Layout::anonymous("登录", state.config.demo, token),
            username: username.to_string(),
            error: Some(message),
        },
    )
}

/// A login refused before any password was counted: audited.
async fn failed(
    state: &AppState,
    actor: &Actor,
    username: &str,
    why: &'static str,
) -> Result<(), AppError> {
    let (a, name) = (actor.clone(), username.to_string());
    db::run(&state.pool, move |c| {
        Ok(audit::record(c, &a, "login", &name, audit::FAILED, why)?)
    })
    .await
}

pub async fn submit(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let username: String = form
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(64)
        .collect();
    if username.is_empty() || form.password.is_empty() {
        return refuse(
            &state,
            &session,
            &username,
            "请输入用户名和密码。".to_string(),
        );
    }
    let lookup = username.clone();
    let user: Option<User> = db::run(&state.pool, move |c| {
        Ok(users::find_by_username(c, &lookup)?)
    })
    .await?;
    // Always run one verification, against a dummy hash for unknown users, so that the
    // answer takes as long whether the user exists or not.
    let password_ok = state
        .hasher
        .verify(
            form.password.clone(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
    let actor = Actor {
        user_id: user.as_ref().map(|u| u.id),
        username: username.clone(),
        unit_id: user.as_ref().map(|u| u.unit_id),
        ip: crate::auth::client::ip(&req),
    };
    let now = db::now();
    let cfg = state.config.clone();
    let (name, ip) = (username.clone(), actor.ip.clone());
    let held = db::run(&state.pool, move |c| Ok(users::held_off(c, &name, &ip)?)).await?;
    if held {
        // This address is waiting after repeated wrong passwords for this account: the
        // password is not even looked at, and the answer is the usual one.
        failed(&state, &actor, &username, "该地址连续密码错误，暂缓登录中").await?;
        return refuse(&state, &session, &username, BAD_CREDENTIALS.to_string());
    }
    match user {
        Some(u) if u.is_locked(now) => {
            failed(&state, &actor, &u.username, "账户已锁定").await?;
            // The same answer as for an unknown user or a wrong password: nobody learns
            // from the login which accounts exist or are locked.
            refuse(&state, &session, &username, BAD_CREDENTIALS.to_string())
        }
        Some(u) if password_ok && u.active && u.totp_enabled => {
            // The first factor is right; the session is not logged in until the second.
            session.clear();
            session.renew();
            session
                .insert(PENDING_UID, u.id)
                .map_err(AppError::internal)?;
            session
                .insert(PENDING_AT, crate::clock::current().timestamp())
                .map_err(AppError::internal)?;
            session
                .insert(csrf::SESSION_KEY, csrf::new_token())
                .map_err(AppError::internal)?;
            Ok(see_other("/login/2fa"))
        }
        Some(u) if password_ok && u.active => complete_login(&state, &session, &u, actor).await,
        Some(u) if u.active => {
            let a = actor.clone();
            let uc = u.clone();
            db::run(&state.pool, move |c| {
                let limits = (cfg.lock_threshold, cfg.lock_minutes);
                users::refused_login(c, &uc.username, Some(&uc), "密码错误", limits, &a)?;
                Ok(())
            })
            .await?;
            refuse(&state, &session, &username, BAD_CREDENTIALS.to_string())
        }
        other => {
            let a = actor.clone();
            let detail = if other.is_some() {
                "账户已停用"
            } else {
                "用户不存在"
            };
            let name = username.clone();
            db::run(&state.pool, move |c| {
                let limits = (cfg.lock_threshold, cfg.lock_minutes);
                users::refused_login(c, &name, None, detail, limits, &a)?;
                Ok(())
            })
            .await?;
            refuse(&state, &session, &username, BAD_CREDENTIALS.to_string())
        }
    }
}

/// Session keys of a login waiting for its second factor.
pub const PENDING_UID: &str = "pending_uid";
pub const PENDING_AT: &str = "pending_at";
/// Minutes allowed between the password and the second factor.
const PENDING_MINUTES: i64 = 5;

/// Both factors are right: record the login and start a fresh session.
async fn complete_login(
    state: &AppState,
    session: &Session,
    u: &User,
    actor: Actor,
) -> Result<HttpResponse, AppError> {
    let uc = u.clone();
    let ip = actor.ip.clone();
    let locks = db::run(&state.pool, move |c| {
        users::record_successful_login(c, &uc, &actor)
    })
    .await?;
    session.clear();
    session.renew();
    if locks > 0 {
        crate::web::ctx::set_flash(
            session,
            "error",
            &format!(
                "注意：自您上次登录以来，您的账户因连续输错密码被暂缓登录或锁定过 {locks} 次。如果不是您本人所为，请告知安全管理员。"
            ),
        );
    }
    session.insert(UID_KEY, u.id).map_err(AppError::internal)?;
    session
        .insert(LOGIN_AT_KEY, crate::clock::current().timestamp())
        .map_err(AppError::internal)?;
    session
        .insert(crate::web::ctx::LOGIN_IP_KEY, ip)
        .map_err(AppError::internal)?;
    session
        .insert(crate::auth::session_store::TAG_KEY, csrf::new_token())
        .map_err(AppError::internal)?;
    session
        .insert(csrf::SESSION_KEY, csrf::new_token())
        .map_err(AppError::internal)?;
    Ok(see_other(if u.must_change_password {
        "/account/password"
    } else {
        "/"
    }))
}

#[derive(Template)]
#[template(path = "auth/second.html")]
struct SecondPage {
    layout: Layout,
    error: Option<String>,
}

fn pending(session: &Session) -> Option<i32> {
    let uid = session.get::<i32>(PENDING_UID).ok().flatten()?;
    let at = session.get::<i64>(PENDING_AT).ok().flatten()?;
    (crate::clock::current().timestamp() - at <= PENDING_MINUTES * 60).then_some(uid)
}

pub async fn second_form(
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if pending(&session).is_none() {
        return Ok(see_other("/login"));
    }
    let token = csrf::ensure_token(&session)?;
    render_status(
        StatusCode::OK,
        &SecondPage {
            layout: Layout::anonymous("双因素认证", state.config.demo, token),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct SecondForm {
    #[serde(default)]
    code: String,
}

/// The second factor: a TOTP code (accepted once) or a one-time recovery code. Wrong
/// codes count toward the account lock like wrong passwords.
pub async fn second_submit(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SecondForm>,
) -> Result<HttpResponse, AppError> {
    let Some(uid) = pending(&session) else {
        crate::web::ctx::set_flash(&session, "error", "验证已超时，请重新输入用户名和密码。");
        return Ok(see_other("/login"));
    };
    let user = db::run(&state.pool, move |c| Ok(users::find(c, uid)?))
        .await?
        .ok_or(AppError::LoginRequired)?;
    let actor = Actor {
        user_id: Some(user.id),
        username: user.username.clone(),
        unit_id: Some(user.unit_id),
        ip: crate::auth::client::ip(&req),
    };
    let refuse2 = |msg: String| -> Result<HttpResponse, AppError> {
        let token = csrf::ensure_token(&session)?;
        render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SecondPage {
                layout: Layout::anonymous("双因素认证", state.config.demo, token),
                error: Some(msg),
            },
        )
    };
    let now = db::now();
    if !user.active || user.is_locked(now) {
        session.clear();
        crate::web::ctx::set_flash(&session, "error", "账户已锁定或停用，请联系安全管理员。");
        return Ok(see_other("/login"));
    }
    let code = form.code.trim().to_string();
    let (u2, a2, cfg) = (user.clone(), actor.clone(), state.config.clone());
    let secret = totp::secret_of(&state.sealer, &user).unwrap_or_default();
    let accepted = db::run(&state.pool, move |c| {
        if let Some(step) = totp::check(&secret, &code, u2.totp_last_step, totp::now_secs()) {
            if totp::accept_step(c, u2.id, step)? {
                return Ok(Ok("验证码"));
            }
        } else if code.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 10
            && totp::use_recovery_code(c, u2.id, &code)?
        {
            audit::record(c, &a2, "2fa_recovery_used", &u2.username, audit::OK, "")?;
            return Ok(Ok("恢复码"));
        }
        let locked = users::refused_login(
            c,
            &u2.username,
            Some(&u2),
            "双因素验证码错误或已使用",
            (cfg.lock_threshold, cfg.lock_minutes),
            &a2,
        )?;
        Ok(Err(locked))
    })
    .await?;
    match accepted {
        Ok(_) => complete_login(&state, &session, &user, actor).await,
        Err(true) => {
            session.clear();
            crate::web::ctx::set_flash(&session, "error", STOPPED);
            Ok(see_other("/login"))
        }
        Err(false) => refuse2(
            "验证码不正确或已使用过。请输入验证器上当前显示的 6 位数字（每个验证码只能使用一次），或一个恢复码。"
                .to_string(),
        ),
    }
}

/// After too many wrong second-factor codes (the password was right: the person may
/// learn that this desk has to wait).
const STOPPED: &str =
    "连续验证失败次数过多，此电脑暂时不能登录该账户。请稍后再试，或联系安全管理员解锁。";

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(ctx: Ctx, CsrfForm(_): CsrfForm<Empty>) -> Result<HttpResponse, AppError> {
    let actor = ctx.actor();
    let name = ctx.user.username.clone();
    db::run(ctx.pool(), move |c| {
        Ok(audit::record(c, &actor, "logout", &name, audit::OK, "")?)
    })
    .await?;
    ctx.session.purge();
    Ok(see_other("/login?out=1"))
}
