//! The crawler: for every demo role, start at the home page and follow every link and
//! submit every GET form the pages offer (with the values they fill in, and each option
//! of their filters), breadth-first over the demo data. Every answer must be an HTML page
//! in the site's chrome, a redirect, or a proper download; every POST form met, submitted
//! empty, must answer with a Chinese error on the same form and save nothing. A page that
//! offers a link must make it work: this test is the guard for that.

use std::collections::{HashMap, HashSet, VecDeque};

use reqwest::StatusCode;

use crate::helpers::{content_type, pairs, spawn_with_demo_messages, Browser, TestApp};
use crate::page::{self, Form};

const ROLES: [&str; 9] = [
    "center", "leader", "xixiu", "pingba", "zhujian", "renshe", "sysadmin", "secadmin", "auditor",
];

/// Visits per route pattern (a message page has a form per state: more of those).
fn cap(pattern: &str) -> usize {
    if pattern.starts_with("/messages/{n}") {
        40
    } else if pattern.starts_with("/messages?") || pattern == "/messages" {
        30
    } else {
        4
    }
}

/// The route pattern of a site path: numbers, dates and hashes in the path become
/// placeholders; the query keeps its parameter names (not their values).
pub fn pattern(url: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segs: Vec<String> = path
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                "{n}".to_string()
            } else if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
                "{d}".to_string()
            } else if s.len() >= 16 && s.chars().all(|c| c.is_ascii_hexdigit()) {
                "{h}".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        segs.join("/")
    } else {
        format!("{}?{}", segs.join("/"), keys.join("&"))
    }
}

/// Two or more English words in a row in a page's visible text (an untranslated error).
fn english_phrase(text: &str) -> Option<String> {
    let mut run: Vec<&str> = Vec::new();
    for w in text.split_whitespace() {
        let letters = w.trim_matches(|c: char| !c.is_ascii_alphabetic());
        // Words with small letters: codes such as a 2FA secret (“DAM TXNY”) are not prose.
        if letters.len() >= 3
            && letters.chars().all(|c| c.is_ascii_alphabetic())
            && letters.chars().any(|c| c.is_ascii_lowercase())
        {
            run.push(letters);
            if run.len() >= 3 {
                return Some(run.join(" "));
            }
        } else {
            run.clear();
        }
    }
    None
}

fn visible_text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let body = scraper::Selector::parse("body").expect("selector");
    doc.select(&body)
        .flat_map(|b| b.text())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_download(r: &reqwest::Response) -> bool {
    let ct = content_type(r);
    let disposition = r.headers().get("content-disposition").is_some();
    let file_type = [
        "application/pdf",
        "application/zip",
        "application/vnd.openxmlformats",
        "application/octet-stream",
        "application/msword",
        "application/vnd.ms-excel",
        "image/",
        "text/csv",
        "application/ofd",
    ]
    .iter()
    .any(|t| ct.starts_with(t));
    file_type && (disposition || ct.starts_with("image/") || ct.starts_with("application/pdf"))
}

/// What the crawl saw, for the note and the assertions.
#[derive(Default)]
pub struct Report {
    pub pages: usize,
    pub downloads: usize,
    pub get_forms: usize,
    pub post_forms: usize,
    /// POST forms submitted empty (the others only have optional fields: buttons).
    pub posts_checked: usize,
    pub patterns: HashSet<String>,
    pub failures: Vec<String>,
}

/// Crawl the site as `b` from `/` (its password confirmed, as for a download).
pub async fn crawl(app: &TestApp, b: &Browser, role: &str) -> Report {
    let mut report = Report::default();
    let mut queue: VecDeque<(String, String)> = VecDeque::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut per_pattern: HashMap<String, usize> = HashMap::new();
    let mut posts: Vec<(String, Form)> = Vec::new();
    let mut post_patterns: HashSet<String> = HashSet::new();
    queue.push_back(("/".to_string(), "(登录后首页)".to_string()));
    seen.insert("/".to_string());
    let mut budget = 900;
    while let Some((url, from)) = queue.pop_front() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        let r = b.get(&url).await;
        let status = r.status();
        let ct = content_type(&r);
        let pat = pattern(&url);
        report.patterns.insert(pat.clone());
        if status.is_redirection() {
            let to = crate::helpers::location(&r);
            if to.starts_with("/login") {
                report.failures.push(format!(
                    "[{role}] {url}（来自 {from}）跳转到登录页：会话丢失"
                ));
                continue;
            }
            if let Some(next) = page::resolve(&url, &to) {
                if seen.insert(next.clone()) {
                    queue.push_back((next, url.clone()));
                }
            }
            continue;
        }
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            report.failures.push(format!(
                "[{role}] {url}（来自 {from}）: {status} {ct} {}",
                body.chars().take(160).collect::<String>()
            ));
            continue;
        }
        if is_download(&r) {
            report.downloads += 1;
            let _ = r.bytes().await;
            continue;
        }
        if !ct.starts_with("text/html") {
            report.failures.push(format!(
                "[{role}] {url}（来自 {from}）: {ct}，既不是页面也不是下载文件"
            ));
            continue;
        }
        let html = r.text().await.unwrap_or_default();
        report.pages += 1;
        // A page in the site's chrome (its navigation), or a document for print
        // (通知书, 通报, 档案: `<body class="doc">`).
        let chrome = html.contains("<nav") && html.contains(liuyan::web::ctx::PRODUCT);
        if !chrome && !html.contains("<body class=\"doc\">") {
            report.failures.push(format!(
                "[{role}] {url}（来自 {from}）: 页面没有本站的页头和导航"
            ));
        }
        let mut offer = |next: String, queue: &mut VecDeque<(String, String)>| {
            let p = pattern(&next);
            let n = per_pattern.entry(p.clone()).or_insert(0);
            if *n < cap(&p) && seen.insert(next.clone()) {
                *n += 1;
                queue.push_back((next, url.clone()));
            }
        };
        for link in page::links(&url, &html) {
            if link.starts_with("/static/") {
                continue;
            }
            offer(link, &mut queue);
        }
        for f in page::forms(&url, &html) {
            if f.method == "get" {
                report.get_forms += 1;
                for q in get_submissions(&f) {
                    let path = f.action.split('?').next().unwrap_or("").to_string();
                    let next = if q.is_empty() {
                        path
                    } else {
                        format!("{path}?{q}")
                    };
                    offer(next, &mut queue);
                }
            } else {
                let p = format!("{} {}", pattern(&f.action), f.inputs.join(","));
                if post_patterns.insert(p) {
                    posts.push((url.clone(), f));
                }
            }
        }
    }
    report.post_forms = posts.len();
    for (page_url, form) in posts {
        check_empty_post(app, b, role, &page_url, &form, &mut report).await;
    }
    report
}

/// The query strings a GET form is submitted with: as filled in, then once for each of
/// the first options of each select (the filters).
fn get_submissions(f: &Form) -> Vec<String> {
    let enc = |fields: &[(String, String)]| {
        serde_urlencoded::to_string(
            fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    };
    let mut out = vec![enc(&f.fields)];
    // Every field a user can type in cleared (年度 emptied, then 查看).
    let cleared: Vec<(String, String)> = f
        .fields
        .iter()
        .map(|(k, v)| {
            let typed = f.inputs.contains(k) && !f.options.iter().any(|(n, _)| n == k);
            (k.clone(), if typed { String::new() } else { v.clone() })
        })
        .collect();
    out.push(enc(&cleared));
    for (name, options) in &f.options {
        for o in options.iter().take(6) {
            let mut fields: Vec<(String, String)> = f
                .fields
                .iter()
                .filter(|(k, _)| k != name)
                .cloned()
                .collect();
            fields.push((name.clone(), o.clone()));
            out.push(enc(&fields));
        }
    }
    out
}

/// Submit a POST form with nothing typed: text cleared, boxes unchecked, selects on their
/// empty choice (one without keeps its value: a browser always sends an option); hidden
/// fields (CSRF token, version) as the page gives them.
async fn check_empty_post(
    app: &TestApp,
    b: &Browser,
    role: &str,
    page_url: &str,
    form: &Form,
    report: &mut Report,
) {
    // A form with nothing it requires is a button (签收, 登出, 打印登记, with an optional
    // note): pressing it is the action.
    if !form.requires_input {
        return;
    }
    report.posts_checked += 1;
    // Re-read the page for a fresh form (token, version).
    let (_, html) = b.page(page_url).await;
    let forms = page::forms(page_url, &html);
    let Some(fresh) = forms
        .iter()
        .find(|f| f.action == form.action && f.inputs == form.inputs)
    else {
        return;
    };
    let fields: Vec<(String, String)> = fresh
        .fields
        .iter()
        .filter(|(k, _)| !fresh.inputs.contains(k))
        .cloned()
        .chain(
            fresh
                .inputs
                .iter()
                .filter(|k| !fresh.is_box(k) && !fresh.is_file(k))
                .map(|k| {
                    let v = page::empty_choice(fresh, k).unwrap_or_default();
                    (k.clone(), v)
                }),
        )
        .collect();
    let mut unique: Vec<(String, String)> = Vec::new();
    for (k, v) in fields {
        if !unique.iter().any(|(u, _)| *u == k) {
            unique.push((k, v));
        }
    }
    let before = app.whole_database();
    let r = if fresh.multipart {
        b.post_multipart(&fresh.action, &pairs(&unique), &[]).await
    } else {
        b.post_raw(&fresh.action, &pairs(&unique)).await
    };
    let status = r.status();
    let ct = content_type(&r);
    let location = crate::helpers::location(&r);
    let body = r.text().await.unwrap_or_default();
    let after = app.whole_database();
    let what = format!("[{role}] 空表单 POST {}（表单在 {page_url}）", fresh.action);
    if before != after {
        report
            .failures
            .push(format!("{what}: 空提交保存了数据（{status} {location}）"));
    }
    if status.is_server_error() || status == StatusCode::OK || status.is_redirection() {
        report.failures.push(format!(
            "{what}: {status} {location}，应当在原表单上提示错误"
        ));
        return;
    }
    if !ct.starts_with("text/html") {
        report.failures.push(format!("{what}: {status} {ct}"));
        return;
    }
    let text = visible_text(&body);
    if let Some(phrase) = english_phrase(&text) {
        report
            .failures
            .push(format!("{what}: {status} 错误提示含英文：“{phrase}”"));
    }
    let same_form = page::forms(&fresh.action, &body)
        .iter()
        .any(|f| f.action == fresh.action);
    if status == StatusCode::UNPROCESSABLE_ENTITY && !same_form {
        report
            .failures
            .push(format!("{what}: {status} 的页面上没有原表单"));
    }
}

#[tokio::test]
async fn every_link_and_form_every_role_offers_works() {
    let app = spawn_with_demo_messages().await;
    let mut all: Vec<String> = Vec::new();
    let mut summary: Vec<String> = Vec::new();
    for role in ROLES {
        let b = app.login_as(role).await;
        b.confirm_password().await;
        let report = crawl(&app, &b, role).await;
        summary.push(format!(
            "{role}: {} 页, {} 个下载, {} 个 GET 表单, {} 种 POST 表单（{} 种空提交）, {} 种路由",
            report.pages,
            report.downloads,
            report.get_forms,
            report.post_forms,
            report.posts_checked,
            report.patterns.len()
        ));
        all.extend(report.failures);
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n爬取覆盖：\n{}", summary.join("\n"));
    assert!(
        all.is_empty(),
        "{} 处问题：\n{}",
        all.len(),
        all.iter().take(80).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Addresses a user can produce by hand or by clearing a field answer with the site's
/// Chinese error page (400 or 404 with the request id), never actix's `text/plain`.
#[tokio::test]
async fn malformed_addresses_get_the_chinese_error_page() {
    let app = crate::helpers::spawn_app().await;
    let center = app.login_as("center").await;
    let auditor = app.login_as("auditor").await;
    for (b, url, want) in [
        (&center, "/messages?page=abc", StatusCode::BAD_REQUEST),
        (&center, "/messages?before=x", StatusCode::BAD_REQUEST),
        (&center, "/messages/abc", StatusCode::NOT_FOUND),
        (&center, "/messages/99999999999", StatusCode::NOT_FOUND),
        (&center, "/scores/unit/x", StatusCode::NOT_FOUND),
        (&center, "/stats?from=2026-13-01", StatusCode::BAD_REQUEST),
        (&auditor, "/audit?page=x", StatusCode::BAD_REQUEST),
    ] {
        let r = b.get(url).await;
        let status = r.status();
        let ct = content_type(&r);
        let id = r
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = r.text().await.unwrap_or_default();
        assert!(ct.starts_with("text/html"), "{url}: {status} {ct} {body}");
        assert!(
            english_phrase(&visible_text(&body)).is_none(),
            "{url}: {body}"
        );
        // A date the page cannot read may also be ignored, with the page shown.
        if status != StatusCode::OK || want != StatusCode::BAD_REQUEST {
            assert_eq!(status, want, "{url}");
            assert!(
                !id.is_empty() && body.contains(&id),
                "{url}: request id shown"
            );
        }
    }
    // An empty value is "not given".
    for url in [
        "/scores?year=",
        "/messages?before=&page=",
        "/audit?page=&unit=",
    ] {
        let b = if url.starts_with("/audit") {
            &auditor
        } else {
            &center
        };
        assert_eq!(b.get(url).await.status(), StatusCode::OK, "{url}");
    }
}

#[test]
fn patterns_name_routes_not_records() {
    assert_eq!(pattern("/messages/12/archive"), "/messages/{n}/archive");
    assert_eq!(
        pattern("/messages?state=x&page=2&before=9"),
        "/messages?before&page&state"
    );
    assert_eq!(
        pattern("/settings/holidays/2026-10-01/delete"),
        "/settings/holidays/{d}/delete"
    );
    assert_eq!(
        english_phrase("请求有误 Query deserialize error: x"),
        Some("Query deserialize error".into())
    );
    assert_eq!(english_phrase("导出 Excel 与 CSV，SM3 校验"), None);
}

/// A filter value that is not among the choices (a hand-edited or stale link) is named
/// on the page and left out, instead of silently listing nothing; the page's own links
/// no longer carry it.
#[tokio::test]
async fn a_filter_value_not_in_the_list_is_named_and_ignored() {
    let app = crate::helpers::spawn_app().await;
    let center = app.login_as("center").await;
    crate::lifecycle::register(&center, "筛选条件测试留言", "筛甲").await;
    let total = |html: &str| -> i64 {
        html.split("共 ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("list total")
    };
    let (_, all) = center.page("/messages").await;
    let (status, html) = center
        .page("/messages?category=%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E7%B1%BB%E5%9E%8B&state=bogus&overdue=yes")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("已忽略"), "{html}");
    assert!(
        html.contains("所属类型“不存在的类型”")
            && html.contains("状态“bogus”")
            && html.contains("仅超期“yes”"),
        "{html}"
    );
    assert_eq!(total(&html), total(&all));
    assert!(total(&all) >= 1);
    for link in crate::page::links("/messages", &html) {
        assert!(!link.contains("bogus"), "{link}");
    }
    // A valid filter is applied as before, without the notice.
    let (_, html) = center.page("/messages?state=registered").await;
    assert!(!html.contains("已忽略"));
}
