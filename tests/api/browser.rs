//! Real-browser end-to-end tests: Debian's Chromium driven through chromedriver
//! (WebDriver, with the fantoccini client), the way a clerk works — fields found by their
//! visible labels, buttons and links by their Chinese names. Every page visited is also
//! checked with axe-core (no serious or critical violations) and, at the end, with the Nu
//! HTML Checker (`vnu.jar`).
//!
//! Needs `chromium` and `chromium-driver`; axe-core and vnu-jar come from npm
//! (`AXE_CORE_JS`, `VNU_JAR`: paths to `axe.min.js` and `vnu.jar`; `.ci/run` installs
//! them). Without them the tests say what they skipped; with `CI=true` they fail instead.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

/// A tool the browser tests need, or `None` after saying why the test is skipped (a
/// failure under CI).
fn tool(what: &str, env: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var(env)
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(default));
    if path.exists() {
        return Some(path);
    }
    crate::helpers::skip(
        "浏览器测试",
        &format!(
            "未找到 {what}（{}）。安装：apt-get install -y chromium chromium-driver；npm install axe-core vnu-jar，并设置 {env}（见 README）。",
            path.display()
        ),
    );
    None
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Option<Driver> {
        let bin = tool("chromedriver", "CHROMEDRIVER", "/usr/bin/chromedriver")?;
        tool("chromium", "CHROMIUM", "/usr/bin/chromium")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let driver = Driver {
            child: Command::new(bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(driver);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver did not start");
    }

    /// A new browser window of its own (its own profile and cookies), 1280×800.
    async fn browser(&self, javascript: bool) -> Client {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut prefs = json!({});
        if !javascript {
            prefs = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,800", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-quic", "--lang=zh-CN"
                ],
                "prefs": prefs
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

/// One person at one browser window.
struct Person {
    c: Client,
    base: String,
    /// axe-core's source, injected into each page visited (JavaScript windows only).
    axe: Option<String>,
    /// Pages visited (path), for the HTML checker.
    visited: Vec<String>,
    /// Serious or critical accessibility findings, with the page.
    findings: Vec<String>,
}

fn xpath_text(s: &str) -> String {
    // The texts used here hold no single quotes.
    format!("'{s}'")
}

impl Person {
    async fn new(driver: &Driver, app: &TestApp, axe: Option<String>) -> Person {
        Person {
            c: driver.browser(true).await,
            base: app.address.clone(),
            axe,
            visited: Vec::new(),
            findings: Vec::new(),
        }
    }

    async fn goto(&mut self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("goto");
        self.arrived().await;
    }

    /// After a page load: remember it and run axe-core over it.
    async fn arrived(&mut self) {
        let url = self.c.current_url().await.expect("url");
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        if !self.visited.contains(&path) {
            self.visited.push(path.clone());
        }
        if let Some(axe) = &self.axe {
            let script = format!(
                "{axe}\n;const done = arguments[arguments.length - 1];\
                 axe.run(document, {{ resultTypes: ['violations'] }}).then(r => done(r.violations\
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')\
                 .map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', '))));"
            );
            let found = self
                .c
                .execute_async(&script, vec![])
                .await
                .expect("axe-core ran");
            for f in found.as_array().into_iter().flatten() {
                self.findings
                    .push(format!("{path}: {}", f.as_str().unwrap_or_default()));
            }
        }
    }

    /// The text of the page, as a person reads it.
    async fn text(&self) -> String {
        self.c
            .find(Locator::Css("body"))
            .await
            .expect("body")
            .text()
            .await
            .expect("text")
    }

    /// The visible element among those an XPath finds.
    async fn visible(&self, xpath: &str) -> fantoccini::elements::Element {
        for e in self.c.find_all(Locator::XPath(xpath)).await.expect("find") {
            if e.is_displayed().await.unwrap_or(false) {
                return e;
            }
        }
        panic!(
            "nothing visible for {xpath} on {}",
            self.c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default()
        );
    }

    /// The field whose visible label starts with `label`.
    async fn field(&self, label: &str) -> fantoccini::elements::Element {
        let xp = format!(
            "//label[starts-with(normalize-space(.), {})]",
            xpath_text(label)
        );
        for l in self.c.find_all(Locator::XPath(&xp)).await.expect("labels") {
            if !l.is_displayed().await.unwrap_or(false) {
                continue;
            }
            let Some(id) = l.attr("for").await.expect("for") else {
                continue;
            };
            return self
                .c
                .find(Locator::Id(&id))
                .await
                .unwrap_or_else(|_| panic!("label {label} points at #{id}, which is missing"));
        }
        panic!("no visible field labelled {label}");
    }

    async fn fill(&self, label: &str, value: &str) {
        let f = self.field(label).await;
        f.clear().await.expect("clear");
        f.send_keys(value).await.expect("type");
    }

    async fn choose(&self, label: &str, option: &str) {
        self.field(label)
            .await
            .select_by_label(option)
            .await
            .unwrap_or_else(|e| panic!("choose {option} in {label}: {e}"));
    }

    /// Tick a radio button or checkbox by the words beside it.
    async fn tick(&self, words: &str) {
        let xp = format!("//label[normalize-space(.)={}]/input", xpath_text(words));
        self.visible(&xp).await.click().await.expect("tick");
    }

    async fn attach(&self, label: &str, file: &Path) {
        self.field(label)
            .await
            .send_keys(&file.display().to_string())
            .await
            .expect("attach");
    }

    /// Press the button (or open the action) with this name, then wait for the page.
    async fn press(&mut self, name: &str) {
        let xp = format!(
            "//button[normalize-space(.)={n}] | //summary[normalize-space(.)={n}] | //input[@type='submit' and @value={n}]",
            n = xpath_text(name)
        );
        let e = self.visible(&xp).await;
        let tag = e.tag_name().await.unwrap_or_default();
        let before = self.document().await;
        e.click()
            .await
            .unwrap_or_else(|err| panic!("press {name}: {err}"));
        if tag != "summary" {
            self.loaded_after(before).await;
        }
    }

    /// The current document (its root element's WebDriver reference).
    async fn document(&self) -> String {
        let html = self.c.find(Locator::Css("html")).await.expect("html");
        html.element_id().to_string()
    }

    /// Wait until a new document has replaced `before` (a form sent, a link followed).
    async fn loaded_after(&mut self, before: String) {
        for _ in 0..200 {
            if let Ok(html) = self.c.find(Locator::Css("html")).await {
                if html.element_id().to_string() != before
                    && self.c.find(Locator::Css("footer")).await.is_ok()
                {
                    self.arrived().await;
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page after 10 s");
    }

    /// Follow the link with this text.
    async fn follow(&mut self, text: &str) {
        let xp = format!("//a[contains(normalize-space(.), {})]", xpath_text(text));
        let before = self.document().await;
        self.visible(&xp).await.click().await.expect("follow");
        self.loaded_after(before).await;
    }

    async fn login(&mut self, user: &str) {
        self.goto("/login").await;
        self.fill("用户名", user).await;
        self.fill("密码", crate::helpers::DEMO_PASSWORD).await;
        self.press("登录").await;
        let text = self.text().await;
        assert!(text.contains("退出"), "{user} logged in: {text}");
    }

    async fn expect(&self, words: &str) {
        let text = self.text().await;
        assert!(
            text.contains(words),
            "expected “{words}” on the page:\n{text}"
        );
    }
}

/// The Nu HTML Checker over the raw HTML of every page visited (fetched again as the
/// same user, outside the browser, so the checker reads what the server sent).
async fn check_html(app: &TestApp, pages: &[(&str, Vec<String>)]) {
    let Some(jar) = tool("vnu.jar (npm vnu-jar)", "VNU_JAR", "/nonexistent/vnu.jar") else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let mut n = 0;
    for (user, paths) in pages {
        let b = app.login_as(user).await;
        for p in paths {
            let (status, html) = b.page(p).await;
            if status != reqwest::StatusCode::OK || !html.starts_with("<!DOCTYPE") {
                continue;
            }
            n += 1;
            std::fs::write(dir.path().join(format!("{n:03}-{user}.html")), &html).expect("write");
        }
    }
    assert!(n >= 10, "pages checked: {n}");
    let out = Command::new("java")
        .arg("-jar")
        .arg(&jar)
        .args(["--errors-only", "--skip-non-html"])
        .arg(dir.path())
        .output()
        .expect("run java -jar vnu.jar");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Nu HTML Checker found errors in {n} pages:\n{report}"
    );
    eprintln!("Nu HTML Checker: {n} pages valid");
}

fn axe_source() -> Option<String> {
    let path = tool(
        "axe-core (npm axe-core)",
        "AXE_CORE_JS",
        "/nonexistent/axe.min.js",
    )?;
    Some(std::fs::read_to_string(path).expect("read axe.min.js"))
}

/// The message id in a message page's address.
async fn message_id(p: &Person) -> String {
    let url = p.c.current_url().await.expect("url");
    url.path()
        .trim_start_matches("/messages/")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_message_from_register_to_archive_in_real_browsers() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let axe = axe_source();
    let app = spawn_app().await;
    let attachment = app.data_dir.join("现场照片说明.pdf");
    std::fs::write(
        &attachment,
        b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
    )
    .expect("file");

    // 市中心 registers the message and assigns it to 西秀区.
    let mut center = Person::new(&driver, &app, axe.clone()).await;
    center.login("center").await;
    center.follow("留言登记").await;
    center.choose("级别", "市级").await;
    center.choose("留言来源平台", "市长信箱").await;
    center.choose("所属类型", "投诉举报").await;
    center.fill("反映人", "浏览器测试人").await;
    center.fill("联系方式", "13900001111").await;
    center.fill("留言标题", "小区路灯损坏多日无人修").await;
    center
        .fill(
            "主要诉求",
            "小区东门路灯损坏已两周，夜间出行不便，请尽快维修。",
        )
        .await;
    center.press("登记").await;
    center.expect("已登记").await;
    let id = message_id(&center).await;
    center.press("转办").await;
    center.choose("核办单位", "安顺市西秀区").await;
    center.press("确认转办").await;
    center.expect("已转办").await;

    // 西秀区 finds it in its 待办, accepts it and replies with an attachment.
    let mut xixiu = Person::new(&driver, &app, axe.clone()).await;
    xixiu.login("xixiu").await;
    xixiu.follow("小区路灯损坏多日无人修").await;
    xixiu.press("签收").await;
    xixiu.press("确认签收").await;
    xixiu.expect("已签收").await;
    xixiu.press("答复").await;
    xixiu
        .fill("答复内容", "已安排维修人员更换灯具，路灯已恢复照明。")
        .await;
    xixiu.tick("已化解").await;
    xixiu.attach("附件", &attachment).await;
    xixiu.press("确认答复").await;
    xixiu.expect("已答复").await;
    xixiu.expect("现场照片说明.pdf").await;

    // 市中心 approves, follows up, reports and archives.
    center.goto(&format!("/messages/{id}")).await;
    center.press("审核通过").await;
    center.press("确认审核通过").await;
    center.expect("审核通过，已办结").await;
    center.press("回访").await;
    center.choose("回访方式", "电话").await;
    center.tick("满意").await;
    center.press("确认回访").await;
    center.expect("已回访").await;
    center.press("呈报").await;
    center.fill("呈报文号", "安网呈〔2026〕1号").await;
    center.press("确认呈报").await;
    center.expect("已呈报").await;
    center.press("销号").await;
    center.press("下一步：核对后销号").await;
    center.expect("档号一经编制不再改变").await;
    center.press("确认销号").await;
    center.expect("已销号").await;

    // The archive page, printed to PDF by the browser.
    center.follow("查看、打印记实档案").await;
    center.expect("网民留言办理记实档案").await;
    center.expect("小区路灯损坏多日无人修").await;
    let pdf = center.c.print(Default::default()).await.expect("print");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    assert!(
        pdf.len() > 10_000,
        "a PDF with content: {} bytes",
        pdf.len()
    );

    // A look round the other pages a clerk uses, for the accessibility checks.
    for p in [
        "/",
        "/messages",
        "/dashboard",
        "/stats",
        "/archive",
        "/archive/periods",
        "/scores",
        "/settings",
        "/account/password",
    ] {
        center.goto(p).await;
    }
    for p in ["/", "/messages", "/dashboard", "/scores"] {
        xixiu.goto(p).await;
    }

    let mut findings = center.findings.clone();
    findings.extend(xixiu.findings.clone());
    let pages = vec![
        ("center", center.visited.clone()),
        ("xixiu", xixiu.visited.clone()),
    ];
    center.c.close().await.expect("close");
    xixiu.c.close().await.expect("close");
    assert!(
        findings.is_empty(),
        "axe-core: serious or critical violations:\n{}",
        findings.join("\n")
    );
    check_html(&app, &pages).await;
}

#[tokio::test]
async fn two_browsers_on_one_message_and_no_javascript_needed() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let id = crate::lifecycle::register(&center, "两个窗口同时办理", "并发测试人").await;
    crate::lifecycle::ok(
        &center,
        id,
        "assign",
        &[("unit_id", &crate::lifecycle::unit_id(&app, "安顺市西秀区"))],
    )
    .await;

    // Two clerks of 西秀区, in browsers with JavaScript switched off, open the message.
    let mut first = Person {
        c: driver.browser(false).await,
        base: app.address.clone(),
        axe: None,
        visited: Vec::new(),
        findings: Vec::new(),
    };
    let mut second = Person {
        c: driver.browser(false).await,
        base: app.address.clone(),
        axe: None,
        visited: Vec::new(),
        findings: Vec::new(),
    };
    for p in [&mut first, &mut second] {
        p.login("xixiu").await;
        p.goto(&format!("/messages/{id}")).await;
    }
    // The first accepts it; the second, on a page now out of date, tries to return it.
    first.press("签收").await;
    first.press("确认签收").await;
    first.expect("已签收").await;
    second.press("退回").await;
    second.fill("退回理由", "不属于本区职责范围").await;
    second.press("确认退回").await;
    second.expect("该留言已被他人更新，请刷新后重试").await;
    // What the second clerk typed is still there to copy.
    second.expect("不属于本区职责范围").await;
    assert_eq!(
        app.count(&format!(
            "message_events WHERE message_id = {id} AND action = 'return'"
        )),
        0
    );
    first.c.close().await.expect("close");
    second.c.close().await.expect("close");
}

/// Press keys on whatever has the focus, as a person at the keyboard does (WebDriver key
/// actions: sending keys to an element would first move the focus to it).
async fn keys(p: &Person, text: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut seq = KeyActions::new("keyboard".to_string());
    for c in text.chars() {
        seq = seq
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c });
    }
    p.c.perform_actions(seq).await.expect("keys");
}

/// The id of the focused element; for a radio button `name=value`; for a button, its text.
async fn focused(p: &Person) -> String {
    let e = p.c.active_element().await.expect("focused element");
    if let Some(id) = e.attr("id").await.ok().flatten().filter(|i| !i.is_empty()) {
        return id;
    }
    if e.attr("type").await.ok().flatten().as_deref() == Some("radio") {
        let name = e.attr("name").await.ok().flatten().unwrap_or_default();
        let value = e.attr("value").await.ok().flatten().unwrap_or_default();
        return format!("{name}={value}");
    }
    e.text().await.unwrap_or_default().trim().to_string()
}

fn key(k: fantoccini::key::Key) -> String {
    char::from(k).to_string()
}

/// Press Tab until `target` (see `focused`) has the focus, from wherever it is now.
async fn tab_to(p: &Person, target: &str) {
    let tab = key(fantoccini::key::Key::Tab);
    let mut seen = Vec::new();
    for _ in 0..150 {
        keys(p, &tab).await;
        let f = focused(p).await;
        if f == target {
            return;
        }
        seen.push(f);
    }
    panic!("{target} not reached by Tab; reached: {seen:?}");
}

/// Tab to a field and type into it.
async fn type_at(p: &Person, field: &str, text: &str) {
    tab_to(p, field).await;
    keys(p, text).await;
}

/// Tab to a list box and move through its options with the arrow keys to `option`.
async fn arrow_to(p: &Person, select: &str, option: &str) {
    tab_to(p, select).await;
    let down = key(fantoccini::key::Key::Down);
    for _ in 0..200 {
        let chosen =
            p.c.active_element()
                .await
                .expect("focused")
                .find(Locator::Css("option:checked"))
                .await
                .expect("a chosen option")
                .text()
                .await
                .unwrap_or_default();
        if chosen.trim() == option {
            return;
        }
        keys(p, &down).await;
    }
    panic!("{option} not reached with the arrow keys in {select}");
}

/// Tab to a button and press Enter: an action opens in place, a form is sent and the
/// next page is waited for.
async fn enter_on(p: &mut Person, button: &str, sends: bool) {
    tab_to(p, button).await;
    let before = p.document().await;
    keys(p, &key(fantoccini::key::Key::Enter)).await;
    if sends {
        p.loaded_after(before).await;
    }
}

#[tokio::test]
async fn the_whole_lifecycle_with_the_keyboard_alone() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = spawn_app().await;
    let space = " ".to_string();
    let mut center = Person::new(&driver, &app, None).await;
    let mut xixiu = Person::new(&driver, &app, None).await;
    for (p, user) in [(&mut center, "center"), (&mut xixiu, "xixiu")] {
        p.goto("/login").await;
        keys(p, user).await;
        type_at(p, "password", crate::helpers::DEMO_PASSWORD).await;
        enter_on(p, "登录", true).await;
        p.expect("退出").await;
    }
    // 登记, every choice made with the arrow keys.
    center.goto("/messages/new").await;
    arrow_to(&center, "level", "市级").await;
    arrow_to(&center, "source_platform", "市长信箱").await;
    arrow_to(&center, "category", "投诉举报").await;
    type_at(&center, "complainant_name", "键盘办理人").await;
    type_at(&center, "complainant_contact", "13900002222").await;
    type_at(&center, "title", "键盘办理全过程的留言").await;
    type_at(&center, "appeal", "只用键盘完成登记到销号。").await;
    enter_on(&mut center, "登记", true).await;
    center.expect("已登记").await;
    let id = message_id(&center).await;
    enter_on(&mut center, "转办", false).await;
    arrow_to(&center, "assign-unit", "安顺市西秀区").await;
    enter_on(&mut center, "确认转办", true).await;
    center.expect("已转办").await;
    // 西秀区: 签收, then 答复 with 已化解 chosen by Space.
    xixiu.goto(&format!("/messages/{id}")).await;
    enter_on(&mut xixiu, "签收", false).await;
    enter_on(&mut xixiu, "确认签收", true).await;
    xixiu.expect("已签收").await;
    enter_on(&mut xixiu, "答复", false).await;
    type_at(&xixiu, "reply-text", "已用键盘答复：问题已处理。").await;
    tab_to(&xixiu, "resolved=1").await;
    keys(&xixiu, &space).await;
    enter_on(&mut xixiu, "确认答复", true).await;
    xixiu.expect("已答复").await;
    // 市中心: 审核通过, 回访, 呈报, 销号 and its confirmation page.
    center.goto(&format!("/messages/{id}")).await;
    enter_on(&mut center, "审核通过", false).await;
    enter_on(&mut center, "确认审核通过", true).await;
    center.expect("审核通过，已办结").await;
    enter_on(&mut center, "回访", false).await;
    arrow_to(&center, "follow_up-method", "电话").await;
    tab_to(&center, "satisfaction=满意").await;
    keys(&center, &space).await;
    enter_on(&mut center, "确认回访", true).await;
    center.expect("已回访").await;
    enter_on(&mut center, "呈报", false).await;
    type_at(&center, "report-ref", "安网呈〔2026〕9号").await;
    enter_on(&mut center, "确认呈报", true).await;
    center.expect("已呈报").await;
    enter_on(&mut center, "销号", false).await;
    enter_on(&mut center, "下一步：核对后销号", true).await;
    center.expect("档号一经编制不再改变").await;
    enter_on(&mut center, "确认销号", true).await;
    center.expect("已销号").await;
    center.c.close().await.expect("close");
    xixiu.c.close().await.expect("close");
}

#[tokio::test]
async fn the_keyboard_alone_reaches_every_field_and_action() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = spawn_app().await;
    let tab = char::from(fantoccini::key::Key::Tab).to_string();
    let enter = char::from(fantoccini::key::Key::Enter).to_string();
    let mut p = Person::new(&driver, &app, None).await;
    // Log in: the user name has the focus, Tab to the password, Enter sends the form.
    p.goto("/login").await;
    assert_eq!(focused(&p).await, "username");
    keys(&p, "center").await;
    keys(&p, &tab).await;
    keys(&p, crate::helpers::DEMO_PASSWORD).await;
    let before = p.document().await;
    keys(&p, &enter).await;
    p.loaded_after(before).await;
    p.expect("退出").await;
    // Registering: Tab from the top of the page reaches every field in the order of the
    // form, then the 登记 button.
    p.goto("/messages/new").await;
    let mut order = Vec::new();
    for _ in 0..60 {
        keys(&p, &tab).await;
        let f = focused(&p).await;
        if f == "登记" {
            break;
        }
        order.push(f);
    }
    let fields = [
        "level",
        "source_platform",
        "platform_ref",
        "category",
        "complainant_name",
        "complainant_contact",
        "title",
        "appeal",
        "posted_at",
        "files",
    ];
    let positions: Vec<usize> = fields
        .iter()
        .map(|f| {
            order
                .iter()
                .position(|o| o == f)
                .unwrap_or_else(|| panic!("{f} not reached by Tab: {order:?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "fields in form order: {order:?}"
    );
    assert_eq!(focused(&p).await, "登记", "the button after the fields");
    // An action on a message opens from the keyboard: Tab to “转办”, Enter, and its
    // first field is next.
    let id = crate::lifecycle::register(&app.login_as("center").await, "键盘办理", "键盘人").await;
    p.goto(&format!("/messages/{id}")).await;
    let mut reached = false;
    for _ in 0..80 {
        keys(&p, &tab).await;
        if focused(&p).await == "转办" {
            reached = true;
            break;
        }
    }
    assert!(reached, "转办 reached by Tab");
    keys(&p, &enter).await;
    keys(&p, &tab).await;
    assert_eq!(
        focused(&p).await,
        "assign-unit",
        "the 核办单位 field follows"
    );
    p.c.close().await.expect("close");
}

/// At 200 % zoom a 1280 px screen is 640 CSS px wide: the message list, the 待办 and the
/// message page with its timeline reflow without sideways scrolling.
#[tokio::test]
async fn lists_and_the_timeline_reflow_at_200_percent_zoom() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = crate::helpers::spawn_with_demo_messages().await;
    let mut p = Person {
        c: driver.browser(true).await,
        base: app.address.clone(),
        axe: None,
        visited: Vec::new(),
        findings: Vec::new(),
    };
    p.c.set_window_size(640, 900).await.expect("window size");
    p.login("center").await;
    p.goto("/messages?state=archived").await;
    let first =
        p.c.find(fantoccini::Locator::Css("table.reflow tbody a"))
            .await
            .expect("a message in the list");
    let href = first.attr("href").await.expect("href").expect("a link");
    for path in ["/", "/messages", href.as_str()] {
        p.goto(path).await;
        let wide =
            p.c.execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .expect("measure");
        let (scroll, inner) = (wide[0].as_i64().unwrap_or(0), wide[1].as_i64().unwrap_or(0));
        assert!(
            scroll <= inner,
            "{path} scrolls sideways at 640 px: {scroll} > {inner}"
        );
    }
    p.c.close().await.expect("close");
}
