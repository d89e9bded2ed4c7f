//! 业务设置 by the city centre: holidays, lists, deadline rules, reply templates and the
//! 文号 format, each change audited and taking effect at once; nobody else gets in.

use reqwest::StatusCode;

use crate::helpers::spawn_app;
use crate::lifecycle::{act, register, unit_id};

#[tokio::test]
async fn the_city_centre_keeps_the_business_settings() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;

    // Holidays: a bad date is refused with the typed name kept.
    let r = center
        .submit(
            "/settings/holidays",
            "/settings/holidays",
            &[("day", "2027-13-01"), ("name", "元旦"), ("is_off", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("请填写日期"));
    assert!(body.contains("value=\"元旦\""));
    let before = app.count("holidays");
    let r = center
        .submit(
            "/settings/holidays",
            "/settings/holidays",
            &[("day", "2027-01-01"), ("name", "元旦"), ("is_off", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("holidays"), before + 1);
    let (_, page) = center.page("/settings/holidays?year=2027").await;
    assert!(page.contains("2027-01-01") && page.contains("元旦"));
    assert!(
        page.contains("星期五") && !page.contains(">Fri<"),
        "weekday in Chinese"
    );
    let r = center
        .submit(
            "/settings/holidays?year=2027",
            "/settings/holidays/2027-01-01/delete",
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("holidays"), before);

    // Lists: a new platform, and a duplicate refused.
    let r = center
        .submit(
            "/settings/lists",
            "/settings/lists",
            &[("kind", "platform"), ("value", "贵州省网上信访")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, new_page) = center.page("/messages/new").await;
    assert!(new_page.contains("贵州省网上信访"));
    let r = center
        .submit(
            "/settings/lists",
            "/settings/lists",
            &[("kind", "platform"), ("value", "贵州省网上信访")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("已在留言来源平台列表中"));

    // A deadline rule: 投诉举报 now gets 15 working days when assigned.
    let r = center
        .submit(
            "/settings/rules",
            "/settings/rules",
            &[
                ("level", ""),
                ("source_platform", ""),
                ("category", "投诉举报"),
                ("reply_days", "15"),
                ("note", "本市规定"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = center
        .submit(
            "/settings/rules",
            "/settings/rules",
            &[("category", "投诉举报"), ("reply_days", "99")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The 文号 format: must keep the three parts; a good one applies to the next message.
    let r = center
        .submit(
            "/settings",
            "/settings/ref-format",
            &[("ref_format", "安顺{序号}")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = center
        .submit(
            "/settings",
            "/settings/ref-format",
            &[("ref_format", "{简称}留〔{年}〕{序号}")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = register(&center, "新格式的文号", "孙八").await;
    let (_, html) = center.page(&format!("/messages/{id}")).await;
    assert!(html.contains("安留〔"), "new 文号 format used");
    let xixiu = unit_id(&app, "安顺市西秀区");
    let r = act(&center, id, "assign", &[("unit_id", &xixiu)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("message_events WHERE action = 'assign' AND detail LIKE '%\"reply_days\":15%'"),
        1,
        "the new rule decided the reply period"
    );

    // A reply template for 投诉举报.
    let r = center
        .submit(
            "/settings/templates",
            "/settings/templates",
            &[
                ("id", ""),
                ("category", "投诉举报"),
                ("title", "投诉查处答复"),
                ("body", "经查，您反映的问题属实，已责令整改。"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = center.page("/settings/templates").await;
    assert!(page.contains("投诉查处答复"));

    assert_eq!(
        app.count("audit_log WHERE event = 'settings_change'"),
        6,
        "every change audited"
    );
}

#[tokio::test]
async fn nobody_but_the_city_centre_touches_the_settings() {
    let app = spawn_app().await;
    let pages = [
        "/settings",
        "/settings/holidays",
        "/settings/lists",
        "/settings/rules",
        "/settings/templates",
    ];
    let center = app.login_as("center").await;
    let (_, html) = center.page("/settings/lists").await;
    let token_page = html;
    assert!(token_page.contains("csrf_token"));
    for user in [
        "leader", "xixiu", "zhujian", "sysadmin", "secadmin", "auditor",
    ] {
        let b = app.login_as(user).await;
        for p in pages {
            let (status, _) = b.page(p).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{user} GET {p}");
        }
        let before = app.count("options");
        let r = b
            .submit(
                "/",
                "/settings/lists",
                &[("kind", "platform"), ("value", "越权添加")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{user} POST");
        assert_eq!(app.count("options"), before);
        let r = b
            .submit(
                "/",
                "/settings/ref-format",
                &[("ref_format", "{简称}{年}{序号}")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{user} POST format");
    }
    assert_eq!(app.count("settings WHERE key = 'ref_no_format'"), 0);
}

#[tokio::test]
async fn archive_number_settings_apply_to_the_next_close_out() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let r = center
        .submit(
            "/settings",
            "/settings/archive",
            &[("fonds", "b/02"), ("category", "WS"), ("retention", "10年")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("全宗号为"));
    let r = center
        .submit(
            "/settings",
            "/settings/archive",
            &[("fonds", "b002"), ("category", "ws"), ("retention", "10年")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = crate::batch::followed_up(&app, &center, &xixiu, "档号设置测试").await;
    crate::lifecycle::ok(
        &center,
        id,
        "report",
        &[("report_ref_no", "安网呈〔2026〕70号")],
    )
    .await;
    crate::lifecycle::ok(&center, id, "archive", &[]).await;
    assert_eq!(
        app.count(&format!(
            "messages WHERE archive_no = 'B002-WS·{}-D10-520402-0001' AND retention = '10年'",
            app.today().format("%Y")
        )),
        1
    );
    let month = app.today().format("%Y-%m").to_string();
    let (status, page) = center.page(&format!("/archive/verify?month={month}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("未发现问题"), "{page}");
    let (status, _) = xixiu.page("/archive/verify").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only the centre checks everything"
    );
}

/// From 1 November the centre is warned while next year's holidays are missing, and a
/// deadline in a year without a calendar says it is counted on weekends only; entering a
/// holiday of that year ends both.
#[tokio::test]
async fn a_missing_holiday_calendar_is_announced_and_marked() {
    let at = |day: &'static str| {
        move |c: &mut liuyan::config::Config| c.clock = crate::helpers::china_clock(day)
    };
    let early = crate::helpers::spawn_tuned(true, false, at("2026-10-20T10:00")).await;
    let (_, home) = early.login_as("center").await.page("/").await;
    assert!(
        !home.contains("节假日和调休尚未设置"),
        "not before November"
    );

    let app = crate::helpers::spawn_tuned(true, false, at("2026-12-21T10:00")).await;
    let center = app.login_as("center").await;
    let (_, home) = center.page("/").await;
    assert!(home.contains("2027 年的节假日和调休尚未设置"), "{home}");
    let (_, dash) = center.page("/dashboard").await;
    assert!(dash.contains("2027 年的节假日和调休尚未设置"));
    // A message assigned now with a 20-day reply deadline runs into January 2027.
    let id = crate::lifecycle::register(&center, "跨年的留言", "陈十七").await;
    let unit = crate::lifecycle::unit_id(&app, "安顺市西秀区");
    crate::lifecycle::ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    let xixiu = app.login_as("xixiu").await;
    crate::lifecycle::ok(&xixiu, id, "accept", &[]).await;
    let (_, page) = xixiu.page(&format!("/messages/{id}")).await;
    assert!(page.contains("节假日未设置，暂按周末计算"), "{page}");
    // Entering 2027's 元旦 ends the warning.
    let r = center
        .submit(
            "/settings/holidays?year=2027",
            "/settings/holidays",
            &[("day", "2027-01-01"), ("name", "元旦"), ("is_off", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, home) = center.page("/").await;
    assert!(!home.contains("节假日和调休尚未设置"));
    let (_, page) = xixiu.page(&format!("/messages/{id}")).await;
    assert!(!page.contains("节假日未设置"));
}

#[tokio::test]
async fn a_years_holidays_are_set_from_the_pasted_notice_after_a_preview() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let page = "/settings/holidays?year=2029";
    let before = app.count("holidays");
    // Written in the notice's style for a year without a published calendar.
    let notice = "一、元旦：1月1日（周一）放假，共1天。\n\
                  二、春节：2月12日（周一）至18日（周日）放假调休，共7天。2月10日（周六）、2月24日（周六）上班。\n\
                  各地区要妥善安排好值班工作。";
    let r = center
        .submit(
            page,
            "/settings/holidays/paste",
            &[("year", "2029"), ("text", notice)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview = r.text().await.expect("preview");
    assert!(preview.contains("将设置以下 10 天"), "{preview}");
    assert!(preview.contains("2029-02-10") && preview.contains("调休上班"));
    assert_eq!(
        app.count("holidays"),
        before,
        "nothing saved before the confirmation"
    );
    // The preview's own form saves them, all at once.
    let forms = crate::page::forms("/settings/holidays/paste", &preview);
    let confirm = forms
        .iter()
        .find(|f| f.fields.iter().any(|(k, v)| k == "confirm" && v == "1"))
        .expect("the confirmation form");
    let mut fields = crate::page::complete(Some(confirm), &[]);
    fields.push((
        "csrf_token".to_string(),
        crate::helpers::csrf_of(&preview).expect("token"),
    ));
    let r = center
        .post_raw(&confirm.action, &crate::helpers::pairs(&fields))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("holidays"), before + 10);
    assert_eq!(
        app.count("holidays WHERE day = '2029-02-24' AND is_off = false"),
        1
    );
    // An unreadable notice saves nothing and says which line.
    let r = center
        .submit(
            page,
            "/settings/holidays/paste",
            &[("year", "2029"), ("text", "春节：2月30日放假。")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("page");
    assert!(body.contains("日期无法识别") && body.contains("春节：2月30日放假。"));
    assert_eq!(app.count("holidays"), before + 10);
    // A JSON calendar file goes the same way: previewed first.
    let (_, html) = center.page(page).await;
    let r = center
        .post_multipart(
            "/settings/holidays/paste",
            &[
                (
                    "csrf_token",
                    &crate::helpers::csrf_of(&html).expect("token"),
                ),
                ("year", "2029"),
                ("text", ""),
            ],
            &[(
                "file",
                "2029.json",
                r#"[{"date": "2029-10-01", "name": "国庆节", "is_off_day": true}]"#.as_bytes(),
            )],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview = r.text().await.expect("preview");
    assert!(
        preview.contains("将设置以下 1 天") && preview.contains("国庆节"),
        "{preview}"
    );
    assert_eq!(app.count("holidays"), before + 10);
    // Only the centre may.
    let xixiu = app.login_as("xixiu").await;
    let (_, home) = xixiu.page("/").await;
    let r = xixiu
        .post_raw(
            "/settings/holidays/paste",
            &[
                (
                    "csrf_token",
                    &crate::helpers::csrf_of(&home).expect("token"),
                ),
                ("year", "2029"),
                ("text", notice),
                ("confirm", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("holidays"), before + 10);
}
