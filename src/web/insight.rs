//! Supervisor review: the dashboard (SVG charts drawn on the server, numbers beside them,
//! each linking to the list it counts), statistics for any period and units (page, XLSX,
//! CSV) and the printable 督办通报.

use std::collections::HashMap;

use actix_web::HttpResponse;

use crate::web::sheet::{csv_response, xlsx_response};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDate};

use crate::auth::roles::{Role, UnitKind};
use crate::clock::china_today;
use crate::db;
use crate::error::AppError;

use crate::messages::config;
use crate::messages::lifecycle::State;
use crate::messages::model::{self, RUNNING};
use crate::stats::{self, Figures, DEFINITIONS};
use crate::units::{self, Unit};
use crate::web::ctx::{Ctx, Layout};
use crate::web::extract::Query;
use crate::web::render;

const VIEWERS: &[Role] = &[
    Role::CityOperator,
    Role::CityLeader,
    Role::CountyOperator,
    Role::DeptOperator,
];

fn enc(s: &str) -> String {
    crate::web::utf8_percent(s)
}

/// One bar of a horizontal bar chart, laid out for SVG.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub href: String,
    pub y: i64,
    pub width: i64,
}

/// A horizontal bar chart: label, bar, number; every bar a link.
pub struct BarChart {
    pub id: &'static str,
    pub title: String,
    pub bars: Vec<Bar>,
    pub height: i64,
}

const BAR_MAX: i64 = 300;

fn bar_chart(id: &'static str, title: &str, items: Vec<(String, i64, String)>) -> BarChart {
    let max = items.iter().map(|(_, v, _)| *v).max().unwrap_or(0).max(1);
    let bars: Vec<Bar> = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, value, href))| Bar {
            y: i as i64 * 26 + 4,
            width: if value > 0 {
                (value * BAR_MAX / max).max(2)
            } else {
                0
            },
            label,
            value,
            href,
        })
        .collect();
    BarChart {
        id,
        title: title.to_string(),
        height: bars.len() as i64 * 26 + 8,
        bars,
    }
}

/// One month of the trend chart.
pub struct MonthBar {
    pub label: String,
    pub received: i64,
    pub closed: i64,
    pub on_time: String,
    pub x: i64,
    pub received_h: i64,
    pub closed_h: i64,
    pub received_href: String,
    pub closed_href: String,
}

pub struct StateCount {
    pub code: &'static str,
    pub label: &'static str,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "insight/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    /// Next (or this) year's holidays are not entered.
    calendar_warning: Option<String>,
    states: Vec<StateCount>,
    total: i64,
    overdue: i64,
    due_soon: i64,
    supervised: i64,
    units_chart: BarChart,
    months: Vec<MonthBar>,
    categories: BarChart,
    platforms: BarChart,
    levels: BarChart,
    year: i32,
    scope_words: String,
    can_bulletin: bool,
    /// 智能分拨 (the centre): proposals taken per month, the units most often corrected.
    dispatch: bool,
    proposal_months: Vec<crate::dispatch::store::Month>,
    corrected: Vec<(String, i64)>,
    /// 热点发现: the hottest issues (the centre's for the city, a county's for its own).
    show_hot: bool,
    hot: Vec<crate::web::hot::HotRow>,
    hot_warnings: usize,
    county: bool,
}

fn scope_words(role: Role, unit: &Unit) -> String {
    match role {
        Role::CityOperator | Role::CityLeader => "全市".to_string(),
        Role::CountyOperator => format!("{}及其下属单位", unit.name),
        _ => unit.name.clone(),
    }
}

/// `stats::by_unit`, kept while the data is unchanged.
fn by_unit_cached(
    state: &crate::web::AppState,
    c: &mut db::DbConn,
    scope: &model::Scope,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> Result<HashMap<i32, Figures>, AppError> {
    let figures = state
        .cache
        .get_or(c, format!("by_unit {scope:?} {from} {to} {today}"), |c| {
            let cal = config::calendar(c)?;
            Ok::<_, AppError>(stats::by_unit(c, scope, from, to, today, &cal)?)
        })?;
    Ok(std::sync::Arc::unwrap_or_clone(figures))
}

pub async fn dashboard(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(VIEWERS)?;
    let (role, me) = (ctx.role, ctx.unit.id);
    let today = china_today();
    let year_from = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let state = ctx.state.clone();
    let city = matches!(role, Role::CityOperator | Role::CityLeader);
    // The 智能分拨 record: the centre's proposals for the city, a county's for its own.
    let dispatch = city || role == Role::CountyOperator;
    let (o, all, calendar_warning, acc, hot) = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, me)?;
        let o = state
            .cache
            .get_or(c, format!("overview {scope:?} {today}"), |c| {
                let cal = config::calendar(c)?;
                let windows = crate::messages::deadline::Today::new(&cal, today);
                stats::overview(c, &scope, &windows, year_from)
            })?;
        let o = std::sync::Arc::unwrap_or_clone(o);
        let cal = &crate::reference::get(c, &state.cache)?.calendar;
        let warning = config::calendar_warning(c, cal, today)?;
        let all = units::all(c)?;
        let acc = if dispatch {
            let owner = if city {
                all.iter()
                    .find(|u| u.kind() == Some(UnitKind::Centre))
                    .map(|u| u.id)
                    .unwrap_or(me)
            } else {
                me
            };
            crate::web::dispatch::accuracy(c, &all, owner)?
        } else {
            Default::default()
        };
        let hot = if dispatch {
            crate::web::hot::top_for(&state, c, &scope, if city { 10 } else { 5 })?
        } else {
            Vec::new()
        };
        Ok((o, all, warning, acc, hot))
    })
    .await?;
    let names: HashMap<i32, String> = all.iter().map(|u| (u.id, u.short_name.clone())).collect();
    let count_of = |code: &str| {
        o.by_state
            .iter()
            .find(|(s, _)| s == code)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let states: Vec<StateCount> = crate::messages::lifecycle::ALL_STATES
        .iter()
        .map(|s: &State| StateCount {
            code: s.as_str(),
            label: s.label(),
            count: count_of(s.as_str()),
        })
        .collect();
    let max_month = o
        .months
        .iter()
        .map(|(_, r, c, _)| (*r).max(*c))
        .max()
        .unwrap_or(0)
        .max(1);
    let months = o
        .months
        .iter()
        .enumerate()
        .map(|(i, (start, r, c, on_time))| {
            let (a, b) = stats::month_range(*start);
            MonthBar {
                label: format!("{}月", start.month()),
                received: *r,
                closed: *c,
                on_time: stats::rate(*on_time, *c),
                x: 40 + i as i64 * 46,
                received_h: r * 150 / max_month,
                closed_h: c * 150 / max_month,
                received_href: format!("/messages?from={a}&to={b}"),
                closed_href: format!("/messages?closed_from={a}&closed_to={b}"),
            }
        })
        .collect();
    let y0 = year_from.to_string();
    let breakdown = |items: &[(String, i64)], param: &str| -> Vec<(String, i64, String)> {
        items
            .iter()
            .map(|(k, n)| {
                (
                    k.clone(),
                    *n,
                    format!("/messages?{param}={}&from={y0}", enc(k)),
                )
            })
            .collect()
    };
    render(&DashboardPage {
        show_hot: dispatch,
        hot_warnings: hot.iter().filter(|h| h.warning).count(),
        county: role == Role::CountyOperator,
        hot,
        calendar_warning,
        layout: ctx.layout("办理情况总览").crumb("办理情况总览", ""),
        total: states.iter().map(|s| s.count).sum(),
        states,
        overdue: o.overdue,
        due_soon: o.due_soon,
        supervised: o.supervised,
        units_chart: bar_chart(
            "units",
            "超期留言最多的单位",
            o.overdue_by_unit
                .iter()
                .map(|(u, n)| {
                    (
                        names.get(u).cloned().unwrap_or_default(),
                        *n,
                        format!("/messages?overdue=1&handling_unit={u}"),
                    )
                })
                .collect(),
        ),
        months,
        categories: bar_chart(
            "categories",
            "按所属类型（本年）",
            breakdown(&o.by_category, "category"),
        ),
        platforms: bar_chart(
            "platforms",
            "按来源平台（本年）",
            breakdown(&o.by_platform, "platform"),
        ),
        levels: bar_chart("levels", "按级别（本年）", breakdown(&o.by_level, "level")),
        year: today.year(),
        scope_words: scope_words(ctx.role, &ctx.unit),
        can_bulletin: matches!(ctx.role, Role::CityOperator | Role::CityLeader),
        dispatch,
        proposal_months: acc.0,
        corrected: acc.1,
    })
}

// ---------- statistics ----------

pub struct StatRow {
    pub unit_id: i32,
    pub name: String,
    pub f: Figures,
}

#[derive(Template)]
#[template(path = "insight/stats.html")]
struct StatsPage {
    layout: Layout,
    from: String,
    to: String,
    units: Vec<(i32, String, bool)>,
    rows: Vec<StatRow>,
    total: Figures,
    definitions: Vec<(&'static str, &'static str)>,
    query: String,
}

/// Units a user may pick in statistics: the handling units in their view.
fn stat_units(role: Role, me: &Unit, all: &[Unit]) -> Vec<Unit> {
    all.iter()
        .filter(|u| {
            u.active
                && matches!(
                    u.kind(),
                    Some(
                        UnitKind::County
                            | UnitKind::Zone
                            | UnitKind::Department
                            | UnitKind::SubUnit
                    )
                )
        })
        .filter(|u| match role {
            Role::CityOperator | Role::CityLeader => u.kind() != Some(UnitKind::SubUnit),
            Role::CountyOperator => u.id == me.id || u.parent_id == Some(me.id),
            _ => u.id == me.id,
        })
        .cloned()
        .collect()
}

fn pick(pairs: &[(String, String)], key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// The period and units asked for; defaults: this year to date, every unit in view.
fn stats_request(pairs: &[(String, String)], choices: &[Unit]) -> (NaiveDate, NaiveDate, Vec<i32>) {
    let today = china_today();
    let from = NaiveDate::parse_from_str(&pick(pairs, "from"), "%Y-%m-%d")
        .unwrap_or_else(|_| NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today));
    let to = NaiveDate::parse_from_str(&pick(pairs, "to"), "%Y-%m-%d")
        .unwrap_or(today)
        .max(from);
    let mut ids: Vec<i32> = pairs
        .iter()
        .filter(|(k, _)| k == "unit")
        .filter_map(|(_, v)| v.parse().ok())
        .filter(|id| choices.iter().any(|u| u.id == *id))
        .collect();
    if ids.is_empty() {
        ids = choices.iter().map(|u| u.id).collect();
    }
    (from, to, ids)
}

async fn compute_stats(
    ctx: &Ctx,
    pairs: &[(String, String)],
) -> Result<
    (
        NaiveDate,
        NaiveDate,
        Vec<Unit>,
        Vec<i32>,
        Vec<StatRow>,
        Figures,
    ),
    AppError,
> {
    let all = db::run(ctx.pool(), |c| Ok(units::all(c)?)).await?;
    let choices = stat_units(ctx.role, &ctx.unit, &all);
    let (from, to, ids) = stats_request(pairs, &choices);
    let (role, me) = (ctx.role, ctx.unit.id);
    let today = china_today();
    let state = ctx.state.clone();
    let mut figures = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, me)?;
        by_unit_cached(&state, c, &scope, from, to, today)
    })
    .await?;
    let mut total = Figures::default();
    let rows: Vec<StatRow> = choices
        .iter()
        .filter(|u| ids.contains(&u.id))
        .map(|u| {
            let f = figures.remove(&u.id).unwrap_or_default();
            total.add(&f);
            StatRow {
                unit_id: u.id,
                name: u.name.clone(),
                f,
            }
        })
        .collect();
    Ok((from, to, choices, ids, rows, total))
}

const STAT_HEADERS: [&str; 14] = [
    "单位",
    "受理数",
    "办结数",
    "按期办结率",
    "化解率",
    "满意率",
    "超期数",
    "平均办理时长（工作日）",
    "退回数",
    "督办数",
    "重办数",
    "重复件数",
    "答复质量提示率",
    "不答所问率",
];

fn stat_cells(name: &str, f: &Figures) -> Vec<String> {
    vec![
        name.to_string(),
        f.received.to_string(),
        f.closed.to_string(),
        f.on_time_rate(),
        f.resolution_rate(),
        f.satisfaction_rate(),
        f.overdue.to_string(),
        f.average_days(),
        f.returned.to_string(),
        f.supervised.to_string(),
        f.redone.to_string(),
        f.repeats.to_string(),
        f.flagged_rate(),
        f.no_answer_rate(),
    ]
}

pub async fn statistics(
    ctx: Ctx,
    q: Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(VIEWERS)?;
    let pairs = q.into_inner();
    let (from, to, choices, ids, rows, total) = compute_stats(&ctx, &pairs).await?;
    let format = pick(&pairs, "format");
    let title = format!("网民留言办理统计（{from} 至 {to}）");
    if format == "csv" || format == "xlsx" {
        let mut table: Vec<Vec<String>> = rows.iter().map(|r| stat_cells(&r.name, &r.f)).collect();
        table.push(stat_cells("合计", &total));
        return if format == "csv" {
            csv_response(&format!("统计-{from}-{to}.csv"), &STAT_HEADERS, &table)
        } else {
            xlsx_response(
                &format!("统计-{from}-{to}.xlsx"),
                &title,
                &STAT_HEADERS,
                &table,
            )
        };
    }
    let query = serde_urlencoded::to_string(
        std::iter::once(("from".to_string(), from.to_string()))
            .chain(std::iter::once(("to".to_string(), to.to_string())))
            .chain(ids.iter().map(|i| ("unit".to_string(), i.to_string())))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    render(&StatsPage {
        layout: ctx.layout("统计报表").crumb("统计报表", ""),
        from: from.to_string(),
        to: to.to_string(),
        units: choices
            .iter()
            .map(|u| (u.id, u.name.clone(), ids.contains(&u.id)))
            .collect(),
        rows,
        total,
        definitions: DEFINITIONS.to_vec(),
        query,
    })
}

// ---------- 督办通报 ----------

pub struct BulletinItem {
    pub id: i32,
    pub ref_no: String,
    pub title: String,
    pub due: String,
    pub status: String,
    pub supervision: String,
}

pub struct BulletinUnit {
    pub name: String,
    pub f: Figures,
    pub overdue: Vec<BulletinItem>,
    pub supervised: Vec<BulletinItem>,
}

#[derive(Template)]
#[template(path = "insight/bulletin.html")]
struct BulletinPage {
    stamp: String,
    title: String,
    range: String,
    kind: String,
    date: String,
    units: Vec<BulletinUnit>,
    total: Figures,
    /// Issues the centre marked 热点, active in the period.
    hot: Vec<crate::web::hot::HotRow>,
    issued: String,
    prev: String,
    next: String,
}

/// 督办通报 for a week (Monday to Sunday) or a month containing `date` (default: the
/// previous week or month), city centre and leader only.
pub async fn bulletin(ctx: Ctx, q: Query<Vec<(String, String)>>) -> Result<HttpResponse, AppError> {
    ctx.require(&[Role::CityOperator, Role::CityLeader])?;
    let pairs = q.into_inner();
    let today = china_today();
    let monthly = pick(&pairs, "kind") == "month";
    let date = NaiveDate::parse_from_str(&pick(&pairs, "date"), "%Y-%m-%d").unwrap_or(if monthly {
        NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today) - Duration::days(1)
    } else {
        today - Duration::days(7)
    });
    let (from, to) = if monthly {
        stats::month_range(NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date))
    } else {
        let monday = date - Duration::days(date.weekday().num_days_from_monday() as i64);
        (monday, monday + Duration::days(6))
    };
    let (role, me) = (ctx.role, ctx.unit.id);
    let state = ctx.state.clone();
    let window = ctx.state.config.hot_window_days;
    let (mut figures, all, open, cal, hot) = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, me)?;
        let cal = config::calendar(c)?;
        let figures = by_unit_cached(&state, c, &scope, from, to, today)?;
        use crate::db::schema::messages::dsl as m;
        let windows = crate::messages::deadline::Today::new(&cal, today);
        let supervised: model::Cond = Box::new(
            m::state
                .eq_any(RUNNING)
                .and(m::supervision_level.is_not_null()),
        );
        let open: Vec<model::Message> = model::scoped(&scope)
            .filter(model::deadline_in(&windows.overdue).or(supervised))
            .order(m::id.asc())
            .load(c)?;
        let hot = crate::hot::store::marked_in(
            c,
            crate::clock::china_day_start(from),
            crate::clock::china_day_start(to + Duration::days(1)),
            window,
        )?;
        Ok((figures, units::all(c)?, open, cal, hot))
    })
    .await?;
    let mut total = Figures::default();
    // The handling units' own deadlines (签收, 答复), by the one rule of `deadline`.
    use crate::messages::deadline::{self, Waiting};
    let handlers_due = |m: &model::Message| {
        deadline::status(&cal, today, m)
            .filter(|(d, _)| matches!(d.waiting, Waiting::Accept | Waiting::Reply))
    };
    let item = |m: &model::Message| BulletinItem {
        id: m.id,
        ref_no: m.ref_no.clone(),
        title: m.title.clone(),
        due: handlers_due(m)
            .map(|(d, _)| d.due.to_string())
            .unwrap_or_default(),
        status: handlers_due(m)
            .map(|(d, st)| match d.waiting {
                Waiting::Accept => format!("签收{}", st.label()),
                _ => st.label(),
            })
            .unwrap_or_default(),
        supervision: m.supervision_level.clone().unwrap_or_default(),
    };
    let units: Vec<BulletinUnit> = all
        .iter()
        .filter(|u| {
            u.active
                && matches!(
                    u.kind(),
                    Some(UnitKind::County | UnitKind::Zone | UnitKind::Department)
                )
        })
        .map(|u| {
            let f = figures.remove(&u.id).unwrap_or_default();
            total.add(&f);
            let mine: Vec<&model::Message> = open
                .iter()
                .filter(|m| m.handling_unit_id == Some(u.id))
                .collect();
            BulletinUnit {
                name: u.name.clone(),
                overdue: mine
                    .iter()
                    .filter(|m| handlers_due(m).is_some_and(|(_, st)| st.is_overdue()))
                    .map(|m| item(m))
                    .collect(),
                supervised: mine
                    .iter()
                    .filter(|m| m.supervision_level.is_some())
                    .map(|m| item(m))
                    .collect(),
                f,
            }
        })
        .filter(|b| b.f.received > 0 || !b.overdue.is_empty() || !b.supervised.is_empty())
        .collect();
    let step = if monthly { 31 } else { 7 };
    let kind = if monthly { "month" } else { "week" };
    let title = if monthly {
        format!(
            "网民留言办理督办通报（{}年{}月）",
            from.year(),
            from.month()
        )
    } else {
        format!(
            "网民留言办理督办通报（{}年第{}周）",
            from.iso_week().year(),
            from.iso_week().week()
        )
    };
    crate::audit::print_view(ctx.pool(), ctx.actor(), title.clone()).await?;
    render(&BulletinPage {
        stamp: ctx.print_stamp(),
        title,
        range: format!(
            "{} 至 {}",
            from.format("%Y年%m月%d日"),
            to.format("%Y年%m月%d日")
        ),
        kind: kind.to_string(),
        date: from.to_string(),
        units,
        total,
        hot: hot.iter().map(crate::web::hot::row_of).collect(),
        issued: today.format("%Y年%m月%d日").to_string(),
        prev: format!(
            "/bulletin?kind={kind}&date={}",
            from - Duration::days(if monthly { 1 } else { step })
        ),
        next: format!("/bulletin?kind={kind}&date={}", to + Duration::days(1)),
    })
}

use diesel::prelude::*;
