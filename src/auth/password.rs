//! Password policy (pure) and argon2id hashing, bounded to one hash per core and run on
//! the blocking pool, never on an async worker.

use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, SaltString};
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::Rng;
use tokio::sync::Semaphore;

use crate::error::AppError;

pub const MIN_LENGTH: usize = 10;

/// Frequently used passwords (lower-cased) that pass the composition rules but must
/// still be refused.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "password@123",
    "p@ssw0rd",
    "p@ssword1",
    "passw0rd!",
    "p@ssw0rd123",
    "p@ssw0rd!",
    "admin@123",
    "admin@1234",
    "admin@12345",
    "admin123!@#",
    "admin#123",
    "abc@123456",
    "abcd@1234",
    "abc123456!",
    "aa123456!",
    "aa123456789",
    "aa@123456",
    "aa@12345678",
    "qwer@1234",
    "qwer1234!",
    "qwert@12345",
    "1qaz@wsx3edc",
    "1qaz2wsx#edc",
    "1qaz!qaz2wsx",
    "!qaz2wsx",
    "zaq1@wsx",
    "zaq12wsx!",
    "q1w2e3r4t5!",
    "welcome@123",
    "welcome1!",
    "changeme123!",
    "test@12345",
    "root@12345",
    "sys@123456",
    "huawei@123",
    "huawei@1234",
    "woaini1314!",
    "woaini@1314",
    "china@123",
    "china@12345",
    "anshun@123",
    "anshun@1234",
    "gz@123456",
    "guizhou@123",
    "letmein!123",
    "iloveyou1!",
    "sunshine1!",
    "trustno1!",
    "monkey@123",
    "dragon@123",
    "master@123",
    "qazwsx@123",
    "asdf@12345",
    "zxcv@12345",
    "1234qwer!",
    "123456aa!",
    "123456abc!",
    "a123456789!",
    "a1234567890",
];

/// Words of this place and this system: a password that is one of them plus digits and
/// symbols (`Anshun@2026`, `Guizhou#2027`) is among the first an attacker tries here.
const CONTEXT: &[&str] = &[
    "anshun",
    "guizhou",
    "qian",
    "liuyan",
    "wangmin",
    "shequ",
    "minyi",
    "xinfang",
    "china",
    "admin",
    "center",
    "centre",
    "leader",
    "xixiu",
    "pingba",
    "puding",
    "zhenning",
    "guanling",
    "ziyun",
    "huangguoshu",
];

/// Count of character classes (upper, lower, digit, other) present.
fn class_count(pw: &str) -> usize {
    let mut classes = [false; 4];
    for c in pw.chars() {
        if c.is_ascii_uppercase() {
            classes[0] = true;
        } else if c.is_ascii_lowercase() {
            classes[1] = true;
        } else if c.is_ascii_digit() {
            classes[2] = true;
        } else {
            classes[3] = true;
        }
    }
    classes.iter().filter(|b| **b).count()
}

/// Check a new password against the policy; returns the Chinese reason when refused.
pub fn check_policy(username: &str, pw: &str) -> Result<(), String> {
    if pw.chars().count() < MIN_LENGTH {
        return Err(format!("密码至少 {MIN_LENGTH} 个字符。"));
    }
    if class_count(pw) < 3 {
        return Err("密码须包含大写字母、小写字母、数字、符号中的至少三类。".to_string());
    }
    let lower = pw.to_lowercase();
    let user = username.trim().to_lowercase();
    if !user.is_empty() && lower.contains(&user) {
        return Err("密码不能包含用户名。".to_string());
    }
    if COMMON.contains(&lower.as_str()) {
        return Err("该密码过于常见，容易被猜到，请换一个。".to_string());
    }
    let letters: String = lower
        .replace("安顺", "anshun")
        .replace("贵州", "guizhou")
        .chars()
        .filter(|c| c.is_alphabetic())
        .collect();
    if CONTEXT.contains(&letters.as_str()) {
        return Err(
            "密码不能只是地名、单位名或系统名加数字和符号（如 Anshun@2026），这类密码最先被猜到，请换一个。"
                .to_string(),
        );
    }
    Ok(())
}

/// A random password that satisfies the policy, for first start and resets.
pub fn generate() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"@#%+=";
    let mut rng = rand::rngs::OsRng;
    loop {
        let pw: String = (0..14)
            .map(|i| {
                let set = match i % 4 {
                    0 => UPPER,
                    1 => LOWER,
                    2 => DIGIT,
                    _ => {
                        if rng.gen_bool(0.5) {
                            SYMBOL
                        } else {
                            LOWER
                        }
                    }
                };
                set[rng.gen_range(0..set.len())] as char
            })
            .collect();
        if check_policy("", &pw).is_ok() {
            return pw;
        }
    }
}

fn hash_blocking(pw: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2 hash: {e}")))
}

fn verify_blocking(pw: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(pw.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password: unknown users are verified against it so that they
    /// take as long as known ones.
    dummy: Arc<String>,
}

impl Hasher {
    pub fn new() -> Result<Hasher, AppError> {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(cores)),
            dummy: Arc::new(hash_blocking(&generate())?),
        })
    }

    pub async fn hash(&self, pw: String) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        actix_web::web::block(move || hash_blocking(&pw)).await?
    }

    /// Verify `pw` against `hash`; with `None` the dummy hash is checked and `false` returned.
    pub async fn verify(&self, pw: String, hash: Option<String>) -> Result<bool, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let dummy = self.dummy.clone();
        let ok = actix_web::web::block(move || match hash {
            Some(h) => verify_blocking(&pw, &h),
            None => {
                verify_blocking(&pw, &dummy);
                false
            }
        })
        .await?;
        Ok(ok)
    }
}

/// Hash outside the web server (CLI, seeding).
pub fn hash_now(pw: &str) -> Result<String, AppError> {
    hash_blocking(pw)
}

/// Setting: days a password stays valid (0 = never expires).
pub const MAX_AGE_KEY: &str = "password_max_age_days";
pub const DEFAULT_MAX_AGE_DAYS: i64 = 90;

pub fn max_age_days(conn: &mut crate::db::DbConn) -> diesel::QueryResult<i64> {
    Ok(parse_max_age(crate::db::get_setting(conn, MAX_AGE_KEY)?))
}

/// The setting's value as days (unset or unreadable: the default).
pub fn parse_max_age(value: Option<String>) -> i64 {
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_AGE_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(
            check_policy("center", "Anshun@2026").is_err(),
            "city name + year"
        );
        assert!(check_policy("center", "安顺#20262027").is_err());
        assert!(check_policy("center", "Guizhou!2027").is_err());
        assert!(check_policy("center", "Qiye#Anshun88").is_ok());
        assert!(check_policy("center", "Short@1").is_err());
        assert!(check_policy("center", "alllowercase1").is_err());
        assert!(check_policy("center", "Lower and Upper").is_ok());
        assert!(check_policy("center", "Center@20261").is_err());
        assert!(check_policy("x", "P@ssw0rd123").is_err());
        assert!(check_policy("x", "Admin@12345").is_err());
    }

    #[test]
    fn generated_passwords_pass_policy() {
        for _ in 0..50 {
            let pw = generate();
            assert!(check_policy("admin", &pw).is_ok(), "{pw}");
        }
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_blocking("Anshun@2026").expect("hash");
        assert!(verify_blocking("Anshun@2026", &h));
        assert!(!verify_blocking("Anshun@2027", &h));
        assert!(!verify_blocking("x", "not a hash"));
    }
}
