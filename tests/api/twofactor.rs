//! Two-factor login: enrolment by QR code and a first code, login with a code that is
//! accepted once, recovery codes used once, the security administrator's policy,
//! password history, and "my sessions".

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app, Browser, DEMO_PASSWORD};
use liuyan::auth::totp;

fn secret_of(html: &str) -> String {
    html.split("<code class=\"secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("secret on the page")
        .replace(' ', "")
}

async fn enrol(b: &Browser) -> (String, Vec<String>) {
    let (_, page) = b.page("/account/2fa").await;
    assert!(page.contains("<svg"), "QR code");
    let secret = secret_of(&page);
    let code = totp::code_at(&secret, totp::now_secs()).expect("code");
    let r = b
        .submit(
            "/account/2fa",
            "/account/2fa/enable",
            &[("password", DEMO_PASSWORD), ("code", &code)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("codes page");
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes shown once");
    (secret, codes)
}

#[tokio::test]
async fn totp_login_single_use_codes_and_recovery_codes() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    // A wrong first code does not enable anything.
    let r = center
        .submit(
            "/account/2fa",
            "/account/2fa/enable",
            &[("password", DEMO_PASSWORD), ("code", "000000")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (secret, codes) = enrol(&center).await;
    assert_eq!(
        app.count("users WHERE username = 'center' AND totp_enabled"),
        1
    );
    assert_eq!(app.count("audit_log WHERE event = '2fa_enable'"), 1);
    // The secret is stored sealed (SM4-GCM), not as the base32 the phone was given.
    assert_eq!(
        app.count("users WHERE username = 'center' AND totp_secret LIKE 'sm4gcm:%'"),
        1
    );
    assert_eq!(
        app.count(&format!("users WHERE totp_secret LIKE '%{secret}%'")),
        0
    );
    assert_eq!(
        app.count(&format!(
            "audit_log WHERE detail LIKE '%{secret}%' OR object LIKE '%{secret}%'"
        )),
        0
    );

    // The password alone no longer logs in.
    let b = app.browser();
    let r = b.login("center", DEMO_PASSWORD).await;
    assert_eq!(location(&r), "/login/2fa");
    assert_eq!(
        b.get("/messages").await.status(),
        StatusCode::SEE_OTHER,
        "not logged in yet"
    );
    // The code used at enrolment is spent: the next one logs in, once.
    let next = totp::code_at(&secret, totp::now_secs() + 30).expect("code");
    let r = b
        .submit("/login/2fa", "/login/2fa", &[("code", &next)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.get("/messages").await.status(), StatusCode::OK);
    let again = app.browser();
    again.login("center", DEMO_PASSWORD).await;
    let r = again
        .submit("/login/2fa", "/login/2fa", &[("code", &next)])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a replayed code is refused"
    );
    // A recovery code works once.
    let r = again
        .submit("/login/2fa", "/login/2fa", &[("code", &codes[0])])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let third = app.browser();
    third.login("center", DEMO_PASSWORD).await;
    let r = third
        .submit("/login/2fa", "/login/2fa", &[("code", &codes[0])])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a recovery code is single-use"
    );
    // Going straight to the code page without the password gets nothing.
    let stranger = app.browser();
    let r = stranger.get("/login/2fa").await;
    assert_eq!(location(&r), "/login");
}

#[tokio::test]
async fn the_security_administrator_requires_two_factors_per_role() {
    let app = spawn_app().await;
    let xixiu = app.login_as("xixiu").await;
    assert_eq!(xixiu.get("/messages").await.status(), StatusCode::OK);
    let sec = app.login_as("secadmin").await;
    let r = sec
        .submit(
            "/security",
            "/security/policy",
            &[
                ("require_2fa", "county_operator"),
                ("max_age", "90"),
                ("quota_mb", "10240"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("audit_log WHERE event = '2fa_policy'"), 1);
    // The county operator must enrol before anything else; others are unaffected.
    let r = xixiu.get("/messages").await;
    assert_eq!(location(&r), "/account/2fa");
    let center = app.login_as("center").await;
    assert_eq!(center.get("/messages").await.status(), StatusCode::OK);
    enrol(&xixiu).await;
    assert_eq!(xixiu.get("/messages").await.status(), StatusCode::OK);
    // Required: it cannot be switched off.
    let r = xixiu
        .submit(
            "/account/2fa",
            "/account/2fa/disable",
            &[("password", DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Only the security administrator sets the policy.
    for who in ["sysadmin", "auditor", "center"] {
        let b = app.login_as(who).await;
        let r = b.submit("/", "/security/policy", &[("max_age", "0")]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{who}");
    }
}

#[tokio::test]
async fn expired_and_reused_passwords() {
    let app = spawn_app().await;
    let b = app.login_as("zhujian").await;
    // Expired (changed 100 days ago, policy 90): a forced change first.
    {
        use diesel::connection::SimpleConnection;
        let old = (app.clock.now() - chrono::Duration::days(100)).format("%Y-%m-%d %H:%M:%S");
        app.db()
            .batch_execute(&format!(
                "UPDATE users SET password_changed_at = '{old}' WHERE username = 'zhujian'"
            ))
            .expect("age the password");
    }
    let r = b.get("/messages").await;
    assert_eq!(location(&r), "/account/password");
    let change = |new: &'static str, current: &'static str| {
        let b = &b;
        async move {
            b.submit(
                "/account/password",
                "/account/password",
                &[
                    ("current", current),
                    ("new_password", new),
                    ("confirm", new),
                ],
            )
            .await
        }
    };
    let r = change("Qiye#Anshun2027", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.get("/messages").await.status(), StatusCode::OK);
    let r = change("Banli#Quhao2028", "Qiye#Anshun2027").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Back to an earlier password: refused.
    let r = change("Qiye#Anshun2027", "Banli#Quhao2028").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("不能与最近 5 次使用过的密码相同"));
}

#[tokio::test]
async fn my_sessions_lists_and_ends_the_other_logins() {
    let app = spawn_app().await;
    let office = app.login_as("renshe").await;
    let laptop = app.login_as("renshe").await;
    let (_, page) = office.page("/account/sessions").await;
    assert_eq!(page.matches("<tr><td class=\"nowrap\">").count(), 2);
    assert!(page.contains("本次登录") && page.contains("127.0.0.1"));
    let other = page
        .split("/account/sessions/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("the other session")
        .to_string();
    let r = office
        .submit(
            "/account/sessions",
            &format!("/account/sessions/{other}/end"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        laptop.get("/messages").await.status(),
        StatusCode::SEE_OTHER,
        "ended"
    );
    assert_eq!(
        office.get("/messages").await.status(),
        StatusCode::OK,
        "this one stays"
    );
    // Another user's session id does nothing.
    let zhujian = app.login_as("zhujian").await;
    let (_, zp) = zhujian.page("/account/sessions").await;
    assert!(zp.contains("本次登录"));
    assert_eq!(app.count("audit_log WHERE event = 'session_end'"), 1);
}
