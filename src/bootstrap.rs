//! Start-up preparation of the database: migrations, the Anshun units, the first
//! administrator (or, in demo mode, the demo accounts) and the session cookie key.

use diesel::Connection;
use rand::RngCore;

use crate::audit::Actor;
use crate::auth::password;
use crate::auth::roles::Role;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::units;
use crate::users::{self, ValidUser};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "Anshun@2026";

/// Demo accounts: username, display name, role, unit (full name).
pub const DEMO_ACCOUNTS: &[(&str, &str, Role, &str)] = &[
    (
        "center",
        "中心办理员",
        Role::CityOperator,
        "安顺市社情民意研究中心",
    ),
    ("leader", "市领导", Role::CityLeader, "安顺市领导"),
    (
        "xixiu",
        "西秀区办理员",
        Role::CountyOperator,
        "安顺市西秀区",
    ),
    (
        "pingba",
        "平坝区办理员",
        Role::CountyOperator,
        "安顺市平坝区",
    ),
    (
        "zhujian",
        "市住建局办理员",
        Role::DeptOperator,
        "安顺市住房和城乡建设局",
    ),
    (
        "renshe",
        "市人社局办理员",
        Role::DeptOperator,
        "安顺市人力资源和社会保障局",
    ),
    (
        "nanjie",
        "南街街道办理员",
        Role::DeptOperator,
        "西秀区南街街道",
    ),
    (
        "sysadmin",
        "系统管理员",
        Role::SysAdmin,
        "安顺市社情民意研究中心",
    ),
    (
        "secadmin",
        "安全管理员",
        Role::SecAdmin,
        "安顺市社情民意研究中心",
    ),
    (
        "auditor",
        "安全审计员",
        Role::AuditAdmin,
        "安顺市社情民意研究中心",
    ),
];

/// Beyond this many messages missing from the search index, it is rebuilt in the
/// background instead of at start-up.
pub const BACKGROUND_REINDEX: i64 = 20_000;

pub struct Prepared {
    /// Set when this start created the first administrator: print it once.
    pub initial_admin_password: Option<String>,
    /// Key that signs and encrypts the session cookie; shared by every instance.
    pub cookie_key: Vec<u8>,
}

const COOKIE_KEY_SETTING: &str = "session_cookie_key";

/// `demo`: seed the demo accounts (and, with `demo_messages`, the demo work orders)
/// into an empty database instead of creating the first administrator.
pub fn prepare(conn: &mut DbConn, demo: bool, demo_messages: bool) -> anyhow::Result<Prepared> {
    db::run_migrations(conn)?;
    let result = conn.transaction::<_, AppError, _>(|conn| {
        units::seed_if_empty(conn)?;
        crate::messages::config::seed_if_empty(conn)?;
        let all = units::all(conn)?;
        crate::dispatch::store::default_subjects(conn, &all)?;
        let initial_admin_password = if users::count(conn)? == 0 {
            if demo {
                seed_demo_accounts(conn)?;
                // The demo accounts can be tried at once; the security administrator
                // can require two factors on the 账户安全 page.
                crate::auth::totp::set_required_roles(conn, &[])?;
                if demo_messages {
                    crate::demo::seed(conn, crate::clock::china_today())?;
                }
                None
            } else {
                Some(create_first_admin(conn)?)
            }
        } else {
            None
        };
        // A few missing index entries are written now; many (an upgrade of a large site)
        // by a background job once the site is up (see startup).
        if crate::search::behind(conn)? <= BACKGROUND_REINDEX {
            crate::search::rebuild_if_needed(conn)?;
        }
        let cookie_key = match db::get_setting(conn, COOKIE_KEY_SETTING)? {
            Some(hexkey) => hex::decode(hexkey).map_err(AppError::internal)?,
            None => {
                let mut key = vec![0u8; 64];
                rand::rngs::OsRng.fill_bytes(&mut key);
                db::insert_setting(conn, COOKIE_KEY_SETTING, &hex::encode(&key))?;
                key
            }
        };
        Ok(Prepared {
            initial_admin_password,
            cookie_key,
        })
    });
    result.map_err(|e| anyhow::anyhow!("初始化数据库失败：{e}"))
}

/// After `prepare`, with the site's key ring entered: the guards checked (and put back,
/// or the start refused), a new key after a lost one recorded, messages written before
/// seals existed sealed, and the anchor raised to the signed state.
pub fn protect(
    conn: &mut DbConn,
    refuse: bool,
    loaded: &crate::archive::signing::Loaded,
    key_path: &std::path::Path,
) -> anyhow::Result<()> {
    use crate::archive::{guards, ledger, signing};
    let gone = guards::watch(conn, refuse)?;
    if refuse && !gone.is_empty() {
        anyhow::bail!(
            "数据库保护缺失：{}（LIUYAN_GUARDS=refuse，拒绝启动）",
            gone.iter().map(|g| g.what).collect::<Vec<_>>().join("、")
        );
    }
    if *loaded == signing::Loaded::Created {
        let ring = signing::current()?;
        if let Some(old) = ledger::other_key(conn, &ring.current().0)? {
            tracing::error!(
                file = %key_path.display(),
                "签名密钥文件缺失：已生成新密钥；此前的签名须导入原公钥后才能核验"
            );
            crate::audit::record(
                conn,
                &Actor::system(),
                "signing_key_new",
                &key_path.display().to_string(),
                crate::audit::FAILED,
                &format!(
                    "签名密钥文件缺失，已生成新密钥 {}；此前由密钥 {} 签署的封印在导入其公钥（liuyan keys trust）之前无法核验",
                    ring.current().0,
                    old
                ),
            )?;
        }
    }
    let sealed = ledger::backfill(conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    if sealed > 0 {
        crate::audit::record(
            conn,
            &Actor::system(),
            "seal_backfill",
            "签名封印",
            crate::audit::OK,
            &format!("为此前登记的 {sealed} 条留言补签了封印"),
        )?;
    }
    if let Some(s) = ledger::state(conn)? {
        ledger::raise_anchor(&ledger::anchor_path(key_path), s.gseq)?;
    }
    Ok(())
}

fn unit_id(conn: &mut DbConn, name: &str) -> Result<i32, AppError> {
    units::find_by_name(conn, name)?
        .map(|u| u.id)
        .ok_or_else(|| AppError::internal(format!("seed unit missing: {name}")))
}

fn create_first_admin(conn: &mut DbConn) -> Result<String, AppError> {
    let pw = password::generate();
    let hash = password::hash_now(&pw)?;
    let v = ValidUser {
        username: "admin".to_string(),
        display_name: "系统管理员".to_string(),
        unit_id: unit_id(conn, "安顺市社情民意研究中心")?,
        role: Role::SysAdmin,
    };
    users::create(conn, &v, &hash, true, &Actor::system())?;
    Ok(pw)
}

fn seed_demo_accounts(conn: &mut DbConn) -> Result<(), AppError> {
    let hash = password::hash_now(DEMO_PASSWORD)?;
    for (username, name, role, unit) in DEMO_ACCOUNTS {
        let v = ValidUser {
            username: username.to_string(),
            display_name: name.to_string(),
            unit_id: unit_id(conn, unit)?,
            role: *role,
        };
        users::create(conn, &v, &hash, false, &Actor::system())?;
    }
    Ok(())
}
