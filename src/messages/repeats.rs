//! 重复件: earlier messages that a new one may repeat — the same platform id, the same
//! 联系方式, the same 反映人 with similar text, or very similar text from anyone within a
//! window — ranked by similarity. Each look-up is an index probe with a small limit, so
//! registration stays fast on a large archive.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::messages::dsl as m;
use crate::db::DbConn;
use crate::messages::model::{scoped, Message, Scope};

/// Setting: days around the new message's 留言时间 in which very similar text from anyone
/// counts as a possible repeat.
pub const WINDOW_KEY: &str = "repeat_window_days";
pub const DEFAULT_WINDOW_DAYS: i64 = 180;

/// Why an earlier message was found, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    Platform,
    Contact,
    Person,
    Text,
}

impl Why {
    pub fn label(self) -> &'static str {
        match self {
            Why::Platform => "同一平台编号",
            Why::Contact => "同一联系方式",
            Why::Person => "同一反映人、内容相近",
            Why::Text => "内容高度相似",
        }
    }
}

/// What a new message is compared by.
#[derive(Clone, Copy, Debug, Default)]
pub struct Probe<'a> {
    /// The message itself, when it exists already (never its own repeat).
    pub id: Option<i32>,
    pub platform_ref: Option<&'a str>,
    pub name: &'a str,
    pub contact: &'a str,
    pub title: &'a str,
    pub appeal: &'a str,
    pub posted_at: NaiveDateTime,
}

#[derive(Clone, Debug)]
pub struct Candidate {
    pub msg: Message,
    pub why: Why,
    /// Text similarity, 0–100.
    pub score: u8,
}

/// Letters and digits only.
fn norm(s: &str) -> Vec<char> {
    s.chars().filter(|c| c.is_alphanumeric()).collect()
}

fn jaccard(a: &[char], b: &[char]) -> f64 {
    let grams = |v: &[char]| -> std::collections::HashSet<(char, char)> {
        v.windows(2).map(|w| (w[0], w[1])).collect()
    };
    let (ga, gb) = (grams(a), grams(b));
    let union = ga.union(&gb).count();
    if union == 0 {
        return 0.0;
    }
    ga.intersection(&gb).count() as f64 / union as f64
}

/// How alike two messages read, 0–100: the better of their titles' character-pair
/// overlap (a title inside the other counts 90) and that of title and the start of the
/// 诉求 together.
pub fn similarity(title_a: &str, text_a: &str, title_b: &str, text_b: &str) -> u8 {
    let (ta, tb) = (norm(title_a), norm(title_b));
    let (sa, sb): (String, String) = (ta.iter().collect(), tb.iter().collect());
    let contained = !sa.is_empty() && !sb.is_empty() && (sa.contains(&sb) || sb.contains(&sa));
    let start = |t: &[char], x: &str| -> Vec<char> {
        t.iter()
            .copied()
            .chain(norm(x).into_iter().take(300))
            .collect()
    };
    let body = jaccard(&start(&ta, text_a), &start(&tb, text_b));
    let title = if contained { 0.9 } else { jaccard(&ta, &tb) };
    (title.max(body) * 100.0).round().clamp(0.0, 100.0) as u8
}

/// Up to three four-character pieces of a title, spread over it, to find messages that
/// share its words through the full-text index.
pub fn title_pieces(title: &str) -> Vec<String> {
    let t = norm(title);
    if t.len() < 4 {
        return if t.len() == 3 {
            vec![t.iter().collect()]
        } else {
            Vec::new()
        };
    }
    let last = t.len() - 4;
    let mut starts = vec![0, last / 2, last];
    starts.dedup();
    starts
        .into_iter()
        .map(|s| t[s..s + 4].iter().collect())
        .collect()
}

/// Same 反映人: similar enough at this score; anyone else: at this one.
pub const PERSON_SCORE: u8 = 30;
pub const TEXT_SCORE: u8 = 70;
/// At most this many candidates are shown.
pub const SHOWN: usize = 10;

/// Earlier messages the probe may repeat that the user sees (`scope`), strongest reason
/// and most similar first.
pub fn find(
    conn: &mut DbConn,
    scope: &Scope,
    p: &Probe,
    window_days: i64,
) -> QueryResult<Vec<Candidate>> {
    let mut found: Vec<Candidate> = Vec::new();
    let mut add = |msg: Message, why: Why, min: u8| {
        if Some(msg.id) == p.id {
            return;
        }
        let score = similarity(p.title, p.appeal, &msg.title, &msg.appeal);
        if score < min {
            return;
        }
        match found.iter_mut().find(|c| c.msg.id == msg.id) {
            Some(c) => c.why = c.why.min(why),
            None => found.push(Candidate { msg, why, score }),
        }
    };
    if let Some(pref) = p.platform_ref.map(str::trim).filter(|s| !s.is_empty()) {
        for msg in scoped(scope)
            .filter(m::platform_ref.eq(pref))
            .limit(5)
            .load::<Message>(conn)?
        {
            add(msg, Why::Platform, 0);
        }
    }
    // 联系方式 and 反映人 are sealed at rest: found by their look-up digests.
    if let Some(key) = crate::messages::personal::repeat_key(p.contact.trim()) {
        for msg in scoped(scope)
            .filter(m::contact_key.eq(key))
            .order(m::id.desc())
            .limit(20)
            .load::<Message>(conn)?
        {
            add(msg, Why::Contact, 0);
        }
    }
    if let Some(key) = crate::messages::personal::name_key(p.name) {
        for msg in scoped(scope)
            .filter(m::name_key.eq(key))
            .order(m::id.desc())
            .limit(50)
            .load::<Message>(conn)?
        {
            add(msg, Why::Person, PERSON_SCORE);
        }
    }
    let pieces = title_pieces(p.title);
    if !pieces.is_empty() {
        let pg = matches!(conn, DbConn::Pg(_));
        let window = Duration::days(window_days.max(1));
        let mut any: Option<crate::messages::model::Cond> = None;
        for piece in &pieces {
            let c = crate::search::condition(pg, piece, None);
            any = Some(match any {
                None => c,
                Some(a) => Box::new(a.or(c)),
            });
        }
        if let Some(cond) = any {
            for msg in scoped(scope)
                .filter(m::posted_at.ge(p.posted_at - window))
                .filter(m::posted_at.le(p.posted_at + window))
                .filter(cond)
                .order(m::id.desc())
                .limit(100)
                .load::<Message>(conn)?
            {
                add(msg, Why::Text, TEXT_SCORE);
            }
        }
    }
    found.sort_by(|a, b| a.why.cmp(&b.why).then(b.score.cmp(&a.score)));
    found.truncate(SHOWN);
    Ok(found)
}

/// The window setting, in days.
pub fn window_days(conn: &mut DbConn) -> QueryResult<i64> {
    Ok(crate::db::get_setting(conn, WINDOW_KEY)?
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|d| (1..=3650).contains(d))
        .unwrap_or(DEFAULT_WINDOW_DAYS))
}

/// A row of an import file to compare: (line, 反映人, 联系方式, 标题).
pub type FileRow<'a> = (usize, &'a str, &'a str, &'a str);

/// The rows of an import file that may be repeats, every row checked (not only those a
/// preview shows): the same 联系方式 as a message the user can see (by its look-up
/// digest, in chunks of indexed probes) or as an earlier row, or the same 反映人 and
/// 标题 as an earlier row. Returns (line, why), in file order.
pub fn in_file(
    conn: &mut DbConn,
    scope: &Scope,
    rows: &[FileRow<'_>],
) -> QueryResult<Vec<(usize, String)>> {
    use crate::messages::personal::{name_key, repeat_key};
    use std::collections::{HashMap, HashSet};
    let keys: Vec<Option<String>> = rows.iter().map(|(_, _, c, _)| repeat_key(c)).collect();
    let mut known: HashSet<String> = HashSet::new();
    let wanted: Vec<&String> = keys.iter().flatten().collect();
    for chunk in wanted.chunks(500) {
        let found: Vec<Option<String>> = scoped(scope)
            .filter(m::contact_key.eq_any(chunk.iter().map(|k| k.as_str())))
            .select(m::contact_key)
            .load(conn)?;
        known.extend(found.into_iter().flatten());
    }
    let mut by_contact: HashMap<&str, usize> = HashMap::new();
    let mut by_person: HashMap<(String, String), usize> = HashMap::new();
    let mut out = Vec::new();
    for ((line, name, _, title), key) in rows.iter().zip(&keys) {
        let person = name_key(name).map(|n| (n, title.trim().to_string()));
        let why = if key.as_deref().is_some_and(|k| known.contains(k)) {
            Some("联系方式与已有留言相同".to_string())
        } else if let Some(first) = key.as_deref().and_then(|k| by_contact.get(k)) {
            Some(format!("联系方式与第 {first} 行相同"))
        } else {
            person
                .as_ref()
                .and_then(|p| by_person.get(p))
                .map(|first| format!("反映人和标题与第 {first} 行相同"))
        };
        if let Some(why) = why {
            out.push((*line, why));
        }
        if let Some(k) = key.as_deref() {
            by_contact.entry(k).or_insert(*line);
        }
        if let Some(p) = person {
            by_person.entry(p).or_insert(*line);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_messages_score_high_and_others_low() {
        let a = similarity(
            "松林村征地补偿款迟迟未到位",
            "我们大西桥镇松林村的土地被征用",
            "再次反映松林村征地补偿款迟迟未到位",
            "松林村的土地被征用后补偿款没有发放",
        );
        assert!(a >= 90, "{a}");
        let b = similarity("小区停水三天", "停水", "公交线路调整不便", "改线");
        assert!(b < 20, "{b}");
        assert_eq!(similarity("", "", "", ""), 0);
    }

    #[test]
    fn pieces_spread_over_the_title() {
        assert_eq!(
            title_pieces("松林村征地补偿款迟迟未到位"),
            vec!["松林村征", "地补偿款", "迟未到位"]
        );
        assert_eq!(title_pieces("停水！"), Vec::<String>::new());
        assert_eq!(title_pieces("停水了"), vec!["停水了"]);
        assert_eq!(title_pieces("路灯不亮"), vec!["路灯不亮"]);
    }

    #[test]
    fn reasons_rank_strongest_first() {
        assert!(Why::Contact < Why::Person && Why::Person < Why::Text);
    }
}
