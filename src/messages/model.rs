//! The work order (留言) and its events: rows, the 16 elements, and every query,
//! always through one scope (who may see what, DESIGN §3).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Deserialize;

use crate::auth::roles::{Role, UnitKind};
use crate::db::schema::{message_events::dsl as e, messages, messages::dsl as m, units::dsl as u};
use crate::db::DbConn;
use crate::messages::deadline::{Today, Window};
use crate::messages::lifecycle::State;

#[derive(Queryable, Debug, Clone, Default)]
pub struct Message {
    pub id: i32,
    pub ref_no: String,
    pub owner_unit_id: i32,
    pub level: String,
    pub source_platform: String,
    pub platform_ref: Option<String>,
    /// 反映人 and 联系方式, opened: sealed at rest (`personal`).
    #[diesel(deserialize_as = crate::messages::personal::Opened)]
    pub complainant_name: String,
    #[diesel(deserialize_as = crate::messages::personal::Opened)]
    pub complainant_contact: String,
    pub title: String,
    pub appeal: String,
    pub posted_at: NaiveDateTime,
    pub category: String,
    pub handling_unit_id: Option<i32>,
    pub forwarded_unit_id: Option<i32>,
    pub state: String,
    pub version: i32,
    pub registered_at: NaiveDateTime,
    pub assigned_at: Option<NaiveDateTime>,
    pub accept_due: Option<NaiveDate>,
    pub accepted_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDate>,
    pub extension_days: i32,
    pub extension_requested_days: Option<i32>,
    pub draft_reply: Option<String>,
    pub handling_summary: Option<String>,
    pub proposed_resolved: Option<bool>,
    pub replied_at: Option<NaiveDateTime>,
    pub resolved: Option<bool>,
    pub closed_at: Option<NaiveDateTime>,
    pub followup_due: Option<NaiveDate>,
    pub satisfaction: Option<String>,
    pub evaluation: Option<String>,
    pub followed_up_at: Option<NaiveDateTime>,
    pub report_ref_no: Option<String>,
    pub reported_at: Option<NaiveDateTime>,
    pub archived_at: Option<NaiveDateTime>,
    pub supervision_level: Option<String>,
    pub supervision_due: Option<NaiveDate>,
    pub updated_at: NaiveDateTime,
    /// 档号, set at 销号.
    pub archive_no: Option<String>,
    /// 保管期限: 永久 / 30年 / 10年.
    pub retention: Option<String>,
    /// 下转签收: when the county's sub-unit acknowledged the forwarded message.
    pub forward_accepted_at: Option<NaiveDateTime>,
    /// 不再重办: when the owner decided not to 重办 a 不满意 message (the reason is the
    /// event's text).
    pub no_reopen_at: Option<NaiveDateTime>,
    /// 重复件: the earlier message this one repeats (closed with a reference to it).
    pub duplicate_of: Option<i32>,
    /// The look-up digests of 反映人 and 联系方式 (`personal::name_key`, `contact_key`).
    pub name_key: Option<String>,
    pub contact_key: Option<String>,
}

/// What an action changes; `None` leaves a column alone, `Some(None)` clears it.
#[derive(AsChangeset, Default, Debug)]
#[diesel(table_name = messages)]
pub struct Changes {
    pub state: Option<String>,
    pub version: Option<i32>,
    pub updated_at: Option<NaiveDateTime>,
    pub level: Option<String>,
    pub source_platform: Option<String>,
    pub platform_ref: Option<Option<String>>,
    pub complainant_name: Option<String>,
    pub complainant_contact: Option<String>,
    pub title: Option<String>,
    pub appeal: Option<String>,
    pub posted_at: Option<NaiveDateTime>,
    pub category: Option<String>,
    pub handling_unit_id: Option<Option<i32>>,
    pub forwarded_unit_id: Option<Option<i32>>,
    pub assigned_at: Option<Option<NaiveDateTime>>,
    pub accept_due: Option<Option<NaiveDate>>,
    pub accepted_at: Option<Option<NaiveDateTime>>,
    pub due_at: Option<Option<NaiveDate>>,
    pub extension_days: Option<i32>,
    pub extension_requested_days: Option<Option<i32>>,
    pub draft_reply: Option<Option<String>>,
    pub handling_summary: Option<Option<String>>,
    pub proposed_resolved: Option<Option<bool>>,
    pub replied_at: Option<Option<NaiveDateTime>>,
    pub resolved: Option<Option<bool>>,
    pub closed_at: Option<Option<NaiveDateTime>>,
    pub followup_due: Option<Option<NaiveDate>>,
    pub satisfaction: Option<Option<String>>,
    pub evaluation: Option<Option<String>>,
    pub followed_up_at: Option<Option<NaiveDateTime>>,
    pub report_ref_no: Option<Option<String>>,
    pub reported_at: Option<Option<NaiveDateTime>>,
    pub archived_at: Option<Option<NaiveDateTime>>,
    pub supervision_level: Option<Option<String>>,
    pub supervision_due: Option<Option<NaiveDate>>,
    pub archive_no: Option<Option<String>>,
    pub retention: Option<Option<String>>,
    pub forward_accepted_at: Option<Option<NaiveDateTime>>,
    pub no_reopen_at: Option<Option<NaiveDateTime>>,
    pub duplicate_of: Option<Option<i32>>,
    pub name_key: Option<Option<String>>,
    pub contact_key: Option<Option<String>>,
}

impl Changes {
    /// Make the changes as written: a new 反映人 or 联系方式 sealed, with its look-up digest
    /// (`personal`). Every write of a `Changes` goes through this.
    pub fn seal_personal(&mut self) {
        use crate::messages::personal;
        if let Some(name) = self.complainant_name.take() {
            self.name_key = Some(personal::name_key(&name));
            self.complainant_name = Some(personal::seal(&name));
        }
        if let Some(contact) = self.complainant_contact.take() {
            self.contact_key = Some(personal::contact_key(&contact));
            self.complainant_contact = Some(personal::seal(&contact));
        }
    }
}

impl Message {
    pub fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Registered)
    }

    /// The 16 elements (DESIGN §2) that are still empty, by their Chinese names.
    pub fn missing_elements(&self) -> Vec<&'static str> {
        let empty = |s: &str| s.trim().is_empty();
        let opt_empty = |s: &Option<String>| s.as_deref().is_none_or(|v| v.trim().is_empty());
        let mut out = Vec::new();
        if empty(&self.ref_no) {
            out.push("留言文号");
        }
        if empty(&self.level) {
            out.push("级别");
        }
        if empty(&self.source_platform) {
            out.push("留言来源平台");
        }
        if empty(&self.complainant_name) {
            out.push("反映人");
        }
        if empty(&self.complainant_contact) {
            out.push("联系方式");
        }
        if empty(&self.title) {
            out.push("留言标题");
        }
        if empty(&self.appeal) {
            out.push("主要诉求");
        }
        // 留言时间 is NOT NULL.
        if self.handling_unit_id.is_none() {
            out.push("核办单位");
        }
        if self.due_at.is_none() {
            out.push("到期时间");
        }
        if empty(&self.category) {
            out.push("所属类型");
        }
        if opt_empty(&self.handling_summary) {
            out.push("办理情况");
        }
        if self.resolved.is_none() {
            out.push("是否化解");
        }
        if opt_empty(&self.satisfaction) {
            out.push("评价内容");
        }
        if self.followed_up_at.is_none() {
            out.push("回访时间");
        }
        if opt_empty(&self.report_ref_no) {
            out.push("呈报文号");
        }
        out
    }
}

/// Mask a phone number for lists and prints: 138****5678.
pub fn mask_contact(contact: &str) -> String {
    if contact == crate::messages::personal::UNREADABLE {
        return contact.to_string();
    }
    let chars: Vec<char> = contact.chars().collect();
    if chars.len() >= 7 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    } else if chars.is_empty() {
        String::new()
    } else {
        "****".to_string()
    }
}

#[derive(Queryable, Debug, Clone)]
pub struct Event {
    pub id: i32,
    pub message_id: i32,
    pub seq: i32,
    pub at: NaiveDateTime,
    pub user_id: Option<i32>,
    pub actor_name: String,
    pub unit_id: Option<i32>,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub text: String,
    pub detail: String,
    pub hash: String,
    pub hash_sm3: String,
}

pub fn events(conn: &mut DbConn, message_id: i32) -> QueryResult<Vec<Event>> {
    e::message_events
        .filter(e::message_id.eq(message_id))
        .order(e::seq)
        .load(conn)
}

/// Which messages a user may see. Decided here and nowhere else.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    /// City centre and city leaders: every message.
    All,
    /// A county office: what it owns, what is assigned to it or its sub-units, and what
    /// it forwarded.
    County { unit: i32, subunits: Vec<i32> },
    /// A department or county sub-unit: what is assigned or forwarded to it.
    Unit(i32),
    /// Administrators: no message at all.
    Nothing,
}

pub fn scope_for(conn: &mut DbConn, role: Role, unit_id: i32) -> QueryResult<Scope> {
    Ok(match role {
        Role::CityOperator | Role::CityLeader => Scope::All,
        Role::CountyOperator => {
            let subunits = u::units
                .filter(u::parent_id.eq(unit_id))
                .filter(u::kind.eq(UnitKind::SubUnit.as_str()))
                .select(u::id)
                .load::<i32>(conn)?;
            Scope::County {
                unit: unit_id,
                subunits,
            }
        }
        Role::DeptOperator => Scope::Unit(unit_id),
        Role::SysAdmin | Role::SecAdmin | Role::AuditAdmin => Scope::Nothing,
    })
}

impl Scope {
    pub fn sees(&self, msg: &Message) -> bool {
        match self {
            Scope::All => true,
            Scope::Nothing => false,
            Scope::Unit(unit) => {
                msg.handling_unit_id == Some(*unit) || msg.forwarded_unit_id == Some(*unit)
            }
            Scope::County { unit, subunits } => {
                msg.owner_unit_id == *unit
                    || msg.handling_unit_id == Some(*unit)
                    || msg.handling_unit_id.is_some_and(|h| subunits.contains(&h))
                    || msg.forwarded_unit_id.is_some_and(|f| subunits.contains(&f))
            }
        }
    }
}

type Boxed<'a> = messages::BoxedQuery<'a, <DbConn as Connection>::Backend>;

/// The scope as a WHERE condition on `messages` (for grouped queries, which cannot be
/// built on a boxed query).
pub fn scope_filter(
    scope: &Scope,
) -> Box<
    dyn BoxableExpression<
        messages::table,
        <DbConn as Connection>::Backend,
        SqlType = diesel::sql_types::Bool,
    >,
> {
    match scope {
        Scope::All => Box::new(m::id.eq(m::id)),
        Scope::Nothing => Box::new(m::id.lt(0)),
        Scope::Unit(unit) => Box::new(
            m::handling_unit_id
                .eq(*unit)
                .or(m::forwarded_unit_id.eq(*unit))
                .assume_not_null(),
        ),
        Scope::County { unit, subunits } => {
            let mut units = subunits.clone();
            units.push(*unit);
            Box::new(
                m::owner_unit_id
                    .eq(*unit)
                    .nullable()
                    .or(m::handling_unit_id.eq_any(units))
                    .or(m::forwarded_unit_id.eq_any(subunits.clone()))
                    .assume_not_null(),
            )
        }
    }
}

/// Restrict a query to the scope.
pub fn scoped<'a>(scope: &Scope) -> Boxed<'a> {
    m::messages.into_boxed().filter(scope_filter(scope))
}

/// Load one message if the scope sees it (otherwise `None`: answered as 404).
pub fn find_scoped(conn: &mut DbConn, scope: &Scope, id: i32) -> QueryResult<Option<Message>> {
    let msg: Option<Message> = m::messages.find(id).first(conn).optional()?;
    Ok(msg.filter(|x| scope.sees(x)))
}

/// List filters (a GET form: bookmarkable).
#[derive(Deserialize, Debug, Clone, Default)]
pub struct ListFilter {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub handling_unit: String,
    #[serde(default)]
    pub owner_unit: String,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub category: String,
    /// 留言时间 from (YYYY-MM-DD).
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub overdue: String,
    #[serde(default)]
    pub supervised: String,
    /// 办结时间 from / to (YYYY-MM-DD).
    #[serde(default)]
    pub closed_from: String,
    #[serde(default)]
    pub closed_to: String,
    /// "1": its deadline (see `deadline`) falls within the next working days.
    #[serde(default)]
    pub due_soon: String,
    /// What waits on the user's own unit: "1" all of it, "handle" as the handling unit,
    /// "own" as the owner (the 待办 tiles link here).
    #[serde(default)]
    pub mine: String,
    /// Set by the handler: today's deadline windows (from the calendar).
    #[serde(skip)]
    pub today: Option<crate::messages::deadline::Today>,
    /// Set by the handler: the user's role and unit (for `mine`).
    #[serde(skip)]
    pub actor: Option<(Role, i32)>,
    /// Full-text search words (留言标题, 主要诉求, 答复, 反映人).
    #[serde(default)]
    pub q: String,
    /// Set by the handler: the database is PostgreSQL (search SQL differs).
    #[serde(skip)]
    pub pg: bool,
    /// A number: 留言文号 (or its sequence number), 平台编号, 呈报文号 or 档号.
    #[serde(default)]
    pub no: String,
    /// Set by the handler from `no`: the messages with that number (`by_number`).
    #[serde(skip)]
    pub number_ids: Option<Vec<i32>>,
    #[serde(default)]
    pub page: Option<i64>,
    /// Keyset paging: show the rows older than this id (the “下一页” link carries it, so
    /// deep pages cost the same as the first).
    #[serde(default)]
    pub before: Option<i32>,
}

pub const PAGE_SIZE: i64 = 20;

/// States in which the reply deadline runs (supervision applies to these).
pub const RUNNING: [&str; 3] = ["assigned", "handling", "replied"];

/// A boxed WHERE condition on `messages`.
pub type Cond = Box<
    dyn BoxableExpression<
        messages::table,
        <DbConn as Connection>::Backend,
        SqlType = diesel::sql_types::Bool,
    >,
>;

/// A date column in a deadline window (never NULL).
macro_rules! date_in {
    ($col:expr, $w:expr) => {{
        let mut c: Cond = Box::new($col.is_not_null());
        if let Some(f) = $w.from {
            c = Box::new(c.and($col.assume_not_null().ge(f)));
        }
        if let Some(t) = $w.to {
            c = Box::new(c.and($col.assume_not_null().le(t)));
        }
        c
    }};
}

/// Messages whose one deadline (`deadline::current`) falls in the window: the SQL twin
/// of the pure rule, used by every list, count and report.
pub fn deadline_in(w: &Window) -> Cond {
    let accept: Cond = Box::new(
        m::state
            .eq("assigned")
            .and(m::accept_due.is_not_null())
            .and(date_in!(m::accept_due, w)),
    );
    let assigned_without: Cond = Box::new(
        m::state
            .eq("assigned")
            .and(m::accept_due.is_null())
            .and(date_in!(m::due_at, w)),
    );
    let reply: Cond = Box::new(m::state.eq("handling").and(date_in!(m::due_at, w)));
    // 审核 counts from the later of the reply and the registration (`deadline::review_due`).
    let mut review: Cond = Box::new(m::state.eq("replied").and(m::replied_at.is_not_null()));
    if let Some(f) = w.replied_from {
        review = Box::new(
            review.and(
                m::replied_at
                    .assume_not_null()
                    .ge(f)
                    .or(m::registered_at.ge(f)),
            ),
        );
    }
    if let Some(b) = w.replied_before {
        review = Box::new(
            review
                .and(m::replied_at.assume_not_null().lt(b))
                .and(m::registered_at.lt(b)),
        );
    }
    let follow_up: Cond = Box::new(m::state.eq("closed").and(date_in!(m::followup_due, w)));
    Box::new(
        accept
            .or(assigned_without)
            .or(reply)
            .or(review)
            .or(follow_up),
    )
}

/// Whose work: as the handling unit, as the owner, or either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mine {
    Any,
    Handle,
    Own,
}

impl Mine {
    pub fn parse(s: &str) -> Option<Mine> {
        match s {
            "1" => Some(Mine::Any),
            "handle" => Some(Mine::Handle),
            "own" => Some(Mine::Own),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mine::Any => "1",
            Mine::Handle => "handle",
            Mine::Own => "own",
        }
    }
}

/// What waits on the unit to act (its 待办); None for roles that act on nothing.
pub fn waiting_on(role: Role, unit_id: i32, mine: Mine) -> Option<Cond> {
    // The owner's steps, and an extension request waiting for its approval.
    let owner_states = [
        "registered",
        "replied",
        "closed",
        "followed_up",
        "reported",
        "handling",
    ];
    let own: Cond = Box::new(
        m::owner_unit_id
            .eq(unit_id)
            .and(m::state.eq_any(owner_states))
            .and(
                m::state
                    .ne("handling")
                    .or(m::extension_requested_days.is_not_null()),
            ),
    );
    let handle: Cond = Box::new(
        m::handling_unit_id
            .eq(unit_id)
            .and(m::state.eq_any(["assigned", "handling"]))
            .or(m::forwarded_unit_id
                .eq(unit_id)
                .and(m::state.eq("handling")))
            .assume_not_null(),
    );
    // A 并案 repeat is nobody's work until its original is 办结: it moves with it.
    let not_following = || {
        m::duplicate_of.is_null().or(m::state.ne_all([
            "registered",
            "assigned",
            "handling",
            "replied",
        ]))
    };
    let own: Cond = Box::new(own.and(not_following()));
    let handle: Cond = Box::new(handle.and(not_following()).assume_not_null());
    let (owns, handles) = match role {
        Role::CityOperator => (true, false),
        Role::CountyOperator => (true, true),
        Role::DeptOperator => (false, true),
        _ => return None,
    };
    match mine {
        Mine::Own if owns => Some(own),
        Mine::Handle if handles => Some(handle),
        Mine::Any if owns && handles => Some(Box::new(own.or(handle))),
        Mine::Any if owns => Some(own),
        Mine::Any => Some(handle),
        // Nothing of that kind is ever this role's work.
        _ => Some(Box::new(m::id.lt(0))),
    }
}

/// The filtered list; a search on SQLite may be confined to a window of ids.
fn filtered<'a>(
    scope: &Scope,
    f: &ListFilter,
    today: NaiveDate,
    window: Option<crate::search::Window>,
) -> Boxed<'a> {
    let mut q = scoped(scope);
    if let Some((lo, hi)) = window {
        q = q.filter(m::id.between(lo, hi));
    }
    if !f.state.is_empty() {
        q = q.filter(m::state.eq(f.state.clone()));
    }
    if let Ok(id) = f.handling_unit.parse::<i32>() {
        q = q.filter(m::handling_unit_id.eq(id));
    }
    if let Ok(id) = f.owner_unit.parse::<i32>() {
        q = q.filter(m::owner_unit_id.eq(id));
    }
    if !f.level.is_empty() {
        q = q.filter(m::level.eq(f.level.clone()));
    }
    if !f.platform.is_empty() {
        q = q.filter(m::source_platform.eq(f.platform.clone()));
    }
    if !f.category.is_empty() {
        q = q.filter(m::category.eq(f.category.clone()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(&f.from, "%Y-%m-%d") {
        q = q.filter(m::posted_at.ge(crate::clock::china_day_start(d)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(&f.to, "%Y-%m-%d") {
        q = q.filter(m::posted_at.lt(crate::clock::china_day_start(d + chrono::Duration::days(1))));
    }
    let windows = f
        .today
        .unwrap_or_else(|| Today::new(&crate::messages::calendar::Calendar::default(), today));
    if f.overdue == "1" {
        q = q.filter(deadline_in(&windows.overdue));
    }
    if let Some(mine) = Mine::parse(&f.mine) {
        let cond = f
            .actor
            .and_then(|(role, unit)| waiting_on(role, unit, mine));
        q = q.filter(cond.unwrap_or_else(|| Box::new(m::id.lt(0))));
    }
    if let Some(ids) = &f.number_ids {
        q = q.filter(m::id.eq_any(ids.clone()));
    }
    if f.supervised == "1" {
        q = q
            .filter(m::state.eq_any(RUNNING))
            .filter(m::supervision_level.is_not_null());
    }
    if let Ok(d) = NaiveDate::parse_from_str(&f.closed_from, "%Y-%m-%d") {
        q = q.filter(m::closed_at.ge(crate::clock::china_day_start(d)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(&f.closed_to, "%Y-%m-%d") {
        q = q.filter(m::closed_at.lt(crate::clock::china_day_start(d + chrono::Duration::days(1))));
    }
    for term in crate::search::terms(&f.q) {
        q = q.filter(crate::search::condition(f.pg, &term, window));
    }
    if f.due_soon == "1" {
        q = q.filter(deadline_in(&windows.soon));
    }
    q
}

/// Lists count exactly up to this many rows; beyond it they say “more than”, so that a
/// broad filter over a million rows stays fast.
pub const COUNT_CAP: i64 = 1_000;

/// The columns of `Message` with its long texts (主要诉求, the reply and its draft, the
/// follow-up's words) left empty: what a list row shows. The long texts sit at the end
/// of the SQLite row, so not asking for them spares reading their overflow pages.
macro_rules! list_columns {
    () => {{
        use diesel::dsl::sql;
        use diesel::sql_types::{Nullable, Text};
        (
            (
                m::id,
                m::ref_no,
                m::owner_unit_id,
                m::level,
                m::source_platform,
                m::platform_ref,
                m::complainant_name,
                m::complainant_contact,
                m::title,
                sql::<Text>("''"),
                m::posted_at,
                m::category,
                m::handling_unit_id,
                m::forwarded_unit_id,
                m::state,
                m::version,
                m::registered_at,
                m::assigned_at,
                m::accept_due,
                m::accepted_at,
            ),
            (
                m::due_at,
                m::extension_days,
                m::extension_requested_days,
                sql::<Nullable<Text>>("NULL"),
                sql::<Nullable<Text>>("NULL"),
                m::proposed_resolved,
                m::replied_at,
                m::resolved,
                m::closed_at,
                m::followup_due,
                m::satisfaction,
                sql::<Nullable<Text>>("NULL"),
                m::followed_up_at,
                m::report_ref_no,
                m::reported_at,
                m::archived_at,
                m::supervision_level,
                m::supervision_due,
                m::updated_at,
                m::archive_no,
                m::retention,
                m::forward_accepted_at,
                m::no_reopen_at,
                m::duplicate_of,
                m::name_key,
                m::contact_key,
            ),
        )
    }};
}

/// A list row loaded without its long texts (see `list_columns`).
type ListTuple = (
    (
        i32,
        String,
        i32,
        String,
        String,
        Option<String>,
        crate::messages::personal::Opened,
        crate::messages::personal::Opened,
        String,
        String,
        NaiveDateTime,
        String,
        Option<i32>,
        Option<i32>,
        String,
        i32,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<NaiveDate>,
        Option<NaiveDateTime>,
    ),
    (
        Option<NaiveDate>,
        i32,
        Option<i32>,
        Option<String>,
        Option<String>,
        Option<bool>,
        Option<NaiveDateTime>,
        Option<bool>,
        Option<NaiveDateTime>,
        Option<NaiveDate>,
        Option<String>,
        Option<String>,
        Option<NaiveDateTime>,
        Option<String>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<String>,
        Option<NaiveDate>,
        NaiveDateTime,
        Option<String>,
        Option<String>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i32>,
        Option<String>,
        Option<String>,
    ),
);

fn from_list_tuple(t: ListTuple) -> Message {
    let (a, b) = t;
    Message {
        id: a.0,
        ref_no: a.1,
        owner_unit_id: a.2,
        level: a.3,
        source_platform: a.4,
        platform_ref: a.5,
        complainant_name: a.6.into(),
        complainant_contact: a.7.into(),
        title: a.8,
        appeal: a.9,
        posted_at: a.10,
        category: a.11,
        handling_unit_id: a.12,
        forwarded_unit_id: a.13,
        state: a.14,
        version: a.15,
        registered_at: a.16,
        assigned_at: a.17,
        accept_due: a.18,
        accepted_at: a.19,
        due_at: b.0,
        extension_days: b.1,
        extension_requested_days: b.2,
        draft_reply: b.3,
        handling_summary: b.4,
        proposed_resolved: b.5,
        replied_at: b.6,
        resolved: b.7,
        closed_at: b.8,
        followup_due: b.9,
        satisfaction: b.10,
        evaluation: b.11,
        followed_up_at: b.12,
        report_ref_no: b.13,
        reported_at: b.14,
        archived_at: b.15,
        supervision_level: b.16,
        supervision_due: b.17,
        updated_at: b.18,
        archive_no: b.19,
        retention: b.20,
        forward_accepted_at: b.21,
        no_reopen_at: b.22,
        duplicate_of: b.23,
        name_key: b.24,
        contact_key: b.25,
    }
}

/// Load list rows: without the long texts, unless a search needs them for its snippets.
fn load_rows(conn: &mut DbConn, q: Boxed<'_>, with_texts: bool) -> QueryResult<Vec<Message>> {
    if with_texts {
        q.load::<Message>(conn)
    } else {
        Ok(q.select(list_columns!())
            .load::<ListTuple>(conn)?
            .into_iter()
            .map(from_list_tuple)
            .collect())
    }
}

/// One page of the filtered list (newest first) and the total: `None` when there are
/// more than `COUNT_CAP`.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    f: &ListFilter,
    today: NaiveDate,
) -> QueryResult<(Vec<Message>, Option<i64>)> {
    if !crate::search::terms(&f.q).is_empty() {
        return search_list(conn, scope, f, today);
    }
    let seen = filtered(scope, f, today, None)
        .select(m::id)
        .limit(COUNT_CAP + 1)
        .load::<i32>(conn)?
        .len() as i64;
    let total = (seen <= COUNT_CAP).then_some(seen);
    // A search on PostgreSQL shows snippets of the long texts.
    let with_texts = !f.q.trim().is_empty();
    let rows = match f.before {
        Some(before) => load_rows(
            conn,
            filtered(scope, f, today, None)
                .filter(m::id.lt(before))
                .order(m::id.desc())
                .limit(PAGE_SIZE),
            with_texts,
        )?,
        None => {
            let page = f.page.unwrap_or(1).max(1);
            load_rows(
                conn,
                filtered(scope, f, today, None)
                    .order(m::id.desc())
                    .limit(PAGE_SIZE)
                    .offset((page - 1) * PAGE_SIZE),
                with_texts,
            )?
        }
    };
    Ok((rows, total))
}

/// A search: the matching ids are gathered newest first, window by window of the first
/// word's index (see `search_ids`; on PostgreSQL windows of id blocks), so a page and its
/// count read only the matches near the top instead of collecting every match of a
/// common word.
fn search_list(
    conn: &mut DbConn,
    scope: &Scope,
    f: &ListFilter,
    today: NaiveDate,
) -> QueryResult<(Vec<Message>, Option<i64>)> {
    let offset = match f.before {
        Some(_) => 0,
        None => (f.page.unwrap_or(1).max(1) - 1) * PAGE_SIZE,
    };
    let want = (COUNT_CAP + 1).max(offset + PAGE_SIZE);
    let top = search_ids(conn, scope, f, today, i32::MAX, want, SEARCH_WINDOW)?;
    let total = (top.len() as i64 <= COUNT_CAP).then_some(top.len() as i64);
    let page: Vec<i32> = match f.before {
        Some(before) => {
            let below: Vec<i32> = top.iter().copied().filter(|id| *id < before).collect();
            if below.len() as i64 >= PAGE_SIZE || (top.len() as i64) < want {
                below.into_iter().take(PAGE_SIZE as usize).collect()
            } else {
                search_ids(conn, scope, f, today, before - 1, PAGE_SIZE, SEARCH_WINDOW)?
            }
        }
        None => top
            .iter()
            .copied()
            .skip(offset as usize)
            .take(PAGE_SIZE as usize)
            .collect(),
    };
    let rows = load_rows(
        conn,
        m::messages
            .into_boxed()
            .filter(m::id.eq_any(page))
            .order(m::id.desc()),
        true,
    )?;
    Ok((rows, total))
}

/// How many matches of the first word the first search window holds.
const SEARCH_WINDOW: i64 = 1_024;

/// The ids (newest first, at most `want`, none above `top`) of the filtered search
/// results. The first word's index is walked down in windows of ids holding `k` of its
/// matches, then four times as many each time; each window is one filtered query.
fn search_ids(
    conn: &mut DbConn,
    scope: &Scope,
    f: &ListFilter,
    today: NaiveDate,
    mut top: i32,
    want: i64,
    mut k: i64,
) -> QueryResult<Vec<i32>> {
    let terms = crate::search::terms(&f.q);
    let Some(first) = terms.first() else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<i32> = Vec::new();
    loop {
        let floor = crate::search::window_floor(conn, first, top, k)?;
        let window = (floor.unwrap_or(i32::MIN), top);
        ids.extend(
            filtered(scope, f, today, Some(window))
                .select(m::id)
                .order(m::id.desc())
                .limit(want - ids.len() as i64)
                .load::<i32>(conn)?,
        );
        match floor {
            Some(lowest) if (ids.len() as i64) < want && lowest > i32::MIN => {
                top = lowest - 1;
                k = k.saturating_mul(4);
            }
            _ => return Ok(ids),
        }
    }
}

/// The ids of the filtered list (newest first), at most `limit`: for exports.
pub fn filtered_ids(
    conn: &mut DbConn,
    scope: &Scope,
    f: &ListFilter,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<i32>> {
    filtered(scope, f, today, None)
        .select(m::id)
        .order(m::id.desc())
        .limit(limit)
        .load(conn)
}

/// These messages in full, newest first.
pub fn by_ids(conn: &mut DbConn, ids: &[i32]) -> QueryResult<Vec<Message>> {
    m::messages
        .filter(m::id.eq_any(ids))
        .order(m::id.desc())
        .load(conn)
}

/// The most urgent `limit` items of the unit's 待办: overdue first, then newly assigned,
/// then supervised ones it handles, then by the deadline each waits on.
pub fn todo(
    conn: &mut DbConn,
    role: Role,
    unit_id: i32,
    cal: &crate::messages::calendar::Calendar,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<Message>> {
    let Some(cond) = waiting_on(role, unit_id, Mine::Any) else {
        return Ok(Vec::new());
    };
    // First the few columns the order needs, for everything waiting (a centre may have
    // thousands), then the rows to show.
    type Light = (
        i32,
        String,
        Option<NaiveDate>,
        Option<NaiveDate>,
        Option<NaiveDateTime>,
        Option<NaiveDate>,
        Option<String>,
        Option<i32>,
        Option<i32>,
        NaiveDateTime,
    );
    let light: Vec<Light> = m::messages
        .filter(cond)
        .select((
            m::id,
            m::state,
            m::accept_due,
            m::due_at,
            m::replied_at,
            m::followup_due,
            m::supervision_level,
            m::handling_unit_id,
            m::forwarded_unit_id,
            m::registered_at,
        ))
        .load(conn)?;
    /// (not overdue, not newly assigned, not supervised for me, deadline, id)
    type Urgency = (bool, bool, bool, NaiveDate, i32);
    let mut keyed: Vec<(Urgency, i32)> = light
        .into_iter()
        .map(
            |(id, state, accept_due, due_at, replied_at, followup_due, sup, h, f, reg)| {
                let msg = Message {
                    id,
                    state,
                    accept_due,
                    due_at,
                    replied_at,
                    followup_due,
                    registered_at: reg,
                    ..Message::default()
                };
                let handler = h == Some(unit_id) || f == Some(unit_id);
                let st = crate::messages::deadline::status(cal, today, &msg);
                let overdue = st.is_some_and(|(_, s)| s.is_overdue());
                let new = msg.state() == State::Assigned && h == Some(unit_id);
                let due = st.map(|(d, _)| d.due).unwrap_or(NaiveDate::MAX);
                ((!overdue, !new, !(sup.is_some() && handler), due, id), id)
            },
        )
        .collect();
    keyed.sort_unstable();
    let ids: Vec<i32> = keyed
        .into_iter()
        .take(limit.max(0) as usize)
        .map(|(_, id)| id)
        .collect();
    let mut rows = load_rows(
        conn,
        m::messages.into_boxed().filter(m::id.eq_any(&ids)),
        false,
    )?;
    rows.sort_by_key(|r| ids.iter().position(|i| *i == r.id));
    Ok(rows)
}

/// The 留言文号 a bare number (`301`, `0301`) may stand for: that sequence number in every
/// owner's yearly series that has reached it, in the current 文号 format.
pub fn ref_candidates(format: &str, series: &[(String, i32, i32)], n: i32) -> Vec<String> {
    series
        .iter()
        .filter(|(_, _, last)| *last >= n)
        .map(|(prefix, year, _)| crate::messages::service::format_ref_no(format, prefix, *year, n))
        .collect()
}

/// Messages the scope sees whose number is `q`: 留言文号 (whole, or its sequence number),
/// 平台编号, 呈报文号 or 档号 — each an exact, indexed lookup (a clerk's first question
/// when a citizen or a leader calls).
/// The one message a typed number names (a 留言文号 exactly, or else the only match).
pub fn by_ref_no(conn: &mut DbConn, scope: &Scope, q: &str) -> QueryResult<Option<Message>> {
    let found = by_number(conn, scope, q)?;
    Ok(match found.iter().position(|m| m.ref_no == q.trim()) {
        Some(i) => found.into_iter().nth(i),
        None if found.len() == 1 => found.into_iter().next(),
        None => None,
    })
}

/// The messages marked as repeats of this one: (id, 留言文号), oldest first.
pub fn repeats_of(conn: &mut DbConn, id: i32) -> QueryResult<Vec<(i32, String)>> {
    m::messages
        .filter(m::duplicate_of.eq(id))
        .order(m::id)
        .select((m::id, m::ref_no))
        .load(conn)
}

/// The 并案 repeats that stand where the original stood before its step (`from`): they
/// take the same step with it.
pub fn followers(conn: &mut DbConn, original: i32, from: State) -> QueryResult<Vec<Message>> {
    m::messages
        .filter(m::duplicate_of.eq(original))
        .filter(m::state.eq(from.as_str()))
        .order(m::id)
        .load(conn)
}

/// What a 并案 repeat takes from its original: where the handling stands (state, units,
/// deadlines, reply, result), nothing of its own elements.
pub fn following_changes(o: &Message) -> Changes {
    Changes {
        state: Some(o.state.clone()),
        handling_unit_id: Some(o.handling_unit_id),
        forwarded_unit_id: Some(o.forwarded_unit_id),
        forward_accepted_at: Some(o.forward_accepted_at),
        assigned_at: Some(o.assigned_at),
        accept_due: Some(o.accept_due),
        accepted_at: Some(o.accepted_at),
        due_at: Some(o.due_at),
        extension_days: Some(o.extension_days),
        handling_summary: Some(o.handling_summary.clone()),
        proposed_resolved: Some(o.proposed_resolved),
        replied_at: Some(o.replied_at),
        resolved: Some(o.resolved),
        closed_at: Some(o.closed_at),
        followup_due: Some(o.followup_due),
        supervision_level: Some(o.supervision_level.clone()),
        supervision_due: Some(o.supervision_due),
        ..Changes::default()
    }
}

pub fn by_number(conn: &mut DbConn, scope: &Scope, q: &str) -> QueryResult<Vec<Message>> {
    let q = q.trim();
    if q.is_empty() || q.chars().count() > 64 {
        return Ok(Vec::new());
    }
    let mut refs = vec![q.to_string()];
    if let Ok(n) = q.parse::<i32>() {
        if n > 0 && q.len() <= 6 {
            use crate::db::schema::ref_counters::dsl as rc;
            let counters: Vec<(i32, i32, i32)> = rc::ref_counters
                .select((rc::owner_unit_id, rc::year, rc::last_seq))
                .load(conn)?;
            let owners = crate::units::all(conn)?;
            let series: Vec<(String, i32, i32)> = counters
                .into_iter()
                .filter_map(|(owner, year, last)| {
                    let unit = owners.iter().find(|u| u.id == owner)?;
                    Some((crate::messages::service::ref_prefix(unit), year, last))
                })
                .collect();
            let format = crate::messages::config::ref_format(conn)?;
            refs.extend(ref_candidates(&format, &series, n));
        }
    }
    let mut found: Vec<Message> = Vec::new();
    // One indexed lookup per column (an OR across columns would not use the indexes).
    let mut take = |rows: Vec<Message>| {
        for r in rows {
            if !found.iter().any(|f| f.id == r.id) {
                found.push(r);
            }
        }
    };
    take(
        scoped(scope)
            .filter(m::ref_no.eq_any(&refs))
            .limit(50)
            .load(conn)?,
    );
    take(
        scoped(scope)
            .filter(m::platform_ref.eq(q))
            .limit(50)
            .load(conn)?,
    );
    take(
        scoped(scope)
            .filter(m::report_ref_no.eq(q))
            .limit(50)
            .load(conn)?,
    );
    take(
        scoped(scope)
            .filter(m::archive_no.eq(q))
            .limit(50)
            .load(conn)?,
    );
    // 反映人 and 联系方式 are sealed: a phone number or a whole name is found by its
    // look-up digest (`personal`).
    use crate::messages::personal;
    let person = if personal::looks_like_phone(q) {
        personal::contact_key(q).map(|k| m::contact_key.eq(k))
    } else {
        None
    };
    if let Some(cond) = person {
        take(scoped(scope).filter(cond).limit(50).load(conn)?);
    } else if let Some(key) = personal::name_key(q) {
        take(
            scoped(scope)
                .filter(m::name_key.eq(key))
                .order(m::id.desc())
                .limit(50)
                .load(conn)?,
        );
    }
    found.sort_by_key(|m| std::cmp::Reverse(m.id));
    Ok(found)
}

/// How many messages the filtered list holds, exactly (the 待办 tiles).
pub fn count(
    conn: &mut DbConn,
    scope: &Scope,
    f: &ListFilter,
    today: NaiveDate,
) -> QueryResult<i64> {
    filtered(scope, f, today, None).count().get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Searching window by window gives exactly the rows of one query over all matches,
    /// for any first window, scope, filter, starting point and length.
    #[test]
    fn search_windows_match_one_query() {
        let (_dir, mut conn, today) = crate::generate::sample_db(800);
        let county: i32 = u::units
            .filter(u::name.eq("安顺市西秀区"))
            .select(u::id)
            .first(&mut conn)
            .expect("西秀区");
        let scopes = [
            Scope::All,
            scope_for(&mut conn, Role::CountyOperator, county).expect("scope"),
        ];
        let mut compared = 0;
        for q in ["小区", "物业", "道路 小区", "水", "安顺市", "不存在的词语"] {
            for state in ["", "archived"] {
                for scope in &scopes {
                    let f = ListFilter {
                        q: q.into(),
                        state: state.into(),
                        ..Default::default()
                    };
                    let all: Vec<i32> = filtered(scope, &f, today, None)
                        .select(m::id)
                        .order(m::id.desc())
                        .load(&mut conn)
                        .expect("one query");
                    compared += all.len();
                    for k in [1, 3, 50, SEARCH_WINDOW] {
                        let got = search_ids(&mut conn, scope, &f, today, i32::MAX, 100_000, k)
                            .expect("windows");
                        assert_eq!(got, all, "{q} {state} k={k}");
                        let got = search_ids(&mut conn, scope, &f, today, i32::MAX, 7, k)
                            .expect("windows");
                        assert_eq!(got, all.iter().copied().take(7).collect::<Vec<_>>());
                        if let Some(mid) = all.get(all.len() / 2) {
                            let got = search_ids(&mut conn, scope, &f, today, *mid, 5, k)
                                .expect("windows");
                            let want: Vec<i32> =
                                all.iter().copied().filter(|i| i <= mid).take(5).collect();
                            assert_eq!(got, want, "{q} from {mid}");
                        }
                    }
                }
            }
        }
        assert!(compared > 100, "the words are found: {compared}");
    }

    #[test]
    fn masking() {
        assert_eq!(mask_contact("13812345678"), "138****5678");
        assert_eq!(mask_contact("0851-33221100"), "085****1100");
        assert_eq!(mask_contact("123"), "****");
        assert_eq!(mask_contact(""), "");
    }
}
