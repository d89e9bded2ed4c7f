//! The export package for long-term preservation and handover: one ZIP holding each
//! archive as a self-contained HTML page, its metadata as JSON (with every event's
//! canonical record and chain digests) and its attachments; `manifest.json` lists the
//! period's catalogue (every archive, its event count and chain head) and every file's
//! size, SHA-256 and SM3; `signature.json` is the SM2 signature over the manifest with
//! the public key; `四性检测报告.html` is the DA/T 70-2018 check made at export.
//!
//! `inspect` re-reads a package and makes the four checks (真实性、完整性、可用性、安全性)
//! item by item: the signature (with a key given from outside, or the shipped one), every
//! file against the manifest, the catalogue against the archives present, every event
//! chain, 要素齐全, attachments present, 件号 continuous, every file in its declared
//! format, no executable or script content, and a virus scan when one is configured.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};

use serde::{Deserialize, Serialize};

use crate::archive::{chain, signing};
use crate::error::AppError;

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "signature.json";
pub const REPORT: &str = "四性检测报告.html";

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub sm3: String,
}

/// One archive of the period's catalogue (归档文件目录).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Catalogued {
    pub archive_no: String,
    pub ref_no: String,
    pub title: String,
    pub retention: String,
    /// The archive's folder in the package.
    pub dir: String,
    pub events: usize,
    /// The SM3 digest its event chain ends on.
    pub head_sm3: String,
    pub attachments: usize,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Manifest {
    pub title: String,
    pub unit: String,
    pub period: String,
    pub created_at: String,
    pub created_by: String,
    pub archives: usize,
    #[serde(default)]
    pub catalogue: Vec<Catalogued>,
    pub files: Vec<Entry>,
}

/// The signature over `manifest.json`'s bytes.
#[derive(Serialize, Deserialize, Debug)]
pub struct SignatureFile {
    pub algorithm: String,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// Not made (a virus scanner not configured, a check only the server can make).
    NotRun,
}

#[derive(Debug, Clone)]
pub struct Check {
    /// 真实性 / 完整性 / 可用性 / 安全性.
    pub property: &'static str,
    pub item: String,
    pub outcome: Outcome,
    pub detail: String,
}

impl Check {
    pub fn outcome_label(&self) -> &'static str {
        match self.outcome {
            Outcome::Pass => "通过",
            Outcome::Fail => "不通过",
            Outcome::NotRun => "未检测",
        }
    }
    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Fail
    }
}

/// A package's four checks.
#[derive(Debug, Default)]
pub struct Inspection {
    pub checks: Vec<Check>,
    pub files: usize,
    pub archives: usize,
    /// Which public key the signature was checked with.
    pub key_source: String,
    pub unit: String,
    pub period: String,
}

impl Inspection {
    /// The failed checks' details, one line each.
    pub fn problems(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| format!("{}·{}：{}", c.property, c.item, c.detail))
            .collect()
    }

    fn add(&mut self, property: &'static str, item: &str, problems: Vec<String>, ok: String) {
        let outcome = if problems.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        };
        let detail = if problems.is_empty() {
            ok
        } else {
            let n = problems.len();
            let mut shown: Vec<String> = problems.into_iter().take(20).collect();
            if n > 20 {
                shown.push(format!("等 {n} 处"));
            }
            shown.join("；")
        };
        self.checks.push(Check {
            property,
            item: item.to_string(),
            outcome,
            detail,
        });
    }
}

fn entry(path: &str, bytes: &[u8]) -> Entry {
    let (sha256, sm3) = chain::digests(bytes);
    Entry {
        path: path.to_string(),
        size: bytes.len() as u64,
        sha256,
        sm3,
    }
}

/// Write the files, their manifest and its signature into a ZIP.
pub fn write(
    mut manifest: Manifest,
    files: Vec<(String, Vec<u8>)>,
    ring: &signing::Keyring,
) -> Result<Vec<u8>, AppError> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    manifest.files.clear();
    for (path, bytes) in &files {
        manifest.files.push(entry(path, bytes));
        zip.start_file(path.as_str(), opts)
            .map_err(AppError::internal)?;
        zip.write_all(bytes).map_err(AppError::internal)?;
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(AppError::internal)?;
    zip.start_file(MANIFEST, opts).map_err(AppError::internal)?;
    zip.write_all(&json).map_err(AppError::internal)?;
    let (key_id, signature) = ring.sign(&json);
    let sig = SignatureFile {
        algorithm: signing::ALGORITHM.to_string(),
        key_id,
        public_key: ring.current().1,
        signature,
    };
    zip.start_file(SIGNATURE, opts)
        .map_err(AppError::internal)?;
    zip.write_all(&serde_json::to_vec_pretty(&sig).map_err(AppError::internal)?)
        .map_err(AppError::internal)?;
    let cursor = zip.finish().map_err(AppError::internal)?;
    Ok(cursor.into_inner())
}

const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "exe", "com", "bat", "cmd", "scr", "msi", "ps1", "vbs", "vbe", "js", "jse", "wsf", "hta", "sh",
    "jar", "dll", "lnk", "html", "htm", "svg",
];

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// What in a file looks executable or scripted.
fn active_content(name: &str, bytes: &[u8]) -> Option<&'static str> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if EXECUTABLE_EXTENSIONS.contains(&ext.as_str()) {
        return Some("可执行或脚本文件扩展名");
    }
    if bytes.starts_with(b"MZ") || bytes.starts_with(b"\x7fELF") || bytes.starts_with(b"#!") {
        return Some("含可执行文件头");
    }
    for needle in [&b"<script"[..], b"javascript:", b"/JavaScript", b"/Launch"] {
        if contains_ci(bytes, needle) {
            return Some("含脚本或自动执行内容");
        }
    }
    None
}

/// The checks of the package's content, made at export (before signing) and again by
/// `inspect`.
pub fn check_contents(
    manifest: &Manifest,
    files: &BTreeMap<String, Vec<u8>>,
    scanner: Option<&str>,
    out: &mut Inspection,
) {
    out.archives = manifest.catalogue.len();
    // 完整性: the catalogue against what is present.
    let mut missing = Vec::new();
    if manifest.archives != manifest.catalogue.len() {
        missing.push(format!(
            "清单记载 {} 份档案，目录列出 {} 份",
            manifest.archives,
            manifest.catalogue.len()
        ));
    }
    let dirs: BTreeSet<&str> = manifest.catalogue.iter().map(|c| c.dir.as_str()).collect();
    for c in &manifest.catalogue {
        for part in ["archive.html", "metadata.json"] {
            if !files.contains_key(&format!("{}/{part}", c.dir)) {
                missing.push(format!("目录中的档案 {} 缺少 {part}", c.archive_no));
            }
        }
    }
    for path in files.keys() {
        if let Some(rest) = path.strip_prefix("archives/") {
            let dir = format!("archives/{}", rest.split('/').next().unwrap_or_default());
            if !dirs.contains(dir.as_str()) {
                missing.push(format!("{path} 不属于目录中的任何档案"));
            }
        }
    }
    out.add(
        "完整性",
        "档案与归档文件目录一致",
        missing,
        format!("目录 {} 份档案，包内齐全", manifest.catalogue.len()),
    );

    // 真实性 and 完整性 inside each archive: chains, elements, attachments.
    let (mut chains, mut elements, mut attached) = (Vec::new(), Vec::new(), Vec::new());
    let mut events = 0;
    for c in &manifest.catalogue {
        let Some(meta) = files
            .get(&format!("{}/metadata.json", c.dir))
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        else {
            continue;
        };
        let links = meta["哈希链"].as_array().cloned().unwrap_or_default();
        let mut prev = (String::new(), String::new());
        for (i, l) in links.iter().enumerate() {
            let body = l["记录"].as_str().unwrap_or_default();
            let got = chain::link((&prev.0, &prev.1), body.as_bytes());
            let stored = (
                l["SHA-256"].as_str().unwrap_or_default().to_string(),
                l["SM3"].as_str().unwrap_or_default().to_string(),
            );
            if got != stored {
                chains.push(format!(
                    "{} 第 {} 条办理记录与哈希链不符",
                    c.archive_no,
                    i + 1
                ));
            }
            prev = stored;
            events += 1;
        }
        if links.len() != c.events || prev.1 != c.head_sm3 {
            chains.push(format!(
                "{} 的办理记录（{} 条）与目录记载（{} 条）或链末端不符",
                c.archive_no,
                links.len(),
                c.events
            ));
        }
        for e in meta["要素"].as_array().cloned().unwrap_or_default() {
            if e["内容"].as_str().is_none_or(|v| v.trim().is_empty()) {
                elements.push(format!(
                    "{} 缺少要素“{}”",
                    c.archive_no,
                    e["名称"].as_str().unwrap_or_default()
                ));
            }
        }
        let listed = meta["附件"].as_array().map(Vec::len).unwrap_or(0);
        let present = files
            .keys()
            .filter(|p| p.starts_with(&format!("{}/attachments/", c.dir)))
            .count();
        if listed != c.attachments || present != c.attachments {
            attached.push(format!(
                "{} 登记附件 {} 个，包内 {present} 个",
                c.archive_no, c.attachments
            ));
        }
    }
    out.add(
        "真实性",
        "办理记录哈希链（SHA-256、SM3）",
        chains,
        format!("{events} 条办理记录逐条重算一致，链末端与目录一致"),
    );
    out.add(
        "完整性",
        "十六项要素齐全",
        elements,
        "每份档案的要素齐全".to_string(),
    );
    out.add(
        "完整性",
        "附件齐全",
        attached,
        "登记的附件全部在包内".to_string(),
    );

    // 件号 continuous within each 档号 prefix.
    let mut pieces: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for c in &manifest.catalogue {
        if let Some((prefix, n)) = c.archive_no.rsplit_once('-') {
            if let Ok(n) = n.parse::<u32>() {
                pieces.entry(prefix.to_string()).or_default().push(n);
            }
        }
    }
    let mut gaps = Vec::new();
    for (prefix, mut ns) in pieces {
        ns.sort_unstable();
        for w in ns.windows(2) {
            if w[1] != w[0] + 1 {
                gaps.push(format!("{prefix}-{:04} 至 {:04} 之间缺号", w[0], w[1]));
            }
        }
    }
    out.add("完整性", "件号连续", gaps, "件号连续".to_string());

    // 可用性: every file in its declared format.
    let mut unusable = Vec::new();
    for (path, bytes) in files {
        let name = path.rsplit('/').next().unwrap_or(path);
        let fine = if path.contains("/attachments/") {
            let tail = &bytes[bytes.len().saturating_sub(crate::attachments::SNIFF_BYTES)..];
            crate::attachments::sniff(name, bytes, tail).is_some()
        } else if path.ends_with(".html") {
            std::str::from_utf8(bytes).is_ok_and(|t| t.contains("<html"))
        } else if path.ends_with(".json") {
            serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
        } else {
            false
        };
        if !fine {
            unusable.push(format!("{path} 不是可接受格式或无法按其格式打开"));
        }
    }
    out.add(
        "可用性",
        "文件格式（PDF、JPEG、PNG、OFD、DOC/DOCX、XLS/XLSX、HTML、JSON）",
        unusable,
        format!("{} 个文件均可按其格式打开", files.len()),
    );

    // 安全性: nothing executable.
    let mut active = Vec::new();
    for (path, bytes) in files {
        if path.contains("/attachments/") {
            if let Some(why) = active_content(path, bytes) {
                active.push(format!("{path}：{why}"));
            }
        } else if path.ends_with(".html") && contains_ci(bytes, b"<script") {
            active.push(format!("{path}：含脚本"));
        }
    }
    out.add(
        "安全性",
        "无可执行或脚本内容",
        active,
        "附件中没有可执行文件、脚本或自动执行内容".to_string(),
    );
    virus_scan(files, scanner, out);
}

/// `LIUYAN_CLAMSCAN`: the scanner run over the package's files (e.g. /usr/bin/clamscan,
/// called with `--no-summary --infected -r DIR`; exit status 0 = clean).
fn virus_scan(files: &BTreeMap<String, Vec<u8>>, scanner: Option<&str>, out: &mut Inspection) {
    let Some(scanner) = scanner.filter(|s| !s.trim().is_empty()) else {
        out.checks.push(Check {
            property: "安全性",
            item: "病毒扫描".to_string(),
            outcome: Outcome::NotRun,
            detail: "未配置扫描程序（设置 LIUYAN_CLAMSCAN 以在导出和核验时运行 clamscan）"
                .to_string(),
        });
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "liuyan-scan-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| -> std::io::Result<(bool, String)> {
        std::fs::create_dir_all(&dir)?;
        for (i, bytes) in files.values().enumerate() {
            std::fs::write(dir.join(format!("{i:06}")), bytes)?;
        }
        let o = std::process::Command::new(scanner.trim())
            .args(["--no-summary", "--infected", "-r"])
            .arg(&dir)
            .output()?;
        Ok((
            o.status.code() == Some(0),
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
        ))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let (outcome, detail) = match result {
        Ok((true, _)) => (Outcome::Pass, "未发现病毒".to_string()),
        Ok((false, found)) => (Outcome::Fail, format!("扫描发现问题：{found}")),
        Err(e) => (Outcome::Fail, format!("无法运行扫描程序 {scanner}：{e}")),
    };
    out.checks.push(Check {
        property: "安全性",
        item: "病毒扫描".to_string(),
        outcome,
        detail,
    });
}

/// Read a package and make the four checks. `public_key`: a key given from outside
/// (hex); without one, the key shipped in the package is used and the report says so.
pub fn inspect(bytes: &[u8], public_key: Option<&str>, scanner: Option<&str>) -> Inspection {
    let mut out = Inspection::default();
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            out.add(
                "可用性",
                "移交包可以打开",
                vec![format!("不是有效的 ZIP 文件：{e}")],
                String::new(),
            );
            return out;
        }
    };
    let mut all: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for i in 0..archive.len() {
        let Ok(mut f) = archive.by_index(i) else {
            unreadable.push(format!("第 {} 个文件无法读取", i + 1));
            continue;
        };
        let Ok(name) = f.name().map(|n| n.to_string()) else {
            unreadable.push(format!("第 {} 个文件的名称无法读取", i + 1));
            continue;
        };
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            unreadable.push(format!("无法读取：{name}"));
            continue;
        }
        all.insert(name, buf);
    }
    let Some(manifest_bytes) = all.remove(MANIFEST) else {
        out.add(
            "完整性",
            "清单",
            vec!["缺少清单 manifest.json".to_string()],
            String::new(),
        );
        return out;
    };
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            out.add(
                "完整性",
                "清单",
                vec![format!("清单 manifest.json 格式错误：{e}")],
                String::new(),
            );
            return out;
        }
    };
    out.unit = manifest.unit.clone();
    out.period = manifest.period.clone();

    // 真实性: the manifest's signature.
    let signature: Option<SignatureFile> = all
        .remove(SIGNATURE)
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut bad_signature = Vec::new();
    match &signature {
        None => bad_signature.push("移交包没有签名（signature.json 缺失或无法读取）".to_string()),
        Some(sig) => {
            let key = match public_key {
                Some(k) => {
                    out.key_source = format!(
                        "以给定的公钥核验（指纹 {}）",
                        signing::fingerprint(&signing_id(k))
                    );
                    if !k.trim().eq_ignore_ascii_case(sig.public_key.trim()) {
                        bad_signature.push(format!(
                            "包内附带的公钥（指纹 {}）不是给定的公钥",
                            signing::fingerprint(&sig.key_id)
                        ));
                    }
                    k.trim().to_string()
                }
                None => {
                    out.key_source = format!(
                        "以包内附带的公钥核验（指纹 {}）：只证明包内一致，请与归档文件目录或完整性核验页上印的指纹比对",
                        signing::fingerprint(&sig.key_id)
                    );
                    sig.public_key.clone()
                }
            };
            if signing::verify_with(&key, &manifest_bytes, &sig.signature).is_err() {
                bad_signature.push("清单的签名无效：清单被改动或重新计算过".to_string());
            }
        }
    }
    let key_note = out.key_source.clone();
    out.add("真实性", "清单的 SM2 签名", bad_signature, key_note);

    // 完整性: every file against the manifest.
    let mut changed = unreadable;
    for e in &manifest.files {
        match all.get(&e.path) {
            None => changed.push(format!("缺少文件：{}", e.path)),
            Some(b) => {
                if entry(&e.path, b) != *e {
                    changed.push(format!("文件被改动：{}", e.path));
                }
            }
        }
    }
    for n in all.keys() {
        if !manifest.files.iter().any(|e| &e.path == n) {
            changed.push(format!("清单之外的文件：{n}"));
        }
    }
    out.files = manifest.files.len();
    out.add(
        "完整性",
        "文件与清单一致（大小、SHA-256、SM3）",
        changed,
        format!("{} 个文件与清单一致", manifest.files.len()),
    );
    all.retain(|k, _| manifest.files.iter().any(|e| &e.path == k));
    check_contents(&manifest, &all, scanner, &mut out);
    out
}

fn signing_id(public_hex: &str) -> String {
    hex::decode(public_hex.trim())
        .map(|b| signing::key_id(&b))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            title: "t".into(),
            unit: "u".into(),
            period: "2026-11".into(),
            created_at: String::new(),
            created_by: String::new(),
            archives: 0,
            catalogue: Vec::new(),
            files: Vec::new(),
        }
    }

    fn rezip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        for (n, b) in files {
            w.start_file(*n, o).expect("f");
            w.write_all(b).expect("w");
        }
        w.finish().expect("finish").into_inner()
    }

    fn read(zip: &[u8], name: &str) -> Vec<u8> {
        let mut a = zip::ZipArchive::new(Cursor::new(zip)).expect("read");
        let mut f = a.by_name(name).expect("entry");
        let mut b = Vec::new();
        f.read_to_end(&mut b).expect("bytes");
        b
    }

    #[test]
    fn a_signed_package_verifies_and_a_recomputed_manifest_does_not() {
        let ring = signing::Keyring::ephemeral();
        let files = vec![("notes/a.json".to_string(), b"{}".to_vec())];
        let zip = write(manifest(), files, &ring).expect("zip");
        let (_, public) = ring.current();
        let ok = inspect(&zip, Some(&public), None);
        assert!(ok.problems().is_empty(), "{:?}", ok.problems());
        assert!(ok.key_source.contains("给定的公钥"));
        assert!(inspect(&zip, None, None)
            .key_source
            .contains("包内附带的公钥"));
        // The file changed and the manifest recomputed to match: the signature fails.
        let forged_file = b"{\"x\":1}".to_vec();
        let mut m: Manifest = serde_json::from_slice(&read(&zip, MANIFEST)).expect("manifest");
        m.files[0] = entry("notes/a.json", &forged_file);
        let forged = rezip(&[
            ("notes/a.json", forged_file),
            (MANIFEST, serde_json::to_vec_pretty(&m).expect("json")),
            (SIGNATURE, read(&zip, SIGNATURE)),
        ]);
        let bad = inspect(&forged, Some(&public), None);
        assert!(
            bad.problems().iter().any(|p| p.contains("清单的签名无效")),
            "{:?}",
            bad.problems()
        );
        // Re-signed with another key: the given key gives it away.
        let other = signing::Keyring::ephemeral();
        let resigned = write(
            manifest(),
            vec![("notes/a.json".into(), b"{}".to_vec())],
            &other,
        )
        .expect("zip");
        let p = inspect(&resigned, Some(&public), None).problems();
        assert!(p.iter().any(|p| p.contains("不是给定的公钥")), "{p:?}");
        assert!(!inspect(b"not a zip", None, None).problems().is_empty());
    }

    #[test]
    fn active_content_is_found() {
        assert!(active_content("a.pdf", b"%PDF-1.4 /JavaScript (app.alert)").is_some());
        assert!(active_content("run.bat", b"%PDF-1.4").is_some());
        assert!(active_content("a.pdf", b"MZ\x90\x00").is_some());
        assert!(active_content("a.pdf", b"%PDF-1.4 plain").is_none());
    }
}
