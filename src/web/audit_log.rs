//! Audit administrator: read the audit log.

use actix_web::HttpResponse;
use askama::Template;

use crate::audit::{self, AuditFilter, PAGE_SIZE};
use crate::auth::roles::Role;
use crate::db;
use crate::error::AppError;
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::extract::Query;
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

fn view(rows: Vec<audit::AuditRow>) -> Vec<Row> {
    rows.into_iter()
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
        .collect()
}

#[derive(Template)]
#[template(path = "audit/index.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    f: AuditFilter,
    events: Vec<(&'static str, &'static str)>,
    units: Vec<(i32, String)>,
    prev_query: String,
    next_query: String,
    export_query: String,
    verify: Option<(usize, Vec<String>)>,
}

pub async fn index(ctx: Ctx, filter: Query<AuditFilter>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::AuditAdmin])?;
    let mut f = filter.into_inner();
    if f.page == Some(0) {
        f.page = Some(1);
    }
    let query = f.clone();
    let (rows, total, units) = db::run(ctx.pool(), move |c| {
        let (rows, total) = audit::list(c, &query)?;
        Ok((rows, total, crate::units::all(c)?))
    })
    .await?;
    let page = f.page.unwrap_or(1).max(1);
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let link = |p: i64| {
        let page = if p > 1 { p.to_string() } else { String::new() };
        crate::web::extract::query(&[
            ("username", f.username.as_str()),
            ("event", f.event.as_str()),
            ("from", f.from.as_str()),
            ("to", f.to.as_str()),
            ("unit", f.unit.as_str()),
            ("page", page.as_str()),
        ])
    };
    let rows = view(rows);
    render(&AuditPage {
        layout: ctx.layout("审计日志").crumb("审计日志", "/audit"),
        rows,
        total,
        page,
        pages,
        events: audit::EVENTS.to_vec(),
        units: units.into_iter().map(|u| (u.id, u.name)).collect(),
        prev_query: link(page - 1),
        next_query: link(page + 1),
        export_query: link(0),
        verify: None,
        f,
    })
}

/// The filtered audit log as CSV (the export is itself audited).
pub async fn export(ctx: Ctx, filter: Query<AuditFilter>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::AuditAdmin])?;
    if let Some(confirm) = ctx.confirm_password_first() {
        return Ok(confirm);
    }
    let mut f = filter.into_inner();
    f.page = Some(0);
    let actor = ctx.actor();
    let rows = db::run(ctx.pool(), move |c| {
        let (rows, _) = audit::list(c, &f)?;
        audit::record(
            c,
            &actor,
            "audit_export",
            &format!("导出审计日志 {} 条", rows.len()),
            audit::OK,
            "",
        )?;
        Ok(rows)
    })
    .await?;
    let table: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            vec![
                r.seal_seq.map(|s| s.to_string()).unwrap_or_default(),
                format_time(r.at),
                r.username,
                r.unit_id.map(|u| u.to_string()).unwrap_or_default(),
                r.ip,
                audit::event_label(&r.event).to_string(),
                r.object,
                r.result,
                r.detail,
                r.hash,
            ]
        })
        .collect();
    crate::web::sheet::csv_response(
        "审计日志.csv",
        &[
            "封存序号",
            "时间",
            "用户",
            "单位编号",
            "IP 地址",
            "事件",
            "对象",
            "结果",
            "说明",
            "哈希",
        ],
        &table,
    )
}

/// Check the audit hash chain and show the result on the audit page.
pub async fn verify(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::AuditAdmin])?;
    let f = AuditFilter::default();
    let query = f.clone();
    let (rows, total, units, result) = db::run(ctx.pool(), move |c| {
        let result = audit::verify(c)?;
        let (rows, total) = audit::list(c, &query)?;
        Ok((rows, total, crate::units::all(c)?, result))
    })
    .await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    render(&AuditPage {
        layout: ctx.layout("审计日志").crumb("审计日志", "/audit"),
        rows: view(rows),
        total,
        page: 1,
        pages,
        events: audit::EVENTS.to_vec(),
        units: units.into_iter().map(|u| (u.id, u.name)).collect(),
        prev_query: String::new(),
        next_query: "?page=2".to_string(),
        export_query: String::new(),
        verify: Some(result),
        f,
    })
}
