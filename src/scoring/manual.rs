//! Manual score entries (表彰, 信息采用, 低级错误 …) as the centre types them: the item's
//! configured points per occurrence times the count (the year's cap applies when scores
//! are computed), and evidence — an attached file or the number of the document the
//! entry rests on. Pure: no SQL, no clock.

use chrono::{Datelike, NaiveDate};

use crate::forms::FieldErrors;
use crate::scoring::{points_text, Item, Rules};

/// At most this many occurrences in one entry.
pub const MAX_COUNT: i32 = 50;

/// The entry form as typed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Typed<'a> {
    pub unit_id: &'a str,
    pub item: &'a str,
    pub count: &'a str,
    pub date: &'a str,
    pub reason: &'a str,
    pub evidence_ref: &'a str,
    /// Files attached (at most one is accepted).
    pub files: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Valid {
    pub unit_id: i32,
    pub item: Item,
    pub count: i32,
    /// Tenths of a point: the item's points × count.
    pub points: i64,
    pub date: NaiveDate,
    pub reason: String,
    pub evidence_ref: Option<String>,
}

/// Check an entry for `year` against the year's rules and the assessed units.
pub fn check(
    rules: &Rules,
    assessed: &[i32],
    year: i32,
    today: NaiveDate,
    t: &Typed,
) -> Result<Valid, FieldErrors> {
    let mut e = FieldErrors::default();
    let unit_id = t
        .unit_id
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|id| assessed.contains(id));
    if unit_id.is_none() {
        e.add("unit_id", "请选择被考评单位。");
    }
    let item = rules.item(t.item.trim()).filter(|i| !i.auto).cloned();
    if item.is_none() {
        e.add("item", "请选择加减分项目（自动计算的项目无需录入）。");
    }
    let count = t
        .count
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|n| (1..=MAX_COUNT).contains(n));
    if count.is_none() {
        e.add(
            "count",
            &format!("次数应为 1–{MAX_COUNT} 之间的整数（分值按项目的每次分值计算）。"),
        );
    }
    let date = NaiveDate::parse_from_str(t.date.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| d.year() == year && *d <= today);
    if date.is_none() {
        e.add("date", &format!("日期应在 {year} 年内且不晚于今天。"));
    }
    let reason = t.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 1000 {
        e.add(
            "reason",
            "请填写事由（不超过 1000 字），写明具体事实和依据。",
        );
    }
    let evidence_ref = t.evidence_ref.trim();
    if evidence_ref.chars().count() > 64 {
        e.add("evidence_ref", "依据文号不超过 64 个字。");
    } else if evidence_ref.is_empty() && t.files == 0 {
        e.add(
            "evidence_ref",
            "请上传证明材料，或填写所依据文件的文号（如表彰文件、通报的文号）。",
        );
    }
    if t.files > 1 {
        e.add("files", "证明材料只能上传 1 个文件（可合并为一个 PDF）。");
    }
    match (unit_id, item, count, date) {
        (Some(unit_id), Some(item), Some(count), Some(date)) if e.is_empty() => Ok(Valid {
            unit_id,
            points: item.each * count as i64,
            item,
            count,
            date,
            reason,
            evidence_ref: Some(evidence_ref.to_string()).filter(|s| !s.is_empty()),
        }),
        _ => Err(e),
    }
}

/// How an item is offered on the form: "扣分·低级错误（每次 1 分，全年最多 10 分）".
pub fn offer(item: &Item) -> String {
    format!(
        "{}·{}（每次 {} 分，全年最多 {} 分）",
        if item.bonus { "加分" } else { "扣分" },
        item.name,
        points_text(item.each),
        points_text(item.cap)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn typed<'a>(item: &'a str, count: &'a str, evidence: &'a str, files: usize) -> Typed<'a> {
        Typed {
            unit_id: "7",
            item,
            count,
            date: "2026-11-20",
            reason: "答复中把反映人姓名写错",
            evidence_ref: evidence,
            files,
        }
    }

    fn run(t: &Typed) -> Result<Valid, FieldErrors> {
        check(&Rules::default(), &[7, 8], 2026, day("2026-11-30"), t)
    }

    #[test]
    fn points_are_the_items_points_times_the_count() {
        let v = run(&typed("D11", "3", "安社督〔2026〕3号", 0)).expect("valid");
        assert_eq!(v.points, 30, "3 × 1 point, in tenths");
        assert_eq!(v.evidence_ref.as_deref(), Some("安社督〔2026〕3号"));
        let v = run(&typed("B02", "1", "", 1)).expect("a file is evidence too");
        assert_eq!(v.points, 20);
        assert_eq!(v.evidence_ref, None);
    }

    #[test]
    fn evidence_counts_and_items_are_required() {
        let e = run(&typed("D11", "1", "", 0)).expect_err("no evidence");
        assert!(e.get("evidence_ref").is_some());
        for bad in ["0", "5.5", "51", "", "两次"] {
            let e = run(&typed("D11", bad, "x", 0)).expect_err(bad);
            assert!(e.get("count").is_some(), "{bad}");
        }
        assert!(run(&typed("D02", "1", "x", 0)).is_err(), "automatic item");
        assert!(run(&typed("D11", "1", "x", 2)).is_err(), "two files");
        let mut t = typed("D11", "1", "x", 0);
        t.unit_id = "9";
        assert!(run(&t).is_err(), "not an assessed unit");
        t.unit_id = "7";
        t.date = "2026-12-01";
        assert!(run(&t).is_err(), "after today");
    }

    #[test]
    fn offers_name_the_points_and_the_cap() {
        let rules = Rules::default();
        let d11 = rules.item("D11").expect("D11");
        assert_eq!(offer(d11), "扣分·低级错误（每次 1 分，全年最多 10 分）");
    }
}
