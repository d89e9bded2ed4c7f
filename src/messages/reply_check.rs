//! 答复质量: a check of a reply before 审核 (pure). Four items, each 通过 or 提示 with a
//! one-line reason, and a score 0–100:
//!
//! - **相关性** (35 points): the appeal's key words — the title's words, and the words of
//!   each question the appeal asks — found in the reply. 35 × (0.7 × min(1, title
//!   words found / 60 %) + 0.3 × questions touched / questions asked); 提示 below 60 %
//!   of the title's words or when a question is not touched at all.
//! - **完整性** (35 points): six parts a reply is expected to have — 称呼 (addresses the
//!   citizen), 查明 (what was found: 经查/经核实/现场…), 处理 (what was done or decided),
//!   依据 (根据《…》/规定/政策), 联系 (whom to ask: a telephone number, 咨询/联系…), 落款
//!   (the replying unit or a date at the end). 35 × parts / 6; 提示 with fewer than four.
//! - **及时性** (15 points): working days from 转办 to the reply against the deadline;
//!   15 on time, 3 points less per working day late; not judged without a 转办 (imported
//!   history), which keeps its 15.
//! - **套话** (15 points): once greetings, thanks, "已收悉" and "已转…处理" are taken
//!   out, fewer than 30 characters of substance are left: the reply only acknowledges or
//!   only passes the message on. Such a reply scores at most 20 in all.
//!
//! A reply "不答所问" is one flagged 套话, or one that touches under a quarter of the
//! title's words and none of the questions. The check never blocks 审核.

use crate::dispatch::text;

/// How the reply relates to the deadline: working days used from 转办, and working days
/// after the deadline (0 when on time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub used: i64,
    pub late: i64,
}

impl Timing {
    /// A reply given on `replied` (China days) to a message assigned on `assigned` and
    /// due on `due`; none without a 转办.
    pub fn of(
        cal: &crate::messages::calendar::Calendar,
        assigned: Option<chrono::NaiveDate>,
        replied: chrono::NaiveDate,
        due: Option<chrono::NaiveDate>,
    ) -> Option<Timing> {
        assigned.map(|a| Timing {
            used: cal.working_days_between(a, replied),
            late: due
                .map(|d| cal.working_days_between(d, replied).max(0))
                .unwrap_or(0),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: &'static str,
    pub pass: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// 相关性, 完整性, 及时性, 套话 — in that order.
    pub items: Vec<Item>,
    pub score: u8,
    pub boilerplate: bool,
    /// Whether the reply answers what was asked (not 不答所问).
    pub answers: bool,
}

impl Check {
    /// Items with a 提示.
    pub fn warnings(&self) -> Vec<&Item> {
        self.items.iter().filter(|i| !i.pass).collect()
    }

    /// The warnings as one text a 驳回 can quote.
    pub fn quoted(&self) -> String {
        self.warnings()
            .iter()
            .map(|i| format!("{}：{}", i.name, i.reason))
            .collect::<Vec<_>>()
            .join("；")
    }
}

/// Phrases that carry no answer: greetings, acknowledgements, thanks, passing on.
const EMPTY: &[&str] = &[
    "现将有关情况回复如下",
    "现将有关情况答复如下",
    "现将调查核实情况回复如下",
    "现将办理情况回复如下",
    "现就相关问题回复如下",
    "现就您反映的问题回复如下",
    "现答复如下",
    "现回复如下",
    "回复如下",
    "答复如下",
    "感谢您对我们工作的关心、监督与支持",
    "感谢您对我们工作的支持、理解与监督",
    "感谢您对我们工作的理解和支持",
    "感谢您对我们工作的关心和支持",
    "感谢您对我们工作的支持",
    "感谢您的留言",
    "感谢您的来信",
    "感谢您的问政",
    "感谢来信",
    "感谢您",
    "谢谢您",
    "谢谢",
    "您的留言已收悉",
    "您的来信已收到",
    "留言已收悉",
    "来信已收悉",
    "来信收悉",
    "留言收悉",
    "函件收悉",
    "已收悉",
    "收悉",
    "已知悉",
    "您反映的问题",
    "您反映的情况",
    "您所反映的问题",
    "您所反映的情况",
    "关于您反映的问题",
    "我们已转交",
    "已转交至",
    "已转交",
    "已转至",
    "已转",
    "转交",
    "相关部门",
    "有关部门",
    "相关单位",
    "调查处理",
    "调查核处",
    "核实、办复",
    "核查、办复",
    "核实办复",
    "调查办复",
    "进行办复",
    "办复",
    "核处",
    "处理情况会向您反馈",
    "办理情况我们将在第一时间回复",
    "如有回复，将第一时间在网上告知",
    "尊敬的网友",
    "网友",
    "您好",
    "你好",
    "网民朋友",
    "来信人",
];

/// Words too general to show that a reply is about the appeal.
const GENERIC: &[&str] = &[
    "咨询",
    "投诉",
    "反映",
    "请求",
    "建议",
    "希望",
    "问题",
    "关于",
    "举报",
    "请问",
    "呼吁",
    "质疑",
    "强烈",
    "要求",
    "解决",
    "情况",
    "政府",
    "领导",
    "部门",
    "相关",
    "一下",
    "如何",
    "怎么",
    "是否",
    "能否",
    "什么",
    "哪些",
    "多少",
    "为什么",
    "有没有",
    "可以",
    "我们",
    "市民",
    "居民",
    "尽快",
    "严重",
    "现象",
];

/// Words that make a sentence a question.
const ASKING: &[&str] = &[
    "吗",
    "能否",
    "是否",
    "可否",
    "何时",
    "什么时候",
    "为什么",
    "为何",
    "怎么",
    "如何",
    "多少",
    "哪些",
    "哪里",
    "哪个",
    "有没有",
    "能不能",
    "可不可以",
    "该怎么",
];

/// Letters and digits out (platform exports code places as "A2区"; they split words).
fn cjk_only(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { ' ' } else { c })
        .collect()
}

/// The character bigrams of a text with its general words taken out: how much of a title
/// a reply repeats, whatever the segmenter makes of it.
fn grams(s: &str) -> Vec<String> {
    let mut s = cjk_only(s);
    for g in GENERIC {
        s = s.replace(g, " ");
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<String> = Vec::new();
    for w in chars.windows(2) {
        if w.iter().all(|c| ('\u{4e00}'..='\u{9fff}').contains(c)) {
            let g: String = w.iter().collect();
            if !out.contains(&g) {
                out.push(g);
            }
        }
    }
    out
}

fn words(s: &str) -> Vec<String> {
    let s = cjk_only(s);
    let mut out: Vec<String> = Vec::new();
    text::each_term(&s, "", |t| {
        if text::kind_of(t) == text::Kind::Word {
            let w = text::text_of(t);
            if !GENERIC.contains(&w) && !out.iter().any(|x| x == w) {
                out.push(w.to_string());
            }
        }
    });
    out
}

/// The questions an appeal asks (sentences with a question mark or a question word).
fn questions(appeal: &str) -> Vec<String> {
    appeal
        .split(['。', '！', '!', '\n', '；', ';'])
        .flat_map(|s| s.split_inclusive(['？', '?']))
        .map(str::trim)
        .filter(|s| {
            s.chars().count() >= 4
                && (s.ends_with('？') || s.ends_with('?') || ASKING.iter().any(|a| s.contains(a)))
        })
        .take(6)
        .map(str::to_string)
        .collect()
}

/// The reply with its empty phrases, names in quotes, dates, digits and punctuation
/// taken out: what it says.
fn substance(reply: &str) -> String {
    let mut s = reply.to_string();
    for p in EMPTY {
        s = s.replace(p, "");
    }
    s.chars()
        .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
        .collect::<String>()
        .replace("年月日", "")
}

fn has_any(s: &str, list: &[&str]) -> bool {
    list.iter().any(|p| s.contains(p))
}

fn has_phone(s: &str) -> bool {
    let mut run = 0;
    for c in s.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 5 {
                return true;
            }
        } else if c != '-' && c != '－' && c != '—' {
            run = 0;
        }
    }
    false
}

fn has_date(s: &str) -> bool {
    let digits_before = |i: usize| {
        s[..i]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .count()
    };
    s.match_indices('年').any(|(i, _)| digits_before(i) == 4)
        || s.match_indices('月')
            .any(|(i, _)| digits_before(i) >= 1 && s[i..].contains('日'))
        || s.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '/'))
            .any(|t| t.len() >= 8 && t.matches(['.', '-', '/']).count() == 2)
}

const UNIT_ENDINGS: &[&str] = &[
    "局",
    "委",
    "办",
    "政府",
    "中心",
    "公司",
    "大队",
    "支队",
    "街道",
    "办事处",
    "学校",
    "医院",
    "管委会",
    "乡",
    "镇",
];

/// The six parts of a complete reply: (name, found).
fn parts(reply: &str, body: &str) -> [(&'static str, bool); 6] {
    let head: String = reply.chars().take(40).collect();
    let tail: String = {
        let v: Vec<char> = reply.trim_end().chars().collect();
        v[v.len().saturating_sub(40)..].iter().collect()
    };
    [
        (
            "称呼",
            has_any(
                &head,
                &[
                    "网友",
                    "您好",
                    "你好",
                    "先生",
                    "女士",
                    "同志",
                    "来信人",
                    "尊敬的",
                    "网民",
                    "业主",
                ],
            ),
        ),
        (
            "查明",
            has_any(
                body,
                &[
                    "经查",
                    "经调查",
                    "经核实",
                    "核实",
                    "调查",
                    "据查",
                    "据了解",
                    "经了解",
                    "现场",
                    "查勘",
                    "勘查",
                    "核查",
                    "踏勘",
                    "经研究",
                    "了解到",
                    "查询",
                ],
            ),
        ),
        (
            "处理",
            has_any(
                body,
                &[
                    "责令",
                    "要求",
                    "安排",
                    "决定",
                    "整改",
                    "已经",
                    "已将",
                    "已对",
                    "已于",
                    "已完成",
                    "已安装",
                    "已纳入",
                    "将于",
                    "将在",
                    "计划",
                    "下一步",
                    "可以",
                    "不能",
                    "不得",
                    "应当",
                    "需要",
                    "符合",
                    "不符合",
                    "属于",
                    "办理",
                    "实施",
                    "完成",
                ],
            ),
        ),
        (
            "依据",
            body.contains('《')
                || has_any(
                    body,
                    &["根据", "依据", "按照", "规定", "政策", "文件", "标准"],
                ),
        ),
        (
            "联系",
            has_phone(reply)
                || has_any(
                    reply,
                    &["联系电话", "咨询电话", "热线", "致电", "来电", "联系方式"],
                ),
        ),
        (
            "落款",
            has_date(&tail) || UNIT_ENDINGS.iter().any(|u| tail.contains(u)),
        ),
    ]
}

/// Characters of substance a reply needs not to count as 套话.
const SUBSTANCE_MIN: usize = 20;
/// The share of the title's bigrams a relevant reply repeats.
const RELEVANT: f32 = 0.4;
/// Below this share, with no question touched, a reply does not answer.
const UNRELATED: f32 = 0.15;

pub fn check(title: &str, appeal: &str, reply: &str, timing: Option<Timing>) -> Check {
    let body = substance(reply);
    let boilerplate = body.chars().count() < SUBSTANCE_MIN;

    // 相关性: the title's bigrams found in the reply; its words name what is missing.
    let key = words(title);
    let found = key.iter().filter(|w| reply.contains(w.as_str())).count();
    let title_grams = grams(title);
    let coverage = if title_grams.is_empty() {
        1.0
    } else {
        title_grams
            .iter()
            .filter(|g| reply.contains(g.as_str()))
            .count() as f32
            / title_grams.len() as f32
    };
    // The appeal's own words count too: a reply may name the matter as the appeal does
    // rather than as its title does.
    let lead: String = appeal.chars().take(300).collect();
    let body_words: Vec<String> = words(&lead).into_iter().take(12).collect();
    let body_cov = if body_words.is_empty() {
        0.0
    } else {
        body_words
            .iter()
            .filter(|w| reply.contains(w.as_str()))
            .count() as f32
            / body_words.len() as f32
    };
    let coverage = coverage.max(body_cov);
    let asked = questions(appeal);
    let touched = asked
        .iter()
        .filter(|q| {
            let w = words(q);
            w.is_empty() || w.iter().any(|x| reply.contains(x.as_str()))
        })
        .count();
    let q_ratio = if asked.is_empty() {
        1.0
    } else {
        touched as f32 / asked.len() as f32
    };
    let relevance_pts = 35.0 * (0.7 * (coverage / RELEVANT).min(1.0) + 0.3 * q_ratio);
    let missing: Vec<&String> = key
        .iter()
        .filter(|w| !reply.contains(w.as_str()))
        .take(4)
        .collect();
    let relevance = Item {
        name: "相关性",
        pass: coverage >= RELEVANT && (asked.is_empty() || touched > 0),
        reason: {
            let mut r = format!(
                "标题要点 {} 个，答复涉及 {found} 个（字面重合 {:.0}%）",
                key.len(),
                100.0 * coverage
            );
            if !missing.is_empty() {
                let m: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                r.push_str(&format!("（未涉及：{}）", m.join("、")));
            }
            if !asked.is_empty() {
                r.push_str(&format!(
                    "；留言提问 {} 处，答复涉及 {touched} 处",
                    asked.len()
                ));
            }
            r
        },
    };

    // 完整性
    let p = parts(reply, &body);
    let have = p.iter().filter(|x| x.1).count();
    let lacking: Vec<&str> = p.iter().filter(|x| !x.1).map(|x| x.0).collect();
    let completeness = Item {
        name: "完整性",
        pass: have >= 4,
        reason: if lacking.is_empty() {
            "称呼、查明、处理、依据、联系、落款齐全".to_string()
        } else {
            format!("具备 {have}/6 项，缺：{}", lacking.join("、"))
        },
    };

    // 及时性
    let (timely_pts, timeliness) = match timing {
        None => (
            15.0,
            Item {
                name: "及时性",
                pass: true,
                reason: "无转办记录（导入的历史留言），不计".to_string(),
            },
        ),
        Some(t) if t.late <= 0 => (
            15.0,
            Item {
                name: "及时性",
                pass: true,
                reason: format!("转办后 {} 个工作日答复，在期限内", t.used),
            },
        ),
        Some(t) => (
            (15 - 3 * t.late).max(0) as f32,
            Item {
                name: "及时性",
                pass: false,
                reason: format!("转办后 {} 个工作日答复，超期 {} 个工作日", t.used, t.late),
            },
        ),
    };

    // 套话
    let forwarded = has_any(reply, &["转交", "已转", "转至"]);
    let boiler = Item {
        name: "套话",
        pass: !boilerplate,
        reason: if !boilerplate {
            format!(
                "去掉问候、致谢、收悉等套话后有 {} 字实质内容",
                body.chars().count()
            )
        } else if forwarded {
            "只说明已转交办理，没有答复所问".to_string()
        } else {
            "只表示已收悉或致谢，没有答复所问".to_string()
        },
    };

    let mut score = relevance_pts + 35.0 * have as f32 / 6.0 + timely_pts;
    if boilerplate {
        score = score.min(20.0);
    } else {
        score += 15.0;
    }
    let unrelated = coverage < UNRELATED && touched == 0;
    let answers = !(boilerplate || unrelated);
    Check {
        items: vec![relevance, completeness, timeliness, boiler],
        score: score.round().clamp(0.0, 100.0) as u8,
        boilerplate,
        answers,
    }
}

/// A hand label of a reply (tests/data/reply_labels.csv).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// 答复完整
    Good,
    /// 需改进
    NeedsWork,
    /// 不答所问
    NoAnswer,
}

impl Label {
    pub fn parse(s: &str) -> Option<Label> {
        match s.trim() {
            "答复完整" => Some(Label::Good),
            "需改进" => Some(Label::NeedsWork),
            "不答所问" => Some(Label::NoAnswer),
            _ => None,
        }
    }
}

/// Figures over many checked replies, and the agreement with hand labels where given:
/// a plain-text report (the CLI prints it).
pub fn report(checked: &[(String, Check)], labels: &[(String, Label)]) -> String {
    let n = checked.len().max(1) as f64;
    let pct = |k: usize| format!("{k}（{:.1}%）", 100.0 * k as f64 / n);
    let mut out = format!("答复 {} 条\n\n得分分布：\n", checked.len());
    for lo in (0..100).step_by(10) {
        let hi = if lo == 90 { 100 } else { lo + 9 };
        let k = checked
            .iter()
            .filter(|(_, c)| (lo..=hi).contains(&(c.score as usize)))
            .count();
        out.push_str(&format!("  {lo:>3}–{hi:<3} {}\n", pct(k)));
    }
    let mut scores: Vec<u8> = checked.iter().map(|(_, c)| c.score).collect();
    scores.sort_unstable();
    if let Some(m) = scores.get(scores.len() / 2) {
        out.push_str(&format!("  中位数 {m}\n"));
    }
    out.push_str("\n提示（不通过）：\n");
    for (i, name) in ["相关性", "完整性", "及时性", "套话"].iter().enumerate() {
        let k = checked.iter().filter(|(_, c)| !c.items[i].pass).count();
        out.push_str(&format!("  {name} {}\n", pct(k)));
    }
    let no = checked.iter().filter(|(_, c)| !c.answers).count();
    out.push_str(&format!("  判为不答所问 {}\n", pct(no)));
    let pairs: Vec<(Label, bool)> = labels
        .iter()
        .filter_map(|(id, l)| {
            checked
                .iter()
                .find(|(cid, _)| cid == id)
                .map(|(_, c)| (*l, c.answers))
        })
        .collect();
    if !pairs.is_empty() {
        let count =
            |l: Label, answers: bool| pairs.iter().filter(|p| p.0 == l && p.1 == answers).count();
        let (g_yes, g_no) = (count(Label::Good, true), count(Label::Good, false));
        let (d_yes, d_no) = (count(Label::NoAnswer, true), count(Label::NoAnswer, false));
        let (w_yes, w_no) = (
            count(Label::NeedsWork, true),
            count(Label::NeedsWork, false),
        );
        let both = g_yes + g_no + d_yes + d_no;
        out.push_str(&format!(
            "\n与人工评定对照（{} 条已评定）：\n  人工\\检查      判为答复  判为不答所问\n  答复完整     {g_yes:>8}  {g_no:>12}\n  需改进       {w_yes:>8}  {w_no:>12}\n  不答所问     {d_yes:>8}  {d_no:>12}\n",
            pairs.len()
        ));
        out.push_str(&format!(
            "  “不答所问”与“答复完整”的区分一致率 {:.1}%（{} / {both}）\n",
            100.0 * (g_yes + d_no) as f64 / both.max(1) as f64,
            g_yes + d_no
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acknowledgement_is_boilerplate_and_does_not_answer() {
        let c = check(
            "小区门口路灯不亮",
            "路灯坏了一个月，什么时候能修好？",
            "网友：您好！您的留言已收悉，已转交相关部门调查处理。感谢您的留言！",
            None,
        );
        assert!(c.boilerplate && !c.answers);
        assert!(c.score <= 20, "{}", c.score);
        assert!(c.items[3].reason.contains("转交"));
        assert!(c.quoted().contains("套话"));
    }

    #[test]
    fn a_full_reply_passes_every_item() {
        let c = check(
            "小区门口路灯不亮",
            "小区门口的路灯坏了一个月，晚上很黑，什么时候能修好？",
            "网友：您好！经现场核实，小区门口路灯因线路老化损坏。根据《城市照明管理规定》，\
             我局已于5月6日更换线路，路灯已恢复照明。如有疑问请致电0851-3220000。\
             市城市管理局 2026年5月7日",
            Some(Timing { used: 4, late: 0 }),
        );
        assert!(c.answers && !c.boilerplate, "{c:?}");
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        assert!(c.score >= 90, "{}", c.score);
    }

    #[test]
    fn an_off_topic_late_reply_is_flagged() {
        let c = check(
            "学校乱收补课费",
            "学校强制收取补课费每人八百元，是否合规？",
            "网友：您好！关于道路施工的问题，我局已安排施工单位加快进度，预计下月完工，\
             届时将恢复通行，给您带来不便敬请谅解。2026年3月2日",
            Some(Timing { used: 20, late: 5 }),
        );
        assert!(!c.answers, "{c:?}");
        assert!(!c.items[0].pass && !c.items[2].pass);
        assert!(c.items[2].reason.contains("超期 5"));
    }

    #[test]
    fn questions_are_found() {
        let q = questions("我家门口在修路。请问什么时候完工？噪音能否在夜间停止");
        assert_eq!(q.len(), 2, "{q:?}");
    }
}
