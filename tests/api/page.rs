//! What a rendered page offers, read as a browser reads it: its same-site links and its
//! forms with the values they carry (hidden inputs, prefilled inputs, checked boxes,
//! selected options, textarea text).

use scraper::{ElementRef, Html, Selector};

#[derive(Clone, Debug)]
pub struct Form {
    pub method: String,
    /// The resolved action (a site path with its query).
    pub action: String,
    pub multipart: bool,
    /// Every field the browser would send if the form were submitted as it stands.
    pub fields: Vec<(String, String)>,
    /// Names of fields the user can fill (text inputs, textareas, selects, boxes, files).
    pub inputs: Vec<String>,
    /// Checkboxes and radio buttons (sent only when checked).
    pub boxes: Vec<String>,
    /// File inputs.
    pub files: Vec<String>,
    /// Each select's option values (the filters a user can pick).
    pub options: Vec<(String, Vec<String>)>,
    /// The form marks a field it cannot do without (`required`, or the 必填 star).
    pub requires_input: bool,
}

impl Form {
    pub fn is_box(&self, name: &str) -> bool {
        self.boxes.iter().any(|b| b == name)
    }

    pub fn is_file(&self, name: &str) -> bool {
        self.files.iter().any(|b| b == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("selector {s}: {e:?}"))
}

/// Resolve `href` found on `page` (a site path) to a site path, or `None` when it leaves
/// the site or only moves within the page.
pub fn resolve(page: &str, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return Some(page.to_string());
    }
    if href.starts_with('#')
        || href.starts_with("mailto:")
        || href.starts_with("tel:")
        || href.starts_with("javascript:")
        || href.starts_with("data:")
    {
        return None;
    }
    if href.starts_with("http://") || href.starts_with("https://") || href.starts_with("//") {
        // Absolute: only our own host (the tests serve on 127.0.0.1).
        let rest = href.split_once("//").map(|(_, r)| r)?;
        if !rest.starts_with("127.0.0.1") {
            return None;
        }
        let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
        return Some(strip_fragment(path));
    }
    let base = page.split(['?', '#']).next().unwrap_or("/");
    if let Some(q) = href.strip_prefix('?') {
        return Some(strip_fragment(&format!("{base}?{q}")));
    }
    if href.starts_with('/') {
        return Some(strip_fragment(href));
    }
    let dir = &base[..base.rfind('/').map(|i| i + 1).unwrap_or(0)];
    Some(strip_fragment(&format!("{dir}{href}")))
}

fn strip_fragment(s: &str) -> String {
    s.split('#').next().unwrap_or("").to_string()
}

/// Every same-site link of the page (`a[href]`; stylesheets and scripts are assets).
pub fn links(page: &str, html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let mut out = Vec::new();
    for a in doc.select(&sel("a[href]")) {
        if let Some(href) = a.value().attr("href").and_then(|h| resolve(page, h)) {
            if !out.contains(&href) {
                out.push(href);
            }
        }
    }
    out
}

/// Every form of the page, with the values a browser would send.
pub fn forms(page: &str, html: &str) -> Vec<Form> {
    let doc = Html::parse_document(html);
    let mut out = Vec::new();
    for f in doc.select(&sel("form")) {
        let method = f
            .value()
            .attr("method")
            .unwrap_or("get")
            .to_ascii_lowercase();
        let Some(action) = resolve(page, f.value().attr("action").unwrap_or("")) else {
            continue;
        };
        let multipart = f
            .value()
            .attr("enctype")
            .is_some_and(|e| e.eq_ignore_ascii_case("multipart/form-data"));
        let mut form = Form {
            method,
            action,
            multipart,
            fields: Vec::new(),
            inputs: Vec::new(),
            boxes: Vec::new(),
            files: Vec::new(),
            options: Vec::new(),
            requires_input: requires_input(f),
        };
        read_fields(f, &mut form);
        out.push(form);
    }
    out
}

/// Whether the form has a field a user must fill: a required input or textarea, a
/// required select with an empty choice, or a starred (必填) group of radio buttons. A
/// select without an empty choice always sends one of its options.
fn requires_input(f: ElementRef) -> bool {
    let typed = f
        .select(&sel("input[required], textarea[required]"))
        .any(|e| e.value().attr("type") != Some("hidden"));
    let select = f
        .select(&sel("select[required]"))
        .any(|s| s.select(&sel("option[value='']")).next().is_some());
    let radios = f.select(&sel("fieldset")).any(|fs| {
        fs.select(&sel(".req")).next().is_some()
            && fs.select(&sel("input[type=radio]")).next().is_some()
    });
    typed || select || radios
}

/// The value an untouched select sends, or "" when it offers an empty choice.
pub fn empty_choice(form: &Form, name: &str) -> Option<String> {
    let (_, options) = form.options.iter().find(|(n, _)| n == name)?;
    if options.iter().any(|o| o.is_empty()) {
        Some(String::new())
    } else {
        form.value(name).map(str::to_string)
    }
}

fn read_fields(form: ElementRef, out: &mut Form) {
    let (fields, inputs) = (&mut out.fields, &mut out.inputs);
    for el in form.select(&sel("input, select, textarea")) {
        let v = el.value();
        let Some(name) = v.attr("name").map(str::to_string) else {
            continue;
        };
        if v.attr("disabled").is_some() {
            continue;
        }
        match v.name() {
            "textarea" => {
                inputs.push(name.clone());
                fields.push((name, el.text().collect::<String>()));
            }
            "select" => {
                inputs.push(name.clone());
                let options: Vec<ElementRef> = el.select(&sel("option")).collect();
                let value_of = |o: &ElementRef| {
                    o.value()
                        .attr("value")
                        .map(str::to_string)
                        .unwrap_or_else(|| o.text().collect::<String>().trim().to_string())
                };
                out.options
                    .push((name.clone(), options.iter().map(value_of).collect()));
                let chosen: Vec<&ElementRef> = options
                    .iter()
                    .filter(|o| o.value().attr("selected").is_some())
                    .collect();
                let multiple = v.attr("multiple").is_some();
                let picked: Vec<&ElementRef> = if !chosen.is_empty() {
                    chosen
                } else if multiple {
                    Vec::new()
                } else {
                    options.first().into_iter().collect()
                };
                for o in picked {
                    fields.push((name.clone(), value_of(o)));
                }
            }
            _ => {
                let kind = v.attr("type").unwrap_or("text").to_ascii_lowercase();
                let value = v.attr("value").unwrap_or("").to_string();
                match kind.as_str() {
                    "submit" | "button" | "reset" | "image" => {}
                    "checkbox" | "radio" => {
                        inputs.push(name.clone());
                        out.boxes.push(name.clone());
                        if v.attr("checked").is_some() {
                            let value = if v.attr("value").is_some() {
                                value
                            } else {
                                "on".to_string()
                            };
                            fields.push((name, value));
                        }
                    }
                    "file" => {
                        inputs.push(name.clone());
                        out.files.push(name);
                    }
                    "hidden" => fields.push((name, value)),
                    _ => {
                        inputs.push(name.clone());
                        fields.push((name, value));
                    }
                }
            }
        }
    }
    inputs.dedup();
}

/// The form on `html` that posts to `action` (its path, query ignored).
pub fn form_for<'a>(forms: &'a [Form], action: &str) -> Option<&'a Form> {
    let path = |s: &str| s.split('?').next().unwrap_or("").to_string();
    forms
        .iter()
        .find(|f| f.action == action)
        .or_else(|| forms.iter().find(|f| path(&f.action) == path(action)))
}

/// `given` completed with the form's own values for every field it does not name, as a
/// browser sends a form the user filled in part.
pub fn complete(form: Option<&Form>, given: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(f) = form {
        for (k, v) in &f.fields {
            if k != "csrf_token" && !given.iter().any(|(g, _)| g == k) {
                all.push((k.clone(), v.clone()));
            }
        }
    }
    all
}

#[test]
fn links_and_forms_are_read_as_a_browser_reads_them() {
    let html = r##"<html><body>
      <a href="/messages?state=x&amp;page=2">下一页</a><a href="#top">顶部</a>
      <a href="?tab=b">乙</a><a href="https://example.org/">外站</a>
      <form method="post" action="/messages/1/act/reply">
        <input type="hidden" name="version" value="3">
        <input name="posted_at" value="2026-11-30T10:00">
        <input type="checkbox" name="a" value="1" checked><input type="checkbox" name="b">
        <select name="level"><option value="">请选择</option><option value="市级" selected>市级</option></select>
        <select name="k"><option>甲</option></select>
        <textarea name="text">已办</textarea><input type="file" name="files">
        <button name="go" value="1">提交</button>
      </form><form><input name="q"></form></body></html>"##;
    assert_eq!(
        links("/messages/1?x=1", html),
        vec!["/messages?state=x&page=2", "/messages/1?tab=b"]
    );
    let f = forms("/messages/1", html);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].action, "/messages/1/act/reply");
    assert_eq!(f[0].value("version"), Some("3"));
    assert_eq!(f[0].value("a"), Some("1"));
    assert_eq!(f[0].value("b"), None);
    assert_eq!(f[0].value("level"), Some("市级"));
    assert_eq!(f[0].value("k"), Some("甲"));
    assert_eq!(f[0].value("text"), Some("已办"));
    assert!(f[0].inputs.contains(&"files".to_string()));
    assert_eq!(f[1].method, "get");
    assert_eq!(f[1].action, "/messages/1");
    let done = complete(Some(&f[0]), &[("text", "改")]);
    assert!(done.contains(&("text".into(), "改".into())));
    assert!(done.contains(&("version".into(), "3".into())));
}
