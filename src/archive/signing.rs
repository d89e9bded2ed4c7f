//! The signing key (SM2, GB/T 32918, over SM3 digests): what makes the archive's seals
//! impossible to recompute for an insider who can write the database but does not hold
//! the key.
//!
//! The key ring lives outside the database, in `signing.key` in the data directory (or
//! the file `LIUYAN_SIGNING_KEY_FILE` names; the same file on every instance), created
//! with owner-only permissions at first start and never copied into backups. It holds the
//! current private key and the public keys of every earlier one (rotation keeps them, so
//! old signatures still verify). A key is named by its id: the first 16 hex digits of the
//! SM3 digest of its public key.
//!
//! The ring is carried like the clock: installed on each worker thread and entered on the
//! blocking thread by `db::run`, so every write path signs with its own site's key.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};

use crate::error::AppError;

pub const KEY_FILE: &str = "signing.key";
/// The distinguishing identifier of GM/T 0009-2012 (its default), so any SM2 tool verifies.
pub const DISTID: &str = "1234567812345678";
pub const ALGORITHM: &str = "SM2withSM3 (GB/T 32918, GB/T 32905)";

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Current {
    id: String,
    secret: String,
    public: String,
    created_at: String,
}

/// A public key kept for verification only.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Retired {
    pub id: String,
    pub public: String,
    pub created_at: String,
    #[serde(default)]
    pub retired_at: String,
    /// Why it is here: 轮换 or 导入（密钥丢失后）.
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct RingFile {
    current: Current,
    #[serde(default)]
    retired: Vec<Retired>,
}

/// Why a signature does not verify.
#[derive(Debug, PartialEq, Eq)]
pub enum Bad {
    /// Signed by a key this ring does not know (a lost key, or a forgery).
    UnknownKey,
    /// The signature does not match the statement.
    Invalid,
}

struct Inner {
    file: RingFile,
    signing: SigningKey,
    verifying: Vec<(String, VerifyingKey)>,
}

/// The key ring of one site.
pub struct Keyring {
    path: Option<PathBuf>,
    inner: RwLock<Inner>,
    /// The site's SM4 key for personal data at rest (`crate::personal`), carried with
    /// the signing keys so every thread that writes a message has both.
    sealer: std::sync::OnceLock<crate::auth::sealing::Sealer>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

/// The key id of a public key (SEC1 bytes).
pub fn key_id(public: &[u8]) -> String {
    use sm3::{Digest, Sm3};
    hex::encode(Sm3::digest(public))[..16].to_string()
}

fn new_current(now: &str) -> anyhow::Result<(Current, SigningKey)> {
    loop {
        let bytes: [u8; 32] = rand::rngs::OsRng.gen();
        // A random 256-bit value is a valid scalar except with negligible probability.
        let Ok(secret) = sm2::SecretKey::from_slice(&bytes) else {
            continue;
        };
        let signing =
            SigningKey::new(DISTID, &secret).map_err(|e| anyhow::anyhow!("SM2 密钥无效：{e}"))?;
        let public = signing.verifying_key().to_sec1_bytes();
        return Ok((
            Current {
                id: key_id(&public),
                secret: hex::encode(bytes),
                public: hex::encode(&public),
                created_at: now.to_string(),
            },
            signing,
        ));
    }
}

fn verifying_key(public_hex: &str) -> anyhow::Result<VerifyingKey> {
    let bytes = hex::decode(public_hex.trim()).context("公钥应为十六进制数字")?;
    VerifyingKey::from_sec1_bytes(DISTID, &bytes)
        .map_err(|_| anyhow::anyhow!("不是有效的 SM2 公钥"))
}

fn inner_of(file: RingFile) -> anyhow::Result<Inner> {
    let secret = hex::decode(&file.current.secret).context("私钥应为十六进制数字")?;
    let secret = sm2::SecretKey::from_slice(&secret).map_err(|_| anyhow::anyhow!("私钥无效"))?;
    let signing =
        SigningKey::new(DISTID, &secret).map_err(|e| anyhow::anyhow!("SM2 密钥无效：{e}"))?;
    let public = signing.verifying_key().to_sec1_bytes();
    if key_id(&public) != file.current.id {
        bail!("密钥文件中的密钥编号与私钥不符");
    }
    let mut verifying = vec![(file.current.id.clone(), signing.verifying_key().clone())];
    for r in &file.retired {
        verifying.push((r.id.clone(), verifying_key(&r.public)?));
    }
    Ok(Inner {
        file,
        signing,
        verifying,
    })
}

/// What `load` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    Existing,
    /// No key file: a new key was made.
    Created,
}

impl Keyring {
    /// A key ring that lives only in memory (tests, tools that sign nothing lasting).
    pub fn ephemeral() -> Arc<Keyring> {
        let (current, signing) =
            new_current("").unwrap_or_else(|_| unreachable!("a fresh SM2 key is always valid"));
        let verifying = vec![(current.id.clone(), signing.verifying_key().clone())];
        Arc::new(Keyring {
            path: None,
            inner: RwLock::new(Inner {
                file: RingFile {
                    current,
                    retired: Vec::new(),
                },
                signing,
                verifying,
            }),
            sealer: crate::auth::sealing::Sealer::random().into(),
        })
    }

    /// The ring at `path`, created (owner-only) when missing.
    pub fn load(path: &Path, now: &str) -> anyhow::Result<(Arc<Keyring>, Loaded)> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let file: RingFile = serde_json::from_str(&text)
                    .with_context(|| format!("签名密钥文件 {} 格式错误", path.display()))?;
                let inner = inner_of(file)
                    .with_context(|| format!("签名密钥文件 {} 无效", path.display()))?;
                Ok((
                    Arc::new(Keyring {
                        path: Some(path.to_path_buf()),
                        inner: RwLock::new(inner),
                        sealer: Default::default(),
                    }),
                    Loaded::Existing,
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("无法创建目录 {}", dir.display()))?;
                }
                let (current, _) = new_current(now)?;
                let file = RingFile {
                    current,
                    retired: Vec::new(),
                };
                write_ring(path, &file)?;
                Ok((
                    Arc::new(Keyring {
                        path: Some(path.to_path_buf()),
                        inner: RwLock::new(inner_of(file)?),
                        sealer: Default::default(),
                    }),
                    Loaded::Created,
                ))
            }
            Err(e) => Err(e).with_context(|| format!("无法读取签名密钥文件 {}", path.display())),
        }
    }

    /// The ring of a configured site, with the site's sealing key.
    pub fn for_site(config: &crate::config::Config) -> anyhow::Result<(Arc<Keyring>, Loaded)> {
        let (ring, loaded) = Keyring::load(
            &config.signing_key_path(),
            &crate::clock::format_time(crate::db::now()),
        )?;
        ring.set_sealer(crate::auth::sealing::Sealer::load(
            config.secret_key.as_deref(),
            &config.data_dir,
        )?);
        Ok((ring, loaded))
    }

    /// Give the ring the site's sealing key (once; a second call changes nothing).
    pub fn set_sealer(&self, sealer: crate::auth::sealing::Sealer) {
        let _ = self.sealer.set(sealer);
    }

    /// The sealing key for personal data, when the ring has been given one.
    pub fn sealer(&self) -> Option<&crate::auth::sealing::Sealer> {
        self.sealer.get()
    }

    /// The ring of a data directory: `LIUYAN_SIGNING_KEY_FILE` or `signing.key` in it.
    pub fn path_for(key_file: Option<&Path>, data_dir: &Path) -> PathBuf {
        key_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| data_dir.join(KEY_FILE))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// (key id, signature hex) of a statement.
    pub fn sign(&self, statement: &[u8]) -> (String, String) {
        let inner = self.read();
        let sig: Signature = inner.signing.sign(statement);
        (inner.file.current.id.clone(), hex::encode(sig.to_bytes()))
    }

    pub fn verify(&self, key_id: &str, statement: &[u8], signature: &str) -> Result<(), Bad> {
        let inner = self.read();
        let Some((_, key)) = inner.verifying.iter().find(|(id, _)| id == key_id) else {
            return Err(Bad::UnknownKey);
        };
        check(key, statement, signature)
    }

    /// (id, public key hex) of the current key.
    pub fn current(&self) -> (String, String) {
        let inner = self.read();
        (
            inner.file.current.id.clone(),
            inner.file.current.public.clone(),
        )
    }

    /// Every key this ring verifies with: the current one first, then the retired ones.
    pub fn keys(&self) -> Vec<Retired> {
        let inner = self.read();
        let c = &inner.file.current;
        let mut v = vec![Retired {
            id: c.id.clone(),
            public: c.public.clone(),
            created_at: c.created_at.clone(),
            retired_at: String::new(),
            note: "当前密钥".to_string(),
        }];
        v.extend(inner.file.retired.iter().cloned());
        v
    }

    /// Replace the current key by a new one; the old public key stays for verification.
    /// Returns the new key's id.
    pub fn rotate(&self, now: &str) -> anyhow::Result<String> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let (current, _) = new_current(now)?;
        let mut file = inner.file.clone();
        file.retired.insert(
            0,
            Retired {
                id: file.current.id.clone(),
                public: file.current.public.clone(),
                created_at: file.current.created_at.clone(),
                retired_at: now.to_string(),
                note: "轮换".to_string(),
            },
        );
        file.current = current;
        if let Some(p) = &self.path {
            write_ring(p, &file)?;
        }
        let id = file.current.id.clone();
        *inner = inner_of(file)?;
        Ok(id)
    }

    /// Trust an earlier public key (printed on a 归档文件目录, shipped in a package) whose
    /// private key was lost, so the signatures made with it verify again.
    pub fn trust(&self, public_hex: &str, now: &str) -> anyhow::Result<String> {
        let key = verifying_key(public_hex)?;
        let public = key.to_sec1_bytes();
        let id = key_id(&public);
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if inner.verifying.iter().any(|(k, _)| *k == id) {
            return Ok(id);
        }
        let mut file = inner.file.clone();
        file.retired.push(Retired {
            id: id.clone(),
            public: hex::encode(&public),
            created_at: String::new(),
            retired_at: now.to_string(),
            note: "导入（仅用于核验）".to_string(),
        });
        if let Some(p) = &self.path {
            write_ring(p, &file)?;
        }
        *inner = inner_of(file)?;
        Ok(id)
    }

    pub fn enter(self: &Arc<Self>) -> Guard {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        Guard { previous }
    }

    pub fn install(self: &Arc<Self>) {
        CURRENT.with(|c| *c.borrow_mut() = Some(self.clone()));
    }
}

/// Verify with a public key given from outside (a package's, one on the command line).
pub fn verify_with(public_hex: &str, statement: &[u8], signature: &str) -> Result<(), Bad> {
    let key = verifying_key(public_hex).map_err(|_| Bad::UnknownKey)?;
    check(&key, statement, signature)
}

fn check(key: &VerifyingKey, statement: &[u8], signature: &str) -> Result<(), Bad> {
    let bytes = hex::decode(signature).map_err(|_| Bad::Invalid)?;
    let sig = Signature::from_slice(&bytes).map_err(|_| Bad::Invalid)?;
    key.verify(statement, &sig).map_err(|_| Bad::Invalid)
}

/// A key's printable fingerprint: its id in groups of four.
pub fn fingerprint(id: &str) -> String {
    id.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_ring(path: &Path, file: &RingFile) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(file)?;
    let tmp = path.with_extension("key.new");
    crate::auth::sealing::write_private(&tmp, &text)
        .with_context(|| format!("无法写入签名密钥文件 {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("无法写入签名密钥文件 {}", path.display()))?;
    Ok(())
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Keyring>>> = const { RefCell::new(None) };
}

pub struct Guard {
    previous: Option<Arc<Keyring>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The key ring of the site this thread works for.
pub fn current() -> Result<Arc<Keyring>, AppError> {
    CURRENT
        .with(|c| c.borrow().clone())
        .ok_or_else(|| AppError::internal("签名密钥未加载"))
}

/// The ring installed on this thread, if any (carried onto blocking threads).
pub fn installed() -> Option<Arc<Keyring>> {
    CURRENT.with(|c| c.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_rotation_keeps_old_keys() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(KEY_FILE);
        let (ring, how) = Keyring::load(&path, "t0").expect("load");
        assert_eq!(how, Loaded::Created);
        let (id, sig) = ring.sign(b"statement");
        assert_eq!(ring.verify(&id, b"statement", &sig), Ok(()));
        assert_eq!(ring.verify(&id, b"statement!", &sig), Err(Bad::Invalid));
        assert_eq!(
            ring.verify("0000", b"statement", &sig),
            Err(Bad::UnknownKey)
        );
        let public = ring.current().1;
        assert_eq!(verify_with(&public, b"statement", &sig), Ok(()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key file is readable by others");
        }
        // Rotation: new signatures with the new key, the old still verify, also after a
        // reload from the file.
        let new_id = ring.rotate("t1").expect("rotate");
        assert_ne!(new_id, id);
        let (again, how) = Keyring::load(&path, "t2").expect("reload");
        assert_eq!(how, Loaded::Existing);
        assert_eq!(again.verify(&id, b"statement", &sig), Ok(()));
        assert_eq!(again.sign(b"x").0, new_id);
        // Loss: a new ring does not know the old key until its public key is trusted.
        let other = Keyring::ephemeral();
        assert_eq!(other.verify(&id, b"statement", &sig), Err(Bad::UnknownKey));
        assert_eq!(other.trust(&public, "t3").expect("trust"), id);
        assert_eq!(other.verify(&id, b"statement", &sig), Ok(()));
        assert!(other.trust("04abcd", "t3").is_err());
    }
}
