//! 业务设置 → 智能分拨: the models (version, training size, cross-validated score), retrain
//! now, roll back to a kept version, the subject → department mapping, and how often the
//! proposals were taken.

use actix_web::HttpResponse;
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::roles::{Role, UnitKind};
use crate::db;
use crate::dispatch::store::{self, ModelInfo, Month};
use crate::error::AppError;
use crate::web::ctx::{format_time, Ctx, Layout};
use crate::web::{render, see_other, Choice};

const KEEPERS: &[Role] = &[Role::CityOperator];
const PAGE: &str = "/settings/dispatch";

pub struct ModelRow {
    pub kind: &'static str,
    pub version: i32,
    pub trained_at: String,
    pub examples: i32,
    pub site_examples: i32,
    pub classes: i32,
    pub cv: String,
    pub active: bool,
    pub trained_by: String,
    pub code: String,
}

pub struct SubjectRow {
    pub subject: String,
    pub seeds: i64,
    pub units: Vec<Choice>,
    pub chosen: Vec<String>,
}

#[derive(Template)]
#[template(path = "dispatch/settings.html")]
struct SettingsPage {
    layout: Layout,
    models: Vec<ModelRow>,
    training: Option<String>,
    confirmed: i64,
    at_train: i32,
    every: i64,
    subjects: Vec<SubjectRow>,
    proposal_months: Vec<Month>,
    corrected: Vec<(String, i64)>,
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        store::UNIT => "核办单位",
        _ => "所属类型",
    }
}

fn row(m: ModelInfo) -> ModelRow {
    ModelRow {
        kind: kind_label(&m.kind),
        version: m.version,
        trained_at: format_time(m.trained_at),
        examples: m.examples,
        site_examples: m.site_examples,
        classes: m.classes,
        cv: m
            .cv_macro_f1
            .map(|f| format!("{f:.3}"))
            .unwrap_or_else(|| "样本不足".into()),
        active: m.active,
        trained_by: m.trained_by,
        code: m.kind,
    }
}

/// The months shown: this one and the eleven before it.
fn first_month() -> String {
    let t = crate::clock::china_today();
    let back = t.checked_sub_months(chrono::Months::new(11)).unwrap_or(t);
    back.format("%Y-%m").to_string()
}

/// Months of proposals, and (unit name, times its proposal was corrected).
pub type Accuracy = (Vec<Month>, Vec<(String, i64)>);

/// The record of the proposals `owner` was shown (those whose chosen unit it may assign
/// to): months, and the most corrected units (names).
pub fn accuracy(
    c: &mut db::DbConn,
    units: &[crate::units::Unit],
    owner: i32,
) -> Result<Accuracy, AppError> {
    let among: Vec<i32> = units
        .iter()
        .filter(|u| crate::messages::service::assignable(units, owner, u))
        .map(|u| u.id)
        .collect();
    let (months, corrected) = store::accuracy(c, &first_month(), &among)?;
    let name = |id: i32| {
        units
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.clone())
            .unwrap_or_default()
    };
    Ok((
        months,
        corrected.into_iter().map(|(u, n)| (name(u), n)).collect(),
    ))
}

pub async fn page(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let every = ctx.state.config.dispatch_retrain_every;
    let now = db::now();
    let me = ctx.unit.id;
    let (models, lease, confirmed, mapping, seeds, units, acc) = db::run(ctx.pool(), move |c| {
        let units = crate::units::all(c)?;
        let acc = accuracy(c, &units, me)?;
        Ok((
            store::models(c)?,
            store::lease(c)?,
            store::confirmed_count(c)?,
            store::subjects(c)?,
            store::seed_counts(c)?,
            units,
            acc,
        ))
    })
    .await?;
    let (holder, until, at_train) = lease;
    let training = match (holder, until) {
        (Some(_), Some(u)) if u > now => Some(format!(
            "正在重新训练（最迟 {} 结束），完成后本页显示新版本。",
            format_time(u)
        )),
        _ => None,
    };
    let departments: Vec<&crate::units::Unit> = units
        .iter()
        .filter(|u| {
            u.active
                && matches!(
                    u.kind(),
                    Some(UnitKind::Department | UnitKind::County | UnitKind::Zone)
                )
        })
        .collect();
    let mut names: Vec<String> = mapping.iter().map(|(s, _)| s.clone()).collect();
    names.extend(seeds.iter().map(|(s, _)| s.clone()));
    names.sort();
    names.dedup();
    let subjects = names
        .into_iter()
        .map(|s| SubjectRow {
            seeds: seeds.iter().find(|x| x.0 == s).map(|x| x.1).unwrap_or(0),
            chosen: mapping
                .iter()
                .filter(|(m, _)| *m == s)
                .map(|(_, u)| u.to_string())
                .collect(),
            units: departments
                .iter()
                .map(|u| Choice {
                    value: u.id.to_string(),
                    label: u.name.clone(),
                    disabled: false,
                })
                .collect(),
            subject: s,
        })
        .collect();
    render(&SettingsPage {
        layout: crate::web::settings::layout(&ctx, "智能分拨"),
        models: models.into_iter().map(row).collect(),
        training,
        confirmed,
        at_train,
        every,
        subjects,
        proposal_months: acc.0,
        corrected: acc.1,
    })
}

/// 立即重新训练: in the background (a large site takes a minute); the lease keeps it to
/// one process at a time.
pub async fn train(
    ctx: Ctx,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let now = db::now();
    let busy = db::run(ctx.pool(), move |c| {
        let (h, u, _) = store::lease(c)?;
        Ok(h.is_some() && u.is_some_and(|u| u > now))
    })
    .await?;
    if busy {
        ctx.flash("warn", "已有一次训练正在进行，请稍后刷新本页查看结果。");
        return Ok(see_other(PAGE));
    }
    let (pool, clock, ring) = (
        ctx.state.pool.clone(),
        ctx.state.config.clock,
        ctx.state.ring.clone(),
    );
    let by = ctx.user.username.clone();
    std::thread::spawn(move || {
        clock.install();
        ring.install();
        if let Err(e) = crate::dispatch::retrain(&pool, &by, 60) {
            tracing::error!(error = %e, "智能分拨模型训练失败");
        }
    });
    ctx.flash(
        "ok",
        "已开始重新训练（样本多时约需一分钟），完成后刷新本页即可看到新版本。",
    );
    Ok(see_other(PAGE))
}

#[derive(Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    version: String,
}

/// 启用 a kept version (roll back, or forward again).
pub async fn activate(
    ctx: Ctx,
    CsrfForm(form): CsrfForm<ActivateForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let kind = match form.kind.as_str() {
        store::UNIT => store::UNIT,
        store::CATEGORY => store::CATEGORY,
        _ => return Err(AppError::NotFound),
    };
    let version: i32 = form
        .version
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let what = format!("智能分拨：启用{}模型 v{version}", kind_label(kind));
    let done = crate::web::settings::change(&ctx, what, move |c| {
        Ok(if store::activate(c, kind, version)? {
            Ok(())
        } else {
            Err(crate::forms::FieldErrors::default())
        })
    })
    .await?;
    match done {
        Ok(()) => ctx.flash(
            "ok",
            &format!(
                "已启用{}模型 v{version}，此后的建议按该版本给出。",
                kind_label(kind)
            ),
        ),
        Err(_) => ctx.flash("error", "该版本已不存在（只保留最近 5 个版本）。"),
    }
    Ok(see_other(PAGE))
}

/// Save the departments one subject maps to (several allowed; none: the subject's seed
/// texts no longer teach the unit model).
pub async fn subject(
    ctx: Ctx,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(KEEPERS)?;
    let subject = pairs
        .iter()
        .find(|(k, _)| k == "subject")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let ids: Vec<i32> = pairs
        .iter()
        .filter(|(k, _)| k == "unit_id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    if subject.is_empty() {
        return Err(AppError::NotFound);
    }
    let (s, chosen) = (subject.clone(), ids.clone());
    let done = crate::web::settings::change(
        &ctx,
        format!("智能分拨：主题“{subject}”对应单位"),
        move |c| {
            let units = crate::units::all(c)?;
            let ok = chosen.iter().all(|id| {
                units.iter().any(|u| {
                    u.id == *id
                        && u.active
                        && matches!(
                            u.kind(),
                            Some(UnitKind::Department | UnitKind::County | UnitKind::Zone)
                        )
                })
            });
            if !ok {
                return Ok(Err(crate::forms::FieldErrors::default()));
            }
            store::set_subject(c, &s, &chosen)?;
            Ok(Ok(()))
        },
    )
    .await?;
    match done {
        Ok(()) => ctx.flash(
            "ok",
            &format!(
                "已保存“{subject}”对应的 {} 个单位；下次训练起生效（可点“立即重新训练”）。",
                ids.len()
            ),
        ),
        Err(_) => ctx.flash(
            "error",
            "所选单位无效（只能选市直部门、县区或功能区），未保存。",
        ),
    }
    Ok(see_other(PAGE))
}
