//! Two-factor login: TOTP (RFC 6238, HMAC-SHA1, 6 digits, 30 s, ±1 step) through the
//! `totp-rs` crate, codes accepted once, ten one-time recovery codes, and the policy of
//! which roles must use it.

use diesel::prelude::*;
use rand::Rng;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, Totp};

use crate::auth::roles::{Role, ALL_ROLES};
use crate::auth::sealing::Sealer;
use crate::db::schema::{recovery_codes::dsl as rc, users::dsl as us};
use crate::db::{self, DbConn};
use crate::error::AppError;

pub const ISSUER: &str = "安顺网民留言档案";
pub const POLICY_KEY: &str = "require_2fa_roles";
/// Roles that must use two factors unless the security administrator decides otherwise.
pub const DEFAULT_REQUIRED: [Role; 4] = [
    Role::SysAdmin,
    Role::SecAdmin,
    Role::AuditAdmin,
    Role::CityOperator,
];

/// A new random secret, base32.
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::rngs::OsRng.gen();
    Secret::from(bytes.to_vec()).to_base32()
}

fn totp(secret_b32: &str, account: &str) -> Result<Totp, AppError> {
    let secret = Secret::try_from_base32(secret_b32).map_err(AppError::internal)?;
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account.to_string())
        .with_issuer(Some(ISSUER.to_string()))
        .build()
        .map_err(AppError::internal)
}

/// The otpauth:// address an authenticator app reads from the QR code.
pub fn url(secret_b32: &str, account: &str) -> Result<String, AppError> {
    totp(secret_b32, account)?
        .to_url()
        .map_err(AppError::internal)
}

/// The time step a code matches, if it is valid now and newer than `last_step`.
pub fn check(secret_b32: &str, code: &str, last_step: i64, now_secs: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    if code.len() != 6 {
        return None;
    }
    let t = totp(secret_b32, "x").ok()?;
    let step = t.check(&code, now_secs)? as i64;
    (step > last_step).then_some(step)
}

/// The code for a moment (tests and the enrolment page's self-check).
pub fn code_at(secret_b32: &str, now_secs: u64) -> Result<String, AppError> {
    Ok(totp(secret_b32, "x")?.generate(now_secs).to_string())
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hash_code(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(norm.as_bytes()))
}

/// Ten new recovery codes (replacing any earlier ones); returned once, stored hashed.
pub fn new_recovery_codes(conn: &mut DbConn, user_id: i32) -> QueryResult<Vec<String>> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    diesel::delete(rc::recovery_codes.filter(rc::user_id.eq(user_id))).execute(conn)?;
    let mut rng = rand::rngs::OsRng;
    let mut codes = Vec::new();
    for _ in 0..10 {
        let raw: String = (0..10)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        let code = format!("{}-{}", &raw[..5], &raw[5..]);
        diesel::insert_into(rc::recovery_codes)
            .values((rc::user_id.eq(user_id), rc::code_hash.eq(hash_code(&code))))
            .execute(conn)?;
        codes.push(code);
    }
    Ok(codes)
}

/// Use a recovery code: true once per code.
pub fn use_recovery_code(conn: &mut DbConn, user_id: i32, code: &str) -> QueryResult<bool> {
    let n = diesel::update(
        rc::recovery_codes
            .filter(rc::user_id.eq(user_id))
            .filter(rc::code_hash.eq(hash_code(code)))
            .filter(rc::used_at.is_null()),
    )
    .set(rc::used_at.eq(Some(db::now())))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn recovery_left(conn: &mut DbConn, user_id: i32) -> QueryResult<i64> {
    rc::recovery_codes
        .filter(rc::user_id.eq(user_id))
        .filter(rc::used_at.is_null())
        .count()
        .get_result(conn)
}

/// Remember the accepted step (only forward: a replayed code stays refused).
pub fn accept_step(conn: &mut DbConn, user_id: i32, step: i64) -> QueryResult<bool> {
    let n = diesel::update(
        us::users
            .filter(us::id.eq(user_id))
            .filter(us::totp_last_step.lt(step)),
    )
    .set(us::totp_last_step.eq(step))
    .execute(conn)?;
    Ok(n == 1)
}

/// The user's TOTP secret, unsealed (`None` when not enrolled or sealed with another key).
pub fn secret_of(sealer: &Sealer, user: &crate::users::User) -> Option<String> {
    sealer.open(user.totp_secret.as_deref()?)
}

/// Seal TOTP secrets written in plain text by older versions (run at start-up).
pub fn seal_plain_secrets(conn: &mut DbConn, sealer: &Sealer) -> QueryResult<usize> {
    let rows: Vec<(i32, String)> = us::users
        .filter(us::totp_secret.is_not_null())
        .select((us::id, us::totp_secret.assume_not_null()))
        .load(conn)?;
    let mut n = 0;
    for (id, secret) in rows {
        if !Sealer::is_sealed(&secret) {
            diesel::update(us::users.find(id))
                .set(us::totp_secret.eq(Some(sealer.seal(&secret))))
                .execute(conn)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Who switches two factors on or off for their own account (the audit row names them).
pub struct Holder<'a> {
    pub user_id: i32,
    pub username: &'a str,
    pub actor: &'a crate::audit::Actor,
}

/// Enrol with a verified first code, in one audited transaction: the new recovery codes,
/// shown once.
pub fn enrol(
    conn: &mut DbConn,
    sealer: &Sealer,
    who: &Holder,
    secret: &str,
    step: i64,
) -> Result<Vec<String>, AppError> {
    db::write_tx(conn, |c| {
        enable(c, sealer, who.user_id, secret, step)?;
        let codes = new_recovery_codes(c, who.user_id)?;
        audit_own(c, who, "2fa_enable")?;
        Ok(codes)
    })
}

/// Switch two factors off (the caller checked the password and the policy), audited.
pub fn switch_off(conn: &mut DbConn, who: &Holder) -> Result<(), AppError> {
    db::write_tx(conn, |c| {
        disable(c, who.user_id)?;
        audit_own(c, who, "2fa_disable")
    })
}

/// New recovery codes in place of the old ones, audited: shown once.
pub fn renew_recovery_codes(conn: &mut DbConn, who: &Holder) -> Result<Vec<String>, AppError> {
    db::write_tx(conn, |c| {
        let codes = new_recovery_codes(c, who.user_id)?;
        audit_own(c, who, "2fa_recovery_codes")?;
        Ok(codes)
    })
}

fn audit_own(conn: &mut DbConn, who: &Holder, event: &str) -> Result<(), AppError> {
    crate::audit::record(conn, who.actor, event, who.username, crate::audit::OK, "")?;
    Ok(())
}

/// The secret is stored sealed, never in plain text.
fn enable(
    conn: &mut DbConn,
    sealer: &Sealer,
    user_id: i32,
    secret: &str,
    step: i64,
) -> QueryResult<()> {
    diesel::update(us::users.find(user_id))
        .set((
            us::totp_secret.eq(Some(sealer.seal(secret))),
            us::totp_enabled.eq(true),
            us::totp_last_step.eq(step),
        ))
        .execute(conn)?;
    Ok(())
}

fn disable(conn: &mut DbConn, user_id: i32) -> QueryResult<()> {
    diesel::update(us::users.find(user_id))
        .set((
            us::totp_secret.eq(None::<String>),
            us::totp_enabled.eq(false),
        ))
        .execute(conn)?;
    diesel::delete(rc::recovery_codes.filter(rc::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}

/// The roles that must use two factors.
pub fn required_roles(conn: &mut DbConn) -> QueryResult<Vec<Role>> {
    Ok(parse_required(db::get_setting(conn, POLICY_KEY)?))
}

/// The policy setting's value as roles (unset: the default roles).
pub fn parse_required(value: Option<String>) -> Vec<Role> {
    match value {
        Some(v) => serde_json::from_str::<Vec<String>>(&v)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| Role::parse(r))
            .collect(),
        None => DEFAULT_REQUIRED.to_vec(),
    }
}

pub fn set_required_roles(conn: &mut DbConn, roles: &[Role]) -> QueryResult<()> {
    let v: Vec<&str> = ALL_ROLES
        .iter()
        .filter(|r| roles.contains(r))
        .map(|r| r.as_str())
        .collect();
    db::put_setting(
        conn,
        POLICY_KEY,
        &serde_json::to_string(&v).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors_and_single_use() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", 6 digits.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&secret, 59).expect("code"), "287082");
        assert_eq!(code_at(&secret, 1111111109).expect("code"), "081804");
        let now = 1111111109;
        let step = check(&secret, "081804", 0, now).expect("valid");
        assert_eq!(step, 1111111109 / 30);
        assert_eq!(
            check(&secret, "081 804", 0, now),
            Some(step),
            "spaces ignored"
        );
        assert_eq!(
            check(&secret, "081804", step, now),
            None,
            "a used code is refused"
        );
        assert_eq!(check(&secret, "000000", 0, now), None);
        assert_eq!(check(&secret, "12345", 0, now), None);
        // One step late is still accepted (clock drift), two are not.
        assert!(check(&secret, "081804", 0, now + 30).is_some());
        assert!(check(&secret, "081804", 0, now + 90).is_none());
        assert_eq!(hash_code("ABCDE-fghjk"), hash_code("abcde fghjk"));
    }
}
