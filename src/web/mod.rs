//! HTTP layer: thin handlers (parse the form, call the domain/persistence function,
//! render the template), the route table and the response helpers.

pub mod account;
pub mod admin;
pub mod archive;
pub mod assets;
pub mod audit_log;
pub mod correction;
pub mod ctx;
pub mod dispatch;
pub mod extract;
pub mod home;
pub mod hot;
pub mod import;
pub mod insight;
pub mod login;
pub mod messages;
pub mod periods;
pub mod scores;
pub mod security;
pub mod settings;
pub mod sheet;
pub mod upload;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::DbPool;
use crate::error::AppError;

/// Shared state of the running application.
pub struct AppState {
    pub pool: DbPool,
    pub config: Config,
    pub hasher: Hasher,
    pub sealer: crate::auth::sealing::Sealer,
    /// The SM2 key ring that signs the archive's seals.
    pub ring: std::sync::Arc<crate::archive::signing::Keyring>,
    /// Summaries kept while their data is unchanged (dashboard, statistics, scoreboard).
    pub cache: crate::cache::Cache,
    /// 智能分拨: the active models, loaded once per version.
    pub dispatch: crate::dispatch::Models,
    /// 热点发现: wakes the background worker that keeps the clusters current.
    pub hot: std::sync::Arc<crate::hot::worker::Hot>,
    /// Refused requests recorded in the audit log (one a minute per client and user).
    pub refusals: crate::audit::Refusals,
}

/// Record a refused request (403: the CSRF or origin check; 404: not found or outside the
/// user's scope) in the audit log, with who and from where — at most one record a minute
/// per client, user and status, the repeats counted in the next one.
pub async fn audit_refusal(req: &actix_web::HttpRequest, status: u16) {
    use actix_session::SessionExt;
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return;
    };
    let uid = req
        .get_session()
        .get::<i32>(crate::auth::session_store::UID_KEY)
        .ok()
        .flatten();
    let ip = crate::auth::client::ip(req);
    let minute = crate::clock::current().timestamp() / 60;
    let Some(repeats) = state.refusals.admit(&ip, uid, status, minute) else {
        return;
    };
    let path = req.path().chars().take(200).collect::<String>();
    if let Err(e) = crate::audit::refusal(&state.pool, uid, ip, path, status, repeats).await {
        tracing::warn!(error = %e, "a refused request could not be audited");
    }
}

/// Render a page with status 200.
pub fn render<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    render_status(StatusCode::OK, page)
}

/// Render a page with a given status (422 when a form is shown back with errors).
pub fn render_status<T: Template>(status: StatusCode, page: &T) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

/// A `<select>` option (or a radio button of a choice).
#[derive(Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub disabled: bool,
}

/// Percent-encode UTF-8 for a URL's query or a `filename*` parameter.
pub fn utf8_percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A stored file's bytes read off the async workers (None: the file is missing).
pub async fn read_stored(path: std::path::PathBuf) -> Result<Option<Vec<u8>>, AppError> {
    web::block(move || crate::attachments::read_stored(&path)).await?
}

/// The page for a file whose record exists but whose file is gone from the store: a
/// clear 404 instead of an internal error.
pub fn file_missing(name: &str) -> HttpResponse {
    crate::error::error_page(
        actix_web::http::StatusCode::NOT_FOUND,
        "附件文件缺失",
        &format!(
            "“{name}”的登记记录仍在，但文件已不在存储中。此问题已记入日志；请联系系统管理员从备份恢复（运行 liuyan verify 可列出所有缺失的文件）。"
        ),
    )
}

/// A file download: `name` (UTF-8) with an ASCII `fallback` for old clients, never
/// cached (downloads may hold personal data) and never sniffed as another type.
pub fn download(fallback: &str, name: &str, mime: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
                utf8_percent(name)
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

/// Redirect after a successful POST (303: the browser follows with GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The login routes, behind the per-address rate limit when one is configured.
pub fn login_routes(cfg: &mut web::ServiceConfig, limit: Option<&LoginLimit>) {
    let scope = web::scope("/login")
        .route("", web::get().to(login::form))
        .route("", web::post().to(login::submit))
        .route("/2fa", web::get().to(login::second_form))
        .route("/2fa", web::post().to(login::second_submit));
    match limit {
        Some(l) => cfg.service(scope.wrap(actix_governor::Governor::new(l))),
        None => cfg.service(scope),
    };
}

/// Rate limit on login attempts per client address.
pub type LoginLimit = actix_governor::GovernorConfig<
    ClientAddress,
    actix_governor::governor::middleware::NoOpMiddleware<
        actix_governor::governor::clock::QuantaInstant,
    >,
>;

/// The client address as the key of the login limit, answering in Chinese when over it.
#[derive(Clone, Copy)]
pub struct ClientAddress;

impl actix_governor::KeyExtractor for ClientAddress {
    type Key = std::net::IpAddr;
    type KeyExtractionError = actix_governor::SimpleKeyExtractionError<&'static str>;

    fn extract(
        &self,
        req: &actix_web::dev::ServiceRequest,
    ) -> Result<Self::Key, Self::KeyExtractionError> {
        crate::auth::client::address(req.request())
            .ok_or_else(|| actix_governor::SimpleKeyExtractionError::new("无法识别客户端地址"))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &actix_governor::governor::NotUntil<
            actix_governor::governor::clock::QuantaInstant,
        >,
        _response: actix_web::HttpResponseBuilder,
    ) -> HttpResponse {
        use actix_governor::governor::clock::{Clock, DefaultClock};
        let wait = negative
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            + 1;
        let mut r = crate::error::error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "登录尝试过于频繁",
            &format!("来自您这台电脑的登录尝试过多，请 {wait} 秒后再试。如非本人操作，请报告安全管理员。"),
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_str(&wait.to_string())
                .unwrap_or(header::HeaderValue::from_static("60")),
        );
        r
    }
}

/// Build the login limit from the configuration (None: no limit).
pub fn login_limit(per_minute: u32) -> Option<LoginLimit> {
    if per_minute == 0 {
        return None;
    }
    let period_ms = (60_000 / u64::from(per_minute)).max(1);
    actix_governor::GovernorConfigBuilder::default()
        .milliseconds_per_request(period_ms)
        .burst_size((per_minute / 3).max(1))
        .methods(vec![actix_web::http::Method::POST])
        .key_extractor(ClientAddress)
        .finish()
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::index))
        .route("/static/{file}", web::get().to(assets::serve))
        .route("/logout", web::post().to(login::logout))
        .route("/account/2fa", web::get().to(account::twofactor))
        .route("/account/sessions", web::get().to(account::sessions))
        .route(
            "/account/sessions/{id}/end",
            web::post().to(account::session_end),
        )
        .route(
            "/account/2fa/enable",
            web::post().to(account::twofactor_enable),
        )
        .route(
            "/account/2fa/disable",
            web::post().to(account::twofactor_disable),
        )
        .route(
            "/account/2fa/recovery",
            web::post().to(account::twofactor_recovery),
        )
        .route("/account/confirm", web::get().to(account::confirm_form))
        .route("/account/confirm", web::post().to(account::confirm_submit))
        .route("/account/password", web::get().to(account::password_form))
        .route(
            "/account/password",
            web::post().to(account::password_submit),
        )
        .route("/admin/units", web::get().to(admin::units_list))
        .route("/admin/units", web::post().to(admin::unit_create))
        .route("/admin/units/new", web::get().to(admin::unit_new))
        .route("/admin/units/{id}/edit", web::get().to(admin::unit_edit))
        .route("/admin/units/{id}", web::post().to(admin::unit_update))
        .route(
            "/admin/units/{id}/active",
            web::post().to(admin::unit_active),
        )
        .route("/admin/users", web::get().to(admin::users_list))
        .route("/admin/users", web::post().to(admin::user_create))
        .route("/admin/users/new", web::get().to(admin::user_new))
        .route("/admin/users/{id}", web::get().to(admin::user_edit))
        .route("/admin/users/{id}", web::post().to(admin::user_update))
        .route(
            "/admin/users/{id}/active",
            web::post().to(admin::user_active),
        )
        .route(
            "/admin/users/{id}/reset-password",
            web::post().to(admin::user_reset_password),
        )
        .route("/messages", web::get().to(messages::list))
        .route("/messages", web::post().to(messages::create))
        .route("/messages/new", web::get().to(messages::new))
        .route("/messages/export", web::get().to(messages::export))
        .route("/messages/batch", web::post().to(messages::batch))
        .route("/messages/{id}", web::get().to(messages::show))
        .route("/messages/{id}/act/{action}", web::post().to(messages::act))
        .route("/messages/{id}/contact", web::post().to(messages::contact))
        .route(
            "/messages/{id}/notice/{seq}",
            web::get().to(messages::notice),
        )
        .route("/attachments/{id}", web::get().to(messages::attachment))
        .route("/messages/{id}/archive", web::get().to(archive::one))
        .route(
            "/messages/{id}/archive/print",
            web::post().to(archive::record_one),
        )
        .route("/archive", web::get().to(archive::index))
        .route("/archive/print", web::get().to(archive::batch))
        .route("/archive/print", web::post().to(archive::record_batch))
        .route("/archive/check", web::get().to(archive::check))
        .route("/archive/periods", web::get().to(periods::list))
        .route("/archive/periods", web::post().to(periods::open))
        .route("/archive/periods/{id}", web::get().to(periods::show))
        .route(
            "/archive/periods/{id}/submit",
            web::post().to(periods::submit),
        )
        .route(
            "/archive/periods/{id}/package",
            web::get().to(archive::package),
        )
        .route(
            "/archive/periods/{id}/inspection",
            web::get().to(archive::inspection),
        )
        .route(
            "/archive/periods/{id}/catalogue",
            web::get().to(periods::catalogue),
        )
        .route(
            "/archive/submissions/{id}/review",
            web::post().to(periods::review),
        )
        .route("/archive/verify", web::get().to(archive::verify_page))
        .route("/settings", web::get().to(settings::index))
        .route("/settings/ref-format", web::post().to(settings::ref_format))
        .route(
            "/settings/archive",
            web::post().to(settings::archive_settings),
        )
        .route("/settings/holidays", web::get().to(settings::holidays))
        .route("/settings/holidays", web::post().to(settings::holiday_put))
        .route(
            "/settings/holidays/paste",
            web::post().to(settings::holiday_paste),
        )
        .route(
            "/settings/holidays/{day}/delete",
            web::post().to(settings::holiday_delete),
        )
        .route("/settings/dispatch", web::get().to(dispatch::page))
        .route("/settings/dispatch/train", web::post().to(dispatch::train))
        .route(
            "/settings/dispatch/activate",
            web::post().to(dispatch::activate),
        )
        .route(
            "/settings/dispatch/subjects",
            web::post().to(dispatch::subject),
        )
        .route("/settings/lists", web::get().to(settings::lists))
        .route("/settings/lists", web::post().to(settings::list_add))
        .route(
            "/settings/lists/{id}/active",
            web::post().to(settings::list_active),
        )
        .route("/settings/rules", web::get().to(settings::rules))
        .route("/settings/rules", web::post().to(settings::rule_save))
        .route(
            "/settings/rules/{id}/delete",
            web::post().to(settings::rule_delete),
        )
        .route("/settings/templates", web::get().to(settings::templates))
        .route(
            "/settings/templates",
            web::post().to(settings::template_save),
        )
        .route("/scores", web::get().to(scores::index))
        .route("/scores/export", web::get().to(scores::export))
        .route("/scores/unit/{id}", web::get().to(scores::unit_page))
        .route("/scores/rules", web::get().to(scores::rules))
        .route("/scores/rules", web::post().to(scores::rules_save))
        .route("/scores/entries", web::get().to(scores::entries))
        .route("/scores/entries", web::post().to(scores::entry_add))
        .route(
            "/scores/entries/{id}/reverse",
            web::post().to(scores::entry_reverse),
        )
        .route("/scores/evidence/{id}", web::get().to(scores::evidence))
        .route("/scores/finalise", web::get().to(scores::finalise_page))
        .route("/scores/finalise", web::post().to(scores::finalise))
        .route(
            "/scores/{year}/letter/{unit}",
            web::get().to(scores::letter),
        )
        .route("/scores/{year}/report", web::get().to(scores::report))
        .route(
            "/messages/{id}/return-mark/{seq}",
            web::post().to(scores::mark_return),
        )
        .route("/import", web::get().to(import::start))
        .route("/import", web::post().to(import::upload))
        .route("/import/map", web::post().to(import::remap))
        .route("/import/preview", web::post().to(import::preview))
        .route("/import/commit", web::post().to(import::commit))
        .route("/dashboard", web::get().to(insight::dashboard))
        .route("/hot", web::get().to(hot::list))
        .route("/hot/{id}", web::get().to(hot::show))
        .route("/hot/{id}/{action}", web::post().to(hot::decide))
        .route("/stats", web::get().to(insight::statistics))
        .route("/bulletin", web::get().to(insight::bulletin))
        .route("/security", web::get().to(security::index))
        .route("/security/unlock/{id}", web::post().to(security::unlock))
        .route("/security/policy", web::post().to(security::policy))
        .route("/audit", web::get().to(audit_log::index))
        .route("/audit/export", web::get().to(audit_log::export))
        .route("/audit/verify", web::get().to(audit_log::verify));
}
