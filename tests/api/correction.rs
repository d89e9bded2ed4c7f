//! 补正 before 销号 and 更正 after it, through the links and forms the message page
//! offers: an imported message completed and archived, a typo corrected with its history
//! kept, bad values refused with the typed text kept, and units that may not correct.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::StatusCode;

use crate::batch::followed_up;
use crate::helpers::{spawn_app, Browser, TestApp};
use crate::lifecycle::{ok, register, state, unit_id};
use liuyan::db::schema::messages::dsl as m;

/// The 补正/更正 link the message page shows beside an element, by its accessible name
/// (补齐联系方式, 补正反映人, 更正反映人 …).
async fn fix_link(b: &Browser, id: i32, aria: &str) -> Option<String> {
    let page = format!("/messages/{id}");
    let (_, html) = b.page(&page).await;
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("a.fix").expect("selector");
    let found = doc
        .select(&sel)
        .find(|a| a.value().attr("aria-label") == Some(aria))
        .and_then(|a| a.value().attr("href"))
        .map(|h| h.replace("&amp;", "&"));
    found.and_then(|h| crate::page::resolve(&page, &h))
}

/// Follow the element's link and submit its form with `fields` typed.
pub async fn correct(
    b: &Browser,
    id: i32,
    aria: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let link = fix_link(b, id, aria)
        .await
        .unwrap_or_else(|| panic!("no “{aria}” link on message {id}"));
    let form_page = link.split('#').next().unwrap_or(&link).to_string();
    let (_, html) = b.page(&form_page).await;
    let action = crate::page::forms(&form_page, &html)
        .into_iter()
        .map(|f| f.action)
        .find(|a| a.ends_with("/act/correct") || a.ends_with("/act/amend"))
        .expect("the correction form");
    b.submit(&form_page, &action, fields).await
}

fn contact_of(app: &TestApp, id: i32) -> String {
    app.personal(id).1
}

fn name_of(app: &TestApp, id: i32) -> String {
    app.personal(id).0
}

fn breaks(app: &TestApp) -> Vec<String> {
    app.problems()
}

#[tokio::test]
async fn an_imported_message_without_contact_is_completed_and_archived() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = unit_id(&app, "安顺市西秀区");
    let csv = "留言编号,留言用户,留言主题,留言时间,留言详情,答复意见,答复时间\n\
               D300256,A0001,小区门口路灯不亮,2025-10-01 08:00:00,小区门口路灯坏了一个月,已安排维修，路灯已恢复。,2025-10-09 10:00:00\n";
    let (status, preview, fields) = crate::import::upload_and_preview(
        &center,
        "export.csv",
        csv.as_bytes(),
        "市长信箱",
        "城乡建设",
        &xixiu,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let r = crate::import::commit(&center, &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id: i32 = m::messages
        .select(m::id)
        .first(&mut app.db())
        .expect("imported");
    assert_eq!(contact_of(&app, id), "");

    // 销号 is refused while 联系方式 is missing …
    ok(&center, id, "approve", &[("resolved", "1")]).await;
    ok(
        &center,
        id,
        "follow_up",
        &[("method", "网上"), ("satisfaction", "满意"), ("text", "")],
    )
    .await;
    ok(
        &center,
        id,
        "report",
        &[("report_ref_no", "安网呈〔2026〕7号")],
    )
    .await;
    let r = crate::lifecycle::act(&center, id, "archive", &[("retention", "30年")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("联系方式"));

    // … and the page offers to complete it: 补齐 beside element 5.
    let r = correct(
        &center,
        id,
        "补齐联系方式",
        &[("value", "13812345678"), ("text", "网民来电补充联系方式")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(contact_of(&app, id), "13812345678");
    let (_, html) = center.page(&format!("/messages/{id}")).await;
    assert!(
        html.contains("联系方式：（空） → 138****5678"),
        "the timeline shows old → new, masked"
    );
    assert!(html.contains("网民来电补充联系方式"));
    assert!(
        !html.contains("13812345678"),
        "the full number is not shown"
    );
    // Now it archives, complete, and the archive verifies.
    ok(&center, id, "archive", &[("retention", "30年")]).await;
    assert_eq!(state(&app, id), "archived");
    let (_, archive) = center.page(&format!("/messages/{id}/archive")).await;
    assert!(archive.contains("联系方式：（空） → 138****5678（理由：网民来电补充联系方式）"));
    assert!(breaks(&app).is_empty(), "{:?}", breaks(&app));
}

#[tokio::test]
async fn a_typo_is_corrected_before_and_after_archiving_with_its_history() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "补正测试：路面塌陷", "张三").await;

    // Bad values are refused with a Chinese error; what was typed stays; nothing changes.
    let r = correct(
        &center,
        id,
        "补正联系方式",
        &[("value", "1381234567"), ("text", "核对号码")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("page");
    assert!(page.contains("手机号码应为 11 位数字"), "{page}");
    assert!(page.contains("value=\"1381234567\""), "typed value kept");
    let r = correct(
        &center,
        id,
        "补正反映人",
        &[("value", "张叁"), ("text", "")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("page");
    assert!(page.contains("请填写补正理由"), "{page}");
    assert!(page.contains("value=\"张叁\""));
    assert_eq!(name_of(&app, id), "张三");

    // 补正 before 销号.
    let r = correct(
        &center,
        id,
        "补正反映人",
        &[("value", "张叁"), ("text", "登记笔误")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(name_of(&app, id), "张叁");
    let (_, html) = center.page(&format!("/messages/{id}")).await;
    assert!(html.contains("反映人：张三 → 张叁"));

    // 更正 after 销号 changes the element itself; the archive shows the current value,
    // the timeline the old one, and the archive still verifies (sealed again).
    let archived = crate::archive::archived(&app, &center, &xixiu, "补正测试：井盖缺失").await;
    let print_page = format!("/messages/{archived}/archive");
    let (_, html) = center.page(&print_page).await;
    assert!(html.contains("周失缺盖井"));
    let r = center
        .submit(
            &print_page,
            &format!("/messages/{archived}/archive/print"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "printed");
    let r = correct(
        &center,
        archived,
        "更正反映人",
        &[("value", "周十一"), ("text", "网民来电更正姓名")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(name_of(&app, archived), "周十一");
    let (_, archive) = center.page(&format!("/messages/{archived}/archive")).await;
    assert!(archive.contains("反映人：周失缺盖井 → 周十一（理由：网民来电更正姓名）"));
    let (_, msg_page) = center.page(&format!("/messages/{archived}")).await;
    assert!(
        msg_page.contains("打印后已变更 2 处，请重新打印归档"),
        "the element and the timeline changed since the print"
    );
    assert!(breaks(&app).is_empty(), "{:?}", breaks(&app));
    // An insider who edits the element directly is still caught.
    app.db()
        .batch_execute(&format!(
            "UPDATE messages SET complainant_name = '王五' WHERE id = {archived}"
        ))
        .expect("tamper");
    assert!(
        breaks(&app).iter().any(|b| b.contains("要素被改动")),
        "{:?}",
        breaks(&app)
    );
}

#[tokio::test]
async fn the_handling_unit_corrects_its_reply_only_and_others_nothing() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = followed_up(&app, &center, &xixiu, "补正权限：垃圾清运").await;

    // The handling unit sees one link: its 办理情况.
    assert!(fix_link(&xixiu, id, "补正办理情况").await.is_some());
    assert!(fix_link(&xixiu, id, "补正反映人").await.is_none());
    let r = correct(
        &xixiu,
        id,
        "补正办理情况",
        &[
            ("value", "已清运完毕，并增设垃圾桶两个。"),
            ("text", "补充办理细节"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // A hand-made request for another element is refused, and nothing changes.
    let before = app.whole_database();
    let r = crate::lifecycle::act(
        &xixiu,
        id,
        "correct",
        &[
            ("field", "complainant_name"),
            ("value", "李四"),
            ("text", "x"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Units outside the message, the leader and the administrators get nothing.
    for user in ["pingba", "renshe", "leader", "sysadmin", "auditor"] {
        let b = app.login_as(user).await;
        // A forged request: a valid session token from the user's own home page.
        let (_, home) = b.page("/").await;
        let token = crate::helpers::csrf_of(&home).expect("token");
        let version: i32 = m::messages
            .find(id)
            .select(m::version)
            .first(&mut app.db())
            .expect("version");
        let r = b
            .post_raw(
                &format!("/messages/{id}/act/correct"),
                &[
                    ("csrf_token", &token),
                    ("version", &version.to_string()),
                    ("field", "title"),
                    ("value", "改标题"),
                    ("text", "x"),
                ],
            )
            .await;
        assert!(
            matches!(r.status(), StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{user}: {}",
            r.status()
        );
        assert!(fix_link(&b, id, "补正留言标题").await.is_none(), "{user}");
    }
    assert_eq!(app.whole_database(), before, "nothing saved");
}
