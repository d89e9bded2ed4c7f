//! 业务设置, kept by the city centre: the 留言文号 format, the holiday calendar, the
//! lists (级别, 来源平台, 所属类型), reply-deadline rules and reply templates. Every change
//! is one transaction with its audit row; it applies to what happens next (deadlines
//! already set are not recomputed).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::audit::Actor;
use crate::auth::csrf::CsrfForm;
use crate::auth::roles::Role;
use crate::clock::china_today;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::messages::config::{self, Holiday, OptionRow, ReplyTemplate, Rule};
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::extract::Query;
use crate::web::Choice;
use crate::web::{render_status, see_other};

const KEEPERS: &[Role] = &[Role::CityOperator];

/// Run a settings change and its audit row in one transaction (`config::change`).
pub(crate) async fn change<T: Send + 'static>(
    ctx: &Ctx,
    what: String,
    f: impl FnOnce(&mut DbConn) -> Result<Result<T, FieldErrors>, AppError> + Send + 'static,
) -> Result<Result<T, FieldErrors>, AppError> {
    let actor: Actor = ctx.actor();
    db::run(ctx.pool(), move |c| config::change(c, &actor, &what, f)).await
}

pub(crate) fn layout(ctx: &Ctx, title: &str) -> Layout {
    let l = ctx.layout(title).crumb("业务设置", "/settings");
    if title == "业务设置" {
        l
    } else {
        l.crumb(title, "")
    }
}

fn one_error(field: &str, text: &str) -> FieldErrors {
    let mut e = FieldErrors::default();
    e.add(field, text);
    e
}

// ---------- overview and 文号 format ----------

#[derive(Template)]
#[template(path = "settings/index.html")]
struct IndexPage {
    layout: Layout,
    ref_format: String,
    example: String,
    errors: FieldErrors,
    archive: ArchiveForm,
    retentions: Vec<&'static str>,
}

/// 档号 settings: 全宗号, 门类代码, default 保管期限.
#[derive(Deserialize, Default, Clone)]
pub struct ArchiveForm {
    #[serde(default)]
    fonds: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    retention: String,
}

#[derive(Deserialize, Default)]
pub struct RefFormatForm {
    #[serde(default)]
    ref_format: String,
}

fn index_page(
    ctx: &Ctx,
    status: StatusCode,
    ref_format: String,
    archive: ArchiveForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let example =
        crate::messages::service::format_ref_no(&ref_format, "安", china_today().year(), 1);
    render_status(
        status,
        &IndexPage {
            layout: layout(ctx, "业务设置"),
            ref_format,
            example,
            errors,
            archive,
            retentions: crate::archive::RETENTIONS.iter().map(|(n, _)| *n).collect(),
        },
    )
}

async fn current(ctx: &Ctx) -> Result<(String, ArchiveForm), AppError> {
    db::run(ctx.pool(), |c| {
        let (fonds, category, retention) = crate::archive::settings(c)?;
        Ok((
            config::ref_format(c)?,
            ArchiveForm {
                fonds,
                category,
                retention,
            },
        ))
    })
    .await
}

pub async fn index(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let (f, a) = current(&ctx).await?;
    index_page(&ctx, StatusCode::OK, f, a, FieldErrors::default())
}

pub async fn ref_format(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<RefFormatForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let checked = config::check_ref_format(&form.ref_format);
    let value = match checked {
        Ok(v) => v,
        Err(e) => {
            let (_, a) = current(&ctx).await?;
            return index_page(
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.ref_format,
                a,
                one_error("ref_format", e),
            );
        }
    };
    let v = value.clone();
    change(&ctx, format!("留言文号格式：{value}"), move |c| {
        db::put_setting(c, config::REF_FORMAT_KEY, &v)?;
        Ok(Ok(()))
    })
    .await?
    .ok();
    ctx.flash(
        "ok",
        &format!("留言文号格式已改为“{value}”，此后登记的留言按新格式编号；已有文号不变。"),
    );
    Ok(see_other("/settings"))
}

/// 档号 settings; they apply to archives closed out from now on.
pub async fn archive_settings(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<ArchiveForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let code_ok = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_alphanumeric())
    };
    let mut e = FieldErrors::default();
    let (fonds, category, retention) = (
        form.fonds.trim().to_uppercase(),
        form.category.trim().to_uppercase(),
        form.retention.trim().to_string(),
    );
    if !code_ok(&fonds, 12) {
        e.add(
            "fonds",
            "全宗号为 1–12 位字母或数字，由档案馆给定，如 A001。",
        );
    }
    if !code_ok(&category, 4) {
        e.add("category", "门类代码为 1–4 位字母，文书档案为 WS。");
    }
    if crate::archive::retention_code(&retention).is_none() {
        e.add("retention", "请选择永久、30年或10年。");
    }
    if !e.is_empty() {
        let (f, _) = current(&ctx).await?;
        return index_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, f, form, e);
    }
    let what = format!("档号设置：全宗号 {fonds}，门类代码 {category}，默认保管期限 {retention}");
    change(&ctx, what.clone(), move |c| {
        db::put_setting(c, crate::archive::FONDS_KEY, &fonds)?;
        db::put_setting(c, crate::archive::CATEGORY_CODE_KEY, &category)?;
        db::put_setting(c, crate::archive::RETENTION_KEY, &retention)?;
        Ok(Ok(()))
    })
    .await?
    .ok();
    ctx.flash(
        "ok",
        &format!("已保存{what}。此后销号的档案按新设置编档号；已有档号不变。"),
    );
    Ok(see_other("/settings"))
}

// ---------- holidays ----------

#[derive(Template)]
#[template(path = "settings/holidays.html")]
struct HolidaysPage {
    layout: Layout,
    year: i32,
    years: Vec<i32>,
    rows: Vec<Holiday>,
    form: HolidayForm,
    /// The paste-the-notice form, for this year.
    paste: PasteForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct HolidayForm {
    #[serde(default)]
    day: String,
    #[serde(default)]
    name: String,
    /// "1": 放假; "0": 调休上班.
    #[serde(default)]
    is_off: String,
}

#[derive(Deserialize)]
pub struct YearQuery {
    year: Option<i32>,
}

async fn holidays_page(
    ctx: &Ctx,
    status: StatusCode,
    year: i32,
    form: HolidayForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (rows, mut years) = db::run(ctx.pool(), move |c| {
        Ok((
            config::holidays_of_year(c, year)?,
            config::holiday_years(c)?,
        ))
    })
    .await?;
    let next = years.last().map(|y| y + 1).unwrap_or(year);
    if !years.contains(&next) {
        years.push(next);
    }
    if !years.contains(&year) {
        years.push(year);
        years.sort();
    }
    render_status(
        status,
        &HolidaysPage {
            layout: layout(ctx, "节假日与调休"),
            year,
            years,
            rows,
            form,
            paste: PasteForm {
                year: year.to_string(),
                ..Default::default()
            },
            errors,
        },
    )
}

pub async fn holidays(ctx: Ctx, q: Query<YearQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let year = q
        .year
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or_else(|| china_today().year());
    holidays_page(
        &ctx,
        StatusCode::OK,
        year,
        HolidayForm {
            is_off: "1".into(),
            ..Default::default()
        },
        FieldErrors::default(),
    )
    .await
}

pub async fn holiday_put(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<HolidayForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let mut e = FieldErrors::default();
    let day = NaiveDate::parse_from_str(form.day.trim(), "%Y-%m-%d").ok();
    if day.is_none() {
        e.add("day", "请填写日期，格式如 2027-01-01。");
    }
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 20 {
        e.add("name", "请填写节日名称（不超过 20 字），如“元旦”。");
    }
    let is_off = match form.is_off.as_str() {
        "1" => true,
        "0" => false,
        _ => {
            e.add("is_off", "请选择放假或调休上班。");
            true
        }
    };
    let Some(day) = day.filter(|_| e.is_empty()) else {
        let year = day
            .map(|d| d.year())
            .unwrap_or_else(|| china_today().year());
        return holidays_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, year, form, e).await;
    };
    let kind = if is_off { "放假" } else { "调休上班" };
    let n = name.clone();
    change(
        &ctx,
        format!("节假日：{day} {name}（{kind}）"),
        move |c| {
            config::put_holiday(c, day, &n, is_off)?;
            Ok(Ok(()))
        },
    )
    .await?
    .ok();
    ctx.flash(
        "ok",
        &format!("已设置 {day} 为“{name}”{kind}。此后计算的期限按新日历；已确定的到期时间不变。"),
    );
    Ok(see_other(&format!(
        "/settings/holidays?year={}",
        day.year()
    )))
}

#[derive(Deserialize, Default, Clone)]
pub struct PasteForm {
    #[serde(default)]
    year: String,
    #[serde(default)]
    text: String,
    /// "1" once the preview has been seen.
    #[serde(default)]
    confirm: String,
}

/// One day of a pasted notice as previewed: what it sets and what it replaces.
pub struct PasteDay {
    pub day: NaiveDate,
    pub weekday: &'static str,
    pub name: String,
    pub is_off: bool,
    /// The setting it replaces, if any ("春节 放假").
    pub replaces: String,
}

#[derive(Template)]
#[template(path = "settings/holidays_paste.html")]
struct PastePage {
    layout: Layout,
    paste: PasteForm,
    days: Vec<PasteDay>,
    problems: Vec<String>,
    errors: FieldErrors,
}

/// The paste page again with why nothing was saved (422).
fn paste_refused(
    ctx: &Ctx,
    paste: PasteForm,
    problems: Vec<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &PastePage {
            layout: layout(ctx, "粘贴放假通知"),
            paste,
            days: Vec::new(),
            problems,
            errors,
        },
    )
}

/// Paste the 国务院办公厅 notice for a year: first a preview of every day it sets, then,
/// confirmed, all of them in one transaction.
pub async fn holiday_paste(
    ctx: Ctx,
    upload: crate::web::upload::CsrfUpload<PasteForm, crate::web::upload::Calendars>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let crate::web::upload::CsrfUpload {
        mut form,
        files,
        file_errors,
        ..
    } = upload;
    // An uploaded JSON calendar stands for the pasted text (and is carried as text into
    // the preview's confirmation).
    if let Some(why) = file_errors.first() {
        return paste_refused(&ctx, form, Vec::new(), one_error("file", why));
    }
    if let Some(f) = files.first() {
        let path = f.tmp.clone();
        let bytes = web::block(move || std::fs::read(path))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
        match crate::import::decode(&bytes) {
            Ok(text) => form.text = text,
            Err(why) => return paste_refused(&ctx, form, Vec::new(), one_error("file", &why)),
        }
    }
    let Some(year) = form
        .year
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
    else {
        return paste_refused(
            &ctx,
            form,
            Vec::new(),
            one_error("year", "请填写年度，如 2027。"),
        );
    };
    let days = match crate::messages::notice::parse(year, &form.text) {
        Ok(days) => days,
        Err(problems) => {
            let errors = one_error("text", "通知中有内容无法识别，见下方说明。");
            return paste_refused(&ctx, form, problems, errors);
        }
    };
    if form.confirm != "1" {
        let existing = db::run(ctx.pool(), move |c| {
            Ok::<_, AppError>(config::holidays_of_year(c, year)?)
        })
        .await?;
        let days = days
            .into_iter()
            .map(|(day, name, is_off)| PasteDay {
                weekday: crate::clock::weekday_cn(day),
                replaces: existing
                    .iter()
                    .find(|h| h.day == day)
                    .map(|h| format!("{} {}", h.name, if h.is_off { "放假" } else { "调休上班" }))
                    .unwrap_or_default(),
                day,
                name,
                is_off,
            })
            .collect();
        return render_status(
            StatusCode::OK,
            &PastePage {
                layout: layout(&ctx, "粘贴放假通知"),
                paste: form,
                days,
                problems: Vec::new(),
                errors: FieldErrors::default(),
            },
        );
    }
    let n = days.len();
    change(
        &ctx,
        format!("节假日：按放假通知设置 {year} 年 {n} 天"),
        move |c| {
            for (day, name, is_off) in &days {
                config::put_holiday(c, *day, name, *is_off)?;
            }
            Ok(Ok(()))
        },
    )
    .await?
    .ok();
    ctx.flash(
        "ok",
        &format!("已按放假通知设置 {year} 年 {n} 天（放假和调休上班）。此后计算的期限按新日历；已确定的到期时间不变。"),
    );
    Ok(see_other(&format!("/settings/holidays?year={year}")))
}

pub async fn holiday_delete(
    ctx: Ctx,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let day = NaiveDate::parse_from_str(&path.into_inner(), "%Y-%m-%d")
        .map_err(|_| AppError::NotFound)?;
    change(&ctx, format!("删除节假日：{day}"), move |c| {
        if config::delete_holiday(c, day)? == 0 {
            return Err(AppError::NotFound);
        }
        Ok(Ok(()))
    })
    .await?
    .ok();
    ctx.flash(
        "ok",
        &format!("已删除 {day} 的节假日设置，该日按普通日期（周一至周五上班）计算。"),
    );
    Ok(see_other(&format!(
        "/settings/holidays?year={}",
        day.year()
    )))
}

#[derive(Deserialize)]
pub struct NoFields {}

// ---------- lists ----------

pub struct ListSection {
    pub kind: &'static str,
    pub label: &'static str,
    pub rows: Vec<OptionRow>,
}

#[derive(Template)]
#[template(path = "settings/lists.html")]
struct ListsPage {
    layout: Layout,
    sections: Vec<ListSection>,
    form: OptionForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct OptionForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
}

async fn lists_page(
    ctx: &Ctx,
    status: StatusCode,
    form: OptionForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let all = db::run(ctx.pool(), |c| Ok(config::all_options(c)?)).await?;
    let sections = [
        config::LEVEL,
        config::PLATFORM,
        config::CATEGORY,
        config::HOT_NAME,
    ]
    .into_iter()
    .map(|kind| ListSection {
        kind,
        label: config::kind_label(kind),
        rows: all.iter().filter(|o| o.kind == kind).cloned().collect(),
    })
    .collect();
    render_status(
        status,
        &ListsPage {
            layout: layout(ctx, "选项列表"),
            sections,
            form,
            errors,
        },
    )
}

pub async fn lists(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    lists_page(
        &ctx,
        StatusCode::OK,
        OptionForm::default(),
        FieldErrors::default(),
    )
    .await
}

pub async fn list_add(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<OptionForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let f = form.clone();
    let label = config::kind_label(&form.kind);
    let out = change(
        &ctx,
        format!("{label}列表新增：{}", form.value.trim()),
        move |c| {
            Ok(config::add_option(c, &f.kind, &f.value)?
                .map_err(|e| one_error(&format!("value-{}", f.kind), &e)))
        },
    )
    .await?;
    match out {
        Ok(()) => {
            // A name for 热点发现: the worker reads the year's names again.
            ctx.state.hot.wake();
            ctx.flash(
                "ok",
                &format!("已在{label}列表中新增“{}”。", form.value.trim()),
            );
            Ok(see_other("/settings/lists"))
        }
        Err(e) => lists_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, form, e).await,
    }
}

pub async fn list_active(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<crate::web::admin::ActiveForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let id = path.into_inner();
    let active = form.active == "1";
    let word = if active { "启用" } else { "停用" };
    let value = change(&ctx, format!("选项{word}：#{id}"), move |c| {
        Ok(Ok(
            config::set_option_active(c, id, active)?.ok_or(AppError::NotFound)?
        ))
    })
    .await?
    .map_err(|_| AppError::NotFound)?;
    ctx.state.hot.wake();
    ctx.flash(
        "ok",
        &format!(
            "已{word}“{value}”。{}",
            if active {
                ""
            } else {
                "已使用该值的留言不受影响，新登记时不再可选。"
            }
        ),
    );
    Ok(see_other("/settings/lists"))
}

// ---------- deadline rules ----------

#[derive(Template)]
#[template(path = "settings/rules.html")]
struct RulesPage {
    layout: Layout,
    rules: Vec<Rule>,
    levels: Vec<Choice>,
    platforms: Vec<Choice>,
    categories: Vec<Choice>,
    form: RuleForm,
    errors: FieldErrors,
    default_days: i32,
}

#[derive(Deserialize, Default, Clone)]
pub struct RuleForm {
    #[serde(default)]
    level: String,
    #[serde(default)]
    source_platform: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    reply_days: String,
    #[serde(default)]
    note: String,
}

fn plain(values: Vec<String>) -> Vec<Choice> {
    values
        .into_iter()
        .map(|v| Choice {
            label: v.clone(),
            value: v,
            disabled: false,
        })
        .collect()
}

type Lists = (Vec<String>, Vec<String>, Vec<String>);

fn load_lists(c: &mut DbConn) -> Result<Lists, AppError> {
    Ok((
        config::list(c, config::LEVEL)?,
        config::list(c, config::PLATFORM)?,
        config::list(c, config::CATEGORY)?,
    ))
}

async fn rules_page(
    ctx: &Ctx,
    status: StatusCode,
    form: RuleForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (rules, (levels, platforms, categories)) =
        db::run(ctx.pool(), |c| Ok((config::rules(c)?, load_lists(c)?))).await?;
    render_status(
        status,
        &RulesPage {
            layout: layout(ctx, "答复期限规则"),
            rules,
            levels: plain(levels),
            platforms: plain(platforms),
            categories: plain(categories),
            form,
            errors,
            default_days: config::DEFAULT_REPLY_DAYS,
        },
    )
}

pub async fn rules(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    rules_page(
        &ctx,
        StatusCode::OK,
        RuleForm::default(),
        FieldErrors::default(),
    )
    .await
}

pub async fn rule_save(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let f = form.clone();
    let what = format!(
        "答复期限规则：{}/{}/{} → {} 个工作日",
        or_any(&form.level),
        or_any(&form.source_platform),
        or_any(&form.category),
        form.reply_days.trim()
    );
    let out = change(&ctx, what.clone(), move |c| {
        let lists = load_lists(c)?;
        match config::check_rule(
            &f.level,
            &f.source_platform,
            &f.category,
            &f.reply_days,
            &f.note,
            (&lists.0, &lists.1, &lists.2),
        ) {
            Ok(rule) => {
                config::save_rule(c, &rule)?;
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    })
    .await?;
    match out {
        Ok(()) => {
            ctx.flash(
                "ok",
                &format!("已保存{what}。此后转办的留言按新规则计算到期时间。"),
            );
            Ok(see_other("/settings/rules"))
        }
        Err(e) => rules_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, form, e).await,
    }
}

fn or_any(s: &str) -> &str {
    if s.trim().is_empty() {
        "任意"
    } else {
        s.trim()
    }
}

pub async fn rule_delete(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let id = path.into_inner();
    change(&ctx, format!("删除答复期限规则 #{id}"), move |c| {
        if config::delete_rule(c, id)? == 0 {
            return Err(AppError::NotFound);
        }
        Ok(Ok(()))
    })
    .await?
    .ok();
    ctx.flash(
        "ok",
        &format!(
            "已删除该规则；没有规则匹配的留言按默认 {} 个工作日答复。",
            config::DEFAULT_REPLY_DAYS
        ),
    );
    Ok(see_other("/settings/rules"))
}

// ---------- reply templates ----------

pub struct TemplateRow {
    pub t: ReplyTemplate,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "settings/templates.html")]
struct TemplatesPage {
    layout: Layout,
    rows: Vec<TemplateRow>,
    categories: Vec<Choice>,
    form: TemplateForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct TemplateForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    active: String,
}

#[derive(Deserialize)]
pub struct EditQuery {
    edit: Option<i32>,
}

async fn templates_page(
    ctx: &Ctx,
    status: StatusCode,
    form: TemplateForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (all, cats) = db::run(ctx.pool(), |c| {
        Ok((
            config::all_templates(c)?,
            config::list(c, config::CATEGORY)?,
        ))
    })
    .await?;
    let mut categories = vec![config::GENERAL.to_string()];
    categories.extend(cats);
    render_status(
        status,
        &TemplatesPage {
            layout: layout(ctx, "答复模板"),
            rows: all
                .into_iter()
                .map(|t| TemplateRow {
                    updated: format_time(t.updated_at),
                    t,
                })
                .collect(),
            categories: plain(categories),
            form,
            errors,
        },
    )
}

pub async fn templates(ctx: Ctx, q: Query<EditQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let form = match q.edit {
        Some(id) => {
            let t = db::run(ctx.pool(), move |c| Ok(config::find_template(c, id)?))
                .await?
                .ok_or(AppError::NotFound)?;
            TemplateForm {
                id: t.id.to_string(),
                category: t.category,
                title: t.title,
                body: t.body,
                active: if t.active { "1".into() } else { String::new() },
            }
        }
        None => TemplateForm {
            active: "1".into(),
            ..Default::default()
        },
    };
    templates_page(&ctx, StatusCode::OK, form, FieldErrors::default()).await
}

pub async fn template_save(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let f = form.clone();
    let title = form.title.trim().to_string();
    let out = change(&ctx, format!("答复模板：{title}"), move |c| {
        let mut e = FieldErrors::default();
        let cats = config::list(c, config::CATEGORY)?;
        let category = f.category.trim();
        if category != config::GENERAL && !cats.iter().any(|x| x == category) {
            e.add("category", "请选择所属类型（或“通用”）。");
        }
        let title = f.title.trim();
        if title.is_empty() || title.chars().count() > 50 {
            e.add("title", "请填写模板名称（不超过 50 字）。");
        }
        let body = f.body.trim();
        if body.is_empty() || body.chars().count() > 5000 {
            e.add("body", "请填写模板内容（不超过 5000 字）。");
        }
        let id = match f.id.trim() {
            "" => None,
            s => Some(s.parse::<i32>().map_err(|_| AppError::NotFound)?),
        };
        if let Some(id) = id {
            config::find_template(c, id)?.ok_or(AppError::NotFound)?;
        }
        if !e.is_empty() {
            return Ok(Err(e));
        }
        config::save_template(c, id, category, title, body, f.active == "1")?;
        Ok(Ok(()))
    })
    .await?;
    match out {
        Ok(()) => {
            ctx.flash(
                "ok",
                &format!("已保存答复模板“{title}”。办理人员答复时可在“答复模板”中选用。"),
            );
            Ok(see_other("/settings/templates"))
        }
        Err(e) => templates_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, form, e).await,
    }
}
