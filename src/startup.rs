//! Build the application: pool, database preparation, middleware order, routes.

use std::net::TcpListener;

use actix_session::config::{BrowserSession, TtlExtensionPolicy};
use actix_session::SessionMiddleware;
use actix_web::cookie::{time::Duration, Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, Logger};
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::auth::password::Hasher;
use crate::auth::session_store::DbSessionStore;
use crate::bootstrap;
use crate::config::Config;
use crate::db;
use crate::error::AppError;
use crate::web::{routes, AppState};

pub const SESSION_COOKIE: &str = "liuyan_session";

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub struct Application {
    port: u16,
    server: Server,
    /// The first administrator's password when this start created it (print it once).
    pub initial_admin_password: Option<String>,
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// `/healthz`: the process is up (no database, no session).
async fn healthz() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .insert_header(("Content-Type", "text/plain; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store"))
        .body("ok")
}

/// `/readyz`: the database answers (within two seconds) and its schema is current, and
/// the data directory's disk has more free space than the reserve.
async fn readyz(state: web::Data<crate::web::AppState>) -> actix_web::HttpResponse {
    let wait = std::time::Duration::from_millis(1500);
    let pool = state.pool.clone();
    let probe = web::block(move || {
        let mut c = db::checkout(&pool, wait)?;
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT 1").execute(&mut *c)?;
        pool.mark_up();
        db::migrations_pending(&mut c).map_err(AppError::internal)
    });
    let result = match tokio::time::timeout(std::time::Duration::from_secs(2), probe).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(AppError::from(e)),
        Err(_) => Err(AppError::Unavailable("no answer within 2 s".into())),
    };
    let free = crate::db::free_bytes(&state.config.data_dir);
    let reserve = state.config.disk_reserve_mb * 1024 * 1024;
    let (status, text) = match result {
        Ok(false) if free.is_some_and(|f| f < reserve) => (
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: disk almost full / 数据目录磁盘剩余 {} MB，低于保留的 {} MB",
                free.unwrap_or(0) / 1024 / 1024,
                state.config.disk_reserve_mb
            ),
        ),
        Ok(false) => (actix_web::http::StatusCode::OK, "ready".to_string()),
        Ok(true) => (
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "not ready: database migrations pending / 数据库待升级".to_string(),
        ),
        Err(e) => (
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: database unreachable / 数据库不可用 ({e})"),
        ),
    };
    actix_web::HttpResponse::build(status)
        .insert_header(("Content-Type", "text/plain; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store"))
        .body(text)
}

/// The data directory readable by the service account only (0700), and the SQLite file
/// (whose -wal and -shm files SQLite creates with the same mode) 0600, whatever the umask:
/// citizens' names and phone numbers are in them. Looser modes are tightened and logged.
fn tighten(config: &Config) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut paths = vec![(config.data_dir.clone(), 0o700)];
        if db::Backend::from_url(&config.database_url) == db::Backend::Sqlite {
            paths.push((db::sqlite_path(&config.database_url), 0o600));
        }
        for (path, mode) in paths {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let now = meta.permissions().mode() & 0o777;
            if now & 0o077 != 0 {
                match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)) {
                    Ok(()) => tracing::warn!(
                        path = %path.display(),
                        from = format!("{now:o}"),
                        to = format!("{mode:o}"),
                        "数据文件的权限过宽，已收紧为仅服务账户可读写"
                    ),
                    Err(e) => tracing::error!(
                        path = %path.display(),
                        error = %e,
                        "数据文件的权限过宽（其他账户可读），且无法收紧"
                    ),
                }
            }
        }
    }
}

/// A short random id for each request: in every log line (a tracing span), in the
/// `X-Request-Id` response header and on error pages, so a clerk can quote it.
fn new_request_id() -> String {
    use rand::Rng;
    let n: u64 = rand::rngs::OsRng.gen();
    format!("{:012x}", n & 0xffff_ffff_ffff)
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let pool = db::build_pool(&config.database_url, config.pool_size)?;
        tighten(&config);
        let (demo, demo_messages) = (config.demo, config.demo_messages);
        let sealer =
            crate::auth::sealing::Sealer::load(config.secret_key.as_deref(), &config.data_dir)?;
        let prep_pool = pool.clone();
        let prep_sealer = sealer.clone();
        let clock = config.clock;
        let key_path = config.signing_key_path();
        let (ring, loaded) = crate::archive::signing::Keyring::load(
            &key_path,
            &crate::clock::format_time(clock.now()),
        )?;
        ring.set_sealer(sealer.clone());
        let prep_ring = ring.clone();
        let refuse = config.guards_refuse;
        let prepared = web::block(move || -> anyhow::Result<bootstrap::Prepared> {
            let _clock = clock.enter();
            let _ring = prep_ring.enter();
            let mut conn = prep_pool.get().context("无法连接数据库")?;
            db::exclusive(&mut conn, |conn| {
                let prepared = bootstrap::prepare(conn, demo, demo_messages)?;
                bootstrap::protect(conn, refuse, &loaded, &key_path)?;
                crate::auth::totp::seal_plain_secrets(conn, &prep_sealer)?;
                Ok(prepared)
            })
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))??;
        let hasher = Hasher::new().map_err(|e| anyhow::anyhow!("{e}"))?;
        let reindex_pool = pool.clone();
        std::thread::spawn(move || {
            let Ok(mut c) = reindex_pool.get() else {
                return;
            };
            match crate::search::behind(&mut c) {
                Ok(0) | Err(_) => {}
                Ok(n) => {
                    tracing::warn!(
                        missing = n,
                        "检索索引不完整，正在后台补建（完成前短词检索可能漏掉较早的留言）"
                    );
                    match crate::search::rebuild_if_needed(&mut c) {
                        Ok(done) => tracing::warn!(done, "检索索引补建完成"),
                        Err(e) => tracing::error!(error = %e, "检索索引补建失败"),
                    }
                }
            }
        });
        // 反映人 and 联系方式 of a database from before sealing (or written without the
        // key) are sealed in the background, a few hundred rows a transaction.
        let (seal_pool, seal_ring) = (pool.clone(), ring.clone());
        std::thread::spawn(move || {
            seal_ring.install();
            let Ok(mut c) = seal_pool.get() else {
                return;
            };
            match crate::messages::personal::seal_in_clear(&mut c, 500) {
                Ok(0) => {}
                Ok(n) => tracing::warn!(sealed = n, "已加密以明文存放的反映人和联系方式"),
                Err(e) => tracing::error!(error = %e, "加密反映人和联系方式失败（下次启动时重试）"),
            }
        });
        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("无法监听地址 {}（端口是否已被占用？）", config.bind))?;
        let port = listener.local_addr()?.port();
        let key = Key::try_from(prepared.cookie_key.as_slice())
            .map_err(|e| anyhow::anyhow!("会话密钥无效：{e}"))?;
        let workers = if config.workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        } else {
            config.workers
        };
        let idle = Duration::minutes(config.idle_timeout_min);
        let secure = config.secure_cookies;
        let limit = crate::web::login_limit(config.login_per_minute);
        let worker_ring = ring.clone();
        let ring_for_jobs = ring.clone();
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            config,
            hasher,
            sealer,
            ring,
            cache: Default::default(),
            dispatch: Default::default(),
            hot: Default::default(),
            refusals: Default::default(),
        });
        // 热点发现: regrouped at start, daily and after a clerk's decision; new messages
        // placed as they arrive.
        let weak = std::sync::Arc::downgrade(&state.clone().into_inner());
        let (hot, window) = (state.hot.clone(), state.config.hot_window_days);
        let (hot_clock, hot_ring) = (clock, ring_for_jobs.clone());
        std::thread::spawn(move || {
            hot_clock.install();
            hot_ring.install();
            crate::hot::worker::run(hot, || weak.upgrade().map(|s| s.pool.clone()), window);
        });
        // The anchor beside the key follows the signed state (a rolled-back database is
        // found by `verify`): at start and every minute, while the site runs.
        let weak = std::sync::Arc::downgrade(&state.clone().into_inner());
        std::thread::spawn(move || {
            while let Some(state) = weak.upgrade() {
                let anchor = crate::archive::ledger::anchor_path(&state.config.signing_key_path());
                if let Ok(mut c) = state.pool.get() {
                    if let Ok(Some(s)) = crate::archive::ledger::state(&mut c) {
                        if let Err(e) = crate::archive::ledger::raise_anchor(&anchor, s.gseq) {
                            tracing::error!(error = %e, "无法写入签名锚点文件");
                        }
                    }
                }
                drop(state);
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        });
        // 智能分拨 retrains in the background when enough new messages are confirmed
        // (one process at a time across instances: the lease in the database).
        let weak = std::sync::Arc::downgrade(&state.clone().into_inner());
        let (job_clock, job_ring) = (clock, ring_for_jobs.clone());
        std::thread::spawn(move || {
            job_clock.install();
            job_ring.install();
            while let Some(state) = weak.upgrade() {
                let every = state.config.dispatch_retrain_every;
                let due = state
                    .pool
                    .get()
                    .ok()
                    .map(|mut c| crate::dispatch::due(&mut c, every, crate::db::now()));
                if let Some(Ok(true)) = due {
                    if let Err(e) = crate::dispatch::retrain(&state.pool, "定时任务", 60) {
                        tracing::error!(error = %e, "智能分拨模型训练失败");
                    }
                }
                drop(state);
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        });
        // The configuration on its own, for code below `web` (auth::client) that cannot
        // name AppState.
        let config_data = web::Data::new(state.config.clone());
        let server = HttpServer::new(move || {
            // Runs on each worker thread: all time read there is the application's.
            clock.install();
            worker_ring.install();
            App::new()
                // Inside the request-id scope below: a form's typed text is remembered
                // before the session, the user or the action can fail.
                .wrap(actix_web::middleware::from_fn(crate::forms::keep_typed))
                .wrap(Logger::new("%a \"%r\" %s %b %Dms req=%{X-Request-Id}o"))
                .wrap_fn(|req, srv| {
                    use actix_web::dev::Service;
                    use tracing::Instrument;
                    let id = new_request_id();
                    let span = tracing::info_span!("req", id = %id);
                    let fut = crate::error::TYPED.scope(Default::default(), srv.call(req));
                    let header_id = id.clone();
                    crate::error::REQUEST_ID.scope(
                        id,
                        async move {
                            let mut res = match fut.await {
                                Ok(res) => res.map_into_boxed_body(),
                                // A middleware's failure (the session could not be read
                                // or saved: the database is down or the disk full) gets
                                // the Chinese page and a line in the log, not an empty 500.
                                Err(e) if e.as_response_error().status_code().is_server_error() => {
                                    tracing::error!(error = %e, cause = ?e, "request failed before or after its handler");
                                    let page = crate::error::failure_page(true);
                                    return Err(actix_web::error::InternalError::from_response(
                                        e.to_string(),
                                        page,
                                    )
                                    .into());
                                }
                                Err(e) => return Err(e),
                            };
                            if let Ok(v) =
                                actix_web::http::header::HeaderValue::from_str(&header_id)
                            {
                                res.headers_mut().insert(
                                    actix_web::http::header::HeaderName::from_static(
                                        "x-request-id",
                                    ),
                                    v,
                                );
                            }
                            Ok(res)
                        }
                        .instrument(span),
                    )
                })
                .wrap({
                    let h = DefaultHeaders::new();
                    if secure {
                        // Served over TLS (at a reverse proxy): browsers keep to HTTPS.
                        h.add(("Strict-Transport-Security", "max-age=31536000"))
                    } else {
                        h
                    }
                })
                .wrap(
                    DefaultHeaders::new()
                        .add(("Content-Security-Policy", CSP))
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("Referrer-Policy", "same-origin"))
                        .add((
                            "Permissions-Policy",
                            "camera=(), microphone=(), geolocation=()",
                        )),
                )
                // HEAD works wherever GET does (uptime monitors ask with HEAD): answered
                // as the GET, without its body.
                .wrap_fn(|mut req, srv| {
                    use actix_web::dev::Service;
                    let head = req.method() == actix_web::http::Method::HEAD;
                    if head {
                        req.head_mut().method = actix_web::http::Method::GET;
                    }
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        Ok(if head {
                            res.map_body(|_, _| actix_web::body::BoxBody::new(()))
                        } else {
                            res.map_into_boxed_body()
                        })
                    }
                })
                .app_data(state.clone())
                .app_data(config_data.clone())
                .app_data(web::PayloadConfig::new(1024 * 1024))
                .configure(crate::web::extract::configure)
                // The probes answer without a session: with the database down, a load
                // balancer's request carrying a cookie still learns at once.
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .service(
                    web::scope("")
                        // Inside the session: refusals are recorded with who was refused.
                        .wrap_fn(|req, srv| {
                            use actix_web::dev::Service;
                            let fut = srv.call(req);
                            async move {
                                let res = fut.await?;
                                let status = res.status().as_u16();
                                if matches!(status, 403 | 404) {
                                    crate::web::audit_refusal(res.request(), status).await;
                                }
                                Ok(res)
                            }
                        })
                        .wrap(
                            SessionMiddleware::builder(DbSessionStore::new(pool.clone()), key.clone())
                        .cookie_name(SESSION_COOKIE.to_string())
                        .cookie_secure(secure)
                        .cookie_http_only(true)
                        .cookie_same_site(SameSite::Lax)
                        .session_lifecycle(
                            BrowserSession::default()
                                .state_ttl(idle)
                                // Extended when the state changes: `Ctx` refreshes a
                                // "seen" stamp at most once a minute, so a plain page
                                // view writes nothing to the database.
                                .state_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
                        )
                        .build(),
                        )
                        .configure(|cfg| crate::web::login_routes(cfg, limit.as_ref()))
                        .configure(routes)
                        .default_service(web::to(not_found)),
                )
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            server,
            initial_admin_password: prepared.initial_admin_password,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
