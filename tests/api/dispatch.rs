//! 智能分拨 through the real app: a site seeded with labelled texts by `liuyan classify
//! --train` proposes the handling unit on the 转办 form (with its reason, the first one
//! pre-selected) and the 所属类型 after 登记; a place name of the unit tree decides the
//! county; the proposal is recorded with the 转办 and counted on the dashboard; the site
//! learns a new subject from its own confirmed messages after a retraining started from
//! 业务设置, and a kept version can be put back. A wrong role gets none of it.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::{skip, spawn_app, Browser, TestApp};
use crate::lifecycle::{act, register_fields};

/// Labelled texts written for these tests (nothing from ../shared/data): each subject's
/// texts are built from its own phrases, so that a model can tell them apart.
fn seed_csv() -> String {
    let subjects: &[(&str, &[&str], &[&str])] = &[
        (
            "劳动和社会保障",
            &[
                "拖欠工资",
                "养老保险断缴",
                "社保补缴",
                "劳动合同纠纷",
                "失业金申领",
                "农民工讨薪",
            ],
            &[
                "老板拖欠我们三个月工资不发",
                "单位没有给职工缴纳社保",
                "劳动监察部门请帮忙讨回血汗钱",
                "退休职工养老金待遇核定有误",
            ],
        ),
        (
            "城乡建设",
            &[
                "小区违建",
                "道路施工扰民",
                "房屋漏水",
                "物业不作为",
                "拆迁安置",
                "城中村改造",
            ],
            &[
                "开发商交房后墙体开裂漏水",
                "违章建筑占用消防通道",
                "市政道路挖开后迟迟不回填",
                "安置房建设进度缓慢",
            ],
        ),
        (
            "教育文体",
            &[
                "学校乱收费",
                "学生入学难",
                "教师体罚",
                "幼儿园收费",
                "校车安全",
                "体育馆开放",
            ],
            &[
                "学校强制学生购买教辅资料",
                "孩子就近入学被拒",
                "老师课后有偿补课",
                "公办幼儿园学位不足",
            ],
        ),
        (
            "环境保护",
            &[
                "工厂排污",
                "噪音污染",
                "河道污染",
                "垃圾焚烧",
                "扬尘污染",
                "养殖场臭气",
            ],
            &[
                "化工厂夜间偷排废水",
                "河里死鱼发臭",
                "搅拌站粉尘漫天",
                "养猪场粪水直排农田",
            ],
        ),
    ];
    let mut out = String::from("一级分类,留言主题,留言详情\n");
    for (label, titles, bodies) in subjects {
        for (i, t) in titles.iter().enumerate() {
            for (j, b) in bodies.iter().enumerate() {
                if (i + j) % 2 == 0 {
                    out.push_str(&format!("{label},{t},{b}，{t}问题希望尽快解决。\n"));
                }
            }
        }
    }
    out
}

/// `liuyan classify --train FILE` against the running site's database and data directory.
fn seed(app: &TestApp, csv: &str) -> String {
    let file = app.data_dir.join("seed.csv");
    std::fs::write(&file, csv).expect("write seed file");
    let out = Command::new(env!("CARGO_BIN_EXE_liuyan"))
        .args(["classify", "--train"])
        .arg(&file)
        .env("LIUYAN_DATA_DIR", &app.data_dir)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "error")
        .output()
        .expect("run liuyan classify");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "classify: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The proposals shown on a message's 转办 form: (unit name, reason), best first.
fn proposals(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let li = scraper::Selector::parse("#assign-proposals li").expect("selector");
    let strong = scraper::Selector::parse("strong").expect("selector");
    let help = scraper::Selector::parse(".help").expect("selector");
    doc.select(&li)
        .map(|e| {
            let text = |s: &scraper::Selector| {
                e.select(s)
                    .next()
                    .map(|x| x.text().collect::<String>())
                    .unwrap_or_default()
            };
            (text(&strong), text(&help))
        })
        .collect()
}

/// The unit the 转办 form pre-selects.
fn preselected(html: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("#assign-unit option[selected]").expect("selector");
    doc.select(&sel).next().map(|o| o.text().collect())
}

async fn register_about(b: &Browser, title: &str, appeal: &str, name: &str) -> (i32, String) {
    let mut fields = register_fields(title, name);
    for f in fields.iter_mut() {
        if f.0 == "appeal" {
            f.1 = appeal;
        }
        if f.0 == "category" {
            f.1 = "其他";
        }
    }
    let mut r = b.submit("/messages/new", "/messages", &fields).await;
    if r.status() == StatusCode::OK {
        // Similar texts are shown as possible repeats; the clerk confirms a new one.
        fields.push(("confirm_duplicate", "1"));
        r = b.submit("/messages/new", "/messages", &fields).await;
    }
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "register {title}");
    let id: i32 = crate::helpers::location(&r)
        .trim_start_matches("/messages/")
        .parse()
        .expect("id");
    let (_, html) = b.page(&format!("/messages/{id}")).await;
    (id, html)
}

fn unit_id(app: &TestApp, short_name: &str) -> i32 {
    use diesel::prelude::*;
    use liuyan::db::schema::units::dsl as u;
    u::units
        .filter(u::short_name.eq(short_name))
        .select(u::id)
        .first(&mut app.db())
        .expect("unit")
}

fn active_version(app: &TestApp, kind: &str) -> Option<i32> {
    liuyan::dispatch::store::active(&mut app.db(), kind)
        .expect("query")
        .map(|x| x.1)
}

#[tokio::test]
async fn proposals_come_from_seeds_and_places_are_recorded_and_counted() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;

    // No model and no place named: nothing is proposed rather than a guess.
    let (_, html) = register_about(&center, "工资被拖欠", "老板拖欠工资三个月", "甲").await;
    assert!(proposals(&html).is_empty(), "no model, no proposal");
    assert!(!html.contains("智能分拨建议所属类型"));

    let printed = seed(&app, &seed_csv());
    assert!(printed.contains("unit model v1"), "{printed}");
    assert_eq!(active_version(&app, "unit"), Some(1));

    let (id, html) = register_about(
        &center,
        "建筑公司拖欠农民工工资",
        "我们在工地干了半年，老板一直拖欠工资，社保也没有缴纳，请求帮助讨薪。",
        "乙",
    )
    .await;
    let p = proposals(&html);
    assert_eq!(p.len(), 3, "{p:?}");
    assert_eq!(p[0].0, "安顺市人力资源和社会保障局", "{p:?}");
    assert!(
        p[0].1.contains("工资"),
        "the reason quotes the words: {p:?}"
    );
    assert_eq!(
        preselected(&html).as_deref(),
        Some("安顺市人力资源和社会保障局")
    );
    assert!(
        html.contains("智能分拨建议所属类型：<strong>劳动和社会保障</strong>"),
        "the 所属类型 is proposed after 登记"
    );

    // The clerk submits the form as the page offers it: the pre-selected unit.
    let r = act(&center, id, "assign", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let renshe = unit_id(&app, "市人力资源和社会保障局");
    assert_eq!(
        crate::lifecycle::state(&app, id),
        "assigned",
        "assigned to the proposal"
    );
    let (_, dash) = center.page("/dashboard").await;
    assert!(
        dash.contains("智能分拨建议采纳情况"),
        "the centre's dashboard counts proposals"
    );
    assert!(dash.contains("1（100.0%）"), "taken once of once");

    // A 退回 of a taken proposal is counted as one that led to a 退回.
    let renshe_user = app.login_as("renshe").await;
    let r = act(&renshe_user, id, "return", &[("text", "非本单位职责")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (months, corrected) =
        liuyan::dispatch::store::accuracy(&mut app.db(), "2000-01", &[renshe]).expect("accuracy");
    assert_eq!((months[0].taken, months[0].taken_returned), (1, 1));
    assert_eq!(corrected, vec![(renshe, 1)]);
    // A county's dashboard counts only the proposals for its own sub-units: none here.
    let xixiu = app.login_as("xixiu").await;
    let (_, dash) = xixiu.page("/dashboard").await;
    assert!(dash.contains("智能分拨建议采纳情况") && dash.contains("近 12 个月没有给出过转办建议"));

    // A township of 平坝区 named in the text: 平坝区 first, the place as the reason.
    let (_, html) = register_about(
        &center,
        "天龙镇学校门口道路破损",
        "平坝区天龙镇中学门口的道路坑洼不平，雨天积水，学生上学很不安全。",
        "丙",
    )
    .await;
    let p = proposals(&html);
    assert_eq!(p[0].0, "安顺市平坝区", "{p:?}");
    assert!(p[0].1.contains("地名"), "{p:?}");
}

#[tokio::test]
async fn the_import_preview_proposes_a_unit_for_each_row() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    seed(&app, &seed_csv());
    let csv = "信件编号,来信人,信件标题,来信时间,信件内容\n\
D1,王某,公司拖欠工资,2019-11-02 09:00,老板拖欠我们三个月工资，社保也不缴纳，请帮忙讨薪。\n\
D2,李某,学校门口道路破损,2019-11-03 10:00,平坝区天龙镇中学门口道路坑洼积水。\n";
    let (status, html, fields) = crate::import::upload_and_preview(
        &center,
        "信件.csv",
        csv.as_bytes(),
        "市长信箱",
        "其他",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let doc = scraper::Html::parse_document(&html);
    let cell = scraper::Selector::parse("td.proposal-cell").expect("selector");
    let strong = scraper::Selector::parse("strong").expect("selector");
    let rows: Vec<(String, String)> = doc
        .select(&cell)
        .map(|c| {
            (
                c.select(&strong)
                    .next()
                    .map(|x| x.text().collect())
                    .unwrap_or_default(),
                c.text().collect(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "安顺市人力资源和社会保障局", "{rows:?}");
    assert!(rows[0].1.contains("工资"), "with its reason: {rows:?}");
    assert_eq!(rows[1].0, "安顺市平坝区", "{rows:?}");
    assert!(rows[1].1.contains("天龙镇"), "{rows:?}");

    // Imported, the rows wait for 转办, where the same unit is pre-selected.
    assert_eq!(
        crate::import::commit(&center, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    let id: i32 = {
        use diesel::prelude::*;
        use liuyan::db::schema::messages::dsl as m;
        m::messages
            .filter(m::platform_ref.eq("D1"))
            .select(m::id)
            .first(&mut app.db())
            .expect("imported")
    };
    let (_, page) = center.page(&format!("/messages/{id}")).await;
    assert_eq!(
        preselected(&page).as_deref(),
        Some("安顺市人力资源和社会保障局")
    );
}

#[tokio::test]
async fn the_site_learns_a_new_subject_from_its_confirmed_messages_and_can_roll_back() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    seed(&app, &seed_csv());
    let probe_title = "住房公积金提取审核太慢";
    let probe =
        "申请提取住房公积金还房贷，公积金中心审核一个月还没有结果，公积金账户也查不到进度。";
    let (_, html) = register_about(&center, probe_title, probe, "丁").await;
    let before = proposals(&html)[0].0.clone();
    // The department the centre will teach: one of two with a demo account, not the one
    // proposed now.
    let (teach, login) = if before == "安顺市住房和城乡建设局" {
        ("市人力资源和社会保障局", "renshe")
    } else {
        ("市住房和城乡建设局", "zhujian")
    };
    let target = unit_id(&app, teach);
    let handler = app.login_as(login).await;
    let variants = [
        "公积金贷款额度",
        "公积金缴存基数",
        "公积金异地转移",
        "公积金账户冻结",
        "公积金提取租房",
    ];
    for i in 0..20 {
        let title = format!("{}问题{i}", variants[i % variants.len()]);
        let appeal = format!(
            "单位为职工缴存住房公积金，{}办理不畅，公积金中心窗口让反复提交材料（第{i}次反映）。",
            variants[(i + 2) % variants.len()]
        );
        let (id, _) = register_about(&center, &title, &appeal, &format!("戊{i}")).await;
        let r = act(&center, id, "assign", &[("unit_id", &target.to_string())]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = act(&handler, id, "accept", &[]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }

    // 立即重新训练, from the 智能分拨 settings page; it runs in the background.
    let r = center
        .submit("/settings/dispatch", "/settings/dispatch/train", &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while active_version(&app, "unit") != Some(2) {
        assert!(
            std::time::Instant::now() < deadline,
            "retraining did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (_, settings) = center.page("/settings/dispatch").await;
    assert!(
        settings.contains("v2") && settings.contains("center"),
        "who retrained"
    );

    let (_, html) = register_about(&center, "公积金提取被拒", probe, "己").await;
    let p = proposals(&html);
    assert_eq!(
        p[0].0,
        format!("安顺{teach}"),
        "learned from the confirmed messages: {p:?}"
    );

    // Roll back to v1 from the page: the proposal is the old one again, and audited.
    let r = center
        .submit(
            "/settings/dispatch",
            "/settings/dispatch/activate",
            &[("kind", "unit"), ("version", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(active_version(&app, "unit"), Some(1));
    let (_, html) = register_about(&center, "公积金提取被拒了", probe, "庚").await;
    assert_eq!(proposals(&html)[0].0, before);
    let audited: Vec<String> = {
        use diesel::prelude::*;
        use liuyan::db::schema::audit_log::dsl as a;
        a::audit_log
            .filter(a::username.eq("center"))
            .select(a::object)
            .load(&mut app.db())
            .expect("audit")
    };
    assert!(
        audited.iter().any(|o| o == "智能分拨：启用核办单位模型 v1"),
        "{audited:?}"
    );
}

#[tokio::test]
async fn only_the_centre_sees_or_changes_the_dispatch_settings() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    seed(&app, &seed_csv());
    let (_, page) = center.page("/settings/dispatch").await;
    assert!(page.contains("劳动和社会保障"), "the mapping is listed");
    let before = app.whole_database();
    for user in ["xixiu", "renshe", "leader", "sysadmin", "auditor"] {
        let b = app.login_as(user).await;
        let (status, _) = b.page("/settings/dispatch").await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
            "{user}: {status}"
        );
        for (action, fields) in [
            ("/settings/dispatch/train", vec![]),
            (
                "/settings/dispatch/activate",
                vec![("kind", "unit"), ("version", "1")],
            ),
            (
                "/settings/dispatch/subjects",
                vec![("subject", "环境保护"), ("unit_id", "1")],
            ),
        ] {
            let (_, home) = b.page("/").await;
            let token = crate::helpers::csrf_of(&home).expect("csrf");
            let mut all = vec![("csrf_token", token.as_str())];
            all.extend(fields);
            let r = b.post_raw(action, &all).await;
            assert!(
                r.status() == StatusCode::FORBIDDEN || r.status() == StatusCode::NOT_FOUND,
                "{user} {action}: {}",
                r.status()
            );
        }
        // The leader reads the centre's figures, a county its own; nobody else any.
        let (_, dash) = b.page("/dashboard").await;
        match user {
            "leader" | "xixiu" => assert!(dash.contains("智能分拨建议采纳情况"), "{user}"),
            _ => assert!(
                !dash.contains("智能分拨建议采纳情况"),
                "{user} sees no dispatch figures"
            ),
        }
    }
    assert_eq!(before, app.whole_database(), "nothing changed");

    // The centre edits the mapping from the page: a subject may go to two departments.
    let (env, eco) = (unit_id(&app, "市生态环境局"), unit_id(&app, "市自然资源局"));
    let r = center
        .post_raw(
            "/settings/dispatch/subjects",
            &[
                ("csrf_token", &crate::helpers::csrf_of(&page).expect("csrf")),
                ("subject", "环境保护"),
                ("unit_id", &env.to_string()),
                ("unit_id", &eco.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mapped: Vec<i32> = liuyan::dispatch::store::subjects(&mut app.db())
        .expect("mapping")
        .into_iter()
        .filter(|(s, _)| s == "环境保护")
        .map(|(_, u)| u)
        .collect();
    assert_eq!(mapped.len(), 2);
}

/// `liuyan classify --train … --eval …` on the shipped labelled files prints the figures.
#[test]
fn classify_eval_prints_figures_on_the_shipped_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let (dev, sample) = (
        dir.join("taidi2020_labelled_dev.csv"),
        dir.join("taidi2020_messages_sample.csv"),
    );
    if !dev.exists() || !sample.exists() {
        return skip("智能分拨评估测试", "../shared/data 不存在");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_liuyan"))
        .args(["classify", "--train"])
        .arg(&dev)
        .arg("--eval")
        .arg(&sample)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let f1: f64 = text
        .split("macro-F1 ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("macro-F1 printed");
    assert!(
        f1 > 0.8,
        "macro-F1 on messages not trained on: {f1}\n{text}"
    );
    assert!(text.contains("confusion") && text.contains("劳动和社会保障"));
}
