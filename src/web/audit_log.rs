//! Audit administrator: read the audit log.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::audit::{self, AuditFilter, PAGE_SIZE};
use crate::auth::roles::Role;
use crate::db;
use crate::error::AppError;
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::render;

pub struct Row {
    pub at: String,
    pub username: String,
    pub ip: String,
    pub event: String,
    pub object: String,
    pub result: String,
    pub detail: String,
    pub failed: bool,
}

#[derive(Template)]
#[template(path = "audit/index.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    username: String,
    event: String,
    events: Vec<(&'static str, &'static str)>,
    prev_query: String,
    next_query: String,
}

pub async fn index(ctx: Ctx, filter: web::Query<AuditFilter>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::AuditAdmin])?;
    let f = filter.into_inner();
    let query = f.clone();
    let (rows, total) = db::run(ctx.pool(), move |c| Ok(audit::list(c, &query)?)).await?;
    let page = f.page.unwrap_or(1).max(1);
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let link = |p: i64| {
        serde_urlencoded::to_string([
            ("username", f.username.as_str()),
            ("event", f.event.as_str()),
            ("page", &p.to_string()),
        ])
        .unwrap_or_default()
    };
    let rows = rows
        .into_iter()
        .map(|r| Row {
            at: format_time(r.at),
            failed: r.result != audit::OK,
            username: r.username,
            ip: r.ip,
            event: audit::event_label(&r.event).to_string(),
            object: r.object,
            result: r.result,
            detail: r.detail,
        })
        .collect();
    render(&AuditPage {
        layout: ctx.layout("审计日志").crumb("审计日志", "/audit"),
        rows,
        total,
        page,
        pages,
        username: f.username.clone(),
        event: f.event.clone(),
        events: audit::EVENTS.to_vec(),
        prev_query: link(page - 1),
        next_query: link(page + 1),
    })
}
