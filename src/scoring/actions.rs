//! The changes the city centre makes to a year's assessment — its rules, manual entries
//! and their reversals, 定稿, and findings that a 退回 was unjustified — each one
//! transaction holding the change and its audit row. Refusals a clerk can act on come
//! back as `Ok(Err(..))`; the handlers only parse, call and render.

use chrono::NaiveDate;

use crate::attachments::{self, Incoming, Store};
use crate::audit::{self, Actor};
use crate::auth::roles::Role;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::scoring::{board, manual, points_text, store, Rules, Score};

/// Who writes an entry, as its record names them.
#[derive(Clone, Copy)]
pub struct Author<'a> {
    pub id: i32,
    pub name: &'a str,
}

/// Save a year's rules (the caller has checked they parse and the year is open).
pub fn save_rules(
    conn: &mut DbConn,
    actor: &Actor,
    year: i32,
    rules: &Rules,
) -> Result<(), AppError> {
    db::write_tx(conn, |c| {
        store::save_rules(c, year, rules)?;
        audit::record(
            c,
            actor,
            "score_rules",
            &format!("{year} 年度考评规则"),
            audit::OK,
            "",
        )?;
        Ok(())
    })
}

/// What an added entry was: (unit, item, bonus, points in tenths).
pub type Added = (String, String, bool, i64);

/// Check and record a manual entry with its evidence file (the first of `files`, moved
/// into the store in the same transaction and removed again should it not commit).
/// `refused` holds the upload's own refusals, shown with the form's.
#[allow(clippy::too_many_arguments)]
pub fn add_entry(
    conn: &mut DbConn,
    actor: &Actor,
    author: Author,
    store_dir: &Store,
    year: i32,
    today: NaiveDate,
    typed: &manual::Typed,
    files: &[Incoming],
    refused: FieldErrors,
) -> Result<Result<Added, FieldErrors>, AppError> {
    let y = store::year(conn, year)?;
    let all = crate::units::all(conn)?;
    let ids: Vec<i32> = board::assessed(&all).iter().map(|u| u.id).collect();
    let checked = manual::check(&y.rules, &ids, year, today, typed);
    let mut e = refused;
    if y.finalised.is_some() {
        e.add("item", &format!("{year} 年度已定稿，不能再录入。"));
    }
    let v = match checked {
        Ok(v) if e.is_empty() => v,
        Ok(_) => return Ok(Err(e)),
        Err(more) => {
            e.merge(more);
            return Ok(Err(e));
        }
    };
    // `check` took the unit from `all`.
    let unit = all
        .iter()
        .find(|u| u.id == v.unit_id)
        .ok_or_else(|| AppError::internal("checked unit vanished"))?;
    let item = &v.item;
    let mut placed = Vec::new();
    let result = db::write_tx(conn, |c| {
        let evidence = match files.first() {
            Some(file) => {
                let stored = format!("evidence/{}", file.sha256);
                let dest = store_dir.path_of(&stored);
                if let Some(dir) = dest.parent() {
                    std::fs::create_dir_all(dir).map_err(AppError::io)?;
                }
                std::fs::rename(&file.tmp, &dest).map_err(AppError::io)?;
                placed.push(dest);
                Some((file.original_name.clone(), stored, file.sha256.clone()))
            }
            None => None,
        };
        let id = store::add_entry(
            c,
            &store::NewEntry {
                year,
                unit_id: unit.id,
                item: &item.code,
                points: v.points,
                date: v.date,
                reason: &v.reason,
                evidence,
                author_id: author.id,
                author_name: author.name,
                reverses: None,
                occurrences: v.count,
                evidence_ref: v.evidence_ref.as_deref(),
            },
        )?;
        audit::record(
            c,
            actor,
            "score_entry",
            &format!(
                "{} {}{} {} 分（#{id}）",
                unit.name,
                if item.bonus { "加分·" } else { "扣分·" },
                item.name,
                points_text(v.points)
            ),
            audit::OK,
            &v.reason,
        )?;
        Ok::<_, AppError>((unit.name.clone(), item.name.clone(), item.bonus, v.points))
    });
    if result.is_err() {
        attachments::unplace(&placed);
    }
    result.map(Ok)
}

/// Withdraw entry `id` by appending its reversal (never by deleting it). Returns its
/// year, or the year with why it was refused.
pub fn reverse_entry(
    conn: &mut DbConn,
    actor: &Actor,
    author: Author,
    id: i32,
    reason: &str,
    today: NaiveDate,
) -> Result<Result<i32, (i32, String)>, AppError> {
    db::write_tx(conn, |c| {
        let e = store::find_entry(c, id)?.ok_or(AppError::NotFound)?;
        if e.reverses.is_some() {
            return Ok(Err((e.year, "撤销记录本身不能再撤销。".to_string())));
        }
        if store::year(c, e.year)?.finalised.is_some() {
            return Ok(Err((e.year, format!("{} 年度已定稿，不能撤销。", e.year))));
        }
        if store::entries(c, e.year)?
            .iter()
            .any(|x| x.reverses == Some(id))
        {
            return Ok(Err((e.year, "该记录已撤销。".to_string())));
        }
        if reason.is_empty() || reason.chars().count() > 500 {
            return Ok(Err((
                e.year,
                "请填写撤销理由（不超过 500 字）。".to_string(),
            )));
        }
        store::add_entry(
            c,
            &store::NewEntry {
                year: e.year,
                unit_id: e.unit_id,
                item: &e.item,
                points: -(e.points as i64),
                date: today.min(NaiveDate::from_ymd_opt(e.year, 12, 31).unwrap_or(e.entry_date)),
                reason: &format!("撤销第 {id} 号记录：{reason}"),
                evidence: None,
                author_id: author.id,
                author_name: author.name,
                reverses: Some(id),
                occurrences: e.occurrences,
                evidence_ref: None,
            },
        )?;
        audit::record(
            c,
            actor,
            "score_entry_reverse",
            &format!("撤销加减分记录 #{id}"),
            audit::OK,
            reason,
        )?;
        Ok(Ok(e.year))
    })
}

/// 定稿: freeze the year's scores as they stand at its end. `false` when it already was.
pub fn finalise(
    conn: &mut DbConn,
    actor: &Actor,
    cache: &crate::cache::Cache,
    year: i32,
    by: &str,
) -> Result<bool, AppError> {
    let end = NaiveDate::from_ymd_opt(year, 12, 31).ok_or(AppError::NotFound)?;
    db::write_tx(conn, |c| {
        let (y, rows, frozen) = board::board(c, cache, year, end)?;
        if frozen || y.finalised.is_some() {
            return Ok(false);
        }
        let results: Vec<(i32, Score, usize)> =
            rows.iter().map(|(u, s, r)| (u.id, s.clone(), *r)).collect();
        let ok = store::finalise(c, year, &y.rules, &results, by)?;
        audit::record(
            c,
            actor,
            "score_finalise",
            &format!("{year} 年度考评定稿（{} 个单位）", results.len()),
            audit::OK,
            "",
        )?;
        Ok(ok)
    })
}

/// The owner (`role` in `unit`, named `by`) finds the 退回 recorded as event `seq` of
/// message `id` unjustified (推诿扯皮): it counts against the unit that returned.
#[allow(clippy::too_many_arguments)]
pub fn mark_return(
    conn: &mut DbConn,
    actor: &Actor,
    role: Role,
    unit: i32,
    by: &str,
    id: i32,
    seq: i32,
    reason: &str,
) -> Result<Result<(), &'static str>, AppError> {
    use crate::messages::model;
    db::write_tx(conn, |c| {
        let scope = model::scope_for(c, role, unit)?;
        let msg = model::find_scoped(c, &scope, id)?.ok_or(AppError::NotFound)?;
        if msg.owner_unit_id != unit {
            return Err(AppError::NotFound);
        }
        let ev = model::events(c, id)?
            .into_iter()
            .find(|e| e.seq == seq && e.action == "return")
            .ok_or(AppError::NotFound)?;
        if reason.is_empty() || reason.chars().count() > 500 {
            return Ok(Err("请填写认定退回理由不成立的依据（不超过 500 字）。"));
        }
        let returned_by = ev.unit_id.ok_or(AppError::NotFound)?;
        if !store::mark_return(c, id, seq, returned_by, reason, by)? {
            return Ok(Err("该退回已经认定过。"));
        }
        audit::record(
            c,
            actor,
            "return_mark",
            &format!("留言 {} 第 {seq} 条退回认定为理由不成立", msg.ref_no),
            audit::OK,
            reason,
        )?;
        Ok(Ok(()))
    })
}
