//! Backup and restore: an online, consistent copy of the database (SQLite `VACUUM INTO`,
//! PostgreSQL `pg_dump -Fc`) with the attachment files and a manifest of their hashes and
//! the row counts; restore into an empty data location, then verify everything.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::archive::chain::file_sha256;
use crate::attachments::Store;
use crate::config::Config;
use crate::db::{self, DbConn};

/// Tables whose row counts are recorded and checked.
pub const TABLES: [&str; 14] = [
    "units",
    "users",
    "messages",
    "message_events",
    "attachments",
    "audit_log",
    "archive_prints",
    "archive_submissions",
    "score_entries",
    "score_results",
    "settings",
    "holidays",
    "options",
    "reply_templates",
];

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Manifest {
    pub created_at: String,
    pub backend: String,
    pub database_file: FileEntry,
    pub rows: Vec<(String, i64)>,
    pub files: Vec<FileEntry>,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn counts(conn: &mut DbConn) -> anyhow::Result<Vec<(String, i64)>> {
    TABLES
        .iter()
        .map(|t| {
            let n = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {t}"))
                .get_result::<N>(conn)
                .with_context(|| format!("无法统计表 {t}"))?
                .n;
            Ok((t.to_string(), n))
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

fn entry(base: &Path, p: &Path) -> anyhow::Result<FileEntry> {
    Ok(FileEntry {
        path: p
            .strip_prefix(base)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/"),
        size: fs::metadata(p)?.len(),
        sha256: file_sha256(p)?,
    })
}

/// The pg_dump/pg_restore program: on PATH, or the newest in /usr/lib/postgresql.
fn pg_tool(name: &str) -> anyhow::Result<PathBuf> {
    if Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Ok(PathBuf::from(name));
    }
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("bin").join(name))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().with_context(|| {
        format!(
            "未找到 {name}：请安装 PostgreSQL 客户端（Debian：apt-get install postgresql-client）"
        )
    })
}

/// A new directory `liuyan-<China time>` under `to`, with `-2`, `-3` … when a backup
/// of the same second exists.
fn new_dir(to: &Path) -> anyhow::Result<PathBuf> {
    let stamp = crate::clock::to_china(db::now()).format("%Y%m%d-%H%M%S");
    for n in 1..1000 {
        let name = match n {
            1 => format!("liuyan-{stamp}"),
            _ => format!("liuyan-{stamp}-{n}"),
        };
        let dir = to.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("无法创建备份目录 {}", dir.display())),
        }
    }
    bail!("备份目录 {} 中同一秒的备份过多", to.display())
}

/// What the copied database holds: its row counts and the files it refers to, read
/// from the same snapshot as the copy.
struct Snapshot {
    rows: Vec<(String, i64)>,
    files: Vec<String>,
}

/// Copy the database into `dir`: SQLite by `VACUUM INTO` (then read the copy), PostgreSQL
/// by `pg_dump --snapshot` of a snapshot exported by a repeatable-read transaction that
/// also counts the rows and lists the files, so the counts are those of the dump.
fn copy_database(config: &Config, dir: &Path) -> anyhow::Result<(&'static str, PathBuf, Snapshot)> {
    let read = |conn: &mut DbConn| -> anyhow::Result<Snapshot> {
        Ok(Snapshot {
            rows: counts(conn)?,
            files: crate::attachments::stored_names(conn).context("无法读取附件清单")?,
        })
    };
    match db::establish(&config.database_url)? {
        DbConn::Sqlite(mut c) => {
            let path = dir.join("liuyan.db");
            diesel::sql_query("VACUUM INTO ?")
                .bind::<diesel::sql_types::Text, _>(path.to_string_lossy().to_string())
                .execute(&mut c)
                .context("SQLite 在线备份（VACUUM INTO）失败")?;
            let snap = read(&mut db::establish(&format!("sqlite://{}", path.display()))?)?;
            Ok(("sqlite", path, snap))
        }
        DbConn::Pg(mut c) => {
            use diesel::connection::SimpleConnection;
            #[derive(QueryableByName)]
            struct Exported {
                #[diesel(sql_type = diesel::sql_types::Text)]
                id: String,
            }
            let path = dir.join("liuyan.dump");
            c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .context("无法开始备份事务")?;
            let snapshot = diesel::sql_query("SELECT pg_export_snapshot() AS id")
                .get_result::<Exported>(&mut c)
                .context("无法导出数据库快照")?
                .id;
            let mut conn = DbConn::Pg(c);
            let snap = read(&mut conn)?;
            let out = Command::new(pg_tool("pg_dump")?)
                .args(["-Fc", "--snapshot", &snapshot, "-f"])
                .arg(&path)
                .arg(&config.database_url)
                .output()
                .context("无法运行 pg_dump")?;
            // The snapshot lives as long as this transaction: end it only now.
            let _ = conn.batch_execute("COMMIT");
            if !out.status.success() {
                bail!("pg_dump 失败：{}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(("postgres", path, snap))
        }
    }
}

/// Take a backup into a new directory under `to`; returns its path. One backup at a
/// time per target directory (a lock file there): a second one is refused with why.
/// The files copied are those the copied database refers to — a file written after
/// the snapshot belongs to a row the backup does not hold, and is left out.
pub fn backup(config: &Config, to: &Path) -> anyhow::Result<PathBuf> {
    let (ring, _) = crate::archive::signing::Keyring::for_site(config)?;
    let _ring = ring.enter();
    fs::create_dir_all(to).with_context(|| format!("无法创建备份目录 {}", to.display()))?;
    let lock_path = to.join(".liuyan-backup.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("无法创建备份锁文件 {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => bail!(
            "另一个备份正在向 {} 进行，请等它完成后再试（同一时间只能进行一个备份）",
            to.display()
        ),
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("无法锁定备份目录 {}", to.display()))
        }
    }
    let dir = new_dir(to)?;
    let taken = copy_database(config, &dir).and_then(|(backend, db_path, snap)| {
        let store = Store::new(&config.data_dir);
        let mut files = Vec::new();
        let mut missing = Vec::new();
        for name in &snap.files {
            let src = store.path_of(name);
            if !src.is_file() {
                missing.push(name.clone());
                continue;
            }
            let dest = dir.join("attachments").join(name);
            if let Some(d) = dest.parent() {
                fs::create_dir_all(d)?;
            }
            fs::copy(&src, &dest).with_context(|| format!("无法复制附件 {}", src.display()))?;
            files.push(entry(&dir, &dest)?);
        }
        let manifest = Manifest {
            created_at: crate::clock::format_time(db::now()),
            backend: backend.to_string(),
            database_file: entry(&dir, &db_path)?,
            rows: snap.rows,
            files,
        };
        fs::write(
            dir.join("manifest.json"),
            serde_json::to_vec_pretty(&manifest)?,
        )?;
        Ok((manifest, missing))
    });
    let (manifest, missing) = match taken {
        Ok(t) => t,
        Err(e) => {
            // No half backup is left to be mistaken for a good one.
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    if !missing.is_empty() {
        tracing::warn!(count = missing.len(), first = %missing[0], "backup: attachment files missing from the data directory");
    }
    let mut conn = db::establish(&config.database_url)?;
    crate::audit::record(
        &mut conn,
        &crate::audit::Actor::cli(),
        "backup",
        &dir.display().to_string(),
        crate::audit::OK,
        &match missing.len() {
            0 => format!("附件 {} 个", manifest.files.len()),
            n => format!("附件 {} 个，数据目录中缺失 {n} 个", manifest.files.len()),
        },
    )?;
    Ok(dir)
}

/// Keep the newest `keep` backups under `to`, remove older ones.
pub fn prune(to: &Path, keep: usize) -> anyhow::Result<usize> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(to)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("liuyan-"))
                && p.join("manifest.json").exists()
        })
        .collect();
    dirs.sort();
    let remove = dirs.len().saturating_sub(keep);
    for d in &dirs[..remove] {
        fs::remove_dir_all(d)?;
    }
    Ok(remove)
}

/// What a restore (or a check of a backup) found.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<String>,
    pub checked_files: usize,
    pub rows: Vec<(String, i64)>,
}

/// Check a backup directory against its manifest (files and hashes).
pub fn check_files(from: &Path, m: &Manifest, report: &mut Report) {
    for f in std::iter::once(&m.database_file).chain(&m.files) {
        let p = from.join(&f.path);
        match file_sha256(&p) {
            Ok(h) if h == f.sha256 => report.checked_files += 1,
            Ok(_) => report
                .problems
                .push(format!("备份中的文件被改动：{}", f.path)),
            Err(_) => report.problems.push(format!("备份中缺少文件：{}", f.path)),
        }
    }
}

/// Restore a backup into an empty data location and verify the result.
/// The manifest of a backup directory.
pub fn manifest(from: &Path) -> anyhow::Result<Manifest> {
    serde_json::from_slice(
        &fs::read(from.join("manifest.json")).context("备份目录中没有 manifest.json")?,
    )
    .context("manifest.json 格式错误")
}

/// Restore into an empty data location. The signing key is not in the backup: copy the
/// original `signing.key` into the new data directory first, or the seals will not verify
/// (a new key is made, and the report says which key signed them).
pub fn restore(config: &Config, from: &Path) -> anyhow::Result<Report> {
    let (ring, _) = crate::archive::signing::Keyring::for_site(config)?;
    let _ring = ring.enter();
    let m = manifest(from)?;
    let mut report = Report::default();
    check_files(from, &m, &mut report);
    if !report.problems.is_empty() {
        return Ok(report);
    }
    let store = Store::new(&config.data_dir);
    let target_files = store.path_of("");
    let mut existing = Vec::new();
    walk(&target_files, &mut existing);
    if !existing.is_empty() {
        bail!(
            "目标数据目录中已有附件（{}），只能恢复到空的数据位置",
            target_files.display()
        );
    }
    match m.backend.as_str() {
        "sqlite" => {
            if config.database_url.starts_with("postgres") {
                bail!("备份来自 SQLite，请把 DATABASE_URL 指向一个 SQLite 文件");
            }
            let path = db::sqlite_path(&config.database_url);
            if path.exists() {
                bail!(
                    "目标数据库文件 {} 已存在，只能恢复到空的数据位置",
                    path.display()
                );
            }
            if let Some(d) = path.parent() {
                fs::create_dir_all(d)?;
            }
            fs::copy(from.join(&m.database_file.path), &path)?;
        }
        _ => {
            let mut conn = db::establish(&config.database_url)?;
            let tables = diesel::sql_query(
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .get_result::<N>(&mut conn)?
            .n;
            if tables > 0 {
                bail!("目标 PostgreSQL 数据库不是空的，只能恢复到空数据库");
            }
            let out = Command::new(pg_tool("pg_restore")?)
                .args(["--no-owner", "-d", &config.database_url])
                .arg(from.join(&m.database_file.path))
                .output()
                .context("无法运行 pg_restore")?;
            if !out.status.success() {
                bail!("pg_restore 失败：{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
    for f in &m.files {
        let src = from.join(&f.path);
        let rel = Path::new(&f.path)
            .strip_prefix("attachments")
            .unwrap_or(Path::new(&f.path));
        let dest = target_files.join(rel);
        if let Some(d) = dest.parent() {
            fs::create_dir_all(d)?;
        }
        fs::copy(&src, &dest)?;
    }
    verify_restored(config, &m, &mut report)?;
    let mut conn = db::establish(&config.database_url)?;
    crate::audit::record(
        &mut conn,
        &crate::audit::Actor::cli(),
        "restore",
        &from.display().to_string(),
        if report.problems.is_empty() {
            crate::audit::OK
        } else {
            crate::audit::FAILED
        },
        &format!("核验问题 {} 个", report.problems.len()),
    )?;
    Ok(report)
}

/// The checks after a restore: integrity, row counts, files, the hash chains.
fn verify_restored(config: &Config, m: &Manifest, report: &mut Report) -> anyhow::Result<()> {
    let mut conn = db::establish(&config.database_url)?;
    if let DbConn::Sqlite(c) = &mut conn {
        #[derive(QueryableByName)]
        struct R {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let r: Vec<R> = diesel::sql_query("PRAGMA integrity_check").load(c)?;
        if r.first().map(|x| x.integrity_check.as_str()) != Some("ok") {
            report.problems.push("SQLite 完整性检查未通过".to_string());
        }
    }
    let rows = counts(&mut conn)?;
    for (t, n) in &m.rows {
        let got = rows
            .iter()
            .find(|(x, _)| x == t)
            .map(|(_, n)| *n)
            .unwrap_or(-1);
        if got != *n {
            report
                .problems
                .push(format!("表 {t} 行数不符：备份时 {n}，恢复后 {got}"));
        }
    }
    report.rows = rows;
    let store = Store::new(&config.data_dir);
    let ring = crate::archive::signing::current().map_err(|e| anyhow::anyhow!("{e}"))?;
    let site = crate::archive::verify::Site::of(&store, &ring, config);
    let v =
        crate::archive::verify::run(&mut conn, &site, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    report.problems.extend(
        v.breaks
            .into_iter()
            .map(|b| format!("{} {}", b.ref_no, b.what)),
    );
    Ok(())
}
