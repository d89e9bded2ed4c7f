//! System administrator pages: units and users. Only `SysAdmin` reaches them; every
//! other role gets 404.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::password;
use crate::auth::roles::{Role, UnitKind, ALL_ROLES, ALL_UNIT_KINDS};
use crate::db::{self, schema::users::dsl as us};
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::units::{self, TreeRow, Unit, UnitInput};
use crate::users::{self, User, UserInput};
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::extract::Query;
use crate::web::{render, render_status, see_other};

use crate::web::Choice;

const ADMIN: &[Role] = &[Role::SysAdmin];

fn kind_choices() -> Vec<Choice> {
    ALL_UNIT_KINDS
        .iter()
        .map(|k| Choice {
            value: k.as_str().to_string(),
            label: k.label().to_string(),
            disabled: false,
        })
        .collect()
}

fn unit_choices(units: &[Unit], only_parents: bool) -> Vec<Choice> {
    units::tree(units)
        .iter()
        .filter(|r| {
            !only_parents
                || matches!(
                    r.unit.kind(),
                    Some(UnitKind::Centre | UnitKind::County | UnitKind::Zone)
                )
        })
        .map(|r: &TreeRow| Choice {
            value: r.unit.id.to_string(),
            label: format!(
                "{}{}{}",
                r.indent(),
                r.unit.name,
                if r.unit.active { "" } else { "（已停用）" }
            ),
            disabled: !r.unit.active,
        })
        .collect()
}

fn role_choices() -> Vec<Choice> {
    ALL_ROLES
        .iter()
        .map(|r| Choice {
            value: r.as_str().to_string(),
            label: r.label().to_string(),
            disabled: false,
        })
        .collect()
}

// ---------- units ----------

pub struct UnitRow {
    pub id: i32,
    pub indent: String,
    pub name: String,
    pub short_name: String,
    pub kind: &'static str,
    pub code: String,
    pub users: i64,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "admin/units.html")]
struct UnitsPage {
    layout: Layout,
    rows: Vec<UnitRow>,
    active_count: usize,
}

pub async fn units_list(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let (all, counts) = db::run(ctx.pool(), |c| {
        let all = units::all(c)?;
        let counts: Vec<(i32, i64)> = us::users
            .filter(us::active.eq(true))
            .group_by(us::unit_id)
            .select((us::unit_id, count_star()))
            .load(c)?;
        Ok((all, counts))
    })
    .await?;
    let counts: HashMap<i32, i64> = counts.into_iter().collect();
    let rows: Vec<UnitRow> = units::tree(&all)
        .iter()
        .map(|r| UnitRow {
            id: r.unit.id,
            indent: r.indent(),
            name: r.unit.name.clone(),
            short_name: r.unit.short_name.clone(),
            kind: r.unit.kind_label(),
            code: r.unit.code.clone().unwrap_or_default(),
            users: counts.get(&r.unit.id).copied().unwrap_or(0),
            active: r.unit.active,
        })
        .collect();
    let active_count = rows.iter().filter(|r| r.active).count();
    render(&UnitsPage {
        layout: ctx.layout("单位管理").crumb("单位管理", "/admin/units"),
        rows,
        active_count,
    })
}

#[derive(Template)]
#[template(path = "admin/unit_form.html")]
struct UnitFormPage {
    layout: Layout,
    /// `None` when creating.
    unit_id: Option<i32>,
    input: UnitInput,
    errors: FieldErrors,
    kinds: Vec<Choice>,
    parents: Vec<Choice>,
}

fn unit_form(
    ctx: &Ctx,
    status: StatusCode,
    unit_id: Option<i32>,
    input: UnitInput,
    errors: FieldErrors,
    all: &[Unit],
) -> Result<HttpResponse, AppError> {
    let title = if unit_id.is_some() {
        "修改单位"
    } else {
        "新建单位"
    };
    render_status(
        status,
        &UnitFormPage {
            layout: ctx
                .layout(title)
                .crumb("单位管理", "/admin/units")
                .crumb(title, ""),
            unit_id,
            input,
            errors,
            kinds: kind_choices(),
            parents: unit_choices(all, true),
        },
    )
}

pub async fn unit_new(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let all = db::run(ctx.pool(), |c| Ok(units::all(c)?)).await?;
    let input = UnitInput {
        kind: UnitKind::Department.as_str().to_string(),
        parent_id: all
            .iter()
            .find(|u| u.kind() == Some(UnitKind::Centre))
            .map(|u| u.id.to_string())
            .unwrap_or_default(),
        ..Default::default()
    };
    unit_form(
        &ctx,
        StatusCode::OK,
        None,
        input,
        FieldErrors::default(),
        &all,
    )
}

pub async fn unit_create(
    ctx: Ctx,
    CsrfForm(input): CsrfForm<UnitInput>,
) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let actor = ctx.actor();
    let form = input.clone();
    let (all, outcome) = db::run(ctx.pool(), move |c| {
        let all = units::all(c)?;
        let outcome = match units::validate(&form, &all, None) {
            Ok(v) => Ok(units::create(c, &v, &actor).map(|id| (id, v.name))?),
            Err(e) => Err(e),
        };
        Ok((all, outcome))
    })
    .await?;
    match outcome {
        Ok((_, name)) => {
            ctx.flash("ok", &format!("已新建单位“{name}”。"));
            Ok(see_other("/admin/units"))
        }
        Err(errors) => unit_form(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            input,
            errors,
            &all,
        ),
    }
}

pub async fn unit_edit(ctx: Ctx, path: web::Path<i32>) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let id = path.into_inner();
    let all = db::run(ctx.pool(), |c| Ok(units::all(c)?)).await?;
    let unit = all.iter().find(|u| u.id == id).ok_or(AppError::NotFound)?;
    let input = UnitInput {
        name: unit.name.clone(),
        short_name: unit.short_name.clone(),
        kind: unit.kind.clone(),
        parent_id: unit.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        code: unit.code.clone().unwrap_or_default(),
        sort_order: unit.sort_order.to_string(),
    };
    unit_form(
        &ctx,
        StatusCode::OK,
        Some(id),
        input,
        FieldErrors::default(),
        &all,
    )
}

pub async fn unit_update(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(input): CsrfForm<UnitInput>,
) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let id = path.into_inner();
    let actor = ctx.actor();
    let form = input.clone();
    let (all, outcome) = db::run(ctx.pool(), move |c| {
        let all = units::all(c)?;
        if !all.iter().any(|u| u.id == id) {
            return Err(AppError::NotFound);
        }
        let outcome = match units::validate(&form, &all, Some(id)) {
            Ok(v) => Ok(units::update(c, id, &v, &actor).map(|_| v.name)?),
            Err(e) => Err(e),
        };
        Ok((all, outcome))
    })
    .await?;
    match outcome {
        Ok(name) => {
            ctx.flash("ok", &format!("单位“{name}”已保存。"));
            Ok(see_other("/admin/units"))
        }
        Err(errors) => unit_form(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(id),
            input,
            errors,
            &all,
        ),
    }
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    pub active: String,
}

pub async fn unit_active(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<ActiveForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let id = path.into_inner();
    let active = form.active == "1";
    let actor = ctx.actor();
    let outcome = db::run(ctx.pool(), move |c| {
        units::set_active(c, id, active, &actor)
    })
    .await?;
    match outcome {
        Ok(()) => ctx.flash(
            "ok",
            if active {
                "单位已启用。"
            } else {
                "单位已停用。"
            },
        ),
        Err(reason) => ctx.flash("error", &reason),
    }
    Ok(see_other("/admin/units"))
}

// ---------- users ----------

pub struct UserRow {
    pub id: i32,
    pub username: String,
    pub display_name: String,
    pub unit_name: String,
    pub role_label: &'static str,
    pub active: bool,
    pub locked: bool,
    pub must_change: bool,
    pub password_changed: String,
}

#[derive(Deserialize, Default)]
pub struct UserFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    rows: Vec<UserRow>,
    total: usize,
    q: String,
    role: String,
    roles: Vec<Choice>,
}

pub async fn users_list(ctx: Ctx, filter: Query<UserFilter>) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let list = db::run(ctx.pool(), |c| Ok(users::list_with_units(c)?)).await?;
    let total = list.len();
    let now = db::now();
    let q = filter.q.trim().to_lowercase();
    let rows = list
        .into_iter()
        .filter(|(u, unit)| {
            (q.is_empty()
                || u.username.contains(&q)
                || u.display_name.to_lowercase().contains(&q)
                || unit.name.contains(&q))
                && (filter.role.is_empty() || u.role == filter.role)
        })
        .map(|(u, unit)| UserRow {
            id: u.id,
            locked: u.is_locked(now),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            unit_name: unit.name,
            role_label: u.role_label(),
            active: u.active,
            must_change: u.must_change_password,
            password_changed: format_time(u.password_changed_at),
        })
        .collect();
    render(&UsersPage {
        layout: ctx.layout("用户管理").crumb("用户管理", "/admin/users"),
        rows,
        total,
        q: filter.q.clone(),
        role: filter.role.clone(),
        roles: role_choices(),
    })
}

#[derive(Template)]
#[template(path = "admin/user_form.html")]
struct UserFormPage {
    layout: Layout,
    /// The user being edited; `None` when creating.
    user: Option<UserSummary>,
    input: UserInput,
    errors: FieldErrors,
    units: Vec<Choice>,
    roles: Vec<Choice>,
}

pub struct UserSummary {
    pub id: i32,
    /// An administrator account the 系统管理员 may not change (三员分立).
    pub refused: Option<&'static str>,
    pub username: String,
    pub active: bool,
    pub locked: bool,
    pub must_change: bool,
    pub created: String,
    pub password_changed: String,
}

fn summary(u: &User, me: i32) -> UserSummary {
    UserSummary {
        id: u.id,
        refused: users::sysadmin_refusal(u.role(), None, u.id == me),
        username: u.username.clone(),
        active: u.active,
        locked: u.is_locked(db::now()),
        must_change: u.must_change_password,
        created: format_time(u.created_at),
        password_changed: format_time(u.password_changed_at),
    }
}

fn user_form(
    ctx: &Ctx,
    status: StatusCode,
    user: Option<&User>,
    input: UserInput,
    errors: FieldErrors,
    all_units: &[Unit],
) -> Result<HttpResponse, AppError> {
    let title = match user {
        Some(u) => format!("用户：{}", u.username),
        None => "新建用户".to_string(),
    };
    render_status(
        status,
        &UserFormPage {
            layout: ctx
                .layout(&title)
                .crumb("用户管理", "/admin/users")
                .crumb(&title, ""),
            user: user.map(|u| summary(u, ctx.user.id)),
            input,
            errors,
            units: unit_choices(all_units, false),
            // Administrator roles are granted on the console only (三员分立); a 系统管理员
            // editing itself keeps its own.
            roles: role_choices()
                .into_iter()
                .filter(|c| {
                    let role = Role::parse(&c.value);
                    !role.is_some_and(Role::is_administrator)
                        || (role == Some(Role::SysAdmin)
                            && user.is_some_and(|u| u.id == ctx.user.id))
                })
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "admin/user_password.html")]
struct TempPasswordPage {
    layout: Layout,
    username: String,
    display_name: String,
    password: String,
    created: bool,
}

pub async fn user_new(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let all = db::run(ctx.pool(), |c| Ok(units::all(c)?)).await?;
    let input = UserInput {
        role: Role::DeptOperator.as_str().to_string(),
        ..Default::default()
    };
    user_form(
        &ctx,
        StatusCode::OK,
        None,
        input,
        FieldErrors::default(),
        &all,
    )
}

pub async fn user_create(
    ctx: Ctx,
    CsrfForm(input): CsrfForm<UserInput>,
) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let temp = password::generate();
    let hash = ctx.state.hasher.hash(temp.clone()).await?;
    let actor = ctx.actor();
    let form = input.clone();
    let (all, outcome) = db::run(ctx.pool(), move |c| {
        let outcome = match users::validate(c, &form, None)? {
            Ok(v) => match users::sysadmin_refusal(None, Some(v.role), false) {
                Some(why) => Err(refused(c, &actor, "user_create", &v.username, why)?),
                None => Ok(users::create(c, &v, &hash, true, &actor).map(|_| v)?),
            },
            Err(e) => Err(e),
        };
        Ok((units::all(c)?, outcome))
    })
    .await?;
    match outcome {
        Ok(v) => render(&TempPasswordPage {
            layout: ctx
                .layout("用户已创建")
                .crumb("用户管理", "/admin/users")
                .with_flash("ok", &format!("已创建用户“{}”。", v.username)),
            username: v.username,
            display_name: v.display_name,
            password: temp,
            created: true,
        }),
        Err(errors) => user_form(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            input,
            errors,
            &all,
        ),
    }
}

/// A refused change to an administrator account: audited, and the reason as the form's
/// error.
fn refused(
    c: &mut crate::db::DbConn,
    actor: &crate::audit::Actor,
    event: &str,
    username: &str,
    why: &str,
) -> Result<FieldErrors, AppError> {
    crate::audit::record(c, actor, event, username, crate::audit::FAILED, why)?;
    let mut e = FieldErrors::default();
    e.add("role", why);
    Ok(e)
}

/// The account's page again with the refusal (403: the 系统管理员 may not).
fn refusal_page(
    ctx: &Ctx,
    user: &User,
    errors: FieldErrors,
    all: &[Unit],
) -> Result<HttpResponse, AppError> {
    let input = UserInput {
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        unit_id: user.unit_id.to_string(),
        role: user.role.clone(),
    };
    user_form(ctx, StatusCode::FORBIDDEN, Some(user), input, errors, all)
}

async fn load_user(ctx: &Ctx, id: i32) -> Result<(User, Vec<Unit>), AppError> {
    db::run(ctx.pool(), move |c| {
        let user = users::find(c, id)?.ok_or(AppError::NotFound)?;
        Ok((user, units::all(c)?))
    })
    .await
}

pub async fn user_edit(ctx: Ctx, path: web::Path<i32>) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let (user, all) = load_user(&ctx, path.into_inner()).await?;
    let input = UserInput {
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        unit_id: user.unit_id.to_string(),
        role: user.role.clone(),
    };
    user_form(
        &ctx,
        StatusCode::OK,
        Some(&user),
        input,
        FieldErrors::default(),
        &all,
    )
}

pub async fn user_update(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(input): CsrfForm<UserInput>,
) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let (user, all) = load_user(&ctx, path.into_inner()).await?;
    let actor = ctx.actor();
    let form = input.clone();
    let u = user.clone();
    let self_edit = user.id == ctx.user.id;
    let outcome = db::run(ctx.pool(), move |c| {
        Ok(match users::validate(c, &form, Some(&u))? {
            Ok(v) if self_edit && v.role != Role::SysAdmin => {
                let mut e = FieldErrors::default();
                e.add(
                    "role",
                    "不能取消自己的系统管理员角色，请由另一名系统管理员操作。",
                );
                Err(e)
            }
            Ok(v) => match users::sysadmin_refusal(u.role(), Some(v.role), self_edit) {
                Some(why) => Err(refused(c, &actor, "user_update", &u.username, why)?),
                None => Ok(users::update(c, &u, &v, &actor)?),
            },
            Err(e) => Err(e),
        })
    })
    .await?;
    match outcome {
        Ok(()) => {
            ctx.flash("ok", &format!("用户“{}”已保存。", user.username));
            Ok(see_other(&format!("/admin/users/{}", user.id)))
        }
        Err(errors) => user_form(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&user),
            input,
            errors,
            &all,
        ),
    }
}

pub async fn user_active(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<ActiveForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let (user, all) = load_user(&ctx, path.into_inner()).await?;
    let active = form.active == "1";
    if !active && user.id == ctx.user.id {
        ctx.flash("error", "不能停用自己的账户，请由另一名系统管理员操作。");
        return Ok(see_other(&format!("/admin/users/{}", user.id)));
    }
    let actor = ctx.actor();
    let u = user.clone();
    let own = user.id == ctx.user.id;
    let refusal = db::run(ctx.pool(), move |c| {
        let event = if active {
            "user_enable"
        } else {
            "user_disable"
        };
        match users::sysadmin_refusal(u.role(), None, own) {
            Some(why) => Ok(Some(refused(c, &actor, event, &u.username, why)?)),
            None => users::set_active(c, &u, active, &actor).map(|_| None),
        }
    })
    .await?;
    if let Some(errors) = refusal {
        return refusal_page(&ctx, &user, errors, &all);
    }
    ctx.flash(
        "ok",
        &if active {
            format!("用户“{}”已启用。", user.username)
        } else {
            format!("用户“{}”已停用，其所有登录已立即退出。", user.username)
        },
    );
    Ok(see_other(&format!("/admin/users/{}", user.id)))
}

pub async fn user_reset_password(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(_): CsrfForm<crate::web::login::Empty>,
) -> Result<HttpResponse, AppError> {
    ctx.require(ADMIN)?;
    let (user, all) = load_user(&ctx, path.into_inner()).await?;
    let temp = password::generate();
    let hash = ctx.state.hasher.hash(temp.clone()).await?;
    let actor = ctx.actor();
    let u = user.clone();
    let own = user.id == ctx.user.id;
    let refusal = db::run(ctx.pool(), move |c| {
        match users::sysadmin_refusal(u.role(), None, own) {
            Some(why) => Ok(Some(refused(
                c,
                &actor,
                "password_reset",
                &u.username,
                why,
            )?)),
            None => users::set_password(c, &u, &hash, true, "password_reset", &actor).map(|_| None),
        }
    })
    .await?;
    if let Some(errors) = refusal {
        return refusal_page(&ctx, &user, errors, &all);
    }
    if user.id == ctx.user.id {
        ctx.session.renew();
    }
    render(&TempPasswordPage {
        layout: ctx
            .layout("密码已重置")
            .crumb("用户管理", "/admin/users")
            .with_flash(
                "ok",
                &format!("用户“{}”的密码已重置，其所有登录已退出。", user.username),
            ),
        username: user.username,
        display_name: user.display_name,
        password: temp,
        created: false,
    })
}
