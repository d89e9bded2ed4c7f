//! 导入: upload a platform export, map its columns (remembered per platform), preview
//! with every row's problems, then commit all rows in one transaction or none.

use std::path::PathBuf;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::roles::{Role, UnitKind};
use crate::db;
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::import::staging::Staging;
use crate::import::{self, Checked, Defaults, Mapping, TARGETS};
use crate::messages::config;
use crate::messages::lifecycle::State;
use crate::messages::service::Acting;
use crate::units::{self, Unit};
use crate::web::ctx::{Ctx, Layout};
use crate::web::upload::{CsrfUpload, Spreadsheets};
use crate::web::Choice;
use crate::web::{render_status, see_other};

const IMPORTERS: &[Role] = &[Role::CityOperator, Role::CountyOperator];

fn staging(ctx: &Ctx) -> Staging {
    Staging::new(&ctx.state.config.data_dir)
}

/// The uploaded file behind a token, if it is this user's.
fn token_path(ctx: &Ctx, token: &str) -> Result<PathBuf, AppError> {
    staging(ctx).path(ctx.user.id, token)
}

#[derive(Deserialize, Default, Clone)]
pub struct ImportForm {
    #[serde(default)]
    platform: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    reply_unit: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    file_name: String,
    /// What a message carrying the platform's reply becomes: `replied` (待审核) or
    /// `closed` (已办结); chosen in the preview.
    #[serde(default)]
    answered: String,
}

impl ImportForm {
    fn defaults(&self) -> Defaults {
        Defaults {
            platform: self.platform.clone(),
            level: self.level.clone(),
            category: self.category.clone(),
            reply_unit: self.reply_unit.parse().ok(),
        }
    }
}

struct Options {
    platforms: Vec<Choice>,
    levels: Vec<Choice>,
    categories: Vec<Choice>,
    units: Vec<Choice>,
}

fn plain(v: Vec<String>) -> Vec<Choice> {
    v.into_iter()
        .map(|x| Choice {
            label: x.clone(),
            value: x,
            disabled: false,
        })
        .collect()
}

/// Units whose replies may be imported: what this importer may assign to.
fn reply_units(ctx: &Ctx, all: &[Unit]) -> Vec<Unit> {
    all.iter()
        .filter(|u| crate::messages::service::assignable(all, ctx.unit.id, u))
        .filter(|u| ctx.role == Role::CityOperator || u.kind() == Some(UnitKind::SubUnit))
        .cloned()
        .collect()
}

async fn options(ctx: &Ctx) -> Result<Options, AppError> {
    let (p, l, c, all) = db::run(ctx.pool(), |c| {
        Ok((
            config::list(c, config::PLATFORM)?,
            config::list(c, config::LEVEL)?,
            config::list(c, config::CATEGORY)?,
            units::all(c)?,
        ))
    })
    .await?;
    Ok(Options {
        platforms: plain(p),
        levels: plain(l),
        categories: plain(c),
        units: reply_units(ctx, &all)
            .into_iter()
            .map(|u| Choice {
                value: u.id.to_string(),
                label: u.name,
                disabled: false,
            })
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "import/upload.html")]
struct UploadPage {
    layout: Layout,
    form: ImportForm,
    errors: FieldErrors,
    platforms: Vec<Choice>,
    levels: Vec<Choice>,
    categories: Vec<Choice>,
    units: Vec<Choice>,
    max_upload_mb: u64,
}

async fn upload_page(
    ctx: &Ctx,
    status: StatusCode,
    form: ImportForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let o = options(ctx).await?;
    render_status(
        status,
        &UploadPage {
            layout: ctx
                .layout("导入留言")
                .crumb("留言列表", "/messages")
                .crumb("导入留言", ""),
            form,
            errors,
            platforms: o.platforms,
            levels: o.levels,
            categories: o.categories,
            units: o.units,
            max_upload_mb: ctx.state.config.max_upload_mb,
        },
    )
}

pub async fn start(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(IMPORTERS)?;
    let form = ImportForm {
        level: if ctx.role == Role::CountyOperator {
            crate::messages::service::COUNTY_LEVEL.to_string()
        } else {
            "市级".to_string()
        },
        ..Default::default()
    };
    upload_page(&ctx, StatusCode::OK, form, FieldErrors::default()).await
}

/// Receive the file, keep it for the next steps, and show the column mapping.
pub async fn upload(
    ctx: Ctx,
    up: CsrfUpload<ImportForm, Spreadsheets>,
) -> Result<HttpResponse, AppError> {
    ctx.require(IMPORTERS)?;
    let CsrfUpload {
        mut form,
        files,
        file_errors,
        ..
    } = up;
    let mut e = FieldErrors::default();
    for fe in &file_errors {
        e.add("file", fe);
    }
    if files.is_empty() && file_errors.is_empty() {
        e.add("file", "请选择要导入的 Excel 或 CSV 文件。");
    }
    if form.platform.is_empty() {
        e.add("platform", "请选择留言来源平台。");
    }
    let Some(file) = files.into_iter().next().filter(|_| e.is_empty()) else {
        return upload_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, form, e).await;
    };
    let token = staging(&ctx).keep(ctx.user.id, &file)?;
    let (actor, platform) = (ctx.actor(), form.platform.clone());
    let original_name = file.original_name.clone();
    db::run(ctx.pool(), move |c| {
        import::staging::record_upload(c, &actor, &file, &platform)
    })
    .await?;
    form.token = token;
    form.file_name = original_name;
    map_page(&ctx, form, None, FieldErrors::default()).await
}

pub struct MapRow {
    pub key: &'static str,
    pub label: &'static str,
    pub required: bool,
    /// The chosen column index as text ("" for none).
    pub selected: String,
}

#[derive(Template)]
#[template(path = "import/map.html")]
struct MapPage {
    layout: Layout,
    form: ImportForm,
    headers: Vec<String>,
    samples: Vec<Vec<String>>,
    rows: usize,
    map: Vec<MapRow>,
    errors: FieldErrors,
}

async fn map_page(
    ctx: &Ctx,
    form: ImportForm,
    mapping: Option<Mapping>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let path = token_path(ctx, &form.token)?;
    let name = form.file_name.clone();
    let limits = ctx.state.config.import_limits;
    let table = web::block(move || Staging::table(&path, &name, &limits))
        .await
        .map_err(AppError::internal)?;
    let table = match table {
        Ok(t) => t,
        Err(msg) => {
            let mut e = FieldErrors::default();
            e.add("file", &msg);
            return upload_page(ctx, StatusCode::UNPROCESSABLE_ENTITY, form, e).await;
        }
    };
    let platform = form.platform.clone();
    let remembered = db::run(ctx.pool(), move |c| {
        Ok(import::remembered_mapping(c, &platform)?)
    })
    .await?;
    let mapping =
        mapping.unwrap_or_else(|| import::initial_mapping(&table.headers, remembered.as_deref()));
    let map = map_rows(&mapping);
    let samples = table
        .rows
        .iter()
        .take(3)
        .map(|(_, cells)| {
            cells
                .iter()
                .map(|c| c.text().chars().take(40).collect())
                .collect()
        })
        .collect();
    render_status(
        if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        &MapPage {
            layout: ctx
                .layout("导入留言：对应列")
                .crumb("导入留言", "/import")
                .crumb("对应列", ""),
            rows: table.rows.len(),
            headers: table.headers,
            samples,
            map,
            form,
            errors,
        },
    )
}

/// The mapping's choices as the form shows them (one select per target).
fn map_rows(mapping: &Mapping) -> Vec<MapRow> {
    TARGETS
        .iter()
        .map(|(key, label, required)| MapRow {
            key,
            label,
            required: *required,
            selected: mapping
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, c)| *c)
                .map(|c| c.to_string())
                .unwrap_or_default(),
        })
        .collect()
}

/// A mapping as one line (the preview records which one it checked).
fn mapping_line(mapping: &Mapping) -> String {
    mapping
        .iter()
        .map(|(k, c)| format!("{k}={}", c.map(|c| c.to_string()).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The mapping as submitted: `map_<target>` = column index or empty.
fn mapping_of(pairs: &[(String, String)]) -> Mapping {
    TARGETS
        .iter()
        .map(|(key, _, _)| {
            let col = pairs
                .iter()
                .find(|(k, _)| *k == format!("map_{key}"))
                .and_then(|(_, v)| v.parse().ok());
            (key.to_string(), col)
        })
        .collect()
}

fn form_of(pairs: &[(String, String)]) -> ImportForm {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    ImportForm {
        platform: get("platform"),
        level: get("level"),
        category: get("category"),
        reply_unit: get("reply_unit"),
        token: get("token"),
        file_name: get("file_name"),
        answered: get("answered"),
    }
}

/// Earlier messages a row may repeat: (id, "留言文号（how found）").
type Repeats = Vec<(i32, String)>;

pub struct PreviewRow {
    pub line: usize,
    pub title: String,
    pub name: String,
    pub posted: String,
    pub category: String,
    pub reply: String,
    pub repeats: Repeats,
    /// Why the file-wide check takes it for a repeat (the same phone as an earlier row …).
    pub file_why: Option<String>,
    /// The 核办单位 智能分拨 proposes for it (pre-selected at its 转办 after the import).
    pub proposals: Vec<crate::dispatch::Proposal>,
}

#[derive(Template)]
#[template(path = "import/preview.html")]
struct PreviewPage {
    layout: Layout,
    form: ImportForm,
    /// The mapping, editable here; `checked` is the one these results are for.
    map: Vec<MapRow>,
    headers: Vec<String>,
    checked: String,
    /// Rows that may be repeats, every row checked: (line, why), the first 200.
    file_repeats: Vec<(usize, String)>,
    file_repeat_count: usize,
    valid: usize,
    preview: Vec<PreviewRow>,
    errors: Vec<import::RowError>,
    more_errors: usize,
    repeats: Vec<(usize, String)>,
    /// Rows that carry the platform's reply, and the states they may enter in.
    answered_rows: usize,
    answered_states: Vec<Choice>,
}

/// Back to the upload page with the file's problem.
async fn file_problem(ctx: &Ctx, form: ImportForm, msg: &str) -> Result<HttpResponse, AppError> {
    let mut e = FieldErrors::default();
    e.add("file", msg);
    upload_page(ctx, StatusCode::UNPROCESSABLE_ENTITY, form, e).await
}

/// Read and check the file with the mapping (on every step: the preview is never trusted).
async fn checked(
    ctx: &Ctx,
    form: &ImportForm,
    mapping: &Mapping,
) -> Result<Result<Checked, String>, AppError> {
    let path = token_path(ctx, &form.token)?;
    let (name, mapping, defaults) = (form.file_name.clone(), mapping.clone(), form.defaults());
    let platform = form.platform.clone();
    let limits = ctx.state.config.import_limits;
    db::run(ctx.pool(), move |c| {
        let table = match Staging::table(&path, &name, &limits) {
            Ok(t) => t,
            Err(msg) => return Ok(Err(msg)),
        };
        let levels = config::list(c, config::LEVEL)?;
        let categories = config::list(c, config::CATEGORY)?;
        let existing = import::existing_refs(c, &platform)?;
        Ok(Ok(import::check(
            &table,
            &mapping,
            &defaults,
            &import::Lists {
                levels: &levels,
                categories: &categories,
                existing_refs: &existing,
            },
            db::now(),
        )))
    })
    .await
}

pub async fn preview(
    ctx: Ctx,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(IMPORTERS)?;
    let form = form_of(&pairs);
    let mapping = mapping_of(&pairs);
    let c = match checked(&ctx, &form, &mapping).await? {
        Ok(c) => c,
        Err(msg) => return file_problem(&ctx, form, &msg).await,
    };
    let shown = 200;
    // Possible repeats of the rows shown, looked up as at 登记, and the units 智能分拨
    // proposes for them (as the 转办 form will, this unit owning the imported messages).
    let probes: Vec<import::ValidRow> = c.valid.iter().take(20).cloned().collect();
    // Every row, by 联系方式 against the archive and by 联系方式 or 反映人 + 标题 within
    // the file (the text comparison runs for the rows shown).
    let every: Vec<(usize, String, String, String)> = c
        .valid
        .iter()
        .map(|r| (r.line, r.name.clone(), r.contact.clone(), r.title.clone()))
        .collect();
    let (role, unit) = (ctx.role, ctx.unit.id);
    let state = ctx.state.clone();
    let (looked_up, file_repeats): (Vec<(Repeats, Vec<crate::dispatch::Proposal>)>, _) =
        db::run(ctx.pool(), move |conn| {
            let scope = crate::messages::model::scope_for(conn, role, unit)?;
            let window = crate::messages::repeats::window_days(conn)?;
            let units = crate::reference::get(conn, &state.cache)?.units.clone();
            let model = state.dispatch.current(conn, crate::dispatch::store::UNIT)?;
            let mut out = Vec::new();
            for r in &probes {
                let proposals = crate::dispatch::propose(
                    &units,
                    model.as_ref().map(|(_, m)| m.as_ref()),
                    &r.title,
                    &r.appeal,
                    |u| crate::messages::service::assignable(&units, unit, u),
                );
                let found = crate::messages::repeats::find(
                    conn,
                    &scope,
                    &crate::messages::repeats::Probe {
                        id: None,
                        platform_ref: None,
                        name: &r.name,
                        contact: &r.contact,
                        title: &r.title,
                        appeal: &r.appeal,
                        posted_at: r.posted_at,
                    },
                    window,
                )?;
                out.push((
                    found
                        .into_iter()
                        .take(3)
                        .map(|x| (x.msg.id, format!("{}（{}）", x.msg.ref_no, x.why.label())))
                        .collect(),
                    proposals,
                ));
            }
            let rows: Vec<crate::messages::repeats::FileRow<'_>> = every
                .iter()
                .map(|(l, n, c, t)| (*l, n.as_str(), c.as_str(), t.as_str()))
                .collect();
            let file = crate::messages::repeats::in_file(conn, &scope, &rows)?;
            Ok::<_, AppError>((out, file))
        })
        .await?;
    let mut file_why: std::collections::HashMap<usize, String> = file_repeats
        .iter()
        .take_while(|(line, _)| c.valid.get(19).is_none_or(|last| *line <= last.line))
        .cloned()
        .collect();
    render_status(
        if c.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        &PreviewPage {
            layout: ctx
                .layout("导入留言：预览")
                .crumb("导入留言", "/import")
                .crumb("预览", ""),
            map: map_rows(&mapping),
            headers: c.headers.clone(),
            checked: mapping_line(&mapping),
            file_repeat_count: file_repeats.len(),
            file_repeats: file_repeats.into_iter().take(shown).collect(),
            valid: c.valid.len(),
            preview: c
                .valid
                .iter()
                .take(20)
                .zip(looked_up)
                .map(|(r, (repeats, proposals))| PreviewRow {
                    repeats,
                    file_why: file_why.remove(&r.line),
                    proposals,
                    line: r.line,
                    title: r.title.clone(),
                    name: r.name.clone(),
                    posted: crate::clock::format_time(r.posted_at),
                    category: r.category.clone(),
                    reply: r
                        .reply
                        .as_ref()
                        .map(|(t, at)| {
                            format!(
                                "{}：{}",
                                crate::clock::format_time(*at),
                                t.chars().take(30).collect::<String>()
                            )
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            answered_rows: c.valid.iter().filter(|r| r.reply.is_some()).count(),
            answered_states: import::ANSWERED_STATES
                .iter()
                .map(|st| Choice {
                    value: st.as_str().to_string(),
                    label: match st {
                        State::Closed => "已办结（平台答复即办结，待回访）".to_string(),
                        _ => "待审核（由本中心审核平台答复）".to_string(),
                    },
                    disabled: false,
                })
                .collect(),
            more_errors: c.error_count.saturating_sub(shown),
            errors: c.errors.into_iter().take(shown).collect(),
            repeats: c.repeats,
            form,
        },
    )
}

pub async fn commit(
    ctx: Ctx,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(IMPORTERS)?;
    let form = form_of(&pairs);
    let mapping = mapping_of(&pairs);
    let c = match checked(&ctx, &form, &mapping).await? {
        Ok(c) => c,
        Err(msg) => return file_problem(&ctx, form, &msg).await,
    };
    let confirmed = pairs
        .iter()
        .find(|(k, _)| k == "checked")
        .map(|(_, v)| v.as_str());
    if !c.errors.is_empty() || confirmed != Some(mapping_line(&mapping).as_str()) {
        // Nothing is imported while any row is wrong, nor with a mapping changed since
        // the preview was read: show the preview (with the reasons, or for the new
        // mapping) again.
        return preview(ctx, CsrfForm(pairs)).await;
    }
    let path = token_path(&ctx, &form.token)?;
    let acting = Acting {
        username: ctx.user.username.clone(),
        ip: ctx.ip.clone(),
        user_id: ctx.user.id,
        name: ctx.user.display_name.clone(),
        unit_id: ctx.unit.id,
        role: ctx.role,
    };
    let (me, actor, f) = (ctx.unit.clone(), ctx.actor(), form.clone());
    let remembered: Vec<(String, String)> = {
        let p2 = path.clone();
        let name = form.file_name.clone();
        let limits = ctx.state.config.import_limits;
        let table = web::block(move || Staging::table(&p2, &name, &limits))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::BadRequest)?;
        mapping
            .iter()
            .filter_map(|(k, c)| {
                c.and_then(|c| table.headers.get(c))
                    .map(|h| (k.clone(), h.clone()))
            })
            .collect()
    };
    let (valid, repeats) = (c.valid, c.repeats.len());
    let n = db::run(ctx.pool(), move |conn| {
        let all = units::all(conn)?;
        let reply_unit = f
            .reply_unit
            .parse::<i32>()
            .ok()
            .and_then(|id| all.iter().find(|u| u.id == id))
            .filter(|u| crate::messages::service::assignable(&all, me.id, u))
            .cloned();
        let cal = config::calendar(conn)?;
        let answered = State::parse(&f.answered)
            .filter(|s| import::ANSWERED_STATES.contains(s))
            .unwrap_or(State::Replied);
        import::commit(
            conn,
            &actor,
            &remembered,
            &acting,
            &me,
            reply_unit.as_ref(),
            answered,
            &valid,
            &f.platform,
            &f.file_name,
            &cal,
        )
    })
    .await?;
    ctx.state.hot.wake();
    Staging::remove(&path);
    ctx.flash(
        "ok",
        &format!(
            "已导入 {n} 条留言{}。列对应关系已记住，下次导入“{}”的文件时自动套用。",
            if repeats > 0 {
                format!("，跳过已存在或重复的 {repeats} 条")
            } else {
                String::new()
            },
            form.platform
        ),
    );
    Ok(see_other(&format!(
        "/messages?platform={}",
        crate::web::utf8_percent(&form.platform)
    )))
}

/// Show the mapping again (after going back from the preview).
pub async fn remap(
    ctx: Ctx,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(IMPORTERS)?;
    let form = form_of(&pairs);
    let mapping = mapping_of(&pairs);
    map_page(&ctx, form, Some(mapping), FieldErrors::default()).await
}
