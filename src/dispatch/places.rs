//! Place names from the unit tree: a message that names a county/district, a functional
//! zone or one of the townships goes to that place's unit. Pure: built from the units.

use crate::auth::roles::UnitKind;
use crate::units::Unit;

/// One name to look for, and the unit (a county, zone or township) it points to.
struct Needle {
    text: String,
    unit: i32,
}

pub struct Gazetteer {
    /// Longest first, so "南街街道" is found before a shorter name inside it.
    needles: Vec<Needle>,
}

/// A place the text names: the unit and the name found (the reason shown).
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub unit: i32,
    pub name: String,
    pub hits: usize,
}

const CITY: &str = "安顺市";

fn base(name: &str, suffixes: &[&str]) -> Option<String> {
    suffixes
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|b| b.chars().count() >= 2)
        .map(str::to_string)
}

impl Gazetteer {
    pub fn new(units: &[Unit]) -> Gazetteer {
        let mut needles = Vec::new();
        let mut add = |text: String, unit: i32| {
            if text.chars().count() >= 2 && !needles.iter().any(|n: &Needle| n.text == text) {
                needles.push(Needle { text, unit });
            }
        };
        for u in units.iter().filter(|u| u.active) {
            let local = u.name.strip_prefix(CITY).unwrap_or(&u.name).to_string();
            match u.kind() {
                Some(UnitKind::County) => {
                    add(local, u.id);
                    add(u.short_name.clone(), u.id);
                    if let Some(b) = base(&u.short_name, &["县", "区"]) {
                        add(b, u.id);
                    }
                }
                Some(UnitKind::Zone) => {
                    add(local, u.id);
                    add(u.short_name.clone(), u.id);
                }
                // Townships (乡镇、街道) under a county; county departments are not places.
                Some(UnitKind::SubUnit)
                    if ["镇", "乡", "街道"]
                        .iter()
                        .any(|s| u.short_name.ends_with(s)) =>
                {
                    add(u.short_name.clone(), u.id);
                    if let Some(b) = base(&u.short_name, &["镇", "乡"]) {
                        add(b, u.id);
                    }
                }
                _ => {}
            }
        }
        needles.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then(a.text.cmp(&b.text)));
        Gazetteer { needles }
    }

    /// The places named in the text, most often named first. A name inside a longer one
    /// already found ("平坝" inside "平坝区") is not counted again.
    pub fn find(&self, text: &str) -> Vec<Named> {
        let mut taken = vec![false; text.len()];
        let mut out: Vec<Named> = Vec::new();
        for n in &self.needles {
            for (at, _) in text.match_indices(n.text.as_str()) {
                let span = at..at + n.text.len();
                if taken[span.clone()].iter().any(|t| *t) {
                    continue;
                }
                taken[span].iter_mut().for_each(|t| *t = true);
                match out.iter_mut().find(|x| x.unit == n.unit) {
                    Some(x) => x.hits += 1,
                    None => out.push(Named {
                        unit: n.unit,
                        name: n.text.clone(),
                        hits: 1,
                    }),
                }
            }
        }
        out.sort_by_key(|x| std::cmp::Reverse(x.hits));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: i32, parent: Option<i32>, name: &str, short: &str, kind: &str) -> Unit {
        Unit {
            id,
            parent_id: parent,
            name: name.into(),
            short_name: short.into(),
            kind: kind.into(),
            code: None,
            sort_order: 0,
            active: true,
            created_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn finds_counties_townships_and_bases() {
        let units = vec![
            unit(2, Some(1), "安顺市平坝区", "平坝区", "county"),
            unit(3, Some(2), "平坝区天龙镇", "天龙镇", "subunit"),
            unit(4, Some(1), "安顺市镇宁布依族苗族自治县", "镇宁县", "county"),
            unit(5, Some(2), "平坝区教育局", "教育局", "subunit"),
        ];
        let g = Gazetteer::new(&units);
        let f = g.find("天龙镇的学校，天龙村民反映");
        assert_eq!(f[0].unit, 3);
        assert_eq!(f[0].hits, 2);
        assert_eq!(
            g.find("平坝区的路")[0].hits,
            1,
            "平坝 inside 平坝区 counts once"
        );
        assert_eq!(g.find("镇宁布依族苗族自治县")[0].unit, 4);
        assert!(
            g.find("教育局不作为").is_empty(),
            "a county department is not a place"
        );
    }
}
