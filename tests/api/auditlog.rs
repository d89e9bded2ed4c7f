//! The audit trail: sealed into a hash chain as it is written; the auditor's verifier
//! reports an edited, a deleted and a reordered record; filters and the CSV export.

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_audit_chain_reveals_edits_deletions_and_reordering() {
    let app = spawn_app().await;
    let auditor = app.login_as("auditor").await;
    for who in ["center", "xixiu", "pingba", "leader"] {
        app.login_as(who).await;
    }
    let bad = app.browser();
    bad.login("center", "wrong-password").await;
    // A newline in a user name cannot make a second line.
    bad.login("evil\nadmin 登录 成功", "x").await;
    let (_, page) = auditor.page("/audit/verify").await;
    assert!(page.contains("审计日志哈希链完整"), "{page}");
    assert_eq!(
        app.count("audit_log WHERE seal_seq IS NULL"),
        0,
        "all sealed"
    );
    {
        use diesel::prelude::*;
        use liuyan::db::schema::audit_log::dsl as a;
        let names: Vec<String> = a::audit_log
            .select(a::username)
            .load(&mut app.db())
            .expect("names");
        assert!(names.iter().all(|n| !n.contains('\n')), "{names:?}");
    }

    // Filters and the export.
    let (status, page) = auditor.page("/audit?event=login&username=center").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("密码错误"));
    auditor.confirm_password().await;
    let r = auditor.get("/audit/export?event=login").await;
    let csv = String::from_utf8(r.bytes().await.expect("csv").to_vec()).expect("utf-8");
    assert!(csv.contains("封存序号") && csv.contains("center"));
    assert_eq!(app.count("audit_log WHERE event = 'audit_export'"), 1);
    for who in ["center", "sysadmin", "secadmin"] {
        let b = app.login_as(who).await;
        assert_eq!(
            b.page("/audit/verify").await.0,
            StatusCode::NOT_FOUND,
            "{who}"
        );
        assert_eq!(
            b.get("/audit/export").await.status(),
            StatusCode::NOT_FOUND,
            "{who}"
        );
    }

    // On PostgreSQL the application's role holds no right to change or remove audit,
    // event or attachment rows (only to write the audit seal).
    if app.database_url.starts_with("postgres") {
        assert_eq!(
            app.count(
                "information_schema.role_table_grants WHERE grantee = current_user \
                 AND table_name IN ('audit_log', 'message_events', 'attachments') \
                 AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')"
            ),
            0
        );
        assert_eq!(
            app.count(
                "information_schema.column_privileges WHERE grantee = current_user \
                 AND table_name = 'audit_log' AND privilege_type = 'UPDATE'"
            ),
            2,
            "seal_seq and hash"
        );
        // (A superuser passes every privilege check: CI runs as an ordinary role.)
        if app.count("pg_roles WHERE rolname = current_user AND rolsuper") == 0 {
            let refused = app.db().batch_execute("TRUNCATE audit_log");
            assert!(refused.is_err(), "TRUNCATE refused");
        }
    }

    // An intruder with the owner's database access grants itself the rights back,
    // switches the guards off and tampers.
    let mut c = app.db();
    let drop = if app.database_url.starts_with("postgres") {
        "GRANT UPDATE, DELETE ON audit_log TO CURRENT_USER;
         DROP TRIGGER audit_log_no_change ON audit_log;"
    } else {
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
    };
    c.batch_execute(drop).expect("drop guards");
    c.batch_execute(
        "UPDATE audit_log SET detail = '一切正常' WHERE seal_seq = 2;
         DELETE FROM audit_log WHERE seal_seq = 5;
         UPDATE audit_log SET seal_seq = -1 WHERE seal_seq = 7;
         UPDATE audit_log SET seal_seq = 7 WHERE seal_seq = 8;
         UPDATE audit_log SET seal_seq = 8 WHERE seal_seq = -1;",
    )
    .expect("tamper");
    let (_, problems) = liuyan::audit::verify(&mut c).expect("verify");
    let has = |s: &str| problems.iter().any(|p| p.contains(s));
    assert!(has("封存序号 2）与哈希链不符"), "edited: {problems:?}");
    assert!(has("封存序号 5 至 5 的记录缺失"), "deleted: {problems:?}");
    assert!(has("封存序号 7）与哈希链不符"), "reordered: {problems:?}");
    let (_, page) = auditor.page("/audit/verify").await;
    assert!(page.contains("审计日志哈希链发现"));
}

/// Refused requests are audit records (who, from where, what), one a minute per client,
/// user and status with the repeats counted; a print registered on the archive page is
/// one too.
#[tokio::test]
async fn refusals_prints_and_print_views_are_in_the_audit_log() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let pingba = app.login_as("pingba").await;
    let id = crate::lifecycle::register(&center, "拒绝审计测试留言", "审计甲").await;
    // Another county asks for the centre's message, again and again (a scanner would).
    let page = format!("/messages/{id}");
    for _ in 0..30 {
        assert_eq!(pingba.get(&page).await.status(), StatusCode::NOT_FOUND);
    }
    let rows = app.count(&format!(
        "audit_log WHERE event = 'refused' AND username = 'pingba' AND object = '{page}'"
    ));
    assert!(
        (1..=2).contains(&rows),
        "one record a minute, not 30: {rows}"
    );
    // A form posted without its token.
    let r = pingba.post_raw("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count(
            "audit_log WHERE event = 'refused' AND object = '/logout' AND detail LIKE '403%'"
        ),
        1
    );
    // 登记打印 on the archive page.
    let archive = crate::hardening::archive_link(&center, id).await;
    let r = center
        .submit(&archive, &format!("/messages/{id}/archive/print"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("audit_log WHERE event = 'print' AND username = 'center' AND ip = '127.0.0.1'"),
        1
    );
    // The 督办通报, opened from the dashboard's link, is a print document: its view is
    // a record too.
    let leader = app.login_as("leader").await;
    let (_, dashboard) = leader.page("/dashboard").await;
    let link = crate::page::links("/dashboard", &dashboard)
        .into_iter()
        .find(|l| l.starts_with("/bulletin"))
        .expect("the dashboard links to the 督办通报");
    assert_eq!(leader.get(&link).await.status(), StatusCode::OK);
    assert_eq!(
        app.count(
            "audit_log WHERE event = 'print_view' AND username = 'leader' AND object LIKE '网民留言办理督办通报%'"
        ),
        1
    );
    // The chain still verifies with the new records in it.
    let (_, problems) = liuyan::audit::verify(&mut app.db()).expect("verify");
    assert!(problems.is_empty(), "{problems:?}");
}
