//! User accounts: queries, validation, and every change as one audited transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;

use crate::audit::{self, Actor};
use crate::auth::roles::Role;
use crate::auth::session_store::end_user_sessions;
use crate::db::schema::{login_failures::dsl as lf, units::dsl as u, users::dsl as us};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::forms::FieldErrors;
use crate::units::{self, Unit};

#[derive(Queryable, Debug, Clone)]
pub struct User {
    pub id: i32,
    pub username: String,
    pub display_name: String,
    pub unit_id: i32,
    pub role: String,
    pub password_hash: String,
    pub active: bool,
    pub must_change_password: bool,
    pub locked_until: Option<NaiveDateTime>,
    pub password_changed_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    /// Base32 TOTP secret (set once enrolment is confirmed).
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    /// The last TOTP time step accepted: a code is accepted once.
    pub totp_last_step: i64,
}

impl User {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }

    pub fn role_label(&self) -> &'static str {
        self.role().map(|r| r.label()).unwrap_or("未知角色")
    }

    pub fn is_locked(&self, now: NaiveDateTime) -> bool {
        self.locked_until.map(|t| t > now).unwrap_or(false)
    }
}

pub fn find(conn: &mut DbConn, id: i32) -> QueryResult<Option<User>> {
    us::users.find(id).first(conn).optional()
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    us::users
        .filter(us::username.eq(username))
        .first(conn)
        .optional()
}

/// The user with the unit they belong to.
pub fn find_with_unit(conn: &mut DbConn, id: i32) -> QueryResult<Option<(User, Unit)>> {
    us::users
        .inner_join(u::units)
        .filter(us::id.eq(id))
        .first::<(User, Unit)>(conn)
        .optional()
}

pub fn list_with_units(conn: &mut DbConn) -> QueryResult<Vec<(User, Unit)>> {
    us::users
        .inner_join(u::units)
        .order((u::sort_order, us::username))
        .load::<(User, Unit)>(conn)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    us::users.count().get_result(conn)
}

/// Users currently locked out.
pub fn locked(conn: &mut DbConn) -> QueryResult<Vec<(User, Unit)>> {
    us::users
        .inner_join(u::units)
        .filter(us::locked_until.gt(db::now()))
        .order(us::username)
        .load::<(User, Unit)>(conn)
}

/// The user form (create and edit). Text fields so that bad input can be shown back.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct UserInput {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub unit_id: String,
    #[serde(default)]
    pub role: String,
}

pub struct ValidUser {
    pub username: String,
    pub display_name: String,
    pub unit_id: i32,
    pub role: Role,
}

pub fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' || c == '-'
        })
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

/// Validate the form. `editing`: the id of the user being edited (the username is then fixed).
pub fn validate(
    conn: &mut DbConn,
    input: &UserInput,
    editing: Option<&User>,
) -> Result<Result<ValidUser, FieldErrors>, AppError> {
    let mut errors = FieldErrors::default();
    let username = match editing {
        Some(user) => user.username.clone(),
        None => {
            let name = input.username.trim().to_string();
            if !valid_username(&name) {
                errors.add(
                    "username",
                    "用户名为 3–32 位小写字母、数字、“_”“.”“-”，以字母开头。",
                );
            } else if find_by_username(conn, &name)?.is_some() {
                errors.add("username", "该用户名已被使用，请换一个。");
            }
            name
        }
    };
    let display_name = input.display_name.trim().to_string();
    if display_name.is_empty() {
        errors.add("display_name", "请填写姓名。");
    } else if display_name.chars().count() > 30 {
        errors.add("display_name", "姓名不超过 30 个字。");
    }
    let role = Role::parse(input.role.trim());
    if role.is_none() {
        errors.add("role", "请选择角色。");
    }
    let unit = match input.unit_id.trim().parse::<i32>() {
        Ok(id) => units::find(conn, id)?,
        Err(_) => None,
    };
    match (&unit, role) {
        (None, _) => errors.add("unit_id", "请选择所属单位。"),
        (Some(unit), _) if !unit.active => errors.add("unit_id", "该单位已停用，不能添加用户。"),
        (Some(unit), Some(role)) if !unit.kind().is_some_and(|k| role.fits_unit(k)) => {
            let kinds: Vec<&str> = role
                .allowed_unit_kinds()
                .iter()
                .map(|k| k.label())
                .collect();
            errors.add(
                "unit_id",
                &format!("“{}”角色的用户应属于：{}。", role.label(), kinds.join("或")),
            );
        }
        _ => {}
    }
    Ok(match (errors.is_empty(), unit, role) {
        (true, Some(unit), Some(role)) => Ok(ValidUser {
            username,
            display_name,
            unit_id: unit.id,
            role,
        }),
        _ => Err(errors),
    })
}

/// Create a user with an already hashed password. Returns the new id.
pub fn create(
    conn: &mut DbConn,
    v: &ValidUser,
    password_hash: &str,
    must_change: bool,
    actor: &Actor,
) -> Result<i32, AppError> {
    conn.transaction(|conn| {
        let now = db::now();
        let id = diesel::insert_into(us::users)
            .values((
                us::username.eq(&v.username),
                us::display_name.eq(&v.display_name),
                us::unit_id.eq(v.unit_id),
                us::role.eq(v.role.as_str()),
                us::password_hash.eq(password_hash),
                us::active.eq(true),
                us::must_change_password.eq(must_change),
                us::password_changed_at.eq(now),
                us::created_at.eq(now),
            ))
            .returning(us::id)
            .get_result::<i32>(conn)?;
        audit::record(
            conn,
            actor,
            "user_create",
            &v.username,
            audit::OK,
            &format!("角色：{}；单位#{}", v.role.label(), v.unit_id),
        )?;
        Ok(id)
    })
}

/// Change name, unit and role. A change of role or unit ends the user's sessions, so
/// the new rights apply at the next login.
pub fn update(
    conn: &mut DbConn,
    user: &User,
    v: &ValidUser,
    actor: &Actor,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        diesel::update(us::users.find(user.id))
            .set((
                us::display_name.eq(&v.display_name),
                us::unit_id.eq(v.unit_id),
                us::role.eq(v.role.as_str()),
            ))
            .execute(conn)?;
        let rights_changed = user.unit_id != v.unit_id || user.role != v.role.as_str();
        if rights_changed {
            end_user_sessions(conn, user.id)?;
        }
        audit::record(
            conn,
            actor,
            "user_update",
            &user.username,
            audit::OK,
            &format!(
                "角色：{} → {}；单位#{} → #{}",
                user.role_label(),
                v.role.label(),
                user.unit_id,
                v.unit_id
            ),
        )?;
        Ok(())
    })
}

/// Enable or disable a user; disabling ends all of their sessions at once.
pub fn set_active(
    conn: &mut DbConn,
    user: &User,
    active: bool,
    actor: &Actor,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        diesel::update(us::users.find(user.id))
            .set(us::active.eq(active))
            .execute(conn)?;
        if !active {
            end_user_sessions(conn, user.id)?;
        }
        let event = if active {
            "user_enable"
        } else {
            "user_disable"
        };
        audit::record(conn, actor, event, &user.username, audit::OK, "")?;
        Ok(())
    })
}

/// How many earlier passwords may not be reused.
pub const PASSWORD_HISTORY: i64 = 5;

/// The current hash and the earlier ones that may not be used again.
pub fn recent_hashes(conn: &mut DbConn, user: &User) -> QueryResult<Vec<String>> {
    use crate::db::schema::password_history::dsl as ph;
    let mut v: Vec<String> = ph::password_history
        .filter(ph::user_id.eq(user.id))
        .order(ph::id.desc())
        .limit(PASSWORD_HISTORY - 1)
        .select(ph::password_hash)
        .load(conn)?;
    v.insert(0, user.password_hash.clone());
    Ok(v)
}

/// 三员分立: why the 系统管理员 may not do this to an account (None: it may). It manages
/// units and business accounts; administrator accounts — its own role excepted for its
/// own account — are created and changed only on the server's console (`liuyan user`), so
/// that it can neither make itself a 安全管理员 or 安全审计员 nor take over theirs.
pub fn sysadmin_refusal(
    target: Option<Role>,
    requested: Option<Role>,
    own_account: bool,
) -> Option<&'static str> {
    let admin_target = target.is_some_and(Role::is_administrator);
    let admin_requested = requested.is_some_and(Role::is_administrator);
    if own_account && requested.is_none_or(|r| r == Role::SysAdmin) {
        return None;
    }
    (admin_target || admin_requested).then_some(
        "管理员账户（系统管理员、安全管理员、安全审计员）不能在此创建、修改、停用或重置密码：三员分立，须在服务器控制台用 liuyan user 命令办理。",
    )
}

/// Store a new password hash and end every session of the user. A lock stays (only the
/// 安全管理员 unlocks). `event` is
/// `password_change` (by the user) or `password_reset` (by an administrator).
pub fn set_password(
    conn: &mut DbConn,
    user: &User,
    hash: &str,
    must_change: bool,
    event: &str,
    actor: &Actor,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        use crate::db::schema::password_history::dsl as ph;
        // Keep the old hash: the last five passwords cannot be used again.
        diesel::insert_into(ph::password_history)
            .values((
                ph::user_id.eq(user.id),
                ph::password_hash.eq(&user.password_hash),
                ph::changed_at.eq(db::now()),
            ))
            .execute(conn)?;
        diesel::update(us::users.find(user.id))
            .set((
                us::password_hash.eq(hash),
                us::must_change_password.eq(must_change),
                us::password_changed_at.eq(db::now()),
            ))
            .execute(conn)?;
        end_user_sessions(conn, user.id)?;
        audit::record(conn, actor, event, &user.username, audit::OK, "")?;
        Ok(())
    })
}

/// Whether logins to `username` from `ip` are being held off now.
pub fn held_off(conn: &mut DbConn, username: &str, ip: &str) -> QueryResult<bool> {
    let until: Option<Option<NaiveDateTime>> = lf::login_failures
        .find((username, ip))
        .select(lf::held_until)
        .first(conn)
        .optional()?;
    Ok(until.flatten().is_some_and(|t| t > db::now()))
}

/// Count a wrong password for `username` (as typed; `user` when it exists) from the
/// actor's address: hold the address off with a growing wait from the threshold on, and
/// lock the account when several addresses are held off at once (audited: `hold`,
/// `lock`). Unknown names are counted the same way, so that nothing tells them apart.
/// Returns whether the person at this address can no longer try (held off or locked).
/// A refused login (wrong password, unknown or disabled account, wrong second factor):
/// its audit row and its count toward the hold, in one transaction. Whether this desk
/// is now held off the account.
pub fn refused_login(
    conn: &mut DbConn,
    username: &str,
    user: Option<&User>,
    why: &str,
    (threshold, lock_minutes): (i32, i64),
    actor: &Actor,
) -> Result<bool, AppError> {
    crate::db::write_tx(conn, |conn| {
        audit::record(conn, actor, "login", username, audit::FAILED, why)?;
        record_failed_login(conn, username, user, threshold, lock_minutes, actor)
    })
}

fn record_failed_login(
    conn: &mut DbConn,
    username: &str,
    user: Option<&User>,
    threshold: i32,
    lock_minutes: i64,
    actor: &Actor,
) -> Result<bool, AppError> {
    use crate::auth::throttle;
    conn.transaction(|conn| {
        let now = db::now();
        let forget = now - chrono::Duration::hours(throttle::FORGET_AFTER_HOURS);
        diesel::delete(lf::login_failures.filter(lf::last_at.lt(forget))).execute(conn)?;
        let ip = actor.ip.as_str();
        let before: Option<i32> = lf::login_failures
            .find((username, ip))
            .select(lf::failures)
            .first(conn)
            .optional()?;
        let failures = before.unwrap_or(0) + 1;
        let hold = throttle::hold_minutes(failures, threshold, lock_minutes);
        diesel::delete(lf::login_failures.find((username, ip))).execute(conn)?;
        diesel::insert_into(lf::login_failures)
            .values((
                lf::username.eq(username),
                lf::ip.eq(ip),
                lf::failures.eq(failures),
                lf::last_at.eq(now),
                lf::held_until.eq(hold.map(|m| now + chrono::Duration::minutes(m))),
            ))
            .execute(conn)?;
        let Some(minutes) = hold else {
            return Ok(false);
        };
        audit::record(
            conn,
            actor,
            "hold",
            username,
            audit::OK,
            &format!("来自 {ip} 连续 {failures} 次密码错误：该地址暂缓登录此账户 {minutes} 分钟"),
        )?;
        let Some(user) = user else {
            return Ok(true);
        };
        let held: i64 = lf::login_failures
            .filter(lf::username.eq(username))
            .filter(lf::held_until.gt(now))
            .count()
            .get_result(conn)?;
        if !throttle::locks_account(held) || user.is_locked(now) {
            return Ok(true);
        }
        let until = now + chrono::Duration::minutes(lock_minutes);
        diesel::update(us::users.find(user.id))
            .set(us::locked_until.eq(Some(until)))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "lock",
            &user.username,
            audit::OK,
            &format!("{held} 个地址同时因连续密码错误被暂缓，账户锁定 {lock_minutes} 分钟"),
        )?;
        Ok(true)
    })
}

/// A wrong password typed by a logged-in user (确认身份, 修改密码, a change of 双因素认证):
/// audited, and counted with the failed logins from the same address. When it holds the
/// address off (or locks the account), every session of the user ends (whoever sits at
/// an unattended desk cannot keep guessing). Returns whether it did.
pub fn record_wrong_password(
    conn: &mut DbConn,
    user: &User,
    threshold: i32,
    lock_minutes: i64,
    actor: &Actor,
    what: &str,
) -> Result<bool, AppError> {
    crate::db::write_tx(conn, |conn| {
        audit::record(
            conn,
            actor,
            "password_wrong",
            &user.username,
            audit::FAILED,
            what,
        )?;
        let stops = record_failed_login(
            conn,
            &user.username,
            Some(user),
            threshold,
            lock_minutes,
            actor,
        )?;
        if stops {
            end_user_sessions(conn, user.id)?;
        }
        Ok(stops)
    })
}

/// Record a successful login; returns how often the account was locked since the user's
/// previous successful login (the login page does not say so to whoever is trying: the
/// user learns of it here).
pub fn record_successful_login(
    conn: &mut DbConn,
    user: &User,
    actor: &Actor,
) -> Result<i64, AppError> {
    use crate::db::schema::audit_log::dsl as a;
    conn.transaction(|conn| {
        // The write first: a transaction that reads before it writes can be refused its
        // write lock on SQLite when another login commits in between.
        diesel::update(us::users.find(user.id))
            .set(us::locked_until.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        diesel::delete(lf::login_failures.find((&user.username, &actor.ip))).execute(conn)?;
        let previous: Option<i32> = a::audit_log
            .filter(a::user_id.eq(user.id))
            .filter(a::event.eq("login"))
            .filter(a::result.eq(audit::OK))
            .select(diesel::dsl::max(a::id))
            .first(conn)?;
        let locks: i64 = a::audit_log
            .filter(a::user_id.eq(user.id))
            .filter(a::event.eq_any(["lock", "hold"]))
            .filter(a::id.gt(previous.unwrap_or(0)))
            .count()
            .get_result(conn)?;
        audit::record(conn, actor, "login", &user.username, audit::OK, "")?;
        Ok(locks)
    })
}

/// The holds and locks of an account since `since`, newest first (for 我的会话): when,
/// `hold` or `lock`, and the record's words (which address, how many failures, how long).
pub fn recent_holds(
    conn: &mut DbConn,
    username: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String, String)>> {
    use crate::db::schema::audit_log::dsl as a;
    a::audit_log
        .filter(a::object.eq(username))
        .filter(a::event.eq_any(["hold", "lock"]))
        .filter(a::at.ge(since))
        .order(a::id.desc())
        .limit(50)
        .select((a::at, a::event, a::detail))
        .load(conn)
}

/// The 安全管理员 unlocks an account: its lock and every address's hold on it end.
pub fn unlock(conn: &mut DbConn, user: &User, actor: &Actor) -> Result<(), AppError> {
    conn.transaction(|conn| {
        diesel::update(us::users.find(user.id))
            .set(us::locked_until.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        diesel::delete(lf::login_failures.filter(lf::username.eq(&user.username))).execute(conn)?;
        audit::record(conn, actor, "unlock", &user.username, audit::OK, "")?;
        Ok(())
    })
}
