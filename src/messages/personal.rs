//! 反映人 and 联系方式 at rest (等保 2.0 三级 8.1.4.8, 个人信息保护): sealed with SM4-GCM
//! under the site's secret key (`auth::sealing`, the key that seals TOTP secrets — in
//! `LIUYAN_SECRET_KEY` or `secret.key`, never in the database or a backup), so a copy of
//! the database or of a backup does not give away who wrote in or their phone number.
//!
//! Equality look-ups (the 重复件 check at 登记, finding a message by phone number or by
//! name) go through keyed digests beside them: `name_key` and `contact_key`, HMAC-SM3 of
//! the normalised value under the same key. Without the key nobody can compute the digest
//! of a known phone number, so the digests do not reveal one either.
//!
//! The values are sealed where a message row is written (`seal`, `name_key`,
//! `contact_key`) and opened where one is read (`Opened`, the row boundary of
//! `model::Message`). The archive's digests cover the opened values, so sealing changes no
//! seal, and a sealed value that has been altered or moved to another row no longer opens
//! to what was sealed: `verify` reports it. A database from before sealing is sealed by
//! `seal_in_clear`, in the background after start-up.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::auth::sealing::Sealer;
use crate::db::schema::messages::dsl as m;
use crate::db::DbConn;

/// Shown for a sealed value that does not open with this site's key.
pub const UNREADABLE: &str = "（无法解密）";

fn with_sealer<T>(f: impl FnOnce(&Sealer) -> T) -> Option<T> {
    let ring = crate::archive::signing::installed()?;
    ring.sealer().map(f)
}

/// A value as stored: sealed (an empty value stays empty — whether a 联系方式 was given
/// is not a secret, and 档案要素不全 must be countable).
pub fn seal(plain: &str) -> String {
    if plain.is_empty() {
        return String::new();
    }
    with_sealer(|s| s.seal(plain)).unwrap_or_else(|| {
        // Every server and command thread has the site's key; a value written without
        // it stays in clear until the next start-up's `seal_in_clear`.
        tracing::error!("没有加密密钥，个人信息暂以明文写入（下次启动时加密）");
        plain.to_string()
    })
}

/// A stored value opened: a value in clear (from before sealing) as it is.
pub fn open(stored: &str) -> String {
    if !Sealer::is_sealed(stored) {
        return stored.to_string();
    }
    with_sealer(|s| s.open(stored))
        .flatten()
        .unwrap_or_else(|| UNREADABLE.to_string())
}

/// A name as compared: without spaces, ASCII letters in lower case.
fn normal_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A contact as compared: a phone number as its digits (`0851-33221100`, `138 1234 5678`
/// and `+86 13812345678` are the same numbers as written without separators), anything
/// else without spaces and in lower case. `None` when empty.
pub fn normal_contact(contact: &str) -> Option<String> {
    let t = contact.trim();
    if t.is_empty() {
        return None;
    }
    let phone = t
        .chars()
        .all(|c| c.is_ascii_digit() || " -+()（）".contains(c));
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if phone && digits.len() >= 5 {
        let mobile = digits.len() == 13 && digits.starts_with("861");
        return Some(if mobile {
            digits[2..].to_string()
        } else {
            digits
        });
    }
    Some(normal_name(t))
}

/// The look-up digest of a 反映人 (`None` without the key or for an empty name).
pub fn name_key(name: &str) -> Option<String> {
    let n = normal_name(name);
    if n.is_empty() {
        return None;
    }
    with_sealer(|s| s.lookup("name", &n))
}

/// The look-up digest of a 联系方式 (`None` without the key or when empty).
pub fn contact_key(contact: &str) -> Option<String> {
    let c = normal_contact(contact)?;
    with_sealer(|s| s.lookup("contact", &c))
}

/// The digest a repeat is found by: a 联系方式 with at least 7 digits (a phone number, not
/// a stray short code that many people share).
pub fn repeat_key(contact: &str) -> Option<String> {
    contact_key(contact).filter(|_| contact.chars().filter(char::is_ascii_digit).count() >= 7)
}

/// Whether a search-box text is a phone number (its digest is looked up exactly).
pub fn looks_like_phone(q: &str) -> bool {
    let t = q.trim();
    t.chars().any(|c| c.is_ascii_digit())
        && t.chars().all(|c| c.is_ascii_digit() || " -+".contains(c))
        && t.chars().filter(char::is_ascii_digit).count() >= 7
}

/// A sealed column read as its opened value (the row boundary of `model::Message`).
#[derive(Debug, FromSqlRow)]
pub struct Opened(pub String);

impl<DB: Backend> FromSql<Text, DB> for Opened
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(Opened(open(&String::from_sql(bytes)?)))
    }
}

impl From<Opened> for String {
    fn from(o: Opened) -> String {
        o.0
    }
}

/// Seal the messages still in clear (a database from before sealing, or rows written
/// without the key), `batch` rows a transaction, and take their names out of the search
/// index. A row changed meanwhile is left for the next round (compare-and-set), so a
/// correction made while this runs is never overwritten. Returns how many were sealed.
pub fn seal_in_clear(conn: &mut DbConn, batch: i64) -> QueryResult<usize> {
    if with_sealer(|_| ()).is_none() {
        return Ok(0);
    }
    let mut done = 0;
    let mut after = 0;
    loop {
        let rows: Vec<(i32, String, String)> = m::messages
            .filter(m::name_key.is_null())
            .filter(m::id.gt(after))
            .order(m::id)
            .select((m::id, m::complainant_name, m::complainant_contact))
            .limit(batch)
            .load(conn)?;
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(done);
        };
        after = last;
        done += crate::db::write_tx(conn, |c| {
            let mut n = 0;
            for (id, name, contact) in &rows {
                let (plain_name, plain_contact) = (open(name), open(contact));
                if plain_name == UNREADABLE || plain_contact == UNREADABLE {
                    // Sealed under another key: left as it is (verify reports it).
                    continue;
                }
                let changed = diesel::update(
                    m::messages
                        .filter(m::id.eq(id))
                        .filter(m::complainant_name.eq(name))
                        .filter(m::complainant_contact.eq(contact)),
                )
                .set((
                    m::complainant_name.eq(seal(&plain_name)),
                    m::complainant_contact.eq(seal(&plain_contact)),
                    m::name_key.eq(name_key(&plain_name)),
                    m::contact_key.eq(contact_key(&plain_contact)),
                ))
                .execute(c)?;
                if changed == 1 {
                    crate::search::index(c, *id)?;
                    n += 1;
                }
            }
            Ok::<_, diesel::result::Error>(n)
        })?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_compare_by_their_digits() {
        let n = |s: &str| normal_contact(s);
        assert_eq!(n("138 1234 5678"), Some("13812345678".into()));
        assert_eq!(n("+86 13812345678"), Some("13812345678".into()));
        assert_eq!(n("8613812345678"), Some("13812345678".into()));
        assert_eq!(n("0851-33221100"), Some("085133221100".into()));
        assert_eq!(n(" QQ 12345 "), Some("qq12345".into()));
        assert_eq!(n("  "), None);
        assert!(looks_like_phone("13812345678"));
        assert!(looks_like_phone("0851-3322110"));
        assert!(!looks_like_phone("0301"));
        assert!(!looks_like_phone("D300256"));
        assert!(!looks_like_phone("停水"));
    }

    #[test]
    fn values_seal_and_open_with_the_installed_key_only() {
        let ring = crate::archive::signing::Keyring::ephemeral();
        let sealed = {
            let _g = ring.enter();
            let sealed = seal("张三");
            assert!(Sealer::is_sealed(&sealed), "{sealed}");
            assert_eq!(open(&sealed), "张三");
            assert_eq!(seal(""), "");
            assert_eq!(open("李四"), "李四", "a value from before sealing");
            assert_eq!(name_key("张 三"), name_key("张三"));
            assert_eq!(contact_key("138-1234-5678"), contact_key("13812345678"));
            assert_eq!(contact_key(""), None);
            sealed
        };
        let other = crate::archive::signing::Keyring::ephemeral();
        let _g = other.enter();
        assert_eq!(open(&sealed), UNREADABLE);
    }
}
