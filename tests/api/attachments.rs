//! Attachments: uploaded with 登记 and 答复 as multipart forms, checked by content,
//! stored outside `static/` with their SHA-256, downloadable only within scope; a refused
//! upload leaves nothing on disk and keeps the typed text. Reply templates fill the
//! reply box without JavaScript.

use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{csrf_of, location, pairs, spawn_app, TestApp};
use crate::lifecycle::{act, register_fields, unit_id, version_of};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";

/// Files kept under `attachments/` (not counting the incoming area), and files left in
/// the incoming area.
fn files_on_disk(app: &TestApp) -> (usize, usize) {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
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
    let root = app.data_dir.join("attachments");
    let mut all = Vec::new();
    walk(&root, &mut all);
    let incoming = all
        .iter()
        .filter(|p| p.starts_with(root.join("incoming")))
        .count();
    (all.len() - incoming, incoming)
}

#[tokio::test]
async fn files_travel_with_register_and_reply_and_stay_in_scope() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let pingba = app.login_as("pingba").await;

    // 登记 with a screenshot.
    let png = [
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        b"rest of the image",
    ]
    .concat();
    let filled = center
        .fill(
            "/messages/new",
            "/messages",
            &register_fields("路灯不亮附照片", "王五"),
        )
        .await;
    let fields = pairs(&filled);
    let r = center
        .post_multipart("/messages", &fields, &[("files", "截图.png", &png)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id: i32 = location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("id");
    assert_eq!(files_on_disk(&app), (1, 0));

    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    let r = act(&center, id, "assign", &[("unit_id", &xixiu_unit)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = act(&xixiu, id, "accept", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // A reply with a file that is not what its name says: refused, nothing kept,
    // the typed reply still in the form.
    let page = format!("/messages/{id}");
    let (_, html) = xixiu.page(&page).await;
    let version = version_of(&html);
    let t = csrf_of(&html).expect("token");
    let action = format!("/messages/{id}/act/reply");
    let typed = "经核实，路灯已于本周修复。";
    let r = xixiu
        .post_multipart(
            &action,
            &[
                ("csrf_token", &t),
                ("version", &version),
                ("text", typed),
                ("resolved", "1"),
            ],
            &[
                ("files", "答复.pdf", PDF),
                ("files", "病毒.pdf", b"MZ\x90\x00 this is a program"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("“病毒.pdf”的文件类型不被接受"), "{body}");
    assert!(body.contains(typed), "typed text kept");
    assert_eq!(files_on_disk(&app), (1, 0), "nothing left on disk");
    assert_eq!(app.count("attachments"), 1);
    assert_eq!(app.count("message_events WHERE action = 'reply'"), 0);

    // The same reply with the genuine PDF.
    let r = xixiu
        .post_multipart(
            &action,
            &[
                ("csrf_token", &t),
                ("version", &version),
                ("text", typed),
                ("resolved", "1"),
            ],
            &[("files", "答复.pdf", PDF)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(files_on_disk(&app), (2, 0));
    assert_eq!(app.count("attachments"), 2);

    // Listed on the page with its hash, and in the timeline.
    let (_, html) = center.page(&page).await;
    let sha = hex::encode(Sha256::digest(PDF));
    assert!(html.contains(&sha), "SHA-256 shown");
    assert!(html.contains("答复.pdf"));
    let link = html
        .split("href=\"/attachments/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("attachment link")
        .to_string();
    let url = format!("/attachments/{link}");

    // Downloaded as an attachment by those who see the message…
    for b in [&center, &xixiu] {
        let r = b.get(&url).await;
        assert_eq!(r.status(), StatusCode::OK);
        let cd = r
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(cd.starts_with("attachment;"), "{cd}");
        assert_eq!(
            r.headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
        let bytes = r.bytes().await.expect("bytes");
        assert!(bytes == png[..] || bytes == PDF, "the file itself");
    }
    // …and by nobody else.
    assert_eq!(pingba.get(&url).await.status(), StatusCode::NOT_FOUND);
    let anonymous = app.browser();
    assert_eq!(anonymous.get(&url).await.status(), StatusCode::SEE_OTHER);
    let admin = app.login_as("sysadmin").await;
    assert_eq!(admin.get(&url).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uploads_without_a_valid_token_or_over_the_limit_leave_nothing() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let mut fields = register_fields("超大附件", "赵六");
    fields.insert(0, ("csrf_token", "forged"));
    let r = center
        .post_multipart("/messages", &fields, &[("files", "a.pdf", PDF)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(files_on_disk(&app), (0, 0));

    // 21 MB against the default 20 MB limit.
    let mut big = PDF.to_vec();
    big.resize(21 * 1024 * 1024, b' ');
    let filled = center
        .fill(
            "/messages/new",
            "/messages",
            &register_fields("超大附件", "赵六"),
        )
        .await;
    let fields = pairs(&filled);
    let r = center
        .post_multipart("/messages", &fields, &[("files", "大文件.pdf", &big)])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("“大文件.pdf”超过 20 MB"), "{body}");
    assert!(body.contains("超大附件"), "typed title kept");
    assert_eq!(files_on_disk(&app), (0, 0));
    assert_eq!(app.count("messages"), 0);
}

#[tokio::test]
async fn a_unit_over_its_attachment_quota_is_refused_and_keeps_its_form() {
    let app = spawn_app().await;
    let sec = app.login_as("secadmin").await;
    let r = sec
        .submit(
            "/security",
            "/security/policy",
            &[("max_age", "90"), ("quota_mb", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let center = app.login_as("center").await;
    let mut file = PDF.to_vec();
    file.resize(700 * 1024, b' ');
    let register = |title: &'static str| {
        let center = &center;
        let file = &file;
        async move {
            let filled = center
                .fill(
                    "/messages/new",
                    "/messages",
                    &register_fields(title, "赵六"),
                )
                .await;
            center
                .post_multipart("/messages", &pairs(&filled), &[("files", "材料.pdf", file)])
                .await
        }
    };
    // 700 KB fits in 1 MB; another 700 KB does not.
    assert_eq!(register("第一份材料").await.status(), StatusCode::SEE_OTHER);
    let r = register("第二份材料").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("本单位附件容量上限为 1.0 MB"), "{body}");
    assert!(body.contains("第二份材料"), "typed title kept");
    assert_eq!(app.count("messages"), 1);
    assert_eq!(files_on_disk(&app), (1, 0));
    // Another unit has its own quota.
    let xixiu = app.login_as("xixiu").await;
    let typed: Vec<(&str, &str)> = register_fields("区里的材料", "钱七")
        .into_iter()
        .map(|(k, v)| (k, if k == "level" { "县（区）级" } else { v }))
        .collect();
    let filled = xixiu.fill("/messages/new", "/messages", &typed).await;
    let fields = pairs(&filled);
    let r = xixiu
        .post_multipart("/messages", &fields, &[("files", "材料.pdf", &file)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("attachments"), 2);
    // Only the security administrator sets it.
    let admin = app.login_as("sysadmin").await;
    let r = admin
        .submit(
            "/",
            "/security/policy",
            &[("max_age", "90"), ("quota_mb", "0")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_reply_template_fills_the_reply_box_without_javascript() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = crate::lifecycle::register(&center, "咨询社保转移", "钱七").await;
    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    act(&center, id, "assign", &[("unit_id", &xixiu_unit)]).await;
    act(&xixiu, id, "accept", &[]).await;
    let (_, html) = xixiu.page(&format!("/messages/{id}")).await;
    assert!(html.contains("套用模板"));
    let tid = html
        .split("name=\"template\"")
        .nth(1)
        .and_then(|s| s.split("value=\"").nth(1))
        .and_then(|s| s.split('"').next())
        .expect("a template option")
        .to_string();
    let (status, html) = xixiu
        .page(&format!("/messages/{id}?open=reply&template={tid}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("网友您好！"),
        "template text in the reply box"
    );
    assert!(html.contains("<details class=\"action\" open>"));
}

/// A file gone from the store answers a clear 404 page (its record stays), and `verify`
/// names it; files nobody refers to are reported, and uploads a crash abandoned are
/// swept.
#[tokio::test]
async fn a_missing_file_is_a_clear_404_and_verify_reports_the_store() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let filled = center
        .fill(
            "/messages/new",
            "/messages",
            &register_fields("附件丢失检查", "孔十五"),
        )
        .await;
    let r = center
        .post_multipart(
            "/messages",
            &pairs(&filled),
            &[("files", "现场照片.pdf", b"%PDF-1.4 photo")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = location(&r);
    let (_, html) = center.page(&page).await;
    let link = crate::page::links(&page, &html)
        .into_iter()
        .find(|l| l.starts_with("/attachments/"))
        .expect("the message page links its attachment");
    assert_eq!(center.get(&link).await.status(), StatusCode::OK);

    let root = app.data_dir.join("attachments");
    let stored: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
        .expect("store")
        .flatten()
        .filter(|e| e.path().is_dir() && !e.path().ends_with("incoming"))
        .flat_map(|d| std::fs::read_dir(d.path()).expect("year").flatten())
        .map(|e| e.path())
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    std::fs::remove_file(&stored[0]).expect("the file goes missing");
    let r = center.get(&link).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.expect("body");
    assert!(
        body.contains("附件文件缺失") && body.contains("现场照片.pdf"),
        "{body}"
    );

    // A file nobody refers to (old enough not to be one being placed now), and an
    // upload abandoned two days ago.
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let orphan = stored[0].with_file_name("0123456789abcdef");
    std::fs::write(&orphan, b"%PDF-1.4 stray").expect("orphan");
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .and_then(|f| f.set_modified(hour_ago))
        .expect("age the orphan");
    let incoming = root.join("incoming");
    std::fs::create_dir_all(&incoming).expect("incoming");
    let stale = incoming.join("abandoned");
    std::fs::write(&stale, b"half an upload").expect("stale");
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| {
            f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86400))
        })
        .expect("age the upload");
    let fresh = incoming.join("in-progress");
    std::fs::write(&fresh, b"an upload now").expect("fresh");

    let report = app.verify();
    let said: Vec<&str> = report.breaks.iter().map(|b| b.what.as_str()).collect();
    assert!(
        said.iter()
            .any(|w| w.contains("现场照片.pdf") && w.contains("缺失")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|w| w.contains("未登记的文件") && w.contains("0123456789abcdef")),
        "{said:?}"
    );
    assert_eq!(report.swept, 1);
    assert!(report.summary().contains("清理遗留的临时上传文件 1 个"));
    assert!(!stale.exists() && fresh.exists());
}
