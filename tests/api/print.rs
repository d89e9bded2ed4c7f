//! Printed archives: headless Chromium prints one archive and a unit's month to PDF;
//! every page is A4, and the batch has exactly the pages of its archives one after
//! another (each archive starts on a new page). Needs `chromium`: skipped with a note
//! when it is missing, required when `CI=true`.

use std::path::Path;
use std::process::Command;

use crate::batch::followed_up;
use crate::helpers::{spawn_app, Browser};
use crate::lifecycle::{ok, unit_id};

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Fetch a page as the logged-in user, then let Chromium print it (styles and all,
/// from the running app) to a PDF; returns (pages, every page A4).
async fn print_pdf(b: &Browser, path: &str, dir: &Path, name: &str, bin: &str) -> (usize, bool) {
    let (_, html) = b.page(path).await;
    let html = html.replacen(
        "<head>",
        &format!("<head><base href=\"{}/\">", b.address),
        1,
    );
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).expect("write page");
    let pdf = dir.join(format!("{name}.pdf"));
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            &format!(
                "--user-data-dir={}",
                dir.join(format!("profile-{name}")).display()
            ),
            &format!("--print-to-pdf={}", pdf.display()),
            &format!("file://{}", page.display()),
        ])
        .output()
        .expect("run chromium");
    assert!(
        pdf.exists(),
        "no PDF: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).expect("read pdf");
    let text = String::from_utf8_lossy(&bytes);
    let pages = text
        .split("/Count ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let boxes: Vec<&str> = text
        .split("/MediaBox [")
        .skip(1)
        .filter_map(|s| s.split(']').next())
        .collect();
    let a4 = !boxes.is_empty()
        && boxes.iter().all(|b| {
            let v: Vec<f64> = b
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            v.len() == 4 && (v[2] - 595.0).abs() < 1.5 && (v[3] - 842.0).abs() < 1.5
        });
    (pages, a4)
}

#[tokio::test]
async fn archives_print_to_a4_one_archive_per_page_run() {
    let Some(bin) = chromium() else {
        crate::helpers::skip(
            "打印测试",
            "未安装 chromium（apt-get install -y chromium fonts-noto-cjk）。",
        );
        return;
    };
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = app.login_as("xixiu").await;
    let mut ids = Vec::new();
    for title in ["打印测试一：小区路灯损坏", "打印测试二：农贸市场占道经营"]
    {
        let id = followed_up(&app, &center, &xixiu, title).await;
        ok(
            &center,
            id,
            "report",
            &[("report_ref_no", "安网呈〔2026〕60号")],
        )
        .await;
        ok(&center, id, "archive", &[]).await;
        ids.push(id);
    }
    let dir = tempfile::tempdir().expect("dir");
    let mut total = 0;
    for (i, id) in ids.iter().enumerate() {
        let (pages, a4) = print_pdf(
            &center,
            &format!("/messages/{id}/archive"),
            dir.path(),
            &format!("one{i}"),
            bin,
        )
        .await;
        assert!(a4, "archive {id} printed on A4");
        assert!(pages >= 1, "archive {id} has pages");
        total += pages;
    }
    let unit = unit_id(&app, "安顺市西秀区");
    let month = app.today().format("%Y-%m").to_string();
    let (pages, a4) = print_pdf(
        &center,
        &format!("/archive/print?unit={unit}&month={month}"),
        dir.path(),
        "batch",
        bin,
    )
    .await;
    assert!(a4, "batch printed on A4");
    assert_eq!(
        pages, total,
        "each archive starts on a new page, nothing else is printed"
    );
}
