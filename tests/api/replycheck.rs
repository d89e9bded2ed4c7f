//! 答复质量 through the real app: the reply under 审核 is checked and the check shown to
//! the owner on the 审核 form (never blocking it); a boilerplate reply gets the 套话
//! warning and the 驳回重办 form starts from it; a full reply passes. The handling unit
//! sees no check. `liuyan replies` over the shipped replies agrees with the hand labels
//! in tests/data.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::{skip, spawn_app};
use crate::lifecycle::{act, ok, register, state, unit_id};

/// The check shown on a page: (score text, [(item, "通过"/"提示")]).
fn shown(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let doc = scraper::Html::parse_document(html);
    let box_ = scraper::Selector::parse("#reply-check").expect("selector");
    let li = scraper::Selector::parse("li").expect("selector");
    let badge = scraper::Selector::parse(".badge").expect("selector");
    let b = doc.select(&box_).next()?;
    let score = b.select(&badge).next()?.text().collect::<String>();
    let items = b
        .select(&li)
        .map(|l| {
            let t: String = l.text().collect();
            let name = t.split('：').next().unwrap_or("").to_string();
            let verdict = if t.contains("提示") {
                "提示"
            } else {
                "通过"
            };
            (name, verdict.to_string())
        })
        .collect();
    Some((score, items))
}

/// The 答复质量提示率 and 不答所问率 of a unit on the 统计分析 page as it opens.
async fn last_cells(b: &crate::helpers::Browser, unit: &str) -> Vec<String> {
    let (_, html) = b.page("/stats").await;
    let doc = scraper::Html::parse_document(&html);
    let row = scraper::Selector::parse("table.stats tbody tr").expect("selector");
    let th = scraper::Selector::parse("th").expect("selector");
    let td = scraper::Selector::parse("td").expect("selector");
    let r = doc
        .select(&row)
        .find(|r| {
            r.select(&th)
                .next()
                .is_some_and(|h| h.text().collect::<String>() == unit)
        })
        .expect("the unit's row");
    let cells: Vec<String> = r.select(&td).map(|c| c.text().collect()).collect();
    cells[cells.len() - 2..].to_vec()
}

/// The text the 驳回重办 form starts with.
fn reject_text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("form[action$=\"/act/reject\"] textarea[name=\"text\"]")
        .expect("selector");
    doc.select(&sel)
        .next()
        .map(|t| t.text().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_owner_sees_the_reply_check_before_approving() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "小区停水三天无人处理", "周某").await;
    let unit = unit_id(&app, "安顺市西秀区");
    ok(&center, id, "assign", &[("unit_id", &unit)]).await;
    ok(&xixiu, id, "accept", &[]).await;
    ok(
        &xixiu,
        id,
        "reply",
        &[
            (
                "text",
                "网友：您好！您的留言已收悉，已转交相关部门调查处理。感谢您的留言！",
            ),
            ("resolved", "1"),
        ],
    )
    .await;
    assert_eq!(state(&app, id), "replied");

    let (_, page) = center.page(&format!("/messages/{id}")).await;
    let (score, items) = shown(&page).expect("the check is on the 审核 form");
    assert!(page.contains("可能未答复所问"), "flagged as not answering");
    assert!(
        items.contains(&("套话".to_string(), "提示".to_string())),
        "{items:?}"
    );
    let points: u32 = score.trim_end_matches(" 分").parse().expect("score");
    assert!(points <= 20, "{score}");
    // The handling unit, which cannot approve, sees no check.
    let (_, theirs) = xixiu.page(&format!("/messages/{id}")).await;
    assert!(shown(&theirs).is_none());

    // 统计分析 counts the flagged reply against the unit that gave it.
    assert_eq!(
        last_cells(&center, "安顺市西秀区").await,
        ["100.0%", "100.0%"]
    );

    // 驳回重办 as the page offers it: its text quotes the check.
    let text = reject_text(&page);
    assert!(
        text.starts_with("答复质量检查提示：") && text.contains("套话"),
        "{text}"
    );
    ok(&center, id, "reject", &[("text", &text)]).await;
    assert_eq!(state(&app, id), "handling");

    ok(
        &xixiu,
        id,
        "reply",
        &[
            (
                "text",
                "网友：您好！经现场核实，小区停水系供水管道爆裂所致。根据《城市供水条例》，\
                 水务公司已于次日抢修管道，现已恢复供水；物业已安排专人值守处理停水报修。\
                 如有疑问请致电0851-3220000。安顺市西秀区人民政府 2026年12月1日",
            ),
            ("resolved", "1"),
        ],
    )
    .await;
    let (_, page) = center.page(&format!("/messages/{id}")).await;
    let (score, items) = shown(&page).expect("checked again");
    assert!(
        items.iter().all(|(_, v)| v == "通过"),
        "a full reply passes: {items:?}"
    );
    assert!(!page.contains("可能未答复所问"));
    assert!(score.trim_end_matches(" 分").parse::<u32>().expect("score") >= 80);
    // The later reply replaces the earlier one in the figures.
    assert_eq!(last_cells(&center, "安顺市西秀区").await, ["0.0%", "0.0%"]);
    // The check never blocks 审核.
    let r = act(&center, id, "approve", &[("resolved", "1")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(state(&app, id), "closed");
}

#[test]
fn the_check_agrees_with_the_hand_labels_on_the_shipped_replies() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/taidi2020_replies.csv");
    if !file.exists() {
        return skip("答复质量评估测试", "../shared/data 不存在");
    }
    let labels =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reply_labels.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_liuyan"))
        .arg("replies")
        .arg(&file)
        .arg("--labels")
        .arg(&labels)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("答复 2816 条"), "{text}");
    assert!(text.contains("157 条已评定"), "{text}");
    let agreement: f64 = text
        .split("区分一致率 ")
        .nth(1)
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.parse().ok())
        .expect("agreement printed");
    assert!(agreement >= 80.0, "{text}");
}
