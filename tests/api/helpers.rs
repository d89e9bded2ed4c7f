//! `spawn_app`: the real application on a random port over a fresh database, and a
//! `Browser` that holds cookies and submits forms with their CSRF token like a person.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use liuyan::config::Config;
use liuyan::startup::Application;
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};

pub const DEMO_PASSWORD: &str = "Anshun@2026";

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub initial_admin_password: Option<String>,
    /// The data directory (attachments live in `attachments/` below it).
    pub data_dir: std::path::PathBuf,
    /// The app's clock: the day the site believes it is.
    pub clock: liuyan::clock::Clock,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

/// The test-only clock setting: `LIUYAN_TEST_CLOCK` (`2026-12-31T23:30` China time, or
/// `+400d`) runs every app of the suite on that day; `.ci/run` uses it to run the suite
/// on awkward days. A test that needs a day of its own sets `Config::clock` in
/// `spawn_tuned`, which wins.
pub fn test_clock() -> liuyan::clock::Clock {
    match std::env::var("LIUYAN_TEST_CLOCK") {
        Ok(v) if !v.trim().is_empty() => liuyan::clock::Clock::parse(&v)
            .unwrap_or_else(|| panic!("LIUYAN_TEST_CLOCK 无法解析：{v}")),
        _ => liuyan::clock::Clock::system(),
    }
}

/// A clock reading the China time `2026-11-30 10:00`-style `at`.
pub fn china_clock(at: &str) -> liuyan::clock::Clock {
    liuyan::clock::Clock::parse(at).unwrap_or_else(|| panic!("bad clock {at}"))
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh database URL: an SQLite file in `dir`, or, when `TEST_DATABASE_URL` is set,
/// a new PostgreSQL database created next to the one it names.
pub fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if !base.trim().is_empty() => {
            let name = format!(
                "liuyan_t_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                rand_suffix()
            );
            let mut admin =
                diesel::PgConnection::establish(&base).expect("connect TEST_DATABASE_URL");
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"
                ))
                .expect("create test database");
            let (prefix, _) = base
                .rsplit_once('/')
                .expect("database URL has a database name");
            let query = base
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{prefix}/{name}{query}")
        }
        _ => format!("sqlite://{}", dir.join("test.db").display()),
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

pub async fn spawn_app() -> TestApp {
    spawn_with(true).await
}

/// Start the app; `demo` seeds the demo accounts, otherwise the first administrator.
pub async fn spawn_with(demo: bool) -> TestApp {
    spawn_configured(demo, false).await
}

/// Start the app in demo mode with the ~300 demonstration messages.
pub async fn spawn_with_demo_messages() -> TestApp {
    spawn_configured(true, true).await
}

async fn spawn_configured(demo: bool, demo_messages: bool) -> TestApp {
    spawn_tuned(demo, demo_messages, |_| {}).await
}

/// Start the app in demo mode with a configuration change (limits, timeouts …).
pub async fn spawn_tuned(
    demo: bool,
    demo_messages: bool,
    tune: impl FnOnce(&mut Config),
) -> TestApp {
    // Internal errors are logged; show them in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("error")
        .try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database(dir.path());
    let mut config = Config::for_database(&database_url, dir.path().to_path_buf());
    config.demo = demo;
    config.demo_messages = demo_messages;
    config.clock = test_clock();
    tune(&mut config);
    let clock = config.clock;
    let app = Application::build(config).await.expect("build application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let initial_admin_password = app.initial_admin_password.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        database_url,
        initial_admin_password,
        data_dir: dir.path().to_path_buf(),
        clock,
        _dir: std::sync::Arc::new(dir),
    }
}

impl TestApp {
    /// The same site started again on the same database and files at a later `clock`, as
    /// after the turn of the year (log in again: a new address).
    pub async fn restart_at(&self, clock: liuyan::clock::Clock) -> TestApp {
        let mut config = Config::for_database(&self.database_url, self.data_dir.clone());
        config.demo = true;
        config.clock = clock;
        let app = Application::build(config)
            .await
            .expect("restart application");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            database_url: self.database_url.clone(),
            initial_admin_password: None,
            data_dir: self.data_dir.clone(),
            clock,
            _dir: self._dir.clone(),
        }
    }

    /// The 留言文号 of a message.
    pub fn ref_no(&self, id: i32) -> String {
        use diesel::prelude::*;
        use liuyan::db::schema::messages::dsl as m;
        m::messages
            .find(id)
            .select(m::ref_no)
            .first(&mut self.db())
            .expect("ref no")
    }

    /// Today in China on the app's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    /// A new browser that sends these headers with every request (as a client behind,
    /// or pretending to be behind, a proxy does).
    pub fn browser_with(&self, headers: &[(&'static str, &str)]) -> Browser {
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().expect("header value"));
        }
        Browser {
            database_url: self.database_url.clone(),
            address: self.address.clone(),
            client: Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                // The server closes idle connections after 5 s; reusing one just as it
                // does fails a request (IncompleteMessage), so idle ones are dropped first.
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .default_headers(map)
                .build()
                .expect("client"),
        }
    }

    /// A new browser with its own cookie jar.
    pub fn browser(&self) -> Browser {
        self.browser_with(&[])
    }

    /// A browser already logged in as a demo account.
    pub async fn login_as(&self, username: &str) -> Browser {
        let b = self.browser();
        let r = b.login(username, DEMO_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "login as {username}");
        b
    }

    /// The site's keys (the signing ring with the sealing key), to enter on this thread
    /// for direct reads and writes of sealed personal data.
    pub fn keys(&self) -> std::sync::Arc<liuyan::archive::signing::Keyring> {
        site_keys(&self.data_dir)
    }

    /// A message's 反映人 and 联系方式 as the site opens them (they are sealed at rest).
    pub fn personal(&self, id: i32) -> (String, String) {
        use diesel::prelude::*;
        use liuyan::db::schema::messages::dsl as m;
        let (name, contact): (String, String) = m::messages
            .find(id)
            .select((m::complainant_name, m::complainant_contact))
            .first(&mut self.db())
            .expect("personal data");
        let keys = self.keys();
        let _keys = keys.enter();
        (
            liuyan::messages::personal::open(&name),
            liuyan::messages::personal::open(&contact),
        )
    }

    /// How many messages carry this 反映人 (found by its look-up digest).
    pub fn with_name(&self, name: &str) -> i64 {
        self.with_digest("name_key", liuyan::messages::personal::name_key, name)
    }

    /// How many messages carry this 联系方式 (found by its look-up digest).
    pub fn with_contact(&self, contact: &str) -> i64 {
        self.with_digest(
            "contact_key",
            liuyan::messages::personal::contact_key,
            contact,
        )
    }

    fn with_digest(&self, column: &str, digest: fn(&str) -> Option<String>, value: &str) -> i64 {
        let keys = self.keys();
        let key = {
            let _keys = keys.enter();
            digest(value).expect("a look-up digest")
        };
        self.count(&format!("messages WHERE {column} = '{key}'"))
    }

    /// Direct database access for assertions.
    pub fn db(&self) -> liuyan::db::DbConn {
        liuyan::db::establish(&self.database_url).expect("connect test database")
    }

    /// Everything a refused request could have changed, as text: row counts of every table
    /// but the session and audit tables, message versions, every setting, user and unit.
    pub fn whole_database(&self) -> String {
        use diesel::prelude::*;
        use liuyan::db::schema::{
            messages::dsl as m, settings::dsl as s, units::dsl as un, users::dsl as us,
        };
        let mut out = String::new();
        for t in [
            "units",
            "users",
            "settings",
            "holidays",
            "options",
            "deadline_rules",
            "ref_counters",
            "messages",
            "message_events",
            "archive_counters",
            "archive_prints",
            "attachments",
            "reply_templates",
            "archive_periods",
            "archive_submissions",
            "score_years",
            "score_entries",
            "score_results",
            "return_marks",
            "recovery_codes",
            "password_history",
            "login_failures",
        ] {
            out.push_str(&format!("{t}={};", self.count(t)));
        }
        let mut c = self.db();
        let versions: Vec<(i32, i32, String)> = m::messages
            .select((m::id, m::version, m::state))
            .order(m::id)
            .load(&mut c)
            .expect("messages");
        let settings: Vec<(String, String)> = s::settings
            .select((s::key, s::value))
            .order(s::key)
            .load(&mut c)
            .expect("settings");
        let users: Vec<(i32, String, i32, bool, bool)> = us::users
            .select((
                us::id,
                us::role,
                us::unit_id,
                us::active,
                us::must_change_password,
            ))
            .order(us::id)
            .load(&mut c)
            .expect("users");
        let units: Vec<(i32, String, bool)> = un::units
            .select((un::id, un::name, un::active))
            .order(un::id)
            .load(&mut c)
            .expect("units");
        out.push_str(&format!("{versions:?}{settings:?}{users:?}{units:?}"));
        out
    }

    pub fn count(&self, sql_table: &str) -> i64 {
        use diesel::sql_types::BigInt;
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut c = self.db();
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {sql_table}"))
            .get_result::<N>(&mut c)
            .expect("count")
            .n
    }
}

pub struct Browser {
    pub address: String,
    pub client: Client,
    /// For assertions and hand-made requests only.
    pub database_url: String,
}

pub fn csrf_of(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GET a page and return status and body.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        let status = r.status();
        (status, r.text().await.expect("body"))
    }

    /// POST a form exactly as given (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// Open `page`, take its CSRF token, and submit `fields` to `action`, as a browser
    /// does: the fields the test does not name keep the values the page's form gives
    /// them (hidden fields, prefilled times, selected options). Name a field with an
    /// empty value to clear it.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let all = self.fill(page, action, fields).await;
        self.post_raw(action, &pairs(&all)).await
    }

    /// Open `page`, type `fields` into its GET form to `action` and submit it, as a clerk
    /// presses 筛选 or 核验.
    pub async fn submit_get(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let (_, html) = self.page(page).await;
        let forms = crate::page::forms(page, &html);
        let form = forms
            .iter()
            .find(|f| f.method == "get" && f.action == action)
            .unwrap_or_else(|| panic!("no GET form to {action} on {page}"));
        let all = crate::page::complete(Some(form), fields);
        let query = serde_urlencoded::to_string(&all).expect("query");
        self.get(&format!("{action}?{query}")).await
    }

    /// The fields a browser would send from `page`'s form to `action` after the user
    /// typed `fields`: the CSRF token first, the typed values, the form's own values.
    pub async fn fill(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let (_, html) = self.page(page).await;
        let token = csrf_of(&html).unwrap_or_else(|| panic!("no CSRF token on {page}"));
        let forms = crate::page::forms(page, &html);
        let mut all = vec![("csrf_token".to_string(), token)];
        all.extend(crate::page::complete(
            crate::page::form_for(&forms, action),
            fields,
        ));
        all
    }

    /// POST `multipart/form-data` as a browser does for a form with file inputs: the
    /// text fields first (in order), then each file as `(field, file name, bytes)`.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Response {
        let boundary = "----liuyanTestBoundary7MA4YWxkTrZu0gW";
        let mut body: Vec<u8> = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (k, name, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.client
            .post(self.url(path))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("POST multipart")
    }

    /// Re-enter the demo password, as a clerk does before an export with personal data.
    pub async fn confirm_password(&self) {
        let r = self
            .submit(
                "/account/confirm?next=/",
                "/account/confirm",
                &[("password", DEMO_PASSWORD), ("next", "/")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "password confirmed");
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    pub async fn logout(&self) -> Response {
        self.submit("/", "/logout", &[]).await
    }
}

/// A response's Content-Type ("" when absent).
pub fn content_type(r: &Response) -> String {
    r.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Borrowed pairs of owned fields (for `post_raw` and `post_multipart`).
pub fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

pub fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A test that cannot run here: under `CI=true` a failure, otherwise a notice that
/// `cargo test` shows even for a passing test (written to the terminal directly, past
/// the test harness's output capture).
pub fn skip(what: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true: {what} is required, but {why}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n跳过{what}：{why}");
}

/// The keys of a data directory: its signing ring and its sealing key.
pub fn site_keys(data_dir: &std::path::Path) -> std::sync::Arc<liuyan::archive::signing::Keyring> {
    use liuyan::archive::signing;
    let (ring, _) =
        signing::Keyring::load(&data_dir.join(signing::KEY_FILE), "").expect("key ring");
    ring.set_sealer(liuyan::auth::sealing::Sealer::load(None, data_dir).expect("sealing key"));
    ring
}

/// `liuyan verify` over a site's database and data directory, with the site's own key
/// ring and anchor (the ring is installed on this thread, so direct writes sign too).
pub fn verify_at(
    conn: &mut liuyan::db::DbConn,
    data_dir: &std::path::Path,
    ids: Option<&[i32]>,
) -> liuyan::archive::verify::Report {
    use liuyan::archive::{ledger, signing, verify};
    let key = data_dir.join(signing::KEY_FILE);
    let ring = site_keys(data_dir);
    ring.install();
    let store = liuyan::attachments::Store::new(data_dir);
    let site = verify::Site {
        store: &store,
        ring: &ring,
        anchor: Some(ledger::anchor_path(&key)),
        refuse: false,
    };
    verify::run(conn, &site, ids).expect("verify")
}

impl TestApp {
    /// The whole `verify` run on this site.
    pub fn verify(&self) -> liuyan::archive::verify::Report {
        verify_at(&mut self.db(), &self.data_dir, None)
    }

    /// What `verify` reports, one line per problem.
    pub fn problems(&self) -> Vec<String> {
        self.verify().breaks.into_iter().map(|b| b.what).collect()
    }
}
