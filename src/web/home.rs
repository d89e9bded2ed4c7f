//! The home page: who I am, what my role may do, and my previous login.

use actix_web::HttpResponse;
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::roles::Role;
use crate::db::{self, schema::audit_log::dsl as a};
use crate::error::AppError;
use crate::web::ctx::{Ctx, Layout};
use crate::web::render;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    /// The 待办 tiles and the number of items waiting (None: a role that handles nothing).
    tiles: Option<(Vec<crate::web::messages::Tile>, i64)>,
    todo: Vec<crate::web::messages::TodoRow>,
    can_register: bool,
    role_duties: &'static str,
    links: Vec<(&'static str, &'static str, &'static str)>,
    /// For the centre: next (or this) year's holidays are not entered.
    calendar_warning: Option<String>,
    previous_login: Option<(String, String)>,
    /// For the 安全管理员 and the centre: the last 30 days' integrity alerts.
    alerts: Vec<(String, String, String, String)>,
    centre: bool,
}

fn duties(role: Role) -> &'static str {
    match role {
        Role::CityOperator => "登记、转办、审核、督办、回访、呈报、销号全市网民留言；汇总归档；量化积分考评；维护业务配置。",
        Role::CityLeader => "查看全市网民留言办理情况、统计报表、记实档案和考评结果（只读）。",
        Role::CountyOperator => "登记并办结本县（区）级网民留言；办理交办本县（区）的留言，下转并督促下属单位。",
        Role::DeptOperator => "办理交办本单位的网民留言：签收、办理、答复。",
        Role::SysAdmin => "管理单位、用户和系统配置。系统管理员不能查看留言内容和审计日志。",
        Role::SecAdmin => "管理密码策略、账户锁定和会话等安全设置。",
        Role::AuditAdmin => "查阅和导出审计日志。",
    }
}

fn links(role: Role) -> Vec<(&'static str, &'static str, &'static str)> {
    match role {
        Role::SysAdmin => vec![
            (
                "/admin/units",
                "单位管理",
                "查看单位树，新建、修改、停用单位",
            ),
            (
                "/admin/users",
                "用户管理",
                "新建用户，调整角色与单位，停用账户，重置密码",
            ),
        ],
        Role::SecAdmin => vec![("/security", "账户安全", "查看安全策略，解锁被锁定的账户")],
        Role::AuditAdmin => vec![("/audit", "审计日志", "按用户、事件查阅登录和管理操作记录")],
        Role::CityOperator | Role::CountyOperator => vec![
            ("/messages/new", "留言登记", "录入网民新留言，生成留言文号"),
            ("/messages", "留言列表", "按状态、单位、类型、时间查询留言"),
        ],
        Role::CityLeader | Role::DeptOperator => {
            vec![("/messages", "留言列表", "按状态、类型、时间查询留言")]
        }
    }
}

pub async fn index(ctx: Ctx) -> Result<HttpResponse, AppError> {
    let uid = ctx.user.id;
    let centre = ctx.role == Role::CityOperator;
    let today = crate::clock::china_today();
    let state = ctx.state.clone();
    let watches = matches!(ctx.role, Role::SecAdmin | Role::CityOperator);
    let (logins, calendar_warning, alerts) = db::run(ctx.pool(), move |c| {
        let warning = if centre {
            let cal = &crate::reference::get(c, &state.cache)?.calendar;
            crate::messages::config::calendar_warning(c, cal, today)?
        } else {
            None
        };
        Ok((
            a::audit_log
                .filter(a::user_id.eq(uid))
                .filter(a::event.eq("login"))
                .filter(a::result.eq(crate::audit::OK))
                .order(a::id.desc())
                .select((a::at, a::ip))
                .limit(2)
                .load::<(NaiveDateTime, String)>(c)?,
            warning,
            if watches {
                crate::audit::alerts(c, db::now() - chrono::Duration::days(30), 5)?
            } else {
                Vec::new()
            },
        ))
    })
    .await?;
    let previous_login = logins
        .get(1)
        .map(|(at, ip)| (crate::web::ctx::format_time(*at), ip.clone()));
    let handles = matches!(
        ctx.role,
        Role::CityOperator | Role::CountyOperator | Role::DeptOperator
    );
    let (todo, tiles) = if handles {
        let (rows, tiles, total) = crate::web::messages::todo(&ctx).await?;
        (rows, Some((tiles, total)))
    } else {
        (Vec::new(), None)
    };
    render(&HomePage {
        layout: ctx.layout(if handles { "待办" } else { "首页" }),
        tiles,
        todo,
        can_register: matches!(ctx.role, Role::CityOperator | Role::CountyOperator),
        role_duties: duties(ctx.role),
        links: links(ctx.role),
        calendar_warning,
        previous_login,
        alerts,
        centre,
    })
}
