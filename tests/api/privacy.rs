//! Personal information: 联系方式 masked in every list, print and export; the full number
//! only to the owner and the handling unit after an explicit, audited request.

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app};
use crate::lifecycle::{ok, register, unit_id};

/// Whether a body holds an unmasked mainland mobile number (1 followed by ten digits).
/// Whether a page holds a full mobile number (11 digits starting with 1).
pub fn has_mobile(body: &str) -> bool {
    let d: Vec<char> = body.chars().collect();
    d.windows(11).enumerate().any(|(i, w)| {
        w[0] == '1'
            && w.iter().all(|c| c.is_ascii_digit())
            && (i == 0 || !d[i - 1].is_ascii_digit())
            && d.get(i + 11).is_none_or(|c| !c.is_ascii_digit())
    })
}

#[tokio::test]
async fn the_full_contact_is_shown_only_on_request_and_audited() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let leader = app.login_as("leader").await;
    let id = register(&center, "个人信息测试", "陈十三").await;
    let page = format!("/messages/{id}");

    // Masked everywhere (exports too, once the password is re-entered).
    center.confirm_password().await;
    for path in [
        page.clone(),
        "/messages".to_string(),
        format!("/messages?q={}", liuyan::web::utf8_percent("个人信息")),
        format!("/messages/{id}/archive"),
        "/messages/export?format=csv".to_string(),
        "/".to_string(),
    ] {
        let r = center.get(&path).await;
        let body = String::from_utf8_lossy(&r.bytes().await.expect("body")).to_string();
        assert!(!has_mobile(&body), "full number on {path}");
    }
    let r = center.get("/messages/export?format=xlsx").await;
    let bytes = r.bytes().await.expect("xlsx");
    assert!(!has_mobile(&String::from_utf8_lossy(&bytes)));

    // A purpose is required; then the number, audited without the number.
    let contact = format!("/messages/{id}/contact");
    let r = center.submit(&page, &contact, &[("purpose", "")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = center
        .submit(&page, &contact, &[("purpose", "回访网民")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let full = crate::lifecycle::contact_of("陈十三");
    assert!(r.text().await.expect("body").contains(&full));
    assert_eq!(app.count("audit_log WHERE event = 'contact_view'"), 1);
    assert_eq!(
        app.count(&format!(
            "audit_log WHERE detail LIKE '%{full}%' OR object LIKE '%{full}%'"
        )),
        0
    );

    // The leader (read only), another county and the not-yet-assigned handler: nothing.
    for b in [&leader, &xixiu] {
        let r = b.submit("/", &contact, &[("purpose", "回访网民")]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    ok(
        &center,
        id,
        "assign",
        &[("unit_id", &unit_id(&app, "安顺市西秀区"))],
    )
    .await;
    let r = xixiu
        .submit(&page, &contact, &[("purpose", "核实情况")])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the handling unit may call the citizen"
    );
    assert_eq!(app.count("audit_log WHERE event = 'contact_view'"), 2);
    let (_, leader_page) = leader.page(&page).await;
    assert!(!leader_page.contains("查看完整联系方式"));
}

#[tokio::test]
async fn exports_with_personal_data_ask_for_the_password_again() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    register(&center, "导出确认测试", "褚十四").await;
    let export = "/messages/export?format=csv&state=registered";
    let r = center.get(export).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let confirm = location(&r);
    assert_eq!(
        confirm,
        format!(
            "/account/confirm?next={}",
            liuyan::web::utf8_percent(export)
        )
    );
    let (status, page) = center.page(&confirm).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("导出留言清单") && page.contains("登录密码"),
        "{page}"
    );
    assert_eq!(app.count("audit_log WHERE event = 'export'"), 0);
    // A wrong password: the page again, nothing exported.
    let r = center
        .submit(
            &confirm,
            "/account/confirm",
            &[("password", "Wrong@2026x"), ("next", export)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(center.get(export).await.status(), StatusCode::SEE_OTHER);
    // The right one: a page that starts the download by itself (and links to it and
    // back to the list), and the export now answers.
    let r = center
        .submit(
            &confirm,
            "/account/confirm",
            &[
                ("password", crate::helpers::DEMO_PASSWORD),
                ("next", export),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("page");
    let escaped = export.replace('&', "&#38;");
    assert!(
        page.contains(&format!(
            "<meta http-equiv=\"refresh\" content=\"1;url={escaped}\">"
        )),
        "{page}"
    );
    assert!(page.contains(&format!("<a href=\"{escaped}\">点此下载</a>")));
    assert!(page.contains("<a href=\"/messages?format=csv&#38;state=registered\">返回</a>"));
    let r = center.get(export).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.count("audit_log WHERE event = 'export'"), 1);
    assert_eq!(
        app.count("audit_log WHERE event = 'password_confirm' AND result = '成功'"),
        1
    );
    assert_eq!(
        app.count("audit_log WHERE event = 'password_confirm' AND result = '失败'"),
        1
    );
    // Only paths on this site are followed afterwards.
    let r = center
        .submit(
            &confirm,
            "/account/confirm",
            &[
                ("password", crate::helpers::DEMO_PASSWORD),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/");
}
