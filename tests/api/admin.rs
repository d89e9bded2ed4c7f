//! Units and users administration, role separation, navigation by role, audit trail.

use reqwest::StatusCode;

use crate::helpers::{location, spawn_app, Browser, DEMO_PASSWORD};

const ALL_DEMO: [&str; 9] = [
    "center", "leader", "xixiu", "pingba", "zhujian", "renshe", "sysadmin", "secadmin", "auditor",
];

/// The id of a user, read from the users page.
pub async fn user_id(admin: &Browser, username: &str) -> String {
    let (_, html) = admin.page(&format!("/admin/users?q={username}")).await;
    let marker = format!("\">{username}</a>");
    let end = html.find(&marker).expect("user listed");
    let start = html[..end].rfind("/admin/users/").expect("link") + "/admin/users/".len();
    html[start..end].to_string()
}

#[tokio::test]
async fn anshun_units_are_loaded_into_an_empty_database() {
    let app = spawn_app().await;
    // centre + leadership + 6 counties + 92 towns + 2 zones + 38 departments
    assert_eq!(app.count("units"), 140);
    assert_eq!(app.count("units WHERE kind = 'county'"), 6);
    assert_eq!(app.count("units WHERE kind = 'subunit'"), 92);
    let admin = app.login_as("sysadmin").await;
    let (status, html) = admin.page("/admin/units").await;
    assert_eq!(status, StatusCode::OK);
    for name in [
        "安顺市西秀区",
        "安顺市平坝区",
        "黄果树旅游区",
        "安顺市住房和城乡建设局",
        "西秀区南街街道",
    ] {
        assert!(html.contains(name), "{name}");
    }
}

#[tokio::test]
async fn each_admin_page_is_404_to_every_other_role() {
    let app = spawn_app().await;
    let pages: [(&str, &[&str]); 9] = [
        ("/admin/units", &["sysadmin"]),
        ("/admin/units/new", &["sysadmin"]),
        ("/admin/units/3/edit", &["sysadmin"]),
        ("/admin/users", &["sysadmin"]),
        ("/admin/users/new", &["sysadmin"]),
        ("/admin/users/1", &["sysadmin"]),
        ("/security", &["secadmin"]),
        ("/audit", &["auditor"]),
        ("/audit?event=login", &["auditor"]),
    ];
    let posts: [(&str, &[(&str, &str)]); 6] = [
        (
            "/admin/units",
            &[
                ("name", "越权单位"),
                ("kind", "department"),
                ("parent_id", "1"),
            ],
        ),
        (
            "/admin/units/3",
            &[("name", "越权改名"), ("kind", "county"), ("parent_id", "1")],
        ),
        ("/admin/units/3/active", &[("active", "0")]),
        (
            "/admin/users",
            &[
                ("username", "intruder"),
                ("display_name", "x"),
                ("unit_id", "1"),
                ("role", "sys_admin"),
            ],
        ),
        ("/admin/users/3/active", &[("active", "0")]),
        ("/admin/users/3/reset-password", &[]),
    ];
    for user in ALL_DEMO {
        let b = app.login_as(user).await;
        for (path, allowed) in pages {
            let status = b.get(path).await.status();
            if allowed.contains(&user) {
                assert_eq!(status, StatusCode::OK, "{user} {path}");
            } else {
                assert_eq!(status, StatusCode::NOT_FOUND, "{user} {path}");
            }
        }
        if user == "sysadmin" {
            continue;
        }
        let units = app.count("units");
        let users = app.count("users");
        let audit = app.count("audit_log");
        let active_units = app.count("units WHERE active");
        let hashes = {
            use diesel::prelude::*;
            use liuyan::db::schema::users::dsl as u;
            let mut c = app.db();
            u::users
                .select(u::password_hash)
                .order(u::id)
                .load::<String>(&mut c)
                .expect("hashes")
        };
        for (path, fields) in posts {
            let r = b.submit("/", path, fields).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{user} POST {path}");
        }
        assert_eq!(app.count("units"), units);
        assert_eq!(app.count("users"), users);
        assert_eq!(app.count("units WHERE active"), active_units);
        assert_eq!(app.count("users WHERE active"), 10);
        assert_eq!(
            app.count("audit_log"),
            audit,
            "a refused action writes nothing"
        );
        let after = {
            use diesel::prelude::*;
            use liuyan::db::schema::users::dsl as u;
            let mut c = app.db();
            u::users
                .select(u::password_hash)
                .order(u::id)
                .load::<String>(&mut c)
                .expect("hashes")
        };
        assert_eq!(hashes, after, "{user}: no password was reset");
        assert_eq!(app.count("units WHERE name LIKE '越权%'"), 0);
    }
}

#[tokio::test]
async fn navigation_shows_only_what_the_role_may_use() {
    let app = spawn_app().await;
    let expect: [(&str, &[&str], &[&str]); 6] = [
        (
            "center",
            &[
                "待办",
                "留言登记",
                "留言列表",
                "统计分析",
                "档案汇总",
                "量化考评",
                "业务设置",
                "我的账户",
            ],
            &["单位管理", "用户管理", "审计日志", "账户安全"],
        ),
        (
            "leader",
            &["首页", "留言列表"],
            &["留言登记", "单位管理", "审计日志"],
        ),
        (
            "zhujian",
            &["待办", "留言列表"],
            &["留言登记", "单位管理", "审计日志", "账户安全"],
        ),
        (
            "sysadmin",
            &["单位管理", "用户管理"],
            &["留言列表", "审计日志", "账户安全"],
        ),
        (
            "secadmin",
            &["账户安全"],
            &["留言列表", "单位管理", "用户管理", "审计日志"],
        ),
        (
            "auditor",
            &["审计日志"],
            &["留言列表", "单位管理", "用户管理", "账户安全"],
        ),
    ];
    for (user, present, absent) in expect {
        let b = app.login_as(user).await;
        let (_, html) = b.page("/").await;
        let nav_start = html.find("class=\"mainnav\"").expect("nav");
        let nav_end = html[nav_start..].find("</nav>").expect("nav end") + nav_start;
        let nav = &html[nav_start..nav_end];
        for p in present {
            assert!(nav.contains(p), "{user} should see {p}");
        }
        for a in absent {
            assert!(!nav.contains(a), "{user} should not see {a}");
        }
    }
}

#[tokio::test]
async fn sysadmin_manages_units_with_errors_shown_and_input_kept() {
    let app = spawn_app().await;
    let admin = app.login_as("sysadmin").await;
    // A county sub-unit under a city department is refused, with the typed name kept.
    let r = admin
        .submit(
            "/admin/units/new",
            "/admin/units",
            &[
                ("name", "市住建局下属科室"),
                ("kind", "subunit"),
                ("parent_id", "1"),
                ("code", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    assert!(html.contains("value=\"市住建局下属科室\""));
    assert!(html.contains("的上级应为"));
    let before = app.count("units");

    // A valid new department.
    let r = admin
        .submit(
            "/admin/units/new",
            "/admin/units",
            &[
                ("name", "安顺市数据资源局"),
                ("short_name", "市数据局"),
                ("kind", "department"),
                ("parent_id", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("units"), before + 1);
    let (_, html) = admin.page("/admin/units").await;
    assert!(html.contains("已新建单位“安顺市数据资源局”"));

    // Duplicate names are refused.
    let r = admin
        .submit(
            "/admin/units/new",
            "/admin/units",
            &[
                ("name", "安顺市数据资源局"),
                ("kind", "department"),
                ("parent_id", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Edit it, then disable it.
    let id = {
        use diesel::prelude::*;
        use liuyan::db::schema::units::dsl as u;
        let mut c = app.db();
        u::units
            .filter(u::name.eq("安顺市数据资源局"))
            .select(u::id)
            .first::<i32>(&mut c)
            .expect("new unit")
    };
    let r = admin
        .submit(
            &format!("/admin/units/{id}/edit"),
            &format!("/admin/units/{id}"),
            &[
                ("name", "安顺市大数据资源局"),
                ("short_name", "市大数据资源局"),
                ("kind", "department"),
                ("parent_id", "1"),
                ("sort_order", "5"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = admin
        .submit(
            "/admin/units",
            &format!("/admin/units/{id}/active"),
            &[("active", "0")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!("units WHERE id = {id} AND NOT active")),
        1
    );

    // A unit with active users cannot be disabled; the reason is shown.
    let r = admin
        .submit("/admin/units", "/admin/units/1/active", &[("active", "0")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.page("/admin/units").await;
    assert!(html.contains("不能停用"));
    assert_eq!(app.count("units WHERE id = 1 AND active"), 1);
    assert!(
        app.count("audit_log WHERE event IN ('unit_create', 'unit_update', 'unit_disable')") >= 3
    );
}

#[tokio::test]
async fn sysadmin_creates_a_user_who_must_change_the_temporary_password() {
    let app = spawn_app().await;
    let admin = app.login_as("sysadmin").await;
    let xixiu_unit = {
        use diesel::prelude::*;
        use liuyan::db::schema::units::dsl as u;
        let mut c = app.db();
        u::units
            .filter(u::name.eq("安顺市西秀区"))
            .select(u::id)
            .first::<i32>(&mut c)
            .expect("xixiu")
    };
    let unit = xixiu_unit.to_string();
    // A department role in a county office is refused; the input is kept.
    let r = admin
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("username", "wanglei"),
                ("display_name", "王磊"),
                ("unit_id", &unit),
                ("role", "dept_operator"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    assert!(html.contains("value=\"王磊\""));
    assert!(html.contains("角色的用户应属于"));
    // Duplicate username.
    let r = admin
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("username", "xixiu"),
                ("display_name", "重复"),
                ("unit_id", &unit),
                ("role", "county_operator"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let r = admin
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("username", "wanglei"),
                ("display_name", "王磊"),
                ("unit_id", &unit),
                ("role", "county_operator"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let html = r.text().await.expect("body");
    let start = html.find("<code>").expect("temporary password") + "<code>".len();
    let end = html[start..].find("</code>").expect("end") + start;
    let temp = html[start..end].to_string();

    let user = app.browser();
    let r = user.login("wanglei", &temp).await;
    assert_eq!(location(&r), "/account/password");
    let r = user
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", &temp),
                ("new_password", "Wang#Lei2026x"),
                ("confirm", "Wang#Lei2026x"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, home) = user.page("/").await;
    assert!(home.contains("县区办理员"));
    assert!(home.contains("安顺市西秀区"));

    // Change the role and unit: the user's session ends, the new role applies.
    let id = user_id(&admin, "wanglei").await;
    let zhujian_unit = {
        use diesel::prelude::*;
        use liuyan::db::schema::units::dsl as u;
        let mut c = app.db();
        u::units
            .filter(u::name.eq("安顺市住房和城乡建设局"))
            .select(u::id)
            .first::<i32>(&mut c)
            .expect("zhujian")
    };
    let r = admin
        .submit(
            &format!("/admin/users/{id}"),
            &format!("/admin/users/{id}"),
            &[
                ("display_name", "王磊"),
                ("unit_id", &zhujian_unit.to_string()),
                ("role", "dept_operator"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(user.get("/").await.status(), StatusCode::SEE_OTHER);
    let r = user.login("wanglei", "Wang#Lei2026x").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, home) = user.page("/").await;
    assert!(home.contains("部门办理员"));

    // Reset the password: a new temporary one, sessions end, change forced again.
    let r = admin
        .submit(
            &format!("/admin/users/{id}"),
            &format!("/admin/users/{id}/reset-password"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(user.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        user.login("wanglei", "Wang#Lei2026x").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn the_auditor_reads_logins_and_changes_and_nobody_can_alter_them() {
    let app = spawn_app().await;
    let _ = app.browser().login("center", "Wrong@Pass2026").await;
    let admin = app.login_as("sysadmin").await;
    let id = user_id(&admin, "renshe").await;
    admin
        .submit(
            &format!("/admin/users/{id}"),
            &format!("/admin/users/{id}/active"),
            &[("active", "0")],
        )
        .await;
    let auditor = app.login_as("auditor").await;
    let (_, html) = auditor.page("/audit").await;
    assert!(html.contains("停用用户"));
    assert!(html.contains("登录"));
    assert!(html.contains("失败"));
    let table = &html[html.find("<table").expect("table")..];
    assert!(
        !table.contains(DEMO_PASSWORD),
        "no password in the audit log"
    );
    let (_, filtered) = auditor.page("/audit?username=center&event=login").await;
    let table = &filtered[filtered.find("<table").expect("table")..];
    assert!(table.contains("center"));
    assert!(!table.contains("停用用户"));

    // The database refuses updates and deletes of the audit log.
    use diesel::connection::SimpleConnection;
    let mut c = app.db();
    assert!(c
        .batch_execute("UPDATE audit_log SET result = 'x'")
        .is_err());
    assert!(c.batch_execute("DELETE FROM audit_log").is_err());
}

#[tokio::test]
async fn the_session_table_holds_no_raw_session_key() {
    let app = spawn_app().await;
    let b = app.browser();
    let r = b.login("center", DEMO_PASSWORD).await;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(!cookie.is_empty());
    use diesel::prelude::*;
    use liuyan::db::schema::sessions::dsl as s;
    let mut c = app.db();
    let rows: Vec<(String, String)> = s::sessions
        .select((s::id, s::state))
        .load(&mut c)
        .expect("sessions");
    assert!(!rows.is_empty());
    for (id, state) in rows {
        assert_eq!(id.len(), 64, "stored as a SHA-256 hex digest");
        assert!(!cookie.contains(&id));
        assert!(!state.contains("Anshun"));
    }
}
