//! 智能分拨: the handling unit and the 所属类型 proposed from a message's text, learned from
//! the site's own record (and from labelled files a site is seeded with).
//!
//! Two models, retrained together: text → 核办单位 (every message whose unit is confirmed —
//! 签收 without 退回, or answered — is an example; seed texts count for the departments
//! their subject maps to) and text → 所属类型. Place names of the unit tree come first:
//! a message naming a county, zone or township goes there. With neither a model nor a
//! place, nothing is proposed.

pub mod linear;
pub mod model;
pub mod places;
pub mod seedfile;
pub mod store;
pub mod text;

use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::error::AppError;
use crate::units::Unit;
use model::{Labelled, Model};

/// What the 转办 form showed: the model version (0: place names only) and the units
/// proposed, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub version: i32,
    pub units: Vec<i32>,
}

impl Shown {
    /// The record of this proposal once `chosen` was picked.
    pub fn made(&self, chosen: i32) -> store::Made {
        store::Made {
            version: self.version,
            proposed: self.units.first().copied().unwrap_or(chosen),
            rank: self
                .units
                .iter()
                .position(|u| *u == chosen)
                .map(|p| p as i32 + 1),
        }
    }
}

/// One proposed unit: its share (置信度) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub unit_id: i32,
    pub name: String,
    pub share: f32,
    pub reason: String,
}

impl Proposal {
    pub fn percent(&self) -> String {
        format!("{:.0}%", 100.0 * self.share)
    }
}

/// How many units are proposed.
pub const PROPOSED: usize = 3;
/// The share the place names take when a message names a place (the rest is the model's).
const PLACE_SHARE: f32 = 0.9;

fn quoted(words: &[String]) -> String {
    format!("含“{}”", words.join("、"))
}

/// The units proposed for a message (pure): the places it names first (a township goes to
/// its county when the township itself cannot be chosen), then the model's best units;
/// only units `assignable` allows, at most three.
pub fn propose(
    units: &[Unit],
    model: Option<&Model>,
    title: &str,
    appeal: &str,
    assignable: impl Fn(&Unit) -> bool,
) -> Vec<Proposal> {
    let find = |id: i32| units.iter().find(|u| u.id == id);
    let mut out: Vec<Proposal> = Vec::new();
    let text = format!("{title}\n{appeal}");
    let named = places::Gazetteer::new(units).find(&text);
    let mut placed: Vec<(i32, String, usize)> = Vec::new();
    for n in &named {
        let Some(u) = find(n.unit) else { continue };
        let target = if assignable(u) {
            Some(u)
        } else {
            u.parent_id.and_then(find).filter(|p| assignable(p))
        };
        if let Some(t) = target {
            match placed.iter_mut().find(|p| p.0 == t.id) {
                Some(p) => p.2 += n.hits,
                None => placed.push((t.id, n.name.clone(), n.hits)),
            }
        }
    }
    let hits: usize = placed.iter().map(|p| p.2).sum();
    for (id, name, h) in &placed {
        let Some(u) = find(*id) else { continue };
        out.push(Proposal {
            unit_id: u.id,
            name: u.name.clone(),
            share: PLACE_SHARE * *h as f32 / hits as f32,
            reason: format!("{}（地名）", quoted(std::slice::from_ref(name))),
        });
    }
    let rest = if out.is_empty() {
        1.0
    } else {
        1.0 - PLACE_SHARE
    };
    if let Some(m) = model {
        let ranked: Vec<_> = m
            .rank(title, appeal)
            .into_iter()
            .filter_map(|r| {
                let u = r.class.parse::<i32>().ok().and_then(find)?;
                assignable(u).then_some((u, r))
            })
            .collect();
        let total: f32 = ranked.iter().map(|(_, r)| r.share).sum::<f32>().max(1e-6);
        for (u, r) in ranked {
            if out.len() >= PROPOSED {
                break;
            }
            if out.iter().any(|p| p.unit_id == u.id) {
                continue;
            }
            out.push(Proposal {
                unit_id: u.id,
                name: u.name.clone(),
                share: rest * r.share / total,
                reason: if r.reasons.is_empty() {
                    "与本单位办理过的留言相近".into()
                } else {
                    quoted(&r.reasons)
                },
            });
        }
    }
    out.truncate(PROPOSED);
    out
}

/// The proposed 所属类型 (pure): the model's best category among those offered.
pub fn propose_category(
    model: &Model,
    title: &str,
    appeal: &str,
    categories: &[String],
) -> Option<(String, f32, String)> {
    let ranked = model.rank(title, appeal);
    let offered: Vec<_> = ranked
        .iter()
        .filter(|r| categories.contains(&r.class))
        .collect();
    let total: f32 = offered.iter().map(|r| r.share).sum::<f32>().max(1e-6);
    offered.first().map(|r| {
        (
            r.class.clone(),
            r.share / total,
            if r.reasons.is_empty() {
                String::new()
            } else {
                quoted(&r.reasons)
            },
        )
    })
}

type Loaded = (String, i32, i32, Arc<Model>);

/// The active models, loaded once per version and shared by every request (a model
/// trained by another instance is picked up at the next request that needs it).
#[derive(Default)]
pub struct Models {
    /// (kind, row id, version, model).
    loaded: Mutex<Vec<Loaded>>,
    /// Held while a model is read from the database: of 32 requests arriving together
    /// after a start or a retraining, one reads the 30 MB model and the others wait for
    /// it, instead of each reading its own copy.
    loading: Mutex<()>,
}

impl Models {
    /// The active model of a kind: (version, model), or none when the site has none.
    pub fn current(
        &self,
        conn: &mut DbConn,
        kind: &str,
    ) -> Result<Option<(i32, Arc<Model>)>, AppError> {
        let Some((id, version)) = store::active(conn, kind)? else {
            return Ok(None);
        };
        let cached = || {
            self.loaded.lock().ok().and_then(|l| {
                l.iter()
                    .find(|x| x.0 == kind && x.1 == id)
                    .map(|x| (version, x.3.clone()))
            })
        };
        if let Some(hit) = cached() {
            return Ok(Some(hit));
        }
        let _loading = self.loading.lock();
        if let Some(hit) = cached() {
            return Ok(Some(hit));
        }
        let model = Arc::new(
            Model::from_bytes(&store::data(conn, id)?)
                .map_err(|e| AppError::internal(format!("分拨模型 {kind} v{version}：{e}")))?,
        );
        if let Ok(mut l) = self.loaded.lock() {
            l.retain(|x| x.0 != kind);
            l.push((kind.to_string(), id, version, model.clone()));
        }
        Ok(Some((version, model)))
    }
}

/// How many of the site's newest confirmed messages a training reads at most.
pub const MAX_SITE_EXAMPLES: i64 = 100_000;
/// A confirmed message counts this much more than a seed text.
const SITE_WEIGHT: f32 = 2.0;
/// Cross-validation reads at most this many texts (every k-th), so a retraining costs
/// about seven trainings of that size more than the model itself.
const CV_SAMPLE: usize = 1_000;

/// What one training did.
#[derive(Debug, Clone, Default)]
pub struct Trained {
    pub unit_version: Option<i32>,
    pub category_version: Option<i32>,
    pub examples: usize,
    pub site_examples: usize,
    pub seconds: f64,
}

/// The training texts: (unit docs, category docs, site examples).
fn gather(
    conn: &mut DbConn,
    categories: &[String],
) -> Result<(Vec<Labelled>, Vec<Labelled>, usize), AppError> {
    let mapping = store::subjects(conn)?;
    let seeds = store::seeds(conn)?;
    let site = store::site_examples(conn, MAX_SITE_EXAMPLES)?;
    let mut unit_docs = Vec::with_capacity(seeds.len() + site.len());
    let mut cat_docs = Vec::with_capacity(seeds.len() + site.len());
    for (subject, title, mut body) in seeds {
        text::clip(&mut body);
        let units: Vec<String> = mapping
            .iter()
            .filter(|(s, _)| *s == subject)
            .map(|(_, u)| u.to_string())
            .collect();
        if !units.is_empty() {
            unit_docs.push(Labelled {
                title: title.clone(),
                body: body.clone(),
                labels: units,
                weight: 1.0,
            });
        }
        if categories.contains(&subject) {
            cat_docs.push(Labelled {
                title,
                body,
                labels: vec![subject],
                weight: 1.0,
            });
        }
    }
    let n = site.len();
    for (title, mut appeal, unit, category) in site {
        text::clip(&mut appeal);
        if categories.contains(&category) {
            cat_docs.push(Labelled {
                title: title.clone(),
                body: appeal.clone(),
                labels: vec![category],
                weight: SITE_WEIGHT,
            });
        }
        unit_docs.push(Labelled {
            title,
            body: appeal,
            labels: vec![unit.to_string()],
            weight: SITE_WEIGHT,
        });
    }
    Ok((unit_docs, cat_docs, n))
}

fn cv_score(docs: &[Labelled]) -> Option<f64> {
    if docs.len() < 50 {
        return None;
    }
    let step = docs.len().div_ceil(CV_SAMPLE).max(1);
    let sample: Vec<Labelled> = docs.iter().step_by(step).cloned().collect();
    Some(model::cross_validate(&sample, 5).macro_f1)
}

/// Retrain both models from the seeds and the site's record, under the lease (another
/// process training meanwhile: `Ok(None)`). The database is read, then released while
/// the models are trained, then the new versions are saved in one transaction.
pub fn retrain(
    pool: &crate::db::DbPool,
    by: &str,
    lease_minutes: i64,
) -> Result<Option<Trained>, AppError> {
    let started = std::time::Instant::now();
    let holder = format!(
        "{}:{}:{by}",
        std::process::id(),
        crate::db::now().and_utc().timestamp_micros()
    );
    let mut conn = pool.get().map_err(AppError::internal)?;
    let now = crate::db::now();
    if !store::claim(
        &mut conn,
        &holder,
        now,
        now + chrono::Duration::minutes(lease_minutes),
    )? {
        return Ok(None);
    }
    let result = (|| -> Result<Trained, AppError> {
        let confirmed = store::confirmed_count(&mut conn)?;
        let categories =
            crate::messages::config::list(&mut conn, crate::messages::config::CATEGORY)?;
        let (unit_docs, cat_docs, site) = gather(&mut conn, &categories)?;
        drop(conn);
        let unit = Model::train(&unit_docs).map(|m| (cv_score(&unit_docs), m));
        let category = Model::train(&cat_docs).map(|m| (cv_score(&cat_docs), m));
        let mut conn = pool.get().map_err(AppError::internal)?;
        let at = crate::db::now();
        let mut out = Trained {
            examples: unit_docs.len(),
            site_examples: site,
            ..Default::default()
        };
        crate::db::write_tx(&mut conn, |c| -> Result<(), AppError> {
            for (kind, trained, docs, slot) in [
                (store::UNIT, unit, &unit_docs, &mut out.unit_version),
                (
                    store::CATEGORY,
                    category,
                    &cat_docs,
                    &mut out.category_version,
                ),
            ] {
                if let Some((cv, m)) = trained {
                    *slot = Some(store::save(
                        c,
                        store::NewModel {
                            kind,
                            examples: docs.len() as i32,
                            site_examples: docs.iter().filter(|d| d.weight == SITE_WEIGHT).count()
                                as i32,
                            classes: m.classes.len() as i32,
                            cv_macro_f1: cv,
                            trained_by: by,
                            data: m.to_bytes(),
                        },
                        at,
                    )?);
                }
            }
            out.seconds = started.elapsed().as_secs_f64();
            store::release(c, &holder, Some(confirmed))?;
            crate::audit::record(
                c,
                &crate::audit::Actor::system(),
                "dispatch_train",
                "智能分拨模型重新训练",
                crate::audit::OK,
                &format!(
                    "核办单位模型 {}，所属类型模型 {}；样本 {} 条（本站 {} 条），用时 {:.1} 秒；发起：{by}",
                    out.unit_version.map(|v| format!("v{v}")).unwrap_or("未生成".into()),
                    out.category_version.map(|v| format!("v{v}")).unwrap_or("未生成".into()),
                    out.examples,
                    out.site_examples,
                    out.seconds
                ),
            )?;
            Ok(())
        })?;
        Ok(out)
    })();
    if result.is_err() {
        if let Ok(mut c) = pool.get() {
            let _ = store::release(&mut c, &holder, None);
        }
    }
    result.map(Some)
}

/// Whether a retraining is due: `every` new confirmed messages since the last one, or a
/// day since the last model with any new one (0 turns automatic retraining off).
pub fn due(conn: &mut DbConn, every: i64, now: NaiveDateTime) -> Result<bool, AppError> {
    if every <= 0 {
        return Ok(false);
    }
    let (_, _, at_train) = store::lease(conn)?;
    let confirmed = store::confirmed_count(conn)?;
    let new = confirmed - at_train as i64;
    if new >= every {
        return Ok(true);
    }
    let last = store::models(conn)?.into_iter().map(|m| m.trained_at).max();
    Ok(new > 0 && last.is_some_and(|t| now - t > chrono::Duration::hours(24)))
}
