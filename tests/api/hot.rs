//! 热点发现 over the shipped hot-topic file (附件3): the stable properties of the grouping
//! (the matters most people wrote about come first, each cluster's messages name its
//! place, distinct 反映人 carry the heat), and the same file imported into a fresh site:
//! the dashboard lists README's top 10, a clerk merges, splits, marks and dismisses, a
//! registered message joins its matter, counties see only their own, and every decision
//! is audited.

use std::time::Duration;

use reqwest::StatusCode;
use scraper::{Html, Selector};

use crate::helpers::{china_clock, skip, spawn_tuned, Browser};

fn hot_file() -> Option<Vec<u8>> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/taidi2020_hot_messages.csv");
    match std::fs::read(&file) {
        Ok(b) => Some(b),
        Err(_) => {
            skip("热点发现测试", "../shared/data 不存在");
            None
        }
    }
}

#[test]
fn the_hot_file_gives_the_matters_most_people_wrote_about() {
    let Some(bytes) = hot_file() else { return };
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut r = csv::Reader::from_reader(bytes);
    let rows: Vec<std::collections::HashMap<String, String>> =
        r.deserialize().filter_map(Result::ok).collect();
    let items: Vec<liuyan::hot::Item> = rows
        .iter()
        .enumerate()
        .filter_map(|(k, row)| {
            let n = |f: &str| {
                row.get(f)
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .unwrap_or(0)
            };
            Some(liuyan::hot::Item::read(
                k as i64,
                row.get("留言用户")?,
                row.get("留言主题")?,
                row.get("留言详情")?,
                chrono::NaiveDateTime::parse_from_str(row.get("留言时间")?, "%Y-%m-%d %H:%M:%S")
                    .ok()?,
                n("点赞数") + n("反对数"),
            ))
        })
        .collect();
    assert!(items.len() > 4000, "{}", items.len());
    let now = items.iter().map(|i| i.at).max().expect("times");
    let found = liuyan::hot::clusters(&items, liuyan::hot::WINDOW_DAYS, now);
    let top: Vec<&str> = found.iter().take(3).map(|c| c.place.as_str()).collect();
    for place in ["丽发新城", "伊景园滨河苑", "58车贷"] {
        assert!(top.contains(&place), "{place} in the top three: {top:?}");
    }
    assert!(found[0].users >= 40, "{:?}", found[0]);
    for c in found.iter().take(10) {
        // Each cluster's messages name its place; so no cluster mixes places.
        for &i in &c.members {
            let row = &rows[i as usize];
            let text = format!("{}\n{}", row["留言主题"], row["留言详情"]);
            assert!(
                text.contains(&c.place),
                "{} in {}",
                c.place,
                row["留言编号"]
            );
        }
        assert!(c.users <= c.members.len() && c.first <= c.last);
    }
    // Distinct people, not messages: one user wrote 92 messages; no cluster of one
    // person's messages is in the top ten.
    assert!(found.iter().take(10).all(|c| c.users >= 3));
}

/// A row of a hot-issue table: (link, title, time range, messages, users).
fn hot_rows(html: &str) -> Vec<(String, String, String, i64, i64)> {
    let doc = Html::parse_document(html);
    let tr = Selector::parse("tr.hot-row").expect("selector");
    let td = Selector::parse("td").expect("selector");
    let a = Selector::parse("a").expect("selector");
    doc.select(&tr)
        .map(|row| {
            let cells: Vec<String> = row
                .select(&td)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect();
            let link = row.select(&a).next().expect("link");
            (
                link.value().attr("href").unwrap_or("").to_string(),
                link.text().collect::<String>(),
                cells[2].clone(),
                cells[3].parse().unwrap_or(-1),
                cells[4].parse().unwrap_or(-1),
            )
        })
        .collect()
}

/// README's table of the top 10: (place, time range, messages, users).
fn readme_top() -> Vec<(String, String, i64, i64)> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README");
    let section = readme
        .split("## 热点发现")
        .nth(1)
        .expect("README has a 热点发现 section");
    section
        .lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[4].to_string(),
                cells[3].to_string(),
                cells[5].parse().unwrap_or(-1),
                cells[6].parse().unwrap_or(-1),
            )
        })
        .collect()
}

/// Open `path` until `done` holds for its body (the worker runs in the background).
async fn until(b: &Browser, path: &str, done: impl Fn(&str) -> bool) -> String {
    for _ in 0..600 {
        let (status, html) = b.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        if done(&html) {
            return html;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{path} never showed what was waited for");
}

fn flash(html: &str) -> String {
    html.split("class=\"flash")
        .nth(1)
        .map(|s| s.chars().take(200).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn importing_the_hot_file_lists_its_matters_and_the_centre_can_regroup_them() {
    let Some(bytes) = hot_file() else { return };
    // A site whose day is just after the file's last message (2020-01-27 03:47).
    let app = spawn_tuned(true, false, |c| {
        c.clock = china_clock("2020-01-27T12:00");
    })
    .await;
    let center = app.login_as("center").await;
    let (status, preview, fields) = crate::import::upload_and_preview(
        &center,
        "taidi2020_hot_messages.csv",
        &bytes,
        "其他",
        "城乡建设",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", flash(&preview));
    let r = crate::import::commit(&center, &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The dashboard, reached from the navigation, lists the issues active in the last
    // 90 days; its link to every issue lists README's table first.
    let (_, home) = center.page("/").await;
    assert!(crate::page::links("/", &home).contains(&"/dashboard".to_string()));
    let dash = until(&center, "/dashboard", |h| !hot_rows(h).is_empty()).await;
    let active = hot_rows(&dash);
    assert!(active.iter().any(|r| r.1 == "丽发新城"), "{active:?}");
    let (_, list) = center.page("/hot").await;
    assert!(crate::page::links("/hot", &list).contains(&"/hot?which=all".to_string()));
    let (_, all) = center.page("/hot?which=all").await;
    let top = hot_rows(&all);
    if std::env::var("HOT_PRINT").is_ok() {
        let doc = Html::parse_document(&all);
        let tr = Selector::parse("tr.hot-row").expect("selector");
        let td = Selector::parse("td").expect("selector");
        for (k, row) in doc.select(&tr).take(12).enumerate() {
            let c: Vec<String> = row
                .select(&td)
                .map(|c| {
                    c.text()
                        .collect::<String>()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            eprintln!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                k + 1,
                c[0],
                c[2],
                top[k].1,
                c[3],
                c[4],
                c[1]
            );
        }
    }
    let expected = readme_top();
    assert_eq!(expected.len(), 10, "README's table");
    assert!(top.len() >= 10);
    for (k, ((place, range, n, u), (_, title, shown_range, sn, su))) in
        expected.iter().zip(&top).enumerate()
    {
        assert_eq!(
            (place, range, n, u),
            (title, shown_range, sn, su),
            "rank {} as README says",
            k + 1
        );
    }

    // The top issue's page, from its link: its messages, each linking to the message.
    let first = top[0].0.clone();
    let (status, page) = center.page(&first).await;
    assert_eq!(status, StatusCode::OK);
    let links = crate::page::links(&first, &page);
    let messages: Vec<&String> = links
        .iter()
        .filter(|l| {
            l.strip_prefix("/messages/")
                .is_some_and(|id| id.chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    assert_eq!(messages.len() as i64, top[0].3, "every message is listed");
    assert!(page.contains("搅拌站"), "its description");

    // Merge the fifth issue into the fourth with the page's merge form.
    let (fourth, fifth) = (top[3].0.clone(), top[4].0.clone());
    let fifth_id = fifth.trim_start_matches("/hot/").to_string();
    let r = center
        .submit(&fourth, &format!("{fourth}/merge"), &[("other", &fifth_id)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "merge");
    let (_, merged) = center.page(&fourth).await;
    assert!(merged.contains("已合并"), "{}", flash(&merged));
    let both = top[3].3 + top[4].3;
    assert!(
        merged.contains(&format!("留言（{both} 条")),
        "{both} messages after the merge"
    );
    assert_eq!(center.page(&fifth).await.0, StatusCode::NOT_FOUND);

    // Mark it 热点: the weekly 督办通报 reports it.
    let r = center.submit(&fourth, &format!("{fourth}/mark"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, bulletin) = center.page("/bulletin?kind=week&date=2020-01-20").await;
    assert!(bulletin.contains("三、热点问题"), "the bulletin's section");
    assert!(
        bulletin.contains(&top[3].1),
        "the marked issue in the bulletin"
    );

    // Rename: an empty name is refused on the page, the typed text kept.
    let r = center
        .submit(&fourth, &format!("{fourth}/rename"), &[("name", "  ")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("page").contains("名称应为 1–60 个字"));
    let r = center
        .submit(
            &fourth,
            &format!("{fourth}/rename"),
            &[("name", "松雅湖片区道路与地铁站规划")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Split two messages of the top issue into a new one.
    let (_, page) = center.page(&first).await;
    let doc = Html::parse_document(&page);
    let boxes = Selector::parse("input[name=ids]").expect("selector");
    let picked: Vec<String> = doc
        .select(&boxes)
        .take(2)
        .filter_map(|b| b.value().attr("value").map(str::to_string))
        .collect();
    let mut fields = center.fill(&first, &format!("{first}/split"), &[]).await;
    fields.extend(picked.iter().map(|v| ("ids".to_string(), v.clone())));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = center.post_raw(&format!("{first}/split"), &pairs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let new = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("to the new issue")
        .to_string();
    assert_ne!(new, first);
    let (_, split) = center.page(&new).await;
    assert!(split.contains("留言（2 条"), "the new issue holds the two");

    // Dismiss the third: it leaves the dashboard, and stays listed under 已撤销.
    let third = top[2].0.clone();
    let r = center
        .submit(&third, &format!("{third}/dismiss"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, dismissed) = center.page("/hot?which=dismissed").await;
    assert!(hot_rows(&dismissed).iter().any(|r| r.0 == third));

    // The decisions survive the recomputation they cause, and a new message about the
    // top matter, registered with the form, joins it.
    let r = center
        .submit(
            "/messages/new",
            "/messages",
            &[
                ("level", "市级"),
                ("source_platform", "市长信箱"),
                ("category", "城乡建设"),
                ("complainant_name", "新的反映人"),
                ("complainant_contact", "13800000000"),
                ("title", "暮云街道丽发新城小区旁搅拌站半夜施工噪音太大"),
                (
                    "appeal",
                    "丽发新城小区附近的搅拌站每天深夜还在作业，噪音和粉尘严重影响居民休息，请尽快查处。",
                ),
            ],
        )
        .await;
    let status = r.status();
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "registered: {}",
        flash(&r.text().await.unwrap_or_default())
    );
    let before = top[0].3 - 2;
    let after = until(&center, &first, |h| {
        h.contains(&format!("留言（{} 条", before + 1))
    })
    .await;
    assert!(after.contains("新的反映人"));
    let (_, page) = center.page(&fourth).await;
    assert!(page.contains("松雅湖片区道路与地铁站规划") && page.contains("已标为热点"));
    let (_, split) = center.page(&new).await;
    assert!(
        split.contains("留言（2 条"),
        "the split holds after recomputing"
    );

    // Every decision is in the audit log.
    let auditor = app.login_as("auditor").await;
    let (_, log) = auditor.page("/audit").await;
    for label in [
        "合并热点问题",
        "标为热点",
        "热点问题改名",
        "拆分热点问题",
        "撤销热点问题",
    ] {
        assert!(log.contains(label), "{label} audited");
    }

    // A county sees only the issues holding its own messages (none: nothing is assigned
    // yet); a department, the leader's readers and the county cannot decide.
    let xixiu = app.login_as("xixiu").await;
    let (status, list) = xixiu.page("/hot").await;
    assert_eq!(status, StatusCode::OK);
    assert!(hot_rows(&list).is_empty());
    assert_eq!(xixiu.page(&first).await.0, StatusCode::NOT_FOUND);
    let leader = app.login_as("leader").await;
    assert_eq!(leader.page(&first).await.0, StatusCode::OK);
    for b in [&xixiu, &leader, &app.login_as("renshe").await] {
        let token = crate::helpers::csrf_of(&b.page("/").await.1).expect("token");
        let r = b
            .post_raw(&format!("{first}/dismiss"), &[("csrf_token", &token)])
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "only the centre decides");
    }
    assert_eq!(
        app.login_as("renshe").await.page("/hot").await.0,
        StatusCode::NOT_FOUND
    );

    // A name the centre adds to the dictionary (no place word's ending) is read in the
    // year's messages by the worker.
    let r = center
        .submit(
            "/settings/lists",
            "/settings/lists",
            &[("kind", "hot_name"), ("value", "粪池车")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut conn = app.db();
    let mut found = 0;
    for _ in 0..600 {
        use diesel::prelude::*;
        use liuyan::db::schema::hot_features::dsl as hf;
        found = hf::hot_features
            .filter(hf::names.like("%粪池车%"))
            .count()
            .get_result::<i64>(&mut conn)
            .expect("query");
        if found > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found >= 2, "messages naming 粪池车: {found}");
}
