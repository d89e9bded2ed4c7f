//! The authorization table: every role × every page and action × own / other unit's
//! message, with the expected answer written out here (not derived from the code under
//! test), and the database unchanged after every refused action.

use chrono::Datelike;
use reqwest::StatusCode;

use crate::helpers::{spawn_app, Browser, TestApp};
use crate::lifecycle::{ok, register, unit_id};

/// Post an action as this user would if they crafted the request by hand: the token from
/// their home page, the message's current version from the database.
async fn act(
    b: &Browser,
    app: &TestApp,
    id: i32,
    action: &str,
    f: &[(&str, &str)],
) -> reqwest::Response {
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let version: i32 = m::messages
        .find(id)
        .select(m::version)
        .first(&mut app.db())
        .expect("version");
    let v = version.to_string();
    let mut all = f.to_vec();
    all.push(("version", &v));
    b.submit("/", &format!("/messages/{id}/act/{action}"), &all)
        .await
}

const USERS: [&str; 9] = [
    "center", "leader", "xixiu", "pingba", "zhujian", "renshe", "sysadmin", "secadmin", "auditor",
];

const ACTIONS: [&str; 25] = [
    "assign",
    "accept",
    "return",
    "forward",
    "sub_accept",
    "sub_return",
    "progress",
    "draft_reply",
    "request_extension",
    "approve_extension",
    "reject_extension",
    "reply",
    "approve",
    "reject",
    "urge",
    "supervise",
    "flag",
    "follow_up",
    "reopen",
    "no_reopen",
    "report",
    "archive",
    "mark_repeat",
    "correct",
    "amend",
];

/// A message of the city centre, assigned to and accepted by 西秀区: 办理中.
async fn handling(app: &TestApp, center: &Browser, xixiu: &Browser, title: &str) -> i32 {
    let id = register(center, title, &format!("权{}", title.chars().count())).await;
    ok(
        center,
        id,
        "assign",
        &[("unit_id", &unit_id(app, "安顺市西秀区"))],
    )
    .await;
    ok(xixiu, id, "accept", &[]).await;
    id
}

/// What each user may do to a 办理中 message owned by the centre and handled by 西秀区.
fn expected_action(user: &str, action: &str) -> StatusCode {
    match user {
        "center" if ["urge", "flag"].contains(&action) => StatusCode::SEE_OTHER,
        "xixiu" if ["progress", "reply", "request_extension", "forward"].contains(&action) => {
            StatusCode::SEE_OTHER
        }
        // They see the message but may not take this action now.
        "center" | "xixiu" | "leader" => StatusCode::FORBIDDEN,
        // Everybody else does not learn that it exists.
        _ => StatusCode::NOT_FOUND,
    }
}

/// Which users see a page at all.
fn expected_page(page: &str, user: &str) -> StatusCode {
    let yes = match page {
        "own" => ["center", "leader", "xixiu"].contains(&user),
        "county" => ["center", "leader", "pingba"].contains(&user),
        "/messages" | "/archive" | "/archive/periods" | "/archive/check" => {
            ["center", "leader", "xixiu", "pingba", "zhujian", "renshe"].contains(&user)
        }
        "/messages/new" => ["center", "xixiu", "pingba"].contains(&user),
        "/settings" | "/archive/verify" => user == "center",
        "/admin/units" | "/admin/users" => user == "sysadmin",
        "/security" => user == "secadmin",
        "/audit" => user == "auditor",
        _ => unreachable!("unknown page {page}"),
    };
    if yes {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

fn fields<'a>(action: &str, town: &'a str, unit: &'a str, day: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![("text", "权限测试"), ("resolved", "1"), ("days", "3")];
    f.push(("deadline", day));
    f.push(("method", "电话"));
    f.push(("satisfaction", "满意"));
    f.push(("report_ref_no", "安网呈〔2026〕99号"));
    f.push(("retention", "30年"));
    f.push(("unit_id", if action == "forward" { town } else { unit }));
    f
}

/// Events, version and state of a message: all must stay put after a refusal.
fn snapshot(app: &TestApp, id: i32) -> (i64, i64) {
    (
        app.count(&format!("message_events WHERE message_id = {id}")),
        app.count(&format!("messages WHERE id = {id} AND state = 'handling'")),
    )
}

#[tokio::test]
async fn every_role_every_page_and_action_own_and_other_units() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let pingba_b = app.login_as("pingba").await;
    let target = handling(&app, &center, &xixiu, "权限表留言").await;
    // A county's own message (平坝区 registers it): other counties do not see it.
    let county_fields = {
        let mut f = crate::lifecycle::register_fields("平坝区自己的留言", "冯十二");
        f[0] = ("level", "县（区）级");
        f
    };
    let r = pingba_b
        .submit("/messages/new", "/messages", &county_fields)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let county_msg: i32 = crate::helpers::location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("id");

    let town = unit_id(&app, "西秀区南街街道");
    let xixiu_id = unit_id(&app, "安顺市西秀区");
    let day = (app.today() + chrono::Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();
    let mut checked = 0;
    for user in USERS {
        let b = app.login_as(user).await;
        // Pages.
        let pages: Vec<(&str, String)> = vec![
            ("own", format!("/messages/{target}")),
            ("own", format!("/messages/{target}/archive")),
            ("own", format!("/archive/verify?message={target}")),
            ("county", format!("/messages/{county_msg}")),
            ("county", format!("/messages/{county_msg}/archive")),
            ("/messages", "/messages".into()),
            ("/messages/new", "/messages/new".into()),
            ("/archive", "/archive".into()),
            ("/archive/periods", "/archive/periods".into()),
            ("/archive/check", "/archive/check".into()),
            ("/archive/verify", "/archive/verify".into()),
            ("/settings", "/settings".into()),
            ("/admin/units", "/admin/units".into()),
            ("/admin/users", "/admin/users".into()),
            ("/security", "/security".into()),
            ("/audit", "/audit".into()),
        ];
        for (kind, path) in &pages {
            let (status, _) = b.page(path).await;
            assert_eq!(status, expected_page(kind, user), "{user} GET {path}");
            checked += 1;
        }
        // Actions on the 办理中 message.
        for action in ACTIONS {
            let want = expected_action(user, action);
            let id = if want == StatusCode::SEE_OTHER {
                handling(&app, &center, &xixiu, &format!("权限{user}{action}")).await
            } else {
                target
            };
            let before = snapshot(&app, id);
            let r = act(
                &b,
                &app,
                id,
                action,
                &fields(action, &town, &xixiu_id, &day),
            )
            .await;
            assert_eq!(r.status(), want, "{user} {action}");
            if want == StatusCode::SEE_OTHER {
                assert_eq!(
                    snapshot(&app, id).0,
                    before.0 + 1,
                    "{user} {action} wrote its event"
                );
            } else {
                assert_eq!(
                    snapshot(&app, id),
                    before,
                    "{user} {action} changed nothing"
                );
            }
            checked += 1;
        }
        // Print records and attachments follow the same scope.
        let r = b
            .submit("/", &format!("/messages/{target}/archive/print"), &[])
            .await;
        let want = if ["center", "leader", "xixiu"].contains(&user) {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(r.status(), want, "{user} print record");
    }
    assert_eq!(checked, 9 * (16 + 25));
    assert_eq!(app.count("archive_prints"), 3);
}

/// POST a form holding a valid CSRF token and the fields that name what the form is
/// about (`k=v&…`), nothing else (multipart where the route expects it).
async fn post_empty(b: &Browser, path: &str, form: &str) -> StatusCode {
    let (_, html) = b.page("/account/password").await;
    let token = crate::helpers::csrf_of(&html).expect("token");
    if multipart(path) {
        b.post_multipart(path, &[("csrf_token", &token)], &[])
            .await
            .status()
    } else {
        let mut f = vec![("csrf_token", token.as_str())];
        f.extend(form.split('&').filter_map(|kv| kv.split_once('=')));
        b.post_raw(path, &f).await.status()
    }
}

/// Routes whose forms are sent as `multipart/form-data`.
fn multipart(path: &str) -> bool {
    path == "/messages" || path == "/import" || path.starts_with("/scores/entries?")
}

/// Every route of the site (src/web/mod.rs) × every role, including the three
/// administrators, with own and another unit's objects: who may use it is written out
/// here; everybody else gets 404 and, for a POST, the database is unchanged.
#[tokio::test]
async fn every_route_every_role() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let pingba = app.login_as("pingba").await;
    // A centre message handled by 西秀区, with an attachment and a 催办 notice.
    let filled = center
        .fill(
            "/messages/new",
            "/messages",
            &crate::lifecycle::register_fields("全路由权限留言", "路由甲"),
        )
        .await;
    let f = crate::helpers::pairs(&filled);
    let r = center
        .post_multipart("/messages", &f, &[("files", "a.pdf", b"%PDF-1.4\n%%EOF\n")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let msg: i32 = crate::helpers::location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("id");
    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    let pingba_unit = unit_id(&app, "安顺市平坝区");
    ok(&center, msg, "assign", &[("unit_id", &xixiu_unit)]).await;
    ok(&xixiu, msg, "accept", &[]).await;
    ok(
        &center,
        msg,
        "urge",
        &[
            ("text", "请尽快办理"),
            (
                "deadline",
                &(app.today() + chrono::Duration::days(10)).to_string(),
            ),
        ],
    )
    .await;
    let notice = app.count(&format!("message_events WHERE message_id = {msg}"));
    let att = app.count("attachments WHERE id > 0");
    assert_eq!(att, 1);
    let att: i32 = {
        use liuyan::db::schema::attachments::dsl as a;
        a::attachments
            .select(a::id)
            .first(&mut app.db())
            .expect("attachment")
    };
    // A message 西秀区 returned (退回, event 3), for the return-mark route.
    let returned = register(&center, "被退回的全路由留言", "路由丙").await;
    ok(&center, returned, "assign", &[("unit_id", &xixiu_unit)]).await;
    ok(&xixiu, returned, "return", &[("text", "不属于本单位职责")]).await;
    // 平坝区's own message.
    let mut county = crate::lifecycle::register_fields("平坝区自己的全路由留言", "路由乙");
    county[0] = ("level", "县（区）级");
    let r = pingba.submit("/messages/new", "/messages", &county).await;
    let county_msg = crate::helpers::location(&r)
        .trim_start_matches("/messages/")
        .to_string();
    // A reporting period with 西秀区's submission, and a score entry with evidence.
    let month = app.today().format("%Y-%m").to_string();
    let year = app.today().format("%Y").to_string();
    let r = center
        .submit(
            "/archive/periods",
            "/archive/periods",
            &[("period", &month)],
        )
        .await;
    let period = crate::helpers::location(&r)
        .trim_start_matches("/archive/periods/")
        .to_string();
    let r = xixiu
        .submit(
            &format!("/archive/periods/{period}"),
            &format!("/archive/periods/{period}/submit"),
            &[("note", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let submission: i32 = {
        use liuyan::db::schema::archive_submissions::dsl as s;
        s::archive_submissions
            .select(s::id)
            .first(&mut app.db())
            .expect("submission")
    };
    let (_, html) = center.page(&format!("/scores/entries?year={year}")).await;
    let token = crate::helpers::csrf_of(&html).expect("token");
    let r = center
        .post_multipart(
            &format!("/scores/entries?year={year}"),
            &[
                ("csrf_token", &token),
                ("unit_id", &xixiu_unit),
                ("item", "B02"),
                ("count", "1"),
                ("date", &format!("{year}-01-05")),
                ("reason", "经验做法被推广"),
            ],
            &[("evidence", "证明.pdf", b"%PDF-1.4\n%%EOF\n")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "score entry");
    let entry: i32 = {
        use liuyan::db::schema::score_entries::dsl as e;
        e::score_entries
            .select(e::id)
            .first(&mut app.db())
            .expect("entry")
    };
    // Last year is finalised (定稿 waits for a year's end), so its letters and report exist.
    let last_year = (app.today().year() - 1).to_string();
    let r = center
        .submit(
            &format!("/scores/finalise?year={last_year}"),
            "/scores/finalise",
            &[("year", &last_year), ("confirm", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("score_results"),
        app.count("score_results WHERE year > 0")
    );
    let xixiu_user: i32 = {
        use liuyan::db::schema::users::dsl as u;
        u::users
            .filter(u::username.eq("xixiu"))
            .select(u::id)
            .first(&mut app.db())
            .expect("user")
    };

    const MSG: &str = "center leader xixiu pingba zhujian renshe";
    const OWN: &str = "center leader xixiu";
    const CITY: &str = "center leader";
    const REG: &str = "center xixiu pingba";
    // The centre, the leader and the counties (热点问题).
    const REG_READ: &str = "center leader xixiu pingba";
    // (method, path, who may use it, the fields naming the object of a POST)
    let routes: Vec<(&str, String, &str, String)> = vec![
        ("GET", "/messages".into(), MSG, String::new()),
        ("GET", "/messages/new".into(), REG, String::new()),
        (
            "GET",
            "/messages/export?state=handling".into(),
            MSG,
            String::new(),
        ),
        ("GET", format!("/messages/{msg}"), OWN, String::new()),
        (
            "GET",
            format!("/messages/{county_msg}"),
            "center leader pingba",
            String::new(),
        ),
        (
            "GET",
            format!("/messages/{msg}/notice/{notice}"),
            OWN,
            String::new(),
        ),
        ("GET", format!("/attachments/{att}"), OWN, String::new()),
        (
            "GET",
            format!("/messages/{msg}/archive"),
            OWN,
            String::new(),
        ),
        ("GET", "/archive".into(), MSG, String::new()),
        (
            "GET",
            format!("/archive/print?unit={xixiu_unit}&month={month}"),
            "center leader xixiu",
            String::new(),
        ),
        ("GET", "/archive/check".into(), MSG, String::new()),
        ("GET", "/archive/periods".into(), MSG, String::new()),
        (
            "GET",
            format!("/archive/periods/{period}"),
            MSG,
            String::new(),
        ),
        (
            "GET",
            format!("/archive/periods/{period}/package?unit={xixiu_unit}"),
            "center leader xixiu",
            String::new(),
        ),
        (
            "GET",
            format!("/archive/periods/{period}/catalogue?unit={xixiu_unit}"),
            "center leader xixiu",
            String::new(),
        ),
        (
            "GET",
            format!("/archive/periods/{period}/catalogue?unit={pingba_unit}"),
            "center leader pingba",
            String::new(),
        ),
        ("GET", "/archive/verify".into(), "center", String::new()),
        ("GET", "/settings".into(), "center", String::new()),
        ("GET", "/settings/holidays".into(), "center", String::new()),
        ("GET", "/settings/lists".into(), "center", String::new()),
        ("GET", "/settings/rules".into(), "center", String::new()),
        ("GET", "/settings/templates".into(), "center", String::new()),
        ("GET", "/scores".into(), MSG, String::new()),
        ("GET", "/scores/export".into(), CITY, String::new()),
        (
            "GET",
            format!("/scores/unit/{xixiu_unit}"),
            "center leader xixiu",
            String::new(),
        ),
        (
            "GET",
            format!("/scores/unit/{pingba_unit}"),
            "center leader pingba",
            String::new(),
        ),
        ("GET", "/scores/rules".into(), CITY, String::new()),
        ("GET", "/scores/entries".into(), CITY, String::new()),
        (
            "GET",
            format!("/scores/evidence/{entry}"),
            CITY,
            String::new(),
        ),
        ("GET", "/scores/finalise".into(), "center", String::new()),
        (
            "GET",
            format!("/scores/{last_year}/letter/{xixiu_unit}"),
            CITY,
            String::new(),
        ),
        (
            "GET",
            format!("/scores/{last_year}/report"),
            CITY,
            String::new(),
        ),
        ("GET", "/import".into(), REG, String::new()),
        ("GET", "/dashboard".into(), MSG, String::new()),
        ("GET", "/stats".into(), MSG, String::new()),
        ("GET", "/bulletin".into(), CITY, String::new()),
        ("GET", "/hot".into(), REG_READ, String::new()),
        ("GET", "/security".into(), "secadmin", String::new()),
        ("GET", "/audit".into(), "auditor", String::new()),
        ("GET", "/audit/export".into(), "auditor", String::new()),
        ("GET", "/audit/verify".into(), "auditor", String::new()),
        ("GET", "/admin/units".into(), "sysadmin", String::new()),
        ("GET", "/admin/units/new".into(), "sysadmin", String::new()),
        (
            "GET",
            format!("/admin/units/{xixiu_unit}/edit"),
            "sysadmin",
            String::new(),
        ),
        ("GET", "/admin/users".into(), "sysadmin", String::new()),
        ("GET", "/admin/users/new".into(), "sysadmin", String::new()),
        (
            "GET",
            format!("/admin/users/{xixiu_user}"),
            "sysadmin",
            String::new(),
        ),
        ("POST", "/messages".into(), REG, String::new()),
        (
            "POST",
            "/messages/batch".into(),
            REG,
            "action=report".into(),
        ),
        (
            "POST",
            format!("/messages/{msg}/contact"),
            "center xixiu",
            String::new(),
        ),
        (
            "POST",
            format!("/messages/{msg}/archive/print"),
            OWN,
            String::new(),
        ),
        (
            "POST",
            "/archive/print".into(),
            "center leader xixiu",
            format!("unit={xixiu_unit}&month={month}"),
        ),
        ("POST", "/archive/periods".into(), "center", String::new()),
        (
            "POST",
            format!("/archive/periods/{period}/submit"),
            "xixiu pingba zhujian renshe",
            String::new(),
        ),
        (
            "POST",
            format!("/archive/submissions/{submission}/review"),
            "center",
            String::new(),
        ),
        (
            "POST",
            "/settings/ref-format".into(),
            "center",
            String::new(),
        ),
        ("POST", "/settings/archive".into(), "center", String::new()),
        ("POST", "/settings/holidays".into(), "center", String::new()),
        (
            "POST",
            "/settings/holidays/2026-10-01/delete".into(),
            "center",
            String::new(),
        ),
        ("POST", "/settings/lists".into(), "center", String::new()),
        (
            "POST",
            "/settings/lists/1/active".into(),
            "center",
            String::new(),
        ),
        ("POST", "/settings/rules".into(), "center", String::new()),
        (
            "POST",
            "/settings/rules/1/delete".into(),
            "center",
            String::new(),
        ),
        (
            "POST",
            "/settings/templates".into(),
            "center",
            String::new(),
        ),
        ("POST", "/scores/rules".into(), "center", String::new()),
        (
            "POST",
            format!("/scores/entries?year={year}"),
            "center",
            String::new(),
        ),
        (
            "POST",
            format!("/scores/entries/{entry}/reverse"),
            "center",
            String::new(),
        ),
        ("POST", "/scores/finalise".into(), "center", String::new()),
        (
            "POST",
            format!("/messages/{returned}/return-mark/3"),
            "center",
            String::new(),
        ),
        ("POST", "/import".into(), REG, String::new()),
        ("POST", "/import/map".into(), REG, String::new()),
        ("POST", "/import/preview".into(), REG, String::new()),
        ("POST", "/import/commit".into(), REG, String::new()),
        (
            "POST",
            format!("/security/unlock/{xixiu_user}"),
            "secadmin",
            String::new(),
        ),
        ("POST", "/security/policy".into(), "secadmin", String::new()),
        ("POST", "/admin/units".into(), "sysadmin", String::new()),
        (
            "POST",
            format!("/admin/units/{xixiu_unit}"),
            "sysadmin",
            String::new(),
        ),
        (
            "POST",
            format!("/admin/units/{xixiu_unit}/active"),
            "sysadmin",
            String::new(),
        ),
        ("POST", "/admin/users".into(), "sysadmin", String::new()),
        (
            "POST",
            format!("/admin/users/{xixiu_user}"),
            "sysadmin",
            String::new(),
        ),
        (
            "POST",
            format!("/admin/users/{xixiu_user}/active"),
            "sysadmin",
            String::new(),
        ),
        (
            "POST",
            format!("/admin/users/{xixiu_user}/reset-password"),
            "sysadmin",
            String::new(),
        ),
    ];
    let browsers: Vec<(&str, Browser)> = {
        let mut v = Vec::new();
        for u in USERS {
            v.push((u, app.login_as(u).await));
        }
        v
    };
    // Refusals first, so that nothing an allowed request does hides a refused write.
    let mut refused = 0;
    for (method, path, allowed, form) in &routes {
        for (user, b) in &browsers {
            if allowed.split(' ').any(|a| a == *user) {
                continue;
            }
            let before = app.whole_database();
            let status = if *method == "GET" {
                b.get(path).await.status()
            } else {
                post_empty(b, path, form).await
            };
            assert_eq!(status, StatusCode::NOT_FOUND, "{user} {method} {path}");
            assert_eq!(
                app.whole_database(),
                before,
                "{user} {method} {path} changed data"
            );
            refused += 1;
        }
    }
    // The allowed users get the page (GET) or an answer that is not a refusal (POST: the
    // empty forms sent here are mostly rejected as incomplete, which is fine).
    for (method, path, allowed, form) in &routes {
        for (user, b) in &browsers {
            if !allowed.split(' ').any(|a| a == *user) {
                continue;
            }
            if *method == "GET" {
                // A page or a redirect to the user's own part of it (a county's 量化考评
                // opens its own unit's page), never to the login page.
                let r = b.get(path).await;
                let status = r.status();
                let to = crate::helpers::location(&r);
                // (西秀区 is 合格 and gets no letter: scores.rs reads the letters.)
                let no_letter = path.contains("/letter/") && status == StatusCode::NOT_FOUND;
                assert!(
                    status == StatusCode::OK
                        || no_letter
                        || (status == StatusCode::SEE_OTHER && !to.starts_with("/login")),
                    "{user} {method} {path}: {status} {to}"
                );
            } else {
                let status = post_empty(b, path, form).await;
                assert!(
                    status != StatusCode::NOT_FOUND && !status.is_server_error(),
                    "{user} {method} {path}: {status}"
                );
            }
        }
    }
    assert!(refused > 500, "{refused}");
}
