//! 登记打印: what a printed archive holds, and the audited record that it was printed
//! (one row per archive, with the printed content and its fingerprint), for one
//! message or for a unit's archives of a period.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::archive;
use crate::attachments::{self, Attachment};
use crate::audit::{self, Actor};
use crate::auth::roles::Role;
use crate::clock::china_day_start;
use crate::db::schema::archive_prints::dsl as ap;
use crate::db::schema::messages::dsl as m;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::messages::model::{self, Event, Message, Scope};

/// A message with everything its archive shows.
pub struct Loaded {
    pub msg: Message,
    pub events: Vec<Event>,
    pub files: Vec<Attachment>,
}

pub fn load(conn: &mut DbConn, msg: Message) -> Result<Loaded, AppError> {
    Ok(Loaded {
        events: model::events(conn, msg.id)?,
        files: attachments::for_message(conn, msg.id)?,
        msg,
    })
}

impl Loaded {
    /// The archive's content as printed (and fingerprinted).
    pub fn content(&self, names: &HashMap<i32, String>) -> Vec<(String, String)> {
        archive::printed_content(&self.msg, names, &self.events, &self.files)
    }
}

/// Unit names by id.
pub fn names_of(all: &[crate::units::Unit]) -> HashMap<i32, String> {
    all.iter().map(|u| (u.id, u.name.clone())).collect()
}

/// The unit's messages archived in [from, to) that the scope sees, in 档号 order.
pub fn archived_in(
    conn: &mut DbConn,
    scope: &Scope,
    unit: i32,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<Message>> {
    model::scoped(scope)
        .filter(m::handling_unit_id.eq(unit))
        .filter(m::state.eq("archived"))
        .filter(m::archived_at.ge(china_day_start(from)))
        .filter(m::archived_at.lt(china_day_start(to)))
        .order(m::archive_no.asc())
        .load(conn)
}

/// Who prints: the user acting as `role` in `unit_id`.
#[derive(Clone, Copy)]
pub struct Printer<'a> {
    pub role: Role,
    pub unit_id: i32,
    pub user_id: i32,
    pub name: &'a str,
}

/// Record a print of message `id`'s archive: (its fingerprint, how many prints it now has).
pub fn print_one(
    conn: &mut DbConn,
    actor: &Actor,
    by: Printer,
    id: i32,
) -> Result<(String, i64), AppError> {
    db::write_tx(conn, |c| {
        let scope = model::scope_for(c, by.role, by.unit_id)?;
        let msg = model::find_scoped(c, &scope, id)?.ok_or(AppError::NotFound)?;
        let names = names_of(&crate::units::all(c)?);
        let l = load(c, msg)?;
        let fp = archive::record_print(c, id, by.user_id, by.name, by.unit_id, &l.content(&names))?;
        audit::record(
            c,
            actor,
            "print",
            &format!("留言 {} 档案", l.msg.ref_no),
            audit::OK,
            &format!("指纹 {fp}"),
        )?;
        Ok((fp, archive::print_count(c, id)?))
    })
}

/// Record a print of every archive of `unit`'s period [from, to) (`label` names the
/// period and unit in the audit log); returns how many were printed.
pub fn print_batch(
    conn: &mut DbConn,
    actor: &Actor,
    by: Printer,
    unit: i32,
    (from, to): (NaiveDate, NaiveDate),
    label: &str,
) -> Result<usize, AppError> {
    db::write_tx(conn, |c| {
        let scope = model::scope_for(c, by.role, by.unit_id)?;
        let names = names_of(&crate::units::all(c)?);
        let msgs = archived_in(c, &scope, unit, from, to)?;
        for msg in &msgs {
            let l = load(c, msg.clone())?;
            archive::record_print(
                c,
                msg.id,
                by.user_id,
                by.name,
                by.unit_id,
                &l.content(&names),
            )?;
        }
        audit::record(
            c,
            actor,
            "print",
            &format!("{label} 档案批量打印"),
            audit::OK,
            &format!("{} 份", msgs.len()),
        )?;
        Ok(msgs.len())
    })
}

/// How many prints of message `id` came after print `print_id`.
pub fn later_prints(conn: &mut DbConn, id: i32, print_id: i32) -> QueryResult<i64> {
    ap::archive_prints
        .filter(ap::message_id.eq(id))
        .filter(ap::id.gt(print_id))
        .count()
        .get_result(conn)
}

/// The id of the message numbered `ref_no`, if any.
pub fn id_of_ref(conn: &mut DbConn, ref_no: &str) -> QueryResult<Option<i32>> {
    m::messages
        .filter(m::ref_no.eq(ref_no))
        .select(m::id)
        .first(conn)
        .optional()
}
