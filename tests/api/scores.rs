//! 量化积分考评 through the real app: a year of messages for several units, each unit's
//! lines and grade, manual entries and reversals, a finding on a return, scoping, 定稿
//! and the documents, and frozen results that new data does not move.

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;

use crate::helpers::{china_clock, location, spawn_tuned, Browser, TestApp};

/// The scoring tests work on the year 2026 as it ends: their own clock, never the real day.
async fn spawn_late_2026() -> TestApp {
    spawn_tuned(true, false, |c| c.clock = china_clock("2026-11-30T10:00")).await
}
use crate::lifecycle::{ok, register, unit_id};

async fn assigned_to(app: &TestApp, center: &Browser, unit: &str, title: &str) -> i32 {
    let id = register(
        center,
        title,
        &format!("考{}", title.chars().rev().take(6).collect::<String>()),
    )
    .await;
    ok(center, id, "assign", &[("unit_id", &unit_id(app, unit))]).await;
    id
}

fn overdue(app: &TestApp, ids: &[i32]) {
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    app.db()
        .batch_execute(&format!(
            "UPDATE messages SET due_at = '2026-11-02' WHERE id IN ({})",
            list.join(",")
        ))
        .expect("make overdue");
}

fn score_of(html: &str, unit: &str) -> String {
    // The scoreboard row: …>UNIT</a></td><td class="num"><strong>TOTAL</strong>
    html.split(&format!(">{unit}</a>"))
        .nth(1)
        .and_then(|s| s.split("<strong>").nth(1))
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("{unit} on the scoreboard"))
        .to_string()
}

async fn entry(
    center: &Browser,
    unit: &str,
    item: &str,
    count: &str,
    reason: &str,
) -> reqwest::Response {
    center
        .submit(
            "/scores/entries?year=2026",
            "/scores/entries?year=2026",
            &[
                ("unit_id", unit),
                ("item", item),
                ("count", count),
                ("date", "2026-11-20"),
                ("reason", reason),
                ("evidence_ref", "安社督〔2026〕1号"),
            ],
        )
        .await
}

#[tokio::test]
async fn a_year_of_work_scored_explained_finalised_and_frozen() {
    let app = spawn_late_2026().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let pingba = app.login_as("pingba").await;
    let renshe = app.login_as("renshe").await;

    // 西秀区: rejected once, closed unresolved, follow-up 不满意: -1 -0.5 -0.5 = 98 合格.
    let a = assigned_to(&app, &center, "安顺市西秀区", "西秀考评留言").await;
    ok(&xixiu, a, "accept", &[]).await;
    ok(&xixiu, a, "reply", &[("text", "已处理"), ("resolved", "1")]).await;
    ok(&center, a, "reject", &[("text", "答非所问")]).await;
    ok(
        &xixiu,
        a,
        "reply",
        &[("text", "重新核实处理"), ("resolved", "0")],
    )
    .await;
    ok(&center, a, "approve", &[("resolved", "0")]).await;
    ok(
        &center,
        a,
        "follow_up",
        &[
            ("method", "电话"),
            ("satisfaction", "不满意"),
            ("text", "没解决"),
        ],
    )
    .await;

    // 平坝区: three replies overdue (-3) and a 低级错误 (-10 at the cap): 87 基本合格.
    let mut late = Vec::new();
    for i in 0..3 {
        let id = assigned_to(&app, &center, "安顺市平坝区", &format!("平坝超期{i}")).await;
        ok(&pingba, id, "accept", &[]).await;
        late.push(id);
    }
    overdue(&app, &late);
    let pingba_late = late.clone();
    let pingba_unit = unit_id(&app, "安顺市平坝区");
    let r = entry(&center, &pingba_unit, "D11", "12", "答复中把反映人姓名写错").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // 市住建局: six overdue (-6), 低级错误 -10 and 其他 -10: 74 不合格.
    let zhujian = app.login_as("zhujian").await;
    let mut late = Vec::new();
    for i in 0..6 {
        let id = assigned_to(
            &app,
            &center,
            "安顺市住房和城乡建设局",
            &format!("住建超期{i}"),
        )
        .await;
        ok(&zhujian, id, "accept", &[]).await;
        late.push(id);
    }
    overdue(&app, &late);
    let zj = unit_id(&app, "安顺市住房和城乡建设局");
    assert_eq!(
        entry(&center, &zj, "D11", "10", "单位名称写错")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        entry(&center, &zj, "D12", "10", "未按要求报送台账")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    // An entry made by mistake and withdrawn by a reversal.
    assert_eq!(
        entry(&center, &zj, "B03", "1", "误录").await.status(),
        StatusCode::SEE_OTHER
    );
    let mistaken: i32 = {
        use diesel::prelude::*;
        use liuyan::db::schema::score_entries::dsl as s;
        s::score_entries
            .filter(s::item.eq("B03"))
            .select(s::id)
            .first(&mut app.db())
            .expect("entry")
    };
    let r = center
        .submit(
            "/scores/entries?year=2026",
            &format!("/scores/entries/{mistaken}/reverse"),
            &[("reason", "录错单位")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("score_entries"),
        5,
        "the reversal is appended, nothing deleted"
    );
    // Bad input is refused with the typed text kept.
    let r = entry(&center, &zj, "D01", "1", "自动项目不能录入").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("自动项目不能录入"));
    // A manual entry rests on evidence: a file or a document number.
    let r = center
        .submit(
            "/scores/entries?year=2026",
            "/scores/entries?year=2026",
            &[
                ("unit_id", &zj),
                ("item", "D11"),
                ("count", "2"),
                ("date", "2026-11-20"),
                ("reason", "无依据的扣分"),
                ("evidence_ref", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(page.contains("请上传证明材料") && page.contains("无依据的扣分"));
    assert_eq!(app.count("score_entries"), 5, "nothing saved");

    // 市人社局 returns a message; the centre finds the return unjustified: -1 = 99.
    let b = assigned_to(&app, &center, "安顺市人力资源和社会保障局", "人社退回留言").await;
    ok(&renshe, b, "return", &[("text", "不属于我局职责")]).await;
    let r = center
        .submit(
            &format!("/messages/{b}"),
            &format!("/messages/{b}/return-mark/3"),
            &[("reason", "欠薪问题属人社职责")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = xixiu
        .submit(
            "/",
            &format!("/messages/{b}/return-mark/3"),
            &[("reason", "x")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only the owner decides");

    let (_, board) = center.page("/scores?year=2026").await;
    assert_eq!(score_of(&board, "西秀区"), "98");
    assert_eq!(score_of(&board, "平坝区"), "87");
    assert_eq!(score_of(&board, "市住房和城乡建设局"), "74");
    assert_eq!(score_of(&board, "市人力资源和社会保障局"), "99");
    assert_eq!(score_of(&board, "普定县"), "100");

    // A unit's page explains every line, linking the messages that caused it.
    let page = format!("/scores/unit/{pingba_unit}?year=2026");
    let (_, html) = center.page(&page).await;
    assert!(html.contains("基本合格"));
    assert!(html.contains("书面函告"));
    for id in &pingba_late {
        assert!(html.contains(&format!("/messages/{id}")));
    }
    assert!(html.contains("应于 2026-11-02 前答复，至今未答复"));
    assert!(html.contains("答复中把反映人姓名写错"));
    assert!(html.contains("达上限"), "12 points capped at 10");
    // Units see their own page only; administrators nothing.
    assert_eq!(pingba.page(&page).await.0, StatusCode::OK);
    assert_eq!(xixiu.page(&page).await.0, StatusCode::NOT_FOUND);
    let r = xixiu.get("/scores").await;
    assert_eq!(
        location(&r),
        format!("/scores/unit/{}", unit_id(&app, "安顺市西秀区"))
    );
    let admin = app.login_as("sysadmin").await;
    assert_eq!(admin.page("/scores").await.0, StatusCode::NOT_FOUND);
    assert_eq!(xixiu.page("/scores/entries").await.0, StatusCode::NOT_FOUND);
    let r = pingba
        .submit(
            "/",
            "/scores/entries?year=2026",
            &[
                ("unit_id", &pingba_unit),
                ("item", "B02"),
                ("count", "5"),
                ("date", "2026-11-20"),
                ("reason", "自己给自己加分"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let leader = app.login_as("leader").await;
    assert_eq!(leader.page("/scores?year=2026").await.0, StatusCode::OK);
    let r = leader.get("/scores/export?year=2026").await;
    assert!(r.bytes().await.expect("xlsx").starts_with(b"PK"));

    // 定稿 is refused while the year runs: what is due in December has not come yet.
    let (_, confirm) = center.page("/scores/finalise?year=2026").await;
    assert!(confirm.contains("截至今日的得分") && !confirm.contains("确认定稿（不可撤销）"));
    let r = center
        .submit(
            "/scores/finalise?year=2026",
            "/scores/finalise",
            &[("year", "2026"), ("confirm", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("2026 年尚未结束，不能定稿"));
    assert_eq!(app.count("score_results"), 0);
    // A future day is not scored either: the board says as of today.
    let r = center
        .submit_get(
            "/scores?year=2026",
            "/scores",
            &[("year", "2026"), ("as_of", "2026-12-31")],
        )
        .await;
    let board = r.text().await.expect("board");
    assert!(board.contains("截至 2026-11-30 的实时得分"), "{board}");

    // In January: a confirmation page first, then frozen.
    let app = app.restart_at(china_clock("2027-01-04T09:00")).await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let (_, confirm) = center.page("/scores/finalise?year=2026").await;
    assert!(confirm.contains("不能撤销"));
    let r = center
        .submit(
            "/scores/finalise?year=2026",
            "/scores/finalise",
            &[("year", "2026")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("请先勾选"));
    assert_eq!(
        app.count("score_results"),
        0,
        "not without the confirmation"
    );
    let r = center
        .submit(
            "/scores/finalise?year=2026",
            "/scores/finalise",
            &[("year", "2026"), ("confirm", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.count("score_results") > 40);

    // New data after 定稿 moves nothing.
    let late_one = assigned_to(&app, &center, "安顺市西秀区", "定稿后的超期").await;
    ok(&xixiu, late_one, "accept", &[]).await;
    overdue(&app, &[late_one]);
    let r = entry(&center, &pingba_unit, "D12", "5", "定稿后录入").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, board) = center.page("/scores?year=2026&as_of=2026-12-31").await;
    assert!(board.contains("已定稿"));
    assert_eq!(score_of(&board, "西秀区"), "98");
    assert_eq!(score_of(&board, "平坝区"), "87");
    // A unit that had no message this year is shown as 无留言, not ranked first.
    let row = |unit: &str| {
        board
            .split("<tr>")
            .find(|r| r.contains(&format!(">{unit}</a>")))
            .unwrap_or_else(|| panic!("{unit} row"))
            .to_string()
    };
    let quiet = row("紫云县");
    assert!(
        quiet.contains("无留言") && quiet.contains(">—</td>"),
        "{quiet}"
    );
    assert!(!row("西秀区").contains(">—</td>"), "西秀区 is ranked");

    // The documents, from the frozen result.
    let (s, letter) = center
        .page(&format!("/scores/2026/letter/{pingba_unit}"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(letter.contains("87 分") && letter.contains("基本合格"));
    let (s, interview) = center.page(&format!("/scores/2026/letter/{zj}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(interview.contains("约谈"));
    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    assert_eq!(
        center
            .page(&format!("/scores/2026/letter/{xixiu_unit}"))
            .await
            .0,
        StatusCode::NOT_FOUND,
        "合格 units get no letter"
    );
    let (s, report) = center.page("/scores/2026/report").await;
    assert_eq!(s, StatusCode::OK);
    assert!(report.contains("不合格 1 个"), "{report}");
}

#[tokio::test]
async fn paper_copies_and_supervision_deadlines_are_scored_from_the_record() {
    let app = spawn_late_2026().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let archived = crate::archive::archived;
    // Three archives of 西秀区: never printed; printed after 销号; printed, then corrected.
    let never = archived(&app, &center, &xixiu, "从未打印的档案").await;
    let kept = archived(&app, &center, &xixiu, "打印后未变的档案").await;
    let changed = archived(&app, &center, &xixiu, "打印后更正的档案").await;
    for id in [kept, changed] {
        let r = center
            .submit(
                &format!("/messages/{id}/archive"),
                &format!("/messages/{id}/archive/print"),
                &[],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    ok(
        &center,
        changed,
        "amend",
        &[("text", "更正：反映人姓名有误")],
    )
    .await;
    // A 催办 due on 12月1日 that 西秀区 never answers.
    let urged = assigned_to(&app, &center, "安顺市西秀区", "催办后未落实").await;
    ok(&xixiu, urged, "accept", &[]).await;
    ok(
        &center,
        urged,
        "urge",
        &[("text", "请于12月1日前答复"), ("deadline", "2026-12-01")],
    )
    .await;

    let xixiu_unit = unit_id(&app, "安顺市西秀区");
    let page = |as_of: &str| format!("/scores/unit/{xixiu_unit}?year=2026&as_of={as_of}");
    // Today: the 10-day grace for paper has not passed, the deadline neither; the corrected
    // archive already differs from its paper copy.
    let (_, today) = center.page(&page("2026-11-30")).await;
    assert!(today.contains("打印后电子档变更"), "{today}");
    assert!(!today.contains("天内未打印纸质档"));
    assert!(!today.contains("未按期答复"));
    // At the end of the year: the unprinted archive and the unmet deadline count too,
    // each with its message; the consistent one does not.
    let app = app.restart_at(china_clock("2027-01-04T09:00")).await;
    let center = app.login_as("center").await;
    let (_, year_end) = center.page(&page("2026-12-31")).await;
    assert!(year_end.contains("销号，10 天内未打印纸质档"), "{year_end}");
    assert!(year_end.contains("要求 2026-12-01 前落实，未按期答复"));
    for id in [never, changed, urged] {
        assert!(
            year_end.contains(&format!("/messages/{id}\"")),
            "cause {id} linked"
        );
        // …and named by its 留言文号.
        let ref_no = app.ref_no(id);
        assert!(
            year_end.contains(&format!("/messages/{id}\">{ref_no}</a>")),
            "{ref_no}"
        );
    }
    assert!(
        !year_end.contains(&format!("/messages/{kept}\"")),
        "consistent paper"
    );
}
