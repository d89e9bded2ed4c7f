//! 批量呈报 and 批量销号 from the list: a review page first, then all or nothing.

use reqwest::StatusCode;

use crate::helpers::{spawn_app, Browser, TestApp};
use crate::lifecycle::{ok, register, state, unit_id};

/// A message taken through to 已回访 (ready for 呈报).
pub async fn followed_up(app: &TestApp, center: &Browser, xixiu: &Browser, title: &str) -> i32 {
    // A different 反映人 each time, so that similar titles are not taken for repeats.
    let name = format!("周{}", title.chars().rev().take(4).collect::<String>());
    let id = register(center, title, &name).await;
    let unit = unit_id(app, "安顺市西秀区");
    ok(center, id, "assign", &[("unit_id", &unit)]).await;
    ok(xixiu, id, "accept", &[]).await;
    ok(
        xixiu,
        id,
        "reply",
        &[("text", "已处理完毕。"), ("resolved", "1")],
    )
    .await;
    ok(center, id, "approve", &[("resolved", "1")]).await;
    ok(
        center,
        id,
        "follow_up",
        &[
            ("method", "电话"),
            ("satisfaction", "满意"),
            ("text", "满意"),
        ],
    )
    .await;
    id
}

fn picks_of(html: &str) -> Vec<String> {
    html.split("name=\"ids\" value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn batch_report_and_archive_are_reviewed_then_all_or_nothing() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let a = followed_up(&app, &center, &xixiu, "批量一").await;
    let b = followed_up(&app, &center, &xixiu, "批量二").await;

    let list = "/messages?state=followed_up";
    let (_, html) = center.page(list).await;
    let picks = picks_of(&html);
    assert_eq!(picks.len(), 2, "both offered for the batch");
    let mut fields: Vec<(&str, &str)> = picks.iter().map(|p| ("ids", p.as_str())).collect();
    fields.push(("action", "report"));

    // The review page changes nothing.
    let r = center.submit(list, "/messages/batch", &fields).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.expect("body");
    assert!(body.contains("批量呈报：共 2 条"));
    assert_eq!(state(&app, a), "followed_up");

    // Confirmed without a 呈报文号: refused, nothing changed.
    let mut confirm = fields.clone();
    confirm.push(("confirm", "1"));
    let r = center.submit(list, "/messages/batch", &confirm).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(state(&app, a), "followed_up");

    // One stale pick (someone acted meanwhile): none of them is reported.
    let stale = format!("{a}:1");
    let r = center
        .submit(
            list,
            "/messages/batch",
            &[
                ("action", "report"),
                ("confirm", "1"),
                ("ids", &stale),
                ("ids", &picks[1]),
                ("report_ref_no", "安网呈〔2026〕30号"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("全部留言均未改变"));
    assert!(
        body.contains("value=\"安网呈〔2026〕30号\""),
        "typed 呈报文号 kept"
    );
    assert_eq!(state(&app, a), "followed_up");
    assert_eq!(state(&app, b), "followed_up");

    // A county that handled them is not their owner: refused, nothing changed.
    let r = xixiu
        .submit(
            "/messages",
            "/messages/batch",
            &[
                ("action", "report"),
                ("confirm", "1"),
                ("ids", &picks[0]),
                ("report_ref_no", "x"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(state(&app, a), "followed_up");
    let admin = app.login_as("sysadmin").await;
    let r = admin
        .submit("/", "/messages/batch", &[("action", "report")])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // All together, one 呈报文号.
    confirm.push(("report_ref_no", "安网呈〔2026〕31号"));
    let r = center.submit(list, "/messages/batch", &confirm).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(state(&app, a), "reported");
    assert_eq!(state(&app, b), "reported");
    assert_eq!(
        app.count("messages WHERE report_ref_no = '安网呈〔2026〕31号'"),
        2
    );

    // 批量销号: review page with the irreversible warning, then done.
    let list = "/messages?state=reported";
    let (_, html) = center.page(list).await;
    let picks = picks_of(&html);
    let mut fields: Vec<(&str, &str)> = picks.iter().map(|p| ("ids", p.as_str())).collect();
    fields.push(("action", "archive"));
    let r = center.submit(list, "/messages/batch", &fields).await;
    let body = r.text().await.expect("body");
    assert!(body.contains("不能撤销"));
    fields.push(("confirm", "1"));
    let r = center.submit(list, "/messages/batch", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(state(&app, a), "archived");
    assert_eq!(state(&app, b), "archived");
}
