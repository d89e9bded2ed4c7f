//! The message lifecycle through HTTP, as the right and the wrong users.

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app, Browser, TestApp};

pub fn version_of(html: &str) -> String {
    try_version(html).expect("version field")
}

fn try_version(html: &str) -> Option<String> {
    let marker = "name=\"version\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

fn db_version(app_db: &mut liuyan::db::DbConn, id: i32) -> String {
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    m::messages
        .find(id)
        .select(m::version)
        .first::<i32>(app_db)
        .expect("version")
        .to_string()
}

pub fn unit_id(app: &TestApp, name: &str) -> String {
    use diesel::prelude::*;
    use liuyan::db::schema::units::dsl as u;
    let mut c = app.db();
    u::units
        .filter(u::name.eq(name))
        .select(u::id)
        .first::<i32>(&mut c)
        .expect("unit")
        .to_string()
}

fn events(app: &TestApp, id: i32) -> Vec<String> {
    use diesel::prelude::*;
    use liuyan::db::schema::message_events::dsl as e;
    let mut c = app.db();
    e::message_events
        .filter(e::message_id.eq(id))
        .order(e::seq)
        .select(e::action)
        .load::<String>(&mut c)
        .expect("events")
}

pub fn state(app: &TestApp, id: i32) -> String {
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let mut c = app.db();
    m::messages
        .find(id)
        .select(m::state)
        .first::<String>(&mut c)
        .expect("state")
}

/// The fields a clerk types at 登记; the 留言时间 is the one the form offers (now, on the
/// app's clock), which `Browser::submit` and `Browser::fill` keep.
/// Each 反映人 has a phone of their own (138xxxx5678), so that only the same person's
/// messages are found as repeats by 联系方式.
pub fn register_fields<'a>(title: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    let contact: &'static str = Box::leak(contact_of(name).into_boxed_str());
    vec![
        ("level", "市级"),
        ("source_platform", "市长信箱"),
        ("platform_ref", ""),
        ("complainant_name", name),
        ("complainant_contact", contact),
        ("title", title),
        (
            "appeal",
            "小区自来水已停三天，物业不回应，请求尽快恢复供水。",
        ),
        ("category", "投诉举报"),
    ]
}

/// The phone of a test 反映人: `138`, four digits of the name, `5678`.
pub fn contact_of(name: &str) -> String {
    let h = name
        .chars()
        .fold(7u32, |h, c| h.wrapping_mul(31).wrapping_add(c as u32));
    format!("138{:04}5678", h % 10000)
}

/// Register a message as `center`; returns its id. A possible repeat is confirmed as new,
/// as a clerk does after reading the warning (the repeat tests look at the warning).
pub async fn register(center: &Browser, title: &str, name: &str) -> i32 {
    let mut r = center
        .submit("/messages/new", "/messages", &register_fields(title, name))
        .await;
    if r.status() == StatusCode::OK {
        let page = r.text().await.unwrap_or_default();
        assert!(page.contains("可能重复"), "register: {page}");
        let mut confirmed = register_fields(title, name);
        confirmed.push(("confirm_duplicate", "1"));
        r = center
            .submit("/messages/new", "/messages", &confirmed)
            .await;
    }
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "register");
    location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("message id")
}

/// Submit an action from the message page, with the page's current version (read from
/// the database when the page offers no form to this user: a hand-made request).
pub async fn act(b: &Browser, id: i32, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = format!("/messages/{id}");
    let (_, html) = b.page(&page).await;
    let version = match try_version(&html) {
        Some(v) => v,
        None => db_version(&mut liuyan::db::establish(&b.database_url).expect("db"), id),
    };
    let mut all = fields.to_vec();
    all.push(("version", &version));
    b.submit(&page, &format!("/messages/{id}/act/{action}"), &all)
        .await
}

pub async fn ok(b: &Browser, id: i32, action: &str, fields: &[(&str, &str)]) {
    let mut fields = fields.to_vec();
    if action == "archive" {
        // 销号 is irreversible: first a confirmation page, and nothing changes.
        let before = db_version(&mut liuyan::db::establish(&b.database_url).expect("db"), id);
        let r = act(b, id, action, &fields).await;
        assert_eq!(r.status(), StatusCode::OK, "archive asks first");
        let page = r.text().await.unwrap_or_default();
        assert!(
            page.contains("确认销号") && page.contains("档号一经编制不再改变"),
            "{page}"
        );
        let after = db_version(&mut liuyan::db::establish(&b.database_url).expect("db"), id);
        assert_eq!(before, after, "nothing changed before the confirmation");
        fields.push(("confirm", "1"));
    }
    let r = act(b, id, action, &fields).await;
    let status = r.status();
    let body = if status == StatusCode::SEE_OTHER {
        String::new()
    } else {
        r.text().await.unwrap_or_default()
    };
    assert_eq!(status, StatusCode::SEE_OTHER, "{action}: {body}");
}

#[tokio::test]
async fn the_whole_lifecycle_from_register_to_archive() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "西秀区某小区停水三天无人管", "张三").await;
    let (_, html) = center.page(&format!("/messages/{id}")).await;
    assert!(html.contains("安网留〔"), "ref no");
    assert!(html.contains("138****5678"), "contact masked");
    assert!(!crate::privacy::has_mobile(&html));

    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    ok(
        &center,
        id,
        "assign",
        &[("unit_id", &xixiu_unit), ("text", "请核实办理")],
    )
    .await;
    assert_eq!(state(&app, id), "assigned");
    // The county sees it in its 待办.
    let (_, todo) = xixiu.page("/").await;
    assert!(todo.contains("待签收"));
    assert!(todo.contains("西秀区某小区停水三天无人管"));

    ok(&xixiu, id, "accept", &[]).await;
    let town = unit_id(&app, "西秀区南街街道");
    ok(
        &xixiu,
        id,
        "forward",
        &[("unit_id", &town), ("text", "请街道核实")],
    )
    .await;
    ok(&xixiu, id, "progress", &[("text", "已联系物业和水务公司")]).await;
    ok(
        &xixiu,
        id,
        "reply",
        &[("text", "经核实，已恢复供水。"), ("resolved", "1")],
    )
    .await;
    assert_eq!(state(&app, id), "replied");

    ok(
        &center,
        id,
        "reject",
        &[("text", "答复未说明停水原因，请补充。")],
    )
    .await;
    assert_eq!(state(&app, id), "handling");
    ok(
        &xixiu,
        id,
        "reply",
        &[
            ("text", "停水系管道爆裂，已抢修并恢复供水。"),
            ("resolved", "1"),
        ],
    )
    .await;
    ok(
        &center,
        id,
        "approve",
        &[("resolved", "1"), ("text", "同意")],
    )
    .await;
    assert_eq!(state(&app, id), "closed");

    ok(
        &center,
        id,
        "follow_up",
        &[
            ("method", "电话"),
            ("satisfaction", "不满意"),
            ("text", "水压仍然很低"),
        ],
    )
    .await;
    ok(&center, id, "reopen", &[("text", "请解决水压问题")]).await;
    assert_eq!(state(&app, id), "handling");
    ok(
        &xixiu,
        id,
        "reply",
        &[("text", "已更换加压泵，水压恢复正常。"), ("resolved", "1")],
    )
    .await;
    ok(&center, id, "approve", &[("resolved", "1")]).await;
    ok(
        &center,
        id,
        "follow_up",
        &[
            ("method", "电话"),
            ("satisfaction", "满意"),
            ("text", "问题已解决，谢谢"),
        ],
    )
    .await;
    ok(
        &center,
        id,
        "report",
        &[("report_ref_no", "安网呈〔2026〕12号")],
    )
    .await;
    assert_eq!(state(&app, id), "reported");
    ok(&center, id, "archive", &[]).await;
    assert_eq!(state(&app, id), "archived");

    assert_eq!(
        events(&app, id),
        vec![
            "register",
            "assign",
            "accept",
            "forward",
            "progress",
            "reply",
            "reject",
            "reply",
            "approve",
            "follow_up",
            "reopen",
            "reply",
            "approve",
            "follow_up",
            "report",
            "archive"
        ]
    );
    let (_, html) = center.page(&format!("/messages/{id}")).await;
    assert!(html.contains("已销号"));
    assert!(html.contains("安网呈〔2026〕12号"));
    assert!(!html.contains("missing-mark"), "all 16 elements present");

    // Archived: frozen, only amendments are appended.
    let r = act(&xixiu, id, "reply", &[("text", "x"), ("resolved", "1")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    ok(
        &center,
        id,
        "amend",
        &[("text", "更正：反映人姓名应为张叁")],
    )
    .await;
    assert_eq!(state(&app, id), "archived");
    assert_eq!(events(&app, id).last().map(String::as_str), Some("amend"));
}

#[tokio::test]
async fn forbidden_actions_and_other_units_get_nothing() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let id = register(&center, "平坝区道路破损", "李四").await;
    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    ok(&center, id, "assign", &[("unit_id", &xixiu_unit)]).await;
    let before = events(&app, id);

    // Units outside the message get 404 on the page and on every action.
    for user in [
        "pingba", "zhujian", "renshe", "sysadmin", "secadmin", "auditor",
    ] {
        let b = app.login_as(user).await;
        assert_eq!(
            b.get(&format!("/messages/{id}")).await.status(),
            StatusCode::NOT_FOUND,
            "{user}"
        );
        let r = b
            .submit(
                "/",
                &format!("/messages/{id}/act/accept"),
                &[("version", "2")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{user}");
    }
    // The leader sees it but cannot act.
    let leader = app.login_as("leader").await;
    assert_eq!(
        leader.get(&format!("/messages/{id}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        act(&leader, id, "accept", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    // The owner cannot accept; the handler cannot approve or assign.
    assert_eq!(
        act(&center, id, "accept", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    let xixiu = app.login_as("xixiu").await;
    assert_eq!(
        act(&xixiu, id, "approve", &[("resolved", "1")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // Wrong state: reply before accepting.
    assert_eq!(
        act(&xixiu, id, "reply", &[("text", "x"), ("resolved", "1")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // Administrators and leaders cannot open the register page.
    for user in ["leader", "zhujian", "sysadmin"] {
        let b = app.login_as(user).await;
        assert_eq!(
            b.get("/messages/new").await.status(),
            StatusCode::NOT_FOUND,
            "{user}"
        );
    }
    assert_eq!(events(&app, id), before, "refused actions wrote nothing");
    assert_eq!(state(&app, id), "assigned");
}

#[tokio::test]
async fn a_stale_form_gets_the_conflict_message_and_keeps_the_typed_text() {
    let app = spawn_app().await;
    let first = app.login_as("center").await;
    let second = app.login_as("center").await;
    let id = register(&first, "公交线路调整建议", "王五").await;
    let page = format!("/messages/{id}");
    let (_, html) = second.page(&page).await;
    let stale_version = version_of(&html);
    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    ok(&first, id, "assign", &[("unit_id", &xixiu_unit)]).await;
    let r = second
        .submit(
            &page,
            &format!("/messages/{id}/act/assign"),
            &[
                ("unit_id", &xixiu_unit),
                ("text", "我写的转办意见"),
                ("version", &stale_version),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.expect("body");
    assert!(body.contains("该留言已被他人更新，请刷新后重试"));
    assert!(body.contains("我写的转办意见"), "the typed text is kept");
    assert_eq!(events(&app, id), vec!["register", "assign"]);

    // Two clerks of the handling unit write progress notes at once.
    let a = app.login_as("xixiu").await;
    let b = app.login_as("xixiu").await;
    ok(&a, id, "accept", &[]).await;
    let (_, html) = b.page(&page).await;
    let v = version_of(&html);
    ok(&a, id, "progress", &[("text", "甲的办理情况")]).await;
    let r = b
        .submit(
            &page,
            &format!("/messages/{id}/act/progress"),
            &[("text", "乙的办理情况，很长的一段话"), ("version", &v)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.expect("body");
    assert!(body.contains("该留言已被他人更新，请刷新后重试"));
    assert!(
        body.contains(">乙的办理情况，很长的一段话</textarea>"),
        "still in the form"
    );
    assert_eq!(
        events(&app, id),
        vec!["register", "assign", "accept", "progress"]
    );
}

#[tokio::test]
async fn register_errors_are_shown_next_to_fields_and_nothing_is_lost() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let mut fields = register_fields("学校门口交通拥堵", "赵六");
    fields.retain(|(k, _)| *k != "appeal" && *k != "posted_at" && *k != "complainant_contact");
    fields.push(("appeal", ""));
    fields.push(("posted_at", "2099-01-01T08:00"));
    fields.push(("complainant_contact", "1381234567"));
    let r = center.submit("/messages/new", "/messages", &fields).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    assert!(html.contains("请填写主要诉求"));
    assert!(html.contains("留言时间不能晚于现在"));
    assert!(html.contains("手机号码应为 11 位数字"));
    assert!(html.contains("value=\"学校门口交通拥堵\""));
    assert!(html.contains("value=\"赵六\""));
    assert_eq!(app.count("messages"), 0);

    // A county registers county-level messages only.
    let xixiu = app.login_as("xixiu").await;
    let r = xixiu
        .submit(
            "/messages/new",
            "/messages",
            &register_fields("县里的事", "钱七"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut county = register_fields("县里的事", "钱七");
    county[0] = ("level", "县（区）级");
    let r = xixiu.submit("/messages/new", "/messages", &county).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = xixiu
        .get(&location(&r))
        .await
        .text()
        .await
        .map(|t| ((), t))
        .expect("page");
    assert!(html.contains("西秀网留〔"));
}

#[tokio::test]
async fn a_repeat_complaint_warns_before_registering() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    register(&center, "小区停水多日无人管", "孙八").await;
    let r = center
        .submit(
            "/messages/new",
            "/messages",
            &register_fields("小区停水多日无人管！", "孙八"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("body");
    assert!(html.contains("可能重复"));
    assert_eq!(app.count("messages"), 1);
    let mut confirmed = register_fields("小区停水多日无人管！", "孙八");
    confirmed.push(("confirm_duplicate", "1"));
    let r = center
        .submit("/messages/new", "/messages", &confirmed)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("messages"), 2);
}

#[tokio::test]
async fn concurrent_registrations_never_repeat_a_ref_no() {
    let app = spawn_app().await;
    let clerks = [
        app.login_as("center").await,
        app.login_as("center").await,
        app.login_as("center").await,
    ];
    let mut tasks = Vec::new();
    for i in 0..24 {
        let b = Browser {
            address: clerks[i % 3].address.clone(),
            client: clerks[i % 3].client.clone(),
            database_url: app.database_url.clone(),
        };
        tasks.push(tokio::spawn(async move {
            let title = format!("并发登记测试{i}");
            let name = format!("网民{i}");
            // A numbered series reads alike: confirmed as new, as a clerk would.
            let mut fields = register_fields(&title, &name);
            fields.push(("confirm_duplicate", "1"));
            let r = b.submit("/messages/new", "/messages", &fields).await;
            r.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::SEE_OTHER);
    }
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let mut c = app.db();
    let mut refs: Vec<String> = m::messages.select(m::ref_no).load(&mut c).expect("refs");
    refs.sort();
    assert_eq!(refs.len(), 24);
    let expected: Vec<String> = (1..=24)
        .map(|n| format!("安网留〔{}〕{n:04}号", app.today().format("%Y")))
        .collect();
    assert_eq!(refs, expected, "unique and gap-free");
}

#[tokio::test]
async fn demo_mode_creates_messages_in_every_state_with_consistent_timelines() {
    let app = crate::helpers::spawn_with_demo_messages().await;
    assert!(app.count("messages") >= 300);
    for s in [
        "registered",
        "assigned",
        "handling",
        "replied",
        "closed",
        "followed_up",
        "reported",
        "archived",
    ] {
        assert!(
            app.count(&format!("messages WHERE state = '{s}'")) > 0,
            "{s}"
        );
    }
    // Every message's state is the to-state of its last event, and its version the event count.
    assert_eq!(
        app.count(
            "messages m WHERE m.state <> (SELECT e.to_state FROM message_events e WHERE e.message_id = m.id \
             ORDER BY e.seq DESC LIMIT 1) OR m.version <> (SELECT COUNT(*) FROM message_events e WHERE e.message_id = m.id)"
        ),
        0
    );
    let xixiu = app.login_as("xixiu").await;
    let (_, html) = xixiu.page("/").await;
    let table = &html[html.find("<table").expect("todo table")..];
    assert!(table.contains("待签收"));
    assert!(
        table.contains("class=\"due-over\""),
        "some deadlines are overdue"
    );
    assert!(
        table.contains("class=\"badge badge-sup\"") || table.contains("class=\"badge badge-flag\""),
        "some are supervised"
    );
    let center = app.login_as("center").await;
    let (_, list) = center.page("/messages?state=archived").await;
    assert!(list.contains("已销号"));
    // A new registration continues the demo sequence without a gap.
    let id = register(&center, "演示后的新留言", "新网民").await;
    let (_, html) = center.page(&format!("/messages/{id}")).await;
    assert!(html.contains(&format!("{:04}号", app.count("messages"))));
}

#[tokio::test]
async fn supervision_shows_on_top_of_the_handlers_todo_with_a_printable_notice() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let id = register(&center, "农民工工资拖欠", "周九").await;
    let unit = unit_id(&app, "安顺市人力资源和社会保障局");
    ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    // Not overdue: only 催办 (and 挂牌督办) is offered; 督办 is refused if sent anyway.
    let (_, page) = center.page(&format!("/messages/{id}")).await;
    assert!(page.contains(">催办</summary>") && page.contains(">挂牌督办</summary>"));
    assert!(
        !page.contains(">督办</summary>"),
        "督办 not offered before the deadline"
    );
    let due = app.today() + chrono::Duration::days(10);
    let deadline = due.to_string();
    let r = act(
        &center,
        id,
        "supervise",
        &[("text", "x"), ("deadline", &deadline)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A deadline years away (or past the year 9999) is refused on the form.
    for far in ["+10000-01-01", "2099-01-01"] {
        let r = act(
            &center,
            id,
            "urge",
            &[("text", "请于三日内签收并办理"), ("deadline", far)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{far}");
        let body = r.text().await.expect("body");
        assert!(
            body.contains("不晚于一年后") && body.contains("请于三日内签收并办理"),
            "{far}"
        );
    }
    ok(
        &center,
        id,
        "urge",
        &[("text", "请于三日内签收并办理"), ("deadline", &deadline)],
    )
    .await;
    let renshe = app.login_as("renshe").await;
    let (_, home) = renshe.page("/").await;
    let table = &home[home.find("<table").expect("todo")..];
    let first_row = &table[table.find("<tbody>").expect("body")..];
    assert!(first_row[..first_row.find("</tr>").expect("row")].contains("农民工工资拖欠"));
    assert!(table.contains("催办"));
    let (status, notice) = renshe.page(&format!("/messages/{id}/notice/3")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(notice.contains("网民留言催办通知书"));
    assert!(notice.contains("安顺市人力资源和社会保障局："));
    assert!(notice.contains(&due.format("%Y年%m月%d日").to_string()));
    // Another unit cannot open it; a non-supervision event has no notice.
    let pingba = app.login_as("pingba").await;
    assert_eq!(
        pingba
            .get(&format!("/messages/{id}/notice/3"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        renshe
            .get(&format!("/messages/{id}/notice/2"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// After 退回 the handler lands on its 待办, told what happened (the message is no longer
/// its to see); the centre gets it back to 转办.
#[tokio::test]
async fn a_returned_message_leaves_the_handler_on_its_todo_with_the_reason_recorded() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "不属西秀区的留言", "周十").await;
    let unit = unit_id(&app, "安顺市西秀区");
    ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    let r = act(&xixiu, id, "return", &[("text", "属市级部门职责")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    let (status, todo) = xixiu.page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(todo.contains("已将安网留〔"), "{todo}");
    assert!(todo.contains("退回交办单位"), "{todo}");
    assert!(
        !todo.contains("不属西秀区的留言</a>"),
        "no longer in its 待办"
    );
    assert_eq!(state(&app, id), "registered");
    let (_, centre) = center.page("/").await;
    assert!(
        centre.contains("不属西秀区的留言"),
        "back in the centre's 待转办"
    );
}

/// The reply is written in a full-width editor with the template picker beside it; the
/// 办理进展 action says what it records.
#[tokio::test]
async fn the_reply_editor_is_full_width_and_progress_is_named_as_such() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "答复编辑器", "吴十一").await;
    let unit = unit_id(&app, "安顺市西秀区");
    ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    ok(&xixiu, id, "accept", &[]).await;
    let (_, page) = xixiu.page(&format!("/messages/{id}")).await;
    // The side column links to the editor; the editor is a section of its own.
    assert!(page.contains(&format!("href=\"/messages/{id}?open=reply#editor-reply\"")));
    let (_, open) = xixiu.page(&format!("/messages/{id}?open=reply")).await;
    let doc = scraper::Html::parse_document(&open);
    let sel = scraper::Selector::parse(
        "section#editor-reply details[open] .editor-grid textarea[name=text]",
    )
    .expect("selector");
    let ta = doc
        .select(&sel)
        .next()
        .expect("the reply editor, open, full width");
    let rows: i32 = ta
        .value()
        .attr("rows")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    assert!(rows >= 12, "{rows} lines");
    // 办理情况 is element 12 only; the action recording progress is 办理进展.
    assert!(page.contains(">办理进展</summary>") && !page.contains(">办理情况</summary>"));
    ok(&xixiu, id, "progress", &[("text", "已到现场核实")]).await;
    let (_, after) = xixiu.page(&format!("/messages/{id}")).await;
    assert!(after.contains("已记录办理进展。"));
}

/// Actions closed by time or a cap are not offered, the page says why, and a hand-made
/// request is refused with the same words: 延期申请 after the reply deadline or with the
/// 15 days used up, 退回 after its 2 working days.
#[tokio::test]
async fn closed_windows_are_not_offered_and_say_why() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let unit = unit_id(&app, "安顺市西秀区");
    let page_of = |id: i32| format!("/messages/{id}");
    // 退回: assigned a month ago (ten days would still be inside 2 working days on the
    // first working day after 春节's nine days off — the pinned clocks found that).
    let late = register(&center, "转办已久的留言", "冯十四").await;
    ok(&center, late, "assign", &[("unit_id", &unit)]).await;
    let ago = (app.clock.now() - chrono::Duration::days(30)).format("%Y-%m-%d %H:%M:%S");
    app.db()
        .batch_execute(&format!(
            "UPDATE messages SET assigned_at = '{ago}' WHERE id = {late}"
        ))
        .expect("assigned long ago");
    let (_, page) = xixiu.page(&page_of(late)).await;
    assert!(!page.contains("/act/return\""), "退回 not offered");
    assert!(page.contains("退回须在转办后 2 个工作日内提出"), "{page}");
    let r = act(&xixiu, late, "return", &[("text", "不属本区")]).await;
    let body = r.text().await.expect("body");
    assert!(body.contains("退回须在转办后 2 个工作日内提出"), "{body}");
    assert_eq!(state(&app, late), "assigned");
    // 延期申请: the reply deadline has passed.
    let overdue = register(&center, "答复已超期的留言", "冯十五").await;
    ok(&center, overdue, "assign", &[("unit_id", &unit)]).await;
    ok(&xixiu, overdue, "accept", &[]).await;
    let past = app.today() - chrono::Duration::days(3);
    app.db()
        .batch_execute(&format!(
            "UPDATE messages SET due_at = '{past}' WHERE id = {overdue}"
        ))
        .expect("past due");
    let (_, page) = xixiu.page(&page_of(overdue)).await;
    assert!(
        !page.contains("/act/request_extension\""),
        "延期申请 not offered"
    );
    assert!(page.contains("延期须在期限届满前申请"), "{page}");
    let r = act(
        &xixiu,
        overdue,
        "request_extension",
        &[("days", "5"), ("text", "需要更多时间")],
    )
    .await;
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("延期须在期限届满前申请"));
    assert_eq!(
        app.count(&format!(
            "messages WHERE id = {overdue} AND extension_requested_days IS NULL"
        )),
        1
    );
    // The cap used up: the form is gone and the page says so (no "1–0 个工作日").
    let capped = register(&center, "延期已用完的留言", "冯十六").await;
    ok(&center, capped, "assign", &[("unit_id", &unit)]).await;
    ok(&xixiu, capped, "accept", &[]).await;
    app.db()
        .batch_execute(&format!(
            "UPDATE messages SET extension_days = 15 WHERE id = {capped}"
        ))
        .expect("cap used");
    let (_, page) = xixiu.page(&page_of(capped)).await;
    assert!(!page.contains("/act/request_extension\""));
    assert!(page.contains("达到累计上限 15 个工作日"), "{page}");
    assert!(!page.contains("1–0"));
}

#[tokio::test]
async fn a_sub_unit_signs_for_what_it_is_forwarded_or_returns_it_to_the_county() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let nanjie = app.login_as("nanjie").await;
    let id = register(&center, "下转签收测试：路灯不亮", "冯一").await;
    let county = unit_id(&app, "安顺市西秀区");
    ok(&center, id, "assign", &[("unit_id", &county)]).await;
    ok(&xixiu, id, "accept", &[]).await;
    let town = unit_id(&app, "西秀区南街街道");
    ok(&xixiu, id, "forward", &[("unit_id", &town)]).await;

    // The sub-unit's 待办 says 待签收; its page offers 下转签收 and 退回县（区）, not yet
    // the draft reply, and a forced draft is refused with why.
    let (_, todo) = nanjie.page("/").await;
    assert!(
        todo.contains("下转签收测试") && todo.contains("待签收"),
        "{todo}"
    );
    let page = format!("/messages/{id}");
    let (_, html) = nanjie.page(&page).await;
    assert!(html.contains("/act/sub_accept") && html.contains("/act/sub_return"));
    assert!(!html.contains("/act/draft_reply") && !html.contains("/act/progress"));
    let r = act(&nanjie, id, "draft_reply", &[("text", "已修复")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("请先签收"));

    // 退回 needs a reason and hands the message back to the county.
    let r = act(&nanjie, id, "sub_return", &[("text", "")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("请填写退回理由"));
    ok(&nanjie, id, "sub_return", &[("text", "不属于本街道辖区")]).await;
    assert_eq!(nanjie.page(&page).await.0, StatusCode::NOT_FOUND);
    let (_, html) = xixiu.page(&page).await;
    assert!(html.contains("不属于本街道辖区") && html.contains("退回县（区）"));
    assert!(
        html.contains("/act/forward"),
        "the county may forward again"
    );

    // Forwarded again: signed for, then no 退回, and the draft goes to the county.
    ok(&xixiu, id, "forward", &[("unit_id", &town)]).await;
    ok(&nanjie, id, "sub_accept", &[]).await;
    let (_, html) = nanjie.page(&page).await;
    assert!(!html.contains("/act/sub_return") && !html.contains("/act/sub_accept"));
    let (_, todo) = nanjie.page("/").await;
    assert!(todo.contains("待报送答复稿"), "{todo}");
    ok(&nanjie, id, "draft_reply", &[("text", "路灯已修复。")]).await;
    let (_, html) = xixiu.page(&page).await;
    assert!(html.contains("下属单位报送的答复稿") && html.contains("路灯已修复。"));
    assert_eq!(state(&app, id), "handling");
}

#[tokio::test]
async fn a_dissatisfied_message_is_reopened_or_the_decision_recorded_before_reporting() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "不满意测试：噪音扰民", "褚二").await;
    ok(
        &center,
        id,
        "assign",
        &[("unit_id", &unit_id(&app, "安顺市西秀区"))],
    )
    .await;
    ok(&xixiu, id, "accept", &[]).await;
    ok(
        &xixiu,
        id,
        "reply",
        &[("text", "已责令施工方夜间停工。"), ("resolved", "1")],
    )
    .await;
    ok(&center, id, "approve", &[("resolved", "1")]).await;
    ok(
        &center,
        id,
        "follow_up",
        &[
            ("method", "电话"),
            ("satisfaction", "不满意"),
            ("text", "还在施工"),
        ],
    )
    .await;

    // 呈报 is not offered; 重办 and 不再重办 are; a forced 呈报 says why.
    let page = format!("/messages/{id}");
    let (_, html) = center.page(&page).await;
    assert!(!html.contains("/act/report\""));
    assert!(html.contains("/act/reopen") && html.contains("/act/no_reopen"));
    let (_, todo) = center.page("/").await;
    assert!(todo.contains("待重办"));
    let r = act(
        &center,
        id,
        "report",
        &[("report_ref_no", "安网呈〔2026〕5号")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("须先重办"));
    assert_eq!(state(&app, id), "followed_up");

    // The decision needs its reason; then 呈报 is offered and works.
    let r = act(&center, id, "no_reopen", &[("text", "")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("请填写不再重办的理由"));
    ok(
        &center,
        id,
        "no_reopen",
        &[("text", "施工已依法办理夜间施工许可，已向网民解释")],
    )
    .await;
    let (_, html) = center.page(&page).await;
    assert!(html.contains("/act/report\"") && !html.contains("/act/no_reopen"));
    assert!(html.contains("施工已依法办理夜间施工许可"));
    ok(
        &center,
        id,
        "report",
        &[("report_ref_no", "安网呈〔2026〕5号")],
    )
    .await;
    assert_eq!(state(&app, id), "reported");
}

#[tokio::test]
async fn a_repeat_is_found_by_phone_or_text_and_joined_to_the_original() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let original = register(&center, "松林村征地补偿款迟迟未到位", "王娜").await;
    let original_no = app.ref_no(original);

    // The same phone under another name, with another title: warned, with the link.
    let phone = contact_of("王娜");
    let mut fields = register_fields("再次反映征地款的事情", "王先生");
    for f in fields.iter_mut() {
        if f.0 == "complainant_contact" {
            f.1 = &phone;
        }
    }
    let r = center.submit("/messages/new", "/messages", &fields).await;
    assert_eq!(r.status(), StatusCode::OK);
    let warning = r.text().await.expect("page");
    assert!(
        warning.contains("可能重复") && warning.contains("同一联系方式"),
        "{warning}"
    );
    assert!(warning.contains(&format!("/messages/{original}\">{original_no}</a>")));
    assert_eq!(app.count("messages"), 1, "nothing registered yet");
    // Very similar text from anyone else is found too.
    let r = center
        .submit(
            "/messages/new",
            "/messages",
            &register_fields("关于松林村征地补偿款迟迟未到位的问题", "赵六"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("page").contains("内容高度相似"));

    // Registered anyway, then 标记重复件 — refused while the original is not assigned.
    fields.push(("confirm_duplicate", "1"));
    let r = center.submit("/messages/new", "/messages", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let repeat: i32 = location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("id");
    let page = format!("/messages/{repeat}");
    let (_, html) = center.page(&page).await;
    assert!(html.contains(&format!("name=\"original\" value=\"{original_no}\"")));
    let r = act(&center, repeat, "mark_repeat", &[("original", "")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .expect("page")
        .contains("请选择或填写原件的留言文号"));
    let r = act(
        &center,
        repeat,
        "mark_repeat",
        &[("original", &original_no)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("page").contains("尚未转办"));
    let xixiu = unit_id(&app, "安顺市西秀区");
    ok(&center, original, "assign", &[("unit_id", &xixiu)]).await;
    ok(
        &center,
        repeat,
        "mark_repeat",
        &[("original", &original_no)],
    )
    .await;
    assert_eq!(state(&app, repeat), "closed");

    // Both messages say so, with links; the statistics count it for the handling unit.
    let (_, html) = center.page(&page).await;
    assert!(html.contains(&format!(
        "重复件：本件与 <a href=\"/messages/{original}\">{original_no}</a>"
    )));
    assert!(html.contains("已并入该件办理，答复见该件"));
    let (_, html) = center.page(&format!("/messages/{original}")).await;
    assert!(html.contains("本件有重复件 1 件"));
    assert!(html.contains(&format!("/messages/{repeat}\"")));
    let day = app.today();
    let from = (day - chrono::Duration::days(1)).to_string();
    let r = center
        .submit_get(
            "/stats",
            "/stats",
            &[("from", &from), ("to", &day.to_string())],
        )
        .await;
    let stats_page = r.text().await.expect("stats");
    let csv_link = crate::page::links("/stats", &stats_page)
        .into_iter()
        .find(|l| l.contains("format=csv"))
        .expect("the 下载 CSV link");
    assert!(csv_link.contains(&from), "{csv_link}");
    let r = center.get(&csv_link).await;
    let csv = String::from_utf8_lossy(&r.bytes().await.expect("csv")).to_string();
    let header = csv.lines().next().unwrap_or_default().to_string();
    assert!(header.contains(",重复件数,"), "{header}");
    let col = header
        .split(',')
        .position(|h| h == "重复件数")
        .expect("重复件数 column");
    let row = csv
        .lines()
        .find(|l| l.starts_with("安顺市西秀区,"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        row.starts_with("安顺市西秀区,2,") && row.split(',').nth(col) == Some("1"),
        "{row}"
    );
}

/// 并案办理: a repeat joined to its original moves with it — 签收, 答复, 驳回, 办结 —
/// is nobody's separate work meanwhile, gets the original's reply, and is then followed
/// up on its own.
#[tokio::test]
async fn a_repeat_handled_with_its_original_follows_it_to_the_close() {
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let original = register(&center, "黄果树大道路灯损坏多日无人修", "李四").await;
    let original_no = app.ref_no(original);
    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    ok(&center, original, "assign", &[("unit_id", &xixiu_unit)]).await;
    let repeat = register(&center, "黄果树大道路灯坏了很多天", "李四").await;
    let page = format!("/messages/{repeat}");
    let (_, html) = center.page(&page).await;
    assert!(html.contains("与原件并案办理") && html.contains("name=\"merge\" value=\"follow\""));
    ok(
        &center,
        repeat,
        "mark_repeat",
        &[("original", &original_no), ("merge", "follow")],
    )
    .await;
    assert_eq!(state(&app, repeat), "assigned", "where the original stands");

    // Nobody's separate work: not in the county's 待办, no form of its own.
    let (_, todo) = xixiu.page("/").await;
    assert!(todo.contains("黄果树大道路灯损坏多日无人修"));
    assert!(!todo.contains("黄果树大道路灯坏了很多天"), "{todo}");
    let (_, html) = xixiu.page(&page).await;
    assert!(html.contains("本件与原件并案办理") && !html.contains("/act/accept\""));
    let r = act(&xixiu, repeat, "accept", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("page").contains("请在原件上办理"));
    assert_eq!(state(&app, repeat), "assigned");

    // Each step of the original carries it along, the reply included.
    ok(&xixiu, original, "accept", &[]).await;
    assert_eq!(state(&app, repeat), "handling");
    ok(
        &xixiu,
        original,
        "reply",
        &[("text", "路灯已于本周更换，恢复照明。"), ("resolved", "1")],
    )
    .await;
    assert_eq!(state(&app, repeat), "replied");
    ok(&center, original, "reject", &[("text", "请说明巡检安排。")]).await;
    assert_eq!(state(&app, repeat), "handling");
    ok(
        &xixiu,
        original,
        "reply",
        &[
            ("text", "路灯已更换，今后每周巡检一次。"),
            ("resolved", "1"),
        ],
    )
    .await;
    ok(&center, original, "approve", &[("resolved", "1")]).await;
    assert_eq!(state(&app, repeat), "closed");
    let (summary, resolved, unit): (Option<String>, Option<bool>, Option<i32>) = m::messages
        .find(repeat)
        .select((m::handling_summary, m::resolved, m::handling_unit_id))
        .first(&mut app.db())
        .expect("repeat");
    assert_eq!(summary.as_deref(), Some("路灯已更换，今后每周巡检一次。"));
    assert_eq!(resolved, Some(true));
    assert_eq!(Some(unit.unwrap_or_default().to_string()), Some(xixiu_unit));
    let (_, html) = center.page(&page).await;
    assert!(html.contains(&format!("随原件{original_no}审核通过（并案办理）")));

    // From 办结 on it is its own: 回访 of the repeat leaves the original where it is.
    ok(
        &center,
        repeat,
        "follow_up",
        &[
            ("method", "电话"),
            ("satisfaction", "满意"),
            ("text", "已亮"),
        ],
    )
    .await;
    assert_eq!(state(&app, repeat), "followed_up");
    assert_eq!(state(&app, original), "closed");

    // An original already 办结 takes no 并案: the form says why and keeps the choice.
    let late = register(&center, "黄果树大道路灯又坏了", "李四").await;
    let r = act(
        &center,
        late,
        "mark_repeat",
        &[("original", &original_no), ("merge", "follow")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("page");
    assert!(body.contains("不能再并案办理"), "{body}");
    assert!(body.contains("name=\"merge\" value=\"follow\" checked"));
    assert_eq!(state(&app, late), "registered");
    assert!(app.problems().is_empty(), "{:?}", app.problems());
}
