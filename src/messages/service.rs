//! Registering messages and applying lifecycle actions. Each call is one transaction:
//! the new state and the append-only event row are written together or not at all, and a
//! stale form (version mismatch) changes nothing.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Deserialize;

use crate::archive::{self, chain, chain::NewEvent};
use crate::attachments::{self, Incoming, Store};
use crate::auth::roles::{Role, UnitKind};
use crate::clock::{from_china, to_china};
use crate::db::schema::{messages::dsl as m, ref_counters::dsl as rc};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::messages::calendar::Calendar;
use crate::messages::config::{self, ACCEPT_DAYS, FOLLOWUP_DAYS, MAX_EXTENSION_DAYS, RETURN_DAYS};
use crate::messages::correction;
use crate::messages::lifecycle::{self, Action, Facts, Refusal, Standing, State};
use crate::messages::model::{self, Changes, Message, Scope};
use crate::units::{self, Unit};

/// The person acting, with the unit and role they act for.
#[derive(Clone, Debug)]
pub struct Acting {
    pub user_id: i32,
    pub name: String,
    pub unit_id: i32,
    pub role: Role,
    /// The account name and client address, for the audit log.
    pub username: String,
    pub ip: String,
}

impl Acting {
    fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor {
            user_id: Some(self.user_id),
            username: self.username.clone(),
            unit_id: Some(self.unit_id),
            ip: self.ip.clone(),
        }
    }
}

/// Files sent with a form, and the ones refused on the way in.
pub struct Files<'a> {
    pub store: &'a Store,
    pub accepted: &'a [Incoming],
    pub refused: &'a [String],
}

impl Files<'_> {
    /// The refused files and, for the accepted ones, the unit's quota.
    fn check(&self, conn: &mut DbConn, unit_id: i32, errors: &mut FieldErrors) -> QueryResult<()> {
        for r in self.refused {
            errors.add("files", r);
        }
        let adding = self.accepted.iter().map(|f| f.size).sum();
        if let Some(r) = attachments::quota_refusal(conn, unit_id, adding)? {
            errors.add("files", &r);
        }
        Ok(())
    }
}

/// The actions whose form takes attachments.
pub fn takes_files(action: Action) -> bool {
    matches!(
        action,
        Action::Progress
            | Action::DraftReply
            | Action::Reply
            | Action::FollowUp
            | Action::Correct
            | Action::Amend
    )
}

/// Run one write transaction that may move files into the store; if it does not
/// commit, the moved files are removed again.
fn tx_with_files<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn, &mut Vec<std::path::PathBuf>) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let mut placed = Vec::new();
    let result = db::write_tx(conn, |c| f(c, &mut placed));
    match &result {
        Ok(_) => {}
        // The connection went away: the COMMIT may have gone through, so the files stay
        // (should it not have, `verify` reports them as files nobody refers to).
        Err(AppError::Unavailable(why)) if !placed.is_empty() => {
            tracing::warn!(error = %why, files = placed.len(), "outcome of a write unknown: its files are kept");
        }
        Err(_) => attachments::unplace(&placed),
    }
    result
}

/// A new random key for a 登记 form (hidden in the form, stored with the message).
pub fn new_form_key() -> String {
    use rand::Rng;
    hex::encode(rand::rngs::OsRng.gen::<[u8; 16]>())
}

/// A form key as the form sent it, if it is one this site made (32 hex digits).
fn form_key(form: &RegisterForm) -> Option<&str> {
    let k = form.form_key.trim();
    (k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit())).then_some(k)
}

/// The message a 登记 form created, if its transaction committed: (id, 文号).
pub fn submitted(conn: &mut DbConn, form: &RegisterForm) -> QueryResult<Option<(i32, String)>> {
    use crate::db::schema::form_submissions::dsl as fs;
    let Some(key) = form_key(form) else {
        return Ok(None);
    };
    fs::form_submissions
        .inner_join(m::messages.on(m::id.eq(fs::message_id)))
        .filter(fs::form_key.eq(key))
        .select((m::id, m::ref_no))
        .first(conn)
        .optional()
}

pub const SATISFACTION: [&str; 3] = ["满意", "基本满意", "不满意"];
pub const FOLLOWUP_METHODS: [&str; 3] = ["电话", "上门", "网上"];
pub const COUNTY_LEVEL: &str = "县（区）级";

/// The register form: every field as typed, so it can be shown back on an error.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct RegisterForm {
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub source_platform: String,
    #[serde(default)]
    pub platform_ref: String,
    #[serde(default)]
    pub complainant_name: String,
    #[serde(default)]
    pub complainant_contact: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub appeal: String,
    /// China time, `YYYY-MM-DDTHH:MM` (datetime-local) or `YYYY-MM-DD HH:MM`.
    #[serde(default)]
    pub posted_at: String,
    #[serde(default)]
    pub category: String,
    /// Set when the clerk confirmed registering despite a possible duplicate.
    #[serde(default)]
    pub confirm_duplicate: String,
    /// The form's own key (`new_form_key`): the same form sent twice registers once.
    #[serde(default)]
    pub form_key: String,
}

pub enum RegisterOutcome {
    Created {
        id: i32,
        ref_no: String,
        note: Option<String>,
    },
    Invalid(FieldErrors),
    /// Possible repeats: shown as a warning; the clerk may confirm and register anyway.
    Duplicates(Vec<crate::messages::repeats::Candidate>),
    /// This form was registered before (sent again, or its first answer was lost).
    AlreadyDone {
        id: i32,
        ref_no: String,
    },
    /// The connection went away around the COMMIT: whether the message was saved is not
    /// known on this connection. Ask `submitted` on another; remove `placed` only if it
    /// was not.
    Unknown {
        placed: Vec<std::path::PathBuf>,
    },
}

/// Parse a China-time datetime from a form.
pub fn parse_china_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// Contact check: a mobile number or landline passes; other text is accepted with a note.
/// `Err` only for what is clearly a mistyped mobile number.
pub fn check_contact(contact: &str) -> Result<Option<&'static str>, &'static str> {
    let c = contact.trim();
    let digits = c.chars().all(|ch| ch.is_ascii_digit());
    if digits && c.len() == 11 && c.starts_with('1') {
        return Ok(None);
    }
    if digits && c.starts_with('1') && c.len() != 11 {
        return Err("手机号码应为 11 位数字，请核对。");
    }
    let landline = {
        let parts: Vec<&str> = c.split('-').collect();
        parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_digit()))
            && c.starts_with('0')
            && (10..=13).contains(&c.chars().filter(|ch| ch.is_ascii_digit()).count())
    };
    if landline {
        return Ok(None);
    }
    Ok(Some(
        "联系方式不是手机或固定电话号码格式，已按原文登记，请在回访前核实。",
    ))
}

/// Validate the register form against the lists and the registering unit.
pub fn validate_register(
    form: &RegisterForm,
    role: Role,
    levels: &[String],
    platforms: &[String],
    categories: &[String],
    now_utc: NaiveDateTime,
) -> Result<(NaiveDateTime, Option<&'static str>), FieldErrors> {
    let mut errors = FieldErrors::default();
    let required = [
        (
            "complainant_name",
            &form.complainant_name,
            "请填写反映人。",
            50,
        ),
        (
            "complainant_contact",
            &form.complainant_contact,
            "请填写联系方式。",
            50,
        ),
        ("title", &form.title, "请填写留言标题。", 200),
        ("appeal", &form.appeal, "请填写主要诉求。", 20000),
    ];
    for (field, value, msg, max) in required {
        if value.trim().is_empty() {
            errors.add(field, msg);
        } else if value.chars().count() > max {
            errors.add(field, &format!("不超过 {max} 个字。"));
        }
    }
    if !levels.contains(&form.level) {
        errors.add("level", "请选择级别。");
    } else if role == Role::CountyOperator && form.level != COUNTY_LEVEL {
        errors.add(
            "level",
            "县（区）只登记县（区）级留言；省级、市级留言由市社情民意研究中心登记。",
        );
    } else if role == Role::CityOperator && form.level == COUNTY_LEVEL {
        errors.add("level", "县（区）级留言由所在县（区）登记。");
    }
    if !platforms.contains(&form.source_platform) {
        errors.add("source_platform", "请选择留言来源平台。");
    }
    if !categories.contains(&form.category) {
        errors.add("category", "请选择所属类型。");
    }
    if form.platform_ref.chars().count() > 64 {
        errors.add("platform_ref", "平台编号不超过 64 个字符。");
    }
    let mut note = None;
    if !form.complainant_contact.trim().is_empty() {
        match check_contact(&form.complainant_contact) {
            Ok(n) => note = n,
            Err(msg) => errors.add("complainant_contact", msg),
        }
    }
    let posted = match parse_china_datetime(&form.posted_at) {
        None => {
            errors.add("posted_at", "请填写留言时间，格式如 2026-11-30 14:05。");
            None
        }
        Some(t) => {
            let utc = from_china(t);
            if utc > now_utc + Duration::minutes(1) {
                errors.add("posted_at", "留言时间不能晚于现在。");
                None
            } else if t.year() < 2000 {
                errors.add("posted_at", "留言时间有误，请核对年份。");
                None
            } else {
                Some(utc)
            }
        }
    };
    match (errors.is_empty(), posted) {
        (true, Some(p)) => Ok((p, note)),
        _ => Err(errors),
    }
}

/// The 文号 prefix of an owner unit: 安 for the city centre, the first two characters
/// of a county's short name otherwise.
pub(crate) fn ref_prefix(owner: &Unit) -> String {
    if owner.kind() == Some(UnitKind::Centre) {
        "安".to_string()
    } else {
        owner.short_name.chars().take(2).collect()
    }
}

/// Fill a 文号 format (see `config::REF_FORMAT_KEY`): 序号 is zero-padded to four digits.
pub fn format_ref_no(format: &str, prefix: &str, year: i32, seq: i32) -> String {
    format
        .replace("{简称}", prefix)
        .replace("{年}", &year.to_string())
        .replace("{序号}", &format!("{seq:04}"))
}

/// Reserve `n` consecutive numbers of the owner's yearly 文号 sequence, inside the
/// caller's transaction (gap-free: a transaction that does not commit gives them back);
/// returns the first. The one way every message is numbered (登记 and import).
pub fn reserve_seq(conn: &mut DbConn, owner: i32, year: i32, n: i32) -> Result<i32, AppError> {
    let bump = |conn: &mut DbConn| -> QueryResult<Option<i32>> {
        diesel::update(
            rc::ref_counters
                .filter(rc::owner_unit_id.eq(owner))
                .filter(rc::year.eq(year)),
        )
        .set(rc::last_seq.eq(rc::last_seq + n))
        .returning(rc::last_seq)
        .get_result::<i32>(conn)
        .optional()
    };
    if let Some(last) = bump(conn)? {
        return Ok(last - n + 1);
    }
    let inserted = conn.transaction(|c| {
        diesel::insert_into(rc::ref_counters)
            .values((
                rc::owner_unit_id.eq(owner),
                rc::year.eq(year),
                rc::last_seq.eq(n),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(1),
        // Another clerk started this year's sequence at the same moment: take the next.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => bump(conn)?
            .map(|last| last - n + 1)
            .ok_or_else(|| AppError::internal("ref counter vanished")),
        Err(other) => Err(other.into()),
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_event(
    conn: &mut DbConn,
    message_id: i32,
    acting: &Acting,
    action: &str,
    from: Option<State>,
    to: State,
    text: &str,
    detail: serde_json::Value,
    files: &Files,
) -> Result<i32, AppError> {
    Ok(chain::append(
        conn,
        &NewEvent {
            message_id,
            at: db::now(),
            user_id: Some(acting.user_id),
            actor_name: &acting.name,
            unit_id: Some(acting.unit_id),
            action,
            from_state: from.map(|s| s.as_str()),
            to_state: to.as_str(),
            text,
            detail: detail.to_string(),
            files: files
                .accepted
                .iter()
                .map(|f| (f.original_name.clone(), f.sha256.clone()))
                .collect(),
        },
    )?)
}

/// Register (登记) a message: validated, numbered without gaps, with its first event.
pub fn register(
    conn: &mut DbConn,
    acting: &Acting,
    form: &RegisterForm,
    files: &Files,
) -> Result<RegisterOutcome, AppError> {
    if !matches!(acting.role, Role::CityOperator | Role::CountyOperator) {
        return Err(AppError::NotFound);
    }
    if let Some((id, ref_no)) = submitted(conn, form)? {
        return Ok(RegisterOutcome::AlreadyDone { id, ref_no });
    }
    let levels = config::list(conn, config::LEVEL)?;
    let platforms = config::list(conn, config::PLATFORM)?;
    let categories = config::list(conn, config::CATEGORY)?;
    let now = db::now();
    let validated = validate_register(form, acting.role, &levels, &platforms, &categories, now);
    let mut file_errors = FieldErrors::default();
    files.check(conn, acting.unit_id, &mut file_errors)?;
    let (posted_at, note) = match validated {
        Ok(v) if file_errors.is_empty() => v,
        Ok(_) => return Ok(RegisterOutcome::Invalid(file_errors)),
        Err(mut errors) => {
            errors.merge(file_errors);
            return Ok(RegisterOutcome::Invalid(errors));
        }
    };
    let platform_ref = Some(form.platform_ref.trim().to_string()).filter(|s| !s.is_empty());
    if form.confirm_duplicate != "1" {
        let window = crate::messages::repeats::window_days(conn)?;
        let scope = model::scope_for(conn, acting.role, acting.unit_id)?;
        let dups = crate::messages::repeats::find(
            conn,
            &scope,
            &crate::messages::repeats::Probe {
                id: None,
                platform_ref: platform_ref.as_deref(),
                name: &form.complainant_name,
                contact: &form.complainant_contact,
                title: &form.title,
                appeal: &form.appeal,
                posted_at,
            },
            window,
        )?;
        if !dups.is_empty() {
            return Ok(RegisterOutcome::Duplicates(dups));
        }
    }
    let mut placed = Vec::new();
    let result = db::write_tx(conn, |conn| {
        let placed = &mut placed;
        let owner = units::find(conn, acting.unit_id)?.ok_or(AppError::NotFound)?;
        let year = to_china(now).year();
        let seq = reserve_seq(conn, owner.id, year, 1)?;
        let format = config::ref_format(conn)?;
        let ref_no = format_ref_no(&format, &ref_prefix(&owner), year, seq);
        let id = diesel::insert_into(m::messages)
            .values((
                m::ref_no.eq(&ref_no),
                m::owner_unit_id.eq(owner.id),
                m::level.eq(&form.level),
                m::source_platform.eq(&form.source_platform),
                m::platform_ref.eq(&platform_ref),
                m::complainant_name.eq(crate::messages::personal::seal(
                    form.complainant_name.trim(),
                )),
                m::complainant_contact.eq(crate::messages::personal::seal(
                    form.complainant_contact.trim(),
                )),
                m::name_key.eq(crate::messages::personal::name_key(&form.complainant_name)),
                m::contact_key.eq(crate::messages::personal::contact_key(
                    &form.complainant_contact,
                )),
                m::title.eq(form.title.trim()),
                m::appeal.eq(form.appeal.trim()),
                m::posted_at.eq(posted_at),
                m::category.eq(&form.category),
                m::state.eq(State::Registered.as_str()),
                m::version.eq(1),
                m::registered_at.eq(now),
                m::extension_days.eq(0),
                m::updated_at.eq(now),
            ))
            .returning(m::id)
            .get_result::<i32>(conn)?;
        if let Some(key) = form_key(form) {
            use crate::db::schema::form_submissions::dsl as fs;
            diesel::insert_into(fs::form_submissions)
                .values((
                    fs::form_key.eq(key),
                    fs::message_id.eq(id),
                    fs::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        let seq = insert_event(
            conn,
            id,
            acting,
            "register",
            None,
            State::Registered,
            "",
            serde_json::json!({ "ref_no": ref_no, "note": note }),
            files,
        )?;
        attachments::place(
            conn,
            files.store,
            id,
            seq,
            acting.user_id,
            files.accepted,
            placed,
        )?;
        crate::search::index(conn, id)?;
        crate::archive::ledger::seal_message(conn, id)?;
        crate::audit::record(
            conn,
            &acting.actor(),
            "lifecycle",
            &format!("留言 {ref_no}：登记"),
            crate::audit::OK,
            "",
        )?;
        Ok(RegisterOutcome::Created {
            id,
            ref_no,
            note: note.map(str::to_string),
        })
    });
    match result {
        Ok(created) => Ok(created),
        Err(AppError::Unavailable(why)) => {
            tracing::warn!(error = %why, "登记: the outcome of the COMMIT is unknown");
            Ok(RegisterOutcome::Unknown { placed })
        }
        Err(e) => {
            attachments::unplace(&placed);
            // The same form sent twice at once: the second finds the first's key taken.
            match submitted(conn, form) {
                Ok(Some((id, ref_no))) => Ok(RegisterOutcome::AlreadyDone { id, ref_no }),
                _ => Err(e),
            }
        }
    }
}

/// An action form: every field as typed.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct ActForm {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub unit_id: String,
    #[serde(default)]
    pub days: String,
    #[serde(default)]
    pub resolved: String,
    #[serde(default)]
    pub satisfaction: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub report_ref_no: String,
    #[serde(default)]
    pub deadline: String,
    /// 保管期限 chosen at 销号 (empty: the configured default).
    #[serde(default)]
    pub retention: String,
    /// "1" once the user has seen the confirmation page of an irreversible action (销号).
    #[serde(default)]
    pub confirm: String,
    /// 补正 / 更正: the element corrected (`correction::Field` code) and its new value.
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: String,
    /// 标记重复件: the earlier message's 留言文号 (picked, or typed in `original_no`).
    #[serde(default)]
    pub original: String,
    #[serde(default)]
    pub original_no: String,
    /// 标记重复件: `follow` for 并案办理 (it moves with the original until 办结);
    /// anything else closes it with a reference to the original.
    #[serde(default)]
    pub merge: String,
    /// 智能分拨: the proposal the 转办 form showed (set by the handler, never read from
    /// the request), recorded with the 转办 so the dashboard can say how often it was taken.
    #[serde(skip)]
    pub proposal: Option<crate::dispatch::Shown>,
}

pub enum ActOutcome {
    Done(String),
    Invalid(FieldErrors),
    /// Someone else acted meanwhile: nothing was changed.
    Conflict,
    /// Not allowed now, with the reason.
    Refused(String),
    /// Allowed, but irreversible: to be confirmed first (销号, with the 保管期限 it
    /// will get). Nothing was changed.
    Confirm {
        retention: String,
    },
}

pub const CONFLICT_MESSAGE: &str = "该留言已被他人更新，请刷新后重试";

/// How the acting user stands to a message.
pub fn standing(acting: &Acting, msg: &Message) -> Standing {
    Standing::of(
        acting.role,
        acting.unit_id,
        msg.owner_unit_id,
        msg.handling_unit_id,
        msg.forwarded_unit_id,
    )
}

/// 催办 is for a message not yet overdue, 督办 for an overdue one (挂牌督办 for either).
pub fn supervision_fits(action: Action, overdue: bool) -> bool {
    match action {
        Action::Urge => !overdue,
        Action::Supervise => overdue,
        _ => true,
    }
}

pub fn facts(msg: &Message) -> Facts {
    Facts {
        extension_pending: msg.extension_requested_days.is_some(),
        forwarded: msg.forwarded_unit_id.is_some(),
        forward_accepted: msg.forward_accepted_at.is_some(),
        dissatisfied: msg.satisfaction.as_deref() == Some("不满意"),
        no_reopen: msg.no_reopen_at.is_some(),
        following: is_following(msg),
    }
}

/// A 重复件 handled together with its original, which is not yet 办结.
pub fn is_following(msg: &Message) -> bool {
    msg.duplicate_of.is_some() && (msg.state() == State::Registered || msg.state().deadline_runs())
}

/// The words for what a 并案 repeat is (on its page, and when an action is refused).
pub const FOLLOWING_NOTE: &str =
    "本件与原件并案办理，随原件签收、答复、办结，请在原件上办理；原件办结后本件单独回访、呈报、销号。";

/// Why an action the lifecycle allows is not open now (a time window or a cap), if so:
/// the message page neither offers it nor hides why, and `act` refuses it with the same
/// words.
pub fn not_now(action: Action, msg: &Message, cal: &Calendar, today: NaiveDate) -> Option<String> {
    match action {
        Action::Return => {
            let assigned = msg.assigned_at.map(|t| to_china(t).date()).unwrap_or(today);
            let limit = cal.add_working_days(assigned, RETURN_DAYS);
            (today > limit).then(|| {
                format!(
                    "退回须在转办后 {RETURN_DAYS} 个工作日内提出（截至 {}），已超过期限。请签收后办理，确需调整请联系交办单位。",
                    limit.format("%Y-%m-%d")
                )
            })
        }
        Action::RequestExtension => {
            if msg.extension_days >= MAX_EXTENSION_DAYS {
                Some(format!(
                    "本件已延期 {} 个工作日，达到累计上限 {MAX_EXTENSION_DAYS} 个工作日，不能再申请延期。",
                    msg.extension_days
                ))
            } else {
                msg.due_at.filter(|d| today > *d).map(|d| {
                    format!(
                        "答复期限（{}）已过，延期须在期限届满前申请。请尽快答复。",
                        d.format("%Y-%m-%d")
                    )
                })
            }
        }
        _ => None,
    }
}

fn unit_name(all: &[Unit], id: Option<i32>) -> String {
    id.and_then(|id| all.iter().find(|u| u.id == id))
        .map(|u| u.name.clone())
        .unwrap_or_default()
}

fn require_text(errors: &mut FieldErrors, text: &str, message: &str) {
    if text.trim().is_empty() {
        errors.add("text", message);
    } else if text.chars().count() > 20000 {
        errors.add("text", "内容不超过 20000 字。");
    }
}

fn parse_yes_no(s: &str) -> Option<bool> {
    match s {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

/// Apply one action to one message in one transaction.
#[allow(clippy::too_many_arguments)]
pub fn act(
    conn: &mut DbConn,
    acting: &Acting,
    scope: &Scope,
    id: i32,
    action: Action,
    form: &ActForm,
    files: &Files,
    today: NaiveDate,
) -> Result<ActOutcome, AppError> {
    tx_with_files(conn, |conn, placed| {
        act_in(conn, acting, scope, id, action, form, files, today, placed)
    })
}

/// Messages chosen for a batch 呈报 or 销号, each with the version the user saw.
pub struct BatchItem {
    pub id: i32,
    pub version: i32,
}

pub enum BatchOutcome {
    Done(usize),
    Invalid(FieldErrors),
    /// Nothing was changed: these messages (文号, reason) stood in the way.
    Refused(Vec<(String, String)>),
}

/// 批量呈报 (one 呈报文号 for all) or 批量销号: all of them in one transaction, or none.
#[allow(clippy::too_many_arguments)]
pub fn batch(
    conn: &mut DbConn,
    acting: &Acting,
    scope: &Scope,
    action: Action,
    items: &[BatchItem],
    form: &ActForm,
    store: &Store,
    today: NaiveDate,
) -> Result<BatchOutcome, AppError> {
    if !matches!(action, Action::Report | Action::Archive) {
        return Err(AppError::NotFound);
    }
    if items.is_empty() {
        let mut e = FieldErrors::default();
        e.add("ids", "请勾选要处理的留言。");
        return Ok(BatchOutcome::Invalid(e));
    }
    enum Stop {
        App(AppError),
        Invalid(FieldErrors),
        Refused(Vec<(String, String)>),
    }
    impl From<diesel::result::Error> for Stop {
        fn from(e: diesel::result::Error) -> Stop {
            Stop::App(e.into())
        }
    }
    let files = Files {
        store,
        accepted: &[],
        refused: &[],
    };
    let result = db::write_tx(conn, |conn| {
        let mut refused = Vec::new();
        for item in items {
            let mut f = form.clone();
            f.version = item.version.to_string();
            let ref_no = model::find_scoped(conn, scope, item.id)
                .map_err(|e| Stop::App(e.into()))?
                .map(|m| m.ref_no)
                .ok_or(Stop::App(AppError::NotFound))?;
            let mut placed = Vec::new();
            match act_in(
                conn,
                acting,
                scope,
                item.id,
                action,
                &f,
                &files,
                today,
                &mut placed,
            )
            .map_err(Stop::App)?
            {
                ActOutcome::Done(_) => {}
                ActOutcome::Invalid(e) => return Err(Stop::Invalid(e)),
                ActOutcome::Conflict => refused.push((ref_no, CONFLICT_MESSAGE.to_string())),
                ActOutcome::Refused(r) => refused.push((ref_no, r)),
                // The batch's review page was the confirmation.
                ActOutcome::Confirm { .. } => {
                    return Err(Stop::App(AppError::internal("batch without confirmation")))
                }
            }
        }
        if refused.is_empty() {
            Ok(items.len())
        } else {
            Err(Stop::Refused(refused))
        }
    });
    match result {
        Ok(n) => Ok(BatchOutcome::Done(n)),
        Err(Stop::App(e)) => Err(e),
        Err(Stop::Invalid(e)) => Ok(BatchOutcome::Invalid(e)),
        Err(Stop::Refused(r)) => Ok(BatchOutcome::Refused(r)),
    }
}

#[allow(clippy::too_many_arguments)]
fn act_in(
    conn: &mut DbConn,
    acting: &Acting,
    scope: &Scope,
    id: i32,
    action: Action,
    form: &ActForm,
    files: &Files,
    today: NaiveDate,
    placed: &mut Vec<std::path::PathBuf>,
) -> Result<ActOutcome, AppError> {
    {
        let msg = model::find_scoped(conn, scope, id)?.ok_or(AppError::NotFound)?;
        if form.version.trim().parse::<i32>().ok() != Some(msg.version) {
            return Ok(ActOutcome::Conflict);
        }
        // Anything changed behind the application's back since the last seal is noted
        // in the next one (and in the audit log), never sealed over.
        let breach = crate::archive::ledger::check_before(conn, &msg)?;
        let from = msg.state();
        let mut to = match lifecycle::check(action, from, standing(acting, &msg), facts(&msg)) {
            Ok(to) => to,
            Err(_)
                if matches!(action, Action::Progress | Action::DraftReply)
                    && standing(acting, &msg).forwardee
                    && facts(&msg).forwarded
                    && !facts(&msg).forward_accepted =>
            {
                return Ok(ActOutcome::Refused(
                    "请先签收下转的留言，再办理。".to_string(),
                ))
            }
            Err(Refusal::NotYours) => {
                return Ok(ActOutcome::Refused(format!(
                    "您的单位不能对该留言执行“{}”。",
                    action.label()
                )))
            }
            Err(Refusal::WrongState)
                if action == Action::Report
                    && from == State::FollowedUp
                    && facts(&msg).dissatisfied =>
            {
                return Ok(ActOutcome::Refused(
                    "回访“不满意”的留言须先重办，或记录“不再重办”的决定及理由，才能呈报。"
                        .to_string(),
                ))
            }
            Err(Refusal::WrongState) if is_following(&msg) => {
                return Ok(ActOutcome::Refused(FOLLOWING_NOTE.to_string()))
            }
            Err(Refusal::WrongState) if action == Action::Reopen && from == State::FollowedUp => {
                return Ok(ActOutcome::Refused(
                    "只有回访“不满意”的留言才能重办。".to_string(),
                ))
            }
            Err(Refusal::WrongState) => {
                return Ok(ActOutcome::Refused(format!(
                    "该留言当前状态为“{}”，不能执行“{}”。",
                    from.label(),
                    action.label()
                )))
            }
        };
        let cal: Calendar = config::calendar(conn)?;
        if let Some(why) = not_now(action, &msg, &cal, today) {
            return Ok(ActOutcome::Refused(why));
        }
        let all_units = units::all(conn)?;
        let now = db::now();
        let text = form.text.trim().to_string();
        let mut errors = FieldErrors::default();
        let mut ch = Changes::default();
        let mut detail = serde_json::json!({});
        let mut reply_checked: Option<crate::messages::reply_check::Check> = None;
        let mut done = format!("已{}。", action.label());
        let mut corrected = false;
        files.check(conn, acting.unit_id, &mut errors)?;
        if !files.accepted.is_empty() && !takes_files(action) {
            errors.add("files", &format!("“{}”不接受附件。", action.label()));
        }
        match action {
            Action::Assign => {
                let target = form
                    .unit_id
                    .parse::<i32>()
                    .ok()
                    .and_then(|uid| all_units.iter().find(|u| u.id == uid));
                let ok = target.is_some_and(|t| assignable(&all_units, msg.owner_unit_id, t));
                match target {
                    Some(t) if ok => {
                        let rules = config::rules(conn)?;
                        let days = config::reply_days(
                            &rules,
                            &msg.level,
                            &msg.source_platform,
                            &msg.category,
                        );
                        ch.handling_unit_id = Some(Some(t.id));
                        ch.forwarded_unit_id = Some(None);
                        ch.forward_accepted_at = Some(None);
                        ch.assigned_at = Some(Some(now));
                        ch.accept_due = Some(Some(cal.add_working_days(today, ACCEPT_DAYS)));
                        ch.due_at = Some(Some(cal.add_working_days(today, days as i64)));
                        ch.accepted_at = Some(None);
                        ch.extension_days = Some(0);
                        ch.extension_requested_days = Some(None);
                        detail = serde_json::json!({ "unit": t.name, "reply_days": days });
                        done = format!("已转办至“{}”，{} 个工作日内答复。", t.name, days);
                    }
                    _ => errors.add(
                        "unit_id",
                        "请选择核办单位（县区、功能区或市直部门；县级留言选本县下属单位）。",
                    ),
                }
            }
            Action::Accept => {
                ch.accepted_at = Some(Some(now));
            }
            Action::Return => {
                require_text(&mut errors, &text, "请填写退回理由。");
                detail = serde_json::json!({ "unit": unit_name(&all_units, msg.handling_unit_id) });
                done = format!(
                    "已将{}“{}”退回交办单位（{}），本单位不再办理此件。",
                    msg.ref_no,
                    msg.title,
                    unit_name(&all_units, Some(msg.owner_unit_id))
                );
                ch.handling_unit_id = Some(None);
                ch.forwarded_unit_id = Some(None);
                ch.forward_accepted_at = Some(None);
                ch.assigned_at = Some(None);
                ch.accept_due = Some(None);
                ch.due_at = Some(None);
                ch.supervision_level = Some(None);
                ch.supervision_due = Some(None);
            }
            Action::Forward => {
                let target = form
                    .unit_id
                    .parse::<i32>()
                    .ok()
                    .and_then(|uid| all_units.iter().find(|u| u.id == uid))
                    .filter(|t| {
                        t.active
                            && t.parent_id == msg.handling_unit_id
                            && t.kind() == Some(UnitKind::SubUnit)
                    });
                match target {
                    Some(t) => {
                        ch.forwarded_unit_id = Some(Some(t.id));
                        ch.forward_accepted_at = Some(None);
                        detail = serde_json::json!({ "unit": t.name });
                        done = format!("已下转至“{}”。本单位仍负责审核并答复。", t.name);
                    }
                    None => errors.add("unit_id", "请选择本县（区）的下属单位。"),
                }
            }
            Action::SubAccept => {
                ch.forward_accepted_at = Some(Some(now));
                done = "已签收，请办理并报送答复稿。".to_string();
            }
            Action::SubReturn => {
                require_text(&mut errors, &text, "请填写退回理由。");
                let sub = unit_name(&all_units, msg.forwarded_unit_id);
                let county = unit_name(&all_units, msg.handling_unit_id);
                detail = serde_json::json!({ "unit": sub });
                done = format!(
                    "已将{}“{}”退回{county}，本单位不再办理此件。",
                    msg.ref_no, msg.title
                );
                ch.forwarded_unit_id = Some(None);
                ch.forward_accepted_at = Some(None);
            }
            Action::Progress => {
                require_text(&mut errors, &text, "请填写办理进展。");
                done = "已记录办理进展。".to_string();
            }
            Action::DraftReply => {
                require_text(&mut errors, &text, "请填写答复稿。");
                ch.draft_reply = Some(Some(text.clone()));
                done = "答复稿已报送，由县（区）审核后答复。".to_string();
            }
            Action::RequestExtension => {
                require_text(&mut errors, &text, "请填写延期理由。");
                let left = MAX_EXTENSION_DAYS - msg.extension_days;
                match form.days.trim().parse::<i32>() {
                    Ok(d) if d >= 1 && d <= left => {
                        ch.extension_requested_days = Some(Some(d));
                        detail = serde_json::json!({ "days": d });
                        done = format!("已申请延期 {d} 个工作日，等待交办单位审批。");
                    }
                    _ => errors.add(
                        "days",
                        &format!("延期天数应为 1–{left} 个工作日（累计不超过 {MAX_EXTENSION_DAYS} 个工作日）。"),
                    ),
                }
            }
            Action::ApproveExtension => {
                let days = msg.extension_requested_days.unwrap_or(0);
                let base = msg.due_at.unwrap_or(today);
                let new_due = cal.add_working_days(base, days as i64);
                ch.due_at = Some(Some(new_due));
                ch.extension_days = Some(msg.extension_days + days);
                ch.extension_requested_days = Some(None);
                detail = serde_json::json!({ "days": days, "due": new_due.to_string() });
                done = format!(
                    "已批准延期 {days} 个工作日，新的到期时间为 {}。",
                    new_due.format("%Y-%m-%d")
                );
            }
            Action::RejectExtension => {
                require_text(&mut errors, &text, "请填写驳回延期的理由。");
                ch.extension_requested_days = Some(None);
            }
            Action::Reply => {
                require_text(&mut errors, &text, "请填写答复内容。");
                match parse_yes_no(&form.resolved) {
                    Some(r) => ch.proposed_resolved = Some(Some(r)),
                    None => errors.add("resolved", "请选择是否化解。"),
                }
                ch.handling_summary = Some(Some(text.clone()));
                ch.replied_at = Some(Some(now));
                // 答复质量: checked now, against the appeal and the deadline.
                let timing = crate::messages::reply_check::Timing::of(
                    &cal,
                    msg.assigned_at.map(|a| to_china(a).date()),
                    today,
                    msg.due_at,
                );
                reply_checked = Some(crate::messages::reply_check::check(
                    &msg.title,
                    &msg.appeal,
                    &text,
                    timing,
                ));
                detail = serde_json::json!({ "resolved": parse_yes_no(&form.resolved) });
                done = "已答复，等待交办单位审核。".to_string();
            }
            Action::Approve => match parse_yes_no(&form.resolved) {
                Some(r) => {
                    ch.resolved = Some(Some(r));
                    ch.closed_at = Some(Some(now));
                    ch.followup_due = Some(Some(cal.add_working_days(today, FOLLOWUP_DAYS)));
                    ch.supervision_level = Some(None);
                    ch.supervision_due = Some(None);
                    detail = serde_json::json!({ "resolved": r });
                    done = format!(
                        "审核通过，已办结（{}）。请按期回访。",
                        if r { "已化解" } else { "未化解" }
                    );
                }
                None => errors.add("resolved", "请选择是否化解。"),
            },
            Action::Reject => {
                require_text(&mut errors, &text, "请填写驳回重办的理由。");
                done = "已驳回重办，退回核办单位重新办理。".to_string();
            }
            Action::Urge | Action::Supervise | Action::Flag => {
                require_text(&mut errors, &text, "请填写督办内容。");
                let overdue = crate::messages::deadline::is_overdue(&cal, today, &msg);
                if !supervision_fits(action, overdue) {
                    return Ok(ActOutcome::Refused(
                        if overdue {
                            "该留言已超期，应使用“督办”或“挂牌督办”。"
                        } else {
                            "该留言尚未超期，应使用“催办”；情况严重可“挂牌督办”。"
                        }
                        .to_string(),
                    ));
                }
                // A deadline is a working matter: within a year of today.
                match NaiveDate::parse_from_str(form.deadline.trim(), "%Y-%m-%d") {
                    Ok(d) if d >= today && d <= today + Duration::days(366) => {
                        ch.supervision_level = Some(Some(action.label().to_string()));
                        ch.supervision_due = Some(Some(d));
                        detail = serde_json::json!({ "level": action.label(), "deadline": d.to_string() });
                        done = format!(
                            "已{}，要求 {} 前落实。",
                            action.label(),
                            d.format("%Y-%m-%d")
                        );
                    }
                    _ => errors.add(
                        "deadline",
                        "请填写落实期限：不早于今天、不晚于一年后，格式如 2026-12-05。",
                    ),
                }
            }
            Action::FollowUp => {
                if !FOLLOWUP_METHODS.contains(&form.method.as_str()) {
                    errors.add("method", "请选择回访方式。");
                }
                if !SATISFACTION.contains(&form.satisfaction.as_str()) {
                    errors.add("satisfaction", "请选择满意度。");
                }
                ch.satisfaction = Some(Some(form.satisfaction.clone()));
                ch.evaluation = Some(Some(text.clone()));
                ch.followed_up_at = Some(Some(now));
                ch.no_reopen_at = Some(None);
                detail =
                    serde_json::json!({ "method": form.method, "satisfaction": form.satisfaction });
                done = format!("已回访（{}，{}）。", form.method, form.satisfaction);
            }
            Action::Reopen => {
                require_text(&mut errors, &text, "请填写重办要求。");
                ch.no_reopen_at = Some(None);
                let rules = config::rules(conn)?;
                let days =
                    config::reply_days(&rules, &msg.level, &msg.source_platform, &msg.category);
                let due = cal.add_working_days(today, days as i64);
                ch.due_at = Some(Some(due));
                ch.resolved = Some(None);
                ch.closed_at = Some(None);
                ch.followup_due = Some(None);
                ch.proposed_resolved = Some(None);
                detail = serde_json::json!({ "due": due.to_string() });
                done = format!(
                    "已重办，核办单位须于 {} 前重新答复。",
                    due.format("%Y-%m-%d")
                );
            }
            Action::NoReopen => {
                require_text(&mut errors, &text, "请填写不再重办的理由。");
                ch.no_reopen_at = Some(Some(now));
                done = "已记录不再重办的决定，可以呈报。".to_string();
            }
            Action::Report => {
                let r = form.report_ref_no.trim();
                if r.is_empty() || r.chars().count() > 64 {
                    errors.add("report_ref_no", "请填写呈报文号（不超过 64 字）。");
                }
                ch.report_ref_no = Some(Some(r.to_string()));
                ch.reported_at = Some(Some(now));
                detail = serde_json::json!({ "report_ref_no": r });
            }
            Action::Archive => {
                let missing = msg.missing_elements();
                if !missing.is_empty() {
                    return Ok(ActOutcome::Refused(format!(
                        "以下要素缺失，不能销号：{}。请补齐后再销号。",
                        missing.join("、")
                    )));
                }
                let (fonds, category, default_retention) = archive::settings(conn)?;
                let retention = match form.retention.trim() {
                    "" => default_retention,
                    r => r.to_string(),
                };
                let Some(code) = archive::retention_code(&retention) else {
                    errors.add("retention", "请选择保管期限：永久、30年或10年。");
                    return Ok(ActOutcome::Invalid(errors));
                };
                if form.confirm != "1" {
                    return Ok(ActOutcome::Confirm { retention });
                }
                let handler = msg
                    .handling_unit_id
                    .and_then(|h| all_units.iter().find(|u| u.id == h))
                    .ok_or_else(|| {
                        AppError::internal("archived message without a handling unit")
                    })?;
                let unit_code = archive::unit_code(handler);
                let year = today.year();
                let piece = archive::next_piece(conn, &fonds, year, &retention, &unit_code)?;
                let no =
                    archive::format_archive_no(&fonds, &category, year, code, &unit_code, piece);
                ch.archived_at = Some(Some(now));
                ch.archive_no = Some(Some(no.clone()));
                ch.retention = Some(Some(retention.clone()));
                detail = serde_json::json!({ "archive_no": no, "retention": retention });
                done = format!("已销号归档，档号 {no}（保管期限 {retention}）。此后的更正只能以“更正”记录追加。");
            }
            Action::MarkRepeat => {
                let typed = match form.original_no.trim() {
                    "" => form.original.trim(),
                    t => t,
                };
                let found = if typed.is_empty() {
                    None
                } else {
                    model::by_ref_no(conn, scope, typed)?
                };
                // A repeat of a repeat joins the first one.
                let root = match found {
                    Some(o) => match o.duplicate_of {
                        Some(r) => model::find_scoped(conn, scope, r)?,
                        None => Some(o),
                    },
                    None => None,
                };
                match root {
                    None => errors.add(
                        "original",
                        "请选择或填写原件的留言文号（如 安网留〔2026〕0301号）。",
                    ),
                    Some(o) if o.id == msg.id => {
                        errors.add("original", "不能把留言标记为它自己的重复件。")
                    }
                    Some(o) if o.handling_unit_id.is_none() => errors.add(
                        "original",
                        &format!("原件{}尚未转办：请先转办原件，再将本件并入。", o.ref_no),
                    ),
                    Some(o) if form.merge == "follow" => match lifecycle::merged_state(o.state()) {
                        Some(st) => {
                            ch = model::following_changes(&o);
                            ch.duplicate_of = Some(Some(o.id));
                            to = st;
                            detail = serde_json::json!({
                                "original": o.ref_no, "original_id": o.id, "merged": true
                            });
                            done = format!(
                                "已标记为{}的重复件，与该件并案办理：随该件签收、答复、办结，办结后请单独回访。",
                                o.ref_no
                            );
                        }
                        None => errors.add(
                            "merge",
                            &format!(
                                "原件{}已{}，不能再并案办理：请选择“直接办结，答复见原件”。",
                                o.ref_no,
                                o.state().label()
                            ),
                        ),
                    },
                    Some(o) => {
                        ch.duplicate_of = Some(Some(o.id));
                        ch.handling_unit_id = Some(o.handling_unit_id);
                        ch.due_at = Some(o.due_at);
                        ch.closed_at = Some(Some(now));
                        ch.followup_due = Some(Some(cal.add_working_days(today, FOLLOWUP_DAYS)));
                        ch.handling_summary = Some(Some(format!(
                            "本件为{}的重复件，已并入该件办理，答复见该件。",
                            o.ref_no
                        )));
                        detail = serde_json::json!({ "original": o.ref_no, "original_id": o.id });
                        done = format!(
                            "已标记为{}的重复件，并入该件办理后办结。请按期回访。",
                            o.ref_no
                        );
                    }
                }
            }
            Action::Amend if form.field.trim().is_empty() => {
                require_text(&mut errors, &text, "请填写更正内容。")
            }
            Action::Correct | Action::Amend => {
                let chosen = correction::Field::parse(form.field.trim())
                    .filter(|f| correction::correctable(&msg, standing(acting, &msg)).contains(f));
                let Some(field) = chosen else {
                    return Ok(ActOutcome::Refused(format!(
                        "请选择您可以{}的要素。",
                        action.label()
                    )));
                };
                require_text(
                    &mut errors,
                    &text,
                    &format!("请填写{}理由。", action.label()),
                );
                let levels = config::list(conn, config::LEVEL)?;
                let platforms = config::list(conn, config::PLATFORM)?;
                let categories = config::list(conn, config::CATEGORY)?;
                let lists = correction::Lists {
                    levels: &levels,
                    platforms: &platforms,
                    categories: &categories,
                    role: acting.role,
                };
                let typed = correction::Typed {
                    value: &form.value,
                    resolved: &form.resolved,
                    satisfaction: &form.satisfaction,
                };
                match correction::apply(&msg, field, typed, &lists, now) {
                    Ok(after) => {
                        ch = correction::changes(field, &after);
                        detail = serde_json::json!({
                            "field": field.code(),
                            "element": field.label(),
                            "old": correction::recorded(&msg, field),
                            "new": correction::recorded(&after, field),
                        });
                        // "已补正反映人：张三 → 张叁。"
                        done = format!(
                            "已{}{}。",
                            action.label(),
                            correction::describe(&detail).unwrap_or_default()
                        );
                        corrected = true;
                    }
                    Err((key, why)) => errors.add(key, &why),
                }
            }
        }
        if !errors.is_empty() {
            return Ok(ActOutcome::Invalid(errors));
        }
        ch.state = Some(to.as_str().to_string());
        ch.version = Some(msg.version + 1);
        ch.updated_at = Some(now);
        ch.seal_personal();
        let updated = diesel::update(
            m::messages
                .filter(m::id.eq(msg.id))
                .filter(m::version.eq(msg.version)),
        )
        .set(&ch)
        .execute(conn)?;
        if updated != 1 {
            return Ok(ActOutcome::Conflict);
        }
        if action == Action::Archive || (corrected && to == State::Archived) {
            // Seal the 16 elements as archived (and again after each 更正 of one): a
            // later direct edit is detected.
            let sealed = model::find_scoped(conn, scope, msg.id)?.ok_or(AppError::NotFound)?;
            let names = all_units.iter().map(|u| (u.id, u.name.clone())).collect();
            detail["elements_sha256"] = archive::elements_digest(&sealed, &names).into();
        }
        let seq = insert_event(
            conn,
            msg.id,
            acting,
            action.as_str(),
            Some(from),
            to,
            &text,
            detail,
            files,
        )?;
        attachments::place(
            conn,
            files.store,
            msg.id,
            seq,
            acting.user_id,
            files.accepted,
            placed,
        )?;
        if action == Action::Reply || corrected {
            crate::search::index(conn, msg.id)?;
        }
        if let Some(c) = &reply_checked {
            crate::messages::reply_store::save(conn, msg.id, msg.handling_unit_id, now, c)?;
        }
        match (action, &form.proposal, ch.handling_unit_id) {
            (Action::Assign, Some(shown), Some(Some(chosen))) => {
                crate::dispatch::store::record(conn, msg.id, now, &shown.made(chosen), chosen)?
            }
            (Action::Return, _, _) => crate::dispatch::store::returned(conn, msg.id)?,
            _ => {}
        }
        // 并案 repeats take the original's step with it, in the same transaction.
        let mut sealed = vec![(msg.id, breach)];
        if lifecycle::carries_followers(action) && msg.duplicate_of.is_none() {
            sealed.extend(carry_followers(
                conn,
                acting,
                files.store,
                &msg,
                action,
                from,
            )?);
        }
        // The seal is renewed over the record as the action left it.
        crate::archive::ledger::seal_noting(conn, &sealed)?;
        crate::audit::record(
            conn,
            &acting.actor(),
            "lifecycle",
            &format!("留言 {}：{}", msg.ref_no, action.label()),
            crate::audit::OK,
            &format!("{} → {}", from.label(), to.label()),
        )?;
        if !files.accepted.is_empty() {
            done.push_str(&format!("附件 {} 个已保存。", files.accepted.len()));
        }
        Ok(ActOutcome::Done(done))
    }
}

/// The original's step, taken by its 并案 repeats that stood where it stood: the same
/// state and handling fields, an event in each timeline, each audited. Returns what each
/// one's seal must note.
fn carry_followers(
    conn: &mut DbConn,
    acting: &Acting,
    store: &Store,
    original: &Message,
    action: Action,
    from: State,
) -> Result<Vec<(i32, Option<String>)>, AppError> {
    let followers = model::followers(conn, original.id, from)?;
    if followers.is_empty() {
        return Ok(Vec::new());
    }
    let now_row = m::messages.find(original.id).first::<Message>(conn)?;
    let to = now_row.state();
    let mut out = Vec::new();
    for f in followers {
        let breach = crate::archive::ledger::check_before(conn, &f)?;
        let mut ch = model::following_changes(&now_row);
        ch.version = Some(f.version + 1);
        ch.updated_at = Some(db::now());
        let updated = diesel::update(
            m::messages
                .filter(m::id.eq(f.id))
                .filter(m::version.eq(f.version)),
        )
        .set(&ch)
        .execute(conn)?;
        if updated != 1 {
            // Changed meanwhile: the whole step is tried again (one transaction).
            return Err(AppError::Conflict(CONFLICT_MESSAGE.to_string()));
        }
        insert_event(
            conn,
            f.id,
            acting,
            action.as_str(),
            Some(from),
            to,
            &format!("随原件{}{}（并案办理）。", original.ref_no, action.label()),
            serde_json::json!({ "original": original.ref_no, "original_id": original.id }),
            &Files {
                store,
                accepted: &[],
                refused: &[],
            },
        )?;
        if action == Action::Reply {
            crate::search::index(conn, f.id)?;
        }
        crate::audit::record(
            conn,
            &acting.actor(),
            "lifecycle",
            &format!(
                "留言 {}：随原件 {} {}",
                f.ref_no,
                original.ref_no,
                action.label()
            ),
            crate::audit::OK,
            &format!("{} → {}", from.label(), to.label()),
        )?;
        out.push((f.id, breach));
    }
    Ok(out)
}

/// Units an owner may assign to: the city centre assigns to counties, zones and city
/// departments; a county to its own sub-units.
pub fn assignable(all: &[Unit], owner_unit: i32, target: &Unit) -> bool {
    if !target.active || target.id == owner_unit {
        return false;
    }
    let owner_kind = all
        .iter()
        .find(|u| u.id == owner_unit)
        .and_then(|u| u.kind());
    match owner_kind {
        Some(UnitKind::Centre) => matches!(
            target.kind(),
            Some(UnitKind::County | UnitKind::Zone | UnitKind::Department)
        ),
        Some(UnitKind::County | UnitKind::Zone) => {
            target.parent_id == Some(owner_unit) && target.kind() == Some(UnitKind::SubUnit)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts() {
        assert_eq!(check_contact("13812345678"), Ok(None));
        assert_eq!(check_contact("0851-33221100"), Ok(None));
        assert!(check_contact("1381234567").is_err());
        assert!(check_contact("微信 zhang_san").expect("accepted").is_some());
    }

    #[test]
    fn ref_numbers() {
        let f = config::DEFAULT_REF_FORMAT;
        assert_eq!(format_ref_no(f, "安", 2026, 1), "安网留〔2026〕0001号");
        assert_eq!(
            format_ref_no(f, "西秀", 2026, 123),
            "西秀网留〔2026〕0123号"
        );
        assert_eq!(
            format_ref_no("{年}-{简称}-{序号}", "安", 2026, 7),
            "2026-安-0007"
        );
    }

    #[test]
    fn register_validation() {
        let levels = vec![
            "省级".to_string(),
            "市级".to_string(),
            COUNTY_LEVEL.to_string(),
        ];
        let platforms = vec!["市长信箱".to_string()];
        let categories = vec!["投诉举报".to_string()];
        let now =
            NaiveDateTime::parse_from_str("2026-11-30 06:00:00", "%Y-%m-%d %H:%M:%S").expect("now");
        let mut f = RegisterForm {
            level: "市级".into(),
            source_platform: "市长信箱".into(),
            complainant_name: "张三".into(),
            complainant_contact: "13812345678".into(),
            title: "小区停水".into(),
            appeal: "停水三天".into(),
            posted_at: "2026-11-30T13:30".into(),
            category: "投诉举报".into(),
            ..Default::default()
        };
        let (utc, note) = validate_register(
            &f,
            Role::CityOperator,
            &levels,
            &platforms,
            &categories,
            now,
        )
        .expect("valid");
        assert_eq!(utc.to_string(), "2026-11-30 05:30:00");
        assert!(note.is_none());
        f.posted_at = "2026-11-30T15:30".into();
        let e = validate_register(
            &f,
            Role::CityOperator,
            &levels,
            &platforms,
            &categories,
            now,
        )
        .expect_err("future");
        assert!(e.get("posted_at").is_some());
        f.posted_at = "2026-11-30 10:00".into();
        let e = validate_register(
            &f,
            Role::CountyOperator,
            &levels,
            &platforms,
            &categories,
            now,
        )
        .expect_err("county registers county level only");
        assert!(e.get("level").is_some());
    }
}
