//! Chinese full-text search: two- and three-character words, replies and names, scope,
//! highlighting, filters, and FTS syntax in the query doing nothing.

use reqwest::StatusCode;

use crate::helpers::{spawn_app, Browser};
use crate::lifecycle::{ok, register_fields, unit_id};

async fn reg(b: &Browser, title: &str, name: &str, appeal: &str) -> i32 {
    let mut f = register_fields(title, name);
    f[6] = ("appeal", appeal);
    let r = b.submit("/messages/new", "/messages", &f).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "register {title}");
    crate::helpers::location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("id")
}

fn total(html: &str) -> i64 {
    html.split("共 ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("total")
}

/// Type `q` into the list page's search box and press 筛选.
async fn found(b: &Browser, q: &str) -> (i64, String) {
    let r = b.submit_get("/messages", "/messages", &[("q", q)]).await;
    assert_eq!(r.status(), StatusCode::OK, "{q}");
    let html = r.text().await.expect("body");
    (total(&html), html)
}

#[tokio::test]
async fn two_and_three_character_words_replies_names_and_scope() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let a = reg(
        &center,
        "西秀区小区停水三天",
        "王小明",
        "自来水管道破裂，物业不管。",
    )
    .await;
    let _b = reg(
        &center,
        "农贸市场占道经营",
        "李大伟",
        "早市摊贩占用人行道，行人只能走机动车道。",
    )
    .await;
    let c = reg(
        &center,
        "物业费上涨不合理",
        "赵一",
        "小区物业费每平方米上涨五角，未经业主大会。",
    )
    .await;
    ok(
        &center,
        a,
        "assign",
        &[("unit_id", &unit_id(&app, "安顺市西秀区"))],
    )
    .await;
    ok(&xixiu, a, "accept", &[]).await;
    ok(
        &xixiu,
        a,
        "reply",
        &[
            ("text", "经查，系供水主管网检修，已于次日恢复供水。"),
            ("resolved", "1"),
        ],
    )
    .await;

    assert_eq!(
        found(&center, "停水").await.0,
        1,
        "2 characters, in a title"
    );
    assert_eq!(
        found(&center, "物业").await.0,
        2,
        "2 characters, title and body"
    );
    assert_eq!(found(&center, "物业费").await.0, 1, "3 characters");
    assert_eq!(found(&center, "主管网检修").await.0, 1, "in the reply");
    // 反映人 is sealed at rest and not in the text index: a whole name is looked up by
    // its digest, and its one message opens.
    let r = search_form(&center, "q", "王小明").await;
    assert_eq!(
        crate::helpers::location(&r),
        format!("/messages/{a}"),
        "反映人"
    );
    assert_eq!(
        found(&center, "小明").await.0,
        0,
        "part of a name is not searched"
    );
    assert_eq!(found(&center, "水").await.0, 1, "one character");
    assert_eq!(
        found(&center, "停水 物业").await.0,
        1,
        "words are combined with AND"
    );
    assert_eq!(found(&center, "天然气").await.0, 0);
    let (_, html) = found(&center, "停水").await;
    assert!(html.contains("<mark>停水</mark>"), "hit highlighted");
    // FTS syntax is only text.
    for q in [
        "\"停水",
        "停水\" OR \"物业",
        "NEAR(停 水)",
        "物业*",
        "'; DROP TABLE messages; --",
        "%_%",
    ] {
        let url = format!("/messages?q={}", liuyan::web::utf8_percent(q));
        assert_eq!(center.page(&url).await.0, StatusCode::OK, "{q}");
    }
    assert_eq!(
        found(&center, "%_%").await.0,
        3,
        "no letters: no search condition at all"
    );
    assert_eq!(
        found(&center, "停水%").await.0,
        1,
        "punctuation is not syntax"
    );
    assert_eq!(app.count("messages"), 3);
    // Combined with the list filters.
    let (_, html) = center
        .page(&format!(
            "/messages?q={}&state=replied",
            liuyan::web::utf8_percent("物业")
        ))
        .await;
    assert_eq!(total(&html), 1);
    // Scope: 西秀区 sees only what is assigned to it.
    assert_eq!(found(&xixiu, "物业").await.0, 1);
    assert_eq!(found(&xixiu, "物业费").await.0, 0);
    let pingba = app.login_as("pingba").await;
    assert_eq!(found(&pingba, "停水").await.0, 0);
    let _ = c;
}

/// Type `value` into `field` of the list's filter form, as a clerk does, and press 筛选.
async fn search_form(b: &Browser, field: &str, value: &str) -> reqwest::Response {
    b.submit_get("/messages", "/messages", &[(field, value)])
        .await
}

/// A message is found by its number — 留言文号 whole or its sequence number, 平台编号,
/// 呈报文号, 档号 — and one match opens it; outside the scope nothing is found.
#[tokio::test]
async fn a_message_is_found_by_any_of_its_numbers() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let mut f = register_fields("按编号查找的留言", "郑十二");
    f[2] = ("platform_ref", "D300256");
    let r = center.submit("/messages/new", "/messages", &f).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id: i32 = crate::helpers::location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("id");
    // A second message, so that the lookup has to pick the right one.
    reg(&center, "另一件留言", "钱十三", "别的事").await;
    let ref_no = app.ref_no(id);
    let seq = ref_no
        .trim_end_matches('号')
        .rsplit('〕')
        .next()
        .expect("number part")
        .to_string();
    assert_eq!(seq, "0001");
    let opens = |r: &reqwest::Response| crate::helpers::location(r) == format!("/messages/{id}");
    let phone = crate::lifecycle::contact_of("郑十二");
    let spaced = format!("{} {} {}", &phone[..3], &phone[3..7], &phone[7..]);
    for (field, typed) in [
        ("q", ref_no.as_str()),
        ("q", "0001"),
        ("q", "1"),
        ("q", "D300256"),
        ("no", ref_no.as_str()),
        ("no", "D300256"),
        // 联系方式 and 反映人, sealed at rest, by their look-up digests.
        ("q", phone.as_str()),
        ("q", spaced.as_str()),
        ("no", phone.as_str()),
        ("q", "郑十二"),
        ("no", "郑十二"),
    ] {
        let r = search_form(&center, field, typed).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{field}={typed}");
        assert!(opens(&r), "{field}={typed} opens the message");
    }
    // 呈报文号 and 档号, on an archived message.
    crate::lifecycle::ok(
        &center,
        id,
        "assign",
        &[("unit_id", &unit_id(&app, "安顺市西秀区"))],
    )
    .await;
    let sealed = crate::archive::archived(&app, &center, &xixiu, "已销号的留言").await;
    let archive_no: String = {
        use diesel::prelude::*;
        use liuyan::db::schema::messages::dsl as m;
        m::messages
            .find(sealed)
            .select(m::archive_no.assume_not_null())
            .first(&mut app.db())
            .expect("archive no")
    };
    for typed in ["安网呈〔2026〕40号", archive_no.as_str()] {
        let r = search_form(&center, "q", typed).await;
        assert_eq!(
            crate::helpers::location(&r),
            format!("/messages/{sealed}"),
            "{typed}"
        );
    }
    // A handling unit outside the message's scope finds nothing by its number.
    let pingba = app.login_as("pingba").await;
    let r = search_form(&pingba, "no", "D300256").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("body");
    assert!(!html.contains("按编号查找的留言"));
    assert!(html.contains("共 0 条"), "{html}");
    // The handling unit (assigned above) does find it.
    let r = search_form(&xixiu, "q", "D300256").await;
    assert!(opens(&r));
}

/// PostgreSQL searches its index block by block of message ids (newest first): messages
/// far apart in id are all found, in order, for words of one, two and three characters,
/// in any letter case, and a longer word needs all of it, not only its pairs.
#[tokio::test]
async fn words_are_found_across_blocks_of_ids() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let pg = app.database_url.starts_with("postgres");
    let jump = |to: i64| {
        if pg {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!("SELECT setval('messages_id_seq', {to})"))
                .execute(&mut app.db())
                .expect("setval");
        }
    };
    let a = reg(&center, "小区停水", "甲", "停水一天。").await;
    let b = reg(&center, "物业费过高", "乙", "每月物业费太高。").await;
    jump(70_000);
    let c = reg(&center, "又停水了", "丙", "还是停水。").await;
    let d = reg(&center, "WiFi信号差", "丁", "图书馆wifi连不上。").await;
    jump(140_000);
    let e = reg(&center, "停水又停电", "戊", "整栋楼停水停电。").await;
    let f = reg(&center, "物业不作为", "己", "物业不修电梯，业费另收。").await;
    if pg {
        assert!(e > 140_000 && c > 70_000 && a < 65_536, "{a} {c} {e}");
    }
    let order = |html: &str, ids: &[i32]| {
        let at: Vec<usize> = ids
            .iter()
            .map(|id| {
                html.find(&format!("href=\"/messages/{id}\""))
                    .unwrap_or_else(|| panic!("{id} listed"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "newest first: {ids:?}");
    };
    let (n, html) = found(&center, "停水").await;
    assert_eq!(n, 3);
    order(&html, &[e, c, a]);
    let (n, html) = found(&center, "物业费").await;
    assert_eq!(n, 1, "物业 and 业费 apart are not 物业费");
    assert!(html.contains(&format!("href=\"/messages/{b}\"")));
    let (n, html) = found(&center, "物业").await;
    assert_eq!(n, 2);
    order(&html, &[f, b]);
    let (n, html) = found(&center, "WIFI").await;
    assert_eq!(n, 1);
    assert!(html.contains(&format!("href=\"/messages/{d}\"")));
    let (n, _) = found(&center, "电").await;
    assert_eq!(n, 2, "停电 and 电梯");
    let (n, html) = found(&center, "停水 停电").await;
    assert_eq!(n, 1);
    assert!(html.contains(&format!("href=\"/messages/{e}\"")));
}
