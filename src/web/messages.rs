//! Message pages: register (登记), list, the message page with its actions, 待办.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::archive;
use crate::attachments::{self, Attachment, Store};
use crate::auth::csrf::CsrfForm;
use crate::auth::roles::{Role, UnitKind};
use crate::clock::{china_today, print_date, to_china};
use crate::db;
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::messages::calendar::Calendar;
use crate::messages::config;
use crate::messages::lifecycle::{self, Action, State, ALL_STATES};
use crate::messages::model::{self, Event, ListFilter, Message, PAGE_SIZE};
use crate::messages::service::{
    self, ActForm, ActOutcome, Acting, Files, RegisterForm, RegisterOutcome, CONFLICT_MESSAGE,
    FOLLOWUP_METHODS, SATISFACTION,
};
use crate::units::Unit;
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::extract::Query;
use crate::web::sheet::Sheet;
use crate::web::upload::CsrfUpload;
use crate::web::Choice;
use crate::web::{render, render_status, see_other};

const REGISTRARS: &[Role] = &[Role::CityOperator, Role::CountyOperator];
const MESSAGE_ROLES: &[Role] = &[
    Role::CityOperator,
    Role::CityLeader,
    Role::CountyOperator,
    Role::DeptOperator,
];

fn acting(ctx: &Ctx) -> Acting {
    Acting {
        username: ctx.user.username.clone(),
        ip: ctx.ip.clone(),
        user_id: ctx.user.id,
        name: ctx.user.display_name.clone(),
        unit_id: ctx.unit.id,
        role: ctx.role,
    }
}

fn choices(values: &[String]) -> Vec<Choice> {
    values
        .iter()
        .map(|v| Choice {
            value: v.clone(),
            label: v.clone(),
            disabled: false,
        })
        .collect()
}

fn unit_names(all: &[Unit]) -> HashMap<i32, String> {
    all.iter().map(|u| (u.id, u.name.clone())).collect()
}

// ---------- register ----------

#[derive(Template)]
#[template(path = "messages/new.html")]
struct RegisterPage {
    layout: Layout,
    form: RegisterForm,
    errors: FieldErrors,
    levels: Vec<Choice>,
    platforms: Vec<Choice>,
    categories: Vec<Choice>,
    duplicates: Vec<DupRow>,
    max_upload_mb: u64,
}

pub struct DupRow {
    pub id: i32,
    pub ref_no: String,
    pub title: String,
    pub posted: String,
    pub state: &'static str,
    pub why: &'static str,
    pub score: u8,
}

async fn register_page(
    ctx: &Ctx,
    status: StatusCode,
    form: RegisterForm,
    errors: FieldErrors,
    duplicates: Vec<DupRow>,
) -> Result<HttpResponse, AppError> {
    let (levels, platforms, categories) = db::run(ctx.pool(), |c| {
        Ok((
            config::list(c, config::LEVEL)?,
            config::list(c, config::PLATFORM)?,
            config::list(c, config::CATEGORY)?,
        ))
    })
    .await?;
    render_status(
        status,
        &RegisterPage {
            layout: ctx
                .layout("留言登记")
                .crumb("留言列表", "/messages")
                .crumb("留言登记", ""),
            form,
            errors,
            levels: choices(&levels),
            platforms: choices(&platforms),
            categories: choices(&categories),
            duplicates,
            max_upload_mb: ctx.state.config.max_upload_mb,
        },
    )
}

pub async fn new(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(REGISTRARS)?;
    let form = RegisterForm {
        level: if ctx.role == Role::CountyOperator {
            service::COUNTY_LEVEL.to_string()
        } else {
            "市级".to_string()
        },
        posted_at: to_china(db::now()).format("%Y-%m-%dT%H:%M").to_string(),
        form_key: service::new_form_key(),
        ..Default::default()
    };
    register_page(
        &ctx,
        StatusCode::OK,
        form,
        FieldErrors::default(),
        Vec::new(),
    )
    .await
}

/// Say that chosen files were not kept when the form goes back with errors.
fn files_not_kept(errors: &mut FieldErrors, accepted: usize) {
    if accepted > 0 && errors.get("files").is_none() {
        errors.add(
            "files",
            &format!("表单其他内容有误，所选的 {accepted} 个附件未保存，改正后请重新选择附件。"),
        );
    }
}

pub async fn create(ctx: Ctx, upload: CsrfUpload<RegisterForm>) -> Result<HttpResponse, AppError> {
    ctx.require(REGISTRARS)?;
    let who = acting(&ctx);
    let CsrfUpload {
        form,
        files,
        file_errors,
        ..
    } = upload;
    let f = form.clone();
    let store = Store::new(&ctx.state.config.data_dir);
    let accepted = files.len();
    let mut outcome = db::run(ctx.pool(), move |c| {
        let files = Files {
            store: &store,
            accepted: &files,
            refused: &file_errors,
        };
        service::register(c, &who, &f, &files)
    })
    .await?;
    if let RegisterOutcome::Unknown { placed } = outcome {
        // Ask on another connection whether the COMMIT went through.
        let f = form.clone();
        match db::run(ctx.pool(), move |c| Ok(service::submitted(c, &f)?)).await {
            Ok(Some((id, ref_no))) => {
                outcome = RegisterOutcome::Created {
                    id,
                    ref_no,
                    note: None,
                }
            }
            Ok(None) => {
                crate::attachments::unplace(&placed);
                return Err(AppError::Unavailable(
                    "登记: the COMMIT did not go through".into(),
                ));
            }
            Err(e) => {
                tracing::error!(error = %e, "登记: whether the COMMIT went through cannot be told now");
                return Ok(crate::error::outcome_unknown_page());
            }
        }
    }
    match outcome {
        RegisterOutcome::AlreadyDone { id, ref_no } => {
            ctx.flash(
                "ok",
                &format!("这份登记表已经提交过：留言已登记为 {ref_no}，未重复登记。"),
            );
            Ok(see_other(&format!("/messages/{id}")))
        }
        RegisterOutcome::Unknown { .. } => Err(AppError::internal("unresolved outcome")),
        RegisterOutcome::Created { id, ref_no, note } => {
            ctx.state.hot.wake();
            let mut text = format!("已登记，留言文号 {ref_no}。下一步：转办至核办单位。");
            if let Some(n) = note {
                text.push_str(&n);
            }
            if accepted > 0 {
                text.push_str(&format!("附件 {accepted} 个已保存。"));
            }
            ctx.flash("ok", &text);
            Ok(see_other(&format!("/messages/{id}")))
        }
        RegisterOutcome::Invalid(mut errors) => {
            files_not_kept(&mut errors, accepted);
            register_page(
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                errors,
                Vec::new(),
            )
            .await
        }
        RegisterOutcome::Duplicates(dups) => {
            let rows = dups
                .into_iter()
                .map(|c| DupRow {
                    state: c.msg.state().label(),
                    id: c.msg.id,
                    ref_no: c.msg.ref_no,
                    title: c.msg.title,
                    posted: format_time(c.msg.posted_at),
                    why: c.why.label(),
                    score: c.score,
                })
                .collect();
            let mut errors = FieldErrors::default();
            if accepted > 0 {
                errors.add(
                    "files",
                    "请确认是否重复；确认登记时请重新选择附件（所选附件尚未保存）。",
                );
            }
            register_page(&ctx, StatusCode::OK, form, errors, rows).await
        }
    }
}

// ---------- list ----------

pub struct Row {
    /// `id:version` when the row can be picked for a batch 呈报/销号 by this user.
    pub pick: Option<String>,
    /// The title in pieces, search hits marked.
    pub title_parts: Vec<(String, bool)>,
    /// Where the search words occur in 主要诉求 or the reply.
    pub snippet: Option<Vec<(String, bool)>>,
    pub id: i32,
    pub ref_no: String,
    pub title: String,
    pub complainant: String,
    pub handling: String,
    pub category: String,
    pub posted: String,
    pub due: String,
    pub cue: Option<(String, &'static str)>,
    pub supervision: Option<String>,
    pub state: &'static str,
    pub state_css: &'static str,
}

fn row(
    msg: &Message,
    names: &HashMap<i32, String>,
    cal: &Calendar,
    today: chrono::NaiveDate,
) -> Row {
    let state = msg.state();
    Row {
        pick: None,
        title_parts: vec![(msg.title.clone(), false)],
        snippet: None,
        id: msg.id,
        ref_no: msg.ref_no.clone(),
        title: msg.title.clone(),
        complainant: msg.complainant_name.clone(),
        handling: msg
            .handling_unit_id
            .and_then(|h| names.get(&h).cloned())
            .unwrap_or_else(|| "—".to_string()),
        category: msg.category.clone(),
        posted: format_time(msg.posted_at),
        due: crate::messages::deadline::current(cal, msg)
            .map(|d| d.due.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        cue: crate::messages::deadline::cue(cal, today, msg),
        supervision: msg
            .supervision_level
            .clone()
            .filter(|_| state.deadline_runs()),
        state: state.label(),
        state_css: state.as_str(),
    }
}

#[derive(Template)]
#[template(path = "messages/list.html")]
struct ListPage {
    layout: Layout,
    f: ListFilter,
    rows: Vec<Row>,
    /// Exact up to `model::COUNT_CAP`, else None (shown as “超过 1 万条”).
    total: Option<i64>,
    page: i64,
    pages: i64,
    has_next: bool,
    states: Vec<Choice>,
    levels: Vec<Choice>,
    platforms: Vec<Choice>,
    categories: Vec<Choice>,
    units: Vec<Choice>,
    /// 范围: all the scope sees, or what waits on the user's unit (empty: not offered).
    mines: Vec<Choice>,
    prev_query: String,
    next_query: String,
    export_xlsx: String,
    export_csv: String,
    can_register: bool,
    /// Some rows can be picked for 批量呈报/批量销号.
    batch: bool,
    /// Filter values not among the choices, left out (named on the page).
    ignored: Vec<String>,
}

/// Whether this user may take a message into a batch 呈报 or 销号 (the owner's steps).
fn pickable(ctx: &Ctx, m: &Message) -> bool {
    matches!(m.state(), State::FollowedUp | State::Reported)
        && lifecycle::available(
            m.state(),
            service::standing(&acting(ctx), m),
            service::facts(m),
        )
        .iter()
        .any(|a| matches!(a, Action::Report | Action::Archive))
}

fn query_string(f: &ListFilter, page: i64) -> String {
    query_with(f, page, None)
}

/// The list's query for a page (`?…`, empty parameters left out); `before` continues
/// from an id (keyset paging). Page 1 is the default and is not written.
fn query_with(f: &ListFilter, page: i64, before: Option<i32>) -> String {
    let before = before.map(|b| b.to_string()).unwrap_or_default();
    let page = if page > 1 {
        page.to_string()
    } else {
        String::new()
    };
    crate::web::extract::query(&[
        ("state", f.state.as_str()),
        ("handling_unit", f.handling_unit.as_str()),
        ("owner_unit", f.owner_unit.as_str()),
        ("level", f.level.as_str()),
        ("platform", f.platform.as_str()),
        ("category", f.category.as_str()),
        ("from", f.from.as_str()),
        ("to", f.to.as_str()),
        ("overdue", f.overdue.as_str()),
        ("supervised", f.supervised.as_str()),
        ("closed_from", f.closed_from.as_str()),
        ("closed_to", f.closed_to.as_str()),
        ("due_soon", f.due_soon.as_str()),
        ("mine", f.mine.as_str()),
        ("q", f.q.as_str()),
        ("no", f.no.as_str()),
        ("before", before.as_str()),
        ("page", page.as_str()),
    ])
}

/// The 范围 choices of the list for a role that has a 待办.
fn mine_choices(role: Role) -> Vec<Choice> {
    let c = |value: &str, label: &str| Choice {
        value: value.to_string(),
        label: label.to_string(),
        disabled: false,
    };
    match role {
        Role::CityOperator | Role::DeptOperator => vec![c("1", "待本单位办理")],
        Role::CountyOperator => vec![
            c("1", "待本单位办理"),
            c("handle", "待本单位办理（作为核办单位）"),
            c("own", "待本单位办理（作为交办单位）"),
        ],
        _ => Vec::new(),
    }
}

/// The export link of a list: its filter and the format.
fn export_href(f: &ListFilter, format: &str) -> String {
    let q = query_string(f, 1);
    let sep = if q.is_empty() { '?' } else { '&' };
    format!("/messages/export{q}{sep}format={format}")
}

pub async fn list(ctx: Ctx, query: Query<ListFilter>) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let f = query.into_inner();
    let (role, unit) = (ctx.role, ctx.unit.id);
    let today = china_today();
    let mut filter = f.clone();
    let state = ctx.state.clone();
    let looked_up = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, unit)?;
        let reference = crate::reference::get(c, &state.cache)?;
        filter.pg = matches!(c, db::DbConn::Pg(_));
        filter.today = Some(crate::messages::deadline::Today::new(
            &reference.calendar,
            today,
        ));
        filter.actor = Some((role, unit));
        // A number typed into the search box (or the 编号 field) is looked up exactly;
        // one match opens the message.
        let typed = if filter.no.trim().is_empty() {
            filter.q.trim().to_string()
        } else {
            filter.no.trim().to_string()
        };
        if !typed.is_empty() {
            let found = model::by_number(c, &scope, &typed)?;
            if found.len() == 1 {
                return Ok(Err(format!("/messages/{}", found[0].id)));
            }
            if !filter.no.trim().is_empty() {
                // The 编号 field lists exactly the messages with that number.
                filter.number_ids = Some(found.iter().map(|m| m.id).collect());
            } else if found.len() > 1 {
                // A number in the search box that several messages carry: list them.
                let q = crate::web::extract::query(&[("no", typed.as_str())]);
                return Ok(Err(format!("/messages{q}")));
            }
        }
        let ignored = unknown_filters(&mut filter, &reference);
        let (rows, total) = model::list(c, &scope, &filter, today)?;
        Ok(Ok((rows, total, reference, ignored)))
    })
    .await?;
    let (rows, total, reference, ignored) = match looked_up {
        Ok(found) => found,
        Err(to) => return Ok(see_other(&to)),
    };
    // The links and the form carry only what was applied.
    let mut f = f;
    unknown_filters(&mut f, &reference);
    let (all, cal) = (&reference.units, &reference.calendar);
    let names = unit_names(all);
    let page = f.page.unwrap_or(1).max(1);
    let pages = total
        .map(|t| ((t + PAGE_SIZE - 1) / PAGE_SIZE).max(1))
        .unwrap_or(0);
    let has_next = match total {
        Some(_) => page < pages,
        None => rows.len() as i64 == PAGE_SIZE,
    };
    let unit_choices = all
        .iter()
        .filter(|u| {
            matches!(
                u.kind(),
                Some(UnitKind::County | UnitKind::Zone | UnitKind::Department | UnitKind::SubUnit)
            )
        })
        .filter(|u| {
            ctx.role != Role::CountyOperator
                || u.id == ctx.unit.id
                || u.parent_id == Some(ctx.unit.id)
        })
        .filter(|u| ctx.role != Role::DeptOperator || u.id == ctx.unit.id)
        .map(|u| Choice {
            value: u.id.to_string(),
            label: u.name.clone(),
            disabled: false,
        })
        .collect();
    render(&ListPage {
        layout: ctx.layout("留言列表").crumb("留言列表", "/messages"),
        batch: rows.iter().any(|m| pickable(&ctx, m)),
        rows: rows
            .iter()
            .map(|m| {
                let terms = crate::search::terms(&f.q);
                Row {
                    pick: pickable(&ctx, m).then(|| format!("{}:{}", m.id, m.version)),
                    title_parts: crate::search::highlight(&m.title, &terms),
                    snippet: if terms.is_empty() {
                        None
                    } else {
                        crate::search::snippet(&m.appeal, &terms, 30)
                            .or_else(|| {
                                m.handling_summary
                                    .as_deref()
                                    .and_then(|r| crate::search::snippet(r, &terms, 30))
                            })
                            .or_else(|| crate::search::snippet(&m.complainant_name, &terms, 10))
                    },
                    ..row(m, &names, cal, today)
                }
            })
            .collect(),
        total,
        page,
        pages,
        has_next,
        states: ALL_STATES
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_string(),
                label: s.label().to_string(),
                disabled: false,
            })
            .collect(),
        levels: choices(&reference.levels),
        platforms: choices(&reference.platforms),
        categories: choices(&reference.categories),
        units: unit_choices,
        mines: mine_choices(ctx.role),
        prev_query: query_string(&f, page - 1),
        next_query: query_with(&f, page + 1, rows.last().map(|m| m.id)),
        export_xlsx: export_href(&f, "xlsx"),
        export_csv: export_href(&f, "csv"),

        can_register: REGISTRARS.contains(&ctx.role),
        ignored,
        f,
    })
}

/// Filter values that are not among the choices (a hand-edited or stale link): left out
/// of the query and named on the page, instead of silently matching nothing.
fn unknown_filters(f: &mut ListFilter, reference: &crate::reference::Reference) -> Vec<String> {
    let mut ignored = Vec::new();
    let mut check = |label: &str, value: &mut String, known: &dyn Fn(&str) -> bool| {
        let v = value.trim();
        if !v.is_empty() && !known(v) {
            ignored.push(format!("{label}“{v}”"));
            value.clear();
        }
    };
    let unit = |v: &str| {
        v.parse::<i32>()
            .is_ok_and(|id| reference.units.iter().any(|u| u.id == id))
    };
    let date = |v: &str| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
    let flag = |v: &str| v == "1";
    check("状态", &mut f.state, &|v| {
        ALL_STATES.iter().any(|s| s.as_str() == v)
    });
    check("级别", &mut f.level, &|v| {
        reference.levels.iter().any(|x| x == v)
    });
    check("来源平台", &mut f.platform, &|v| {
        reference.platforms.iter().any(|x| x == v)
    });
    check("所属类型", &mut f.category, &|v| {
        reference.categories.iter().any(|x| x == v)
    });
    check("核办单位", &mut f.handling_unit, &unit);
    check("交办单位", &mut f.owner_unit, &unit);
    check("留言时间起", &mut f.from, &date);
    check("留言时间止", &mut f.to, &date);
    check("办结时间起", &mut f.closed_from, &date);
    check("办结时间止", &mut f.closed_to, &date);
    check("仅超期", &mut f.overdue, &flag);
    check("仅督办中", &mut f.supervised, &flag);
    check("即将到期", &mut f.due_soon, &flag);
    check("范围", &mut f.mine, &|v| {
        matches!(v, "1" | "handle" | "own")
    });
    ignored
}

// ---------- the message page ----------

/// An attachment as listed on the message page and in its timeline.
#[derive(Clone)]
pub struct FileView {
    pub id: i32,
    pub name: String,
    pub size: String,
    pub sha256: String,
    pub step: String,
    pub uploaded: String,
}

pub struct TimelineRow {
    pub files: Vec<FileView>,
    /// For a 退回: the owner's finding (reason) if made, and whether this user may make it.
    pub return_mark: Option<(Option<String>, bool)>,
    pub seq: i32,
    /// Link to the printable notice of a supervision event.
    pub notice: Option<String>,
    pub at: String,
    pub unit: String,
    pub person: String,
    pub action: String,
    pub change: String,
    pub text: String,
    pub detail: String,
}

/// One action form on the message page.
pub struct ActionView {
    pub code: &'static str,
    pub label: &'static str,
    pub text_label: &'static str,
    pub text_required: bool,
    pub text: String,
    pub units: Vec<Choice>,
    pub unit_id: String,
    pub needs_days: bool,
    pub days: String,
    pub needs_resolved: bool,
    pub resolved: String,
    pub needs_deadline: bool,
    pub deadline: String,
    pub needs_followup: bool,
    pub method: String,
    pub satisfaction: String,
    pub needs_report_ref: bool,
    pub report_ref_no: String,
    pub takes_files: bool,
    pub takes_template: bool,
    pub open: bool,
    pub primary: bool,
    /// 补正 / 更正: the element picker and the element's form.
    pub correct: Option<crate::web::correction::CorrectView>,
    /// The action's ordinary form is shown (every action but a 补正, and 更正 before an
    /// element is chosen).
    pub plain_form: bool,
    /// 标记重复件: earlier messages found (留言文号, how found), and what was typed.
    pub candidates: Vec<(String, String)>,
    /// 智能分拨 (转办): the proposed units, the first pre-selected.
    pub proposals: Vec<crate::dispatch::Proposal>,
    /// 答复质量 (审核通过 / 驳回重办): the check of the reply under review.
    pub check: Option<crate::messages::reply_check::Check>,
    pub original: String,
    pub original_no: String,
    /// 标记重复件: `follow` (并案办理) or not (直接办结), as typed.
    pub merge: String,
}

#[derive(Template)]
#[template(path = "messages/show.html")]
struct ShowPage {
    layout: Layout,
    id: i32,
    version: i32,
    state: &'static str,
    state_css: &'static str,
    elements: Vec<archive::Element>,
    /// 补正 / 更正 links beside the elements this user may correct.
    fixes: Vec<crate::web::correction::Fix>,
    /// 重复件: the original this one repeats, and its repeats (id, 留言文号).
    repeat_of: Option<(i32, String)>,
    /// 并案办理: it moves with the original until that is 办结.
    following: bool,
    following_note: &'static str,
    repeats: Vec<(i32, String)>,
    /// 智能分拨: the proposed 所属类型 (category, 置信度, reason), whether it is the one
    /// recorded, and the 补正 link for the element.
    category_hint: Option<(String, String, String, bool, Option<String>)>,
    msg_category: String,
    missing: Vec<&'static str>,
    /// 纸质档 status words and css: (words, "same" | "changed" | "never").
    paper: (String, &'static str),
    retentions: Vec<&'static str>,
    default_retention: String,
    owner: String,
    forwarded: String,
    cue: Option<(String, &'static str)>,
    /// The deadline the message waits on, named ("签收期限：2026-12-02").
    deadline_line: String,
    /// Actions the user would have but that are closed now, with why.
    closed_now: Vec<String>,
    supervision: Option<(String, String)>,
    extension_pending: Option<i32>,
    extension_days: i32,
    draft_reply: Option<String>,
    actions: Vec<ActionView>,
    /// Text typed into a form whose action is no longer possible (kept, never lost).
    unsent: Option<(&'static str, String)>,
    timeline: Vec<TimelineRow>,
    files: Vec<FileView>,
    templates: Vec<Choice>,
    template_id: String,
    max_upload_mb: u64,
    errors: FieldErrors,
    methods: Vec<&'static str>,
    satisfactions: Vec<&'static str>,
    /// This user may ask to see the full 联系方式 (the owner and the handling units).
    may_view_contact: bool,
    /// The full 联系方式, shown after an explicit, audited request.
    full_contact: Option<String>,
    purposes: Vec<&'static str>,
}

/// Why a clerk needs the full contact (recorded in the audit log).
pub const CONTACT_PURPOSES: [&str; 4] = ["回访网民", "核实情况", "答复网民", "其他办理需要"];

fn text_label(a: Action) -> (&'static str, bool) {
    match a {
        Action::Assign => ("转办意见", false),
        Action::Accept => ("签收说明", false),
        Action::Return => ("退回理由", true),
        Action::Forward => ("下转要求", false),
        Action::SubAccept => ("签收说明", false),
        Action::SubReturn => ("退回理由", true),
        Action::Progress => ("办理进展", true),
        Action::DraftReply => ("答复稿", true),
        Action::RequestExtension => ("延期理由", true),
        Action::ApproveExtension => ("审批意见", false),
        Action::RejectExtension => ("驳回理由", true),
        Action::Reply => ("答复内容", true),
        Action::Approve => ("审核意见", false),
        Action::Reject => ("驳回理由", true),
        Action::Urge | Action::Supervise | Action::Flag => ("督办内容", true),
        Action::FollowUp => ("评价内容（网民原话）", false),
        Action::Reopen => ("重办要求", true),
        Action::NoReopen => ("不再重办的理由", true),
        Action::Report => ("呈报说明", false),
        Action::Archive => ("销号说明", false),
        Action::MarkRepeat => ("说明", false),
        Action::Correct => ("补正理由", true),
        Action::Amend => ("更正内容", true),
    }
}

struct PageData {
    msg: Message,
    events: Vec<Event>,
    files: Vec<Attachment>,
    templates: Vec<config::ReplyTemplate>,
    latest_print: Option<archive::Print>,
    default_retention: String,
    return_marks: Vec<(i32, String)>,
    reference: std::sync::Arc<crate::reference::Reference>,
    /// Earlier messages this one may repeat (looked up while it waits for 转办).
    candidates: Vec<crate::messages::repeats::Candidate>,
    /// 重复件: the original (id, 留言文号) this one repeats, and the repeats of this one.
    repeat_of: Option<(i32, String)>,
    repeats: Vec<(i32, String)>,
    /// 智能分拨: the units proposed for 转办 (while it waits for one), and the proposed
    /// 所属类型 (category, 置信度, reason).
    proposals: Vec<crate::dispatch::Proposal>,
    category_hint: Option<(String, String, String)>,
}

/// The units proposed for a message waiting for 转办 by `unit`, and what the form shows
/// (recorded with the 转办).
pub fn proposals_for(
    c: &mut crate::db::DbConn,
    state: &crate::web::AppState,
    units: &[crate::units::Unit],
    msg: &Message,
) -> Result<(crate::dispatch::Shown, Vec<crate::dispatch::Proposal>), AppError> {
    let model = state.dispatch.current(c, crate::dispatch::store::UNIT)?;
    let proposals = crate::dispatch::propose(
        units,
        model.as_ref().map(|(_, m)| m.as_ref()),
        &msg.title,
        &msg.appeal,
        |u| service::assignable(units, msg.owner_unit_id, u),
    );
    let shown = crate::dispatch::Shown {
        version: model.map(|(v, _)| v).unwrap_or(0),
        units: proposals.iter().map(|p| p.unit_id).collect(),
    };
    Ok((shown, proposals))
}

async fn load_page(ctx: &Ctx, id: i32) -> Result<PageData, AppError> {
    let (role, unit) = (ctx.role, ctx.unit.id);
    let state = ctx.state.clone();
    db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, unit)?;
        let msg = model::find_scoped(c, &scope, id)?.ok_or(AppError::NotFound)?;
        let reference = crate::reference::get(c, &state.cache)?;
        // 转办 waits on the owner: the repeat candidates and the 智能分拨 proposals.
        let waiting = msg.state() == State::Registered && msg.owner_unit_id == unit;
        Ok(PageData {
            events: model::events(c, id)?,
            files: attachments::for_message(c, id)?,
            templates: config::templates_for(c, &msg.category)?,
            latest_print: archive::latest_print(c, id)?,
            default_retention: archive::settings(c)?.2,
            return_marks: crate::scoring::store::marks_of(c, id)?,
            // The look-up over the whole archive (about 20 ms at a million messages) is
            // kept until the data changes, so views of one message in between reuse it.
            candidates: if waiting {
                let found = state.cache.get_or(
                    c,
                    format!("repeats {scope:?} {}", msg.id),
                    |c| -> Result<_, AppError> {
                        let window = crate::messages::repeats::window_days(c)?;
                        Ok(crate::messages::repeats::find(
                            c,
                            &scope,
                            &crate::messages::repeats::Probe {
                                id: Some(msg.id),
                                platform_ref: msg.platform_ref.as_deref(),
                                name: &msg.complainant_name,
                                contact: &msg.complainant_contact,
                                title: &msg.title,
                                appeal: &msg.appeal,
                                posted_at: msg.posted_at,
                            },
                            window,
                        )?)
                    },
                )?;
                found.as_ref().clone()
            } else {
                Vec::new()
            },
            repeat_of: match msg.duplicate_of {
                Some(o) => model::find_scoped(c, &scope, o)?.map(|o| (o.id, o.ref_no)),
                None => None,
            },
            repeats: model::repeats_of(c, id)?,
            proposals: if waiting {
                proposals_for(c, &state, &reference.units, &msg)?.1
            } else {
                Vec::new()
            },
            category_hint: if waiting {
                state
                    .dispatch
                    .current(c, crate::dispatch::store::CATEGORY)?
                    .and_then(|(_, m)| {
                        crate::dispatch::propose_category(
                            &m,
                            &msg.title,
                            &msg.appeal,
                            &reference.categories,
                        )
                    })
                    .map(|(c, share, why)| (c, format!("{:.0}%", 100.0 * share), why))
            } else {
                None
            },
            reference,
            msg,
        })
    })
    .await
}

fn show_page(
    ctx: &Ctx,
    data: &PageData,
    open: Option<(Action, &ActForm)>,
    errors: FieldErrors,
    flash: Option<(&str, &str)>,
) -> ShowPage {
    let msg = &data.msg;
    let names = unit_names(&data.reference.units);
    let name_of = |id: Option<i32>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let today = china_today();
    let who = acting(ctx);
    let standing = service::standing(&who, msg);
    // Only the kind of supervision that fits the deadline is offered (催办 before it, 督办
    // after it), as the service will check.
    let overdue = crate::messages::deadline::is_overdue(&data.reference.calendar, today, msg);
    let cal = &data.reference.calendar;
    let mut closed_now: Vec<String> = Vec::new();
    let available: Vec<Action> = lifecycle::available(msg.state(), standing, service::facts(msg))
        .into_iter()
        .filter(|a| service::supervision_fits(*a, overdue))
        .filter(|a| match service::not_now(*a, msg, cal, today) {
            Some(why) => {
                closed_now.push(format!("{}：{why}", a.label()));
                false
            }
            None => true,
        })
        .collect();
    let elements = archive::elements(msg, &names);
    let fixes: Vec<crate::web::correction::Fix> = crate::web::correction::action_of(&available)
        .map(|a| crate::web::correction::fixes(a, msg.id, msg, standing))
        .unwrap_or_default();
    let category_hint = data.category_hint.clone().map(|(c, pct, why)| {
        let same = c == msg.category;
        let no = crate::messages::correction::Field::Category.element_no();
        let href = fixes.iter().find(|f| f.no == no).map(|f| f.href.clone());
        (c, pct, why, same, href)
    });
    let assign_units: Vec<Choice> = data
        .reference
        .units
        .iter()
        .filter(|u| service::assignable(&data.reference.units, msg.owner_unit_id, u))
        .map(|u| Choice {
            value: u.id.to_string(),
            label: u.name.clone(),
            disabled: false,
        })
        .collect();
    let forward_units: Vec<Choice> = data
        .reference
        .units
        .iter()
        .filter(|u| {
            u.active && u.parent_id == msg.handling_unit_id && u.kind() == Some(UnitKind::SubUnit)
        })
        .map(|u| Choice {
            value: u.id.to_string(),
            label: u.short_name.clone(),
            disabled: false,
        })
        .collect();
    let unsent = open
        .filter(|(a, f)| !available.contains(a) && !f.text.trim().is_empty())
        .map(|(a, f)| (a.label(), f.text.clone()));
    // 答复质量: the reply under review, checked against the appeal and the deadline.
    let check = (msg.state() == State::Replied).then(|| {
        let reply = data
            .events
            .iter()
            .rev()
            .find(|e| {
                e.action == Action::Reply.as_str() || e.action == crate::import::PLATFORM_REPLY
            })
            .map(|e| e.text.clone())
            .unwrap_or_default();
        let timing = msg.replied_at.and_then(|r| {
            crate::messages::reply_check::Timing::of(
                cal,
                msg.assigned_at.map(|a| crate::clock::to_china(a).date()),
                crate::clock::to_china(r).date(),
                msg.due_at,
            )
        });
        crate::messages::reply_check::check(&msg.title, &msg.appeal, &reply, timing)
    });
    let actions = available
        .into_iter()
        .map(|a| {
            let (tl, required) = text_label(a);
            let is_open = open.is_some_and(|(oa, _)| oa == a);
            let typed = open.filter(|(oa, _)| *oa == a).map(|(_, f)| f.clone());
            let f = typed.clone().unwrap_or_default();
            let default_text = match (a, &check) {
                (Action::Reply, _) => msg.draft_reply.clone().unwrap_or_default(),
                // 驳回重办 starts from what the check found (the clerk edits it).
                (Action::Reject, Some(c)) if !c.warnings().is_empty() => {
                    format!("答复质量检查提示：{}。", c.quoted())
                }
                _ => String::new(),
            };
            ActionView {
                code: a.as_str(),
                label: a.label(),
                text_label: tl,
                text_required: required,
                text: if typed.is_some() {
                    f.text.clone()
                } else {
                    default_text
                },
                units: match a {
                    Action::Assign => assign_units.clone(),
                    Action::Forward => forward_units.clone(),
                    _ => Vec::new(),
                },
                unit_id: match (a, &typed, data.proposals.first()) {
                    (Action::Assign, None, Some(p)) => p.unit_id.to_string(),
                    _ => f.unit_id.clone(),
                },
                proposals: if a == Action::Assign {
                    data.proposals.clone()
                } else {
                    Vec::new()
                },
                check: if matches!(a, Action::Approve | Action::Reject) {
                    check.clone()
                } else {
                    None
                },
                needs_days: a == Action::RequestExtension,
                days: f.days.clone(),
                needs_resolved: matches!(a, Action::Reply | Action::Approve),
                resolved: if typed.is_some() {
                    f.resolved.clone()
                } else {
                    match (a, msg.proposed_resolved) {
                        (Action::Approve, Some(true)) => "1".to_string(),
                        (Action::Approve, Some(false)) => "0".to_string(),
                        _ => String::new(),
                    }
                },
                needs_deadline: a.is_supervision(),
                deadline: f.deadline.clone(),
                needs_followup: a == Action::FollowUp,
                method: f.method.clone(),
                satisfaction: f.satisfaction.clone(),
                needs_report_ref: a == Action::Report,
                report_ref_no: f.report_ref_no.clone(),
                takes_files: service::takes_files(a),
                takes_template: matches!(a, Action::Reply | Action::DraftReply),
                candidates: if a == Action::MarkRepeat {
                    data.candidates
                        .iter()
                        .map(|c| {
                            (
                                c.msg.ref_no.clone(),
                                format!(
                                    "{} {}（{}，相似度 {}%）",
                                    c.msg.ref_no,
                                    c.msg.title,
                                    c.why.label(),
                                    c.score
                                ),
                            )
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                original: f.original.clone(),
                original_no: f.original_no.clone(),
                merge: f.merge.clone(),
                plain_form: match a {
                    Action::Correct => false,
                    Action::Amend => typed.as_ref().is_none_or(|f| f.field.trim().is_empty()),
                    _ => true,
                },
                correct: matches!(a, Action::Correct | Action::Amend).then(|| {
                    crate::web::correction::view(
                        a,
                        msg,
                        standing,
                        &data.reference,
                        ctx.role,
                        typed.as_ref(),
                    )
                }),
                open: is_open,
                primary: matches!(
                    a,
                    Action::Assign
                        | Action::Accept
                        | Action::Reply
                        | Action::Approve
                        | Action::FollowUp
                        | Action::Report
                        | Action::Archive
                ),
            }
        })
        .collect();
    let step_of = |seq: i32| {
        data.events
            .iter()
            .find(|e| e.seq == seq)
            .map(|e| archive::event_label(&e.action))
            .unwrap_or_default()
    };
    let files: Vec<FileView> = data
        .files
        .iter()
        .map(|f| FileView {
            id: f.id,
            name: f.original_name.clone(),
            size: f.size_text(),
            sha256: f.sha256.clone(),
            step: step_of(f.event_seq),
            uploaded: format_time(f.uploaded_at),
        })
        .collect();
    let timeline = data
        .events
        .iter()
        .map(|ev| {
            let detail: serde_json::Value =
                serde_json::from_str(&ev.detail).unwrap_or(serde_json::Value::Null);
            let mut parts = Vec::new();
            parts.extend(crate::messages::correction::describe(&detail));
            if let Some(u) = detail.get("unit").and_then(|v| v.as_str()) {
                parts.push(format!("单位：{u}"));
            }
            if let Some(d) = detail.get("days").and_then(|v| v.as_i64()) {
                parts.push(format!("{d} 个工作日"));
            }
            if let Some(d) = detail.get("deadline").and_then(|v| v.as_str()) {
                parts.push(format!("落实期限：{d}"));
            }
            if let Some(d) = detail.get("due").and_then(|v| v.as_str()) {
                parts.push(format!("到期：{d}"));
            }
            if let Some(r) = detail.get("resolved").and_then(|v| v.as_bool()) {
                parts.push(if r {
                    "已化解".to_string()
                } else {
                    "未化解".to_string()
                });
            }
            if let Some(s) = detail.get("satisfaction").and_then(|v| v.as_str()) {
                let method = detail.get("method").and_then(|v| v.as_str()).unwrap_or("");
                parts.push(format!("{method}回访：{s}"));
            }
            if let Some(d) = detail.get("replied_on").and_then(|v| v.as_str()) {
                parts.push(format!("平台答复时间：{d}"));
            }
            if let Some(r) = detail.get("report_ref_no").and_then(|v| v.as_str()) {
                parts.push(format!("呈报文号：{r}"));
            }
            let action = archive::event_label(&ev.action);
            let change = match ev.from_state.as_deref().and_then(State::parse) {
                Some(f) if f.as_str() != ev.to_state => {
                    format!(
                        "{} → {}",
                        f.label(),
                        State::parse(&ev.to_state).map(|s| s.label()).unwrap_or("")
                    )
                }
                Some(_) => String::new(),
                None => State::parse(&ev.to_state)
                    .map(|s| s.label().to_string())
                    .unwrap_or_default(),
            };
            TimelineRow {
                seq: ev.seq,
                return_mark: (ev.action == "return").then(|| {
                    let found = data
                        .return_marks
                        .iter()
                        .find(|(s, _)| *s == ev.seq)
                        .map(|(_, r)| r.clone());
                    let may = msg.owner_unit_id == ctx.unit.id
                        && matches!(ctx.role, Role::CityOperator | Role::CountyOperator);
                    (found, may)
                }),
                files: data
                    .files
                    .iter()
                    .zip(&files)
                    .filter(|(a, _)| a.event_seq == ev.seq)
                    .map(|(_, v)| v.clone())
                    .collect(),
                notice: Action::parse(&ev.action)
                    .filter(|a| a.is_supervision())
                    .map(|_| format!("/messages/{}/notice/{}", ev.message_id, ev.seq)),
                at: format_time(ev.at),
                unit: name_of(ev.unit_id),
                person: ev.actor_name.clone(),
                action,
                change,
                text: ev.text.clone(),
                detail: parts.join("；"),
            }
        })
        .collect();
    let state = msg.state();
    let mut layout = ctx
        .layout(&format!("留言 {}", msg.ref_no))
        .crumb("留言列表", "/messages")
        .crumb(&msg.ref_no, "");
    if let Some((kind, text)) = flash {
        layout = layout.with_flash(kind, text);
    }
    ShowPage {
        layout,
        id: msg.id,
        version: msg.version,
        state: state.label(),
        state_css: state.as_str(),
        elements,
        fixes,
        category_hint,
        msg_category: msg.category.clone(),
        repeat_of: data.repeat_of.clone(),
        following: service::is_following(msg),
        following_note: service::FOLLOWING_NOTE,
        repeats: data.repeats.clone(),
        missing: msg.missing_elements(),
        paper: {
            let content = archive::printed_content(msg, &names, &data.events, &data.files);
            let view = crate::web::archive::paper_view(data.latest_print.as_ref(), &content);
            (crate::web::archive::paper_words(&view), view.status)
        },
        retentions: archive::RETENTIONS.iter().map(|(n, _)| *n).collect(),
        default_retention: data.default_retention.clone(),
        owner: name_of(Some(msg.owner_unit_id)),
        forwarded: name_of(msg.forwarded_unit_id),
        cue: crate::messages::deadline::cue(&data.reference.calendar, today, msg),
        closed_now,
        deadline_line: crate::messages::deadline::current(&data.reference.calendar, msg)
            .map(|d| {
                format!(
                    "{}期限：{}{}",
                    d.waiting.label(),
                    d.due.format("%Y-%m-%d"),
                    crate::messages::deadline::uncovered_mark(&data.reference.calendar, d.due)
                )
            })
            .unwrap_or_default(),
        supervision: msg
            .supervision_level
            .clone()
            .filter(|_| state.deadline_runs())
            .map(|l| {
                (
                    l,
                    msg.supervision_due
                        .map(|d| d.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                )
            }),
        extension_pending: msg.extension_requested_days,
        extension_days: msg.extension_days,
        draft_reply: msg.draft_reply.clone().filter(|_| state == State::Handling),
        actions,
        unsent,
        timeline,
        files,
        templates: data
            .templates
            .iter()
            .map(|t| Choice {
                value: t.id.to_string(),
                label: format!("{}（{}）", t.title, t.category),
                disabled: false,
            })
            .collect(),
        template_id: String::new(),
        max_upload_mb: ctx.state.config.max_upload_mb,
        errors,
        methods: FOLLOWUP_METHODS.to_vec(),
        satisfactions: SATISFACTION.to_vec(),
        may_view_contact: standing.owner || standing.handler || standing.forwardee,
        full_contact: None,
        purposes: CONTACT_PURPOSES.to_vec(),
    }
}

#[derive(serde::Deserialize)]
pub struct ShowQuery {
    /// An action form to open (`reply`, `draft_reply` …).
    open: Option<String>,
    /// A reply template to put into that form's text.
    template: Option<i32>,
    /// 补正 / 更正: the element to correct.
    field: Option<String>,
}

pub async fn show(
    ctx: Ctx,
    path: web::Path<i32>,
    query: Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let data = load_page(&ctx, path.into_inner()).await?;
    let q = query.into_inner();
    let open = q.open.as_deref().and_then(Action::parse);
    let template = q
        .template
        .and_then(|tid| data.templates.iter().find(|t| t.id == tid));
    let Some(action) = open else {
        return render(&show_page(&ctx, &data, None, FieldErrors::default(), None));
    };
    // The form opened: the reply editor, with a template's text when one was picked;
    // a correction, with the element's value now.
    let form = match action {
        Action::Correct | Action::Amend => {
            crate::web::correction::opened(&data.msg, q.field.as_deref().unwrap_or(""))
        }
        _ => ActForm {
            text: template.map(|t| t.body.clone()).unwrap_or_default(),
            ..Default::default()
        },
    };
    let mut page = show_page(
        &ctx,
        &data,
        Some((action, &form)),
        FieldErrors::default(),
        None,
    );
    if let Some(t) = template {
        page.template_id = t.id.to_string();
    }
    render(&page)
}

#[derive(Template)]
#[template(path = "messages/confirm_archive.html")]
struct ConfirmArchivePage {
    layout: Layout,
    id: i32,
    ref_no: String,
    title: String,
    unit: String,
    retention: String,
    form: ActForm,
}

pub async fn act(
    ctx: Ctx,
    path: web::Path<(i32, String)>,
    upload: CsrfUpload<ActForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let (id, code) = path.into_inner();
    let action = Action::parse(&code).ok_or(AppError::NotFound)?;
    let who = acting(&ctx);
    let (role, unit) = (ctx.role, ctx.unit.id);
    let CsrfUpload {
        form,
        files,
        file_errors,
        ..
    } = upload;
    let mut f = form.clone();
    let today = china_today();
    let store = Store::new(&ctx.state.config.data_dir);
    let accepted = files.len();
    let state = ctx.state.clone();
    let outcome = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, unit)?;
        if action == Action::Assign {
            // What the form showed is computed again (the same model gives the same
            // proposal) and recorded with the 转办; a request cannot claim another.
            if let Some(msg) = model::find_scoped(c, &scope, id)? {
                let reference = crate::reference::get(c, &state.cache)?;
                f.proposal = Some(proposals_for(c, &state, &reference.units, &msg)?.0);
            }
        }
        let files = Files {
            store: &store,
            accepted: &files,
            refused: &file_errors,
        };
        service::act(c, &who, &scope, id, action, &f, &files, today)
    })
    .await?;
    match outcome {
        ActOutcome::Done(text) => {
            ctx.flash("ok", &text);
            // A message returned is no longer the handler's to see: back to its 待办.
            if matches!(action, Action::Return | Action::SubReturn) {
                return Ok(see_other("/"));
            }
            Ok(see_other(&format!("/messages/{id}")))
        }
        ActOutcome::Invalid(mut errors) => {
            files_not_kept(&mut errors, accepted);
            let data = load_page(&ctx, id).await?;
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &show_page(&ctx, &data, Some((action, &form)), errors, None),
            )
        }
        ActOutcome::Conflict => {
            let again = if accepted > 0 {
                "所选附件未保存，请重新选择。"
            } else {
                ""
            };
            let data = load_page(&ctx, id).await?;
            let page = show_page(
                &ctx,
                &data,
                Some((action, &form)),
                FieldErrors::default(),
                Some(("error", &format!("{CONFLICT_MESSAGE}。您填写的内容保留在下方表单中，请核对最新记录后重新提交。{again}"))),
            );
            render_status(StatusCode::CONFLICT, &page)
        }
        ActOutcome::Confirm { retention } => {
            let data = load_page(&ctx, id).await?;
            render(&ConfirmArchivePage {
                layout: ctx
                    .layout("确认销号")
                    .crumb("留言列表", "/messages")
                    .crumb(&data.msg.ref_no, &format!("/messages/{id}"))
                    .crumb("确认销号", ""),
                id,
                ref_no: data.msg.ref_no.clone(),
                title: data.msg.title.clone(),
                unit: data
                    .msg
                    .handling_unit_id
                    .and_then(|h| data.reference.units.iter().find(|u| u.id == h))
                    .map(|u| u.name.clone())
                    .unwrap_or_default(),
                retention,
                form,
            })
        }
        ActOutcome::Refused(reason) => {
            let data = load_page(&ctx, id).await?;
            let page = show_page(
                &ctx,
                &data,
                None,
                FieldErrors::default(),
                Some(("error", &reason)),
            );
            render_status(StatusCode::FORBIDDEN, &page)
        }
    }
}

// ---------- 待办 ----------

pub struct TodoRow {
    pub row: Row,
    pub task: &'static str,
    pub overdue: bool,
}

/// At most this many 待办 rows on the home page; the counts are always exact.
pub const TODO_ROWS: i64 = 50;

/// A 待办 tile: its number is the count of exactly the list it links to.
pub struct Tile {
    pub label: &'static str,
    pub count: i64,
    pub href: String,
    /// Shown in red when not zero (overdue).
    pub alert: bool,
}

/// The tiles of a role's 待办, each a list filter, and whether it shows when zero (a
/// county's own registrations are a sideline: those tiles show only when something
/// waits there).
fn tile_filters(role: Role) -> Vec<(&'static str, ListFilter, bool)> {
    use model::Mine::{Any, Handle, Own};
    let tile = |mine: model::Mine, state: Option<State>, supervised: bool, overdue: bool| {
        let flag = |on: bool| if on { "1".to_string() } else { String::new() };
        ListFilter {
            mine: mine.as_str().to_string(),
            state: state.map(|s| s.as_str().to_string()).unwrap_or_default(),
            supervised: flag(supervised),
            overdue: flag(overdue),
            ..ListFilter::default()
        }
    };
    let handler = [
        ("待签收", tile(Handle, Some(State::Assigned), false, false)),
        ("待答复", tile(Handle, Some(State::Handling), false, false)),
        ("被督办", tile(Handle, None, true, false)),
    ];
    let owner = [
        ("待转办", tile(Own, Some(State::Registered), false, false)),
        ("延期待批", tile(Own, Some(State::Handling), false, false)),
        ("待审核", tile(Own, Some(State::Replied), false, false)),
        ("待回访", tile(Own, Some(State::Closed), false, false)),
        ("待呈报", tile(Own, Some(State::FollowedUp), false, false)),
        ("待销号", tile(Own, Some(State::Reported), false, false)),
    ];
    let (handles, owns, owner_always) = match role {
        Role::CityOperator => (false, true, true),
        Role::CountyOperator => (true, true, false),
        Role::DeptOperator => (true, false, false),
        _ => return Vec::new(),
    };
    let mut tiles: Vec<(&'static str, ListFilter, bool)> = Vec::new();
    if handles {
        tiles.extend(handler.into_iter().map(|(l, f)| (l, f, true)));
    }
    if owns {
        tiles.extend(owner.into_iter().map(|(l, f)| (l, f, owner_always)));
    }
    tiles.push(("已超期", tile(Any, None, false, true), true));
    tiles
}

/// What the user's unit has to do, most urgent first, with the tiles and the total.
pub async fn todo(ctx: &Ctx) -> Result<(Vec<TodoRow>, Vec<Tile>, i64), AppError> {
    let (role, unit) = (ctx.role, ctx.unit.id);
    let today = china_today();
    let state = ctx.state.clone();
    let (waiting, reference) = db::run(ctx.pool(), move |c| {
        let reference = crate::reference::get(c, &state.cache)?;
        let cal = &reference.calendar;
        // Kept while the data is unchanged (a centre may have tens of thousands waiting).
        let waiting = state
            .cache
            .get_or(c, format!("todo {role:?} {unit} {today}"), |c| {
                let scope = model::scope_for(c, role, unit)?;
                let windows = crate::messages::deadline::Today::new(cal, today);
                let counted = |c: &mut db::DbConn, mut f: ListFilter| {
                    f.today = Some(windows);
                    f.actor = Some((role, unit));
                    model::count(c, &scope, &f, today)
                };
                let mut tiles = Vec::new();
                for (label, f, shown) in tile_filters(role) {
                    let n = counted(c, f.clone())?;
                    if shown || n > 0 {
                        tiles.push((label, f, n));
                    }
                }
                let all = ListFilter {
                    mine: model::Mine::Any.as_str().to_string(),
                    ..ListFilter::default()
                };
                let total = counted(c, all)?;
                Ok::<_, AppError>((
                    model::todo(c, role, unit, cal, today, TODO_ROWS)?,
                    tiles,
                    total,
                ))
            })?;
        Ok((waiting, reference))
    })
    .await?;
    let (msgs, tiles, total) = (&waiting.0, &waiting.1, waiting.2);
    let (all, cal) = (&reference.units, &reference.calendar);
    let names = unit_names(all);
    let rows = msgs
        .iter()
        .map(|m| {
            let state = m.state();
            let handler = m.handling_unit_id == Some(unit) || m.forwarded_unit_id == Some(unit);
            let task = match state {
                State::Registered => "待转办",
                State::Assigned => "待签收",
                State::Handling
                    if m.extension_requested_days.is_some() && m.owner_unit_id == unit =>
                {
                    "延期待批"
                }
                State::Handling
                    if m.forwarded_unit_id == Some(unit) && m.forward_accepted_at.is_none() =>
                {
                    "待签收"
                }
                State::Handling if m.forwarded_unit_id == Some(unit) => "待报送答复稿",
                State::Handling if handler => "待答复",
                State::Handling => "办理中",
                State::Replied => "待审核",
                State::Closed => "待回访",
                State::FollowedUp if service::facts(m).dissatisfied && m.no_reopen_at.is_none() => {
                    "待重办"
                }
                State::FollowedUp => "待呈报",
                State::Reported => "待销号",
                State::Archived => "",
            };
            let r = row(m, &names, cal, today);
            TodoRow {
                overdue: crate::messages::deadline::is_overdue(cal, today, m),
                row: r,
                task,
            }
        })
        .collect();
    let tiles = tiles
        .iter()
        .map(|(label, f, n)| Tile {
            label,
            count: *n,
            href: format!("/messages{}", query_string(f, 1)),
            alert: f.overdue == "1" && *n > 0,
        })
        .collect();
    Ok((rows, tiles, total))
}

// ---------- 督办通知书 ----------

#[derive(Template)]
#[template(path = "messages/notice.html")]
struct NoticePage {
    stamp: String,
    kind: String,
    to_unit: String,
    from_unit: String,
    ref_no: String,
    title: String,
    posted: String,
    due: String,
    deadline: String,
    text: String,
    issued: String,
    id: i32,
}

/// The printable 催办/督办/挂牌督办 notice of one supervision event.
pub async fn notice(ctx: Ctx, path: web::Path<(i32, i32)>) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let (id, seq) = path.into_inner();
    let data = load_page(&ctx, id).await?;
    let ev = data
        .events
        .iter()
        .find(|e| e.seq == seq && Action::parse(&e.action).is_some_and(|a| a.is_supervision()))
        .ok_or(AppError::NotFound)?;
    let names = unit_names(&data.reference.units);
    let detail: serde_json::Value =
        serde_json::from_str(&ev.detail).unwrap_or(serde_json::Value::Null);
    let deadline = detail
        .get("deadline")
        .and_then(|v| v.as_str())
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(print_date)
        .unwrap_or_default();
    let msg = &data.msg;
    let kind = Action::parse(&ev.action)
        .map(|a| a.label())
        .unwrap_or("督办")
        .to_string();
    crate::audit::print_view(
        ctx.pool(),
        ctx.actor(),
        format!("留言 {} {kind}通知书（第 {seq} 条记录）", msg.ref_no),
    )
    .await?;
    render(&NoticePage {
        stamp: ctx.print_stamp(),
        kind,
        to_unit: msg
            .handling_unit_id
            .and_then(|h| names.get(&h).cloned())
            .unwrap_or_default(),
        from_unit: ev
            .unit_id
            .and_then(|u| names.get(&u).cloned())
            .unwrap_or_default(),
        ref_no: msg.ref_no.clone(),
        title: msg.title.clone(),
        posted: print_date(to_china(msg.posted_at).date()),
        due: msg.due_at.map(print_date).unwrap_or_default(),
        deadline,
        text: ev.text.clone(),
        issued: print_date(to_china(ev.at).date()),
        id,
    })
}

// ---------- attachments ----------

/// Download an attachment: only for users who may see its message, always as a download.
pub async fn attachment(ctx: Ctx, path: web::Path<i32>) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let id = path.into_inner();
    let (role, unit) = (ctx.role, ctx.unit.id);
    let file = db::run(ctx.pool(), move |c| {
        let file = attachments::find(c, id)?.ok_or(AppError::NotFound)?;
        let scope = model::scope_for(c, role, unit)?;
        model::find_scoped(c, &scope, file.message_id)?.ok_or(AppError::NotFound)?;
        Ok(file)
    })
    .await?;
    let path = Store::new(&ctx.state.config.data_dir).path_of(&file.stored_name);
    let body = match crate::web::read_stored(path).await? {
        Some(body) => body,
        None => return Ok(crate::web::file_missing(&file.original_name)),
    };
    let ascii: String = file
        .original_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(crate::web::download(
        &ascii,
        &file.original_name,
        &file.content_type,
        body,
    ))
}

// ---------- 批量呈报 / 批量销号 ----------

pub struct BatchRow {
    pub pick: String,
    pub id: i32,
    pub ref_no: String,
    pub title: String,
    pub state: &'static str,
    pub state_css: &'static str,
    pub missing: Vec<&'static str>,
    pub problem: String,
}

#[derive(Template)]
#[template(path = "messages/batch.html")]
struct BatchPage {
    layout: Layout,
    action: &'static str,
    label: &'static str,
    rows: Vec<BatchRow>,
    report_ref_no: String,
    text: String,
    errors: FieldErrors,
    blocked: bool,
}

/// Parse `id:version` picks, ignoring anything malformed.
fn picks(pairs: &[(String, String)]) -> Vec<service::BatchItem> {
    let mut v: Vec<service::BatchItem> = pairs
        .iter()
        .filter(|(k, _)| k == "ids")
        .filter_map(|(_, v)| {
            let (id, ver) = v.split_once(':')?;
            Some(service::BatchItem {
                id: id.parse().ok()?,
                version: ver.parse().ok()?,
            })
        })
        .collect();
    v.sort_by_key(|i| i.id);
    v.dedup_by_key(|i| i.id);
    v.truncate(500);
    v
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// The batch page: the chosen messages, what stands in the way, and the confirm button.
/// Nothing changes until it is submitted with `confirm=1`.
pub async fn batch(
    ctx: Ctx,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(REGISTRARS)?;
    let action = match field(&pairs, "action") {
        "report" => Action::Report,
        "archive" => Action::Archive,
        _ => return Err(AppError::NotFound),
    };
    let items = picks(&pairs);
    let form = ActForm {
        report_ref_no: field(&pairs, "report_ref_no").to_string(),
        text: field(&pairs, "text").to_string(),
        // The batch is carried out only from its review page, which is the confirmation.
        confirm: "1".to_string(),
        ..Default::default()
    };
    let confirm = field(&pairs, "confirm") == "1";
    let (who, role, unit) = (acting(&ctx), ctx.role, ctx.unit.id);
    let mut errors = FieldErrors::default();
    let mut problems: Vec<(String, String)> = Vec::new();
    if confirm {
        let store = Store::new(&ctx.state.config.data_dir);
        let (f, its) = (form.clone(), picks(&pairs));
        let today = china_today();
        let outcome = db::run(ctx.pool(), move |c| {
            let scope = model::scope_for(c, role, unit)?;
            service::batch(c, &who, &scope, action, &its, &f, &store, today)
        })
        .await?;
        match outcome {
            service::BatchOutcome::Done(n) => {
                let text = match action {
                    Action::Report => format!(
                        "已批量呈报 {n} 条留言，呈报文号 {}。下一步：批量销号。",
                        form.report_ref_no.trim()
                    ),
                    _ => format!("已批量销号 {n} 条留言，已归档。"),
                };
                ctx.flash("ok", &text);
                let next = if action == Action::Report {
                    "reported"
                } else {
                    "archived"
                };
                return Ok(see_other(&format!("/messages?state={next}")));
            }
            service::BatchOutcome::Invalid(e) => errors = e,
            service::BatchOutcome::Refused(r) => {
                errors.add(
                    "ids",
                    "以下留言不能处理，全部留言均未改变。请取消勾选这些留言或先处理其问题后重试。",
                );
                problems = r;
            }
        }
    } else if items.is_empty() {
        errors.add("ids", "请先在列表中勾选要处理的留言。");
    }
    let ids: Vec<i32> = items.iter().map(|i| i.id).collect();
    let msgs = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, unit)?;
        let mut v = Vec::new();
        for id in ids {
            v.push(model::find_scoped(c, &scope, id)?.ok_or(AppError::NotFound)?);
        }
        Ok(v)
    })
    .await?;
    let rows: Vec<BatchRow> = msgs
        .iter()
        .zip(&items)
        .map(|(m, it)| {
            let missing = if action == Action::Archive {
                m.missing_elements()
            } else {
                Vec::new()
            };
            BatchRow {
                pick: format!("{}:{}", m.id, it.version),
                id: m.id,
                ref_no: m.ref_no.clone(),
                title: m.title.clone(),
                state: m.state().label(),
                state_css: m.state().as_str(),
                problem: problems
                    .iter()
                    .find(|(r, _)| *r == m.ref_no)
                    .map(|(_, p)| p.clone())
                    .unwrap_or_default(),
                missing,
            }
        })
        .collect();
    let blocked = rows.iter().any(|r| !r.missing.is_empty());
    let label = if action == Action::Report {
        "批量呈报"
    } else {
        "批量销号"
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &BatchPage {
            layout: ctx
                .layout(label)
                .crumb("留言列表", "/messages")
                .crumb(label, ""),
            action: action.as_str(),
            label,
            rows,
            report_ref_no: form.report_ref_no,
            text: form.text,
            errors,
            blocked,
        },
    )
}

// ---------- export ----------

/// At most this many rows in one export.
pub const EXPORT_MAX: i64 = 50_000;

const EXPORT_HEADERS: [&str; 25] = [
    "留言文号",
    "级别",
    "留言来源平台",
    "平台编号",
    "反映人",
    "联系方式",
    "留言标题",
    "主要诉求",
    "留言时间",
    "核办单位",
    "到期时间",
    "所属类型",
    "办理情况",
    "是否化解",
    "评价内容",
    "回访时间",
    "呈报文号",
    "状态",
    "转办时间",
    "签收时间",
    "答复时间",
    "办结时间",
    "经办人",
    "审核人",
    "档号",
];

/// The filtered list (or search result) as XLSX or CSV: the 16 elements and who handled
/// it when. Contacts are masked; the export is audited.
pub async fn export(
    ctx: Ctx,
    query: Query<ListFilter>,
    raw: Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    if let Some(confirm) = ctx.confirm_password_first() {
        return Ok(confirm);
    }
    let format = raw
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut filter = query.into_inner();
    let (role, unit, actor) = (ctx.role, ctx.unit.id, ctx.actor());
    let today = china_today();
    let state = ctx.state.clone();
    let result = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, unit)?;
        let reference = crate::reference::get(c, &state.cache)?;
        filter.pg = matches!(c, db::DbConn::Pg(_));
        filter.today = Some(crate::messages::deadline::Today::new(
            &reference.calendar,
            today,
        ));
        filter.actor = Some((role, unit));
        if !filter.no.trim().is_empty() {
            let found = model::by_number(c, &scope, &filter.no)?;
            filter.number_ids = Some(found.iter().map(|m| m.id).collect());
        }
        let ids = model::filtered_ids(c, &scope, &filter, today, EXPORT_MAX + 1)?;
        if ids.len() as i64 > EXPORT_MAX {
            return Ok(Err(ids.len()));
        }
        let names = unit_names(&reference.units);
        let mut sheet = if format == "csv" {
            Sheet::csv(&EXPORT_HEADERS)?
        } else {
            Sheet::xlsx(
                &format!("网民留言（导出于 {today}，共 {} 条）", ids.len()),
                &EXPORT_HEADERS,
            )?
        };
        // A chunk of messages at a time, so that a long export never holds them all.
        for chunk in ids.chunks(500) {
            let people = handlers_and_reviewers(c, chunk)?;
            for m in model::by_ids(c, chunk)? {
                sheet.push(&export_row(&m, &names, people.get(&m.id)))?;
            }
        }
        crate::audit::record(
            c,
            &actor,
            "export",
            &format!("导出留言列表 {} 条（联系方式已脱敏）", ids.len()),
            crate::audit::OK,
            "",
        )?;
        Ok(Ok((sheet, format == "csv")))
    })
    .await?;
    let (sheet, csv) = match result {
        Ok(s) => s,
        Err(n) => {
            ctx.flash(
                "error",
                &format!(
                    "符合条件的留言超过 {EXPORT_MAX} 条（至少 {n} 条），请缩小筛选范围后再导出。"
                ),
            );
            return Ok(see_other("/messages"));
        }
    };
    let stamp = today.format("%Y%m%d");
    sheet.download(&format!(
        "留言-{stamp}.{}",
        if csv { "csv" } else { "xlsx" }
    ))
}

/// 经办人 and 审核人 of these messages: who gave the latest reply and the latest approval
/// (read from the covering index (message_id, action, seq, actor_name), no table rows).
fn handlers_and_reviewers(
    c: &mut db::DbConn,
    ids: &[i32],
) -> Result<HashMap<i32, (String, String)>, AppError> {
    use crate::db::schema::message_events::dsl as e;
    use diesel::prelude::*;
    // message → ((seq, 经办人), (seq, 审核人))
    type Latest = (i32, String);
    let mut latest: HashMap<i32, (Latest, Latest)> = HashMap::new();
    let evs: Vec<(i32, String, i32, String)> = e::message_events
        .filter(e::message_id.eq_any(ids))
        .filter(e::action.eq_any(["reply", "approve"]))
        .select((e::message_id, e::action, e::seq, e::actor_name))
        .load(c)?;
    for (id, action, seq, who) in evs {
        let p = latest.entry(id).or_default();
        let slot = if action == "reply" {
            &mut p.0
        } else {
            &mut p.1
        };
        if seq > slot.0 {
            *slot = (seq, who);
        }
    }
    Ok(latest
        .into_iter()
        .map(|(id, ((_, h), (_, r)))| (id, (h, r)))
        .collect())
}

/// One exported row: the 16 elements, then who handled it when.
fn export_row(
    m: &Message,
    names: &HashMap<i32, String>,
    people: Option<&(String, String)>,
) -> Vec<String> {
    let els = archive::elements(m, names);
    let v = |i: usize| els.get(i).map(|e| e.value.clone()).unwrap_or_default();
    let t = |x: Option<chrono::NaiveDateTime>| x.map(format_time).unwrap_or_default();
    let (handler, reviewer) = people.cloned().unwrap_or_default();
    vec![
        v(0),
        v(1),
        m.source_platform.clone(),
        m.platform_ref.clone().unwrap_or_default(),
        v(3),
        v(4),
        v(5),
        v(6),
        v(7),
        v(8),
        v(9),
        v(10),
        v(11),
        v(12),
        v(13),
        v(14),
        v(15),
        m.state().label().to_string(),
        t(m.assigned_at),
        t(m.accepted_at),
        t(m.replied_at),
        t(m.closed_at),
        handler,
        reviewer,
        m.archive_no.clone().unwrap_or_default(),
    ]
}

// ---------- 查看完整联系方式 ----------

#[derive(serde::Deserialize, Default)]
pub struct ContactForm {
    #[serde(default)]
    purpose: String,
}

/// Show the full 联系方式 to the owner or the handling unit, for a stated purpose; the
/// view is audited (without the number) and the page is not cached.
pub async fn contact(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<ContactForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let id = path.into_inner();
    let data = load_page(&ctx, id).await?;
    let standing = service::standing(&acting(&ctx), &data.msg);
    if !(standing.owner || standing.handler || standing.forwardee) {
        return Err(AppError::NotFound);
    }
    if !CONTACT_PURPOSES.contains(&form.purpose.as_str()) {
        let mut errors = FieldErrors::default();
        errors.add("purpose", "请选择查看完整联系方式的用途。");
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &show_page(&ctx, &data, None, errors, None),
        );
    }
    let (actor, ref_no, purpose) = (ctx.actor(), data.msg.ref_no.clone(), form.purpose.clone());
    db::run(ctx.pool(), move |c| {
        crate::audit::record(
            c,
            &actor,
            "contact_view",
            &format!("留言 {ref_no} 的完整联系方式"),
            crate::audit::OK,
            &format!("用途：{purpose}"),
        )?;
        Ok(())
    })
    .await?;
    let mut page = show_page(&ctx, &data, None, FieldErrors::default(), None);
    page.full_contact = Some(data.msg.complainant_contact.clone());
    render(&page)
}
