//! 档案上报 and 汇总归档: periods, submissions, returns with reasons, late records, and
//! the 归档文件目录 as a page and as XLSX.

use reqwest::StatusCode;

use crate::batch::followed_up;
use crate::helpers::spawn_app;
use crate::lifecycle::{ok, unit_id};

fn period_id(location: &str) -> String {
    location.trim_start_matches("/archive/periods/").to_string()
}

#[tokio::test]
async fn units_report_their_archives_and_the_centre_accepts_or_returns_them() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = followed_up(&app, &center, &xixiu, "上报测试").await;
    ok(
        &center,
        id,
        "report",
        &[("report_ref_no", "安网呈〔2026〕50号")],
    )
    .await;
    ok(&center, id, "archive", &[]).await;

    let month = app.today().format("%Y-%m").to_string();
    let r = center
        .submit(
            "/archive/periods",
            "/archive/periods",
            &[("period", "2099-01")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "future month");
    let r = center
        .submit(
            "/archive/periods",
            "/archive/periods",
            &[("period", &month)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pid = period_id(&crate::helpers::location(&r));
    let page = format!("/archive/periods/{pid}");

    // 西秀区 sees itself only and submits its one archive.
    let (_, html) = xixiu.page(&page).await;
    assert!(html.contains("安顺市西秀区") && !html.contains("安顺市平坝区"));
    let submit = format!("{page}/submit");
    let r = xixiu.submit(&page, &submit, &[("note", "")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("archive_submissions WHERE state = 'submitted' AND item_count = 1"),
        1
    );
    let r = xixiu.submit(&page, &submit, &[("note", "")]).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "already waiting"
    );

    // Another county cannot read 西秀区's catalogue; the centre can, also as XLSX.
    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    let cat = format!("{page}/catalogue?unit={xixiu_unit}");
    let pingba = app.login_as("pingba").await;
    assert_eq!(pingba.page(&cat).await.0, StatusCode::NOT_FOUND);
    let (status, html) = center.page(&cat).await;
    assert_eq!(status, StatusCode::OK);
    let no = format!("A001-WS·{}-D30-520402-0001", app.today().format("%Y"));
    assert!(html.contains("归档文件目录") && html.contains(&no));
    let r = center.get(&format!("{cat}&format=xlsx")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.expect("xlsx");
    assert!(bytes.starts_with(b"PK"), "an XLSX (zip) file");

    // The handover package: self-contained pages, metadata and a manifest that verifies.
    let pkg = format!("{page}/package?unit={xixiu_unit}");
    assert_eq!(pingba.get(&pkg).await.status(), StatusCode::NOT_FOUND);
    center.confirm_password().await;
    let r = center.get(&pkg).await;
    assert_eq!(r.status(), StatusCode::OK);
    let zip = r.bytes().await.expect("zip");
    let found = liuyan::archive::package::inspect(&zip, None, None);
    assert!(found.problems().is_empty(), "{:?}", found.problems());
    assert_eq!(
        found.files, 3,
        "archive.html, metadata.json and the 四性 report"
    );
    assert_eq!(found.archives, 1);
    let text = String::from_utf8_lossy(&zip);
    assert!(text.contains("archives/A001-WS"));
    assert_eq!(app.count("audit_log WHERE event = 'archive_export'"), 1);

    // Returned without a reason: refused; with one: recorded.
    let sid: i32 = {
        use diesel::prelude::*;
        use liuyan::db::schema::archive_submissions::dsl as s;
        s::archive_submissions
            .select(s::id)
            .first(&mut app.db())
            .expect("submission")
    };
    let review = format!("/archive/submissions/{sid}/review");
    let r = center
        .submit(&page, &review, &[("decision", "return"), ("reason", "")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = xixiu
        .submit(&page, &review, &[("decision", "accept")])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "a county reviews nothing"
    );
    let r = center
        .submit(
            &page,
            &review,
            &[("decision", "return"), ("reason", "缺少回访记录的附件")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = xixiu.page(&page).await;
    assert!(html.contains("缺少回访记录的附件"));
    let r = xixiu.submit(&page, &submit, &[("note", "已补正")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = center.page(&page).await;
    let new_sid = html
        .split("/archive/submissions/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("the new submission")
        .to_string();
    let r = center
        .submit(
            &page,
            &format!("/archive/submissions/{new_sid}/review"),
            &[("decision", "accept")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("archive_submissions WHERE state = 'accepted'"), 1);
    assert_eq!(app.count("archive_submissions WHERE state = 'returned'"), 1);

    // A past month with its due date gone: a department's (zero) report is late.
    let today = app.today();
    let last_month = (today - chrono::Duration::days(40))
        .format("%Y-%m")
        .to_string();
    let r = center
        .submit(
            "/archive/periods",
            "/archive/periods",
            &[("period", &last_month), ("due_date", "2020-01-01")],
        )
        .await;
    let old = format!(
        "/archive/periods/{}",
        period_id(&crate::helpers::location(&r))
    );
    let zhujian = app.login_as("zhujian").await;
    let r = zhujian
        .submit(
            &old,
            &format!("{old}/submit"),
            &[("note", "本月无销号档案")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("archive_submissions WHERE late AND item_count = 0"),
        1
    );

    let admin = app.login_as("sysadmin").await;
    assert_eq!(
        admin.page("/archive/periods").await.0,
        StatusCode::NOT_FOUND
    );
    let r = center.submit(&page, &submit, &[("note", "")]).await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "the centre does not report"
    );
}
