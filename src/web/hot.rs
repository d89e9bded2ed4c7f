//! 热点发现 on the site: the list of hot issues, one issue's page (its messages with
//! their units and states), and the centre's decisions about it — rename, merge, split,
//! dismiss, mark 热点 — each audited. Counties see the issues touching their own
//! messages, and only those messages.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::roles::Role;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::hot::store::{self, Decision, Stored};
use crate::messages::lifecycle::State;
use crate::messages::model::{self, Scope};
use crate::web::ctx::{Ctx, Layout};
use crate::web::extract::Query;
use crate::web::{render, render_status, see_other};

const VIEWERS: &[Role] = &[Role::CityOperator, Role::CityLeader, Role::CountyOperator];
/// Who decides about clusters: the centre's clerks.
const DECIDERS: &[Role] = &[Role::CityOperator];
const PAGE: usize = 30;
/// A county's view is drawn from this many of the hottest issues.
const COUNTY_POOL: i64 = 400;
/// A cluster's page lists at most this many messages.
const SHOWN: usize = 1000;

/// One hot issue as the dashboard and the list show it.
#[derive(Clone)]
pub struct HotRow {
    pub href: String,
    pub title: String,
    pub place: String,
    pub description: String,
    pub range: String,
    pub messages: i32,
    pub users: i32,
    pub votes: i32,
    pub heat: String,
    pub warning: bool,
    pub marked: bool,
    pub dismissed: bool,
    /// A county's own messages in it.
    pub mine: Option<usize>,
}

fn day(t: NaiveDateTime) -> String {
    crate::clock::to_china(t).format("%Y-%m-%d").to_string()
}

/// A stored cluster as a row (for the 督办通报).
pub fn row_of(s: &Stored) -> HotRow {
    row(s, None)
}

fn row(s: &Stored, mine: Option<usize>) -> HotRow {
    HotRow {
        href: format!("/hot/{}", s.id),
        title: s.title().to_string(),
        place: s.place.clone(),
        description: s.description.clone(),
        range: format!("{} 至 {}", day(s.first_at), day(s.last_at)),
        messages: s.messages,
        users: s.users,
        votes: s.votes,
        heat: format!("{:.1}", s.heat),
        warning: s.warning,
        marked: s.marked,
        dismissed: s.dismissed(),
        mine,
    }
}

/// Of some clusters, those with a message in the scope, with how many (the centre's
/// scope holds every message).
fn in_scope(
    c: &mut DbConn,
    scope: &Scope,
    clusters: Vec<Stored>,
) -> Result<Vec<(Stored, Option<usize>)>, AppError> {
    if matches!(scope, Scope::All) {
        return Ok(clusters.into_iter().map(|s| (s, None)).collect());
    }
    let ids: Vec<i32> = clusters.iter().map(|s| s.id).collect();
    let pairs = store::members_among(c, &ids)?;
    let message_ids: Vec<i32> = pairs.iter().map(|(_, x)| *x).collect();
    let mut seen = std::collections::HashSet::new();
    for part in message_ids.chunks(500) {
        use crate::db::schema::messages::dsl as m;
        seen.extend(
            m::messages
                .filter(model::scope_filter(scope))
                .filter(m::id.eq_any(part))
                .select(m::id)
                .load::<i32>(c)?,
        );
    }
    let mut mine: HashMap<i32, usize> = HashMap::new();
    for (k, x) in pairs {
        if seen.contains(&x) {
            *mine.entry(k).or_default() += 1;
        }
    }
    Ok(clusters
        .into_iter()
        .filter_map(|s| mine.get(&s.id).copied().map(|n| (s, Some(n))))
        .collect())
}

/// The hottest issues a role sees (for the dashboard), kept while the data is unchanged.
pub fn top_for(
    state: &crate::web::AppState,
    c: &mut DbConn,
    scope: &Scope,
    limit: usize,
) -> Result<Vec<HotRow>, AppError> {
    let window = state.config.hot_window_days;
    let now = db::now();
    let today = crate::clock::china_today();
    let version = store::version(c)?;
    let rows = state.cache.get_or(
        c,
        format!("hot {scope:?} {limit} {today} {version:?}"),
        |c| {
            let pool = if matches!(scope, Scope::All) {
                limit as i64
            } else {
                COUNTY_POOL
            };
            let top = store::top(c, window, now, pool)?;
            let found = in_scope(c, scope, top)?;
            Ok::<_, AppError>(
                found
                    .iter()
                    .take(limit)
                    .map(|(s, n)| row(s, *n))
                    .collect::<Vec<_>>(),
            )
        },
    )?;
    Ok(std::sync::Arc::unwrap_or_clone(rows))
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    which: String,
    page: Option<usize>,
}

#[derive(Template)]
#[template(path = "hot/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<HotRow>,
    which: String,
    tabs: Vec<(String, &'static str, bool)>,
    total: usize,
    page: usize,
    pages: usize,
    prev_href: String,
    next_href: String,
    window: i64,
    county: bool,
}

pub async fn list(ctx: Ctx, Query(q): Query<ListQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(VIEWERS)?;
    let which = match q.which.as_str() {
        "marked" | "dismissed" | "all" => q.which.clone(),
        _ => "active".to_string(),
    };
    let page = q.page.unwrap_or(1).max(1);
    let (role, me) = (ctx.role, ctx.unit.id);
    let window = ctx.state.config.hot_window_days;
    let w = which.clone();
    let (rows, total) = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, me)?;
        let now = db::now();
        if matches!(scope, Scope::All) {
            let (rows, total) =
                store::list(c, &w, window, now, ((page - 1) * PAGE) as i64, PAGE as i64)?;
            Ok::<_, AppError>((
                rows.iter().map(|s| row(s, None)).collect::<Vec<_>>(),
                total as usize,
            ))
        } else {
            let (pool, _) = store::list(c, &w, window, now, 0, COUNTY_POOL)?;
            let mine = in_scope(c, &scope, pool)?;
            let total = mine.len();
            Ok((
                mine.iter()
                    .skip((page - 1) * PAGE)
                    .take(PAGE)
                    .map(|(s, n)| row(s, *n))
                    .collect(),
                total,
            ))
        }
    })
    .await?;
    let pages = total.div_ceil(PAGE).max(1);
    let href = |p: usize| format!("/hot?which={which}&page={p}");
    render(&ListPage {
        layout: ctx
            .layout("热点问题")
            .crumb("办理情况总览", "/dashboard")
            .crumb("热点问题", ""),
        tabs: [
            ("active", "活跃的"),
            ("marked", "已标为热点"),
            ("dismissed", "已撤销"),
            ("all", "全部"),
        ]
        .iter()
        .map(|(k, l)| (format!("/hot?which={k}"), *l, *k == which))
        .collect(),
        prev_href: href(page.saturating_sub(1).max(1)),
        next_href: href(page + 1),
        rows,
        which,
        total,
        page,
        pages,
        window,
        county: role == Role::CountyOperator,
    })
}

/// One message of a cluster, as its page lists it.
pub struct MemberRow {
    pub id: i32,
    pub href: String,
    pub ref_no: String,
    pub title: String,
    pub name: String,
    pub posted: String,
    pub unit: String,
    pub state: &'static str,
    pub state_code: String,
}

#[derive(Template)]
#[template(path = "hot/show.html")]
struct ShowPage {
    layout: Layout,
    c: HotRow,
    id: i32,
    fixed: bool,
    members: Vec<MemberRow>,
    hidden: usize,
    units: Vec<(String, usize)>,
    states: Vec<(&'static str, usize)>,
    can_decide: bool,
    merge_with: Vec<(i32, String)>,
    name: String,
    error: Option<String>,
}

async fn show_page(
    ctx: &Ctx,
    id: i32,
    status: StatusCode,
    name: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    ctx.require(VIEWERS)?;
    let (role, me) = (ctx.role, ctx.unit.id);
    let window = ctx.state.config.hot_window_days;
    let (cluster, members, units, merge_with) = db::run(ctx.pool(), move |c| {
        let Some(cluster) = store::get(c, id)? else {
            return Err(AppError::NotFound);
        };
        let scope = model::scope_for(c, role, me)?;
        let ids = store::member_ids(c, id)?;
        let mut members = Vec::new();
        for part in ids.chunks(500) {
            members.extend(model::by_ids(c, part)?);
        }
        members.retain(|m| scope.sees(m));
        if members.is_empty() && !matches!(scope, Scope::All) {
            return Err(AppError::NotFound);
        }
        members.sort_by_key(|m| (m.posted_at, m.id));
        let units = crate::units::all(c)?;
        let merge_with = if role == Role::CityOperator {
            let (same, _) = store::list(c, "active", window, db::now(), 0, 200)?;
            let mut v: Vec<&Stored> = same.iter().filter(|s| s.id != id).collect();
            // Issues about the same place first.
            v.sort_by_key(|s| s.place != cluster.place);
            v.into_iter()
                .take(60)
                .map(|s| {
                    (
                        s.id,
                        format!("{}（{} 条，{}）", s.title(), s.messages, s.description),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok((cluster, members, units, merge_with))
    })
    .await?;
    let names: HashMap<i32, &str> = units
        .iter()
        .map(|u| (u.id, u.short_name.as_str()))
        .collect();
    let mut by_unit: HashMap<String, usize> = HashMap::new();
    let mut by_state: HashMap<&'static str, usize> = HashMap::new();
    let rows: Vec<MemberRow> = members
        .iter()
        .map(|m| {
            let unit = names
                .get(&m.handling_unit_id.unwrap_or(m.owner_unit_id))
                .copied()
                .unwrap_or("")
                .to_string();
            let state = State::parse(&m.state).map(|s| s.label()).unwrap_or("");
            *by_unit.entry(unit.clone()).or_default() += 1;
            *by_state.entry(state).or_default() += 1;
            MemberRow {
                id: m.id,
                href: format!("/messages/{}", m.id),
                ref_no: m.ref_no.clone(),
                title: m.title.clone(),
                name: m.complainant_name.clone(),
                posted: crate::clock::format_time(m.posted_at),
                unit,
                state,
                state_code: m.state.clone(),
            }
        })
        .collect();
    let mut units: Vec<(String, usize)> = by_unit.into_iter().collect();
    units.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut states: Vec<(&'static str, usize)> = by_state.into_iter().collect();
    states.sort_by_key(|s| std::cmp::Reverse(s.1));
    let hidden = rows.len().saturating_sub(SHOWN);
    let county = !matches!(role, Role::CityOperator | Role::CityLeader);
    let mine = county.then_some(rows.len());
    render_status(
        status,
        &ShowPage {
            layout: ctx
                .layout(&format!("热点问题：{}", cluster.title()))
                .crumb("办理情况总览", "/dashboard")
                .crumb("热点问题", "/hot")
                .crumb(cluster.title(), ""),
            name: name.unwrap_or_else(|| cluster.title().to_string()),
            c: row(&cluster, mine),
            id,
            fixed: cluster.fixed,
            members: rows.into_iter().take(SHOWN).collect(),
            hidden,
            units,
            states,
            can_decide: role == Role::CityOperator,
            merge_with,
            error,
        },
    )
}

pub async fn show(ctx: Ctx, path: web::Path<i32>) -> Result<HttpResponse, AppError> {
    show_page(&ctx, path.into_inner(), StatusCode::OK, None, None).await
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// A decision from one of the cluster page's forms (each posts to its own action).
fn decision(action: &str, pairs: &[(String, String)]) -> Result<Decision, String> {
    Ok(match action {
        "rename" => Decision::Rename(field(pairs, "name").to_string()),
        "merge" => Decision::Merge(
            field(pairs, "other")
                .trim()
                .parse()
                .map_err(|_| "请选择要并入的问题。".to_string())?,
        ),
        "split" => Decision::Split(
            pairs
                .iter()
                .filter(|(k, _)| k == "ids")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
        ),
        "dismiss" => Decision::Dismiss,
        "restore" => Decision::Restore,
        "mark" => Decision::Mark,
        "unmark" => Decision::Unmark,
        _ => return Err("未知的操作。".into()),
    })
}

pub async fn decide(
    ctx: Ctx,
    path: web::Path<(i32, String)>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(DECIDERS)?;
    let (id, action) = path.into_inner();
    let typed = Some(field(&pairs, "name").to_string()).filter(|s| !s.is_empty());
    let d = match decision(&action, &pairs) {
        Ok(d) => d,
        Err(e) => {
            return show_page(&ctx, id, StatusCode::UNPROCESSABLE_ENTITY, typed, Some(e)).await
        }
    };
    let actor = ctx.actor();
    let done = d.clone();
    let outcome = db::run(ctx.pool(), move |c| {
        store::decide(c, &actor, id, &done, db::now())
    })
    .await?;
    match outcome {
        Ok(next) => {
            ctx.state.hot.stale();
            ctx.flash(
                "ok",
                match d {
                    Decision::Rename(_) => "已改名。",
                    Decision::Merge(_) => "已合并：两个问题的留言现归入本问题。",
                    Decision::Split(_) => "已拆分：勾选的留言归入这个新问题。",
                    Decision::Dismiss => "已撤销：不再列为热点问题（可在“已撤销”中恢复）。",
                    Decision::Restore => "已恢复。",
                    Decision::Mark => "已标为热点：将列入督办通报。",
                    Decision::Unmark => "已取消热点标记。",
                },
            );
            Ok(see_other(&format!("/hot/{next}")))
        }
        Err(e) => show_page(&ctx, id, StatusCode::UNPROCESSABLE_ENTITY, typed, Some(e)).await,
    }
}
