//! Stored script payloads in every text field come back escaped on every page that shows
//! them: the message, lists, search, the printed archive, the dashboard and the audit log.

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app};
use crate::lifecycle::{ok, register_fields, unit_id};

const PAYLOAD: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

fn clean(body: &str, page: &str) {
    assert!(!body.contains("<script>alert"), "raw script on {page}");
    assert!(!body.contains("<img src=x"), "raw img on {page}");
}

#[tokio::test]
async fn payloads_are_escaped_everywhere() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let title = format!("标题{PAYLOAD}");
    let appeal = format!("诉求{PAYLOAD}");
    let name = "张<b>三</b>";
    let mut f = register_fields(&title, name);
    f[6] = ("appeal", &appeal);
    let filled = center.fill("/messages/new", "/messages", &f).await;
    let fields = crate::helpers::pairs(&filled);
    let r = center
        .post_multipart(
            "/messages",
            &fields,
            &[("files", "<script>x</script>.pdf", b"%PDF-1.4 x")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id: i32 = location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("id");
    ok(
        &center,
        id,
        "assign",
        &[("unit_id", &unit_id(&app, "安顺市西秀区"))],
    )
    .await;
    ok(&xixiu, id, "accept", &[]).await;
    ok(&xixiu, id, "reply", &[("text", PAYLOAD), ("resolved", "1")]).await;
    // A unit name with a payload.
    let admin = app.login_as("sysadmin").await;
    let r = admin
        .submit(
            "/admin/units/new",
            "/admin/units",
            &[
                ("name", "恶意<script>alert(3)</script>局"),
                ("short_name", ""),
                ("kind", "department"),
                ("parent_id", ""),
                ("code", ""),
                ("sort_order", "0"),
            ],
        )
        .await;
    assert!(r.status() == StatusCode::SEE_OTHER || r.status() == StatusCode::UNPROCESSABLE_ENTITY);
    let pages = [
        format!("/messages/{id}"),
        "/messages".to_string(),
        format!("/messages?q={}", liuyan::web::utf8_percent("标题")),
        format!("/messages/{id}/archive"),
        "/dashboard".to_string(),
        "/".to_string(),
    ];
    for p in &pages {
        let (status, body) = center.page(p).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        clean(&body, p);
    }
    let (_, body) = center.page(&format!("/messages/{id}")).await;
    assert!(
        body.contains("&lt;script&gt;") || body.contains("&#60;script&#62;"),
        "escaped, not dropped"
    );
    let (_, units) = admin.page("/admin/units").await;
    clean(&units, "/admin/units");
    let auditor = app.login_as("auditor").await;
    let (_, audit) = auditor.page("/audit").await;
    clean(&audit, "/audit");
    let (_, xixiu_page) = xixiu.page(&format!("/messages/{id}")).await;
    clean(&xixiu_page, "handler's view");
}
