//! The request context of a logged-in user (`Ctx`), and the page chrome (`Layout`) every
//! template receives: product name, demo banner, user badge, navigation by role,
//! breadcrumb, CSRF token and the one-time flash message.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::auth::csrf;
use crate::auth::roles::{Role, UnitKind};
use crate::auth::session_store::UID_KEY;
use crate::db;
use crate::error::AppError;
use crate::units::Unit;
use crate::users::{self, User};
use crate::web::AppState;

pub const PRODUCT: &str = "网民留言办理记实档案系统";
pub const LOGIN_AT_KEY: &str = "login_at";
/// Last activity, refreshed at most every `seen_every` seconds (each refresh is a write).
pub const SEEN_KEY: &str = "seen";
pub const SEEN_EVERY_SECS: i64 = 60;

/// How often a working user's session expiry is pushed back: once a minute, or a quarter
/// of a short idle timeout, so that an active user is never logged out early (with
/// `LIUYAN_IDLE_TIMEOUT_MIN=1`, every 15 s).
pub fn seen_every(idle_timeout_min: i64) -> i64 {
    (idle_timeout_min * 60 / 4).clamp(1, SEEN_EVERY_SECS)
}
/// The client address at login (shown on the “我的会话” page).
pub const LOGIN_IP_KEY: &str = "login_ip";
const FLASH_KEY: &str = "flash";
/// When the password was last re-entered for a sensitive action (unix seconds).
pub const CONFIRMED_KEY: &str = "pw_confirmed";
/// How long a re-entered password covers further sensitive actions.
pub const CONFIRM_VALID_SECS: i64 = 600;

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Flash {
    /// `ok` (green) or `error` (red).
    pub kind: String,
    pub text: String,
}

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

pub struct Crumb {
    pub href: String,
    pub label: String,
}

pub struct UserBadge {
    pub username: String,
    pub display_name: String,
    pub unit_name: String,
    pub role_label: &'static str,
}

pub struct Layout {
    pub title: String,
    pub product: &'static str,
    pub demo: bool,
    pub user: Option<UserBadge>,
    pub nav: Vec<NavItem>,
    pub crumbs: Vec<Crumb>,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// Who printed the page and when (a print-only line): empty without a user.
    pub stamp: String,
    /// A download the page starts by itself (no JavaScript: a refresh to the file).
    pub download: Option<String>,
}

impl Layout {
    /// Chrome for pages without a logged-in user (login).
    pub fn anonymous(title: &str, demo: bool, csrf: String) -> Layout {
        Layout {
            title: title.to_string(),
            product: PRODUCT,
            demo,
            user: None,
            nav: Vec::new(),
            crumbs: Vec::new(),
            csrf,
            flash: None,
            stamp: String::new(),
            download: None,
        }
    }

    /// Start this download when the page has loaded.
    pub fn download(mut self, url: &str) -> Layout {
        self.download = Some(url.to_string());
        self
    }

    pub fn crumb(mut self, label: &str, href: &str) -> Layout {
        self.crumbs.push(Crumb {
            href: href.to_string(),
            label: label.to_string(),
        });
        self
    }

    pub fn with_flash(mut self, kind: &str, text: &str) -> Layout {
        self.flash = Some(Flash {
            kind: kind.to_string(),
            text: text.to_string(),
        });
        self
    }
}

/// The navigation a role may use — only what it may open.
pub fn nav_for(role: Role, unit: Option<UnitKind>, path: &str) -> Vec<NavItem> {
    // A township or county department is not assessed: it has no 量化考评 page.
    let scored =
        matches!(role, Role::CityOperator | Role::CityLeader) || crate::units::is_assessed(unit);
    let home = match role {
        Role::CityOperator | Role::CountyOperator | Role::DeptOperator => "待办",
        _ => "首页",
    };
    let mut items: Vec<(&'static str, &'static str)> = vec![("/", home)];
    match role {
        Role::SysAdmin => {
            items.push(("/admin/units", "单位管理"));
            items.push(("/admin/users", "用户管理"));
        }
        Role::SecAdmin => items.push(("/security", "账户安全")),
        Role::AuditAdmin => items.push(("/audit", "审计日志")),
        Role::CityOperator => {
            items.push(("/messages/new", "留言登记"));
            items.push(("/messages", "留言列表"));
            items.push(("/dashboard", "统计分析"));
            items.push(("/archive", "档案汇总"));
            items.push(("/scores", "量化考评"));
            items.push(("/settings", "业务设置"));
        }
        Role::CountyOperator => {
            items.push(("/messages/new", "留言登记"));
            items.push(("/messages", "留言列表"));
            items.push(("/dashboard", "统计分析"));
            items.push(("/archive", "档案汇总"));
            if scored {
                items.push(("/scores", "量化考评"));
            }
        }
        Role::CityLeader | Role::DeptOperator => {
            items.push(("/messages", "留言列表"));
            items.push(("/dashboard", "统计分析"));
            items.push(("/archive", "档案汇总"));
            if scored {
                items.push(("/scores", "量化考评"));
            }
        }
    }
    items.push(("/account/password", "我的账户"));
    items
        .into_iter()
        .map(|(href, label)| NavItem {
            href,
            label,
            active: if href == "/" {
                path == "/"
            } else {
                path.starts_with(href)
            },
        })
        .collect()
}

/// A logged-in, active user with a current session.
pub struct Ctx {
    pub user: User,
    pub unit: Unit,
    pub role: Role,
    pub session: Session,
    pub state: web::Data<AppState>,
    pub ip: String,
    pub csrf: String,
    pub path: String,
    /// The path with its query string, to come back to after a confirmation.
    pub uri: String,
    /// The password is older than the security policy allows: it must be changed now.
    pub password_expired: bool,
}

impl Ctx {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            username: self.user.username.clone(),
            unit_id: Some(self.unit.id),
            ip: self.ip.clone(),
        }
    }

    /// Anything outside the role's rights is answered as if it did not exist.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Sensitive actions (exports holding personal data) need the password re-entered
    /// within the last ten minutes. `Some(redirect)` to the confirmation page, which
    /// comes back here, when it was not.
    pub fn confirm_password_first(&self) -> Option<actix_web::HttpResponse> {
        let at = self.session.get::<i64>(CONFIRMED_KEY).ok().flatten();
        let fresh =
            at.is_some_and(|t| crate::clock::current().timestamp() - t < CONFIRM_VALID_SECS);
        (!fresh).then(|| {
            crate::web::see_other(&format!(
                "/account/confirm?next={}",
                crate::web::utf8_percent(&self.uri)
            ))
        })
    }

    pub fn pool(&self) -> &db::DbPool {
        &self.state.pool
    }

    /// The page chrome, taking the pending flash message.
    pub fn layout(&self, title: &str) -> Layout {
        let flash = take_flash(&self.session);
        Layout {
            title: title.to_string(),
            product: PRODUCT,
            demo: self.state.config.demo,
            user: Some(UserBadge {
                username: self.user.username.clone(),
                display_name: self.user.display_name.clone(),
                unit_name: self.unit.name.clone(),
                role_label: self.role.label(),
            }),
            nav: nav_for(self.role, self.unit.kind(), &self.path),
            crumbs: Vec::new(),
            csrf: self.csrf.clone(),
            flash,
            stamp: self.print_stamp(),
            download: None,
        }
    }

    /// “打印单位：… 打印人：… 打印时间：2026年11月30日 14:05”, printed on every document.
    pub fn print_stamp(&self) -> String {
        format!(
            "打印单位：{}　打印人：{}　打印时间：{}",
            self.unit.name,
            self.user.display_name,
            crate::clock::to_china(db::now()).format("%Y年%m月%d日 %H:%M")
        )
    }

    /// A message for the next page (after a redirect).
    pub fn flash(&self, kind: &str, text: &str) {
        set_flash(&self.session, kind, text);
    }
}

pub fn set_flash(session: &Session, kind: &str, text: &str) {
    let flash = Flash {
        kind: kind.to_string(),
        text: text.to_string(),
    };
    if let Err(e) = session.insert(FLASH_KEY, flash) {
        tracing::warn!(error = %e, "could not store flash message");
    }
}

/// Drop the login from the session (under a fresh key) and leave a message for the
/// login page.
pub fn end_session(session: &Session, message: &str) {
    session.clear();
    session.renew();
    set_flash(session, "error", message);
}

/// Take the pending flash message.
pub fn take_flash(session: &Session) -> Option<Flash> {
    // `remove` marks the session changed (a database write) even for a missing key:
    // look first.
    session.get::<Flash>(FLASH_KEY).ok().flatten()?;
    session.remove_as::<Flash>(FLASH_KEY).and_then(|r| r.ok())
}

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let session = req.get_session();
        // The database is unavailable: nothing can be done for this user; the form's text
        // (Ctx comes first in a handler's arguments) goes to the error page.
        let unreadable = crate::auth::session_store::unreadable(&session).then(|| payload.take());
        Box::pin(async move {
            if let Some(payload) = unreadable {
                return Err(crate::forms::unavailable(&req, payload).await);
            }
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| AppError::internal("app state missing"))?;
            let uid = session.get::<i32>(UID_KEY).ok().flatten();
            let Some(uid) = uid else {
                return Err(AppError::LoginRequired);
            };
            let now_ts = crate::clock::current().timestamp();
            let seen = session.get::<i64>(SEEN_KEY).ok().flatten().unwrap_or(0);
            if now_ts - seen >= seen_every(state.config.idle_timeout_min) {
                // Keeps the idle timeout running from the last activity (±1 minute).
                let _ = session.insert(SEEN_KEY, now_ts);
            }
            let login_at = session.get::<i64>(LOGIN_AT_KEY).ok().flatten().unwrap_or(0);
            let age = crate::clock::current().timestamp() - login_at;
            if age > state.config.absolute_timeout_hours * 3600 {
                end_session(&session, "登录已超过最长有效时间，请重新登录。");
                return Err(AppError::LoginRequired);
            }
            // The user and the two policy settings: two queries per request.
            let (found, required, max_age) = db::run(&state.pool, move |c| {
                use crate::auth::{password, totp};
                let policy = db::get_settings(c, &[totp::POLICY_KEY, password::MAX_AGE_KEY])?;
                let value = |k: &str| policy.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                Ok((
                    users::find_with_unit(c, uid)?,
                    totp::parse_required(value(totp::POLICY_KEY)),
                    password::parse_max_age(value(password::MAX_AGE_KEY)),
                ))
            })
            .await?;
            let (user, unit, role) = match found {
                Some((user, unit)) if user.active => match user.role() {
                    Some(role) => (user, unit, role),
                    None => {
                        end_session(&session, "账户角色无效，请联系系统管理员。");
                        return Err(AppError::LoginRequired);
                    }
                },
                _ => {
                    end_session(&session, "账户已停用，或登录状态已失效，请重新登录。");
                    return Err(AppError::LoginRequired);
                }
            };
            let path = req.path().to_string();
            let password_expired = max_age > 0
                && db::now() - user.password_changed_at > chrono::Duration::days(max_age);
            if (user.must_change_password || password_expired)
                && path != "/account/password"
                && path != "/logout"
            {
                return Err(AppError::PasswordChangeRequired);
            }
            if required.contains(&role)
                && !user.totp_enabled
                && !path.starts_with("/account/")
                && path != "/logout"
            {
                return Err(AppError::TwoFactorRequired);
            }
            let csrf = csrf::ensure_token(&session)?;
            Ok(Ctx {
                user,
                unit,
                role,
                session,
                state,
                ip: crate::auth::client::ip(&req),
                csrf,
                path,
                uri: req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
                password_expired,
            })
        })
    }
}

pub use crate::clock::format_time;

#[cfg(test)]
mod tests {
    #[test]
    fn an_active_user_is_refreshed_well_before_the_idle_timeout() {
        for idle in [1, 2, 3, 4, 5, 30, 600] {
            let every = super::seen_every(idle);
            assert!((1..=60).contains(&every));
            assert!(every * 4 <= idle * 60, "{idle} min: every {every} s");
        }
        assert_eq!(super::seen_every(1), 15);
        assert_eq!(super::seen_every(30), 60);
    }
}
