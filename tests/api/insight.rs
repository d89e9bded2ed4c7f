//! Dashboards and statistics: every number on the dashboard equals the list it links to,
//! in each role's scope; each statistic on a hand-built fixture; the bulletin and the
//! exports.

use reqwest::StatusCode;

use crate::helpers::{spawn_app, spawn_with_demo_messages, Browser};
use crate::lifecycle::{ok, register, unit_id};

/// (href, number) for every `<a href="/messages?…">N</a>` on a page.
fn linked_numbers(html: &str) -> Vec<(String, i64)> {
    html.split("<a href=\"/messages?")
        .skip(1)
        .filter_map(|s| {
            let (q, rest) = s.split_once('"')?;
            let inner = rest.strip_prefix('>')?;
            let text = inner.split('<').next()?;
            let n = text.trim().parse().ok()?;
            let q = q.replace("&amp;", "&").replace("&#38;", "&");
            Some((format!("/messages?{q}"), n))
        })
        .collect()
}

fn list_total(html: &str) -> i64 {
    html.split("共 ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("list total")
}

async fn check_links(b: &Browser, who: &str) {
    let (status, html) = b.page("/dashboard").await;
    assert_eq!(status, StatusCode::OK, "{who}");
    let links = linked_numbers(&html);
    assert!(links.len() > 20, "{who}: numbers found: {}", links.len());
    for (href, n) in links {
        let (_, list) = b.page(&href).await;
        assert_eq!(list_total(&list), n, "{who}: {href}");
    }
}

#[tokio::test]
async fn every_dashboard_number_equals_the_list_it_links_to() {
    let app = spawn_with_demo_messages().await;
    for who in ["center", "xixiu", "zhujian"] {
        let b = app.login_as(who).await;
        check_links(&b, who).await;
    }
    let admin = app.login_as("sysadmin").await;
    assert_eq!(admin.page("/dashboard").await.0, StatusCode::NOT_FOUND);
    let xixiu = app.login_as("xixiu").await;
    assert_eq!(xixiu.page("/bulletin").await.0, StatusCode::NOT_FOUND);
    let center = app.login_as("center").await;
    let (status, bulletin) = center.page("/bulletin?kind=month").await;
    assert_eq!(status, StatusCode::OK);
    assert!(bulletin.contains("督办通报") && bulletin.contains("各单位办理情况"));
}

/// The dashboard's count of one state (its linked number).
fn state_count(html: &str, state: &str) -> i64 {
    linked_numbers(html)
        .into_iter()
        .find(|(href, _)| href == &format!("/messages?state={state}"))
        .map(|(_, n)| n)
        .unwrap_or_else(|| panic!("no count for {state}"))
}

#[tokio::test]
async fn summaries_are_reused_only_while_the_data_is_unchanged() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let generation = || liuyan::cache::generation(&mut app.db()).expect("generation");
    let (_, html) = center.page("/dashboard").await;
    assert_eq!(state_count(&html, "registered"), 0);
    // Reading, logging in and looking at pages leave the data generation alone.
    let g0 = generation();
    app.login_as("xixiu").await;
    center.page("/messages").await;
    assert_eq!(generation(), g0);
    // A registration moves it; the dashboard, statistics and scoreboard show it at once.
    let id = register(&center, "缓存测试留言", "卫十五").await;
    assert!(generation() > g0);
    let (_, html) = center.page("/dashboard").await;
    assert_eq!(state_count(&html, "registered"), 1);
    ok(
        &center,
        id,
        "assign",
        &[("unit_id", &unit_id(&app, "安顺市西秀区"))],
    )
    .await;
    let (_, html) = center.page("/dashboard").await;
    assert_eq!(state_count(&html, "registered"), 0);
    assert_eq!(state_count(&html, "assigned"), 1);
    // A settings change (a holiday) moves it too.
    let g1 = generation();
    let r = center
        .submit(
            "/settings/holidays",
            "/settings/holidays",
            &[("day", "2030-01-02"), ("is_off", "1"), ("name", "测试假日")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(generation() > g1);
}

/// The statistics row of a unit: the cells after its name.
fn stat_row(html: &str, unit: &str) -> Vec<String> {
    let row = html
        .split(&format!("<th scope=\"row\">{unit}</th>"))
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .unwrap_or_else(|| panic!("row {unit}"));
    row.split("<td class=\"num\">")
        .skip(1)
        .map(|c| {
            let c = c.split("</td>").next().unwrap_or("");
            // Strip a link around the number.
            c.rsplit_once("\">")
                .map(|(_, v)| v.trim_end_matches("</a>").to_string())
                .unwrap_or_else(|| c.to_string())
        })
        .collect()
}

#[tokio::test]
async fn statistics_on_a_hand_built_fixture() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let unit = unit_id(&app, "安顺市西秀区");
    // Four messages to 西秀区:
    // A: replied on time, rejected once, replied, closed resolved, follow-up 满意.
    // B: replied late (due date moved into the past), closed unresolved, 不满意, reopened.
    // C: still handling, overdue, supervised.
    // D: returned by 西秀区.
    let mut ids = Vec::new();
    for t in ["统计甲", "统计乙", "统计丙", "统计丁"] {
        let id = register(&center, t, &format!("{t}人")).await;
        ok(&center, id, "assign", &[("unit_id", &unit)]).await;
        ids.push(id);
    }
    let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3]);
    ok(&xixiu, d, "return", &[("text", "不属本区")]).await;
    for id in [a, b, c] {
        ok(&xixiu, id, "accept", &[]).await;
    }
    ok(&xixiu, a, "reply", &[("text", "答复一"), ("resolved", "1")]).await;
    ok(&center, a, "reject", &[("text", "请补充")]).await;
    ok(&xixiu, a, "reply", &[("text", "答复二"), ("resolved", "1")]).await;
    ok(&center, a, "approve", &[("resolved", "1")]).await;
    ok(
        &center,
        a,
        "follow_up",
        &[("method", "电话"), ("satisfaction", "满意")],
    )
    .await;
    {
        use diesel::connection::SimpleConnection;
        app.db()
            .batch_execute(&format!(
                "UPDATE messages SET due_at = '{}' WHERE id IN ({b}, {c})",
                app.today() - chrono::Duration::days(30)
            ))
            .expect("past due");
    }
    ok(
        &xixiu,
        b,
        "reply",
        &[("text", "迟到的答复"), ("resolved", "0")],
    )
    .await;
    ok(&center, b, "approve", &[("resolved", "0")]).await;
    ok(
        &center,
        b,
        "follow_up",
        &[
            ("method", "电话"),
            ("satisfaction", "不满意"),
            ("text", "没解决"),
        ],
    )
    .await;
    ok(&center, b, "reopen", &[("text", "请重新办理")]).await;
    let deadline = (app.today() + chrono::Duration::days(5)).to_string();
    ok(
        &center,
        c,
        "supervise",
        &[("text", "请尽快办理"), ("deadline", &deadline)],
    )
    .await;

    let today = app.today();
    let from = (today - chrono::Duration::days(60)).to_string();
    let (_, html) = center
        .page(&format!("/stats?from={from}&to={today}&unit={unit}"))
        .await;
    let row = stat_row(&html, "安顺市西秀区");
    // 受理 3 (D was returned: no handling unit now), 办结 1 (B reopened: closed_at cleared),
    // 按期 100%, 化解 100%, 满意 1/2 = 50%, 超期 1 (C, running past its due date; B was
    // reopened, so its current due date is a new one and its late reply no longer counts),
    // 时长, 退回 1, 督办 1, 重办 2 (A rejected once, B reopened).
    assert_eq!(row[0], "3", "{row:?}");
    assert_eq!(row[1], "1", "{row:?}");
    assert_eq!(row[2], "100.0%", "{row:?}");
    assert_eq!(row[3], "100.0%", "{row:?}");
    assert_eq!(row[4], "50.0%", "{row:?}");
    assert_eq!(row[5], "1", "{row:?}");
    assert_eq!(row[7], "1", "{row:?}");
    assert_eq!(row[8], "1", "{row:?}");
    assert_eq!(row[9], "2", "{row:?}");
    assert!(
        html.contains("按期办结率") && html.contains("办结的留言中，答复时间不晚于到期时间的比例")
    );
    // Exports: CSV with a BOM and the same figures; XLSX a zip.
    let r = center
        .get(&format!(
            "/stats?from={from}&to={today}&unit={unit}&format=csv"
        ))
        .await;
    let body = r.bytes().await.expect("csv");
    assert!(body.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("安顺市西秀区,3,1,100.0%,100.0%,50.0%,1,"),
        "{text}"
    );
    let r = center
        .get(&format!("/stats?from={from}&to={today}&format=xlsx"))
        .await;
    assert!(r.bytes().await.expect("xlsx").starts_with(b"PK"));
    // A county sees only itself.
    let (_, own) = xixiu.page(&format!("/stats?from={from}&to={today}")).await;
    assert!(own.contains("安顺市西秀区") && !own.contains("安顺市平坝区"));
}

#[tokio::test]
async fn the_next_page_continues_from_the_last_row() {
    let app = spawn_with_demo_messages().await;
    let center = app.login_as("center").await;
    let ids = |html: &str| -> Vec<String> {
        html.split("<a href=\"/messages/")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .filter(|s| s.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    };
    let (_, first) = center.page("/messages").await;
    let next = first
        .split("<a href=\"/messages?")
        .filter_map(|s| s.split('"').next())
        .find(|q| q.contains("before="))
        .expect("a keyset next link")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let (_, second) = center.page(&format!("/messages?{next}")).await;
    let (_, by_offset) = center.page("/messages?page=2").await;
    assert_eq!(
        ids(&second),
        ids(&by_offset),
        "keyset page 2 = offset page 2"
    );
    assert!(!ids(&second).is_empty());
    assert!(ids(&first).iter().all(|i| !ids(&second).contains(i)));
}

/// The 待办 tiles of a page: label → number.
fn tiles(html: &str) -> std::collections::HashMap<String, i64> {
    html.split("<span class=\"tile-num\">")
        .skip(1)
        .filter_map(|s| {
            let (n, rest) = s.split_once("</span>")?;
            let label = rest
                .split("<span class=\"tile-text\">")
                .nth(1)?
                .split('<')
                .next()?;
            Some((label.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

/// Every 待办 tile of every handling role counts exactly the list it links to.
#[tokio::test]
async fn every_tile_equals_the_list_it_links_to() {
    let app = spawn_with_demo_messages().await;
    let tile_sel = scraper::Selector::parse("section.counts a.tile").expect("selector");
    let num_sel = scraper::Selector::parse(".tile-num").expect("selector");
    let text_sel = scraper::Selector::parse(".tile-text").expect("selector");
    let count_sel = scraper::Selector::parse("p.count").expect("selector");
    for who in ["center", "xixiu", "pingba", "zhujian", "renshe"] {
        let b = app.login_as(who).await;
        let (_, html) = b.page("/").await;
        let tiles: Vec<(String, String, i64)> = {
            let doc = scraper::Html::parse_document(&html);
            doc.select(&tile_sel)
                .map(|a| {
                    let text = |s: &scraper::Selector| {
                        a.select(s).flat_map(|e| e.text()).collect::<String>()
                    };
                    (
                        text(&text_sel),
                        a.value().attr("href").unwrap_or("").to_string(),
                        text(&num_sel).trim().parse().expect("tile number"),
                    )
                })
                .collect()
        };
        assert!(tiles.len() >= 4, "{who}: {tiles:?}");
        let mut nonzero = 0;
        for (label, href, n) in tiles {
            assert!(href.starts_with("/messages"), "{who} {label}: {href}");
            let (status, list) = b.page(&href).await;
            assert_eq!(status, StatusCode::OK, "{who} {label}");
            let doc = scraper::Html::parse_document(&list);
            let line: String = doc.select(&count_sel).flat_map(|e| e.text()).collect();
            let shown: i64 = line
                .strip_prefix("共 ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{who} {label}: count line “{line}”"));
            assert_eq!(
                shown, n,
                "{who}: tile {label} says {n}, its list {href} has {shown}"
            );
            if n > 0 {
                nonzero += 1;
            }
        }
        assert!(nonzero > 0, "{who}: the demo gives some tile a number");
        // The rows: overdue first, then newly assigned; the centre's are its own work.
        let row_sel = scraper::Selector::parse("#todo ~ table tbody tr").expect("selector");
        let doc = scraper::Html::parse_document(&html);
        let rows: Vec<(bool, String)> = doc
            .select(&row_sel)
            .map(|tr| {
                let over = tr
                    .value()
                    .attr("class")
                    .is_some_and(|c| c.contains("row-over"));
                let task = tr
                    .select(&scraper::Selector::parse("td strong").expect("selector"))
                    .flat_map(|e| e.text())
                    .collect::<String>();
                (over, task)
            })
            .collect();
        assert!(!rows.is_empty(), "{who} has 待办 rows");
        let key: Vec<(bool, bool)> = rows
            .iter()
            .map(|(over, task)| (!over, task != "待签收"))
            .collect();
        let mut sorted = key.clone();
        sorted.sort();
        assert_eq!(
            key, sorted,
            "{who}: overdue, then newly assigned first: {rows:?}"
        );
        if who == "center" {
            for (_, task) in &rows {
                assert!(
                    ["待转办", "延期待批", "待审核", "待回访", "待呈报", "待销号"]
                        .contains(&task.as_str()),
                    "the centre's 待办 is its own work: {task}"
                );
            }
        }
    }
}

#[tokio::test]
async fn todo_counts_match_the_record() {
    use diesel::prelude::*;
    use liuyan::db::schema::{messages::dsl as m, units::dsl as u};
    let app = spawn_with_demo_messages().await;
    let today = app.today();
    for (who, unit) in [
        ("center", "安顺市社情民意研究中心"),
        ("xixiu", "安顺市西秀区"),
        ("zhujian", "安顺市住房和城乡建设局"),
    ] {
        let b = app.login_as(who).await;
        let (_, html) = b.page("/").await;
        let t = tiles(&html);
        let mut c = app.db();
        let uid: i32 = u::units
            .filter(u::name.eq(unit))
            .select(u::id)
            .first(&mut c)
            .expect("unit");
        // What each tile counts, recomputed from the messages themselves.
        let all: Vec<liuyan::messages::model::Message> = m::messages.load(&mut c).expect("all");
        let mine = |x: &liuyan::messages::model::Message| {
            x.handling_unit_id == Some(uid) || x.forwarded_unit_id == Some(uid)
        };
        let owner_waits = |x: &liuyan::messages::model::Message| {
            x.owner_unit_id == uid
                && (["registered", "replied", "closed", "followed_up", "reported"]
                    .contains(&x.state.as_str())
                    || (x.state == "handling" && x.extension_requested_days.is_some()))
        };
        let handler_waits = |x: &liuyan::messages::model::Message| match who {
            "center" => false,
            "xixiu" => {
                x.handling_unit_id == Some(uid)
                    && ["assigned", "handling"].contains(&x.state.as_str())
            }
            _ => {
                (x.handling_unit_id == Some(uid)
                    && ["assigned", "handling"].contains(&x.state.as_str()))
                    || (x.forwarded_unit_id == Some(uid) && x.state == "handling")
            }
        };
        let waiting: Vec<&liuyan::messages::model::Message> = all
            .iter()
            .filter(|x| (who != "zhujian" && owner_waits(x)) || handler_waits(x))
            .collect();
        let count = |f: &dyn Fn(&liuyan::messages::model::Message) -> bool| {
            waiting.iter().filter(|x| f(x)).count() as i64
        };
        let running = |x: &liuyan::messages::model::Message| {
            ["assigned", "handling", "replied"].contains(&x.state.as_str())
        };
        let cal = liuyan::messages::config::calendar(&mut c).expect("calendar");
        let tile = |label: &str| t.get(label).copied();
        let handler_tiles = who != "center";
        let owner_tiles = who != "zhujian";
        // A tile shows when the role has it; a county's owner tiles only when not zero.
        let expect = |label: &str, offered: bool, n: i64| {
            let owner_tile =
                ["待转办", "延期待批", "待审核", "待回访", "待呈报", "待销号"].contains(&label);
            let shown = offered && (n > 0 || !(owner_tile && who == "xixiu"));
            assert_eq!(tile(label), shown.then_some(n), "{who} {label}");
        };
        expect(
            "待签收",
            handler_tiles,
            count(&|x| x.state == "assigned" && x.handling_unit_id == Some(uid)),
        );
        expect(
            "待答复",
            handler_tiles,
            count(&|x| x.state == "handling" && handler_waits(x)),
        );
        expect(
            "被督办",
            handler_tiles,
            count(&|x| handler_waits(x) && running(x) && x.supervision_level.is_some()),
        );
        for (label, state) in [
            ("待转办", "registered"),
            ("待审核", "replied"),
            ("待回访", "closed"),
            ("待呈报", "followed_up"),
            ("待销号", "reported"),
        ] {
            expect(
                label,
                owner_tiles,
                count(&|x| x.state == state && x.owner_unit_id == uid),
            );
        }
        expect(
            "延期待批",
            owner_tiles,
            count(&|x| x.state == "handling" && x.owner_unit_id == uid && owner_waits(x)),
        );
        // Overdue by the one deadline each message waits on (签收, 答复, 审核, 回访).
        expect(
            "已超期",
            true,
            count(&|x| liuyan::messages::deadline::is_overdue(&cal, today, x)),
        );
        let _ = mine;
        assert!(
            html.contains(&format!("待办（{}）", waiting.len())),
            "{who} total"
        );
        assert!(
            !waiting.is_empty(),
            "{who} has something waiting in the demo"
        );
    }
}
