//! 记实档案 pages: the printable archive of one message and of a unit's period, print
//! records (纸电一致), the fingerprint check, completeness per unit and period, and the
//! integrity verification.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use crate::archive::prints::{self, archived_in, load, names_of, Loaded};
use crate::archive::signing;
use crate::archive::{self, verify, Change, Element};
use crate::attachments::Store;
use crate::auth::csrf::CsrfForm;
use crate::auth::roles::{Role, UnitKind};
use crate::clock::{china_day_start, china_today, print_date};
use crate::db::schema::messages::dsl as m;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::lifecycle::Action;
use crate::messages::model::{self, Message};
use crate::units::{self, Unit};
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::extract::Query;
use crate::web::{render, render_status, see_other};
use diesel::prelude::*;

const MESSAGE_ROLES: &[Role] = &[
    Role::CityOperator,
    Role::CityLeader,
    Role::CountyOperator,
    Role::DeptOperator,
];

/// One timeline row as printed.
pub struct DocEvent {
    pub seq: i32,
    pub at: String,
    pub unit: String,
    pub person: String,
    pub action: String,
    pub text: String,
    pub supervision: bool,
}

pub struct DocFile {
    pub name: String,
    pub size: String,
    pub sha256: String,
    pub step: String,
}

/// One archive, ready to print.
pub struct Doc {
    pub id: i32,
    pub ref_no: String,
    pub archive_no: String,
    pub retention: String,
    pub state: &'static str,
    pub owner: String,
    pub handler: String,
    pub elements: Vec<Element>,
    pub missing: Vec<&'static str>,
    pub timeline: Vec<DocEvent>,
    pub supervisions: Vec<DocEvent>,
    pub files: Vec<DocFile>,
    pub fingerprint: String,
    pub qr_svg: String,
    pub chain_head: String,
    pub content: Vec<(String, String)>,
}

/// A QR code as inline SVG (empty when the data does not fit).
pub fn qr_svg(data: &str, label: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(110, 110)
                .quiet_zone(true)
                .build();
            // Inline in HTML: drop the XML declaration, give it a name.
            svg.split_once("<svg")
                .map(|(_, rest)| format!("<svg role=\"img\" aria-label=\"{label}\"{rest}"))
                .unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

/// A QR code carrying the check address with the fingerprint and the message, so that a
/// paper printed straight from the browser (without 登记打印) can be checked too.
fn qr(base: &str, fp: &str, id: i32) -> String {
    qr_svg(
        &format!("{base}/archive/check?fp={fp}&m={id}"),
        "核验二维码",
    )
}

pub(crate) fn build_doc(l: &Loaded, names: &HashMap<i32, String>, base: &str) -> Doc {
    let msg = &l.msg;
    let name_of = |id: Option<i32>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let content = archive::printed_content(msg, names, &l.events, &l.files);
    let fp = archive::fingerprint(&content);
    let timeline: Vec<DocEvent> = l
        .events
        .iter()
        .map(|ev| DocEvent {
            seq: ev.seq,
            at: format_time(ev.at),
            unit: name_of(ev.unit_id),
            person: ev.actor_name.clone(),
            action: archive::event_label(&ev.action),
            text: archive::event_text(ev),
            supervision: Action::parse(&ev.action).is_some_and(|a| a.is_supervision()),
        })
        .collect();
    let step = |seq: i32| {
        l.events
            .iter()
            .find(|e| e.seq == seq)
            .map(|e| archive::event_label(&e.action))
            .unwrap_or_default()
    };
    Doc {
        id: msg.id,
        ref_no: msg.ref_no.clone(),
        archive_no: msg.archive_no.clone().unwrap_or_default(),
        retention: msg.retention.clone().unwrap_or_default(),
        state: msg.state().label(),
        owner: name_of(Some(msg.owner_unit_id)),
        handler: name_of(msg.handling_unit_id),
        elements: archive::elements(msg, names),
        missing: msg.missing_elements(),
        supervisions: timeline
            .iter()
            .filter(|e| e.supervision)
            .map(|e| DocEvent {
                seq: e.seq,
                at: e.at.clone(),
                unit: e.unit.clone(),
                person: e.person.clone(),
                action: e.action.clone(),
                text: e.text.clone(),
                supervision: true,
            })
            .collect(),
        timeline,
        files: l
            .files
            .iter()
            .map(|f| DocFile {
                name: f.original_name.clone(),
                size: f.size_text(),
                sha256: f.sha256.clone(),
                step: step(f.event_seq),
            })
            .collect(),
        qr_svg: qr(base, &fp, msg.id),
        fingerprint: fp,
        chain_head: l
            .events
            .last()
            .map(|e| e.hash.chars().take(16).collect())
            .unwrap_or_default(),
        content,
    }
}

// ---------- one archive ----------

#[derive(Template)]
#[template(path = "archive/one.html")]
struct OnePage {
    layout: Layout,
    docs: Vec<Doc>,
    printed_on: String,
    paper: PaperView,
    prints: i64,
}

/// What the page says about the paper copy.
pub struct PaperView {
    /// "never", "same" or "changed".
    pub status: &'static str,
    pub changes: Vec<Change>,
    pub last: String,
}

pub fn paper_view(latest: Option<&archive::Print>, content: &[(String, String)]) -> PaperView {
    match archive::paper_status(latest, content) {
        None => PaperView {
            status: "never",
            changes: Vec::new(),
            last: String::new(),
        },
        Some(changes) => PaperView {
            status: if changes.is_empty() {
                "same"
            } else {
                "changed"
            },
            last: latest
                .map(|p| {
                    format!(
                        "{} {}（指纹 {}）",
                        format_time(p.printed_at),
                        p.actor_name,
                        p.fingerprint
                    )
                })
                .unwrap_or_default(),
            changes,
        },
    }
}

/// The paper-status words used on the message page too.
pub fn paper_words(p: &PaperView) -> String {
    match p.status {
        "never" => "尚未打印纸质档案".to_string(),
        "same" => "纸质档与电子档一致".to_string(),
        _ => format!("打印后已变更 {} 处，请重新打印归档", p.changes.len()),
    }
}

/// The paper status of one message (for the message page).
pub fn paper_of(
    conn: &mut DbConn,
    msg: &Message,
    names: &HashMap<i32, String>,
) -> Result<PaperView, AppError> {
    let l = load(conn, msg.clone())?;
    let content = l.content(names);
    let latest = archive::latest_print(conn, msg.id)?;
    Ok(paper_view(latest.as_ref(), &content))
}

pub async fn one(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let id = path.into_inner();
    let (role, unit) = (ctx.role, ctx.unit.id);
    let base = crate::auth::client::base_url(&req);
    let state = ctx.state.clone();
    let (doc, latest, prints) = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, unit)?;
        let msg = model::find_scoped(c, &scope, id)?.ok_or(AppError::NotFound)?;
        let names = names_of(&crate::reference::get(c, &state.cache)?.units);
        let l = load(c, msg)?;
        Ok((
            build_doc(&l, &names, &base),
            archive::latest_print(c, id)?,
            archive::print_count(c, id)?,
        ))
    })
    .await?;
    let paper = paper_view(latest.as_ref(), &doc.content);
    render(&OnePage {
        layout: ctx
            .layout(&format!("记实档案 {}", doc.ref_no))
            .crumb("留言列表", "/messages")
            .crumb(&doc.ref_no, &format!("/messages/{id}"))
            .crumb("记实档案", ""),
        docs: vec![doc],
        printed_on: print_date(china_today()),
        paper,
        prints,
    })
}

/// Record that this archive is being printed, then show it for printing.
pub async fn record_one(
    ctx: Ctx,
    path: web::Path<i32>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let id = path.into_inner();
    let (role, unit, uid, name) = (
        ctx.role,
        ctx.unit.id,
        ctx.user.id,
        ctx.user.display_name.clone(),
    );
    let actor = ctx.actor();
    let (fp, n) = db::run(ctx.pool(), move |c| {
        let by = prints::Printer {
            role,
            unit_id: unit,
            user_id: uid,
            name: &name,
        };
        prints::print_one(c, &actor, by, id)
    })
    .await?;
    ctx.flash(
        "ok",
        &format!("已登记第 {n} 次打印，指纹 {fp}。请现在用浏览器打印（Ctrl+P），打印件签字后归入纸质档案。"),
    );
    Ok(see_other(&format!("/messages/{id}/archive")))
}

#[derive(Deserialize)]
pub struct NoFields {}

// ---------- a unit's period ----------

#[derive(Deserialize, Clone, Default)]
pub struct PeriodQuery {
    #[serde(default)]
    pub unit: String,
    /// YYYY-MM
    #[serde(default)]
    pub month: String,
}

/// The period asked for: a month, by default the current one.
fn month_range(month: &str) -> (String, NaiveDate, NaiveDate) {
    let today = china_today();
    let (start, next) = crate::archive::periods::month_bounds(month)
        .or_else(|| crate::archive::periods::month_bounds(&today.format("%Y-%m").to_string()))
        .unwrap_or((today, today + Duration::days(1)));
    (start.format("%Y-%m").to_string(), start, next)
}

/// The units a user may look at in archive views.
fn visible_units<'a>(ctx: &Ctx, all: &'a [Unit]) -> Vec<&'a Unit> {
    all.iter()
        .filter(|u| {
            matches!(
                u.kind(),
                Some(UnitKind::County | UnitKind::Zone | UnitKind::Department | UnitKind::SubUnit)
            )
        })
        .filter(|u| match ctx.role {
            Role::CityOperator | Role::CityLeader => u.kind() != Some(UnitKind::SubUnit),
            Role::CountyOperator => u.id == ctx.unit.id,
            Role::DeptOperator => u.id == ctx.unit.id,
            _ => false,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "archive/batch.html")]
struct BatchPage {
    layout: Layout,
    docs: Vec<Doc>,
    printed_on: String,
    unit_name: String,
    month: String,
    unit: String,
}

fn pick_unit(ctx: &Ctx, all: &[Unit], unit: &str) -> Result<Unit, AppError> {
    let id: i32 = unit.parse().map_err(|_| AppError::NotFound)?;
    visible_units(ctx, all)
        .into_iter()
        .find(|u| u.id == id)
        .cloned()
        .ok_or(AppError::NotFound)
}

pub async fn batch(
    ctx: Ctx,
    req: HttpRequest,
    q: Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let q = q.into_inner();
    let all = db::run(ctx.pool(), |c| Ok(units::all(c)?)).await?;
    let unit = pick_unit(&ctx, &all, &q.unit)?;
    let (month, from, to) = month_range(&q.month);
    let (role, me, uid) = (ctx.role, ctx.unit.id, unit.id);
    let base = crate::auth::client::base_url(&req);
    let docs = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, me)?;
        let names = names_of(&units::all(c)?);
        let mut docs = Vec::new();
        for msg in archived_in(c, &scope, uid, from, to)? {
            let l = load(c, msg)?;
            docs.push(build_doc(&l, &names, &base));
        }
        Ok(docs)
    })
    .await?;
    render(&BatchPage {
        layout: ctx
            .layout(&format!("{} {} 记实档案", unit.name, month))
            .crumb("档案汇总", "/archive")
            .crumb("批量打印", ""),
        docs,
        printed_on: print_date(china_today()),
        unit_name: unit.name,
        unit: q.unit,
        month,
    })
}

#[derive(Deserialize)]
pub struct BatchForm {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    month: String,
}

/// Record a print of every archive of the unit's period, then show them for printing.
pub async fn record_batch(
    ctx: Ctx,
    CsrfForm(f): CsrfForm<BatchForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let all = db::run(ctx.pool(), |c| Ok(units::all(c)?)).await?;
    let unit = pick_unit(&ctx, &all, &f.unit)?;
    let (month, from, to) = month_range(&f.month);
    let (role, me, uid, who, name) = (
        ctx.role,
        ctx.unit.id,
        unit.id,
        ctx.user.id,
        ctx.user.display_name.clone(),
    );
    let (actor, unit_name, month_name) = (ctx.actor(), unit.name.clone(), month.clone());
    let n = db::run(ctx.pool(), move |c| {
        let by = prints::Printer {
            role,
            unit_id: me,
            user_id: who,
            name: &name,
        };
        let label = format!("{month_name} {unit_name}");
        prints::print_batch(c, &actor, by, uid, (from, to), &label)
    })
    .await?;
    ctx.flash(
        "ok",
        &format!("已登记 {n} 份档案的打印。请现在用浏览器打印（Ctrl+P），每份档案自动另起一页。"),
    );
    Ok(see_other(&format!(
        "/archive/print?unit={}&month={month}",
        unit.id
    )))
}

// ---------- fingerprint check ----------

#[derive(Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    fp: String,
    /// The message (from the QR code), for a paper not registered as printed.
    #[serde(default)]
    m: Option<i32>,
    /// The 留言文号 printed on the paper (typed), for the same.
    #[serde(default)]
    r: String,
}

pub struct CheckResult {
    pub id: i32,
    pub ref_no: String,
    pub title: String,
    pub printed: String,
    pub current: bool,
    pub changes: Vec<Change>,
    pub later_prints: i64,
    /// The paper was printed through 登记打印 (else straight from the browser).
    pub registered: bool,
}

#[derive(Template)]
#[template(path = "archive/check.html")]
struct CheckPage {
    layout: Layout,
    fp: String,
    /// The 留言文号 typed (or the one of the QR code's message).
    r: String,
    error: String,
    results: Vec<CheckResult>,
    searched: bool,
}

pub async fn check(ctx: Ctx, q: Query<CheckQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let typed = q.fp.trim().to_string();
    let typed_ref = q.r.trim().to_string();
    let layout = ctx.layout("纸质档核验").crumb("纸质档核验", "");
    if typed.is_empty() {
        return render(&CheckPage {
            layout,
            fp: typed,
            r: typed_ref,
            error: String::new(),
            results: Vec::new(),
            searched: false,
        });
    }
    let Some(fp) = archive::normalise_fingerprint(&typed) else {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &CheckPage {
                layout,
                fp: typed,
                r: typed_ref,
                error: "指纹应为 12 位字母数字（0–9、A–F），如 1A2B-3C4D-5E6F，见纸质档页脚或扫描二维码。".to_string(),
                results: Vec::new(),
                searched: false,
            },
        );
    };
    let (role, unit) = (ctx.role, ctx.unit.id);
    let f = fp.clone();
    let (by_id, by_ref) = (q.m, typed_ref.clone());
    let results = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, unit)?;
        let names = names_of(&units::all(c)?);
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for p in archive::prints_by_fingerprint(c, &f)? {
            if seen.contains(&p.message_id) {
                continue;
            }
            seen.push(p.message_id);
            let Some(msg) = model::find_scoped(c, &scope, p.message_id)? else {
                continue;
            };
            let l = load(c, msg)?;
            let now = l.content(&names);
            let changes = archive::diff(&p.content(), &now);
            let later = prints::later_prints(c, p.message_id, p.id)?;
            out.push(CheckResult {
                id: l.msg.id,
                ref_no: l.msg.ref_no.clone(),
                title: l.msg.title.clone(),
                printed: format!("{} {}", format_time(p.printed_at), p.actor_name),
                current: changes.is_empty(),
                changes,
                later_prints: later,
                registered: true,
            });
        }
        // No print record: a paper printed straight from the browser. Its message (from
        // the QR code or the 留言文号 typed) is compared with the record as it is now.
        if out.is_empty() {
            let id = match by_id {
                Some(id) => Some(id),
                None if !by_ref.is_empty() => prints::id_of_ref(c, &by_ref)?,
                None => None,
            };
            if let Some(msg) = match id {
                Some(id) => model::find_scoped(c, &scope, id)?,
                None => None,
            } {
                let l = load(c, msg)?;
                let now = l.content(&names);
                out.push(CheckResult {
                    id: l.msg.id,
                    ref_no: l.msg.ref_no.clone(),
                    title: l.msg.title.clone(),
                    printed: "未经“登记打印”（由浏览器直接打印）".to_string(),
                    current: archive::fingerprint(&now) == f,
                    changes: Vec::new(),
                    later_prints: archive::print_count(c, l.msg.id)?,
                    registered: false,
                });
            }
        }
        Ok(out)
    })
    .await?;
    render(&CheckPage {
        layout,
        fp,
        r: typed_ref,
        error: String::new(),
        results,
        searched: true,
    })
}

// ---------- completeness per unit and period ----------

pub struct UnitRow {
    pub id: i32,
    pub name: String,
    pub received: usize,
    pub finished: usize,
    pub archived: usize,
    pub not_archived: usize,
    pub incomplete: usize,
    pub unprinted: usize,
    pub stale_paper: usize,
}

#[derive(Template)]
#[template(path = "archive/index.html")]
struct IndexPage {
    layout: Layout,
    month: String,
    from: String,
    to: String,
    rows: Vec<UnitRow>,
    totals: UnitRow,
    can_verify: bool,
}

pub async fn index(ctx: Ctx, q: Query<PeriodQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let (month, from, to) = month_range(&q.month);
    let all = db::run(ctx.pool(), |c| Ok(units::all(c)?)).await?;
    let units: Vec<(i32, String)> = visible_units(&ctx, &all)
        .into_iter()
        .map(|u| (u.id, u.name.clone()))
        .collect();
    let (role, me) = (ctx.role, ctx.unit.id);
    let rows = db::run(ctx.pool(), move |c| {
        let scope = model::scope_for(c, role, me)?;
        let names = names_of(&units::all(c)?);
        let msgs: Vec<Message> = model::scoped(&scope)
            .filter(m::posted_at.ge(china_day_start(from)))
            .filter(m::posted_at.lt(china_day_start(to)))
            .filter(m::handling_unit_id.is_not_null())
            .load(c)?;
        let mut rows = Vec::new();
        for (uid, name) in units {
            let mine: Vec<&Message> = msgs
                .iter()
                .filter(|x| x.handling_unit_id == Some(uid))
                .collect();
            let archived: Vec<&&Message> = mine.iter().filter(|x| x.state == "archived").collect();
            let mut unprinted = 0;
            let mut stale = 0;
            for msg in &archived {
                let p = crate::web::archive::paper_of(c, msg, &names)?;
                match p.status {
                    "never" => unprinted += 1,
                    "changed" => stale += 1,
                    _ => {}
                }
            }
            rows.push(UnitRow {
                id: uid,
                name,
                received: mine.len(),
                finished: mine
                    .iter()
                    .filter(|x| {
                        matches!(
                            x.state.as_str(),
                            "closed" | "followed_up" | "reported" | "archived"
                        )
                    })
                    .count(),
                archived: archived.len(),
                not_archived: mine.len() - archived.len(),
                incomplete: mine
                    .iter()
                    .filter(|x| {
                        matches!(x.state.as_str(), "reported" | "archived")
                            && !x.missing_elements().is_empty()
                    })
                    .count(),
                unprinted,
                stale_paper: stale,
            });
        }
        Ok(rows)
    })
    .await?;
    let totals = UnitRow {
        id: 0,
        name: "合计".to_string(),
        received: rows.iter().map(|r| r.received).sum(),
        finished: rows.iter().map(|r| r.finished).sum(),
        archived: rows.iter().map(|r| r.archived).sum(),
        not_archived: rows.iter().map(|r| r.not_archived).sum(),
        incomplete: rows.iter().map(|r| r.incomplete).sum(),
        unprinted: rows.iter().map(|r| r.unprinted).sum(),
        stale_paper: rows.iter().map(|r| r.stale_paper).sum(),
    };
    render(&IndexPage {
        layout: ctx.layout("档案汇总").crumb("档案汇总", ""),
        from: from.to_string(),
        to: (to - Duration::days(1)).to_string(),
        month,
        rows,
        totals,
        can_verify: ctx.role == Role::CityOperator,
    })
}

// ---------- verification ----------

#[derive(Template)]
#[template(path = "archive/verify.html")]
struct VerifyPage {
    layout: Layout,
    scope_words: String,
    report: verify::Report,
    checked_at: String,
    /// The keys seals are checked with: (fingerprint, public key, note, since, until).
    keys: Vec<(String, String, String, String, String)>,
    /// The last 90 days' integrity alerts from the audit log.
    alerts: Vec<(String, String, String, String)>,
}

#[derive(Deserialize)]
pub struct VerifyQuery {
    message: Option<i32>,
    /// YYYY-MM: the messages of that month (by 留言时间).
    month: Option<String>,
}

/// The integrity check: of one message (anyone who sees it) or of everything (the city
/// centre).
pub async fn verify_page(ctx: Ctx, q: Query<VerifyQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(MESSAGE_ROLES)?;
    let store = Store::new(&ctx.state.config.data_dir);
    let (role, unit) = (ctx.role, ctx.unit.id);
    let ring = ctx.state.ring.clone();
    let config = ctx.state.config.clone();
    let (report, words) = match q.message {
        Some(id) => {
            db::run(ctx.pool(), move |c| {
                let scope = model::scope_for(c, role, unit)?;
                let msg = model::find_scoped(c, &scope, id)?.ok_or(AppError::NotFound)?;
                let r = verify::message(c, &verify::Site::of(&store, &ring, &config), &msg)?;
                Ok((r, format!("留言 {}", msg.ref_no)))
            })
            .await?
        }
        None => {
            ctx.require(&[Role::CityOperator])?;
            match q.month.as_deref().filter(|m| !m.is_empty()) {
                Some(month) => {
                    let (month, from, to) = month_range(month);
                    db::run(ctx.pool(), move |c| {
                        let ids: Vec<i32> = m::messages
                            .filter(m::posted_at.ge(china_day_start(from)))
                            .filter(m::posted_at.lt(china_day_start(to)))
                            .select(m::id)
                            .load(c)?;
                        let site = verify::Site::of(&store, &ring, &config);
                        Ok((
                            verify::run(c, &site, Some(&ids))?,
                            format!("{month} 的留言（按留言时间）"),
                        ))
                    })
                    .await?
                }
                None => {
                    db::run(ctx.pool(), move |c| {
                        let site = verify::Site::of(&store, &ring, &config);
                        Ok((
                            verify::run(c, &site, None)?,
                            "全部留言、签名封印、审计日志、数据库保护与件号".to_string(),
                        ))
                    })
                    .await?
                }
            }
        }
    };
    let alerts = db::run(ctx.pool(), |c| {
        Ok(crate::audit::alerts(
            c,
            db::now() - chrono::Duration::days(90),
            20,
        )?)
    })
    .await?;
    let keys = ctx
        .state
        .ring
        .keys()
        .into_iter()
        .map(|k| {
            (
                signing::fingerprint(&k.id),
                k.public,
                k.note,
                k.created_at,
                k.retired_at,
            )
        })
        .collect();
    render(&VerifyPage {
        layout: ctx.layout("完整性核验").crumb("完整性核验", ""),
        scope_words: words,
        report,
        checked_at: format_time(db::now()),
        keys,
        alerts,
    })
}

// ---------- export package ----------

#[derive(Template)]
#[template(path = "archive/standalone.html")]
struct Standalone<'a> {
    doc: &'a Doc,
    css: &'static str,
    printed_on: String,
}

#[derive(Deserialize)]
pub struct PackageQuery {
    unit: i32,
}

/// A unit's period as it goes into a package.
struct Assembled {
    manifest: crate::archive::package::Manifest,
    files: Vec<(String, Vec<u8>)>,
    unit: Unit,
    /// The 四性检测 report (also among the files).
    report: String,
}

/// A unit's period as a package: its manifest (with the catalogue) and files, and the
/// four checks made over them at export (`四性检测报告.html`, added to the files).
fn assemble(
    c: &mut DbConn,
    store: &Store,
    pid: i32,
    uid: i32,
    base: &str,
    who: String,
    scanner: Option<&str>,
) -> Result<Assembled, AppError> {
    use crate::archive::package::{self, Catalogued, Inspection, Manifest};
    let p = crate::archive::periods::find(c, pid)?.ok_or(AppError::NotFound)?;
    let all = units::all(c)?;
    let unit = all
        .iter()
        .find(|u| {
            u.id == uid
                && matches!(
                    u.kind(),
                    Some(UnitKind::County | UnitKind::Zone | UnitKind::Department)
                )
        })
        .cloned()
        .ok_or(AppError::NotFound)?;
    let names = names_of(&all);
    let (from, to) = p.range();
    let msgs = crate::archive::periods::archived_by(c, uid, from, to)?;
    let printed_on = print_date(china_today());
    let css = include_str!("../../static/style.css");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut catalogue = Vec::new();
    let mut private = Vec::new();
    for msg in &msgs {
        let l = load(c, msg.clone())?;
        let doc = build_doc(&l, &names, base);
        let dir = format!("archives/{}", doc.archive_no);
        let html = Standalone {
            doc: &doc,
            css,
            printed_on: printed_on.clone(),
        }
        .render()?;
        files.push((format!("{dir}/archive.html"), html.into_bytes()));
        // Each event's canonical record as chained, so the chain can be recomputed
        // outside the system.
        let links: Vec<serde_json::Value> = l
            .events
            .iter()
            .map(|e| {
                let with: Vec<(String, String)> = l
                    .files
                    .iter()
                    .filter(|f| f.event_seq == e.seq)
                    .map(|f| (f.original_name.clone(), f.sha256.clone()))
                    .collect();
                let body = archive::chain::canonical(
                    e.message_id,
                    e.seq,
                    e.at,
                    e.user_id,
                    &e.actor_name,
                    e.unit_id,
                    &e.action,
                    e.from_state.as_deref(),
                    &e.to_state,
                    &e.text,
                    &e.detail,
                    &with,
                );
                serde_json::json!({
                    "记录": String::from_utf8_lossy(&body),
                    "SHA-256": e.hash,
                    "SM3": e.hash_sm3,
                })
            })
            .collect();
        let meta = serde_json::json!({
            "档号": doc.archive_no,
            "保管期限": doc.retention,
            "交办单位": doc.owner,
            "核办单位": doc.handler,
            "要素": doc.elements.iter().map(|e| serde_json::json!({"序号": e.no, "名称": e.name, "内容": e.value})).collect::<Vec<_>>(),
            "办理记录": l.events.iter().map(|e| serde_json::json!({
                "序号": e.seq, "时间": format_time(e.at), "经办人": e.actor_name,
                "单位": e.unit_id.and_then(|u| names.get(&u).cloned()),
                "环节": archive::event_label(&e.action), "内容": archive::event_text(e),
                "SHA-256": e.hash, "SM3": e.hash_sm3,
            })).collect::<Vec<_>>(),
            "哈希链": links,
            "附件": l.files.iter().map(|f| serde_json::json!({"文件名": f.original_name, "SHA-256": f.sha256, "大小": f.size_bytes})).collect::<Vec<_>>(),
            "档案指纹": doc.fingerprint,
        });
        files.push((
            format!("{dir}/metadata.json"),
            serde_json::to_vec_pretty(&meta).map_err(AppError::internal)?,
        ));
        for (i, f) in l.files.iter().enumerate() {
            let path = store.path_of(&f.stored_name);
            private.push((f.original_name.clone(), path.clone()));
            let bytes = std::fs::read(&path)
                .map_err(|e| AppError::internal(format!("attachment {} unreadable: {e}", f.id)))?;
            files.push((
                format!("{dir}/attachments/{:02}-{}", i + 1, f.original_name),
                bytes,
            ));
        }
        catalogue.push(Catalogued {
            archive_no: doc.archive_no.clone(),
            ref_no: l.msg.ref_no.clone(),
            title: l.msg.title.clone(),
            retention: doc.retention.clone(),
            dir,
            events: l.events.len(),
            head_sm3: l
                .events
                .last()
                .map(|e| e.hash_sm3.clone())
                .unwrap_or_default(),
            attachments: l.files.len(),
        });
    }
    let manifest = Manifest {
        title: "网民留言办理记实档案移交包".to_string(),
        unit: unit.name.clone(),
        period: p.period.clone(),
        created_at: format_time(db::now()),
        created_by: who,
        archives: msgs.len(),
        catalogue,
        files: Vec::new(),
    };
    // The four checks at export, over the files as they go into the package; the site's
    // own checks of the same archives (seals, signatures) come first.
    let mut inspection = Inspection {
        unit: unit.name.clone(),
        period: p.period.clone(),
        key_source: "导出时由本系统签署".to_string(),
        ..Default::default()
    };
    let ring = signing::current()?;
    let site = verify::Site {
        store,
        ring: &ring,
        anchor: None,
        refuse: true,
    };
    let ids: Vec<i32> = msgs.iter().map(|m| m.id).collect();
    let report = verify::run(c, &site, Some(&ids))?;
    inspection.checks.push(package::Check {
        property: "真实性",
        item: "签名封印（SM2）与系统内核验".to_string(),
        outcome: if report.breaks.is_empty() {
            package::Outcome::Pass
        } else {
            package::Outcome::Fail
        },
        detail: if report.breaks.is_empty() {
            format!(
                "{} 份档案的签名封印、哈希链与附件哈希均核验通过",
                msgs.len()
            )
        } else {
            report
                .breaks
                .iter()
                .map(|b| format!("{} {}", b.ref_no, b.what))
                .collect::<Vec<_>>()
                .join("；")
        },
    });
    let map: std::collections::BTreeMap<String, Vec<u8>> = files.iter().cloned().collect();
    package::check_contents(&manifest, &map, scanner, &mut inspection);
    inspection.checks.push(file_modes(&private));
    let report_html = InspectionDoc {
        inspection: &inspection,
        css,
        title: format!("{} {} 档案移交包", unit.name, p.period),
        printed_on,
    }
    .render()?;
    files.push((
        package::REPORT.to_string(),
        report_html.clone().into_bytes(),
    ));
    Ok(Assembled {
        manifest,
        files,
        unit,
        report: report_html,
    })
}

/// 安全性: the attachments are readable by the service account only.
fn file_modes(files: &[(String, std::path::PathBuf)]) -> crate::archive::package::Check {
    use crate::archive::package::{Check, Outcome};
    let mut open = Vec::new();
    #[cfg(unix)]
    for (name, path) in files {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o077 == 0 => {}
            Ok(m) => open.push(format!(
                "{name}（权限 {:o}）",
                m.permissions().mode() & 0o777
            )),
            Err(_) => open.push(format!("{name}（无法读取权限）")),
        }
    }
    Check {
        property: "安全性",
        item: "附件文件仅服务账户可读".to_string(),
        outcome: if open.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        detail: if open.is_empty() {
            format!("{} 个附件文件的权限均为仅属主可读写", files.len())
        } else {
            open.join("；")
        },
    }
}

/// The printable 四性检测 report of an inspected package (`verify-package --report`).
pub fn inspection_html(i: &crate::archive::package::Inspection) -> Result<String, AppError> {
    Ok(InspectionDoc {
        inspection: i,
        css: include_str!("../../static/style.css"),
        title: format!("{} {} 档案移交包", i.unit, i.period),
        printed_on: print_date(china_today()),
    }
    .render()?)
}

#[derive(Template)]
#[template(path = "archive/inspection.html")]
struct InspectionDoc<'a> {
    inspection: &'a crate::archive::package::Inspection,
    css: &'static str,
    title: String,
    printed_on: String,
}

/// A unit's package: the centre and the leader see every unit's, a unit its own.
fn may_see_package(ctx: &Ctx, uid: i32) -> Result<(), AppError> {
    ctx.require(&[
        Role::CityOperator,
        Role::CityLeader,
        Role::CountyOperator,
        Role::DeptOperator,
    ])?;
    if !matches!(ctx.role, Role::CityOperator | Role::CityLeader) && uid != ctx.unit.id {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The 四性检测 of a unit's period, as the package would be exported now (printable).
pub async fn inspection(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<i32>,
    q: Query<PackageQuery>,
) -> Result<HttpResponse, AppError> {
    let (pid, uid) = (path.into_inner(), q.unit);
    may_see_package(&ctx, uid)?;
    let base = crate::auth::client::base_url(&req);
    let store = Store::new(&ctx.state.config.data_dir);
    let who = ctx.user.display_name.clone();
    let scanner = ctx.state.config.clamscan.clone();
    let html = db::run(ctx.pool(), move |c| {
        Ok(assemble(c, &store, pid, uid, &base, who, scanner.as_deref())?.report)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// One ZIP for a unit's period: each archive as a self-contained HTML page, its
/// metadata as JSON and its attachments, the four-property report, with a signed
/// manifest of SHA-256 and SM3.
pub async fn package(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<i32>,
    q: Query<PackageQuery>,
) -> Result<HttpResponse, AppError> {
    let (pid, uid) = (path.into_inner(), q.unit);
    may_see_package(&ctx, uid)?;
    if let Some(confirm) = ctx.confirm_password_first() {
        return Ok(confirm);
    }
    let base = crate::auth::client::base_url(&req);
    let store = Store::new(&ctx.state.config.data_dir);
    let (actor, who) = (ctx.actor(), ctx.user.display_name.clone());
    let scanner = ctx.state.config.clamscan.clone();
    let (bytes, name) = db::run(ctx.pool(), move |c| {
        let Assembled {
            manifest,
            files,
            unit,
            ..
        } = assemble(c, &store, pid, uid, &base, who, scanner.as_deref())?;
        let (period, n) = (manifest.period.clone(), manifest.archives);
        let bytes = crate::archive::package::write(manifest, files, &*signing::current()?)?;
        crate::audit::record(
            c,
            &actor,
            "archive_export",
            &format!("{} {period} 档案移交包（{n} 份）", unit.name),
            crate::audit::OK,
            "",
        )?;
        Ok((
            bytes,
            format!("档案移交包-{}-{period}.zip", unit.short_name),
        ))
    })
    .await?;
    Ok(crate::web::download(
        "archive-package.zip",
        &name,
        "application/zip",
        bytes,
    ))
}
