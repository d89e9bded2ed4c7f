//! Persistence: the two-backend connection type, the pool, embedded migrations and the
//! helper that runs blocking diesel work off the async workers.

pub mod schema;

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::AppError;

/// One connection type over both backends; the variant is chosen from the URL scheme.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

/// A multi-row INSERT of `rows` (a `Vec` of value tuples) into `table` on either backend
/// (the two-backend connection cannot send one), with an optional `returning` clause:
/// `insert_rows!(conn, table, rows)` executes, `insert_rows!(conn, table, rows,
/// (col, col))` returns the chosen columns of the rows inserted.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c),
            $crate::db::DbConn::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    };
    ($conn:expr, $table:expr, $rows:expr, $returning:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(c) => diesel::insert_into($table)
                .values($rows)
                .returning($returning)
                .get_results(c),
            $crate::db::DbConn::Pg(c) => diesel::insert_into($table)
                .values($rows)
                .returning($returning)
                .get_results(c),
        }
    };
}

/// `rows` in order, in batches of at most `n`: for multi-row INSERTs within both
/// backends' limits on bound values (SQLite 32,766, PostgreSQL 65,535 per statement).
pub fn batches<T>(mut rows: Vec<T>, n: usize) -> impl Iterator<Item = Vec<T>> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let rest = rows.split_off(rows.len().min(n.max(1)));
        Some(std::mem::replace(&mut rows, rest))
    })
}

/// The connection pool, with the memory of when the database last refused a connection.
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<Manager>,
    down_at: std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl std::ops::Deref for DbPool {
    type Target = Pool<Manager>;
    fn deref(&self) -> &Pool<Manager> {
        &self.pool
    }
}
pub type PooledConn = PooledConnection<Manager>;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Refuse a database URL whose scheme this program does not speak (`postgress://…`,
/// `mysql://…`): it would otherwise be taken for an SQLite file named after the URL —
/// password included. Allowed: `sqlite://`, `sqlite:`, `file:`, `postgres://`,
/// `postgresql://`, or a plain path. The message names the scheme only.
pub fn check_url(url: &str) -> Result<(), String> {
    let allowed = [
        "sqlite://",
        "sqlite:",
        "file:",
        "postgres://",
        "postgresql://",
    ];
    if allowed.iter().any(|p| url.starts_with(p)) {
        return Ok(());
    }
    match url.split_once("://") {
        Some((scheme, _)) => Err(format!(
            "DATABASE_URL 的协议“{scheme}://”无法识别：应为 postgres://、postgresql://、sqlite:// 或数据库文件路径。程序未启动，未创建任何文件。"
        )),
        None => Ok(()),
    }
}

/// The file path an SQLite URL points at (`sqlite://path`, `file:path` or a bare path).
pub fn sqlite_path(url: &str) -> PathBuf {
    let p = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .or_else(|| url.strip_prefix("file:"))
        .unwrap_or(url);
    PathBuf::from(p)
}

/// Current time in UTC on the application's clock (`clock::current`), truncated to
/// microseconds so both backends store the same value.
pub fn now() -> NaiveDateTime {
    crate::clock::current().now()
}

/// r2d2 manager that picks the backend by URL scheme and reports why a connection failed.
#[derive(Debug)]
pub struct Manager {
    url: String,
}

impl Manager {
    pub fn new(url: &str) -> Manager {
        Manager {
            url: url.to_string(),
        }
    }
}

/// Pragmas every SQLite connection needs: WAL for concurrent readers, a generous busy
/// timeout for writers, enforced foreign keys, and FULL sync so an acknowledged save
/// survives a power cut.
/// `busy_timeout` comes first so that switching to WAL waits for other connections.
/// Reads go through a memory map (up to 1 TB: the ceiling is raised at build time in
/// `.cargo/config.toml`) instead of a copy per page read: the mapped pages are the
/// kernel's shared file cache, not the server's memory.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA mmap_size = 1099511627776;";

pub fn establish(url: &str) -> Result<DbConn, diesel::r2d2::Error> {
    match Backend::from_url(url) {
        Backend::Sqlite => {
            let path = sqlite_path(url);
            let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy())
                .map_err(diesel::r2d2::Error::ConnectionError)?;
            c.batch_execute(SQLITE_PRAGMAS)
                .map_err(diesel::r2d2::Error::QueryError)?;
            Ok(DbConn::Sqlite(c))
        }
        Backend::Postgres => diesel::PgConnection::establish(url)
            .map(DbConn::Pg)
            .map_err(diesel::r2d2::Error::ConnectionError),
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        establish(&self.url)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    /// A connection whose transaction could be neither committed nor rolled back (the
    /// server went away under it) is dropped instead of going back to the pool.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        match conn {
            DbConn::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
            DbConn::Pg(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        }
    }
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Sqlite(_) => Backend::Sqlite,
            DbConn::Pg(_) => Backend::Postgres,
        }
    }
}

/// Build the pool. For SQLite the parent directory is created when missing, with a clear
/// error when it cannot be.
pub fn build_pool(url: &str, max_size: u32) -> anyhow::Result<DbPool> {
    let backend = Backend::from_url(url);
    if backend == Backend::Sqlite {
        let path = sqlite_path(url);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_dir(dir)?;
        }
    }
    let pool = Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .test_on_check_out(backend == Backend::Postgres)
        .connection_timeout(POOL_WAIT)
        .build(Manager::new(url))
        .with_context(|| format!("无法连接数据库（{}）", redact_url(url)))?;
    Ok(DbPool {
        pool,
        down_at: Default::default(),
    })
}

/// The data directory exists and can be written (a probe file is created and removed),
/// or an error that names it.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("无法创建数据目录 {}", dir.display()))?;
    let probe = dir.join(".liuyan-write-probe");
    std::fs::write(&probe, b"").with_context(|| {
        format!(
            "数据目录 {} 不可写：请检查目录权限和磁盘空间",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Free space for unprivileged writers on the file system holding `dir` (None where it
/// cannot be told).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
        // SAFETY: `path` is a valid NUL-terminated string and `st` a writable statvfs.
        let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: statvfs succeeded and filled the structure.
        let st = unsafe { st.assume_init() };
        // The field types differ between platforms (u32 on some).
        #[allow(clippy::unnecessary_cast)]
        Some(st.f_bavail as u64 * st.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// A database URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Refuse a database that a newer version of the program has migrated: it holds
/// migrations this program does not know.
fn check_not_newer(conn: &mut DbConn) -> anyhow::Result<()> {
    use diesel::migration::MigrationSource;
    let err = |e: Box<dyn std::error::Error + Send + Sync>| {
        anyhow::anyhow!("无法读取数据库迁移记录：{e}")
    };
    let (applied, known): (Vec<String>, Vec<String>) = match conn {
        DbConn::Sqlite(c) => (
            c.applied_migrations()
                .map_err(err)?
                .iter()
                .map(|v| v.to_string())
                .collect(),
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map_err(err)?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect(),
        ),
        DbConn::Pg(c) => (
            c.applied_migrations()
                .map_err(err)?
                .iter()
                .map(|v| v.to_string())
                .collect(),
            MigrationSource::<diesel::pg::Pg>::migrations(&PG_MIGRATIONS)
                .map_err(err)?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect(),
        ),
    };
    let unknown: Vec<String> = applied.into_iter().filter(|v| !known.contains(v)).collect();
    if !unknown.is_empty() {
        anyhow::bail!(
            "数据库来自更新版本的程序（未知的迁移：{}）。请使用相同或更新版本的程序，或从备份恢复。",
            unknown.join("、")
        );
    }
    Ok(())
}

/// Apply every pending embedded migration for the connection's backend.
pub fn run_migrations(conn: &mut DbConn) -> anyhow::Result<()> {
    check_not_newer(conn)?;
    let result = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConn::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| anyhow::anyhow!("数据库迁移失败：{e}"))
}

/// Run start-up work (migrations, seeding, guards, sealing) while no other instance does
/// the same: on PostgreSQL under a session advisory lock, so that instances started
/// together (a rolling upgrade) come up one after the other instead of colliding on the
/// same migration. SQLite serves one instance.
pub fn exclusive<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    /// "liuyan" in ASCII: the key no other application on the cluster uses.
    const KEY: i64 = 0x6c69_7579_616e;
    let pg = matches!(conn, DbConn::Pg(_));
    if pg {
        diesel::sql_query(format!("SELECT pg_advisory_lock({KEY})"))
            .execute(conn)
            .map_err(|e| anyhow::anyhow!("无法取得数据库启动锁：{e}"))?;
    }
    let out = f(conn);
    if pg {
        if let Err(e) = diesel::sql_query(format!("SELECT pg_advisory_unlock({KEY})")).execute(conn)
        {
            tracing::warn!(error = %e, "释放数据库启动锁失败（连接关闭时自动释放）");
        }
    }
    out
}

/// Whether migrations are waiting (the database is older than the program).
pub fn migrations_pending(conn: &mut DbConn) -> anyhow::Result<bool> {
    let result = match conn {
        DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        DbConn::Pg(c) => c.has_pending_migration(PG_MIGRATIONS),
    };
    result.map_err(|e| anyhow::anyhow!("无法读取数据库迁移状态：{e}"))
}

/// Run blocking database work on the blocking thread pool, never on an async worker.
pub async fn run<F, T>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let clock = crate::clock::current();
    let ring = crate::archive::signing::installed();
    actix_web::web::block(move || {
        let _clock = clock.enter();
        let _ring = ring.as_ref().map(|r| r.enter());
        let mut conn = checkout(&pool, POOL_WAIT)?;
        f(&mut conn)
    })
    .await?
}

/// How long a request waits for a database connection before it is told the database
/// is unavailable (503).
pub const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// After a connection could not be made, requests in the next two seconds do not wait
/// for one (an idle connection is still used): while the database is down, pages answer
/// 503 at once instead of each waiting `POOL_WAIT`.
const DOWN_FOR: std::time::Duration = std::time::Duration::from_secs(2);

impl DbPool {
    fn recently_down(&self) -> bool {
        self.down_at
            .lock()
            .map(|d| d.is_some_and(|at| at.elapsed() < DOWN_FOR))
            .unwrap_or(false)
    }

    fn mark(&self, down: bool) {
        if let Ok(mut d) = self.down_at.lock() {
            *d = down.then(std::time::Instant::now);
        }
    }

    /// The database answered again (readiness probe): requests wait for connections
    /// again.
    pub fn mark_up(&self) {
        self.mark(false);
    }
}

/// A connection from the pool within `wait`, or `Unavailable`. A pool only busy (no
/// connection error behind the timeout) does not count as the database being down.
pub fn checkout(pool: &DbPool, wait: std::time::Duration) -> Result<PooledConn, AppError> {
    if pool.recently_down() {
        return pool.try_get().ok_or_else(|| {
            AppError::Unavailable("database unreachable (failed moments ago)".into())
        });
    }
    match pool.get_timeout(wait) {
        Ok(c) => Ok(c),
        Err(e) => {
            // r2d2 appends the last connection error to its timeout message.
            let message = e.to_string();
            if message.contains(": ") {
                pool.mark(true);
            }
            Err(AppError::Unavailable(format!("pool: {message}")))
        }
    }
}

/// Read a value from the `settings` table.
pub fn get_setting(conn: &mut DbConn, key: &str) -> QueryResult<Option<String>> {
    use schema::settings::dsl as s;
    s::settings
        .filter(s::key.eq(key))
        .select(s::value)
        .first::<String>(conn)
        .optional()
}

/// Several settings in one query: (key, value) for those that are set.
pub fn get_settings(conn: &mut DbConn, keys: &[&str]) -> QueryResult<Vec<(String, String)>> {
    use schema::settings::dsl as s;
    s::settings
        .filter(s::key.eq_any(keys))
        .select((s::key, s::value))
        .load(conn)
}

/// Set a setting, inserting or replacing it (inside the caller's transaction).
pub fn put_setting(conn: &mut DbConn, key: &str, value: &str) -> QueryResult<()> {
    use schema::settings::dsl as s;
    let n = diesel::update(s::settings.filter(s::key.eq(key)))
        .set(s::value.eq(value))
        .execute(conn)?;
    if n == 0 {
        insert_setting(conn, key, value)?;
    }
    Ok(())
}

/// Insert a setting (the key must not exist yet).
pub fn insert_setting(conn: &mut DbConn, key: &str, value: &str) -> QueryResult<()> {
    use schema::settings::dsl as s;
    diesel::insert_into(s::settings)
        .values((s::key.eq(key), s::value.eq(value)))
        .execute(conn)
        .map(|_| ())
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write
/// lock at once (waiting up to the busy timeout) so that a transaction never fails
/// half-way when another writer got there first; on PostgreSQL row locks do that job.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConn::Sqlite(inner) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => {
            if let DbConn::Sqlite(inner) = conn {
                if let Err(e) = AnsiTransactionManager::commit_transaction(inner) {
                    let _ = AnsiTransactionManager::rollback_transaction(inner);
                    return Err(e.into());
                }
            }
            Ok(value)
        }
        Err(e) => {
            if let DbConn::Sqlite(inner) = conn {
                AnsiTransactionManager::rollback_transaction(inner)?;
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_keep_every_row_in_order() {
        let got: Vec<Vec<i32>> = super::batches((1..=7).collect(), 3).collect();
        assert_eq!(got, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
        assert_eq!(super::batches(Vec::<i32>::new(), 3).count(), 0);
    }

    #[test]
    fn only_known_schemes_and_plain_paths_pass() {
        for ok in [
            "sqlite:///var/lib/liuyan.db",
            "sqlite:liuyan.db",
            "file:liuyan.db",
            "postgres://u:p@h/db",
            "postgresql://u@h/db",
            "/srv/liuyan/liuyan.db",
            "data/liuyan.db",
        ] {
            assert!(super::check_url(ok).is_ok(), "{ok}");
        }
        let e = super::check_url("postgress://liuyan:s3cret@h/db").expect_err("refused");
        assert!(e.contains("postgress://") && !e.contains("s3cret"), "{e}");
        assert!(super::check_url("mysql://x@h/db").is_err());
    }
}
