//! Login, logout, sessions, lockout, CSRF, first start.

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app, spawn_with, DEMO_PASSWORD};

#[tokio::test]
async fn login_then_logout_and_a_replayed_cookie_lands_on_login() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.get("/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");

    let r = b.login("center", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie set at login")
        .to_string();
    let (status, html) = b.page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("安顺市社情民意研究中心"));
    assert!(html.contains("市中心办理员"));
    assert!(html.contains("演示环境"));

    let r = b.logout().await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"));
    assert_eq!(b.get("/").await.status(), StatusCode::SEE_OTHER);

    // The old cookie, replayed by another client, no longer opens anything.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = replay
        .get(format!("{}/", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
}

#[tokio::test]
async fn session_id_changes_at_login() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.get("/login").await;
    let before = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("anonymous session for the login form")
        .to_string();
    let r = b.login("center", DEMO_PASSWORD).await;
    let after = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("cookie renewed at login")
        .to_string();
    assert_ne!(before, after);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let b = app.browser();
    let wrong = b.login("center", "Wrong@Pass2026").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.expect("body");
    let unknown = b.login("nosuchuser", "Wrong@Pass2026").await;
    let unknown_status = unknown.status();
    let unknown_body = unknown.text().await.expect("body");
    assert_eq!(wrong_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_status, unknown_status);
    assert!(wrong_body.contains("用户名或密码错误。"));
    assert!(unknown_body.contains("用户名或密码错误。"));
    // Same page apart from the echoed username and the CSRF token.
    let strip = |s: &str, user: &str| {
        s.replace(user, "")
            .lines()
            .filter(|l| !l.contains("csrf_token"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&wrong_body, "center"),
        strip(&unknown_body, "nosuchuser")
    );
    // Both failures are audited.
    assert!(app.count("audit_log WHERE event = 'login' AND result = '失败'") >= 2);
}

/// A stranger guessing at an account holds off only his own address, with growing
/// waits, and learns nothing; the clerk at her desk logs in as usual. Guesses from
/// several addresses at once lock the account; the 安全管理员 unlocks it, and the clerk
/// learns of it after her next login. (Behind the trusted proxy every desk has its own
/// address.)
#[tokio::test]
async fn a_stranger_holds_off_only_himself_and_many_addresses_lock_the_account() {
    let app = crate::helpers::spawn_tuned(true, false, |c| {
        c.trusted_proxies = liuyan::auth::client::parse_trusted("127.0.0.1").expect("list");
    })
    .await;
    let stranger = app.browser_with(&[("x-forwarded-for", "10.66.0.1")]);
    for _ in 0..5 {
        let r = stranger.login("zhujian", "Wrong@Pass2026").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(app.count("audit_log WHERE event = 'hold'"), 1);
    // From his address even the right password is refused — with the same answer as an
    // unknown user or a wrong password: nobody learns that the account exists or waits.
    let r = stranger.login("zhujian", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let held = r.text().await.expect("body");
    assert!(
        held.contains("用户名或密码错误。") && !held.contains("已被锁定") && !held.contains("暂缓")
    );
    let unknown = stranger.login("nosuchuser", DEMO_PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let strip = |s: &str, user: &str| {
        s.replace(user, "")
            .lines()
            .filter(|l| !l.contains("csrf_token"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&held, "zhujian"),
        strip(&unknown.text().await.expect("body"), "nosuchuser")
    );
    // The clerk at her own desk is not kept out of work.
    let desk = app.browser_with(&[("x-forwarded-for", "10.20.0.5")]);
    assert_eq!(
        desk.login("zhujian", DEMO_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    desk.logout().await;
    assert_eq!(app.count("audit_log WHERE event = 'lock'"), 0);

    // Guessing from three addresses at once locks the account itself.
    for n in 2..=3 {
        let more = app.browser_with(&[("x-forwarded-for", &format!("10.66.0.{n}"))]);
        for _ in 0..5 {
            more.login("zhujian", "Wrong@Pass2026").await;
        }
    }
    assert_eq!(app.count("audit_log WHERE event = 'lock'"), 1);
    let r = desk.login("zhujian", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "locked");

    let sec = app.login_as("secadmin").await;
    let (_, html) = sec.page("/security").await;
    assert!(html.contains("zhujian"));
    let id = {
        let marker = "/security/unlock/";
        let start = html.find(marker).expect("unlock button") + marker.len();
        let end = html[start..].find('"').expect("end") + start;
        html[start..end].to_string()
    };
    let r = sec
        .submit("/security", &format!("/security/unlock/{id}"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Unlocking also ends the holds: the stranger's address may try again.
    assert_eq!(app.count("login_failures WHERE username = 'zhujian'"), 0);
    let r = desk.login("zhujian", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The user learns of the lock (and the holds before it) after logging in.
    let (_, home) = desk.page("/").await;
    assert!(home.contains("被暂缓登录或锁定过 3 次"), "{home}");
    // … and on 我的会话, reached from the account menu: which addresses, and the lock.
    let account = crate::page::links("/", &home)
        .into_iter()
        .find(|l| l.ends_with("/account/password"))
        .expect("我的账户 in the menu");
    let (_, html) = desk.page(&account).await;
    let sessions = crate::page::links(&account, &html)
        .into_iter()
        .find(|l| l.ends_with("/account/sessions"))
        .expect("我的会话");
    let (_, page) = desk.page(&sessions).await;
    assert!(
        page.contains("账户锁定") && page.contains("暂缓登录"),
        "{page}"
    );
    assert!(page.contains("10.66.0.1"), "the stranger's address: {page}");
}

#[tokio::test]
async fn a_post_without_csrf_token_or_from_another_site_changes_nothing() {
    let app = spawn_app().await;
    let b = app.login_as("sysadmin").await;
    let units_before = app.count("units");
    let fields = [
        ("name", "测试单位"),
        ("kind", "department"),
        ("parent_id", "1"),
    ];
    let r = b.post_raw("/admin/units", &fields).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("安全校验"));
    let mut with_bad = fields.to_vec();
    with_bad.push(("csrf_token", "forged-token"));
    let r = b.post_raw("/admin/units", &with_bad).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A valid token but a cross-site request.
    let (_, html) = b.page("/admin/units/new").await;
    let token = crate::helpers::csrf_of(&html).expect("token");
    let mut valid = fields.to_vec();
    valid.push(("csrf_token", &token));
    let r = b
        .client
        .post(b.url("/admin/units"))
        .header("origin", "http://evil.example")
        .form(&valid)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b
        .client
        .post(b.url("/admin/units"))
        .header("sec-fetch-site", "cross-site")
        .form(&valid)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("units"), units_before);

    // Logout without a token does not log out.
    let r = b.post_raw("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.get("/").await.status(), StatusCode::OK);

    // The same request with the token works.
    let r = b.post_raw("/admin/units", &valid).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("units"), units_before + 1);
}

#[tokio::test]
async fn first_start_creates_only_admin_who_must_change_the_password() {
    let app = spawn_with(false).await;
    let pw = app
        .initial_admin_password
        .clone()
        .expect("initial admin password");
    assert_eq!(app.count("users"), 1);
    let b = app.browser();
    // No demo account exists outside demo mode.
    assert_eq!(
        b.login("center", DEMO_PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, html) = b.page("/login").await;
    assert!(!html.contains("演示环境"));

    let r = b.login("admin", &pw).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/account/password");
    let r = b.get("/admin/users").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/account/password");

    // A weak password is refused, with the reason next to the field.
    let r = b
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", &pw),
                ("new_password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("密码至少 10 个字符"));
    let r = b
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", &pw),
                ("new_password", "Admin@2026xyz"),
                ("confirm", "Admin@2026xyz"),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "contains the username"
    );
    // The city's name and a year: the first guess here.
    let r = b
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", &pw),
                ("new_password", "Anshun@2027"),
                ("confirm", "Anshun@2027"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("地名、单位名或系统名"));
    let r = b
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", &pw),
                ("new_password", "Qiye#Anshun88"),
                ("confirm", "Qiye#Anshun88"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // An administrator must now set up two-factor login before anything else.
    let r = b.get("/admin/users").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::helpers::location(&r), "/account/2fa");

    // The old password no longer works; the new one does.
    let other = app.browser();
    assert_eq!(
        other.login("admin", &pw).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        other.login("admin", "Qiye#Anshun88").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_keeps_this_one() {
    let app = spawn_app().await;
    let first = app.login_as("xixiu").await;
    let second = app.login_as("xixiu").await;
    let r = first
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", DEMO_PASSWORD),
                ("new_password", "Quhao#Banli77"),
                ("confirm", "Quhao#Banli77"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.get("/").await.status(), StatusCode::OK);
    assert_eq!(second.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn disabling_a_user_ends_their_session_at_once() {
    let app = spawn_app().await;
    let clerk = app.login_as("zhujian").await;
    assert_eq!(clerk.get("/").await.status(), StatusCode::OK);
    let admin = app.login_as("sysadmin").await;
    let id = crate::admin::user_id(&admin, "zhujian").await;
    let r = admin
        .submit(
            &format!("/admin/users/{id}"),
            &format!("/admin/users/{id}/active"),
            &[("active", "0")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(clerk.get("/").await.status(), StatusCode::SEE_OTHER);
    let again = app.browser();
    assert_eq!(
        again.login("zhujian", DEMO_PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn responses_carry_security_headers_and_chinese_error_pages() {
    let app = spawn_app().await;
    let b = app.browser();
    for path in ["/login", "/no/such/page", "/static/style.css"] {
        let r = b.get(path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert!(h.get("referrer-policy").is_some());
        assert!(h.get("server").is_none());
    }
    let (status, html) = b.page("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("页面不存在"));
    // No state change on GET: logout by GET is not a route.
    let r = b.get("/logout").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_address() {
    let app = crate::helpers::spawn_tuned(true, false, |c| c.login_per_minute = 6).await;
    let b = app.browser();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(b.login("center", "wrong-password").await.status());
    }
    assert_eq!(statuses[0], StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        *statuses.last().expect("last"),
        StatusCode::TOO_MANY_REQUESTS,
        "{statuses:?}"
    );
    let r = b.login("center", crate::helpers::DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.expect("body").contains("登录尝试过于频繁"));
    // The login page itself is not limited.
    assert_eq!(b.get("/login").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_readiness_and_request_ids() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.expect("body"), "ok");
    let r = b.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id")
        .to_string();
    assert_eq!(id.len(), 12);
    // An error page names its request so that a clerk can quote it.
    let center = app.login_as("center").await;
    let r = center.get("/messages/999999").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id")
        .to_string();
    assert!(r
        .text()
        .await
        .expect("body")
        .contains(&format!("请求编号 {id}")));
}

#[tokio::test]
async fn a_plain_page_view_writes_nothing() {
    let app = spawn_app().await;
    let b = app.login_as("zhujian").await;
    b.page("/").await; // the first view after login stamps the activity time
    let expiry = || {
        use diesel::prelude::*;
        use liuyan::db::schema::sessions::dsl as s;
        s::sessions
            .select((s::state, s::expires_at))
            .load::<(String, chrono::NaiveDateTime)>(&mut app.db())
            .expect("sessions")
    };
    let before = expiry();
    for p in ["/messages", "/", "/dashboard", "/archive"] {
        assert_eq!(b.page(p).await.0, StatusCode::OK);
    }
    assert_eq!(
        expiry(),
        before,
        "no session write within a minute of activity"
    );
}

/// Wrong passwords typed inside a session (修改密码, 确认身份 before an export) are
/// audited and count with the failed logins from that desk; when they hold the desk off,
/// the session ends.
#[tokio::test]
async fn wrong_passwords_inside_a_session_count_toward_the_lock() {
    let app = spawn_app().await;
    let b = app.login_as("center").await;
    crate::lifecycle::register(&b, "确认身份测试留言", "确认甲").await;
    for n in 0..3 {
        let r = b
            .submit(
                "/account/password",
                "/account/password",
                &[
                    ("current", "not-my-password-1"),
                    ("new_password", "Xq7#longer-pass-2"),
                    ("confirm", "Xq7#longer-pass-2"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "try {n}");
        assert!(r.text().await.expect("body").contains("当前密码不正确"));
    }
    // An export asks to confirm the password: follow the list's own 导出 link.
    let (_, list) = b.page("/messages").await;
    let export = crate::page::links("/messages", &list)
        .into_iter()
        .find(|l| l.starts_with("/messages/export"))
        .expect("an export link");
    let r = b.get(&export).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let confirm = crate::helpers::location(&r);
    assert!(confirm.starts_with("/account/confirm"), "{confirm}");
    let r = b
        .submit(
            &confirm,
            "/account/confirm",
            &[("password", "not-my-password-2")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count("audit_log WHERE event = 'password_wrong' AND result = '失败'"),
        4
    );
    // The fifth wrong password holds this desk off and ends the session.
    let r = b
        .submit(
            &confirm,
            "/account/confirm",
            &[("password", "not-my-password-3")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::helpers::location(&r), "/login");
    assert_eq!(app.count("audit_log WHERE event = 'hold'"), 1);
    let r = b.get("/").await;
    assert_eq!(crate::helpers::location(&r), "/login", "logged out");
    let again = app.browser();
    let r = again.login("center", crate::helpers::DEMO_PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "held off: the login form again"
    );
    assert!(r.text().await.expect("body").contains("用户名或密码错误"));
}
