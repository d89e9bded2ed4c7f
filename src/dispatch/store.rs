//! Persistence of 智能分拨: models (versioned, one active per kind), seed texts, the
//! subject → department mapping, the training lease, the examples the site's own record
//! gives, and the proposals made at 转办 with what was chosen.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    dispatch_models::dsl as dm, dispatch_proposals::dsl as dp, dispatch_seeds::dsl as ds,
    dispatch_state::dsl as st, dispatch_subjects::dsl as sj, messages::dsl as m,
};
use crate::db::DbConn;

use super::model::Labelled;

/// The two models: text → 核办单位 (classes are unit ids) and text → 所属类型.
pub const UNIT: &str = "unit";
pub const CATEGORY: &str = "category";

/// How many earlier versions are kept for roll back.
const KEEP: i64 = 5;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::dispatch_models)]
pub struct ModelInfo {
    pub id: i32,
    pub kind: String,
    pub version: i32,
    pub trained_at: NaiveDateTime,
    pub examples: i32,
    pub site_examples: i32,
    pub classes: i32,
    pub cv_macro_f1: Option<f64>,
    pub active: bool,
    pub trained_by: String,
}

/// Every kept model, newest first (the settings page).
pub fn models(conn: &mut DbConn) -> QueryResult<Vec<ModelInfo>> {
    dm::dispatch_models
        .select(ModelInfo::as_select())
        .order((dm::kind, dm::version.desc()))
        .load(conn)
}

/// The active model of a kind: (id, version).
pub fn active(conn: &mut DbConn, kind: &str) -> QueryResult<Option<(i32, i32)>> {
    dm::dispatch_models
        .filter(dm::kind.eq(kind).and(dm::active.eq(true)))
        .select((dm::id, dm::version))
        .first(conn)
        .optional()
}

pub fn data(conn: &mut DbConn, id: i32) -> QueryResult<Vec<u8>> {
    dm::dispatch_models.find(id).select(dm::data).first(conn)
}

/// What a new model is saved with.
pub struct NewModel<'a> {
    pub kind: &'a str,
    pub examples: i32,
    pub site_examples: i32,
    pub classes: i32,
    pub cv_macro_f1: Option<f64>,
    pub trained_by: &'a str,
    pub data: Vec<u8>,
}

/// Save a model as the next version of its kind and make it the active one; versions
/// beyond the last few are dropped. Returns the version.
pub fn save(conn: &mut DbConn, new: NewModel, at: NaiveDateTime) -> QueryResult<i32> {
    let last: Option<i32> = dm::dispatch_models
        .filter(dm::kind.eq(new.kind))
        .select(diesel::dsl::max(dm::version))
        .first(conn)?;
    let version = last.unwrap_or(0) + 1;
    diesel::update(dm::dispatch_models.filter(dm::kind.eq(new.kind)))
        .set(dm::active.eq(false))
        .execute(conn)?;
    diesel::insert_into(dm::dispatch_models)
        .values((
            dm::kind.eq(new.kind),
            dm::version.eq(version),
            dm::trained_at.eq(at),
            dm::examples.eq(new.examples),
            dm::site_examples.eq(new.site_examples),
            dm::classes.eq(new.classes),
            dm::cv_macro_f1.eq(new.cv_macro_f1),
            dm::active.eq(true),
            dm::trained_by.eq(new.trained_by),
            dm::data.eq(new.data),
        ))
        .execute(conn)?;
    diesel::delete(
        dm::dispatch_models.filter(
            dm::kind
                .eq(new.kind)
                .and(dm::version.le(version - KEEP as i32)),
        ),
    )
    .execute(conn)?;
    Ok(version)
}

/// Make a kept version the active one (roll back or forward). False when there is none.
pub fn activate(conn: &mut DbConn, kind: &str, version: i32) -> QueryResult<bool> {
    let exists = dm::dispatch_models
        .filter(dm::kind.eq(kind).and(dm::version.eq(version)))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        diesel::update(dm::dispatch_models.filter(dm::kind.eq(kind)))
            .set(dm::active.eq(dm::version.eq(version)))
            .execute(conn)?;
    }
    Ok(exists)
}

/// Add labelled seed texts (`liuyan classify --train`). Returns how many were new.
pub fn add_seeds(
    conn: &mut DbConn,
    rows: &[Labelled],
    source: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let have: std::collections::HashSet<(String, String)> = ds::dispatch_seeds
        .select((ds::title, ds::body))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut added = 0;
    for r in rows
        .iter()
        .filter(|r| !have.contains(&(r.title.clone(), r.body.clone())))
    {
        added += diesel::insert_into(ds::dispatch_seeds)
            .values((
                ds::label.eq(r.labels.first().cloned().unwrap_or_default()),
                ds::title.eq(&r.title),
                ds::body.eq(&r.body),
                ds::source.eq(source),
                ds::added_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(added)
}

/// Seed texts: (subject, title, body).
pub fn seeds(conn: &mut DbConn) -> QueryResult<Vec<(String, String, String)>> {
    ds::dispatch_seeds
        .select((ds::label, ds::title, ds::body))
        .order(ds::id)
        .load(conn)
}

/// Seed texts per subject.
pub fn seed_counts(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    ds::dispatch_seeds
        .group_by(ds::label)
        .select((ds::label, diesel::dsl::count_star()))
        .order(ds::label)
        .load(conn)
}

/// The subject → departments mapping.
pub fn subjects(conn: &mut DbConn) -> QueryResult<Vec<(String, i32)>> {
    sj::dispatch_subjects
        .select((sj::subject, sj::unit_id))
        .order((sj::subject, sj::unit_id))
        .load(conn)
}

/// Replace the departments a subject maps to.
pub fn set_subject(conn: &mut DbConn, subject: &str, units: &[i32]) -> QueryResult<()> {
    diesel::delete(sj::dispatch_subjects.filter(sj::subject.eq(subject))).execute(conn)?;
    for u in units {
        diesel::insert_into(sj::dispatch_subjects)
            .values((sj::subject.eq(subject), sj::unit_id.eq(*u)))
            .execute(conn)?;
    }
    Ok(())
}

/// The departments a subject of the shipped seed files usually goes to in a city
/// government (the centre edits them in 业务设置).
pub const DEFAULT_SUBJECTS: &[(&str, &[&str])] = &[
    ("城乡建设", &["市住房和城乡建设局"]),
    ("环境保护", &["市生态环境局"]),
    ("交通运输", &["市交通运输局"]),
    ("教育文体", &["市教育局", "市文化广电旅游局"]),
    ("劳动和社会保障", &["市人力资源和社会保障局"]),
    ("商贸旅游", &["市商务局", "市文化广电旅游局"]),
    ("卫生计生", &["市卫生健康委员会"]),
];

/// Fill the mapping with the defaults when it is empty (units found by short name).
pub fn default_subjects(conn: &mut DbConn, units: &[crate::units::Unit]) -> QueryResult<()> {
    if sj::dispatch_subjects.count().get_result::<i64>(conn)? > 0 {
        return Ok(());
    }
    for (subject, names) in DEFAULT_SUBJECTS {
        let ids: Vec<i32> = names
            .iter()
            .filter_map(|n| units.iter().find(|u| u.short_name == *n).map(|u| u.id))
            .collect();
        set_subject(conn, subject, &ids)?;
    }
    Ok(())
}

/// Messages whose handling unit is confirmed: it 签收'd (a 退回 clears the 签收, so a
/// message returned and assigned again teaches the unit that kept it) or the message
/// was answered (imported history answered on the platform included).
fn confirmed() -> diesel::dsl::And<
    diesel::dsl::IsNotNull<m::handling_unit_id>,
    diesel::dsl::Or<diesel::dsl::IsNotNull<m::accepted_at>, diesel::dsl::IsNotNull<m::replied_at>>,
> {
    m::handling_unit_id
        .is_not_null()
        .and(m::accepted_at.is_not_null().or(m::replied_at.is_not_null()))
}

/// How many confirmed messages there are (training is due when it grows).
pub fn confirmed_count(conn: &mut DbConn) -> QueryResult<i64> {
    m::messages.filter(confirmed()).count().get_result(conn)
}

/// The newest confirmed messages: (title, appeal, handling unit, 所属类型).
pub fn site_examples(
    conn: &mut DbConn,
    limit: i64,
) -> QueryResult<Vec<(String, String, i32, String)>> {
    m::messages
        .filter(confirmed())
        .filter(m::duplicate_of.is_null())
        .select((
            m::title,
            m::appeal,
            m::handling_unit_id.assume_not_null(),
            m::category,
        ))
        .order(m::id.desc())
        .limit(limit)
        .load(conn)
}

/// Take the training lease (one process at a time across instances). False when another
/// holds an unexpired one.
pub fn claim(
    conn: &mut DbConn,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        st::dispatch_state.filter(
            st::id
                .eq(1)
                .and(st::lease_until.is_null().or(st::lease_until.lt(now))),
        ),
    )
    .set((
        st::lease_until.eq(Some(until)),
        st::lease_holder.eq(Some(holder)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Give the lease back, noting how many confirmed messages the training saw.
pub fn release(conn: &mut DbConn, holder: &str, examples: Option<i64>) -> QueryResult<()> {
    let q = st::dispatch_state.filter(st::id.eq(1).and(st::lease_holder.eq(holder)));
    match examples {
        Some(n) => diesel::update(q)
            .set((
                st::lease_until.eq(None::<NaiveDateTime>),
                st::lease_holder.eq(None::<String>),
                st::examples_at_train.eq(n as i32),
            ))
            .execute(conn)?,
        None => diesel::update(q)
            .set((
                st::lease_until.eq(None::<NaiveDateTime>),
                st::lease_holder.eq(None::<String>),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// The lease (holder, until) while one is held, and the confirmed count at the last training.
pub fn lease(conn: &mut DbConn) -> QueryResult<(Option<String>, Option<NaiveDateTime>, i32)> {
    st::dispatch_state
        .find(1)
        .select((st::lease_holder, st::lease_until, st::examples_at_train))
        .first(conn)
}

/// A proposal made at 转办, with the unit chosen (in the 转办's transaction).
pub struct Made {
    pub version: i32,
    pub proposed: i32,
    /// The chosen unit's place among the proposals (1–3), if it was one.
    pub rank: Option<i32>,
}

pub fn record(
    conn: &mut DbConn,
    message: i32,
    at: NaiveDateTime,
    made: &Made,
    chosen: i32,
) -> QueryResult<()> {
    diesel::insert_into(dp::dispatch_proposals)
        .values((
            dp::message_id.eq(message),
            dp::proposed_at.eq(at),
            dp::month.eq(month_of(at)),
            dp::model_version.eq(made.version),
            dp::proposed_unit_id.eq(made.proposed),
            dp::chosen_unit_id.eq(chosen),
            dp::chosen_rank.eq(made.rank),
            dp::returned.eq(false),
        ))
        .execute(conn)?;
    Ok(())
}

/// A 退回: the message's last proposal led to one.
pub fn returned(conn: &mut DbConn, message: i32) -> QueryResult<()> {
    let last: Option<i32> = dp::dispatch_proposals
        .filter(dp::message_id.eq(message))
        .select(diesel::dsl::max(dp::id))
        .first(conn)?;
    if let Some(id) = last {
        diesel::update(dp::dispatch_proposals.find(id))
            .set(dp::returned.eq(true))
            .execute(conn)?;
    }
    Ok(())
}

/// The month a time falls in, China time ("2026-12").
pub fn month_of(at: NaiveDateTime) -> String {
    crate::clock::to_china(at).format("%Y-%m").to_string()
}

/// One month of proposals: how many, taken (the first proposal chosen), changed (another
/// unit chosen), and how many of those taken were then returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Month {
    pub month: String,
    pub proposals: i64,
    pub taken: i64,
    pub changed: i64,
    pub taken_returned: i64,
}

impl Month {
    pub fn taken_pct(&self) -> String {
        pct(self.taken, self.proposals)
    }
    pub fn changed_pct(&self) -> String {
        pct(self.changed, self.proposals)
    }
    pub fn returned_pct(&self) -> String {
        pct(self.taken_returned, self.proposals)
    }
}

fn pct(n: i64, of: i64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / of as f64)
    }
}

/// Months of proposals, and (unit id, times its proposal was corrected).
pub type Accuracy = (Vec<Month>, Vec<(i32, i64)>);

/// The proposals from month `from` ("2026-01") on whose chosen unit is one of `among`
/// (the units one owner assigns to: the centre's counties, zones and departments, or a
/// county's sub-units), by month (counted in the database, over the month index), and the
/// units proposed first most often corrected (another unit chosen, or taken and then
/// returned): (unit id, times).
pub fn accuracy(conn: &mut DbConn, from: &str, among: &[i32]) -> QueryResult<Accuracy> {
    use diesel::dsl::count_star;
    let since = || {
        dp::dispatch_proposals
            .filter(dp::month.ge(from))
            .filter(dp::chosen_unit_id.eq_any(among.to_vec()))
    };
    let all: Vec<(String, i64)> = since()
        .group_by(dp::month)
        .select((dp::month, count_star()))
        .order(dp::month)
        .load(conn)?;
    let taken: Vec<(String, bool, i64)> = since()
        .filter(dp::proposed_unit_id.eq(dp::chosen_unit_id))
        .group_by((dp::month, dp::returned))
        .select((dp::month, dp::returned, count_star()))
        .load(conn)?;
    let months = all
        .into_iter()
        .map(|(month, n)| {
            let of = |r: bool| {
                taken
                    .iter()
                    .filter(|t| t.0 == month && t.1 == r)
                    .map(|t| t.2)
                    .sum::<i64>()
            };
            let (kept, returned) = (of(false), of(true));
            Month {
                proposals: n,
                taken: kept + returned,
                changed: n - kept - returned,
                taken_returned: returned,
                month,
            }
        })
        .collect();
    let changed: Vec<(i32, i64)> = since()
        .filter(dp::proposed_unit_id.ne(dp::chosen_unit_id))
        .group_by(dp::proposed_unit_id)
        .select((dp::proposed_unit_id, count_star()))
        .load(conn)?;
    let returned: Vec<(i32, i64)> = since()
        .filter(
            dp::proposed_unit_id
                .eq(dp::chosen_unit_id)
                .and(dp::returned.eq(true)),
        )
        .group_by(dp::proposed_unit_id)
        .select((dp::proposed_unit_id, count_star()))
        .load(conn)?;
    let mut corrected: std::collections::HashMap<i32, i64> = Default::default();
    for (u, n) in changed.into_iter().chain(returned) {
        *corrected.entry(u).or_default() += n;
    }
    let mut corrected: Vec<(i32, i64)> = corrected.into_iter().collect();
    corrected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    corrected.truncate(10);
    Ok((months, corrected))
}
