//! 热点发现 over the shipped hot-topic file (附件3): the stable properties of the top of
//! the list README shows — the matters most people wrote about come first, each
//! cluster's messages name its place, no cluster mixes places, and distinct 反映人 (not
//! raw messages) carry the heat.

use crate::helpers::skip;

#[test]
fn the_hot_file_gives_the_matters_most_people_wrote_about() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/taidi2020_hot_messages.csv");
    let Ok(bytes) = std::fs::read(&file) else {
        return skip("热点发现测试", "../shared/data 不存在");
    };
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut r = csv::Reader::from_reader(bytes);
    let items: Vec<liuyan::hot::Item> = r
        .deserialize::<std::collections::HashMap<String, String>>()
        .filter_map(|row| {
            let row = row.ok()?;
            let n = |k: &str| {
                row.get(k)
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .unwrap_or(0)
            };
            Some(liuyan::hot::Item {
                id: row.get("留言编号")?.clone(),
                user: row.get("留言用户")?.clone(),
                title: row.get("留言主题")?.clone(),
                body: row.get("留言详情")?.clone(),
                at: chrono::NaiveDateTime::parse_from_str(
                    row.get("留言时间")?,
                    "%Y-%m-%d %H:%M:%S",
                )
                .ok()?,
                votes: n("点赞数") + n("反对数"),
            })
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
            let text = format!("{}\n{}", items[i].title, items[i].body);
            assert!(text.contains(&c.place), "{} in {}", c.place, items[i].id);
        }
        assert!(c.users <= c.members.len() && c.first <= c.last);
    }
    // Distinct people, not messages: one user wrote 92 messages; no cluster of one
    // person's messages is in the top ten.
    assert!(found.iter().take(10).all(|c| c.users >= 3));
}
