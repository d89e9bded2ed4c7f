//! A year's holidays from the text of the 国务院办公厅 notice, pasted as published: one
//! paragraph per holiday, e.g.
//!
//! `二、春节：2月15日（周日）至23日（周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。`
//!
//! Every date before 放假 in a sentence (a day, or a range "至") is a day off; every date
//! in a sentence ending in 上班 is a 调休 working day. Pure: the page previews every day
//! before anything is saved.

use chrono::NaiveDate;

/// One day the notice sets: (date, holiday name, true = 放假 / false = 调休上班).
pub type Day = (NaiveDate, String, bool);

/// A date as written in the notice: `2027年1月1日`, `1月1日`, or `3日` (the month of the
/// date before it).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Written {
    year: Option<i32>,
    month: Option<u32>,
    day: u32,
    /// Joined to the previous date by 至/到/-/— (a range).
    range: bool,
}

/// The dates of one sentence, in order.
fn dates(sentence: &str) -> Vec<Written> {
    let chars: Vec<char> = sentence.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut pending: Vec<(u32, char)> = Vec::new();
    let mut range_next = false;
    while i < chars.len() {
        let c = chars[i];
        if let Some(d) = c.to_digit(10) {
            let mut n = d;
            i += 1;
            while i < chars.len() {
                match chars[i].to_digit(10) {
                    Some(d) => {
                        n = n * 10 + d;
                        i += 1;
                    }
                    None => break,
                }
            }
            let unit = chars.get(i).copied().unwrap_or(' ');
            if matches!(unit, '年' | '月' | '日') {
                pending.push((n, unit));
                i += 1;
                if unit == '日' {
                    let year = pending.iter().find(|p| p.1 == '年').map(|p| p.0 as i32);
                    let month = pending.iter().find(|p| p.1 == '月').map(|p| p.0);
                    out.push(Written {
                        year,
                        month,
                        day: n,
                        range: range_next,
                    });
                    pending.clear();
                    range_next = false;
                }
            } else {
                pending.clear();
            }
            continue;
        }
        if matches!(c, '至' | '到' | '—' | '－' | '-' | '~' | '～') && !out.is_empty() {
            range_next = true;
        } else if matches!(c, '、' | '，' | ',' | '和' | '及') {
            range_next = false;
        }
        i += 1;
    }
    out
}

/// The holiday's name: the paragraph's words before its colon, without "一、".
fn name_of(paragraph: &str) -> Option<String> {
    let (head, _) = paragraph.split_once(['：', ':'])?;
    let name: String = head
        .trim()
        .trim_start_matches(|c: char| {
            "一二三四五六七八九十0123456789".contains(c) || matches!(c, '、' | '.' | '．' | ' ')
        })
        .trim()
        .to_string();
    (!name.is_empty() && name.chars().count() <= 20).then_some(name)
}

/// A calendar as JSON, the shape the shipped calendars use:
/// `[{"date": "2027-01-01", "name": "元旦", "is_off_day": true}, …]`.
#[derive(serde::Deserialize)]
struct JsonDay {
    date: NaiveDate,
    name: String,
    is_off_day: bool,
}

fn parse_json(year: i32, text: &str) -> Result<Vec<Day>, Vec<String>> {
    let list: Vec<JsonDay> = serde_json::from_str(text).map_err(|e| {
        vec![format!(
            "JSON 格式有误（第 {} 行第 {} 列）：应为 [{{\"date\": \"{year}-01-01\", \"name\": \"元旦\", \"is_off_day\": true}}, …]。",
            e.line(),
            e.column()
        )]
    })?;
    let mut problems = Vec::new();
    let mut days = Vec::new();
    for d in list {
        let name = d.name.trim().to_string();
        if chrono::Datelike::year(&d.date) != year {
            problems.push(format!("{}：不在 {year} 年。", d.date));
        } else if name.is_empty() || name.chars().count() > 20 {
            problems.push(format!("{}：名称应为 1–20 个字。", d.date));
        } else {
            days.push((d.date, name, d.is_off_day));
        }
    }
    days.sort_by_key(|(d, _, _)| *d);
    days.dedup_by_key(|(d, _, _)| *d);
    match (problems.is_empty(), days.is_empty()) {
        (true, false) => Ok(days),
        (true, true) => Err(vec!["JSON 中没有日期。".to_string()]),
        _ => Err(problems),
    }
}

/// The days the notice (or a JSON calendar) sets for `year`, in date order, or the lines
/// it could not read.
pub fn parse(year: i32, text: &str) -> Result<Vec<Day>, Vec<String>> {
    if text.trim_start().starts_with('[') {
        return parse_json(year, text);
    }
    let mut days: Vec<Day> = Vec::new();
    let mut problems = Vec::new();
    for paragraph in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some(name) = name_of(paragraph) else {
            // Preamble and closing lines of the notice carry no dates to set.
            if !dates(paragraph).is_empty() && paragraph.contains("放假") {
                problems.push(format!(
                    "“{paragraph}”：没有找到节日名称（应如“春节：…”）。"
                ));
            }
            continue;
        };
        let body = paragraph
            .split_once(['：', ':'])
            .map(|(_, b)| b)
            .unwrap_or("");
        let mut found = false;
        for sentence in body.split(['。', '；', ';']) {
            let off = if sentence.contains("上班") {
                false
            } else if sentence.contains("放假") || sentence.contains("休息") {
                true
            } else {
                continue;
            };
            let mut month: Option<u32> = None;
            let mut previous: Option<NaiveDate> = None;
            for w in dates(sentence) {
                let y = w.year.unwrap_or(year);
                let m = w.month.or(month);
                month = m;
                let Some(date) = m.and_then(|m| NaiveDate::from_ymd_opt(y, m, w.day)) else {
                    problems.push(format!("“{paragraph}”：日期无法识别。"));
                    continue;
                };
                match previous.filter(|_| w.range) {
                    Some(start) if start < date && (date - start).num_days() <= 31 => {
                        let mut d = start;
                        while d < date {
                            d = d.succ_opt().unwrap_or(date);
                            days.push((d, name.clone(), off));
                        }
                    }
                    Some(_) => problems.push(format!("“{paragraph}”：日期范围有误。")),
                    None => days.push((date, name.clone(), off)),
                }
                previous = Some(date);
                found = true;
            }
        }
        if !found {
            problems.push(format!("“{paragraph}”：没有找到放假或上班的日期。"));
        }
    }
    if days
        .iter()
        .any(|(d, _, _)| chrono::Datelike::year(d) != year)
    {
        // 元旦 of the next year may be announced with this one; keep only this year's.
        days.retain(|(d, _, _)| chrono::Datelike::year(d) == year);
    }
    days.sort_by_key(|(d, _, _)| *d);
    days.dedup_by_key(|(d, _, _)| *d);
    if !problems.is_empty() {
        return Err(problems);
    }
    if days.is_empty() {
        return Err(vec![
            "没有找到任何日期。请粘贴通知中各节日的段落，如“春节：2月15日至23日放假调休，共9天。2月14日（周六）上班。”"
                .to_string(),
        ]);
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    /// Written in the notice's style for a made-up year, not copied from a notice.
    const SAMPLE: &str = "一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月6日（周六）至14日（周日）放假调休，共9天。2月20日（周六）上班。
三、劳动节：4月30日（周五）至5月4日（周二）放假调休，共5天。4月25日（周日）、5月8日（周六）上班。

  各地区、各部门要妥善安排好值班和安全、保卫等工作。";

    #[test]
    fn a_notice_gives_every_day_off_and_every_working_weekend() {
        let days = parse(2027, SAMPLE).expect("parsed");
        let off = |s: &str| {
            days.iter()
                .find(|x| x.0 == d(s))
                .map(|x| (x.1.as_str(), x.2))
        };
        assert_eq!(off("2027-01-01"), Some(("元旦", true)));
        assert_eq!(off("2027-01-03"), Some(("元旦", true)));
        assert_eq!(off("2027-02-06"), Some(("春节", true)));
        assert_eq!(off("2027-02-14"), Some(("春节", true)));
        assert_eq!(off("2027-02-20"), Some(("春节", false)));
        assert_eq!(off("2027-04-30"), Some(("劳动节", true)));
        assert_eq!(
            off("2027-05-04"),
            Some(("劳动节", true)),
            "a range over a month end"
        );
        assert_eq!(off("2027-04-25"), Some(("劳动节", false)));
        assert_eq!(off("2027-05-08"), Some(("劳动节", false)));
        assert_eq!(days.len(), 3 + 9 + 1 + 5 + 2);
    }

    #[test]
    fn a_json_calendar_is_read_too() {
        let json = r#"[{"date": "2027-02-20", "name": "春节", "is_off_day": false},
                       {"date": "2027-01-01", "name": "元旦", "is_off_day": true}]"#;
        let days = parse(2027, json).expect("json");
        assert_eq!(days[0], (d("2027-01-01"), "元旦".to_string(), true));
        assert!(!days[1].2, "调休上班");
        assert!(parse(2028, json).is_err(), "another year's days");
        assert!(parse(2027, "[{\"date\": 1}]").is_err());
    }

    #[test]
    fn unreadable_lines_are_named() {
        assert!(parse(2027, "春节：放假").is_err());
        assert!(parse(2027, "").is_err());
        let e = parse(2027, "春节：2月30日放假。").expect_err("no 30 February");
        assert!(e[0].contains("日期无法识别"));
        let e = parse(2027, "春节：2月14日至2月6日放假。").expect_err("backwards");
        assert!(e[0].contains("范围"));
    }
}
