//! Authentication and authorization: roles, passwords, server-side sessions, CSRF.

pub mod client;
pub mod csrf;
pub mod password;
pub mod roles;
pub mod sealing;
pub mod session_store;
pub mod throttle;
pub mod totp;

/// The security policy (安全管理员): the roles that must use two factors, the password
/// lifetime and each unit's attachment quota, saved and audited in one transaction.
pub fn save_policy(
    conn: &mut crate::db::DbConn,
    actor: &crate::audit::Actor,
    roles: &[roles::Role],
    max_age_days: i64,
    quota_mb: i64,
    what: &str,
) -> Result<(), crate::error::AppError> {
    crate::db::write_tx(conn, |c| {
        totp::set_required_roles(c, roles)?;
        crate::db::put_setting(c, password::MAX_AGE_KEY, &max_age_days.to_string())?;
        crate::db::put_setting(c, crate::attachments::QUOTA_KEY, &quota_mb.to_string())?;
        crate::audit::record(c, actor, "2fa_policy", what, crate::audit::OK, "")?;
        Ok(())
    })
}
