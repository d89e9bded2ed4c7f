//! Secrets kept encrypted at rest (the TOTP secrets): SM4 (GB/T 32907) in GCM mode,
//! with a key that is *not* in the database, so a copy of the database or of a backup
//! does not give away anyone's second factor.
//!
//! The key comes from `LIUYAN_SECRET_KEY` (32 hex digits; the same on every instance) or,
//! when that is unset, from `secret.key` in the data directory, created on first start
//! with owner-only permissions. Stored values look like `sm4gcm:` + hex(nonce ‖ ciphertext).

use std::path::Path;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{AesGcm, Nonce};
use anyhow::{bail, Context};
use rand::Rng;

type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

const PREFIX: &str = "sm4gcm:";
pub const KEY_FILE: &str = "secret.key";

#[derive(Clone)]
pub struct Sealer {
    key: [u8; 16],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

fn parse_key(text: &str) -> anyhow::Result<[u8; 16]> {
    let bytes = hex::decode(text.trim()).context("密钥应为 32 位十六进制数字")?;
    let Ok(key) = <[u8; 16]>::try_from(bytes.as_slice()) else {
        bail!("密钥应为 32 位十六进制数字（128 位）");
    };
    Ok(key)
}

impl Sealer {
    pub fn new(key: [u8; 16]) -> Sealer {
        Sealer { key }
    }

    /// The key from `env_key` (LIUYAN_SECRET_KEY) or the data directory's key file,
    /// created when missing.
    pub fn load(env_key: Option<&str>, data_dir: &Path) -> anyhow::Result<Sealer> {
        if let Some(k) = env_key.filter(|k| !k.trim().is_empty()) {
            return Ok(Sealer::new(parse_key(k).context("LIUYAN_SECRET_KEY 无效")?));
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Sealer::new(
                parse_key(&text).with_context(|| format!("{} 无效", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 16] = rand::rngs::OsRng.gen();
                write_private(&path, &hex::encode(key))
                    .with_context(|| format!("无法创建密钥文件 {}", path.display()))?;
                Ok(Sealer::new(key))
            }
            Err(e) => Err(e).with_context(|| format!("无法读取密钥文件 {}", path.display())),
        }
    }

    /// Encrypt a secret for storage.
    pub fn seal(&self, plain: &str) -> String {
        let cipher = Sm4Gcm::new(&self.key.into());
        let nonce: [u8; 12] = rand::rngs::OsRng.gen();
        // Encryption with a valid key and nonce cannot fail for inputs this small.
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
                .unwrap_or_default(),
        );
        format!("{PREFIX}{}", hex::encode(out))
    }

    /// Decrypt a stored secret; `None` when it was sealed with another key or altered.
    pub fn open(&self, stored: &str) -> Option<String> {
        let bytes = hex::decode(stored.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = Sm4Gcm::new(&self.key.into())
            .decrypt(Nonce::from_slice(nonce), sealed)
            .ok()?;
        String::from_utf8(plain).ok()
    }

    /// A keyed digest for finding sealed values by equality: HMAC-SM3 (GB/T 32905) under
    /// this key of `purpose` and `text`, 128 bits as hex. Without the key the digest of a
    /// known phone number cannot be computed, so the column gives nothing away.
    pub fn lookup(&self, purpose: &str, text: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sm3::Sm3> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(text.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// A sealer with a fresh random key (tests, scratch databases).
    pub fn random() -> Sealer {
        Sealer::new(rand::rngs::OsRng.gen())
    }

    /// Whether a stored value is sealed (older databases hold plain secrets until
    /// `seal_plain_secrets` runs at start-up).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = Sealer::new([7; 16]);
        let sealed = s.seal("JBSWY3DPEHPK3PXP");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(s.open(&sealed).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        // A fresh nonce each time.
        assert_ne!(sealed, s.seal("JBSWY3DPEHPK3PXP"));
        // Another key, an altered byte, a plain value: nothing.
        assert_eq!(Sealer::new([8; 16]).open(&sealed), None);
        let mut bad = sealed.clone();
        let last = bad.pop().map(|c| if c == '0' { '1' } else { '0' });
        bad.extend(last);
        assert_eq!(s.open(&bad), None);
        assert_eq!(s.open("JBSWY3DPEHPK3PXP"), None);
    }

    #[test]
    fn lookups_are_keyed_and_separate_purposes() {
        let s = Sealer::new([7; 16]);
        assert_eq!(
            s.lookup("contact", "13812345678"),
            s.lookup("contact", "13812345678")
        );
        assert_eq!(s.lookup("contact", "13812345678").len(), 32);
        assert_ne!(
            s.lookup("contact", "13812345678"),
            s.lookup("name", "13812345678")
        );
        assert_ne!(
            s.lookup("contact", "13812345678"),
            Sealer::new([8; 16]).lookup("contact", "13812345678")
        );
    }

    #[test]
    fn key_file_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("liuyan-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Sealer::load(None, &dir).expect("created");
        let b = Sealer::load(None, &dir).expect("read back");
        assert_eq!(b.open(&a.seal("x")).as_deref(), Some("x"));
        assert!(Sealer::load(Some("zz"), &dir).is_err());
        let env = Sealer::load(Some("000102030405060708090a0b0c0d0e0f"), &dir).expect("env");
        assert_eq!(env.open(&a.seal("x")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
