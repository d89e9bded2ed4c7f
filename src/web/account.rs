//! The user's own account: change password (also the forced change at first login).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::password;
use crate::db;
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::users;
use crate::web::ctx::{Ctx, Layout};
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
        forced: ctx.user.must_change_password,
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
    let current_ok = ctx
        .state
        .hasher
        .verify(form.current.clone(), Some(ctx.user.password_hash.clone()))
        .await?;
    if !current_ok {
        errors.add("current", "当前密码不正确。");
    }
    if let Err(reason) = password::check_policy(&ctx.user.username, &form.new_password) {
        errors.add("new_password", &reason);
    } else if form.new_password == form.current {
        errors.add("new_password", "新密码不能与当前密码相同。");
    }
    if form.confirm != form.new_password {
        errors.add("confirm", "两次输入的新密码不一致。");
    }
    if !errors.is_empty() {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                layout: ctx
                    .layout("修改密码")
                    .crumb("修改密码", "/account/password"),
                forced: ctx.user.must_change_password,
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
