//! Backup while the site is serving, restore into an empty location with every check
//! passing, and a damaged backup refused with the reason.

use reqwest::StatusCode;

use crate::helpers::{fresh_database, spawn_app};
use liuyan::config::Config;

#[tokio::test]
async fn an_online_backup_restores_and_verifies() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let filled = center
        .fill(
            "/messages/new",
            "/messages",
            &crate::lifecycle::register_fields("备份测试留言", "韩十四"),
        )
        .await;
    let fields = crate::helpers::pairs(&filled);
    let r = center
        .post_multipart(
            "/messages",
            &fields,
            &[("files", "证据.pdf", b"%PDF-1.4 evidence")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let live = Config::for_database(&app.database_url, app.data_dir.clone());
    let backups = tempfile::tempdir().expect("dir");
    let url = live.database_url.clone();
    let dir = {
        let live = live.clone();
        let to = backups.path().to_path_buf();
        tokio::task::spawn_blocking(move || liuyan::backup::backup(&live, &to))
            .await
            .expect("join")
            .expect("backup")
    };
    assert!(dir.join("manifest.json").exists());
    assert_eq!(app.count("audit_log WHERE event = 'backup'"), 1);
    let _ = url;

    // The signing key is not in the backup.
    let key = liuyan::archive::signing::KEY_FILE;
    assert!(app.data_dir.join(key).exists());
    assert!(
        !walk(&dir).iter().any(|p| p.ends_with(key)),
        "the signing key must never be in a backup"
    );
    // Restored without it, the seals cannot be verified, and the report says why.
    let target = tempfile::tempdir().expect("dir");
    let cfg = Config::for_database(&fresh_database(target.path()), target.path().to_path_buf());
    let d2 = dir.clone();
    let report = tokio::task::spawn_blocking(move || liuyan::backup::restore(&cfg, &d2))
        .await
        .expect("join")
        .expect("restore");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("本机密钥环中没有的密钥") && p.contains("liuyan keys trust")),
        "{:?}",
        report.problems
    );
    // … and 反映人 and 联系方式 do not open without the site's secret key.
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("无法用本机的加密密钥解密") && p.contains("secret.key")),
        "{:?}",
        report.problems
    );
    // Restore into an empty place, the original keys copied there first (README).
    let target = tempfile::tempdir().expect("dir");
    std::fs::copy(app.data_dir.join(key), target.path().join(key)).expect("copy key");
    let secret = liuyan::auth::sealing::KEY_FILE;
    assert!(
        !walk(&dir).iter().any(|p| p.ends_with(secret)),
        "nor the secret key"
    );
    std::fs::copy(app.data_dir.join(secret), target.path().join(secret)).expect("copy key");
    let cfg = Config::for_database(&fresh_database(target.path()), target.path().to_path_buf());
    let d2 = dir.clone();
    let report = tokio::task::spawn_blocking(move || liuyan::backup::restore(&cfg, &d2))
        .await
        .expect("join")
        .expect("restore");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.rows.iter().any(|(t, n)| t == "messages" && *n == 1));
    assert!(report.checked_files >= 2, "database and the attachment");

    // A damaged backup: the attachment changed after the backup was taken.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let file = manifest["files"][0]["path"]
        .as_str()
        .expect("file")
        .to_string();
    std::fs::write(dir.join(&file), b"%PDF-1.4 forged").expect("tamper");
    let target = tempfile::tempdir().expect("dir");
    let cfg = Config::for_database(&fresh_database(target.path()), target.path().to_path_buf());
    let report = tokio::task::spawn_blocking(move || liuyan::backup::restore(&cfg, &dir))
        .await
        .expect("join")
        .expect("restore");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("备份中的文件被改动")),
        "{:?}",
        report.problems
    );
    // Prune keeps the newest.
    assert_eq!(liuyan::backup::prune(backups.path(), 5).expect("prune"), 0);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A backup taken while clerks register messages with attachments restores with every
/// check passing on both backends: the row counts and the file list come from the same
/// snapshot as the copy, and files written after it are left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_cleanly() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let app = spawn_app().await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..3 {
        let b = app.login_as("center").await;
        let (stop, done) = (stop.clone(), done.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (title, name) = (format!("备份负载{w}-{i}"), format!("负{w}{i}"));
                let mut fields = crate::lifecycle::register_fields(&title, &name);
                fields.push(("confirm_duplicate", "1"));
                let filled = b.fill("/messages/new", "/messages", &fields).await;
                let r = b
                    .post_multipart(
                        "/messages",
                        &crate::helpers::pairs(&filled),
                        &[("files", "现场.pdf", format!("%PDF-1.4 {title}").as_bytes())],
                    )
                    .await;
                assert_eq!(r.status(), StatusCode::SEE_OTHER, "{title}");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while done.load(Ordering::Relaxed) < 6 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let live = Config::for_database(&app.database_url, app.data_dir.clone());
    let backups = tempfile::tempdir().expect("dir");
    let before = done.load(Ordering::Relaxed);
    let dir = {
        let (live, to) = (live.clone(), backups.path().to_path_buf());
        tokio::task::spawn_blocking(move || liuyan::backup::backup(&live, &to))
            .await
            .expect("join")
            .expect("backup")
    };
    let during = done.load(Ordering::Relaxed) - before;
    // Keep writing a little after the snapshot: those rows and files are not in it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    eprintln!("registrations acknowledged while the backup ran: {during}");

    let m = liuyan::backup::manifest(&dir).expect("manifest");
    let backed: i64 = m
        .rows
        .iter()
        .find(|(t, _)| t == "messages")
        .map(|(_, n)| *n)
        .expect("messages counted");
    assert!(backed >= 6, "{backed}");
    assert!(
        app.count("messages") > backed,
        "writes went on after the snapshot"
    );
    assert_eq!(
        m.files.len() as i64,
        backed,
        "one attachment per message in the snapshot, none written after it"
    );

    let target = tempfile::tempdir().expect("dir");
    for key in [
        liuyan::archive::signing::KEY_FILE,
        liuyan::auth::sealing::KEY_FILE,
    ] {
        std::fs::copy(app.data_dir.join(key), target.path().join(key)).expect("copy key");
    }
    let cfg = Config::for_database(&fresh_database(target.path()), target.path().to_path_buf());
    let report = tokio::task::spawn_blocking(move || liuyan::backup::restore(&cfg, &dir))
        .await
        .expect("join")
        .expect("restore");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report
        .rows
        .iter()
        .any(|(t, n)| t == "messages" && *n == backed));
}

/// Two backups never run at once into one place (the second is told why), and two in
/// the same second get directories of their own.
#[tokio::test]
async fn backups_take_turns_and_never_share_a_directory() {
    let app = spawn_app().await;
    let live = Config::for_database(&app.database_url, app.data_dir.clone());
    let backups = tempfile::tempdir().expect("dir");
    let to = backups.path().to_path_buf();
    // Backups of this second and the next few exist already (as a backup started in
    // the same second leaves them).
    let now = liuyan::clock::to_china(liuyan::db::now());
    let mut taken = 0;
    for s in 0..6 {
        let stamp = (now + chrono::Duration::seconds(s)).format("%Y%m%d-%H%M%S");
        std::fs::create_dir(to.join(format!("liuyan-{stamp}"))).expect("taken");
        taken += 1;
    }
    let (made, refused) = tokio::task::spawn_blocking(move || {
        let made = liuyan::backup::backup(&live, &to).expect("a backup in a taken second");
        let lock = std::fs::File::open(to.join(".liuyan-backup.lock")).expect("lock file");
        lock.lock().expect("hold the lock as a running backup does");
        let refused = liuyan::backup::backup(&live, &to).expect_err("refused while one runs");
        (made, refused.to_string())
    })
    .await
    .expect("join");
    assert!(made.to_string_lossy().ends_with("-2"), "{}", made.display());
    assert!(made.join("manifest.json").exists());
    assert!(refused.contains("另一个备份正在"), "{refused}");
    let dirs = std::fs::read_dir(backups.path())
        .expect("list")
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(dirs, taken + 1, "the refused backup leaves no directory");
}
