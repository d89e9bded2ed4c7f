//! 热点发现 (pure): messages about the same matter — the same place, object or group of
//! people and the same problem — grouped across units and platforms within a sliding
//! window, and ranked by a heat index.
//!
//! 1. **Places and objects** are read from the title and the start of the body: a name
//!    ending in a place or object word (…小区, …花园, …苑, …路, …街道, …村, …学校,
//!    …医院, …公司, …搅拌站, …车贷 …), taken back to the nearest region word (…市/区/县)
//!    or function word; "该小区", "我们小区" and other references are not names. Names
//!    found in more than 2 % of the messages say nothing about a matter and are dropped.
//! 2. **Grouping**, in time order: a message joins the cluster that shares one of its
//!    names, was active within the window (default 90 days before it: a long-running
//!    matter keeps its cluster), and whose text (TF-IDF of words and character bigrams,
//!    as 智能分拨 uses) is most similar — at least `SIMILAR`; otherwise it starts a
//!    cluster. A message naming no place or object joins none.
//! 3. **Heat** (热度), documented in README:
//!    `H = 40·ln(1+U) + 10·ln(1+N) + 15·ln(1+L/10) + 20·min(1, U/(weeks+1)/3) + 15·g`
//!    with U distinct 反映人 (one person posting twenty times counts once), N messages,
//!    L 点赞 + 反对 where the export has them, weeks the cluster's span, and g the share of
//!    its distinct 反映人 who wrote in its last seven days (growth). 热点预警: g ≥ 0.5 with
//!    at least three 反映人 in those seven days.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};

use crate::dispatch::text::{Sparse, Vocab};

/// One message as the grouping reads it.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub user: String,
    pub title: String,
    pub body: String,
    pub at: NaiveDateTime,
    /// 点赞 + 反对 (0 when the source has none).
    pub votes: i64,
}

/// A group of messages about one matter.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The place, object or group the messages share (the name most of them use).
    pub place: String,
    /// Indices into the items, in time order.
    pub members: Vec<usize>,
    pub first: NaiveDateTime,
    pub last: NaiveDateTime,
    pub users: usize,
    pub votes: i64,
    pub heat: f64,
    /// Share of distinct 反映人 who wrote in the last seven days.
    pub growth: f64,
    pub warning: bool,
    /// The title of its most typical message.
    pub description: String,
}

/// Words a place or object name ends with.
const SUFFIXES: &[&str] = &[
    "小区",
    "花园",
    "家园",
    "公寓",
    "大厦",
    "广场",
    "新城",
    "华苑",
    "名苑",
    "雅苑",
    "苑",
    "府",
    "山庄",
    "大道",
    "路",
    "街道",
    "社区",
    "村",
    "镇",
    "乡",
    "学校",
    "学院",
    "大学",
    "中学",
    "小学",
    "幼儿园",
    "医院",
    "公司",
    "集团",
    "工厂",
    "市场",
    "车站",
    "公园",
    "楼盘",
    "项目",
    "搅拌站",
    "车贷",
    "高铁",
    "高速",
    "地铁",
    "高压线",
    "物业",
    "湾",
    "城",
];

/// Leading words that make a name a reference ("附近小区"), or a kind rather than a name
/// ("自来水公司", "配套幼儿园").
const NOT_NAMES: &[&str] = &[
    "附近",
    "周边",
    "所在",
    "整个",
    "我们",
    "你们",
    "他们",
    "所有",
    "一个",
    "这个",
    "那个",
    "本地",
    "当地",
    "全市",
    "全县",
    "全区",
    "城市",
    "农村",
    "自来水",
    "配套",
    "普惠",
    "公办",
    "民办",
    "物业",
    "开发商",
    "房地产",
    "培训",
    "私立",
    "公立",
    "附属",
    "城际",
    "新建",
    "老旧",
    "安置",
    "商品房",
    "拆迁",
    "高压",
    "供水",
    "燃气",
    "电力",
    "移动",
    "联通",
    "电信",
    "网络",
    "快递",
    "驾校",
    "相关",
    "有关",
    "很多",
    "一些",
    "其他",
    "多个",
    "部分",
    "小区",
    "学校",
];

/// Names of areas (a street, a township, a road): used only when a message names no
/// object (a 小区, a school, a company …) — an area holds many matters.
const AREAS: &[&str] = &["街道", "镇", "乡", "村", "社区", "路", "大道"];

/// What a name is matched by in other messages: without a trailing 小区/社区/项目/楼盘
/// ("丽发新城小区" and "丽发新城社区" are one place).
fn key_of(name: &str) -> String {
    for tail in ["小区", "社区", "项目", "楼盘"] {
        if let Some(head) = name.strip_suffix(tail) {
            if head.chars().count() >= 2 {
                return head.to_string();
            }
        }
    }
    name.to_string()
}

fn is_area(name: &str) -> bool {
    AREAS.iter().any(|a| name.ends_with(a))
}

/// Characters a name never reaches back across: region words (a name starts after
/// …市/区/县/省) and function words.
const STOPS: &[char] = &[
    '市', '区', '县', '省', '的', '在', '于', '是', '和', '与', '及', '了', '对', '把', '被', '从',
    '到', '向', '给', '为', '将', '我', '你', '他', '她', '有', '无', '要', '请', '让', '说', '等',
    '个', '这', '那', '该', '本', '其', '各', '此', '近', '旁', '边',
];

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// The place and object names a text mentions (each once): a place or object word with
/// up to six characters before it, taken back to a region word, a function word, or a
/// word the segmenter tags as a verb, adverb, preposition, conjunction, pronoun or
/// direction ("知道58车贷" → "58车贷").
pub fn names(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut stop = vec![false; chars.len()];
    let jieba = crate::dispatch::text::jieba();
    for t in jieba.tag(text, true) {
        // A word the segmenter only guessed (not in its dictionary) is most often a name.
        if matches!(
            t.tag.chars().next(),
            Some('v' | 'p' | 'c' | 'u' | 'd' | 'r' | 'f' | 'y' | 'e' | 'o')
        ) && jieba.has_word(t.word)
        {
            let end = t.end.min(chars.len());
            stop[t.start.min(end)..end].fill(true);
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let Some(suffix) = SUFFIXES.iter().find(|s| {
            let sc: Vec<char> = s.chars().collect();
            chars[i..].starts_with(&sc)
        }) else {
            i += 1;
            continue;
        };
        let n = suffix.chars().count();
        let mut start = i;
        while start > 0 && i - start < 6 {
            // Never back across another place ("暮云街道|丽发新城").
            if AREAS.iter().any(|a| {
                let ac: Vec<char> = a.chars().collect();
                chars[..start].ends_with(&ac)
            }) {
                break;
            }
            let c = chars[start - 1];
            if (is_cjk(c) || c.is_ascii_digit()) && !STOPS.contains(&c) && !stop[start - 1] {
                start -= 1;
            } else {
                break;
            }
        }
        let name: String = chars[start..i + n].iter().collect();
        if i - start >= 2 && !NOT_NAMES.iter().any(|p| name.starts_with(p)) && !out.contains(&name)
        {
            out.push(name);
        }
        i += n;
    }
    out
}

/// The window a cluster stays open for, by default.
pub const WINDOW_DAYS: i64 = 90;
/// The cosine similarity a message needs to the cluster it joins.
const SIMILAR: f32 = 0.12;
/// Names found in more than this share of messages are not kept.
const COMMON: f64 = 0.02;

fn dot(a: &Sparse, b: &HashMap<u32, f32>) -> f32 {
    a.iter()
        .map(|(i, v)| v * b.get(i).copied().unwrap_or(0.0))
        .sum()
}

struct Open {
    /// The place or object every member names (the founding message's).
    key: String,
    centroid: HashMap<u32, f32>,
    norm: f32,
    last: NaiveDateTime,
    members: Vec<usize>,
}

/// Group the items (any order) into clusters, hottest first; `now` is when growth is
/// measured (the last seven days before it).
pub fn clusters(items: &[Item], window_days: i64, now: NaiveDateTime) -> Vec<Cluster> {
    let texts: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i.title.as_str(), i.body.as_str()))
        .collect();
    let (_, vectors) = Vocab::fit(&texts, 2, 200_000);
    let found: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let lead: String = i.body.chars().take(300).collect();
            let mut n = names(&i.title);
            for x in names(&lead) {
                if !n.contains(&x) {
                    n.push(x);
                }
            }
            n
        })
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for n in &found {
        for x in n {
            *df.entry(x.as_str()).or_default() += 1;
        }
    }
    let limit = ((items.len() as f64) * COMMON).max(20.0) as usize;
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (items[i].at, i));
    let window = Duration::days(window_days.max(1));
    let mut open: Vec<Open> = Vec::new();
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for &i in &order {
        let kept: Vec<&String> = found[i]
            .iter()
            .filter(|x| df.get(x.as_str()).is_some_and(|d| *d <= limit))
            .collect();
        // An object named decides; an area only when no object is.
        let objects: Vec<&String> = kept.iter().copied().filter(|x| !is_area(x)).collect();
        let mine = if objects.is_empty() { kept } else { objects };
        let Some(founding) = mine.first() else {
            continue;
        };
        let x = &vectors[i];
        // The clusters keyed by a name this message uses (an index: a year of a million
        // messages holds tens of thousands of clusters).
        let mut candidates: Vec<usize> = found[i]
            .iter()
            .flat_map(|n| [key_of(n), n.clone()])
            .filter_map(|k| by_key.get(&k))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let best = candidates
            .into_iter()
            .map(|k| (k, &open[k]))
            .filter(|(_, c)| items[i].at - c.last <= window)
            .map(|(k, c)| {
                let s = if c.norm > 0.0 {
                    dot(x, &c.centroid) / c.norm
                } else {
                    0.0
                };
                (s, k)
            })
            .filter(|(s, _)| *s >= SIMILAR)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k);
        let k = match best {
            Some(k) => k,
            None => {
                let key = key_of(founding);
                by_key.entry(key.clone()).or_default().push(open.len());
                open.push(Open {
                    key,
                    centroid: HashMap::new(),
                    norm: 0.0,
                    last: items[i].at,
                    members: Vec::new(),
                });
                open.len() - 1
            }
        };
        let target = &mut open[k];
        for (f, v) in x {
            *target.centroid.entry(*f).or_default() += v;
        }
        target.norm = target.centroid.values().map(|v| v * v).sum::<f32>().sqrt();
        target.last = items[i].at;
        target.members.push(i);
    }
    let mut out: Vec<Cluster> = open
        .into_iter()
        .filter(|c| c.members.len() >= 2)
        .map(|c| finish(items, &vectors, c, now))
        .collect();
    out.sort_by(|a, b| b.heat.total_cmp(&a.heat));
    out
}

fn finish(items: &[Item], vectors: &[Sparse], c: Open, now: NaiveDateTime) -> Cluster {
    let members = c.members;
    let first = items[members[0]].at;
    let last = items[members[members.len() - 1]].at;
    let mut users: Vec<&str> = members.iter().map(|&i| items[i].user.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    let recent_from = now - Duration::days(7);
    let mut recent: Vec<&str> = members
        .iter()
        .filter(|&&i| items[i].at >= recent_from && items[i].at <= now)
        .map(|&i| items[i].user.as_str())
        .collect();
    recent.sort_unstable();
    recent.dedup();
    let votes: i64 = members.iter().map(|&i| items[i].votes).sum();
    let (u, n) = (users.len() as f64, members.len() as f64);
    let weeks = ((last - first).num_days() as f64 / 7.0).floor();
    let growth = recent.len() as f64 / u.max(1.0);
    let heat = 40.0 * (1.0 + u).ln()
        + 10.0 * (1.0 + n).ln()
        + 15.0 * (1.0 + votes as f64 / 10.0).ln()
        + 20.0 * (u / (weeks + 1.0) / 3.0).min(1.0)
        + 15.0 * growth;
    let place = c.key.clone();
    // The most typical title: the member closest to the others.
    let centroid: HashMap<u32, f32> = {
        let mut m = HashMap::new();
        for &i in &members {
            for (f, v) in &vectors[i] {
                *m.entry(*f).or_default() += v;
            }
        }
        m
    };
    let description = members
        .iter()
        .max_by(|&&a, &&b| dot(&vectors[a], &centroid).total_cmp(&dot(&vectors[b], &centroid)))
        .map(|&i| items[i].title.clone())
        .unwrap_or_default();
    Cluster {
        place,
        first,
        last,
        users: users.len(),
        votes,
        heat,
        growth,
        warning: growth >= 0.5 && recent.len() >= 3,
        description,
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_taken_back_to_the_region_word() {
        let n = names("A2区丽发新城小区附近的搅拌站噪音扰民，该小区居民无法休息");
        assert!(n.iter().any(|x| x.contains("丽发新城")), "{n:?}");
        assert_eq!(key_of("丽发新城小区"), "丽发新城");
        assert!(!n.iter().any(|x| x == "该小区"), "{n:?}");
        assert!(names("请书记关注A市A4区58车贷案").contains(&"58车贷".to_string()));
        assert!(names("我们小区停水").is_empty());
    }

    fn item(id: usize, user: &str, title: &str, day: i64) -> Item {
        let body = if title.contains("搅拌站") {
            "搅拌站每天夜里开工，机器轰鸣，居民无法休息，请尽快整治。"
        } else {
            "孩子今年上小学，配套学校迟迟不开学，只能舍近求远。"
        };
        let at = chrono::NaiveDate::from_ymd_opt(2019, 1, 1)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .unwrap_or_default()
            + Duration::days(day);
        Item {
            id: id.to_string(),
            user: user.into(),
            title: title.into(),
            body: body.to_string(),
            at,
            votes: 0,
        }
    }

    #[test]
    fn one_matter_one_cluster_and_distinct_people_make_it_hot() {
        let mut items = Vec::new();
        for k in 0..6 {
            items.push(item(
                k,
                &format!("u{k}"),
                "暮云街道丽发新城小区附近搅拌站噪音污染严重",
                k as i64,
            ));
        }
        for k in 0..6 {
            // One person writing six times about another place.
            items.push(item(10 + k, "same", "金毛湾小区配套学校入学问题", k as i64));
        }
        // A message naming no place or object joins nothing.
        items.push(item(40, "w", "希望多建公园", 2));
        // The same matter again after the window has closed: a new cluster.
        items.push(item(
            31,
            "y",
            "暮云街道丽发新城小区附近搅拌站噪音污染严重",
            300,
        ));
        items.push(item(
            32,
            "z",
            "暮云街道丽发新城小区附近搅拌站噪音污染严重",
            301,
        ));
        let now = items[0].at + Duration::days(7);
        let c = clusters(&items, WINDOW_DAYS, now);
        assert_eq!(c[0].place, "丽发新城", "{c:?}");
        assert_eq!((c[0].users, c[0].members.len()), (6, 6), "{c:?}");
        assert!(c[0]
            .members
            .iter()
            .all(|&i| items[i].title.contains("搅拌站")));
        let school = c
            .iter()
            .find(|x| x.place.contains("金毛湾"))
            .expect("second");
        assert_eq!(school.users, 1);
        assert!(school.heat < c[0].heat);
        assert_eq!(c.iter().filter(|x| x.place == "丽发新城").count(), 2);
    }
}
