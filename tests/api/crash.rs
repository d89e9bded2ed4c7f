//! Crash safety: the real server under concurrent writes is killed with SIGKILL; after
//! a restart the SQLite file passes its integrity check and every write that was
//! acknowledged is there with its event, and no message has a state without its event.

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
    Command::new(env!("CARGO_BIN_EXE_liuyan"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("LIUYAN_DATA_DIR", dir)
        .env("LIUYAN_LOGIN_PER_MINUTE", "0")
        .env_remove("DATABASE_URL")
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
        use liuyan::db::schema::{message_events::dsl as e, messages::dsl as m};
        for (id, title) in &acked {
            let t: String = m::messages
                .find(id)
                .select(m::title)
                .first(&mut conn)
                .expect("acknowledged message present");
            assert_eq!(&t, title);
            let n: i64 = e::message_events
                .filter(e::message_id.eq(id))
                .filter(e::action.eq("register"))
                .count()
                .get_result(&mut conn)
                .expect("event");
            assert_eq!(n, 1, "message {id} has its event");
        }
    }
    let report = crate::helpers::verify_at(&mut conn, dir.path(), None);
    assert!(
        report.breaks.is_empty(),
        "{:?}",
        &report.breaks[..report.breaks.len().min(5)]
    );
    server.kill().expect("stop");
    let _ = server.wait();
}
