//! 等保 second pass (issue 23): exports that cannot carry formulas, imports that cannot
//! exhaust the server.

use reqwest::StatusCode;

use crate::helpers::spawn_app;
use crate::lifecycle::register;

/// Every field of every row of a CSV download.
fn cells(bytes: &[u8]) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    r.records()
        .flatten()
        .flat_map(|rec| rec.iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

const PAYLOADS: [&str; 4] = [
    "=HYPERLINK(\"http://x\",\"y\")",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(1)",
];

#[tokio::test]
async fn csv_exports_carry_no_formulas() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    for (i, p) in PAYLOADS.iter().enumerate() {
        // As 反映人 and as 标题 (typed at 登记 or arriving in a platform export).
        register(&center, &format!("{p} 第{i}件"), p).await;
        register(&center, p, &format!("王{i}")).await;
    }
    // The list's own 导出 CSV link.
    center.confirm_password().await;
    let (_, list) = center.page("/messages").await;
    let link = crate::page::links("/messages", &list)
        .into_iter()
        .find(|l| l.contains("format=csv"))
        .expect("导出 CSV on the list");
    let r = center.get(&link).await;
    assert_eq!(r.status(), StatusCode::OK);
    let got = cells(&r.bytes().await.expect("csv"));
    for p in PAYLOADS {
        assert!(
            got.iter().any(|c| c == &format!("'{p}")),
            "{p} neutralised: {got:?}"
        );
    }
    assert!(
        got.iter().all(|c| !c.starts_with(['=', '+', '@'])),
        "no cell starts a formula: {got:?}"
    );

    // The audit log: a failed login with such a username is written there.
    let stranger = app.browser();
    stranger.login("=cmd|' /c calc'!a0", "wrong").await;
    let auditor = app.login_as("auditor").await;
    auditor.confirm_password().await;
    let (_, page) = auditor.page("/audit").await;
    let link = crate::page::links("/audit", &page)
        .into_iter()
        .find(|l| l.contains("/audit/export"))
        .expect("the audit page's export link");
    let got = cells(&auditor.get(&link).await.bytes().await.expect("csv"));
    assert!(got.iter().any(|c| c == "'=cmd|' /c calc'!a0"), "{got:?}");
    assert!(got.iter().all(|c| !c.starts_with(['=', '+', '@'])));
}

/// A workbook of the given parts (and the few every XLSX has).
fn workbook(parts: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let base: [(&str, &[u8]); 4] = [
        ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#),
        ("_rels/.rels", br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
        ("xl/workbook.xml", br#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
        ("xl/_rels/workbook.xml.rels", br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#),
    ];
    for (name, bytes) in base {
        w.start_file(name, o).expect("part");
        w.write_all(bytes).expect("write");
    }
    for (name, bytes) in parts {
        w.start_file(*name, o).expect("part");
        w.write_all(bytes).expect("write");
    }
    w.finish().expect("zip").into_inner()
}

fn sheet(cells: &str) -> Vec<u8> {
    format!(r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{cells}</sheetData></worksheet>"#).into_bytes()
}

#[tokio::test]
async fn hostile_spreadsheets_are_refused_and_the_site_keeps_answering() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let far_cell = workbook(&[(
        "xl/worksheets/sheet1.xml",
        sheet(
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t>标题</t></is></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#,
        ),
    )]);
    assert!(far_cell.len() < 5_000, "a small file: {}", far_cell.len());
    let huge_string = workbook(&[(
        "xl/worksheets/sheet1.xml",
        sheet(&format!(
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t>{}</t></is></c></row>"#,
            "留".repeat(10_000_000)
        )),
    )]);
    for (name, bytes, says) in [
        ("far.xlsx", far_cell, "超出导入上限"),
        ("string.xlsx", huge_string, "压缩比异常"),
    ] {
        let (_, page) = center.page("/import").await;
        let r = center
            .post_multipart(
                "/import",
                &[
                    (
                        "csrf_token",
                        &crate::helpers::csrf_of(&page).expect("token"),
                    ),
                    ("platform", "市长信箱"),
                    ("level", "市级"),
                    ("category", "投诉举报"),
                    ("reply_unit", ""),
                ],
                &[("files", name, &bytes)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let text = r.text().await.unwrap_or_default();
        assert!(text.contains(says), "{name}: {text}");
        // Still answering.
        assert_eq!(app.browser().get("/healthz").await.status(), StatusCode::OK);
        assert_eq!(center.page("/import").await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn names_tell_the_truth_and_text_loses_invisible_characters() {
    use diesel::prelude::*;
    use liuyan::db::schema::attachments::dsl as at;
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    // 反映人 with a right-to-left override, a zero-width space and a NUL.
    let id = register(&center, "不可见字符测试", "张\u{202E}三\u{200B}\u{0}").await;
    assert_eq!(app.personal(id).0, "张三");
    let unit = crate::lifecycle::unit_id(&app, "安顺市西秀区");
    crate::lifecycle::ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    crate::lifecycle::ok(&xixiu, id, "accept", &[]).await;
    for (given, kept) in [
        ("invoice.hta", "invoice.pdf"),
        ("run.bat", "run.pdf"),
        ("notice.html", "notice.pdf"),
        ("invoice\u{202E}fdp.exe", "invoicefdp.pdf"),
        ("扫描件.PDF", "扫描件.PDF"),
    ] {
        let r = progress_with_file(&xixiu, id, given, b"%PDF-1.4 <script>alert(1)</script>").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{given}");
        let stored: String = at::attachments
            .filter(at::message_id.eq(id))
            .order(at::id.desc())
            .select(at::original_name)
            .first(&mut app.db())
            .expect("attachment");
        assert_eq!(stored, kept, "{given:?}");
    }
}

/// 办理进展 with one file, through the message page's form.
async fn progress_with_file(
    b: &crate::helpers::Browser,
    id: i32,
    name: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let (_, html) = b.page(&format!("/messages/{id}")).await;
    b.post_multipart(
        &format!("/messages/{id}/act/progress"),
        &[
            (
                "csrf_token",
                &crate::helpers::csrf_of(&html).expect("token"),
            ),
            ("version", &crate::lifecycle::version_of(&html)),
            ("text", "材料"),
        ],
        &[("files", name, bytes)],
    )
    .await
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_the_database_file_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    // Loosened by hand (or a careless umask), tightened again at the next start.
    std::fs::set_permissions(&app.data_dir, std::fs::Permissions::from_mode(0o755))
        .expect("loosen");
    let again = app.restart_at(app.clock).await;
    assert_eq!(mode(&again.data_dir), 0o700);
    if !again.database_url.starts_with("postgres") {
        assert_eq!(mode(&again.data_dir.join("test.db")), 0o600);
    }
    assert_eq!(mode(&again.data_dir.join("signing.key")), 0o600);
}

/// 三员分立: the 系统管理员 can neither make nor take over an administrator account.
#[tokio::test]
async fn the_system_administrator_cannot_touch_administrator_accounts() {
    use diesel::prelude::*;
    use liuyan::db::schema::users::dsl as us;
    let app = spawn_app().await;
    let sys = app.login_as("sysadmin").await;
    let id_of = |name: &str| -> i32 {
        us::users
            .filter(us::username.eq(name))
            .select(us::id)
            .first(&mut app.db())
            .expect("user")
    };
    // The new-user form offers no administrator role.
    let (_, form) = sys.page("/admin/users/new").await;
    for role in ["sys_admin", "sec_admin", "audit_admin"] {
        assert!(
            !form.contains(&format!("value=\"{role}\"")),
            "{role} offered"
        );
    }
    let before = app.whole_database();
    // A forged request for one is refused (and audited).
    let token = crate::helpers::csrf_of(&form).expect("token");
    let centre = crate::lifecycle::unit_id(&app, "安顺市社情民意研究中心");
    let r = sys
        .post_raw(
            "/admin/users",
            &[
                ("csrf_token", &token),
                ("username", "sec2"),
                ("display_name", "第二安全管理员"),
                ("unit_id", &centre),
                ("role", "sec_admin"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap_or_default().contains("三员分立"));
    // The auditor's and the security administrator's accounts: no reset, no change, no
    // disabling; the pages offer none of it.
    for target in ["auditor", "secadmin"] {
        let id = id_of(target);
        let page = format!("/admin/users/{id}");
        let (_, html) = sys.page(&page).await;
        assert!(
            !html.contains("reset-password"),
            "{target}: no reset offered"
        );
        assert!(html.contains("三员分立"));
        let token = crate::helpers::csrf_of(&html).expect("token");
        for (action, fields) in [
            (format!("{page}/reset-password"), vec![]),
            (format!("{page}/active"), vec![("active", "0")]),
            (
                page.clone(),
                vec![
                    ("username", target),
                    ("display_name", "改名"),
                    ("unit_id", centre.as_str()),
                    ("role", "city_operator"),
                ],
            ),
        ] {
            let mut all = vec![("csrf_token", token.as_str())];
            all.extend(fields);
            let r = sys.post_raw(&action, &all).await;
            assert!(
                r.status() == StatusCode::FORBIDDEN
                    || r.status() == StatusCode::UNPROCESSABLE_ENTITY,
                "{action}: {}",
                r.status()
            );
            let body = r.text().await.unwrap_or_default();
            assert!(!body.contains("临时密码"), "{action}: no password shown");
        }
    }
    assert_eq!(app.whole_database(), before, "nothing changed");
    assert!(app.count("audit_log WHERE result = '失败' AND detail LIKE '%三员分立%'") >= 7);
    // A business account is still the 系统管理员's to reset — and the reset leaves a lock
    // for the 安全管理员 to lift.
    let id = id_of("xixiu");
    {
        // Locked (as guesses from several addresses would leave it).
        let until = (app.today() + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight");
        diesel::update(us::users.find(id))
            .set(us::locked_until.eq(Some(until)))
            .execute(&mut app.db())
            .expect("lock");
    }
    let page = format!("/admin/users/{id}");
    let r = sys
        .submit(&page, &format!("{page}/reset-password"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap_or_default().contains("临时密码"));
    let locked: Option<chrono::NaiveDateTime> = us::users
        .find(id)
        .select(us::locked_until)
        .first(&mut app.db())
        .expect("lock");
    assert!(locked.is_some(), "the reset does not unlock");
}

/// Menu entries only where the page exists: every entry of every demo account's menu
/// opens (a township's account has no 量化考评, since townships are not assessed).
#[tokio::test]
async fn every_menu_entry_opens_for_every_account() {
    let app = spawn_app().await;
    for who in [
        "center", "leader", "xixiu", "pingba", "zhujian", "renshe", "nanjie", "sysadmin",
        "secadmin", "auditor",
    ] {
        let b = app.login_as(who).await;
        let (_, home) = b.page("/").await;
        let doc = scraper::Html::parse_document(&home);
        let sel = scraper::Selector::parse("nav a").expect("selector");
        let entries: Vec<String> = doc
            .select(&sel)
            .filter_map(|a| a.value().attr("href").map(str::to_string))
            .collect();
        assert!(!entries.is_empty(), "{who} has a menu");
        for href in &entries {
            let r = b.get(href).await;
            let status = if r.status() == StatusCode::SEE_OTHER {
                // 量化考评 of a county or department: its own unit's page.
                b.page(&crate::helpers::location(&r)).await.0
            } else {
                r.status()
            };
            assert_eq!(status, StatusCode::OK, "{who}: {href}");
        }
        if who == "nanjie" {
            assert!(!entries.iter().any(|h| h == "/scores"), "{entries:?}");
        }
    }
}

#[test]
fn a_misspelt_database_url_stops_the_program_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    for url in [
        "postgress://liuyan:s3cret@db/liuyan",
        "pgsql://liuyan:s3cret@db/liuyan",
        "mysql://liuyan:s3cret@db/liuyan",
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_liuyan"))
            .arg("migrate")
            .current_dir(dir.path())
            .env("DATABASE_URL", url)
            .env("LIUYAN_DATA_DIR", dir.path().join("data"))
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}");
        assert!(err.contains("无法识别"), "{err}");
        assert!(
            !err.contains("s3cret"),
            "the password is not printed: {err}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert!(left.is_empty(), "no file is created: {left:?}");
    }
}

#[test]
fn a_data_directory_that_cannot_be_made_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let data = file.join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liuyan"))
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .env("LIUYAN_DATA_DIR", &data)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("数据目录") && err.contains(&data.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn head_answers_wherever_get_does() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for path in ["/healthz", "/readyz", "/login"] {
        let url = format!("{}{path}", app.address);
        let get = client.get(&url).send().await.expect("get");
        let head = client.head(&url).send().await.expect("head");
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert!(head.bytes().await.expect("body").is_empty(), "{path}");
    }
    // A page that needs a login redirects on HEAD as on GET; an unknown one is 404.
    let page = client
        .head(format!("{}/messages", app.address))
        .send()
        .await
        .expect("head");
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let none = client
        .head(format!("{}/no-such-page", app.address))
        .send()
        .await
        .expect("head");
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
}

/// The message page's link to its archive.
pub async fn archive_link(b: &crate::helpers::Browser, id: i32) -> String {
    let message = format!("/messages/{id}");
    let (_, html) = b.page(&message).await;
    crate::page::links(&message, &html)
        .into_iter()
        .find(|l| l.starts_with("/messages/") && l.ends_with("/archive"))
        .expect("the message page links its archive")
}

/// The archive page and the fingerprint printed on it.
async fn archive_qr(b: &crate::helpers::Browser, id: i32) -> (String, String) {
    let page = archive_link(b, id).await;
    let (status, html) = b.page(&page).await;
    assert_eq!(status, StatusCode::OK);
    let fp = html
        .split("class=\"fp-value\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("fingerprint")
        .to_string();
    (html, fp)
}

fn qr_for(base: &str, fp: &str, id: i32) -> String {
    liuyan::web::archive::qr_svg(
        &format!("{base}/archive/check?fp={fp}&m={id}"),
        "核验二维码",
    )
}

fn login_ip(app: &crate::helpers::TestApp, user: &str) -> String {
    use diesel::prelude::*;
    use liuyan::db::schema::audit_log::dsl as a;
    a::audit_log
        .filter(a::event.eq("login"))
        .filter(a::username.eq(user))
        .order(a::id.desc())
        .select(a::ip)
        .first(&mut app.db())
        .expect("login audited")
}

/// Forwarding headers count only from a trusted proxy (LIUYAN_TRUSTED_PROXIES): for the
/// audit log's address and the login limit; the QR code and the Origin check use
/// LIUYAN_PUBLIC_URL or the Host header, never a forwarded host.
#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    // Nothing trusted: a client's own forwarding headers change nothing.
    let app = spawn_app().await;
    let forged = [
        ("x-forwarded-for", "1.2.3.4"),
        ("x-real-ip", "1.2.3.5"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=1.2.3.6;host=evil.example;proto=https"),
    ];
    let b = app.browser_with(&forged);
    assert_eq!(
        b.login("center", crate::helpers::DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(login_ip(&app, "center"), "127.0.0.1");
    let id = register(&b, "转发头测试留言", "转发甲").await;
    let (html, fp) = archive_qr(&b, id).await;
    assert!(
        html.contains(&qr_for(&app.address, &fp, id)),
        "QR for the real host"
    );
    assert!(!html.contains(&qr_for("https://evil.example", &fp, id)));
    let token = crate::helpers::csrf_of(&html).expect("token");
    let r = b
        .client
        .post(b.url("/logout"))
        .header("origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a forged origin is refused"
    );

    // Behind a trusted proxy, with the public address configured.
    let public = "https://liuyan.example.gov.cn";
    let app = crate::helpers::spawn_tuned(true, false, |c| {
        c.trusted_proxies = liuyan::auth::client::parse_trusted("127.0.0.1").expect("list");
        c.public_url = Some(public.to_string());
        c.login_per_minute = 30;
    })
    .await;
    let b = app.browser_with(&[
        ("x-forwarded-for", "10.9.8.7"),
        ("x-forwarded-host", "evil.example"),
    ]);
    assert_eq!(
        b.login("center", crate::helpers::DEMO_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(login_ip(&app, "center"), "10.9.8.7");
    let id = register(&b, "代理后的留言", "转发乙").await;
    let (html, fp) = archive_qr(&b, id).await;
    assert!(
        html.contains(&qr_for(public, &fp, id)),
        "QR for LIUYAN_PUBLIC_URL"
    );
    let token = crate::helpers::csrf_of(&html).expect("token");
    let post = |origin: &'static str| {
        b.client
            .post(b.url("/logout"))
            .header("origin", origin)
            .form(&[("csrf_token", token.clone())])
            .send()
    };
    let r = post("http://evil.example").await.expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(public).await.expect("post");
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the public origin is the site's"
    );

    // The login limit is per client behind the proxy: forty clerks from forty desks get
    // in (burst 10, 30 a minute), while one desk trying passwords is stopped.
    let mut refused = 0;
    for n in 0..40 {
        let desk = format!("10.20.{}.{}", n / 200, n % 200 + 1);
        let clerk = app.browser_with(&[("x-forwarded-for", desk.as_str())]);
        let r = clerk.login("center", crate::helpers::DEMO_PASSWORD).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 0, "no 429 for clerks at different desks");
    let guesser = app.browser_with(&[("x-forwarded-for", "10.30.0.1")]);
    let mut stopped = false;
    for _ in 0..15 {
        let r = guesser.login("nobody-here", "wrong-password-1").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            stopped = true;
            break;
        }
    }
    assert!(stopped, "one desk guessing passwords is stopped");
}

/// 反映人 and 联系方式 are sealed at rest (SM4-GCM under the site's secret key): neither
/// is in the database — not in the row, the search index or the timeline — while the
/// pages show them, the 重复件 check and the search box find them, and a sealed value
/// moved to another row or altered is found by `verify`.
#[tokio::test]
async fn personal_data_is_sealed_at_rest_and_still_found() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let (name, phone) = ("封存测试人", crate::lifecycle::contact_of("封存测试人"));
    let id = register(&center, "小区门口路灯不亮", name).await;
    let other = register(&center, "菜市场排水沟堵塞", "另一位反映人").await;
    // A 补正 of the 反映人: the timeline keeps old → new, sealed too.
    let form_page = format!("/messages/{id}");
    let (_, html) = center.page(&form_page).await;
    let link = crate::page::links(&form_page, &html)
        .into_iter()
        .find(|l| l.contains("field=complainant_name"))
        .expect("the 补正 link of 反映人");
    let (_, form) = center.page(&link).await;
    let action = crate::page::forms(&link, &form)
        .into_iter()
        .map(|f| f.action)
        .find(|a| a.ends_with("/act/correct"))
        .expect("the correction form");
    let r = center
        .submit(
            &link,
            &action,
            &[("value", "封存测试人甲"), ("text", "登记时漏写")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = center.page(&form_page).await;
    assert!(page.contains("封存测试人甲"), "the page shows the name");
    assert!(
        page.contains("封存测试人 → 封存测试人甲"),
        "the timeline: {page}"
    );

    // Nowhere in the database in clear.
    let mut c = app.db();
    for text in [name, phone.as_str()] {
        let like = format!("%{text}%");
        for (table, columns) in [
            (
                "messages",
                "complainant_name || complainant_contact || title || appeal",
            ),
            ("message_events", "detail || text"),
            ("audit_log", "detail || object"),
        ] {
            let n = app.count(&format!(
                "{table} WHERE {columns} LIKE '{}'",
                like.replace('\'', "''")
            ));
            assert_eq!(n, 0, "{text} in {table}");
        }
    }
    if app.database_url.starts_with("postgres") {
        assert_eq!(
            app.count(&format!("message_search WHERE body LIKE '%{name}%'")),
            0
        );
    } else {
        // The file itself (and its write-ahead log), index pages included.
        diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut c)
            .expect("checkpoint");
        let mut bytes = std::fs::read(app.data_dir.join("test.db")).expect("database file");
        bytes.extend(std::fs::read(app.data_dir.join("test.db-wal")).unwrap_or_default());
        for text in [name, phone.as_str()] {
            assert!(
                !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                "{text} in the database file"
            );
        }
    }

    // Found: the same phone under another name is a possible repeat at 登记 …
    let mut f = crate::lifecycle::register_fields("路灯问题再次反映", "换了名字的人");
    f[4] = ("complainant_contact", phone.as_str());
    let r = center.submit("/messages/new", "/messages", &f).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("body");
    assert!(
        html.contains("可能重复") && html.contains("小区门口路灯不亮"),
        "{html}"
    );
    // … and the search box opens the message by its phone number.
    let r = center
        .submit_get("/messages", "/messages", &[("q", phone.as_str())])
        .await;
    assert_eq!(crate::helpers::location(&r), format!("/messages/{id}"));

    // Tampering: the sealed 反映人 of two messages swapped, and one byte of a sealed
    // 联系方式 changed, directly in the database.
    assert!(app.problems().is_empty(), "{:?}", app.problems());
    use liuyan::db::schema::messages::dsl as m;
    let raw = |c: &mut liuyan::db::DbConn, id: i32| -> (String, String) {
        m::messages
            .find(id)
            .select((m::complainant_name, m::complainant_contact))
            .first(c)
            .expect("raw")
    };
    let (a, b) = (raw(&mut c, id), raw(&mut c, other));
    assert!(
        a.0.starts_with("sm4gcm:") && a.1.starts_with("sm4gcm:"),
        "{a:?}"
    );
    let mut altered = a.1.clone();
    let last = altered.pop().map(|ch| if ch == '0' { '1' } else { '0' });
    altered.extend(last);
    diesel::update(m::messages.find(id))
        .set((
            m::complainant_name.eq(&b.0),
            m::complainant_contact.eq(&altered),
        ))
        .execute(&mut c)
        .expect("tamper");
    diesel::update(m::messages.find(other))
        .set(m::complainant_name.eq(&a.0))
        .execute(&mut c)
        .expect("tamper");
    let breaks = app.verify().breaks;
    let mut reported: Vec<i32> = breaks.iter().filter_map(|b| b.message_id).collect();
    reported.sort_unstable();
    assert_eq!(reported, vec![id, other], "both messages reported");
    assert!(
        breaks.iter().any(|b| b
            .what
            .contains("1 条留言的反映人或联系方式无法用本机的加密密钥解密")),
        "{breaks:?}"
    );
    let (_, page) = center.page(&form_page).await;
    assert!(
        page.contains("（无法解密）"),
        "the altered contact cannot be read"
    );
    assert!(
        page.contains("另一位反映人"),
        "the moved name opens to what it was"
    );
}

/// A database from before sealing (反映人 and 联系方式 in clear, no digests) is sealed in
/// the background after start-up; its archive seals still verify (they cover the values,
/// not how they are stored).
#[tokio::test]
async fn values_in_clear_are_sealed_after_start_up() {
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let id = register(&center, "升级前登记的留言", "旧库明文人").await;
    let phone = crate::lifecycle::contact_of("旧库明文人");
    diesel::update(m::messages.find(id))
        .set((
            m::complainant_name.eq("旧库明文人"),
            m::complainant_contact.eq(&phone),
            m::name_key.eq(None::<String>),
            m::contact_key.eq(None::<String>),
        ))
        .execute(&mut app.db())
        .expect("as before sealing");
    assert!(app.problems().is_empty(), "{:?}", app.problems());
    let again = app.restart_at(app.clock).await;
    let raw = || -> (String, Option<String>) {
        m::messages
            .find(id)
            .select((m::complainant_name, m::contact_key))
            .first(&mut again.db())
            .expect("raw")
    };
    for _ in 0..100 {
        if raw().1.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(raw().0.starts_with("sm4gcm:"), "sealed: {:?}", raw());
    assert_eq!(
        again.personal(id),
        ("旧库明文人".to_string(), phone.clone())
    );
    assert_eq!(again.with_contact(&phone), 1);
    assert!(again.problems().is_empty(), "{:?}", again.problems());
}

/// DOC, XLS, DOCX, XLSX and OFD attachments are checked by their container (the ZIP's
/// central directory, the OLE2 directory and the format's own part), not by their first
/// bytes alone: a script behind the right signature is refused, real files pass.
#[tokio::test]
async fn office_files_are_checked_by_their_container() {
    use std::io::Write;
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "附件容器检查", "容器检查人").await;
    let unit = crate::lifecycle::unit_id(&app, "安顺市西秀区");
    crate::lifecycle::ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    crate::lifecycle::ok(&xixiu, id, "accept", &[]).await;
    let docx = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for part in ["[Content_Types].xml", "word/document.xml"] {
            w.start_file(part, zip::write::SimpleFileOptions::default())
                .expect("part");
            w.write_all(b"<w:document/>").expect("write");
        }
        w.finish().expect("zip").into_inner()
    };
    let doc = {
        let mut cf = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).expect("cfb");
        cf.create_stream("/WordDocument")
            .expect("stream")
            .write_all(&[0; 600])
            .expect("write");
        cf.flush().expect("flush");
        cf.into_inner().into_inner()
    };
    let mut ole_script = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole_script.extend_from_slice(b"<script>alert(1)</script>");
    let zip_script = b"PK\x03\x04 word/ <script>alert(1)</script>".to_vec();
    let send = |name: &'static str, bytes: Vec<u8>| {
        let xixiu = &xixiu;
        async move { progress_with_file(xixiu, id, name, &bytes).await }
    };
    for (name, bytes) in [("说明.doc", ole_script), ("说明.docx", zip_script)] {
        let r = send(name, bytes).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let page = r.text().await.expect("body");
        assert!(page.contains("文件类型不被接受"), "{name}: {page}");
    }
    assert_eq!(
        app.count(&format!("attachments WHERE message_id = {id}")),
        0
    );
    for (name, bytes) in [("答复.docx", docx), ("答复.doc", doc)] {
        let r = send(name, bytes).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
    }
    assert_eq!(
        app.count(&format!("attachments WHERE message_id = {id}")),
        2
    );
}
