//! 量化积分考评 pages: the scoreboard, a unit's score with every line explained, the
//! year's rules, manual entries and reversals, 定稿, and the documents that follow.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::attachments::Store;
use crate::auth::csrf::CsrfForm;
use crate::auth::roles::Role;
use crate::clock::china_today;
use crate::db;
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::scoring::{self, points_text, store, Grade, Rules, Score};
use crate::units::{self, Unit};
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::extract::Query;
use crate::web::upload::CsrfUpload;
use crate::web::{render, render_status, see_other};

const ALL: &[Role] = &[Role::CityOperator, Role::CityLeader];
const ANY: &[Role] = &[
    Role::CityOperator,
    Role::CityLeader,
    Role::CountyOperator,
    Role::DeptOperator,
];

#[derive(Deserialize, Default, Clone)]
pub struct YearQuery {
    year: Option<i32>,
    /// YYYY-MM-DD: year to date at that day.
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    sort: String,
}

fn year_and_day(q: &YearQuery) -> (i32, NaiveDate) {
    let today = china_today();
    let year = q
        .year
        .filter(|y| (2000..=today.year() + 1).contains(y))
        .unwrap_or(today.year());
    let year_end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today);
    let as_of = NaiveDate::parse_from_str(q.as_of.trim(), "%Y-%m-%d")
        .ok()
        // What has not happened yet is not scored: never past today.
        .filter(|d| d.year() == year && *d <= today)
        .unwrap_or(today.min(year_end));
    (year, as_of)
}

// ---------- scoreboard ----------

impl BoardRow {
    /// Ranked (rank 0: no messages in the year).
    pub fn ranked(&self) -> bool {
        self.rank > 0
    }
}

/// The grade as shown: a unit without messages in the year (rank 0) is 无留言.
fn grade_shown(s: &Score, rank: usize) -> (&'static str, &'static str) {
    if rank == 0 {
        ("无留言", "grade-none")
    } else {
        (s.grade.label(), s.grade.css())
    }
}

pub struct BoardRow {
    pub unit_id: i32,
    pub name: String,
    pub total: String,
    pub grade: &'static str,
    pub grade_css: &'static str,
    pub rank: usize,
    pub counts: Vec<i64>,
}

/// How many units are 合格, 基本合格, 不合格.
/// How many units are 合格, 基本合格, 不合格, and without messages (not ranked).
fn grade_counts(rows: &[BoardRow]) -> [usize; 4] {
    let [a, b, c] = [Grade::Pass, Grade::Basic, Grade::Fail].map(|g| {
        rows.iter()
            .filter(|r| r.rank > 0 && r.grade == g.label())
            .count()
    });
    [a, b, c, rows.iter().filter(|r| r.rank == 0).count()]
}

#[derive(Template)]
#[template(path = "scores/board.html")]
struct BoardPage {
    layout: Layout,
    year: i32,
    as_of: String,
    frozen: bool,
    finalised: String,
    items: Vec<(String, String)>,
    rows: Vec<BoardRow>,
    grades: [usize; 4],
    sort: String,
    is_centre: bool,
}

pub async fn index(ctx: Ctx, q: Query<YearQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(ANY)?;
    if !ALL.contains(&ctx.role) {
        return Ok(see_other(&format!("/scores/unit/{}", ctx.unit.id)));
    }
    let q = q.into_inner();
    let (year, as_of) = year_and_day(&q);
    let state = ctx.state.clone();
    let (y, rows, frozen) = db::run(ctx.pool(), move |c| {
        scoring::board::board(c, &state.cache, year, as_of)
    })
    .await?;
    let mut rows: Vec<BoardRow> = rows
        .iter()
        .map(|(u, s, rank)| BoardRow {
            unit_id: u.id,
            name: u.short_name.clone(),
            total: points_text(s.total),
            grade: grade_shown(s, *rank).0,
            grade_css: grade_shown(s, *rank).1,
            rank: *rank,
            counts: y.rules.items.iter().map(|i| s.count(&i.code)).collect(),
        })
        .collect();
    match q.sort.as_str() {
        "name" => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        code if code.starts_with('D') || code.starts_with('B') => {
            if let Some(i) = y.rules.items.iter().position(|it| it.code == code) {
                rows.sort_by_key(|r| (-r.counts[i], r.rank));
            }
        }
        _ => {}
    }
    let grades = grade_counts(&rows);
    render(&BoardPage {
        layout: ctx
            .layout(&format!("{year} 年度量化积分考评"))
            .crumb("量化考评", ""),
        year,
        as_of: as_of.to_string(),
        frozen,
        finalised: y
            .finalised
            .as_ref()
            .map(|(t, by)| format!("{} 由 {by} 定稿", format_time(*t)))
            .unwrap_or_default(),
        items: y
            .rules
            .items
            .iter()
            .map(|i| (i.code.clone(), i.name.clone()))
            .collect(),
        rows,
        grades,
        sort: q.sort,
        is_centre: ctx.role == Role::CityOperator,
    })
}

/// The scoreboard as XLSX.
pub async fn export(ctx: Ctx, q: Query<YearQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(ALL)?;
    let (year, as_of) = year_and_day(&q);
    let state = ctx.state.clone();
    let (y, rows, _) = db::run(ctx.pool(), move |c| {
        scoring::board::board(c, &state.cache, year, as_of)
    })
    .await?;
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal(e);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("量化积分考评").map_err(x)?;
    let head = Format::new().set_bold().set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    ws.write(
        0,
        0,
        format!("{year} 年度网民留言办理量化积分考评（截至 {as_of}）"),
    )
    .map_err(x)?;
    let mut headers = vec![
        "名次".to_string(),
        "单位".into(),
        "得分".into(),
        "等次".into(),
    ];
    headers.extend(y.rules.items.iter().map(|i| format!("{}（次）", i.name)));
    for (i, h) in headers.iter().enumerate() {
        ws.write_with_format(1, i as u16, h, &head).map_err(x)?;
    }
    for (r, (u, s, rank)) in rows.iter().enumerate() {
        let r = r as u32 + 2;
        if *rank == 0 {
            ws.write_with_format(r, 0, "—", &cell).map_err(x)?;
        } else {
            ws.write_with_format(r, 0, *rank as u32, &cell).map_err(x)?;
        }
        ws.write_with_format(r, 1, &u.name, &cell).map_err(x)?;
        ws.write_with_format(r, 2, s.total as f64 / 10.0, &cell)
            .map_err(x)?;
        ws.write_with_format(r, 3, s.grade.label(), &cell)
            .map_err(x)?;
        for (i, it) in y.rules.items.iter().enumerate() {
            ws.write_with_format(r, 4 + i as u16, s.count(&it.code) as f64, &cell)
                .map_err(x)?;
        }
    }
    ws.set_column_width(1, 28).map_err(x)?;
    let bytes = wb.save_to_buffer().map_err(x)?;
    Ok(crate::web::download(
        &format!("scores-{year}.xlsx"),
        &format!("量化积分考评-{year}.xlsx"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        bytes,
    ))
}

// ---------- one unit ----------

pub struct LineView {
    pub code: String,
    pub name: String,
    pub bonus: bool,
    pub count: i64,
    pub points: String,
    pub raw: String,
    pub capped: bool,
    pub basis: String,
    pub causes: Vec<scoring::Cause>,
    /// Occurrences counted but not listed (beyond `scoring::CAUSES_LISTED`).
    pub unlisted: i64,
    pub manual: Vec<(scoring::ManualPoint, String)>,
}

#[derive(Template)]
#[template(path = "scores/unit.html")]
struct UnitPage {
    layout: Layout,
    year: i32,
    as_of: String,
    unit: Unit,
    total: String,
    base: String,
    grade: &'static str,
    grade_css: &'static str,
    consequence: &'static str,
    rank: usize,
    of: usize,
    frozen: bool,
    lines: Vec<LineView>,
    resolution: String,
}

pub async fn unit_page(
    ctx: Ctx,
    path: web::Path<i32>,
    q: Query<YearQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(ANY)?;
    let uid = path.into_inner();
    if !ALL.contains(&ctx.role) && uid != ctx.unit.id {
        return Err(AppError::NotFound);
    }
    let (year, as_of) = year_and_day(&q);
    let state = ctx.state.clone();
    let (y, rows, frozen) = db::run(ctx.pool(), move |c| {
        scoring::board::board(c, &state.cache, year, as_of)
    })
    .await?;
    let of = rows.len();
    let (unit, score, rank) = rows
        .iter()
        .find(|(u, _, _)| u.id == uid)
        .ok_or(AppError::NotFound)?;
    let rank = *rank;
    let lines = score
        .lines
        .iter()
        .map(|l| LineView {
            code: l.code.clone(),
            name: l.name.clone(),
            bonus: l.bonus,
            count: l.count,
            points: points_text(l.points),
            raw: points_text(l.raw),
            capped: l.capped,
            basis: l.basis.clone(),
            causes: l.causes.clone(),
            unlisted: if l.manual.is_empty() {
                (l.count - l.causes.len() as i64).max(0)
            } else {
                0
            },
            manual: l
                .manual
                .iter()
                .map(|m| (m.clone(), points_text(m.points)))
                .collect(),
        })
        .collect();
    let mut layout = ctx.layout(&format!("{} {year} 年度得分", unit.name)).crumb(
        "量化考评",
        if ALL.contains(&ctx.role) {
            "/scores"
        } else {
            ""
        },
    );
    layout = layout.crumb(&unit.name, "");
    render(&UnitPage {
        layout,
        year,
        as_of: as_of.to_string(),
        total: points_text(score.total),
        base: points_text(y.rules.base),
        grade: grade_shown(score, rank).0,
        grade_css: grade_shown(score, rank).1,
        consequence: if rank == 0 {
            "本年度没有交办本单位的留言，不参与排名。"
        } else {
            score.grade.consequence()
        },
        rank,
        of,
        frozen,
        lines,
        resolution: if score.closed > 0 {
            format!(
                "办结 {} 件，化解 {} 件，化解率 {}%（标准 {}%，至少 {} 件）",
                score.closed,
                score.resolved,
                score.resolved * 100 / score.closed,
                y.rules.resolution_rate,
                y.rules.resolution_min
            )
        } else {
            "本年度尚无办结的留言。".to_string()
        },
        unit: unit.clone(),
    })
}

// ---------- rules ----------

#[derive(Template)]
#[template(path = "scores/rules.html")]
struct RulesPage {
    layout: Layout,
    year: i32,
    rules: Rules,
    frozen: bool,
    errors: FieldErrors,
}

async fn rules_page(
    ctx: &Ctx,
    status: StatusCode,
    year: i32,
    rules: Option<Rules>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let y = db::run(ctx.pool(), move |c| store::year(c, year)).await?;
    render_status(
        status,
        &RulesPage {
            layout: ctx
                .layout(&format!("{year} 年度考评规则"))
                .crumb("量化考评", "/scores")
                .crumb("考评规则", ""),
            year,
            frozen: y.finalised.is_some(),
            rules: rules.unwrap_or(y.rules),
            errors,
        },
    )
}

pub async fn rules(ctx: Ctx, q: Query<YearQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(ALL)?;
    let (year, _) = year_and_day(&q);
    rules_page(&ctx, StatusCode::OK, year, None, FieldErrors::default()).await
}

/// Read the rules form: `base`, `pass`, `basic`, `resolution_rate`, `resolution_min`,
/// and `each_CODE` / `cap_CODE` for every item.
fn parse_rules(pairs: &[(String, String)], current: &Rules) -> Result<Rules, FieldErrors> {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let mut e = FieldErrors::default();
    let mut pts = |k: &str, label: &str| match scoring::parse_points(get(k)) {
        Some(v) if v <= 1000 => v,
        _ => {
            e.add(k, &format!("{label}应为 0–100 的数，最多一位小数。"));
            0
        }
    };
    let mut r = current.clone();
    r.base = pts("base", "基础分");
    r.pass = pts("pass", "合格线");
    r.basic = pts("basic", "基本合格线");
    for it in r.items.iter_mut() {
        it.each = pts(
            &format!("each_{}", it.code),
            &format!("“{}”每次分值", it.name),
        );
        it.cap = pts(&format!("cap_{}", it.code), &format!("“{}”上限", it.name));
    }
    match get("resolution_rate").trim().parse::<i64>() {
        Ok(v) if (1..=100).contains(&v) => r.resolution_rate = v,
        _ => e.add("resolution_rate", "化解率标准应为 1–100 的整数（%）。"),
    }
    match get("resolution_min").trim().parse::<i64>() {
        Ok(v) if (0..=10000).contains(&v) => r.resolution_min = v,
        _ => e.add("resolution_min", "最少件数应为 0 或正整数。"),
    }
    if e.is_empty() && r.basic > r.pass {
        e.add("basic", "基本合格线不能高于合格线。");
    }
    if e.is_empty() {
        Ok(r)
    } else {
        Err(e)
    }
}

pub async fn rules_save(
    ctx: Ctx,
    q: Query<YearQuery>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator])?;
    let (year, _) = year_and_day(&q);
    let current = db::run(ctx.pool(), move |c| store::year(c, year)).await?;
    if current.finalised.is_some() {
        ctx.flash("error", &format!("{year} 年度已定稿，规则不能再修改。"));
        return Ok(see_other(&format!("/scores/rules?year={year}")));
    }
    let rules = match parse_rules(&pairs, &current.rules) {
        Ok(r) => r,
        Err(e) => {
            // Show back what was typed where it parses, the saved value elsewhere.
            return rules_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, year, None, e).await;
        }
    };
    let actor = ctx.actor();
    db::run(ctx.pool(), move |c| {
        scoring::actions::save_rules(c, &actor, year, &rules)
    })
    .await?;
    ctx.flash(
        "ok",
        &format!("已保存 {year} 年度考评规则，得分即时按新规则计算。"),
    );
    Ok(see_other(&format!("/scores/rules?year={year}")))
}

// ---------- manual entries ----------

pub struct EntryView {
    pub e: store::Entry,
    pub unit: String,
    pub item: String,
    pub points: String,
    pub reversed: bool,
}

#[derive(Template)]
#[template(path = "scores/entries.html")]
struct EntriesPage {
    layout: Layout,
    year: i32,
    rows: Vec<EntryView>,
    units: Vec<(i32, String)>,
    /// Manual items: (code, how it is offered).
    items: Vec<(String, String)>,
    form: EntryForm,
    errors: FieldErrors,
    frozen: bool,
    is_centre: bool,
}

#[derive(Deserialize, Default, Clone)]
pub struct EntryForm {
    #[serde(default)]
    unit_id: String,
    #[serde(default)]
    item: String,
    /// How many times (the points are the item's points per occurrence × this).
    #[serde(default)]
    count: String,
    #[serde(default)]
    date: String,
    /// The 文号 of the document the entry rests on, when no file is attached.
    #[serde(default)]
    evidence_ref: String,
    #[serde(default)]
    reason: String,
}

async fn entries_page(
    ctx: &Ctx,
    status: StatusCode,
    year: i32,
    form: EntryForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (y, entries, all) = db::run(ctx.pool(), move |c| {
        Ok((
            store::year(c, year)?,
            store::entries(c, year)?,
            units::all(c)?,
        ))
    })
    .await?;
    let names: HashMap<i32, String> = all.iter().map(|u| (u.id, u.name.clone())).collect();
    let reversed: Vec<i32> = entries.iter().filter_map(|e| e.reverses).collect();
    let rows = entries
        .iter()
        .rev()
        .map(|e| EntryView {
            unit: names.get(&e.unit_id).cloned().unwrap_or_default(),
            item: y
                .rules
                .item(&e.item)
                .map(|i| i.name.clone())
                .unwrap_or_else(|| e.item.clone()),
            points: points_text(e.points as i64),
            reversed: reversed.contains(&e.id),
            e: e.clone(),
        })
        .collect();
    render_status(
        status,
        &EntriesPage {
            layout: ctx
                .layout(&format!("{year} 年度加减分录入"))
                .crumb("量化考评", "/scores")
                .crumb("加减分录入", ""),
            year,
            rows,
            units: scoring::board::assessed(&all)
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect(),
            items: y
                .rules
                .items
                .iter()
                .filter(|i| !i.auto)
                .map(|i| (i.code.clone(), scoring::manual::offer(i)))
                .collect(),
            form,
            errors,
            frozen: y.finalised.is_some(),
            is_centre: ctx.role == Role::CityOperator,
        },
    )
}

pub async fn entries(ctx: Ctx, q: Query<YearQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(ALL)?;
    let (year, _) = year_and_day(&q);
    let form = EntryForm {
        date: china_today().to_string(),
        count: "1".to_string(),
        ..Default::default()
    };
    entries_page(&ctx, StatusCode::OK, year, form, FieldErrors::default()).await
}

pub async fn entry_add(
    ctx: Ctx,
    q: Query<YearQuery>,
    upload: CsrfUpload<EntryForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator])?;
    let (year, _) = year_and_day(&q);
    let CsrfUpload {
        form,
        files,
        file_errors,
        ..
    } = upload;
    let mut refused = FieldErrors::default();
    for fe in &file_errors {
        refused.add("files", fe);
    }
    let f = form.clone();
    let (uid, name, actor) = (ctx.user.id, ctx.user.display_name.clone(), ctx.actor());
    let store_dir = Store::new(&ctx.state.config.data_dir);
    let today = china_today();
    let out = db::run(ctx.pool(), move |c| {
        let typed = scoring::manual::Typed {
            unit_id: &f.unit_id,
            item: &f.item,
            count: &f.count,
            date: &f.date,
            reason: &f.reason,
            evidence_ref: &f.evidence_ref,
            files: files.len(),
        };
        let author = scoring::actions::Author {
            id: uid,
            name: &name,
        };
        scoring::actions::add_entry(
            c, &actor, author, &store_dir, year, today, &typed, &files, refused,
        )
    })
    .await?;
    match out {
        Ok((unit, item, bonus, points)) => {
            ctx.flash(
                "ok",
                &format!(
                    "已为{unit}录入“{item}”{}{} 分。",
                    if bonus { "加" } else { "扣" },
                    points_text(points)
                ),
            );
            Ok(see_other(&format!("/scores/entries?year={year}")))
        }
        Err(e) => entries_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, year, form, e).await,
    }
}

#[derive(Deserialize, Default)]
pub struct ReverseForm {
    #[serde(default)]
    reason: String,
}

/// Withdraw an entry by appending its reversal (never by deleting it).
pub async fn entry_reverse(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<ReverseForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator])?;
    let id = path.into_inner();
    let (uid, name, actor) = (ctx.user.id, ctx.user.display_name.clone(), ctx.actor());
    let reason = form.reason.trim().to_string();
    let today = china_today();
    let out = db::run(ctx.pool(), move |c| {
        let author = scoring::actions::Author {
            id: uid,
            name: &name,
        };
        scoring::actions::reverse_entry(c, &actor, author, id, &reason, today)
    })
    .await?;
    match out {
        Ok(year) => {
            ctx.flash(
                "ok",
                &format!("已撤销第 {id} 号记录（追加了一条撤销记录，原记录保留）。"),
            );
            Ok(see_other(&format!("/scores/entries?year={year}")))
        }
        Err((year, msg)) => {
            ctx.flash("error", &msg);
            Ok(see_other(&format!("/scores/entries?year={year}")))
        }
    }
}

/// Download an entry's evidence (the centre and the leader).
pub async fn evidence(ctx: Ctx, path: web::Path<i32>) -> Result<HttpResponse, AppError> {
    ctx.require(ALL)?;
    let id = path.into_inner();
    let e = db::run(ctx.pool(), move |c| Ok(store::find_entry(c, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let (Some(name), Some(stored)) = (e.evidence_name, e.evidence_stored) else {
        return Err(AppError::NotFound);
    };
    let p = Store::new(&ctx.state.config.data_dir).path_of(&stored);
    let body = match crate::web::read_stored(p).await? {
        Some(body) => body,
        None => return Ok(crate::web::file_missing(&name)),
    };
    Ok(crate::web::download(
        "evidence",
        &name,
        "application/octet-stream",
        body,
    ))
}

// ---------- 定稿 ----------

#[derive(Template)]
#[template(path = "scores/finalise.html")]
struct FinalisePage {
    layout: Layout,
    year: i32,
    rows: Vec<BoardRow>,
    grades: [usize; 4],
    already: String,
    year_over: bool,
    /// Why the last submission was refused (the box was not ticked).
    error: String,
}

pub async fn finalise_page(ctx: Ctx, q: Query<YearQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator])?;
    finalise_view(&ctx, year_and_day(&q).0, "").await
}

/// The confirmation page, or the same page refused with `error` (422).
async fn finalise_view(ctx: &Ctx, year: i32, error: &str) -> Result<HttpResponse, AppError> {
    let end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or_default();
    // Before the year ends the page shows the figures as of today (and no 定稿).
    let as_of = china_today().min(end);
    let state = ctx.state.clone();
    let (y, rows, _) = db::run(ctx.pool(), move |c| {
        scoring::board::board(c, &state.cache, year, as_of)
    })
    .await?;
    let rows: Vec<BoardRow> = rows
        .iter()
        .map(|(u, s, rank)| BoardRow {
            unit_id: u.id,
            name: u.name.clone(),
            total: points_text(s.total),
            grade: grade_shown(s, *rank).0,
            grade_css: grade_shown(s, *rank).1,
            rank: *rank,
            counts: Vec::new(),
        })
        .collect();
    let grades = grade_counts(&rows);
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &FinalisePage {
            layout: ctx
                .layout(&format!("{year} 年度考评定稿"))
                .crumb("量化考评", "/scores")
                .crumb("定稿", ""),
            year,
            rows,
            grades,
            already: y
                .finalised
                .map(|(t, by)| format!("{} 由 {by} 定稿", format_time(t)))
                .unwrap_or_default(),
            year_over: china_today() > end,
            error: error.to_string(),
        },
    )
}

#[derive(Deserialize)]
pub struct FinaliseForm {
    #[serde(default)]
    year: String,
    #[serde(default)]
    confirm: String,
}

pub async fn finalise(
    ctx: Ctx,
    CsrfForm(f): CsrfForm<FinaliseForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator])?;
    let Ok(year) = f.year.trim().parse::<i32>() else {
        return Ok(see_other("/scores/finalise"));
    };
    if f.confirm != "1" {
        return finalise_view(
            &ctx,
            year,
            "请先勾选“已核对以上结果，确认定稿”，再确认定稿。",
        )
        .await;
    }
    let end = NaiveDate::from_ymd_opt(year, 12, 31).ok_or(AppError::NotFound)?;
    if china_today() <= end {
        return finalise_view(
            &ctx,
            year,
            &format!(
                "{year} 年尚未结束，不能定稿：年底前到期的期限还未到，现在定稿会把它们算作未落实。{} 年 1 月 1 日起可以定稿。",
                year + 1
            ),
        )
        .await;
    }
    let (by, actor) = (ctx.user.display_name.clone(), ctx.actor());
    let state = ctx.state.clone();
    let done = db::run(ctx.pool(), move |c| {
        scoring::actions::finalise(c, &actor, &state.cache, year, &by)
    })
    .await?;
    ctx.flash(
        if done { "ok" } else { "error" },
        &if done {
            format!("{year} 年度考评已定稿：得分、等次和每一条加减分均已固定，此后数据变化不再影响。可打印函告、约谈通知和结果报告。")
        } else {
            format!("{year} 年度已经定稿，未作改动。")
        },
    );
    Ok(see_other(&format!("/scores?year={year}")))
}

// ---------- documents ----------

#[derive(Template)]
#[template(path = "scores/letter.html")]
struct LetterPage {
    stamp: String,
    kind: &'static str,
    year: i32,
    unit: String,
    total: String,
    grade: &'static str,
    rank: usize,
    of: usize,
    problems: Vec<(String, i64, String)>,
    issued: String,
}

/// 书面函告 (基本合格) or 约谈通知 (不合格), from the frozen result.
pub async fn letter(ctx: Ctx, path: web::Path<(i32, i32)>) -> Result<HttpResponse, AppError> {
    ctx.require(ALL)?;
    let (year, uid) = path.into_inner();
    let (frozen, all) = db::run(ctx.pool(), move |c| {
        Ok((store::frozen(c, year)?, units::all(c)?))
    })
    .await?;
    let of = frozen.len();
    let (_, score, rank) = frozen
        .into_iter()
        .find(|(u, _, _)| *u == uid)
        .ok_or(AppError::NotFound)?;
    let kind = match score.grade {
        Grade::Basic => "书面函告",
        Grade::Fail => "约谈通知",
        Grade::Pass => return Err(AppError::NotFound),
    };
    let unit_name = all
        .iter()
        .find(|u| u.id == uid)
        .map(|u| u.name.clone())
        .unwrap_or_default();
    crate::audit::print_view(
        ctx.pool(),
        ctx.actor(),
        format!("{year} 年度{kind}：{unit_name}"),
    )
    .await?;
    render(&LetterPage {
        stamp: ctx.print_stamp(),
        kind,
        year,
        unit: unit_name,
        total: points_text(score.total),
        grade: score.grade.label(),
        rank,
        of,
        problems: score
            .lines
            .iter()
            .filter(|l| !l.bonus && l.points < 0)
            .map(|l| (l.name.clone(), l.count, points_text(-l.points)))
            .collect(),
        issued: china_today().format("%Y年%m月%d日").to_string(),
    })
}

#[derive(Template)]
#[template(path = "scores/report.html")]
struct ReportPage {
    stamp: String,
    year: i32,
    rows: Vec<(usize, String, String, &'static str)>,
    grades: [usize; 4],
    problems: Vec<(String, i64, usize)>,
    issued: String,
    finalised: String,
}

/// The year's results for the city's principal leader, from the frozen result.
pub async fn report(ctx: Ctx, path: web::Path<i32>) -> Result<HttpResponse, AppError> {
    ctx.require(ALL)?;
    let year = path.into_inner();
    let (y, frozen, all) = db::run(ctx.pool(), move |c| {
        Ok((
            store::year(c, year)?,
            store::frozen(c, year)?,
            units::all(c)?,
        ))
    })
    .await?;
    let Some((at, by)) = y.finalised else {
        return Err(AppError::BadRequest(format!(
            "{year} 年度尚未定稿。结果报告依据定稿结果生成，请先在“量化考评”中定稿。"
        )));
    };
    let mut rows: Vec<(usize, String, String, &'static str)> = frozen
        .iter()
        .map(|(u, s, r)| {
            (
                *r,
                all.iter()
                    .find(|x| x.id == *u)
                    .map(|x| x.name.clone())
                    .unwrap_or_default(),
                points_text(s.total),
                grade_shown(s, *r).0,
            )
        })
        .collect();
    // Ranked units in order, then those without messages.
    rows.sort_by_key(|r| (r.0 == 0, r.0, r.1.clone()));
    let of = |g: Grade| {
        frozen
            .iter()
            .filter(|(_, s, r)| *r > 0 && s.grade == g)
            .count()
    };
    let grades = [
        of(Grade::Pass),
        of(Grade::Basic),
        of(Grade::Fail),
        frozen.iter().filter(|(_, _, r)| *r == 0).count(),
    ];
    let mut problems: Vec<(String, i64, usize)> = y
        .rules
        .items
        .iter()
        .filter(|i| !i.bonus)
        .map(|i| {
            let count: i64 = frozen.iter().map(|(_, s, _)| s.count(&i.code)).sum();
            let units = frozen
                .iter()
                .filter(|(_, s, _)| s.count(&i.code) > 0)
                .count();
            (i.name.clone(), count, units)
        })
        .filter(|(_, c, _)| *c > 0)
        .collect();
    problems.sort_by_key(|(_, c, _)| -c);
    render(&ReportPage {
        stamp: ctx.print_stamp(),
        year,
        rows,
        grades,
        problems,
        issued: china_today().format("%Y年%m月%d日").to_string(),
        finalised: format!("{} {by}", format_time(at)),
    })
}

// ---------- 退回理由不成立 ----------

#[derive(Deserialize, Default)]
pub struct MarkForm {
    #[serde(default)]
    reason: String,
}

/// The owner finds a 退回 unjustified (推诿扯皮): it counts against the unit that returned.
pub async fn mark_return(
    ctx: Ctx,
    path: web::Path<(i32, i32)>,
    CsrfForm(form): CsrfForm<MarkForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator, Role::CountyOperator])?;
    let (id, seq) = path.into_inner();
    let (role, unit, name, actor) = (
        ctx.role,
        ctx.unit.id,
        ctx.user.display_name.clone(),
        ctx.actor(),
    );
    let reason = form.reason.trim().to_string();
    let done = db::run(ctx.pool(), move |c| {
        scoring::actions::mark_return(c, &actor, role, unit, &name, id, seq, &reason)
    })
    .await?;
    match done {
        Ok(()) => ctx.flash(
            "ok",
            "已认定该退回理由不成立，计入退回单位的年度考评（推诿扯皮）。",
        ),
        Err(why) => ctx.flash("error", why),
    }
    Ok(see_other(&format!("/messages/{id}")))
}
