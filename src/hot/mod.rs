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

pub mod store;
pub mod worker;

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};

use crate::dispatch::text::{Sparse, Vocab};

/// One message as the grouping reads it.
#[derive(Debug, Clone, Default)]
pub struct Item {
    /// The caller's id for the message (the site's message id; an index for a file).
    pub id: i64,
    pub user: String,
    pub title: String,
    /// The start of the body (`lead`): where the matter is stated.
    pub lead: String,
    pub at: NaiveDateTime,
    /// 点赞 + 反对 (0 when the source has none).
    pub votes: i64,
    /// The place and object names it mentions (`names_of`, kept when it arrives).
    pub names: Vec<String>,
    /// The cluster a clerk put it in (merged, split, renamed …): it stays there.
    pub pin: Option<i64>,
}

impl Item {
    /// An item read from a message's text (its names found now).
    pub fn read(
        id: i64,
        user: &str,
        title: &str,
        body: &str,
        at: NaiveDateTime,
        votes: i64,
    ) -> Item {
        Item {
            id,
            user: user.to_string(),
            title: title.to_string(),
            lead: lead(body),
            at,
            votes,
            names: names_of(title, body, &[]),
            pin: None,
        }
    }
}

/// A group of messages about one matter.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The place, object or group the messages share (the founding message's name).
    pub place: String,
    /// The cluster a clerk fixed (`Item::pin`, `Grouper::name`), if any.
    pub id: Option<i64>,
    /// Item ids, in time order.
    pub members: Vec<i64>,
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

/// How much of a body is read: the matter is stated at its start.
const LEAD: usize = 300;

/// The start of a body, as the grouping reads it.
pub fn lead(body: &str) -> String {
    body.chars().take(LEAD).collect()
}

/// The names a message mentions: the dictionary's (names the centre added) found in its
/// title or lead, then its title's, then its lead's.
pub fn names_of(title: &str, body: &str, dictionary: &[String]) -> Vec<String> {
    let lead = lead(body);
    let mut n: Vec<String> = dictionary
        .iter()
        .filter(|d| title.contains(d.as_str()) || lead.contains(d.as_str()))
        .cloned()
        .collect();
    for x in names(title).into_iter().chain(names(&lead)) {
        if !n.contains(&x) {
            n.push(x);
        }
    }
    n
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

/// Words a message starts its request with, never part of a name.
const LEADS: &[&str] = &[
    "建议", "关于", "反映", "要求", "希望", "咨询", "投诉", "请求", "恳请", "举报", "呼吁",
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
        // A request word the segmenter took for part of the name ("建议虹山湖公园").
        while let Some(w) = LEADS.iter().find(|w| {
            let wc: Vec<char> = w.chars().collect();
            chars[start..i].starts_with(&wc) && i - start >= wc.len() + 2
        }) {
            start += w.chars().count();
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
    /// The names the cluster is found by: its founding message's (and, for a cluster a
    /// clerk fixed, every pinned member's: a merged cluster is found by either place).
    keys: Vec<String>,
    id: Option<i64>,
    centroid: HashMap<u32, f32>,
    norm: f32,
    last: NaiveDateTime,
    members: Vec<i64>,
}

/// The grouping's state: the text features of the messages it was fitted on, the
/// clusters open so far and their index. `fit` groups a set of messages; `push` adds
/// one more as it arrives — the same step the full grouping takes for its newest
/// message, so a message added later lands where a recomputation would put it (as
/// long as the vocabulary has not drifted: the site recomputes daily).
pub struct Grouper {
    vocab: Vocab,
    window: Duration,
    /// How many messages name each name, and how many were seen.
    df: HashMap<String, usize>,
    seen: usize,
    open: Vec<Open>,
    by_key: HashMap<String, Vec<usize>>,
    by_id: HashMap<i64, usize>,
}

impl Grouper {
    /// Group the items (any order, in time order as they are placed); also returns
    /// every item's text vector (by index), which `summary` reads.
    pub fn fit(items: &[Item], window_days: i64) -> (Grouper, Vec<Sparse>) {
        let texts: Vec<(&str, &str)> = items
            .iter()
            .map(|i| (i.title.as_str(), i.lead.as_str()))
            .collect();
        let (vocab, vectors) = Vocab::fit(&texts, 2, 200_000);
        let mut g = Grouper {
            vocab,
            window: Duration::days(window_days.max(1)),
            df: HashMap::new(),
            seen: 0,
            open: Vec::new(),
            by_key: HashMap::new(),
            by_id: HashMap::new(),
        };
        for i in items {
            g.count(i);
        }
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| (items[i].at, i));
        for i in order {
            g.place(&items[i], &vectors[i]);
        }
        (g, vectors)
    }

    fn count(&mut self, item: &Item) {
        self.seen += 1;
        for n in &item.names {
            *self.df.entry(n.clone()).or_default() += 1;
        }
    }

    /// Names found in more than `COMMON` of the messages say nothing about a matter.
    fn limit(&self) -> usize {
        ((self.seen as f64) * COMMON).max(20.0) as usize
    }

    /// One more message, newer than those placed: the cluster it joined (an index for
    /// `members`, `id_of`, `name`), or none.
    pub fn push(&mut self, item: &Item) -> Option<usize> {
        self.count(item);
        let x = self.vocab.vector(&item.title, &item.lead);
        self.place(item, &x)
    }

    /// A message's text vector under this grouping's vocabulary.
    pub fn vector(&self, item: &Item) -> Sparse {
        self.vocab.vector(&item.title, &item.lead)
    }

    fn open(&mut self, id: Option<i64>, key: String, at: NaiveDateTime) -> usize {
        let k = self.open.len();
        self.by_key.entry(key.clone()).or_default().push(k);
        if let Some(id) = id {
            self.by_id.insert(id, k);
        }
        self.open.push(Open {
            keys: vec![key],
            id,
            centroid: HashMap::new(),
            norm: 0.0,
            last: at,
            members: Vec::new(),
        });
        k
    }

    fn place(&mut self, item: &Item, x: &Sparse) -> Option<usize> {
        let k = match item.pin {
            Some(id) => {
                let k = match self.by_id.get(&id) {
                    Some(&k) => k,
                    None => {
                        let key = item.names.first().map(|n| key_of(n)).unwrap_or_default();
                        self.open(Some(id), key, item.at)
                    }
                };
                for n in &item.names {
                    let key = key_of(n);
                    if !self.open[k].keys.contains(&key) {
                        self.open[k].keys.push(key.clone());
                        self.by_key.entry(key).or_default().push(k);
                    }
                }
                k
            }
            None => self.choose(item, x)?,
        };
        let target = &mut self.open[k];
        for (f, v) in x {
            *target.centroid.entry(*f).or_default() += v;
        }
        target.norm = target.centroid.values().map(|v| v * v).sum::<f32>().sqrt();
        target.last = target.last.max(item.at);
        target.members.push(item.id);
        Some(k)
    }

    /// The open cluster an unpinned message joins (a new one when none is similar), or
    /// none when it names no place or object worth keeping.
    fn choose(&mut self, item: &Item, x: &Sparse) -> Option<usize> {
        let limit = self.limit();
        let kept: Vec<&String> = item
            .names
            .iter()
            .filter(|n| self.df.get(n.as_str()).is_some_and(|d| *d <= limit))
            .collect();
        // An object named decides; an area only when no object is.
        let objects: Vec<&String> = kept.iter().copied().filter(|n| !is_area(n)).collect();
        let mine = if objects.is_empty() { kept } else { objects };
        let founding = key_of(mine.first()?);
        // The clusters found by a name this message uses (an index: a year of a million
        // messages holds tens of thousands of clusters).
        let mut candidates: Vec<usize> = item
            .names
            .iter()
            .flat_map(|n| [key_of(n), n.clone()])
            .filter_map(|k| self.by_key.get(&k))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let best = candidates
            .into_iter()
            .map(|k| (k, &self.open[k]))
            .filter(|(_, c)| item.at - c.last <= self.window)
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
        Some(match best {
            Some(k) => k,
            None => self.open(None, founding, item.at),
        })
    }

    /// The clusters of at least two messages (or fixed by a clerk): (index, place, id).
    pub fn groups(&self) -> impl Iterator<Item = (usize, &str, Option<i64>)> {
        self.open
            .iter()
            .enumerate()
            .filter(|(_, c)| c.members.len() >= 2 || c.id.is_some())
            .map(|(k, c)| (k, c.keys.first().map(String::as_str).unwrap_or(""), c.id))
    }

    /// A cluster's members (item ids, in the order placed).
    pub fn members(&self, k: usize) -> &[i64] {
        self.open
            .get(k)
            .map(|c| c.members.as_slice())
            .unwrap_or(&[])
    }

    /// The site's id of a cluster, once stored.
    pub fn id_of(&self, k: usize) -> Option<i64> {
        self.open.get(k).and_then(|c| c.id)
    }

    /// Forget what the clusters closed before `now` hold — no newer message can join
    /// them —: the memory the site keeps between recomputations.
    pub fn prune(&mut self, now: NaiveDateTime) {
        for c in &mut self.open {
            if now - c.last > self.window {
                c.centroid = HashMap::new();
                c.norm = 0.0;
                c.members = Vec::new();
            }
        }
    }

    /// Record the site's id of a cluster (after it is stored).
    pub fn name(&mut self, k: usize, id: i64) {
        if let Some(c) = self.open.get_mut(k) {
            c.id = Some(id);
            self.by_id.insert(id, k);
        }
    }
}

/// Group the items (any order) into clusters, hottest first; `now` is when growth is
/// measured (the last seven days before it).
pub fn clusters(items: &[Item], window_days: i64, now: NaiveDateTime) -> Vec<Cluster> {
    let (g, vectors) = Grouper::fit(items, window_days);
    let index: HashMap<i64, usize> = items.iter().enumerate().map(|(i, x)| (x.id, i)).collect();
    let mut out: Vec<Cluster> = g
        .groups()
        .map(|(k, place, id)| {
            let members: Vec<(&Item, &Sparse)> = g
                .members(k)
                .iter()
                .filter_map(|m| index.get(m))
                .map(|&i| (&items[i], &vectors[i]))
                .collect();
            summary(place, id, &members, now)
        })
        .collect();
    out.sort_by(|a, b| b.heat.total_cmp(&a.heat));
    out
}

/// A cluster's figures and description from its members (each with its text vector).
pub fn summary(
    place: &str,
    id: Option<i64>,
    members: &[(&Item, &Sparse)],
    now: NaiveDateTime,
) -> Cluster {
    let mut members: Vec<&(&Item, &Sparse)> = members.iter().collect();
    members.sort_by_key(|(i, _)| (i.at, i.id));
    let first = members.first().map(|(i, _)| i.at).unwrap_or(now);
    let last = members.last().map(|(i, _)| i.at).unwrap_or(now);
    let mut users: Vec<&str> = members.iter().map(|(i, _)| i.user.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    let recent_from = now - Duration::days(7);
    let mut recent: Vec<&str> = members
        .iter()
        .filter(|(i, _)| i.at >= recent_from && i.at <= now)
        .map(|(i, _)| i.user.as_str())
        .collect();
    recent.sort_unstable();
    recent.dedup();
    let votes: i64 = members.iter().map(|(i, _)| i.votes).sum();
    let (u, n) = (users.len() as f64, members.len() as f64);
    let weeks = ((last - first).num_days() as f64 / 7.0).floor();
    let growth = recent.len() as f64 / u.max(1.0);
    let heat = 40.0 * (1.0 + u).ln()
        + 10.0 * (1.0 + n).ln()
        + 15.0 * (1.0 + votes as f64 / 10.0).ln()
        + 20.0 * (u / (weeks + 1.0) / 3.0).min(1.0)
        + 15.0 * growth;
    // The most typical title: the member closest to the others.
    let mut centroid: HashMap<u32, f32> = HashMap::new();
    for (_, v) in &members {
        for (f, x) in v.iter() {
            *centroid.entry(*f).or_default() += x;
        }
    }
    let description = members
        .iter()
        .max_by(|a, b| dot(a.1, &centroid).total_cmp(&dot(b.1, &centroid)))
        .map(|(i, _)| i.title.clone())
        .unwrap_or_default();
    Cluster {
        place: place.to_string(),
        id,
        first,
        last,
        users: users.len(),
        votes,
        heat,
        growth,
        warning: growth >= 0.5 && recent.len() >= 3,
        description,
        members: members.iter().map(|(i, _)| i.id).collect(),
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
        assert_eq!(
            names("建议虹山湖公园增设公共厕所"),
            vec!["虹山湖公园".to_string()]
        );
        // A name the centre added is read without a place word's ending.
        let added = names_of("关于融城公租房的问题", "", &["融城公租房".to_string()]);
        assert_eq!(added.first().map(String::as_str), Some("融城公租房"));
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
        Item::read(id as i64, user, title, body, at, 0)
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
        assert!(c[0].members.iter().all(|&i| items
            .iter()
            .any(|x| x.id == i && x.title.contains("搅拌站"))));
        let school = c
            .iter()
            .find(|x| x.place.contains("金毛湾"))
            .expect("second");
        assert_eq!(school.users, 1);
        assert!(school.heat < c[0].heat);
        assert_eq!(c.iter().filter(|x| x.place == "丽发新城").count(), 2);
    }

    #[test]
    fn a_message_pushed_later_lands_where_the_full_grouping_puts_it() {
        let titles = [
            "暮云街道丽发新城小区附近搅拌站噪音污染严重",
            "金毛湾小区配套学校入学问题",
        ];
        let items: Vec<Item> = (0..12)
            .map(|k| item(k, &format!("u{k}"), titles[k % 2], k as i64))
            .collect();
        let now = items[11].at;
        let whole = clusters(&items, WINDOW_DAYS, now);
        let (mut g, _) = Grouper::fit(&items[..11], WINDOW_DAYS);
        let k = g.push(&items[11]).expect("joins");
        let same = whole
            .iter()
            .find(|c| c.members.contains(&11))
            .expect("grouped");
        assert_eq!(g.members(k), same.members.as_slice());
    }

    #[test]
    fn a_clerks_merge_holds_and_the_merged_cluster_is_found_by_either_place() {
        let mut items: Vec<Item> = (0..4)
            .map(|k| {
                item(
                    k,
                    &format!("u{k}"),
                    "暮云街道丽发新城小区附近搅拌站噪音污染严重",
                    k as i64,
                )
            })
            .chain(
                (4..8).map(|k| item(k, &format!("u{k}"), "金毛湾小区配套学校入学问题", k as i64)),
            )
            .collect();
        for x in &mut items {
            x.pin = Some(7);
        }
        items.push(item(8, "u8", "金毛湾小区配套学校入学问题", 9));
        let c = clusters(&items, WINDOW_DAYS, items[8].at);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!((c[0].id, c[0].members.len()), (Some(7), 9));
    }
}
