//! The authorization table: every role × every page and action × own / other unit's
//! message, with the expected answer written out here (not derived from the code under
//! test), and the database unchanged after every refused action.

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

const ACTIONS: [&str; 20] = [
    "assign",
    "accept",
    "return",
    "forward",
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
    "report",
    "archive",
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
    let day = (liuyan::clock::china_today() + chrono::Duration::days(7))
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
    assert_eq!(checked, 9 * (16 + 20));
    assert_eq!(app.count("archive_prints"), 3);
}
