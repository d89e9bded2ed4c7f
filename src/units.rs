//! Units: the organisation tree, its validation rules, queries and the Anshun seed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;

use crate::audit::{self, Actor};
use crate::auth::roles::UnitKind;
use crate::db::schema::{units::dsl as u, users::dsl as us};
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::forms::FieldErrors;

#[derive(Queryable, Debug, Clone)]
pub struct Unit {
    pub id: i32,
    pub parent_id: Option<i32>,
    pub name: String,
    pub short_name: String,
    pub kind: String,
    pub code: Option<String>,
    pub sort_order: i32,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

impl Unit {
    pub fn kind(&self) -> Option<UnitKind> {
        UnitKind::parse(&self.kind)
    }

    pub fn kind_label(&self) -> &'static str {
        self.kind().map(|k| k.label()).unwrap_or("未知")
    }
}

pub fn all(conn: &mut DbConn) -> QueryResult<Vec<Unit>> {
    u::units.order((u::sort_order, u::id)).load(conn)
}

pub fn find(conn: &mut DbConn, id: i32) -> QueryResult<Option<Unit>> {
    u::units.find(id).first(conn).optional()
}

/// Find a unit by id, full name or short name (for the command line).
pub fn find_by_name(conn: &mut DbConn, key: &str) -> QueryResult<Option<Unit>> {
    if let Ok(id) = key.parse::<i32>() {
        return find(conn, id);
    }
    u::units
        .filter(u::name.eq(key).or(u::short_name.eq(key)))
        .order(u::id)
        .first(conn)
        .optional()
}

/// A unit with its depth in the tree, for indented lists and selects.
pub struct TreeRow<'a> {
    pub depth: usize,
    pub unit: &'a Unit,
}

impl TreeRow<'_> {
    /// Full-width spaces to indent the name in a `<select>` or table.
    pub fn indent(&self) -> String {
        "　".repeat(self.depth * 2)
    }
}

/// Order units depth-first (children after their parent, siblings by sort order).
pub fn tree(units: &[Unit]) -> Vec<TreeRow<'_>> {
    fn walk<'a>(units: &'a [Unit], parent: Option<i32>, depth: usize, out: &mut Vec<TreeRow<'a>>) {
        for unit in units.iter().filter(|x| x.parent_id == parent) {
            out.push(TreeRow { depth, unit });
            if depth < 8 {
                walk(units, Some(unit.id), depth + 1, out);
            }
        }
    }
    let mut out = Vec::with_capacity(units.len());
    walk(units, None, 0, &mut out);
    out
}

/// What a unit form submits. Every field is text, so a bad value can be shown back.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct UnitInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub short_name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub parent_id: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub sort_order: String,
}

/// A validated unit form.
#[derive(Debug)]
pub struct ValidUnit {
    pub name: String,
    pub short_name: String,
    pub kind: UnitKind,
    pub parent_id: Option<i32>,
    pub code: Option<String>,
    pub sort_order: i32,
}

/// Validate a unit form against the current tree (`editing`: the unit being edited).
pub fn validate(
    input: &UnitInput,
    units: &[Unit],
    editing: Option<i32>,
) -> Result<ValidUnit, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = input.name.trim().to_string();
    if name.is_empty() {
        errors.add("name", "请填写单位全称。");
    } else if name.chars().count() > 60 {
        errors.add("name", "单位全称不超过 60 个字。");
    } else if units
        .iter()
        .any(|x| x.name == name && Some(x.id) != editing)
    {
        errors.add("name", "已有同名单位，请核对。");
    }
    let short_name = match input.short_name.trim() {
        "" => name.clone(),
        s => s.to_string(),
    };
    if short_name.chars().count() > 30 {
        errors.add("short_name", "简称不超过 30 个字。");
    }
    let kind = UnitKind::parse(input.kind.trim());
    if kind.is_none() {
        errors.add("kind", "请选择单位类型。");
    }
    let parent_id = match input.parent_id.trim() {
        "" => None,
        s => match s.parse::<i32>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("parent_id", "上级单位无效。");
                None
            }
        },
    };
    if let Some(kind) = kind {
        let allowed = kind.allowed_parent_kinds();
        let parent = parent_id.and_then(|p| units.iter().find(|x| x.id == p));
        match (allowed.is_empty(), parent) {
            (true, _) => {
                let other_root = units
                    .iter()
                    .any(|x| x.kind() == Some(UnitKind::Centre) && Some(x.id) != editing);
                if other_root {
                    errors.add("kind", "系统中只能有一个市社情民意研究中心。");
                }
            }
            (false, None) => errors.add("parent_id", "请选择上级单位。"),
            (false, Some(p)) => {
                let ok = p.kind().map(|k| allowed.contains(&k)).unwrap_or(false);
                if !ok {
                    let names: Vec<&str> = allowed.iter().map(|k| k.label()).collect();
                    errors.add(
                        "parent_id",
                        &format!("{}的上级应为：{}。", kind.label(), names.join("或")),
                    );
                } else if Some(p.id) == editing || is_descendant(units, p.id, editing) {
                    errors.add("parent_id", "上级单位不能是本单位或其下级单位。");
                }
            }
        }
    }
    let code = match input.code.trim() {
        "" => None,
        s if s.len() <= 20 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Some(s.to_string())
        }
        _ => {
            errors.add("code", "单位代码只能包含字母、数字和“-”，不超过 20 位。");
            None
        }
    };
    let sort_order = match input.sort_order.trim() {
        "" => 0,
        s => s.parse::<i32>().unwrap_or_else(|_| {
            errors.add("sort_order", "排序号应为整数。");
            0
        }),
    };
    match (errors.is_empty(), kind) {
        (true, Some(kind)) => Ok(ValidUnit {
            name,
            short_name,
            kind,
            parent_id: if kind.allowed_parent_kinds().is_empty() {
                None
            } else {
                parent_id
            },
            code,
            sort_order,
        }),
        _ => Err(errors),
    }
}

/// Whether `candidate` lies below `ancestor` in the tree.
fn is_descendant(units: &[Unit], candidate: i32, ancestor: Option<i32>) -> bool {
    let Some(ancestor) = ancestor else {
        return false;
    };
    let mut current = units
        .iter()
        .find(|x| x.id == candidate)
        .and_then(|x| x.parent_id);
    let mut steps = 0;
    while let Some(id) = current {
        if id == ancestor {
            return true;
        }
        steps += 1;
        if steps > 16 {
            break;
        }
        current = units.iter().find(|x| x.id == id).and_then(|x| x.parent_id);
    }
    false
}

fn describe(v: &ValidUnit) -> String {
    format!("{}（{}）", v.name, v.kind.label())
}

pub fn create(conn: &mut DbConn, v: &ValidUnit, actor: &Actor) -> Result<i32, AppError> {
    conn.transaction(|conn| {
        let id = diesel::insert_into(u::units)
            .values((
                u::parent_id.eq(v.parent_id),
                u::name.eq(&v.name),
                u::short_name.eq(&v.short_name),
                u::kind.eq(v.kind.as_str()),
                u::code.eq(&v.code),
                u::sort_order.eq(v.sort_order),
                u::active.eq(true),
                u::created_at.eq(db::now()),
            ))
            .returning(u::id)
            .get_result::<i32>(conn)?;
        audit::record(
            conn,
            actor,
            "unit_create",
            &format!("单位#{id}"),
            audit::OK,
            &describe(v),
        )?;
        Ok(id)
    })
}

pub fn update(conn: &mut DbConn, id: i32, v: &ValidUnit, actor: &Actor) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let n = diesel::update(u::units.find(id))
            .set((
                u::parent_id.eq(v.parent_id),
                u::name.eq(&v.name),
                u::short_name.eq(&v.short_name),
                u::kind.eq(v.kind.as_str()),
                u::code.eq(&v.code),
                u::sort_order.eq(v.sort_order),
            ))
            .execute(conn)?;
        if n == 0 {
            return Err(AppError::NotFound);
        }
        audit::record(
            conn,
            actor,
            "unit_update",
            &format!("单位#{id}"),
            audit::OK,
            &describe(v),
        )?;
        Ok(())
    })
}

/// Enable or disable a unit. A unit with active users or active sub-units cannot be
/// disabled; the reason is returned for the page.
pub fn set_active(
    conn: &mut DbConn,
    id: i32,
    active: bool,
    actor: &Actor,
) -> Result<Result<(), String>, AppError> {
    conn.transaction(|conn| {
        let unit = find(conn, id)?.ok_or(AppError::NotFound)?;
        if !active {
            if unit.kind() == Some(UnitKind::Centre) {
                return Ok(Err("市社情民意研究中心不能停用。".to_string()));
            }
            let users = us::users
                .filter(us::unit_id.eq(id))
                .filter(us::active.eq(true))
                .count()
                .get_result::<i64>(conn)?;
            if users > 0 {
                return Ok(Err(format!(
                    "“{}”下仍有 {users} 个启用的用户，请先停用这些用户或调整其所属单位。",
                    unit.name
                )));
            }
            let children = u::units
                .filter(u::parent_id.eq(id))
                .filter(u::active.eq(true))
                .count()
                .get_result::<i64>(conn)?;
            if children > 0 {
                return Ok(Err(format!(
                    "“{}”下仍有 {children} 个启用的下级单位，请先停用下级单位。",
                    unit.name
                )));
            }
        } else if let Some(parent) = unit.parent_id {
            let parent_active = find(conn, parent)?.map(|p| p.active).unwrap_or(false);
            if !parent_active {
                return Ok(Err("上级单位已停用，请先启用上级单位。".to_string()));
            }
        }
        diesel::update(u::units.find(id))
            .set(u::active.eq(active))
            .execute(conn)?;
        let event = if active {
            "unit_enable"
        } else {
            "unit_disable"
        };
        audit::record(
            conn,
            actor,
            event,
            &format!("单位#{id}"),
            audit::OK,
            &unit.name,
        )?;
        Ok(Ok(()))
    })
}

#[derive(Deserialize)]
struct SeedFile {
    centre: SeedUnit,
    leadership: SeedUnit,
    counties: Vec<SeedCounty>,
    zones: Vec<SeedUnit>,
    departments: Vec<SeedUnit>,
}

#[derive(Deserialize)]
struct SeedUnit {
    name: String,
    short_name: String,
}

#[derive(Deserialize)]
struct SeedCounty {
    name: String,
    short_name: String,
    code: String,
    towns: Vec<SeedTown>,
}

#[derive(Deserialize)]
struct SeedTown {
    name: String,
    code: String,
}

/// The real Anshun unit list, shipped inside the binary (source: src/seed/SOURCE.md).
const SEED: &str = include_str!("seed/anshun_units.json");

/// Load the Anshun units into an empty `units` table. Returns how many were inserted.
pub fn seed_if_empty(conn: &mut DbConn) -> Result<usize, AppError> {
    conn.transaction(|conn| {
        let existing = u::units.count().get_result::<i64>(conn)?;
        if existing > 0 {
            return Ok(0);
        }
        let seed: SeedFile = serde_json::from_str(SEED).map_err(AppError::internal)?;
        let mut count = 0usize;
        let mut order = 0;
        let mut insert = |conn: &mut DbConn,
                          parent: Option<i32>,
                          name: &str,
                          short: &str,
                          kind: UnitKind,
                          code: Option<&str>|
         -> Result<i32, AppError> {
            order += 10;
            count += 1;
            Ok(diesel::insert_into(u::units)
                .values((
                    u::parent_id.eq(parent),
                    u::name.eq(name),
                    u::short_name.eq(short),
                    u::kind.eq(kind.as_str()),
                    u::code.eq(code),
                    u::sort_order.eq(order),
                    u::active.eq(true),
                    u::created_at.eq(db::now()),
                ))
                .returning(u::id)
                .get_result::<i32>(conn)?)
        };
        let centre = insert(
            conn,
            None,
            &seed.centre.name,
            &seed.centre.short_name,
            UnitKind::Centre,
            None,
        )?;
        insert(
            conn,
            Some(centre),
            &seed.leadership.name,
            &seed.leadership.short_name,
            UnitKind::Leadership,
            None,
        )?;
        for c in &seed.counties {
            let county = insert(
                conn,
                Some(centre),
                &c.name,
                &c.short_name,
                UnitKind::County,
                Some(&c.code),
            )?;
            for t in &c.towns {
                let full = format!("{}{}", c.short_name, t.name);
                insert(
                    conn,
                    Some(county),
                    &full,
                    &t.name,
                    UnitKind::SubUnit,
                    Some(&t.code),
                )?;
            }
        }
        for z in &seed.zones {
            insert(
                conn,
                Some(centre),
                &z.name,
                &z.short_name,
                UnitKind::Zone,
                None,
            )?;
        }
        for d in &seed.departments {
            insert(
                conn,
                Some(centre),
                &d.name,
                &d.short_name,
                UnitKind::Department,
                None,
            )?;
        }
        audit::record(
            conn,
            &Actor::system(),
            "seed",
            "单位",
            audit::OK,
            &format!("载入安顺市单位 {count} 个"),
        )?;
        Ok(count)
    })
}

/// Whether units of this kind are assessed each year (counties/districts, zones, city
/// departments) and so have a 量化考评 page.
pub fn is_assessed(kind: Option<crate::auth::roles::UnitKind>) -> bool {
    use crate::auth::roles::UnitKind;
    matches!(
        kind,
        Some(UnitKind::County | UnitKind::Zone | UnitKind::Department)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: i32, parent: Option<i32>, kind: UnitKind, name: &str) -> Unit {
        Unit {
            id,
            parent_id: parent,
            name: name.to_string(),
            short_name: name.to_string(),
            kind: kind.as_str().to_string(),
            code: None,
            sort_order: id,
            active: true,
            created_at: db::now(),
        }
    }

    fn sample() -> Vec<Unit> {
        vec![
            unit(1, None, UnitKind::Centre, "中心"),
            unit(2, Some(1), UnitKind::County, "西秀区"),
            unit(3, Some(2), UnitKind::SubUnit, "南街街道"),
            unit(4, Some(1), UnitKind::Department, "住建局"),
        ]
    }

    fn input(name: &str, kind: UnitKind, parent: &str) -> UnitInput {
        UnitInput {
            name: name.into(),
            kind: kind.as_str().into(),
            parent_id: parent.into(),
            ..Default::default()
        }
    }

    #[test]
    fn tree_is_depth_first() {
        let units = sample();
        let rows = tree(&units);
        let names: Vec<(usize, &str)> = rows
            .iter()
            .map(|r| (r.depth, r.unit.name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![(0, "中心"), (1, "西秀区"), (2, "南街街道"), (1, "住建局")]
        );
    }

    #[test]
    fn validation_rules() {
        let units = sample();
        assert!(validate(&input("东街街道", UnitKind::SubUnit, "2"), &units, None).is_ok());
        let e = validate(&input("东街街道", UnitKind::SubUnit, "4"), &units, None)
            .expect_err("bad parent");
        assert!(e.get("parent_id").is_some());
        let e = validate(&input("西秀区", UnitKind::County, "1"), &units, None).expect_err("dup");
        assert!(e.get("name").is_some());
        assert!(validate(&input("西秀区", UnitKind::County, "1"), &units, Some(2)).is_ok());
        let e =
            validate(&input("中心二", UnitKind::Centre, ""), &units, None).expect_err("two roots");
        assert!(e.get("kind").is_some());
        let e = validate(&input("", UnitKind::County, "1"), &units, None).expect_err("empty");
        assert!(e.get("name").is_some());
    }

    #[test]
    fn seed_parses() {
        let seed: SeedFile = serde_json::from_str(SEED).expect("seed json");
        assert_eq!(seed.counties.len(), 6);
        assert!(seed
            .counties
            .iter()
            .any(|c| c.short_name == "西秀区" && c.code == "520402"));
        assert!(seed
            .departments
            .iter()
            .any(|d| d.short_name == "市住房和城乡建设局"));
        assert!(seed
            .departments
            .iter()
            .any(|d| d.short_name == "市人力资源和社会保障局"));
        let towns: usize = seed.counties.iter().map(|c| c.towns.len()).sum();
        assert_eq!(towns, 92);
    }
}
