//! An insider who can write the database and the files, but does not hold the signing
//! key: everything they change, add, remove, reorder, truncate or recompute is reported
//! by `verify` (and the 完整性核验 page), naming the message and what is wrong. An
//! untouched site reports nothing; the key's loss and rotation keep old seals checkable.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::StatusCode;

use crate::archive::archived;
use crate::helpers::{spawn_app, spawn_with_demo_messages, TestApp};
use crate::lifecycle::{ok, register, unit_id};
use liuyan::archive::{chain, guards, signing};
use liuyan::db::schema::messages::dsl as m;

fn pg(app: &TestApp) -> bool {
    app.database_url.starts_with("postgres")
}

/// Switch off every append-only guard, as an intruder with database access would.
fn drop_all_guards(app: &TestApp) {
    let sql = if pg(app) {
        "GRANT UPDATE, DELETE ON message_events, attachments, audit_log TO CURRENT_USER;
         DROP TRIGGER message_events_no_change ON message_events;
         DROP TRIGGER attachments_no_change ON attachments;
         DROP TRIGGER audit_log_no_change ON audit_log;"
    } else {
        "DROP TRIGGER message_events_no_update; DROP TRIGGER message_events_no_delete;
         DROP TRIGGER attachments_no_update; DROP TRIGGER attachments_no_delete;
         DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
    };
    app.db().batch_execute(sql).expect("drop guards");
}

fn tamper(app: &TestApp, sql: &str) {
    app.db().batch_execute(sql).expect("tamper");
}

/// 办理进展 with one attached file, from the handler's message page.
async fn progress_with_file(b: &crate::helpers::Browser, id: i32, name: &str, bytes: &[u8]) {
    let (_, html) = b.page(&format!("/messages/{id}")).await;
    let r = b
        .post_multipart(
            &format!("/messages/{id}/act/progress"),
            &[
                (
                    "csrf_token",
                    &crate::helpers::csrf_of(&html).expect("token"),
                ),
                ("version", &crate::lifecycle::version_of(&html)),
                ("text", "现场材料"),
            ],
            &[("files", name, bytes)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "progress with a file");
}

fn has(problems: &[String], needle: &str) -> bool {
    problems.iter().any(|p| p.contains(needle))
}

/// What `verify` says about one message.
fn about(app: &TestApp, id: i32) -> Vec<String> {
    app.verify()
        .breaks
        .into_iter()
        .filter(|b| b.message_id == Some(id))
        .map(|b| b.what)
        .collect()
}

#[tokio::test]
async fn an_untouched_site_reports_nothing_and_the_page_shows_the_key() {
    let app = spawn_with_demo_messages().await;
    let report = app.verify();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    assert!(report.messages > 100, "{}", report.messages);
    assert!(
        report.signatures > report.messages,
        "every seal's signature is checked"
    );
    assert!(report.audit_records > 0);
    let center = app.login_as("center").await;
    let (status, page) = center.page("/archive/verify").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("未发现问题"), "{page}");
    let ring = signing::Keyring::load(&app.data_dir.join(signing::KEY_FILE), "")
        .expect("ring")
        .0;
    let (id, public) = ring.current();
    assert!(
        page.contains(&signing::fingerprint(&id)),
        "the key's fingerprint: {page}"
    );
    assert!(page.contains(&public), "the public key");
}

#[tokio::test]
async fn cutting_the_last_correction_off_a_sealed_archive_is_reported() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = archived(&app, &center, &xixiu, "截断测试").await;
    let r = crate::correction::correct(
        &center,
        id,
        "更正反映人",
        &[("value", "周十一"), ("text", "网民来电更正姓名")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(about(&app, id).is_empty());
    drop_all_guards(&app);
    let version: i32 = m::messages
        .find(id)
        .select(m::version)
        .first(&mut app.db())
        .expect("version");
    tamper(
        &app,
        &format!(
            "DELETE FROM message_events WHERE message_id = {id} AND seq = {version};
             UPDATE messages SET version = version - 1 WHERE id = {id};"
        ),
    );
    let found = about(&app, id);
    assert!(has(&found, "签名封印记载办理记录"), "{found:?}");
}

#[tokio::test]
async fn an_event_rewritten_with_its_chain_recomputed_is_reported() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = archived(&app, &center, &xixiu, "重算哈希链").await;
    drop_all_guards(&app);
    // Edit the reply and every later link, consistently, with the application's own code.
    let mut c = app.db();
    let events = liuyan::messages::model::events(&mut c, id).expect("events");
    let mut prev = (String::new(), String::new());
    for ev in &events {
        let text = if ev.action == "reply" {
            "已妥善处理（改写）".to_string()
        } else {
            ev.text.clone()
        };
        let body = chain::canonical(
            ev.message_id,
            ev.seq,
            ev.at,
            ev.user_id,
            &ev.actor_name,
            ev.unit_id,
            &ev.action,
            ev.from_state.as_deref(),
            &ev.to_state,
            &text,
            &ev.detail,
            &[],
        );
        let (sha, sm3) = chain::link((&prev.0, &prev.1), &body);
        use liuyan::db::schema::message_events::dsl as e;
        diesel::update(
            e::message_events
                .filter(e::message_id.eq(id))
                .filter(e::seq.eq(ev.seq)),
        )
        .set((e::text.eq(&text), e::hash.eq(&sha), e::hash_sm3.eq(&sm3)))
        .execute(&mut c)
        .expect("rewrite");
        prev = (sha, sm3);
    }
    let found = about(&app, id);
    assert!(
        !has(&found, "与哈希链不符"),
        "the chain itself is consistent again: {found:?}"
    );
    assert!(has(&found, "哈希链的末端与签名封印不符"), "{found:?}");
}

#[tokio::test]
async fn a_changed_retention_or_row_is_reported_also_before_close_out() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let sealed = archived(&app, &center, &xixiu, "保管期限测试").await;
    let open = register(&center, "未销号改行", "钱十二").await;
    tamper(
        &app,
        &format!(
            "UPDATE messages SET retention = '10年' WHERE id = {sealed};
             UPDATE messages SET complainant_name = '孙十三' WHERE id = {open};"
        ),
    );
    let found = about(&app, sealed);
    assert!(has(&found, "保管期限“10年”与档号"), "{found:?}");
    assert!(has(&found, "留言的记录与签名封印不符"), "{found:?}");
    assert!(
        has(&about(&app, open), "留言的记录与签名封印不符"),
        "a message not yet 销号 is covered too"
    );
    // The next action does not seal over the edit: it is noted, kept and audited.
    let unit = unit_id(&app, "安顺市西秀区");
    ok(&center, open, "assign", &[("unit_id", &unit)]).await;
    let found = about(&app, open);
    assert!(
        has(&found, "办理前发现：留言的记录与签名封印不符"),
        "{found:?}"
    );
    assert_eq!(app.count("audit_log WHERE event = 'tamper_found'"), 1);
    ok(&xixiu, open, "accept", &[]).await;
    assert!(
        has(&about(&app, open), "办理前发现"),
        "still reported after another action"
    );
    // Recomputing the seal's digest needs a signature the insider cannot make.
    let other = register(&center, "伪造封印", "李十四").await;
    tamper(
        &app,
        &format!("UPDATE messages SET title = '被改过的标题' WHERE id = {other};"),
    );
    let mut c = app.db();
    let (_, _, digest) = liuyan::archive::ledger::message_facts(&mut c, other).expect("facts");
    tamper(
        &app,
        &format!(
            "UPDATE seals SET content = '{digest}' WHERE subject = 'message' AND subject_id = {other};"
        ),
    );
    let found = about(&app, other);
    assert_eq!(
        found,
        vec!["签名封印的签名无效（封印被伪造或改写）".to_string()],
        "only the signature gives it away"
    );
}

#[tokio::test]
async fn a_replayed_old_seal_and_a_removed_message_are_reported() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let id = register(&center, "回放旧封印", "吴十五").await;
    // The insider keeps a copy of the message's row and seal as they are now …
    tamper(
        &app,
        &format!(
            "CREATE TABLE old_row AS SELECT * FROM messages WHERE id = {id};
             CREATE TABLE old_seal AS SELECT * FROM seals WHERE subject = 'message' AND subject_id = {id};"
        ),
    );
    let unit = unit_id(&app, "安顺市西秀区");
    ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    // … and puts them back after the 转办, removing its event: a consistent old state,
    // genuinely signed.
    drop_all_guards(&app);
    tamper(
        &app,
        &format!(
            "DELETE FROM message_events WHERE message_id = {id} AND seq = 2;
             UPDATE messages SET state = o.state, version = o.version,
               handling_unit_id = o.handling_unit_id, assigned_at = o.assigned_at,
               accept_due = o.accept_due, due_at = o.due_at, updated_at = o.updated_at
               FROM old_row o WHERE messages.id = o.id;
             UPDATE seals SET count = o.count, head = o.head, content = o.content,
               gseq = o.gseq, at = o.at, key_id = o.key_id, signature = o.signature
               FROM old_seal o WHERE seals.subject = o.subject AND seals.subject_id = o.subject_id;
             DROP TABLE old_row; DROP TABLE old_seal;"
        ),
    );
    assert!(about(&app, id).is_empty(), "the message alone looks intact");
    let found = app.problems();
    assert!(has(&found, "有签名封印被换成了较早的版本"), "{found:?}");

    // A whole message removed with its events and its seal.
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let gone = register(&center, "整条删除", "郑十六").await;
    let _kept = register(&center, "保留的留言", "王十七").await;
    drop_all_guards(&app);
    tamper(
        &app,
        &format!(
            "DELETE FROM message_events WHERE message_id = {gone};
             {search}
             DELETE FROM hot_members WHERE message_id = {gone};
             DELETE FROM hot_features WHERE message_id = {gone};
             DELETE FROM messages WHERE id = {gone};
             DELETE FROM seals WHERE subject = 'message' AND subject_id = {gone};",
            search = if pg(&app) {
                format!("DELETE FROM message_search WHERE message_id = {gone};")
            } else {
                String::new()
            }
        ),
    );
    let found = app.problems();
    assert!(has(&found, "封印被删除或添加"), "{found:?}");
}

#[tokio::test]
async fn swapped_attachments_are_reported() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let unit = unit_id(&app, "安顺市西秀区");
    let mut ids = Vec::new();
    for (title, file) in [("附件甲", "甲.pdf"), ("附件乙", "乙.pdf")] {
        let id = register(&center, title, "冯十八").await;
        ok(&center, id, "assign", &[("unit_id", &unit)]).await;
        ok(&xixiu, id, "accept", &[]).await;
        progress_with_file(&xixiu, id, file, format!("%PDF-1.4 {title}").as_bytes()).await;
        ids.push(id);
    }
    assert!(app.problems().is_empty());
    drop_all_guards(&app);
    let (a, b) = (ids[0], ids[1]);
    tamper(
        &app,
        &format!(
            "UPDATE attachments SET message_id = CASE message_id WHEN {a} THEN {b} ELSE {a} END
             WHERE message_id IN ({a}, {b});"
        ),
    );
    for id in [a, b] {
        let found = about(&app, id);
        assert!(has(&found, "与哈希链不符"), "{found:?}");
        assert!(has(&found, "留言的记录与签名封印不符"), "{found:?}");
    }
}

#[tokio::test]
async fn the_audit_log_cut_short_or_reordered_is_reported() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    register(&center, "审计截断", "陈十九").await;
    assert!(app.problems().is_empty());
    drop_all_guards(&app);
    tamper(
        &app,
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log ORDER BY id DESC LIMIT 3);",
    );
    let found = app.problems();
    assert!(has(&found, "签名封印记载审计记录"), "{found:?}");
    // New records continue the shortened chain; the seal still says what was lost.
    app.login_as("xixiu").await;
    let found = app.problems();
    assert!(has(&found, "日志被截断或改写"), "{found:?}");

    // Two records' contents exchanged.
    let app = spawn_app().await;
    app.login_as("center").await;
    app.login_as("xixiu").await;
    drop_all_guards(&app);
    let ids: Vec<i32> = {
        use liuyan::db::schema::audit_log::dsl as a;
        a::audit_log
            .order(a::id.desc())
            .select(a::id)
            .limit(2)
            .load(&mut app.db())
            .expect("ids")
    };
    tamper(
        &app,
        &format!(
            "UPDATE audit_log SET username = CASE id WHEN {x} THEN (SELECT username FROM audit_log WHERE id = {y}) ELSE (SELECT username FROM audit_log WHERE id = {x}) END WHERE id IN ({x}, {y});",
            x = ids[0],
            y = ids[1]
        ),
    );
    let found = app.problems();
    assert!(
        has(&found, "审计日志：") && has(&found, "与哈希链不符"),
        "{found:?}"
    );
}

#[tokio::test]
async fn dropped_guards_are_found_at_start_put_back_and_shown() {
    let app = spawn_app().await;
    drop_all_guards(&app);
    let again = app.restart_at(app.clock).await;
    assert!(
        guards::missing(&mut again.db()).expect("guards").is_empty(),
        "put back at start"
    );
    assert!(again.count("audit_log WHERE event = 'guard_missing'") >= 1);
    let center = again.login_as("center").await;
    let (_, page) = center.page("/archive/verify").await;
    assert!(page.contains("数据库保护缺失"), "{page}");
    // Refused, by configuration, instead of put back.
    drop_all_guards(&again);
    let mut config =
        liuyan::config::Config::for_database(&again.database_url, again.data_dir.clone());
    config.guards_refuse = true;
    config.clock = again.clock;
    let refused = liuyan::startup::Application::build(config).await;
    let err = refused.err().expect("refused to start").to_string();
    assert!(err.contains("数据库保护缺失"), "{err}");
    // And `verify` finds them too (and puts them back).
    let found = again.problems();
    assert!(has(&found, "数据库保护缺失"), "{found:?}");
    assert!(guards::missing(&mut again.db()).expect("guards").is_empty());
}

#[tokio::test]
async fn a_lost_key_and_a_rotated_key_keep_old_seals_checkable() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    register(&center, "密钥轮换", "褚二十").await;
    let key = app.data_dir.join(signing::KEY_FILE);
    // Rotation (`liuyan keys rotate`, the site stopped): new seals use the new key, the old
    // ones still verify.
    let (ring, _) = signing::Keyring::load(&key, "").expect("ring");
    let (old_id, old_public) = ring.current();
    let new_id = ring.rotate("2026-12-01 10:00").expect("rotate");
    let app = app.restart_at(app.clock).await;
    let center = app.login_as("center").await;
    let second = register(&center, "轮换之后", "卫二一").await;
    assert!(app.problems().is_empty(), "{:?}", app.problems());
    let seal = liuyan::archive::ledger::seal_of(&mut app.db(), "message", second)
        .expect("seal")
        .expect("sealed");
    assert_eq!(seal.key_id, new_id);
    assert_ne!(old_id, new_id);

    // Loss: the key file is gone. The site starts with a new key and says so; old seals
    // are reported as signed by an unknown key until their public key is trusted again.
    let rotated_public = signing::Keyring::load(&key, "")
        .expect("ring")
        .0
        .current()
        .1;
    std::fs::remove_file(&key).expect("lose the key");
    let app = app.restart_at(app.clock).await;
    assert_eq!(app.count("audit_log WHERE event = 'signing_key_new'"), 1);
    let found = app.problems();
    assert!(has(&found, "本机密钥环中没有的密钥"), "{found:?}");
    let (ring, _) = signing::Keyring::load(&key, "").expect("new ring");
    ring.trust(&old_public, "t").expect("trust the first key");
    ring.trust(&rotated_public, "t")
        .expect("trust the second key");
    let found = app.problems();
    assert!(found.is_empty(), "{found:?}");
}

#[tokio::test]
async fn a_database_rolled_back_past_the_anchor_is_reported() {
    let app = spawn_app().await;
    if pg(&app) {
        // The anchor is the same on both backends; putting an old database file back is
        // done here on SQLite.
        return;
    }
    let center = app.login_as("center").await;
    register(&center, "回退之前", "蒋二二").await;
    let db_file = app.data_dir.join("test.db");
    let copy = app.data_dir.join("old.db");
    app.db()
        .batch_execute(&format!("VACUUM INTO '{}'", copy.display()))
        .expect("copy");
    register(&center, "回退之后", "沈二三").await;
    assert!(app.problems().is_empty(), "and the anchor is raised");
    // The old file put back under the running site's name.
    drop(center);
    let _ = std::fs::remove_file(app.data_dir.join("test.db-wal"));
    let _ = std::fs::remove_file(app.data_dir.join("test.db-shm"));
    std::fs::rename(&copy, &db_file).expect("put back");
    let found = app.problems();
    assert!(has(&found, "数据库被回退"), "{found:?}");
}

/// The period page's links: the 移交包, the 四性检测 and the 归档文件目录 of 西秀区.
async fn package_links(
    app: &TestApp,
    center: &crate::helpers::Browser,
) -> (String, String, String) {
    let month = app.today().format("%Y-%m").to_string();
    let r = center
        .submit(
            "/archive/periods",
            "/archive/periods",
            &[("period", &month)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = crate::helpers::location(&r);
    let (_, html) = center.page(&page).await;
    let links = crate::page::links(&page, &html);
    let find = |what: &str| {
        links
            .iter()
            .find(|l| l.contains(what))
            .cloned()
            .unwrap_or_else(|| panic!("no {what} link on {page}"))
    };
    (
        find("/package?"),
        find("/inspection?"),
        find("/catalogue?unit="),
    )
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (n, b) in files {
        w.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .expect("file");
        w.write_all(b).expect("write");
    }
    w.finish().expect("zip").into_inner()
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).expect("entry");
            let mut b = Vec::new();
            f.read_to_end(&mut b).expect("read");
            (f.name().expect("name").to_string(), b)
        })
        .collect()
}

/// Recompute the manifest over the files as they are now (what an insider can do).
fn recompute(files: &mut [(String, Vec<u8>)], change: impl FnOnce(&mut serde_json::Value)) {
    use sha2::Digest;
    let i = files
        .iter()
        .position(|(n, _)| n == "manifest.json")
        .expect("manifest");
    let mut m: serde_json::Value = serde_json::from_slice(&files[i].1).expect("json");
    change(&mut m);
    let entries: Vec<serde_json::Value> = files
        .iter()
        .filter(|(n, _)| n != "manifest.json" && n != "signature.json")
        .map(|(n, b)| {
            serde_json::json!({
                "path": n,
                "size": b.len(),
                "sha256": hex::encode(sha2::Sha256::digest(b)),
                "sm3": liuyan::archive::chain::digests(b).1,
            })
        })
        .collect();
    m["files"] = serde_json::Value::Array(entries);
    files[i].1 = serde_json::to_vec_pretty(&m).expect("json");
}

#[tokio::test]
async fn a_signed_package_verifies_and_forged_ones_do_not() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    for t in ["移交包一", "移交包二"] {
        archived(&app, &center, &xixiu, t).await;
    }
    let (pkg, inspection, catalogue) = package_links(&app, &center).await;
    center.confirm_password().await;
    let r = center.get(&pkg).await;
    assert_eq!(r.status(), StatusCode::OK);
    let zip = r.bytes().await.expect("zip").to_vec();
    let (_, public) = signing::Keyring::load(&app.data_dir.join(signing::KEY_FILE), "")
        .expect("ring")
        .0
        .current();
    // The key to check it with is printed on the 归档文件目录.
    let (_, printed) = center.page(&catalogue).await;
    assert!(printed.contains(&public), "the public key on the catalogue");
    let ok = liuyan::archive::package::inspect(&zip, Some(&public), None);
    assert!(ok.problems().is_empty(), "{:?}", ok.problems());
    assert_eq!(ok.archives, 2);
    assert!(ok.key_source.contains("给定的公钥"));
    let properties: Vec<&str> = ok.checks.iter().map(|c| c.property).collect();
    for p in ["真实性", "完整性", "可用性", "安全性"] {
        assert!(properties.contains(&p), "{p} checked");
    }
    let files = unzip(&zip);
    assert!(files.iter().any(|(n, _)| n == "四性检测报告.html"));

    // A file edited and the manifest recomputed.
    let mut forged = files.clone();
    let page = forged
        .iter_mut()
        .find(|(n, _)| n.ends_with("archive.html"))
        .expect("archive page");
    page.1 = String::from_utf8_lossy(&page.1)
        .replace("已处理", "未处理")
        .into_bytes();
    recompute(&mut forged, |_| {});
    let p = liuyan::archive::package::inspect(&zip_of(&forged), Some(&public), None).problems();
    assert!(p.iter().any(|p| p.contains("清单的签名无效")), "{p:?}");

    // A whole archive removed with its catalogue and manifest entries.
    let mut cut: Vec<(String, Vec<u8>)> = files.clone();
    let first = cut
        .iter()
        .find(|(n, _)| n.starts_with("archives/"))
        .map(|(n, _)| n.split('/').take(2).collect::<Vec<_>>().join("/"))
        .expect("an archive");
    cut.retain(|(n, _)| !n.starts_with(&format!("{first}/")));
    recompute(&mut cut, |m| {
        let c = m["catalogue"].as_array_mut().expect("catalogue");
        c.retain(|e| e["dir"].as_str() != Some(first.as_str()));
        m["archives"] = serde_json::json!(1);
    });
    let p = liuyan::archive::package::inspect(&zip_of(&cut), Some(&public), None).problems();
    assert!(p.iter().any(|p| p.contains("清单的签名无效")), "{p:?}");
    // Without the signature's help (the insider re-signs with a key of their own), the
    // given public key still tells.
    let mut resigned = cut.clone();
    let own = signing::Keyring::ephemeral();
    let manifest = resigned
        .iter()
        .find(|(n, _)| n == "manifest.json")
        .map(|(_, b)| b.clone())
        .expect("manifest");
    let (key_id, signature) = own.sign(&manifest);
    let sig = serde_json::json!({
        "algorithm": signing::ALGORITHM, "key_id": key_id,
        "public_key": own.current().1, "signature": signature,
    });
    for f in resigned.iter_mut().filter(|(n, _)| n == "signature.json") {
        f.1 = serde_json::to_vec(&sig).expect("json");
    }
    let p = liuyan::archive::package::inspect(&zip_of(&resigned), Some(&public), None).problems();
    assert!(p.iter().any(|p| p.contains("不是给定的公钥")), "{p:?}");

    // The 四性检测 page of the period is printable and says the same.
    let (status, html) = center.page(&inspection).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("四性检测报告") && !html.contains("不通过"),
        "{html}"
    );
}

#[tokio::test]
async fn the_four_checks_find_script_content_in_an_attachment() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "带脚本的附件", "韩二四").await;
    let unit = unit_id(&app, "安顺市西秀区");
    ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    ok(&xixiu, id, "accept", &[]).await;
    progress_with_file(
        &xixiu,
        id,
        "说明.pdf",
        b"%PDF-1.4 1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>",
    )
    .await;
    ok(
        &xixiu,
        id,
        "reply",
        &[("text", "已处理完毕。"), ("resolved", "1")],
    )
    .await;
    ok(&center, id, "approve", &[("resolved", "1")]).await;
    ok(
        &center,
        id,
        "follow_up",
        &[
            ("method", "电话"),
            ("satisfaction", "满意"),
            ("text", "满意"),
        ],
    )
    .await;
    ok(
        &center,
        id,
        "report",
        &[("report_ref_no", "安网呈〔2026〕42号")],
    )
    .await;
    ok(&center, id, "archive", &[("retention", "30年")]).await;
    let (_, inspection, _) = package_links(&app, &center).await;
    let (_, html) = center.page(&inspection).await;
    assert!(
        html.contains("不通过") && html.contains("含脚本或自动执行内容"),
        "{html}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_configured_virus_scanner_runs_over_the_package() {
    use std::os::unix::fs::PermissionsExt;
    // A stand-in for clamscan that reports every file it is given as infected.
    let dir = tempfile::tempdir().expect("dir");
    let scanner = dir.path().join("clamscan");
    std::fs::write(
        &scanner,
        "#!/bin/sh\nfor a in \"$@\"; do d=\"$a\"; done\nls \"$d\" | sed 's/$/: Eicar-Test-Signature FOUND/'\nexit 1\n",
    )
    .expect("script");
    std::fs::set_permissions(&scanner, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = scanner.display().to_string();
    let app = crate::helpers::spawn_tuned(true, false, move |c| c.clamscan = Some(path)).await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    archived(&app, &center, &xixiu, "病毒扫描").await;
    let (_, inspection, _) = package_links(&app, &center).await;
    let (_, html) = center.page(&inspection).await;
    assert!(
        html.contains("病毒扫描") && html.contains("Eicar-Test-Signature FOUND"),
        "{html}"
    );
    assert!(html.contains("不通过"));
}
