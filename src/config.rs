//! Every setting, read from the environment (and CLI flags) and validated once.

use std::path::PathBuf;

use anyhow::{bail, Context};

#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite://…`/a file path, or `postgres://…`.
    pub database_url: String,
    /// Where the SQLite file (by default) and the attachments (`attachments/`) live.
    pub data_dir: PathBuf,
    pub bind: String,
    /// Demo mode: seed demo accounts into an empty database, show the 演示环境 banner.
    pub demo: bool,
    /// In demo mode, also create the ~300 demonstration messages (tests switch it off).
    pub demo_messages: bool,
    /// Idle session timeout in minutes.
    pub idle_timeout_min: i64,
    /// Absolute session lifetime in hours, counted from login.
    pub absolute_timeout_hours: i64,
    /// Failed logins before the account is locked.
    pub lock_threshold: i32,
    pub lock_minutes: i64,
    /// Mark the session cookie `Secure` (set when TLS terminates at a reverse proxy).
    pub secure_cookies: bool,
    pub pool_size: u32,
    /// Worker threads for HTTP (0 = one per core).
    pub workers: usize,
    /// Largest accepted attachment, in MB.
    pub max_upload_mb: u64,
    /// `LIUYAN_SECRET_KEY`: the key sealing TOTP secrets (else `secret.key` in the data dir).
    pub secret_key: Option<String>,
    /// `LIUYAN_SIGNING_KEY_FILE`: the SM2 key ring (else `signing.key` in the data dir).
    pub signing_key_file: Option<PathBuf>,
    /// `LIUYAN_GUARDS=refuse`: refuse to start when a protective trigger or revoked
    /// privilege is missing, instead of putting it back.
    pub guards_refuse: bool,
    /// `LIUYAN_IMPORT_MAX_ROWS`, `LIUYAN_IMPORT_MAX_COLS`, `LIUYAN_IMPORT_MAX_UNZIPPED_MB`:
    /// what an import spreadsheet may hold.
    pub import_limits: crate::import::Limits,
    /// `LIUYAN_CLAMSCAN`: a virus scanner run over handover packages.
    pub clamscan: Option<String>,
    /// `LIUYAN_DISPATCH_RETRAIN_EVERY`: 智能分拨 retrains after this many newly confirmed
    /// messages (and daily while any are new); 0 = only when the centre asks.
    pub dispatch_retrain_every: i64,
    /// `LIUYAN_HOT_WINDOW_DAYS`: 热点发现's window — a message joins a matter written
    /// about within this many days before it (default 90).
    pub hot_window_days: i64,
    /// `LIUYAN_DISK_RESERVE_MB`: `/readyz` answers 503 when the data directory's disk has
    /// less free space than this (default 1024).
    pub disk_reserve_mb: u64,
    /// `LIUYAN_TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For` /
    /// `X-Real-IP` are believed (none by default).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `LIUYAN_PUBLIC_URL`: the one base URL of the site (QR codes, packages, the Origin
    /// check); unset: the request's `Host`.
    pub public_url: Option<String>,
    /// Login attempts per minute from one client address (0 = no limit), with a burst
    /// of a third of it.
    pub login_per_minute: u32,
    /// The application's clock: the system clock, except in tests that run the site on
    /// a day of their own.
    pub clock: crate::clock::Clock,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<T>()
            .map_err(|_| anyhow::anyhow!("环境变量 {name} 的值无效：{v}")),
        _ => Ok(default),
    }
}

fn env_bool(name: &str, default: bool) -> anyhow::Result<bool> {
    match std::env::var(name) {
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => bail!("环境变量 {name} 应为 true 或 false，实际为：{v}"),
        },
        Err(_) => Ok(default),
    }
}

impl Config {
    /// Read the configuration from the environment.
    pub fn from_env() -> anyhow::Result<Config> {
        let data_dir = PathBuf::from(env_or("LIUYAN_DATA_DIR", "data".to_string())?);
        let database_url = match std::env::var("DATABASE_URL") {
            Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
            _ => format!("sqlite://{}", data_dir.join("liuyan.db").display()),
        };
        crate::db::check_url(&database_url).map_err(anyhow::Error::msg)?;
        // PostgreSQL: four connections per core of this machine (4 to 32). More busy
        // PostgreSQL backends than the cores can run stall each other: a backend holding a
        // buffer's spinlock is preempted, the others back off in sleeps of up to a second.
        // 32 clients on the 待办 page of this 2-core machine: p99 490 ms with 16
        // connections, 147 ms with 32, 39–62 ms with 8 — at the same requests/s.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
        let pool_default = match crate::db::Backend::from_url(&database_url) {
            crate::db::Backend::Postgres => (cores * 4).clamp(4, 32),
            crate::db::Backend::Sqlite => 16,
        };
        let c = Config {
            database_url,
            data_dir,
            bind: env_or("LIUYAN_BIND", "127.0.0.1:8080".to_string())?,
            demo: false,
            demo_messages: true,
            idle_timeout_min: env_or("LIUYAN_IDLE_TIMEOUT_MIN", 30)?,
            absolute_timeout_hours: env_or("LIUYAN_ABSOLUTE_TIMEOUT_HOURS", 12)?,
            lock_threshold: env_or("LIUYAN_LOCK_THRESHOLD", 5)?,
            lock_minutes: env_or("LIUYAN_LOCK_MINUTES", 15)?,
            secure_cookies: env_bool("LIUYAN_SECURE_COOKIES", false)?,
            pool_size: env_or("LIUYAN_DB_POOL_SIZE", pool_default)?,
            workers: env_or("LIUYAN_WORKERS", 0)?,
            max_upload_mb: env_or("LIUYAN_MAX_UPLOAD_MB", 20)?,
            login_per_minute: env_or("LIUYAN_LOGIN_PER_MINUTE", 30)?,
            disk_reserve_mb: env_or("LIUYAN_DISK_RESERVE_MB", 1024)?,
            trusted_proxies: crate::auth::client::parse_trusted(
                &std::env::var("LIUYAN_TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(anyhow::Error::msg)?,
            public_url: match std::env::var("LIUYAN_PUBLIC_URL") {
                Ok(v) if !v.trim().is_empty() => {
                    Some(crate::auth::client::parse_public_url(&v).map_err(anyhow::Error::msg)?)
                }
                _ => None,
            },
            secret_key: std::env::var("LIUYAN_SECRET_KEY").ok(),
            signing_key_file: std::env::var("LIUYAN_SIGNING_KEY_FILE")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from),
            dispatch_retrain_every: env_or("LIUYAN_DISPATCH_RETRAIN_EVERY", 50)?,
            hot_window_days: env_or("LIUYAN_HOT_WINDOW_DAYS", crate::hot::WINDOW_DAYS)?,
            clamscan: std::env::var("LIUYAN_CLAMSCAN")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            import_limits: crate::import::Limits {
                rows: env_or(
                    "LIUYAN_IMPORT_MAX_ROWS",
                    crate::import::Limits::default().rows,
                )?,
                cols: env_or(
                    "LIUYAN_IMPORT_MAX_COLS",
                    crate::import::Limits::default().cols,
                )?,
                unzipped: env_or::<u64>(
                    "LIUYAN_IMPORT_MAX_UNZIPPED_MB",
                    crate::import::Limits::default().unzipped / 1024 / 1024,
                )? * 1024
                    * 1024,
                cells: crate::import::Limits::default().cells,
                ratio: crate::import::Limits::default().ratio,
            },
            guards_refuse: match std::env::var("LIUYAN_GUARDS").as_deref().map(str::trim) {
                Ok("refuse") => true,
                Ok("restore") | Ok("") | Err(_) => false,
                Ok(other) => bail!("LIUYAN_GUARDS 应为 restore 或 refuse，而不是“{other}”"),
            },
            clock: crate::clock::Clock::system(),
        };
        c.validate()?;
        Ok(c)
    }

    /// A configuration for tests and tools: everything at its default, over the given URL.
    pub fn for_database(database_url: &str, data_dir: PathBuf) -> Config {
        Config {
            database_url: database_url.to_string(),
            data_dir,
            bind: "127.0.0.1:0".to_string(),
            demo: false,
            demo_messages: false,
            idle_timeout_min: 30,
            absolute_timeout_hours: 12,
            lock_threshold: 5,
            lock_minutes: 15,
            secure_cookies: false,
            pool_size: 8,
            workers: 2,
            max_upload_mb: 20,
            login_per_minute: 0,
            disk_reserve_mb: 1024,
            trusted_proxies: Vec::new(),
            public_url: None,
            secret_key: None,
            signing_key_file: None,
            guards_refuse: false,
            import_limits: crate::import::Limits::default(),
            clamscan: None,
            dispatch_retrain_every: 0,
            hot_window_days: crate::hot::WINDOW_DAYS,
            clock: crate::clock::Clock::system(),
        }
    }

    /// The SM2 key ring's file.
    pub fn signing_key_path(&self) -> PathBuf {
        crate::archive::signing::Keyring::path_for(self.signing_key_file.as_deref(), &self.data_dir)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.idle_timeout_min < 1 {
            bail!("LIUYAN_IDLE_TIMEOUT_MIN 必须大于 0");
        }
        if self.absolute_timeout_hours < 1 {
            bail!("LIUYAN_ABSOLUTE_TIMEOUT_HOURS 必须大于 0");
        }
        if self.lock_threshold < 1 || self.lock_minutes < 1 {
            bail!("LIUYAN_LOCK_THRESHOLD 与 LIUYAN_LOCK_MINUTES 必须大于 0");
        }
        if self.max_upload_mb < 1 || self.max_upload_mb > 1024 {
            bail!("LIUYAN_MAX_UPLOAD_MB 应在 1 到 1024 之间");
        }
        if self.pool_size < 1 {
            bail!("LIUYAN_DB_POOL_SIZE 必须大于 0");
        }
        self.bind.parse::<std::net::SocketAddr>().with_context(|| {
            format!(
                "监听地址无效：{}（应为 主机:端口，如 127.0.0.1:8080）",
                self.bind
            )
        })?;
        Ok(())
    }
}
