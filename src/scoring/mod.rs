//! 量化积分考评: the rules of a year and the pure computation of a unit's score from its
//! facts (base 100, capped bonuses and deductions, grade thresholds). Points are kept in
//! tenths of a point (integers), so sums and caps are exact.

pub mod actions;
pub mod board;
pub mod facts;
pub mod manual;
pub mod store;

use serde::{Deserialize, Serialize};

/// One bonus or deduction item of a year's rules.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Item {
    pub code: String,
    pub name: String,
    pub bonus: bool,
    /// Computed from the data (true) or entered by the city centre (false).
    pub auto: bool,
    /// Tenths of a point per occurrence (manual items: the default points offered).
    pub each: i64,
    /// Tenths of a point at most for the item in a year.
    pub cap: i64,
    /// How the item is counted, shown on the pages.
    pub basis: String,
}

/// A year's rules.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Rules {
    pub base: i64,
    /// 合格 at or above (tenths).
    pub pass: i64,
    /// 基本合格 at or above (tenths); below is 不合格.
    pub basic: i64,
    /// 化解率高: resolution rate at or above this percentage…
    pub resolution_rate: i64,
    /// …over at least this many closed messages.
    pub resolution_min: i64,
    pub items: Vec<Item>,
}

fn item(code: &str, name: &str, bonus: bool, auto: bool, each: i64, cap: i64, basis: &str) -> Item {
    Item {
        code: code.into(),
        name: name.into(),
        bonus,
        auto,
        each,
        cap,
        basis: basis.into(),
    }
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            base: 1000,
            pass: 900,
            basic: 750,
            resolution_rate: 90,
            resolution_min: 5,
            items: vec![
                item(
                    "D01",
                    "超期签收",
                    false,
                    true,
                    5,
                    50,
                    "转办后超过 1 个工作日签收（或至今未签收）的留言，每件",
                ),
                item(
                    "D02",
                    "超期答复/超期办结",
                    false,
                    true,
                    10,
                    100,
                    "超过到期时间答复（或至今未答复）的留言，每件",
                ),
                item(
                    "D03",
                    "督办后仍未按期落实",
                    false,
                    true,
                    20,
                    100,
                    "催办、督办、挂牌督办后未在落实期限内答复的，每次",
                ),
                item(
                    "D04",
                    "答复被驳回重办",
                    false,
                    true,
                    10,
                    50,
                    "答复被交办单位驳回重办的，每次",
                ),
                item(
                    "D05",
                    "回访不满意",
                    false,
                    true,
                    5,
                    50,
                    "回访结果为不满意的，每次",
                ),
                item(
                    "D06",
                    "未化解",
                    false,
                    true,
                    5,
                    50,
                    "审核办结时认定未化解的，每件",
                ),
                item(
                    "D07",
                    "退回理由不成立、推诿扯皮",
                    false,
                    true,
                    10,
                    50,
                    "退回被交办单位认定理由不成立的，每次",
                ),
                item(
                    "D08",
                    "档案要素不全",
                    false,
                    true,
                    10,
                    50,
                    "已呈报或已销号但 16 项要素不全的留言，每件",
                ),
                item(
                    "D09",
                    "档案未按期上报或被退回",
                    false,
                    true,
                    20,
                    100,
                    "逾期上报、上报被退回、截止后仍未上报的，每次",
                ),
                item(
                    "D10",
                    "纸质档与电子档不一致",
                    false,
                    true,
                    10,
                    50,
                    "已销号档案未打印纸质档或打印后又有变更的，每件",
                ),
                item(
                    "D11",
                    "低级错误",
                    false,
                    false,
                    10,
                    100,
                    "人名、单位写错，答非所问等，由市社情民意研究中心认定",
                ),
                item(
                    "D12",
                    "其他未按要求落实的工作",
                    false,
                    false,
                    10,
                    100,
                    "由市社情民意研究中心认定",
                ),
                item(
                    "B01",
                    "化解率高",
                    true,
                    true,
                    30,
                    30,
                    "全年办结的留言化解率达到标准的",
                ),
                item(
                    "B02",
                    "工作荣获表彰",
                    true,
                    false,
                    20,
                    50,
                    "网民留言办理工作受到表彰的，由市社情民意研究中心录入",
                ),
                item(
                    "B03",
                    "信息获得采用",
                    true,
                    false,
                    10,
                    50,
                    "报送的信息被采用的，每次",
                ),
            ],
        }
    }
}

impl Rules {
    pub fn item(&self, code: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.code == code)
    }

    pub fn grade(&self, total: i64) -> Grade {
        if total >= self.pass {
            Grade::Pass
        } else if total >= self.basic {
            Grade::Basic
        } else {
            Grade::Fail
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grade {
    Pass,
    Basic,
    Fail,
}

impl Grade {
    pub fn label(self) -> &'static str {
        match self {
            Grade::Pass => "合格",
            Grade::Basic => "基本合格",
            Grade::Fail => "不合格",
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            Grade::Pass => "grade-pass",
            Grade::Basic => "grade-basic",
            Grade::Fail => "grade-fail",
        }
    }

    /// What follows from the grade (DESIGN §6).
    pub fn consequence(self) -> &'static str {
        match self {
            Grade::Pass => "",
            Grade::Basic => "书面函告单位主要负责人",
            Grade::Fail => "约谈单位主要负责人，结果报市主要领导",
        }
    }
}

/// One thing that caused an automatic line: a message (and the event, when one).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Cause {
    pub message_id: Option<i32>,
    pub ref_no: String,
    pub what: String,
    pub date: String,
}

/// A manual entry (or its reversal) as it counts.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ManualPoint {
    pub entry_id: i32,
    pub item: String,
    /// Tenths, positive; a reversal carries the negative of what it reverses.
    pub points: i64,
    pub date: String,
    pub reason: String,
    pub author: String,
}

/// How many causes of one item are kept to be listed (the count is always exact): a unit
/// page listing tens of thousands would help nobody, and holding them all cost memory.
pub const CAUSES_LISTED: usize = 200;

/// The occurrences of one automatic item: how many, and the first `CAUSES_LISTED`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Occurrences {
    pub count: i64,
    pub listed: Vec<Cause>,
}

impl Occurrences {
    /// Counts one occurrence; its cause is built only when it is listed (a year can hold
    /// hundreds of thousands of occurrences of one item).
    pub fn push(&mut self, cause: impl FnOnce() -> Cause) {
        self.count += 1;
        if self.listed.len() < CAUSES_LISTED {
            self.listed.push(cause());
        }
    }
}

/// The facts of one unit for one year (up to a day).
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Occurrences per automatic deduction item code.
    pub auto: Vec<(String, Occurrences)>,
    /// Messages closed in the period and how many of them were resolved.
    pub closed: i64,
    pub resolved: i64,
    pub manual: Vec<ManualPoint>,
    /// Messages with a reply deadline in the period.
    pub due: i64,
}

impl Facts {
    /// Whether the unit had anything to handle in the period (else it is shown as 无留言
    /// and not ranked).
    pub fn had_messages(&self) -> bool {
        self.due > 0 || self.closed > 0 || !self.auto.is_empty() || !self.manual.is_empty()
    }
}

/// One line of a score.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Line {
    pub code: String,
    pub name: String,
    pub bonus: bool,
    pub count: i64,
    /// Tenths before the cap (signed: deductions negative).
    pub raw: i64,
    /// Tenths counted (signed).
    pub points: i64,
    pub capped: bool,
    pub basis: String,
    pub causes: Vec<Cause>,
    pub manual: Vec<ManualPoint>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Score {
    pub total: i64,
    pub grade: Grade,
    pub lines: Vec<Line>,
    pub closed: i64,
    pub resolved: i64,
}

impl Score {
    pub fn count(&self, code: &str) -> i64 {
        self.lines
            .iter()
            .find(|l| l.code == code)
            .map(|l| l.count)
            .unwrap_or(0)
    }
}

/// Compute a unit's score from its facts under the rules.
pub fn compute(rules: &Rules, facts: &Facts) -> Score {
    let mut lines = Vec::new();
    let mut total = rules.base;
    for it in &rules.items {
        let sign = if it.bonus { 1 } else { -1 };
        let (count, raw, causes, manual) = if it.auto {
            if it.code == "B01" {
                let qualifies = facts.closed >= rules.resolution_min
                    && facts.resolved * 100 >= rules.resolution_rate * facts.closed;
                let causes = if qualifies {
                    vec![Cause {
                        message_id: None,
                        ref_no: String::new(),
                        what: format!(
                            "办结 {} 件，化解 {} 件，化解率 {}%",
                            facts.closed,
                            facts.resolved,
                            facts.resolved * 100 / facts.closed.max(1)
                        ),
                        date: String::new(),
                    }]
                } else {
                    Vec::new()
                };
                let n = i64::from(qualifies);
                (n, n * it.each, causes, Vec::new())
            } else {
                let occ = facts
                    .auto
                    .iter()
                    .find(|(c, _)| *c == it.code)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                (occ.count, occ.count * it.each, occ.listed, Vec::new())
            }
        } else {
            let mine: Vec<ManualPoint> = facts
                .manual
                .iter()
                .filter(|m| m.item == it.code)
                .cloned()
                .collect();
            let sum: i64 = mine.iter().map(|m| m.points).sum();
            let n = mine.iter().filter(|m| m.points > 0).count() as i64
                - mine.iter().filter(|m| m.points < 0).count() as i64;
            (n, sum.max(0), Vec::new(), mine)
        };
        let capped_abs = raw.min(it.cap);
        let points = sign * capped_abs;
        total += points;
        lines.push(Line {
            code: it.code.clone(),
            name: it.name.clone(),
            bonus: it.bonus,
            count,
            raw: sign * raw,
            points,
            capped: raw > it.cap,
            basis: it.basis.clone(),
            causes,
            manual,
        });
    }
    Score {
        grade: rules.grade(total),
        total,
        lines,
        closed: facts.closed,
        resolved: facts.resolved,
    }
}

/// Tenths as a printed number: 92.5, 100, -3.
pub fn points_text(tenths: i64) -> String {
    let sign = if tenths < 0 { "-" } else { "" };
    let a = tenths.abs();
    if a % 10 == 0 {
        format!("{sign}{}", a / 10)
    } else {
        format!("{sign}{}.{}", a / 10, a % 10)
    }
}

/// `points_text` for templates, which pass references.
pub fn pt(tenths: &i64) -> String {
    points_text(*tenths)
}

/// Parse a typed number of points ("2", "0.5") into tenths.
pub fn parse_points(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let f: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse().ok()?,
        _ => return None,
    };
    if w < 0 {
        return None;
    }
    Some(w * 10 + f)
}

/// Rank scores: equal totals share a rank (1, 2, 2, 4).
/// Competition ranks (1, 2, 2, 4 …) by total, best first; 0 for a unit not ranked.
pub fn ranks_of(totals: &[(i64, bool)]) -> Vec<usize> {
    let ranked: Vec<i64> = totals.iter().filter(|(_, r)| *r).map(|(t, _)| *t).collect();
    totals
        .iter()
        .map(|(t, r)| {
            if *r {
                1 + ranked.iter().filter(|o| *o > t).count()
            } else {
                0
            }
        })
        .collect()
}

pub fn ranks(totals: &[i64]) -> Vec<usize> {
    totals
        .iter()
        .map(|t| 1 + totals.iter().filter(|o| *o > t).count())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn causes(n: usize) -> Occurrences {
        let mut o = Occurrences::default();
        for i in 0..n {
            o.push(|| Cause {
                message_id: Some(i as i32),
                ref_no: format!("R{i}"),
                what: String::new(),
                date: String::new(),
            });
        }
        o
    }

    #[test]
    fn counts_stay_exact_beyond_the_listed_causes() {
        let o = causes(CAUSES_LISTED + 50);
        assert_eq!(o.count, (CAUSES_LISTED + 50) as i64);
        assert_eq!(o.listed.len(), CAUSES_LISTED);
    }

    fn manual(id: i32, item: &str, points: i64) -> ManualPoint {
        ManualPoint {
            entry_id: id,
            item: item.into(),
            points,
            date: String::new(),
            reason: String::new(),
            author: String::new(),
        }
    }

    #[test]
    fn a_clean_year_is_one_hundred() {
        let s = compute(&Rules::default(), &Facts::default());
        assert_eq!(s.total, 1000);
        assert_eq!(s.grade, Grade::Pass);
        assert_eq!(s.lines.len(), 15);
    }

    #[test]
    fn deductions_count_per_occurrence_and_stop_at_the_cap() {
        let rules = Rules::default();
        // D02: 1 point each, cap 10. Seven overdue replies: -7; twelve: -10 (capped).
        let mut f = Facts {
            auto: vec![("D02".into(), causes(7))],
            ..Default::default()
        };
        assert_eq!(compute(&rules, &f).total, 930);
        f.auto = vec![("D02".into(), causes(12))];
        let s = compute(&rules, &f);
        assert_eq!(s.total, 900);
        let line = s.lines.iter().find(|l| l.code == "D02").expect("line");
        assert_eq!(
            (line.count, line.raw, line.points, line.capped),
            (12, -120, -100, true)
        );
        // Exactly at the cap is not "capped".
        f.auto = vec![("D02".into(), causes(10))];
        let s = compute(&rules, &f);
        assert!(!s.lines.iter().any(|l| l.capped));
        // Half points: three unsatisfied follow-ups -1.5.
        f.auto = vec![("D05".into(), causes(3))];
        assert_eq!(compute(&rules, &f).total, 985);
    }

    #[test]
    fn grades_at_their_exact_edges() {
        let r = Rules::default();
        assert_eq!(r.grade(900), Grade::Pass);
        assert_eq!(r.grade(899), Grade::Basic);
        assert_eq!(r.grade(750), Grade::Basic);
        assert_eq!(r.grade(749), Grade::Fail);
        // 10 overdue (-10) → 90 合格; one more unsatisfied (-0.5) → 89.5 基本合格.
        let mut f = Facts {
            auto: vec![("D02".into(), causes(10))],
            ..Default::default()
        };
        assert_eq!(compute(&r, &f).grade, Grade::Pass);
        f.auto.push(("D05".into(), causes(1)));
        let s = compute(&r, &f);
        assert_eq!((s.total, s.grade), (895, Grade::Basic));
    }

    #[test]
    fn the_resolution_bonus_needs_the_rate_and_enough_cases() {
        let r = Rules::default();
        let f = |closed, resolved| Facts {
            closed,
            resolved,
            ..Default::default()
        };
        assert_eq!(compute(&r, &f(10, 9)).total, 1030, "90% exactly qualifies");
        assert_eq!(compute(&r, &f(10, 8)).total, 1000, "80% does not");
        assert_eq!(compute(&r, &f(4, 4)).total, 1000, "too few cases");
    }

    #[test]
    fn manual_entries_and_their_reversals() {
        let r = Rules::default();
        let mut f = Facts {
            manual: vec![
                manual(1, "D11", 20),
                manual(2, "B03", 10),
                manual(3, "B03", 10),
            ],
            ..Default::default()
        };
        // -2 + 2 = 100.
        assert_eq!(compute(&r, &f).total, 1000);
        // Entry 1 withdrawn by a reversal: +2 back.
        f.manual.push(manual(4, "D11", -20));
        let s = compute(&r, &f);
        assert_eq!(s.total, 1020);
        assert_eq!(s.count("D11"), 0);
        // B03 capped at 5 points.
        f.manual = (0..8).map(|i| manual(i, "B03", 10)).collect();
        assert_eq!(compute(&r, &f).total, 1050);
    }

    #[test]
    fn points_are_printed_and_parsed_in_tenths() {
        assert_eq!(points_text(925), "92.5");
        assert_eq!(points_text(1000), "100");
        assert_eq!(points_text(-15), "-1.5");
        assert_eq!(parse_points("0.5"), Some(5));
        assert_eq!(parse_points("2"), Some(20));
        assert_eq!(parse_points("1.25"), None);
        assert_eq!(parse_points("-1"), None);
        assert_eq!(parse_points("x"), None);
        assert_eq!(ranks(&[950, 1000, 950, 800]), vec![2, 1, 2, 4]);
    }
}
