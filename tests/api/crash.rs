//! Crash safety: the real server under concurrent writes is killed with SIGKILL; after
//! a restart the SQLite file passes its integrity check and every write that was
//! acknowledged is there with its event, and no message has a state without its event.
//! And the other way round: PostgreSQL itself is killed (every server process SIGKILL)
//! under registrations with attachments; the site answers 503 meanwhile, recovers by
//! itself, the forms sent again land once, and nothing acknowledged or attached is lost.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{location, Browser, DEMO_PASSWORD};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start(dir: &std::path::Path, port: u16) -> Child {
    start_on(dir, port, None)
}

fn start_on(dir: &std::path::Path, port: u16, database_url: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_liuyan"));
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd.args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("LIUYAN_DATA_DIR", dir)
        .env("LIUYAN_LOGIN_PER_MINUTE", "0")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

async fn wait_ready(address: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{address}/healthz")).await {
            if r.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not start");
}

fn browser(address: &str) -> Browser {
    Browser {
        address: address.to_string(),
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        database_url: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let mut server = start(dir.path(), port);
    wait_ready(&address).await;
    let mut tasks = Vec::new();
    let logged_in = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for w in 0..6 {
        let address = address.clone();
        let logged_in = logged_in.clone();
        tasks.push(tokio::spawn(async move {
            let b = browser(&address);
            let r = b.login("center", DEMO_PASSWORD).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            logged_in.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut acked: Vec<(i32, String)> = Vec::new();
            for i in 0..10_000 {
                let title = format!("崩溃测试{w}-{i}");
                let name = format!("测{w}{i}");
                // A numbered series reads alike: confirmed as new, as a clerk would.
                let mut fields = crate::lifecycle::register_fields(&title, &name);
                fields.push(("confirm_duplicate", "1"));
                let Ok(page) = b.client.get(b.url("/messages/new")).send().await else {
                    break;
                };
                let Ok(html) = page.text().await else { break };
                let Some(token) = crate::helpers::csrf_of(&html) else {
                    break;
                };
                let forms = crate::page::forms("/messages/new", &html);
                let mut all =
                    crate::page::complete(crate::page::form_for(&forms, "/messages"), &fields);
                all.push(("csrf_token".into(), token));
                match b.client.post(b.url("/messages")).form(&all).send().await {
                    Ok(r) if r.status() == StatusCode::SEE_OTHER => {
                        let id = location(&r)
                            .trim_start_matches("/messages/")
                            .parse()
                            .unwrap_or(0);
                        acked.push((id, title));
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    // The writers work for 2.5 s once all are logged in (a loaded machine may take a
    // while for six password checks), then the server is killed mid-write.
    while logged_in.load(std::sync::atomic::Ordering::SeqCst) < 6
        && !tasks.iter().any(|t| t.is_finished())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.kill().expect("SIGKILL");
    let _ = server.wait();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.expect("task"));
    }
    assert!(
        acked.len() > 10,
        "writes were acknowledged before the kill: {}",
        acked.len()
    );

    // Restart on the same files.
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let mut server = start(dir.path(), port);
    wait_ready(&address).await;
    let url = format!("sqlite://{}", dir.path().join("liuyan.db").display());
    let mut conn = liuyan::db::establish(&url).expect("connect");
    {
        use diesel::prelude::*;
        #[derive(diesel::QueryableByName)]
        struct R {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let r: Vec<R> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut conn)
            .expect("check");
        assert_eq!(r[0].integrity_check, "ok");
    }
    all_there(&mut conn, dir.path(), &acked, 0);
    server.kill().expect("stop");
    let _ = server.wait();
}

/// Every acknowledged message is there with its title, its 登记 event and `files`
/// attachments, and `verify` finds nothing wrong (every chain, every stored file).
fn all_there(
    conn: &mut liuyan::db::DbConn,
    data_dir: &std::path::Path,
    acked: &[(i32, String)],
    files: i64,
) {
    use diesel::prelude::*;
    use liuyan::db::schema::{attachments::dsl as a, message_events::dsl as e, messages::dsl as m};
    for (id, title) in acked {
        let t: String = m::messages
            .find(id)
            .select(m::title)
            .first(conn)
            .expect("acknowledged message present");
        assert_eq!(&t, title);
        let n: i64 = e::message_events
            .filter(e::message_id.eq(id))
            .filter(e::action.eq("register"))
            .count()
            .get_result(conn)
            .expect("event");
        assert_eq!(n, 1, "message {id} has its event");
        let n: i64 = a::attachments
            .filter(a::message_id.eq(id))
            .count()
            .get_result(conn)
            .expect("attachments");
        assert_eq!(n, files, "message {id} kept its attachments");
    }
    let report = crate::helpers::verify_at(conn, data_dir, None);
    assert!(
        report.breaks.is_empty(),
        "{:?}",
        &report.breaks[..report.breaks.len().min(5)]
    );
}

/// A PostgreSQL cluster of this test's own (the packaged server binaries), so that it can
/// be killed without disturbing the suite's database.
struct Cluster {
    bin: std::path::PathBuf,
    data: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn find_bin() -> Option<std::path::PathBuf> {
        let mut bins: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .collect();
        bins.sort_by_key(|b| {
            b.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
        });
        bins.pop()
    }

    /// Run a server binary, as the `postgres` user when the test runs as root (the
    /// server refuses to run as root).
    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
    }

    fn init(bin: std::path::PathBuf) -> Cluster {
        let data = tempfile::tempdir().expect("cluster dir");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(data.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the cluster directory to postgres");
        }
        let c = Cluster {
            bin,
            data,
            port: free_port(),
        };
        let dir = c.dir();
        let out = c.run(
            "initdb",
            &[
                "-D",
                &dir,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-U",
                "postgres",
                "-A",
                "trust",
            ],
        );
        assert!(out.status.success(), "initdb: {:?}", out);
        c
    }

    fn dir(&self) -> String {
        self.data.path().join("pg").display().to_string()
    }

    /// Start the server (fsync on: a crash test of durability).
    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.data.path().display()
        );
        let log = self.data.path().join("server.log").display().to_string();
        let out = self.run(
            "pg_ctl",
            &["-D", &self.dir(), "-o", &options, "-l", &log, "-w", "start"],
        );
        assert!(out.status.success(), "pg_ctl start: {:?}", out);
    }

    /// Every server process SIGKILL at once: the postmaster and its backends, as when
    /// the machine's out-of-memory killer or an operator's `kill -9` strikes.
    fn kill(&self) {
        let pid_file = std::fs::read_to_string(self.data.path().join("pg/postmaster.pid"))
            .expect("postmaster.pid");
        let postmaster = pid_file.lines().next().unwrap_or("").trim().to_string();
        // Its children, from /proc (the fourth field of `stat` is the parent's pid).
        let mut pids = vec![postmaster.clone()];
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
            if after_name.split_whitespace().nth(1) == Some(postmaster.as_str()) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        let ok = Command::new("kill")
            .arg("-9")
            .args(&pids)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -9 {pids:?}");
        // Until every process is gone the server cannot start again.
        let deadline = Instant::now() + Duration::from_secs(20);
        while pids
            .iter()
            .any(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
        {
            assert!(
                Instant::now() < deadline,
                "the killed server processes linger"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["-D", &self.dir(), "-m", "immediate", "stop"]);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_postgresql_under_load_loses_nothing_acknowledged_or_attached() {
    let Some(bin) = Cluster::find_bin() else {
        return crate::helpers::skip(
            "PostgreSQL 崩溃测试",
            "未找到 PostgreSQL 服务器程序（/usr/lib/postgresql/*/bin）",
        );
    };
    let cluster = tokio::task::spawn_blocking(move || {
        let c = Cluster::init(bin);
        c.start();
        let psql = |sql: &str| {
            let out = c.run(
                "psql",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &c.port.to_string(),
                    "-U",
                    "postgres",
                    "-q",
                    "-c",
                    sql,
                ],
            );
            assert!(out.status.success(), "{sql}: {out:?}");
        };
        psql("CREATE ROLE liuyan LOGIN");
        psql("CREATE DATABASE liuyan OWNER liuyan ENCODING 'UTF8' TEMPLATE template0");
        c
    })
    .await
    .expect("cluster");
    let database_url = cluster.url("liuyan", "liuyan");
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let mut server = start_on(dir.path(), port, Some(&database_url));
    wait_ready(&address).await;

    // 0: writing, 1: stop after the form in hand has landed.
    let phase = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let logged_in = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (address, phase, logged_in, refused) = (
            address.clone(),
            phase.clone(),
            logged_in.clone(),
            refused.clone(),
        );
        tasks.push(tokio::spawn(async move {
            use std::sync::atomic::Ordering::SeqCst;
            let b = browser(&address);
            let r = b.login("center", DEMO_PASSWORD).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            logged_in.fetch_add(1, SeqCst);
            let mut acked: Vec<(i32, String)> = Vec::new();
            // The form in hand: sent again, as it is, until it lands (its key makes a
            // second landing impossible).
            let mut pending: Option<(String, Vec<(String, String)>)> = None;
            let give_up = Instant::now() + Duration::from_secs(120);
            for i in 0.. {
                if Instant::now() > give_up {
                    panic!("writer {w}: the site did not recover");
                }
                if pending.is_none() {
                    if phase.load(SeqCst) == 1 {
                        break;
                    }
                    let title = format!("数据库崩溃测试{w}-{i}");
                    let name = format!("崩{w}{i}");
                    let mut fields = crate::lifecycle::register_fields(&title, &name);
                    fields.push(("confirm_duplicate", "1"));
                    let page = match b.client.get(b.url("/messages/new")).send().await {
                        Ok(p) if p.status() == StatusCode::OK => p,
                        _ => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Ok(html) = page.text().await else {
                        continue;
                    };
                    let Some(token) = crate::helpers::csrf_of(&html) else {
                        continue;
                    };
                    let forms = crate::page::forms("/messages/new", &html);
                    let mut all = vec![("csrf_token".to_string(), token)];
                    all.extend(crate::page::complete(
                        crate::page::form_for(&forms, "/messages"),
                        &fields,
                    ));
                    pending = Some((title, all));
                }
                let Some((title, all)) = pending.clone() else {
                    continue;
                };
                let file = format!("%PDF-1.4 {title}");
                let r = b
                    .post_multipart(
                        "/messages",
                        &crate::helpers::pairs(&all),
                        &[("files", "现场.pdf", file.as_bytes())],
                    )
                    .await;
                match r.status() {
                    StatusCode::SEE_OTHER => {
                        let id = location(&r)
                            .trim_start_matches("/messages/")
                            .parse()
                            .unwrap_or(0);
                        assert!(id > 0, "{title}: {}", location(&r));
                        acked.push((id, title));
                        pending = None;
                    }
                    status => {
                        assert_eq!(
                            status,
                            StatusCode::SERVICE_UNAVAILABLE,
                            "{title}: while the database is down the answer is 503"
                        );
                        refused.fetch_add(1, SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            acked
        }));
    }
    use std::sync::atomic::Ordering::SeqCst;
    while logged_in.load(SeqCst) < 4 && !tasks.iter().any(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.kill();
        std::thread::sleep(Duration::from_millis(1500));
        cluster.start();
        cluster
    })
    .await
    .expect("kill and restart");
    // Writing goes on after the restart, then each writer lands the form in hand.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    phase.store(1, SeqCst);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.expect("writer"));
    }
    assert!(
        refused.load(SeqCst) > 0,
        "some requests met the database down"
    );
    assert!(acked.len() > 8, "writes acknowledged: {}", acked.len());
    eprintln!(
        "PostgreSQL killed under load: {} registrations acknowledged, {} answers 503 while it was down",
        acked.len(),
        refused.load(SeqCst)
    );

    let mut conn = liuyan::db::establish(&database_url).expect("connect");
    {
        use diesel::prelude::*;
        use liuyan::db::schema::messages::dsl as m;
        let titles: Vec<String> = m::messages
            .filter(m::title.like("数据库崩溃测试%"))
            .select(m::title)
            .load(&mut conn)
            .expect("titles");
        let distinct: std::collections::BTreeSet<&String> = titles.iter().collect();
        assert_eq!(distinct.len(), titles.len(), "no form landed twice");
    }
    // Every attachment's file is there and intact, every chain verifies.
    all_there(&mut conn, dir.path(), &acked, 1);
    server.kill().expect("stop");
    let _ = server.wait();
    drop(cluster);
}
