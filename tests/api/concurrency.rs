//! Concurrency: fifty clerks act on one message at the same moment — exactly the valid
//! ones succeed, the rest get the conflict page, no 5xx and no "database is locked", and
//! the timeline stays consistent.

use reqwest::StatusCode;

use crate::helpers::{csrf_of, spawn_app};
use crate::lifecycle::{ok, register, unit_id, version_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_actions_on_one_message() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let id = register(&center, "五十人同时操作", "并发").await;
    ok(
        &center,
        id,
        "assign",
        &[("unit_id", &unit_id(&app, "安顺市西秀区"))],
    )
    .await;
    ok(&xixiu, id, "accept", &[]).await;
    // Fifty browsers of 西秀区, each with the page open at the same version.
    let mut forms = Vec::new();
    for _ in 0..50 {
        let b = app.login_as("xixiu").await;
        let (_, html) = b.page(&format!("/messages/{id}")).await;
        let (v, t) = (version_of(&html), csrf_of(&html).expect("token"));
        forms.push((b, v, t));
    }
    let tasks: Vec<_> = forms
        .into_iter()
        .enumerate()
        .map(|(i, (b, v, t))| {
            tokio::spawn(async move {
                let text = format!("第 {i} 位经办人的办理情况");
                let r = b
                    .post_raw(
                        &format!("/messages/{id}/act/progress"),
                        &[("version", &v), ("csrf_token", &t), ("text", &text)],
                    )
                    .await;
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                (status, body)
            })
        })
        .collect();
    let mut done = 0;
    let mut conflicts = 0;
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert!(!status.is_server_error(), "{status}: {body}");
        assert!(!body.contains("database is locked"));
        match status {
            StatusCode::SEE_OTHER => done += 1,
            StatusCode::CONFLICT => {
                assert!(body.contains("该留言已被他人更新，请刷新后重试"));
                conflicts += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // All fifty saw the same version: exactly one could act on it.
    assert_eq!(done, 1, "one success");
    assert_eq!(conflicts, 49);
    assert_eq!(
        app.count(&format!(
            "message_events WHERE message_id = {id} AND action = 'progress'"
        )),
        1
    );
    let report = crate::helpers::verify_at(&mut app.db(), &app.data_dir, Some(&[id]));
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
}
