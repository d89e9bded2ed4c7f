//! The application error type and the error policy.
//!
//! Policy: a handler returns `AppError`; each variant maps to one HTTP status and a page
//! in Chinese that says what happened and what to do next. Internal details (SQL, paths,
//! stack traces) are logged with `tracing` and never shown. Anything outside the user's
//! scope is `NotFound` (404), so the existence of a record is not confirmed.

use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug)]
pub enum AppError {
    /// 400: the request itself is malformed (forms with field errors re-render instead).
    BadRequest(String),
    /// 403: the CSRF token or the request's origin was wrong.
    Csrf,
    /// 404: does not exist, or is outside the user's scope.
    NotFound,
    /// 409: somebody else changed the record meanwhile.
    Conflict(String),
    /// 413: the upload is too large.
    PayloadTooLarge,
    /// Not logged in (or the session ended): redirect to the login page.
    LoginRequired,
    /// The password must be changed before anything else.
    PasswordChangeRequired,
    /// Two-factor login is required for the role and not yet set up.
    TwoFactorRequired,
    /// 503: the database cannot be reached or the disk is full — nothing was done;
    /// logged in full, shown with what the user typed.
    Unavailable(String),
    /// 500: logged in full, shown as a generic message.
    Internal(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::BadRequest(m) => write!(f, "bad request: {m}"),
            AppError::Csrf => write!(f, "csrf check failed"),
            AppError::NotFound => write!(f, "not found"),
            AppError::Conflict(m) => write!(f, "conflict: {m}"),
            AppError::PayloadTooLarge => write!(f, "payload too large"),
            AppError::LoginRequired => write!(f, "login required"),
            AppError::PasswordChangeRequired => write!(f, "password change required"),
            AppError::TwoFactorRequired => write!(f, "two-factor enrolment required"),
            AppError::Unavailable(m) => write!(f, "unavailable: {m}"),
            AppError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for AppError {}

impl AppError {
    pub fn internal(e: impl fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }

    /// A file operation's error: a full disk (or quota) is `Unavailable`, anything else
    /// internal.
    pub fn io(e: std::io::Error) -> AppError {
        match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                AppError::Unavailable(format!("disk full: {e}"))
            }
            _ => AppError::Internal(format!("file: {e}")),
        }
    }
}

/// Whether a database error's text says the disk is full or the connection went away
/// (SQLite's SQLITE_FULL, PostgreSQL's 53100 "could not extend file … No space left on
/// device", a backend terminated or a socket closed under the query).
pub fn is_unavailable_text(message: &str) -> bool {
    const SIGNS: [&str; 13] = [
        "database or disk is full",
        "No space left on device",
        "could not extend file",
        "disk full",
        "server closed the connection",
        "terminating connection",
        "connection to server",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "Broken pipe",
        "Connection reset by peer",
        "Connection refused",
    ];
    SIGNS.iter().any(|s| message.contains(s))
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match e {
            E::NotFound => AppError::NotFound,
            E::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, info) => {
                AppError::Unavailable(format!("database: {}", info.message()))
            }
            E::DatabaseError(_, ref info) if is_unavailable_text(info.message()) => {
                AppError::Unavailable(format!("database: {}", info.message()))
            }
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        AppError::Unavailable(format!("pool: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(format!("blocking: {e}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: String,
    /// What the user typed into the form that failed (label, text): shown so that
    /// nothing typed is lost when the action could not be saved.
    typed: Vec<(&'static str, String)>,
}

tokio::task_local! {
    /// The id of the request being served (set by the request-id middleware).
    pub static REQUEST_ID: String;
    /// The text fields of the form this request submitted, as `forms::read` saw them.
    pub static TYPED: std::cell::RefCell<Vec<(&'static str, String)>>;
}

/// Remember what the user typed in this request (for the error page, should the action
/// fail).
pub fn remember_typed(typed: Vec<(&'static str, String)>) {
    let _ = TYPED.try_with(|t| *t.borrow_mut() = typed);
}

fn typed() -> Vec<(&'static str, String)> {
    TYPED.try_with(|t| t.borrow().clone()).unwrap_or_default()
}

/// The current request's id, for error pages and logs.
pub fn request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

/// Render a standalone error page (no navigation: the user may not be known).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    page_with(status, title, message, Vec::new())
}

/// The page for a request that could not be carried out: 503 when the database or the
/// disk is unavailable, else 500; what the user typed is shown so that it can be copied.
pub fn failure_page(unavailable: bool) -> HttpResponse {
    if unavailable {
        page_with(
            StatusCode::SERVICE_UNAVAILABLE,
            "系统暂时无法保存或读取数据",
            "数据库暂时无法连接或存储空间已满，您的操作未生效，已保存的数据不受影响。请稍后重试；如持续出现，请联系系统管理员。",
            typed(),
        )
    } else {
        page_with(
            StatusCode::INTERNAL_SERVER_ERROR,
            "系统内部错误",
            "系统处理时发生错误，您的操作未生效。请稍后重试；如仍出现，请联系系统管理员。",
            typed(),
        )
    }
}

/// The page for a 登记 whose COMMIT answer was lost while the database cannot be asked
/// whether it went through: say so, show what was typed, and that sending the same form
/// again is safe.
pub fn outcome_unknown_page() -> HttpResponse {
    page_with(
        StatusCode::SERVICE_UNAVAILABLE,
        "无法确认是否已保存",
        "提交时与数据库的连接中断，暂时无法确认本次登记是否已保存。请稍后在留言列表中查找；也可以稍后用浏览器“后退”回到表单再次提交——同一份表单再次提交不会重复登记。",
        typed(),
    )
}

fn page_with(
    status: StatusCode,
    title: &str,
    message: &str,
    typed: Vec<(&'static str, String)>,
) -> HttpResponse {
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message,
        request_id: request_id(),
        typed,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::LoginRequired
            | AppError::PasswordChangeRequired
            | AppError::TwoFactorRequired => StatusCode::SEE_OTHER,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AppError::LoginRequired => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish(),
            AppError::PasswordChangeRequired => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/account/password"))
                .finish(),
            AppError::TwoFactorRequired => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/account/2fa"))
                .finish(),
            AppError::BadRequest(m) => error_page(status, "请求有误", m),
            AppError::Csrf => error_page(
                status,
                "请求未通过安全校验",
                "页面已过期或请求来源不明。请返回上一页，刷新后重新提交。",
            ),
            AppError::NotFound => error_page(
                status,
                "页面不存在",
                "您访问的页面不存在，或您无权查看。请从导航菜单重新进入。",
            ),
            AppError::Conflict(m) => error_page(status, "数据已被他人更新", m),
            AppError::PayloadTooLarge => error_page(
                status,
                "提交的内容过大",
                "上传的文件或提交的内容超过了大小限制。请压缩或拆分后重新提交。",
            ),
            AppError::Unavailable(m) => {
                tracing::error!(error = %m, "database or disk unavailable");
                failure_page(true)
            }
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                failure_page(false)
            }
        }
    }
}
