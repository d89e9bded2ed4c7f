//! Roles (DESIGN §3) and unit kinds, with the pure rule of which role may sit in which unit.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// 市社情民意研究中心 operator.
    CityOperator,
    /// City leader, read only.
    CityLeader,
    /// County/district (or functional zone) office operator.
    CountyOperator,
    /// City department or county sub-unit operator.
    DeptOperator,
    /// 系统管理员: units, users, configuration.
    SysAdmin,
    /// 安全管理员: password policy, lockout, sessions.
    SecAdmin,
    /// 安全审计员: reads the audit log.
    AuditAdmin,
}

pub const ALL_ROLES: [Role; 7] = [
    Role::CityOperator,
    Role::CityLeader,
    Role::CountyOperator,
    Role::DeptOperator,
    Role::SysAdmin,
    Role::SecAdmin,
    Role::AuditAdmin,
];

impl Role {
    /// The three administrators (三员: 系统管理员, 安全管理员, 安全审计员).
    pub fn is_administrator(self) -> bool {
        matches!(self, Role::SysAdmin | Role::SecAdmin | Role::AuditAdmin)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CityOperator => "city_operator",
            Role::CityLeader => "city_leader",
            Role::CountyOperator => "county_operator",
            Role::DeptOperator => "dept_operator",
            Role::SysAdmin => "sys_admin",
            Role::SecAdmin => "sec_admin",
            Role::AuditAdmin => "audit_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        ALL_ROLES.iter().copied().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::CityOperator => "市中心办理员",
            Role::CityLeader => "市领导（只读）",
            Role::CountyOperator => "县区办理员",
            Role::DeptOperator => "部门办理员",
            Role::SysAdmin => "系统管理员",
            Role::SecAdmin => "安全管理员",
            Role::AuditAdmin => "安全审计员",
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::SysAdmin | Role::SecAdmin | Role::AuditAdmin)
    }

    /// The unit kinds a user of this role may belong to.
    pub fn allowed_unit_kinds(self) -> &'static [UnitKind] {
        match self {
            Role::CityOperator => &[UnitKind::Centre],
            Role::CityLeader => &[UnitKind::Leadership, UnitKind::Centre],
            Role::CountyOperator => &[UnitKind::County, UnitKind::Zone],
            Role::DeptOperator => &[UnitKind::Department, UnitKind::SubUnit],
            Role::SysAdmin | Role::SecAdmin | Role::AuditAdmin => &[UnitKind::Centre],
        }
    }

    pub fn fits_unit(self, kind: UnitKind) -> bool {
        self.allowed_unit_kinds().contains(&kind)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnitKind {
    /// 市社情民意研究中心 — the root of the tree.
    Centre,
    /// 市领导.
    Leadership,
    /// 县（区）.
    County,
    /// 功能区 (经开区, 黄果树旅游区).
    Zone,
    /// 市直部门.
    Department,
    /// 县直部门、乡镇（街道）.
    SubUnit,
}

pub const ALL_UNIT_KINDS: [UnitKind; 6] = [
    UnitKind::Centre,
    UnitKind::Leadership,
    UnitKind::County,
    UnitKind::Zone,
    UnitKind::Department,
    UnitKind::SubUnit,
];

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Centre => "centre",
            UnitKind::Leadership => "leadership",
            UnitKind::County => "county",
            UnitKind::Zone => "zone",
            UnitKind::Department => "department",
            UnitKind::SubUnit => "subunit",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        ALL_UNIT_KINDS.iter().copied().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            UnitKind::Centre => "市社情民意研究中心",
            UnitKind::Leadership => "市领导",
            UnitKind::County => "县（区）",
            UnitKind::Zone => "功能区",
            UnitKind::Department => "市直部门",
            UnitKind::SubUnit => "县直部门/乡镇（街道）",
        }
    }

    /// Which kind of parent a unit of this kind must have (`None`: it is the root).
    pub fn allowed_parent_kinds(self) -> &'static [UnitKind] {
        match self {
            UnitKind::Centre => &[],
            UnitKind::Leadership | UnitKind::County | UnitKind::Zone | UnitKind::Department => {
                &[UnitKind::Centre]
            }
            UnitKind::SubUnit => &[UnitKind::County, UnitKind::Zone],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_and_kind_names_round_trip() {
        for r in ALL_ROLES {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for k in ALL_UNIT_KINDS {
            assert_eq!(UnitKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn roles_fit_only_their_units() {
        assert!(Role::CountyOperator.fits_unit(UnitKind::County));
        assert!(!Role::CountyOperator.fits_unit(UnitKind::Department));
        assert!(Role::DeptOperator.fits_unit(UnitKind::SubUnit));
        assert!(!Role::DeptOperator.fits_unit(UnitKind::Centre));
        assert!(Role::SysAdmin.fits_unit(UnitKind::Centre));
        assert!(!Role::CityOperator.fits_unit(UnitKind::County));
    }

    #[test]
    fn tree_shape() {
        assert!(UnitKind::Centre.allowed_parent_kinds().is_empty());
        assert_eq!(
            UnitKind::SubUnit.allowed_parent_kinds(),
            &[UnitKind::County, UnitKind::Zone]
        );
        assert_eq!(
            UnitKind::Department.allowed_parent_kinds(),
            &[UnitKind::Centre]
        );
    }
}
