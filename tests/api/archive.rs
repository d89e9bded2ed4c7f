//! 记实档案: the printable page, print records and 纸电一致, the fingerprint check,
//! gap-free 档号 under concurrent 销号, completeness, and tamper detection.

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;

use crate::batch::followed_up;
use crate::helpers::{csrf_of, spawn_app, Browser, TestApp};
use crate::lifecycle::{act, ok, register, state, version_of};

/// Take a 已回访 message through 呈报 and 销号.
pub async fn archived(app: &TestApp, center: &Browser, xixiu: &Browser, title: &str) -> i32 {
    let id = followed_up(app, center, xixiu, title).await;
    ok(
        center,
        id,
        "report",
        &[("report_ref_no", "安网呈〔2026〕40号")],
    )
    .await;
    ok(center, id, "archive", &[("retention", "永久")]).await;
    id
}

fn fingerprint_of(html: &str) -> String {
    html.split("class=\"fp-value\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("fingerprint on the page")
        .to_string()
}

#[tokio::test]
async fn the_archive_page_prints_everything_and_tracks_the_paper_copy() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;

    // Before 销号: missing elements are marked 缺.
    let open = register(&center, "未办结的留言", "吴十").await;
    let (status, html) = center.page(&format!("/messages/{open}/archive")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("missing-mark"));
    assert!(html.contains("要素缺"));

    let id = archived(&app, &center, &xixiu, "路面塌陷请修复").await;
    let page = format!("/messages/{id}/archive");
    let (_, html) = center.page(&page).await;
    for name in [
        "留言文号",
        "级别",
        "留言来源平台",
        "反映人",
        "联系方式",
        "留言标题",
        "主要诉求",
        "留言时间",
        "核办单位",
        "到期时间",
        "所属类型",
        "办理情况",
        "是否化解",
        "评价内容",
        "回访时间",
        "呈报文号",
    ] {
        assert!(html.contains(name), "element {name}");
    }
    assert!(!html.contains("missing-mark"), "all 16 present");
    let year = app.today().format("%Y").to_string();
    assert!(
        html.contains(&format!("A001-WS·{year}-Y-520402-0001")),
        "档号: {html}"
    );
    assert!(html.contains("****5678") && !crate::privacy::has_mobile(&html));
    for step in [
        "登记",
        "转办",
        "签收",
        "答复",
        "审核通过",
        "回访",
        "呈报",
        "销号",
    ] {
        assert!(html.contains(step), "timeline step {step}");
    }
    assert!(html.contains("<svg"), "QR code");
    assert!(html.contains("尚未打印纸质档案"));
    let fp = fingerprint_of(&html);

    // A print is recorded; the paper then matches.
    let r = center
        .submit(&page, &format!("/messages/{id}/archive/print"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("archive_prints"), 1);
    let (_, msg_page) = center.page(&format!("/messages/{id}")).await;
    assert!(msg_page.contains("纸质档与电子档一致"));
    let (_, check) = center.page(&format!("/archive/check?fp={fp}")).await;
    assert!(check.contains("该纸质档与电子档一致"), "{check}");

    // An amendment after printing: the paper is stale, and the check says what changed.
    ok(
        &center,
        id,
        "amend",
        &[("text", "更正：反映人姓名应为周玖")],
    )
    .await;
    let (_, msg_page) = center.page(&format!("/messages/{id}")).await;
    assert!(msg_page.contains("打印后已变更 1 处，请重新打印归档"));
    let (_, check) = center
        .page(&format!(
            "/archive/check?fp={}",
            fp.to_lowercase().replace('-', "")
        ))
        .await;
    assert!(check.contains("该纸质档已不是最新"));
    assert!(check.contains("更正：反映人姓名应为周玖"));
    let (status, check) = center.page("/archive/check?fp=12345").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(check.contains("指纹应为 12 位"));

    // Another county sees neither the archive nor the print check result.
    let pingba = app.login_as("pingba").await;
    let (status, _) = pingba.page(&page).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, check) = pingba.page(&format!("/archive/check?fp={fp}")).await;
    assert!(check.contains("没有找到"));
    let r = pingba
        .submit("/", &format!("/messages/{id}/archive/print"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("archive_prints"), 1);
    let admin = app.login_as("sysadmin").await;
    assert_eq!(admin.page("/archive").await.0, StatusCode::NOT_FOUND);
    assert_eq!(admin.page(&page).await.0, StatusCode::NOT_FOUND);

    // Completeness and the batch for 西秀区 this month.
    let xixiu_unit = crate::lifecycle::unit_id(&app, "安顺市西秀区");
    let (_, summary) = center.page("/archive").await;
    assert!(summary.contains("安顺市西秀区"));
    let month = app.today().format("%Y-%m").to_string();
    let (status, batch) = center
        .page(&format!("/archive/print?unit={xixiu_unit}&month={month}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(batch.matches("class=\"archive-doc\"").count(), 1);
    let pingba_unit = crate::lifecycle::unit_id(&app, "安顺市平坝区");
    let (status, _) = xixiu
        .page(&format!("/archive/print?unit={pingba_unit}&month={month}"))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a county prints only its own"
    );
}

#[tokio::test]
async fn concurrent_close_outs_get_gap_free_piece_numbers() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let id = followed_up(&app, &center, &xixiu, &format!("并发销号{i}")).await;
        ok(
            &center,
            id,
            "report",
            &[("report_ref_no", "安网呈〔2026〕41号")],
        )
        .await;
        ids.push(id);
    }
    // Each close-out from its own browser, all at once.
    let mut forms = Vec::new();
    for id in &ids {
        let b = app.login_as("center").await;
        let (_, html) = b.page(&format!("/messages/{id}")).await;
        forms.push((b, *id, version_of(&html), csrf_of(&html).expect("token")));
    }
    let tasks: Vec<_> = forms
        .into_iter()
        .map(|(b, id, v, t)| {
            tokio::spawn(async move {
                b.post_raw(
                    &format!("/messages/{id}/act/archive"),
                    &[
                        ("version", &v),
                        ("csrf_token", &t),
                        ("retention", "30年"),
                        ("confirm", "1"),
                    ],
                )
                .await
                .status()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::SEE_OTHER);
    }
    let mut c = app.db();
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let mut pieces: Vec<String> = m::messages
        .filter(m::archive_no.is_not_null())
        .select(m::archive_no.assume_not_null())
        .load(&mut c)
        .expect("archive numbers");
    pieces.sort();
    let expected: Vec<String> = (1..=8)
        .map(|n| format!("A001-WS·{}-D30-520402-{n:04}", app.today().format("%Y")))
        .collect();
    assert_eq!(pieces, expected);
    let report = app.verify();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
}

/// Switch off the append-only triggers, as an intruder with database access would.
fn drop_guards(app: &TestApp) {
    let mut c = app.db();
    let sql = if app.database_url.starts_with("postgres") {
        "GRANT UPDATE, DELETE ON message_events, attachments TO CURRENT_USER;
         DROP TRIGGER message_events_no_change ON message_events;
         DROP TRIGGER attachments_no_change ON attachments;"
    } else {
        "DROP TRIGGER message_events_no_update; DROP TRIGGER message_events_no_delete;
         DROP TRIGGER attachments_no_update; DROP TRIGGER attachments_no_delete;"
    };
    c.batch_execute(sql).expect("drop triggers");
}

#[tokio::test]
async fn tampering_with_the_database_or_the_files_is_reported() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let a = archived(&app, &center, &xixiu, "篡改测试一").await;
    let b = archived(&app, &center, &xixiu, "篡改测试二").await;
    let c_id = archived(&app, &center, &xixiu, "篡改测试三").await;
    // One message with an attachment on its 办理情况.
    let d = register(&center, "篡改测试四", "郑十一").await;
    let unit = crate::lifecycle::unit_id(&app, "安顺市西秀区");
    ok(&center, d, "assign", &[("unit_id", &unit)]).await;
    ok(&xixiu, d, "accept", &[]).await;
    let (_, html) = xixiu.page(&format!("/messages/{d}")).await;
    let r = xixiu
        .post_multipart(
            &format!("/messages/{d}/act/progress"),
            &[
                ("csrf_token", &csrf_of(&html).expect("token")),
                ("version", &version_of(&html)),
                ("text", "现场照片"),
            ],
            &[("files", "现场.pdf", b"%PDF-1.4 site photo")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, verify_page) = center.page("/archive/verify").await;
    assert!(verify_page.contains("未发现问题"), "{verify_page}");

    drop_guards(&app);
    let mut c = app.db();
    c.batch_execute(&format!(
        "UPDATE message_events SET text = '已妥善处理' WHERE message_id = {a} AND action = 'reply';
         UPDATE messages SET title = '被改过的标题' WHERE id = {b};
         UPDATE messages SET archive_no = NULL WHERE id = {c_id};
         DELETE FROM message_events WHERE message_id = {d} AND seq = 2;"
    ))
    .expect("tamper");
    let stored: String = {
        use diesel::prelude::*;
        use liuyan::db::schema::attachments::dsl as at;
        at::attachments
            .select(at::stored_name)
            .first(&mut c)
            .expect("attachment")
    };
    std::fs::write(
        app.data_dir.join("attachments").join(&stored),
        b"%PDF-1.4 forged",
    )
    .expect("overwrite file");

    let report = app.verify();
    let text: Vec<String> = report.breaks.iter().map(|b| b.what.clone()).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(has("答复）与哈希链不符"), "edited event: {text:?}");
    assert!(has("已销号档案的要素被改动"), "edited archive: {text:?}");
    assert!(has("已销号但没有档号"), "{text:?}");
    assert!(
        has(&format!(
            "件号缺失：A001-WS·{}-Y-520402-0003",
            app.today().format("%Y")
        )),
        "{text:?}"
    );
    assert!(has("办理记录第 2 条缺失"), "deleted event: {text:?}");
    assert!(has("附件“现场.pdf”的文件被改动"), "{text:?}");
    std::fs::remove_file(app.data_dir.join("attachments").join(&stored)).expect("rm");
    let report = app.verify();
    assert!(report
        .breaks
        .iter()
        .any(|b| b.what.contains("附件“现场.pdf”的文件缺失")));
    // The page says the same to the city centre.
    let (_, verify_page) = center.page("/archive/verify").await;
    assert!(verify_page.contains("发现"));
    assert_eq!(state(&app, a), "archived");
    let _ = act;
}

/// A paper printed straight from the archive page by the browser (no 登记打印) carries a
/// fingerprint and a QR code that verify against the record; once the record changes,
/// the same paper no longer does. The print register stays empty.
#[tokio::test]
async fn a_paper_printed_from_the_browser_verifies_without_a_print_record() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = archived(&app, &center, &xixiu, "浏览器直接打印的档案").await;
    let (_, page) = center.page(&format!("/messages/{id}/archive")).await;
    let fp = fingerprint_of(&page);
    let ref_no = app.ref_no(id);
    // The address a phone opens from the QR code (an image on paper, not a link: built
    // here as `archive::qr` builds it), and the check page's form with the 留言文号 typed.
    let by_qr = format!("/archive/check?fp={fp}&m={id}");
    let (status, scanned) = center.page(&by_qr).await;
    assert_eq!(status, StatusCode::OK);
    let typed = center
        .submit_get(
            "/archive/check",
            "/archive/check",
            &[("fp", &fp), ("r", &ref_no)],
        )
        .await;
    assert_eq!(typed.status(), StatusCode::OK);
    let typed = typed.text().await.expect("body");
    for html in [&scanned, &typed] {
        assert!(html.contains("该纸质档与电子档一致"), "{html}");
        assert!(html.contains("未经“登记打印”"));
    }
    // The fingerprint alone finds no print record and says what to do.
    let alone = center
        .submit_get("/archive/check", "/archive/check", &[("fp", &fp)])
        .await
        .text()
        .await
        .expect("body");
    assert!(alone.contains("请同时填写页脚的留言文号"), "{alone}");
    assert_eq!(
        app.count("archive_prints"),
        0,
        "the print register is separate"
    );
    // After a 更正 the paper is out of date.
    ok(&center, id, "amend", &[("text", "更正：回访时间有误")]).await;
    let (_, later) = center.page(&by_qr).await;
    assert!(later.contains("与电子档现在的内容不一致"), "{later}");
    // Another unit's user learns nothing from the QR code.
    let pingba = app.login_as("pingba").await;
    let (_, other) = pingba.page(&by_qr).await;
    assert!(!other.contains("浏览器直接打印的档案"));
}
