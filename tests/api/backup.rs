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
    // Restore into an empty place, the original key copied there first (README).
    let target = tempfile::tempdir().expect("dir");
    std::fs::copy(app.data_dir.join(key), target.path().join(key)).expect("copy key");
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
