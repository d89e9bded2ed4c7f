//! 上报与汇总归档 pages: periods, each unit's submission, the centre's review, and the
//! 归档文件目录 (catalogue) as a printable page and as XLSX.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Datelike;
use serde::Deserialize;

use crate::archive::{self, periods, periods::Period, periods::Submission};
use crate::attachments;
use crate::auth::csrf::CsrfForm;
use crate::auth::roles::{Role, UnitKind};
use crate::clock::{china_today, to_china};
use crate::db;
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::messages::model;
use crate::units::{self, Unit};
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::extract::Query;
use crate::web::{render, render_status, see_other};

const VIEWERS: &[Role] = &[
    Role::CityOperator,
    Role::CityLeader,
    Role::CountyOperator,
    Role::DeptOperator,
];
const REPORTERS: &[Role] = &[Role::CountyOperator, Role::DeptOperator];

/// Units that report archives: counties, zones and city departments.
fn reporting_units(all: &[Unit]) -> Vec<Unit> {
    all.iter()
        .filter(|u| u.active)
        .filter(|u| {
            matches!(
                u.kind(),
                Some(UnitKind::County | UnitKind::Zone | UnitKind::Department)
            )
        })
        .cloned()
        .collect()
}

fn sees_all(role: Role) -> bool {
    matches!(role, Role::CityOperator | Role::CityLeader)
}

// ---------- list of periods ----------

pub struct PeriodRow {
    pub p: Period,
    pub accepted: usize,
    pub waiting: usize,
    pub returned: usize,
    pub missing: usize,
    pub mine: String,
}

#[derive(Template)]
#[template(path = "archive/periods.html")]
struct PeriodsPage {
    layout: Layout,
    rows: Vec<PeriodRow>,
    can_open: bool,
    centre_view: bool,
    period: String,
    due_date: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct OpenForm {
    #[serde(default)]
    period: String,
    #[serde(default)]
    due_date: String,
}

async fn periods_page(
    ctx: &Ctx,
    status: StatusCode,
    form: OpenForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (role, me) = (ctx.role, ctx.unit.id);
    let rows = db::run(ctx.pool(), move |c| {
        let all = units::all(c)?;
        let reporting = reporting_units(&all);
        let mut rows = Vec::new();
        for p in periods::all(c)? {
            let subs = periods::submissions(c, p.id)?;
            let states: Vec<Option<&str>> = reporting
                .iter()
                .map(|u| periods::current(&subs, u.id).map(|s| s.state.as_str()))
                .collect();
            rows.push(PeriodRow {
                accepted: states
                    .iter()
                    .filter(|s| **s == Some(periods::ACCEPTED))
                    .count(),
                waiting: states
                    .iter()
                    .filter(|s| **s == Some(periods::SUBMITTED))
                    .count(),
                returned: states
                    .iter()
                    .filter(|s| **s == Some(periods::RETURNED))
                    .count(),
                missing: states.iter().filter(|s| s.is_none()).count(),
                mine: if sees_all(role) {
                    String::new()
                } else {
                    periods::state_label(
                        periods::current(&subs, me)
                            .map(|s| s.state.as_str())
                            .unwrap_or(""),
                    )
                    .to_string()
                },
                p,
            });
        }
        Ok(rows)
    })
    .await?;
    render_status(
        status,
        &PeriodsPage {
            layout: ctx
                .layout("档案上报")
                .crumb("档案汇总", "/archive")
                .crumb("档案上报", ""),
            rows,
            can_open: ctx.role == Role::CityOperator,
            centre_view: sees_all(ctx.role),
            period: form.period,
            due_date: form.due_date,
            errors,
        },
    )
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(VIEWERS)?;
    let today = china_today();
    let last = today.with_day(1).unwrap_or(today) - chrono::Duration::days(1);
    periods_page(
        &ctx,
        StatusCode::OK,
        OpenForm {
            period: last.format("%Y-%m").to_string(),
            due_date: String::new(),
        },
        FieldErrors::default(),
    )
    .await
}

pub async fn open(ctx: Ctx, CsrfForm(form): CsrfForm<OpenForm>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator])?;
    let (f, uid, actor) = (form.clone(), ctx.user.id, ctx.actor());
    let today = china_today();
    let out = db::run(ctx.pool(), move |c| {
        periods::open(c, &actor, uid, (&f.period, &f.due_date), today)
    })
    .await?;
    match out {
        Ok((id, p, due)) => {
            ctx.flash(
                "ok",
                &format!("已开启 {p} 档案上报期，各单位须于 {due} 前上报本月已销号档案。"),
            );
            Ok(see_other(&format!("/archive/periods/{id}")))
        }
        Err(e) => {
            let mut errors = FieldErrors::default();
            for (k, v) in e {
                errors.add(k, &v);
            }
            periods_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
    }
}

// ---------- one period ----------

pub struct UnitStatus {
    pub unit: Unit,
    pub archived: usize,
    pub incomplete: usize,
    pub state: String,
    pub state_label: &'static str,
    pub current: Option<SubView>,
}

pub struct SubView {
    pub id: i32,
    pub unit: String,
    pub state: String,
    pub state_label: &'static str,
    pub submitted: String,
    pub submitter: String,
    pub count: i32,
    pub late: bool,
    pub note: String,
    pub reviewed: String,
    pub reason: String,
}

fn sub_view(s: &Submission, names: &HashMap<i32, String>) -> SubView {
    SubView {
        id: s.id,
        unit: names.get(&s.unit_id).cloned().unwrap_or_default(),
        state: s.state.clone(),
        state_label: periods::state_label(&s.state),
        submitted: format_time(s.submitted_at),
        submitter: s.submitter_name.clone(),
        count: s.item_count,
        late: s.late,
        note: s.note.clone(),
        reviewed: match (&s.reviewed_at, &s.reviewer_name) {
            (Some(t), Some(n)) => format!("{} {}", format_time(*t), n),
            _ => String::new(),
        },
        reason: s.return_reason.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "archive/period.html")]
struct PeriodPage {
    layout: Layout,
    p: Period,
    units: Vec<UnitStatus>,
    history: Vec<SubView>,
    is_centre: bool,
    can_submit: bool,
    note: String,
    errors: FieldErrors,
    overdue: bool,
}

#[derive(Deserialize, Default, Clone)]
pub struct SubmitForm {
    #[serde(default)]
    note: String,
}

async fn period_page(
    ctx: &Ctx,
    id: i32,
    status: StatusCode,
    note: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (role, me) = (ctx.role, ctx.unit.id);
    let (p, statuses, history) = db::run(ctx.pool(), move |c| {
        let p = periods::find(c, id)?.ok_or(AppError::NotFound)?;
        let all = units::all(c)?;
        let names: HashMap<i32, String> = all.iter().map(|u| (u.id, u.name.clone())).collect();
        let subs = periods::submissions(c, p.id)?;
        let (from, to) = p.range();
        let shown: Vec<Unit> = reporting_units(&all)
            .into_iter()
            .filter(|u| sees_all(role) || u.id == me)
            .collect();
        let mut statuses = Vec::new();
        for u in shown {
            let archived = periods::archived_by(c, u.id, from, to)?;
            let cur = periods::current(&subs, u.id);
            statuses.push(UnitStatus {
                archived: archived.len(),
                incomplete: archived
                    .iter()
                    .filter(|x| !x.missing_elements().is_empty())
                    .count(),
                state: cur.map(|s| s.state.clone()).unwrap_or_default(),
                state_label: periods::state_label(cur.map(|s| s.state.as_str()).unwrap_or("")),
                current: cur.map(|s| sub_view(s, &names)),
                unit: u,
            });
        }
        let history = subs
            .iter()
            .rev()
            .filter(|s| sees_all(role) || s.unit_id == me)
            .map(|s| sub_view(s, &names))
            .collect::<Vec<_>>();
        Ok((p, statuses, history))
    })
    .await?;
    if !sees_all(ctx.role) && statuses.is_empty() {
        return Err(AppError::NotFound);
    }
    let can_submit = REPORTERS.contains(&ctx.role)
        && statuses
            .first()
            .is_some_and(|s| s.state.is_empty() || s.state == periods::RETURNED);
    render_status(
        status,
        &PeriodPage {
            layout: ctx
                .layout(&format!("{} 档案上报", p.period))
                .crumb("档案汇总", "/archive")
                .crumb("档案上报", "/archive/periods")
                .crumb(&p.period, ""),
            overdue: china_today() > p.due_date,
            p,
            units: statuses,
            history,
            is_centre: ctx.role == Role::CityOperator,
            can_submit,
            note,
            errors,
        },
    )
}

pub async fn show(ctx: Ctx, path: web::Path<i32>) -> Result<HttpResponse, AppError> {
    ctx.require(VIEWERS)?;
    period_page(
        &ctx,
        path.into_inner(),
        StatusCode::OK,
        String::new(),
        FieldErrors::default(),
    )
    .await
}

pub async fn submit(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<SubmitForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(REPORTERS)?;
    let id = path.into_inner();
    let (me, uid, name, actor) = (
        ctx.unit.id,
        ctx.user.id,
        ctx.user.display_name.clone(),
        ctx.actor(),
    );
    let note = form.note.clone();
    if note.chars().count() > 500 {
        let mut e = FieldErrors::default();
        e.add("note", "说明不超过 500 字。");
        return period_page(&ctx, id, StatusCode::UNPROCESSABLE_ENTITY, form.note, e).await;
    }
    let out = db::run(ctx.pool(), move |c| {
        let who = periods::Reporter {
            unit_id: me,
            user_id: uid,
            name: &name,
            actor: &actor,
        };
        periods::submit(c, id, &who, &note)
    })
    .await?;
    match out {
        Ok(n) => {
            ctx.flash(
                "ok",
                &format!("已上报本期已销号档案 {n} 份，等待市社情民意研究中心接收。"),
            );
            Ok(see_other(&format!("/archive/periods/{id}")))
        }
        Err(reason) => {
            let mut e = FieldErrors::default();
            e.add("note", &reason);
            period_page(&ctx, id, StatusCode::UNPROCESSABLE_ENTITY, form.note, e).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ReviewForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

pub async fn review(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<ReviewForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator])?;
    let sid = path.into_inner();
    let accept = match form.decision.as_str() {
        "accept" => true,
        "return" => false,
        _ => return Err(AppError::BadRequest("请选择接收或退回。".into())),
    };
    let (reason, name, actor) = (
        form.reason.clone(),
        ctx.user.display_name.clone(),
        ctx.actor(),
    );
    let out = db::run(ctx.pool(), move |c| {
        periods::review(c, &actor, sid, accept, &reason, &name)
    })
    .await?;
    let period = out.1;
    match out.0 {
        Ok(_) => {
            ctx.flash(
                "ok",
                if accept {
                    "已接收该单位本期档案，汇总归档。"
                } else {
                    "已退回该单位本期档案，单位补正后可重新上报。"
                },
            );
            Ok(see_other(&format!("/archive/periods/{period}")))
        }
        Err(reason) => {
            let mut e = FieldErrors::default();
            e.add("reason", &reason);
            period_page(
                &ctx,
                period,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                e,
            )
            .await
        }
    }
}

// ---------- 归档文件目录 ----------

pub struct CatalogueRow {
    pub no: usize,
    pub id: i32,
    pub archive_no: String,
    pub ref_no: String,
    pub author: String,
    pub title: String,
    pub date: String,
    pub secrecy: &'static str,
    pub pages: i32,
    pub remark: String,
}

#[derive(Template)]
#[template(path = "archive/catalogue.html")]
struct CataloguePage {
    layout: Layout,
    p: Period,
    unit: Unit,
    rows: Vec<CatalogueRow>,
    /// The line naming the key the archives are signed with, printed under the table.
    key_line: String,
}

/// "签名公钥（SM2）指纹 …；公钥 …": printed on the 归档文件目录, so that an outside archive
/// can check the package's signature with a key it did not receive from the package.
fn key_line(ring: &crate::archive::signing::Keyring) -> String {
    let (id, public) = ring.current();
    format!(
        "档案签名公钥（SM2）指纹 {}；公钥 {public}",
        crate::archive::signing::fingerprint(&id)
    )
}

#[derive(Deserialize)]
pub struct CatalogueQuery {
    unit: i32,
    #[serde(default)]
    format: String,
}

const HEADERS: [&str; 9] = [
    "序号",
    "档号",
    "文号",
    "责任者",
    "题名",
    "日期",
    "密级",
    "页数",
    "备注",
];

pub async fn catalogue(
    ctx: Ctx,
    path: web::Path<i32>,
    q: Query<CatalogueQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(VIEWERS)?;
    let id = path.into_inner();
    let (role, me, uid) = (ctx.role, ctx.unit.id, q.unit);
    if !sees_all(role) && uid != me {
        return Err(AppError::NotFound);
    }
    let (p, unit, rows) = db::run(ctx.pool(), move |c| {
        let p = periods::find(c, id)?.ok_or(AppError::NotFound)?;
        let all = units::all(c)?;
        let unit = reporting_units(&all)
            .into_iter()
            .find(|u| u.id == uid)
            .ok_or(AppError::NotFound)?;
        let names: HashMap<i32, String> = all.iter().map(|u| (u.id, u.name.clone())).collect();
        let (from, to) = p.range();
        let mut rows = Vec::new();
        for (i, msg) in periods::archived_by(c, uid, from, to)?
            .into_iter()
            .enumerate()
        {
            let events = model::events(c, msg.id)?;
            let files = attachments::for_message(c, msg.id)?;
            let content = archive::printed_content(&msg, &names, &events, &files);
            let missing = msg.missing_elements();
            rows.push(CatalogueRow {
                no: i + 1,
                id: msg.id,
                archive_no: msg.archive_no.clone().unwrap_or_default(),
                ref_no: msg.ref_no.clone(),
                author: unit.name.clone(),
                title: msg.title.clone(),
                date: msg
                    .archived_at
                    .map(|t| to_china(t).format("%Y%m%d").to_string())
                    .unwrap_or_default(),
                secrecy: "无",
                pages: periods::estimated_pages(&content),
                remark: if missing.is_empty() {
                    if files.is_empty() {
                        String::new()
                    } else {
                        format!("附件 {} 个", files.len())
                    }
                } else {
                    format!("缺：{}", missing.join("、"))
                },
            });
        }
        Ok((p, unit, rows))
    })
    .await?;
    let key_line = key_line(&ctx.state.ring);
    if q.format == "xlsx" {
        let bytes = catalogue_xlsx(&p, &unit, &rows, &key_line)?;
        return Ok(crate::web::download(
            &format!("catalogue-{}-{}.xlsx", p.period, unit.id),
            &format!("归档文件目录-{}-{}.xlsx", unit.short_name, p.period),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            bytes,
        ));
    }
    render(&CataloguePage {
        layout: ctx
            .layout(&format!("归档文件目录 {} {}", unit.name, p.period))
            .crumb("档案上报", "/archive/periods")
            .crumb(&p.period, &format!("/archive/periods/{}", p.id))
            .crumb("归档文件目录", ""),
        p,
        unit,
        rows,
        key_line,
    })
}

fn catalogue_xlsx(
    p: &Period,
    unit: &Unit,
    rows: &[CatalogueRow],
    key_line: &str,
) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal(e);
    ws.set_name("归档文件目录").map_err(x)?;
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_background_color("#EEEEEE");
    let cell = Format::new().set_border(FormatBorder::Thin).set_text_wrap();
    ws.merge_range(0, 0, 0, 8, "归档文件目录", &title)
        .map_err(x)?;
    ws.merge_range(
        1,
        0,
        1,
        8,
        &format!("单位：{}　　期间：{}", unit.name, p.period),
        &Format::new(),
    )
    .map_err(x)?;
    for (i, h) in HEADERS.iter().enumerate() {
        ws.write_with_format(2, i as u16, *h, &head).map_err(x)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 3;
        ws.write_with_format(r, 0, row.no as u32, &cell)
            .map_err(x)?;
        ws.write_with_format(r, 1, &row.archive_no, &cell)
            .map_err(x)?;
        ws.write_with_format(r, 2, &row.ref_no, &cell).map_err(x)?;
        ws.write_with_format(r, 3, &row.author, &cell).map_err(x)?;
        ws.write_with_format(r, 4, &row.title, &cell).map_err(x)?;
        ws.write_with_format(r, 5, &row.date, &cell).map_err(x)?;
        ws.write_with_format(r, 6, row.secrecy, &cell).map_err(x)?;
        ws.write_with_format(r, 7, row.pages, &cell).map_err(x)?;
        ws.write_with_format(r, 8, &row.remark, &cell).map_err(x)?;
    }
    ws.write(rows.len() as u32 + 4, 0, key_line).map_err(x)?;
    for (i, w) in [6.0, 30.0, 22.0, 18.0, 40.0, 10.0, 6.0, 6.0, 16.0]
        .iter()
        .enumerate()
    {
        ws.set_column_width(i as u16, *w).map_err(x)?;
    }
    wb.save_to_buffer().map_err(x)
}
