//! Attachments: what a file is (decided by its content, not its name), where it is
//! kept (under the data directory, never in `static/`), and its rows.
//!
//! An upload first lands in `attachments/incoming/` under a random name while its
//! SHA-256 is computed; only when the action it belongs to is committed is it moved to
//! `attachments/<year>/<random>`. A refused upload is deleted when its `Incoming` is
//! dropped, so nothing is left on disk.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::Rng;

use crate::db::schema::attachments::{self as a, dsl as ad};
use crate::db::{self, DbConn};
use crate::error::AppError;

/// The accepted types, in the words shown to users.
pub const ALLOWED: &str = "PDF、JPEG、PNG、DOC/DOCX、XLS/XLSX、OFD";
/// At most this many files with one action.
pub const MAX_FILES: usize = 10;
/// Bytes kept from the start and the end of a file for type detection.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// A recognised file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub label: &'static str,
    pub mime: &'static str,
    /// The extension a file of this kind is stored and downloaded with.
    pub ext: &'static str,
}

const PDF: Kind = Kind {
    label: "PDF",
    mime: "application/pdf",
    ext: "pdf",
};
const JPEG: Kind = Kind {
    label: "JPEG",
    mime: "image/jpeg",
    ext: "jpg",
};
const PNG: Kind = Kind {
    label: "PNG",
    mime: "image/png",
    ext: "png",
};
const DOC: Kind = Kind {
    label: "DOC",
    mime: "application/msword",
    ext: "doc",
};
const XLS: Kind = Kind {
    label: "XLS",
    mime: "application/vnd.ms-excel",
    ext: "xls",
};
const DOCX: Kind = Kind {
    label: "DOCX",
    mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ext: "docx",
};
const XLSX: Kind = Kind {
    label: "XLSX",
    mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ext: "xlsx",
};
const OFD: Kind = Kind {
    label: "OFD",
    mime: "application/ofd",
    ext: "ofd",
};

const CSV: Kind = Kind {
    label: "CSV",
    mime: "text/csv",
    ext: "csv",
};

const JSON: Kind = Kind {
    label: "JSON",
    mime: "application/json",
    ext: "json",
};

/// Decide whether an upload is a holiday calendar: a `.json` text file (no NUL bytes).
pub fn sniff_calendar(file_name: &str, head: &[u8]) -> Option<Kind> {
    let is_json = file_name.to_ascii_lowercase().ends_with(".json");
    (is_json && !head.contains(&0)).then_some(JSON)
}

/// Decide whether an upload is a spreadsheet to import: an XLSX (by content) or a CSV
/// (by name, and text without NUL bytes).
pub fn sniff_table(file_name: &str, head: &[u8], tail: &[u8]) -> Option<Kind> {
    if let Some(k) = sniff(file_name, head, tail).filter(|k| *k == XLSX) {
        return Some(k);
    }
    let is_csv = file_name.to_ascii_lowercase().ends_with(".csv");
    (is_csv && !head.contains(&0)).then_some(CSV)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Decide a file's type from its first and last bytes and its declared extension.
///
/// PDF, JPEG and PNG are recognised by their signatures alone. The two container
/// formats need the name as well: an OLE2 compound file is a DOC or an XLS, a ZIP is
/// a DOCX, an XLSX or an OFD; the container must match the extension and, for ZIP, the
/// entry names (listed at the start and again in the central directory at the end)
/// must contain the format's own part (`word/`, `xl/`, `OFD.xml`). Anything else —
/// executables, HTML, scripts, renamed archives — is refused.
pub fn sniff(file_name: &str, head: &[u8], tail: &[u8]) -> Option<Kind> {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if head.starts_with(b"%PDF-") {
        return Some(PDF);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(JPEG);
    }
    if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Some(PNG);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return match ext.as_str() {
            "doc" => Some(DOC),
            "xls" => Some(XLS),
            _ => None,
        };
    }
    if head.starts_with(b"PK\x03\x04") {
        let has = |part: &[u8]| contains(head, part) || contains(tail, part);
        return match ext.as_str() {
            "docx" if has(b"word/") => Some(DOCX),
            "xlsx" if has(b"xl/") => Some(XLSX),
            "ofd" if has(b"OFD.xml") => Some(OFD),
            _ => None,
        };
    }
    None
}

/// Whether a whole received file has the structure of its kind, beyond its first and
/// last bytes: a DOCX, XLSX or OFD is a ZIP whose central directory reads and lists the
/// format's own parts (`[Content_Types].xml` with `word/document.xml` or
/// `xl/workbook.xml`; `OFD.xml`), a DOC or XLS an OLE2 compound file whose directory
/// reads and holds the format's main stream (`WordDocument`; `Workbook` or `Book`).
/// Nothing is decompressed. PDF, JPEG, PNG and the text kinds have no container to read.
pub fn structure_holds(kind: Kind, path: &Path) -> bool {
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let file = std::io::BufReader::new(file);
    let zip_has = |parts: &[&str]| match zip::ZipArchive::new(file) {
        Ok(z) => parts.iter().all(|p| z.index_for_name(p).is_some()),
        Err(_) => false,
    };
    match kind {
        DOCX => zip_has(&["[Content_Types].xml", "word/document.xml"]),
        XLSX => zip_has(&["[Content_Types].xml", "xl/workbook.xml"]),
        OFD => zip_has(&["OFD.xml"]),
        DOC | XLS => {
            let Ok(cf) =
                cfb::CompoundFile::open(std::io::BufReader::new(match fs::File::open(path) {
                    Ok(f) => f,
                    Err(_) => return false,
                }))
            else {
                return false;
            };
            let stream = |name: &str| cf.is_stream(format!("/{name}"));
            if kind == DOC {
                stream("WordDocument")
            } else {
                stream("Workbook") || stream("Book")
            }
        }
        _ => true,
    }
}

/// Where attachment files live.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(data_dir: &Path) -> Store {
        Store {
            root: data_dir.join("attachments"),
        }
    }

    pub fn incoming_dir(&self) -> PathBuf {
        self.root.join("incoming")
    }

    pub fn path_of(&self, stored_name: &str) -> PathBuf {
        self.root.join(stored_name)
    }

    /// A fresh random name for an incoming file.
    pub fn new_incoming(&self) -> std::io::Result<PathBuf> {
        let dir = self.incoming_dir();
        fs::create_dir_all(&dir)?;
        Ok(dir.join(random_name()))
    }
}

fn random_name() -> String {
    let bytes: [u8; 16] = rand::rngs::OsRng.gen();
    hex::encode(bytes)
}

/// A received file waiting for its action to be committed. Dropping it deletes the
/// temporary file (a no-op once it has been moved into place).
#[derive(Debug)]
pub struct Incoming {
    pub original_name: String,
    pub tmp: PathBuf,
    pub size: i64,
    pub sha256: String,
    pub kind: Kind,
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Every file the database refers to (message attachments and score evidence), as
/// stored names under the attachment directory, in order.
pub fn stored_names(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let names: Vec<Name> = diesel::sql_query(
        "SELECT stored_name AS name FROM attachments \
         UNION SELECT evidence_stored AS name FROM score_entries WHERE evidence_stored IS NOT NULL \
         ORDER BY name",
    )
    .load(conn)?;
    Ok(names.into_iter().map(|n| n.name).collect())
}

/// What the store holds that the database does not know, and the clean-up of uploads
/// abandoned by a crash.
#[derive(Debug, Default)]
pub struct StoreCheck {
    /// Files in the store no record refers to (older than a few minutes: a file being
    /// placed by a transaction still running is not counted).
    pub orphans: Vec<String>,
    /// Referenced files that are not in the store.
    pub missing: Vec<String>,
    /// Temporary uploads older than a day, removed.
    pub swept: usize,
}

/// Compare the store with the records and sweep abandoned temporary uploads.
pub fn check_store(conn: &mut DbConn, store: &Store) -> QueryResult<StoreCheck> {
    let known: std::collections::BTreeSet<String> = stored_names(conn)?.into_iter().collect();
    let mut out = StoreCheck::default();
    let now = std::time::SystemTime::now();
    let age = |p: &Path| {
        fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default()
    };
    if let Ok(rd) = fs::read_dir(store.incoming_dir()) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file()
                && age(&p) > std::time::Duration::from_secs(24 * 3600)
                && fs::remove_file(&p).is_ok()
            {
                out.swept += 1;
            }
        }
    }
    let mut stack = vec![store.root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p == store.incoming_dir() {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(&store.root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            if !known.contains(&rel) && age(&p) > std::time::Duration::from_secs(600) {
                out.orphans.push(rel);
            }
        }
    }
    out.orphans.sort();
    out.missing = known
        .into_iter()
        .filter(|n| !store.path_of(n).is_file())
        .collect();
    Ok(out)
}

/// A stored file's bytes, or None when the file is not there (its record is: `verify`
/// reports it).
pub fn read_stored(path: &Path) -> Result<Option<Vec<u8>>, AppError> {
    match fs::read(path) {
        Ok(body) => Ok(Some(body)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::error!(path = %path.display(), "stored file missing");
            Ok(None)
        }
        Err(e) => Err(AppError::io(e)),
    }
}

/// Read the last `SNIFF_BYTES` of a file.
pub fn read_tail(path: &Path, size: u64) -> std::io::Result<Vec<u8>> {
    let mut f = fs::File::open(path)?;
    let start = size.saturating_sub(SNIFF_BYTES as u64);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(SNIFF_BYTES);
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Keep a user's file name printable and short; the path part is dropped.
/// The name a file is kept under: its own, with the extension of the type its content
/// was recognised as (a PDF called `invoice.hta` is kept as `invoice.pdf`).
pub fn named_as(name: &str, kind: Kind) -> String {
    if kind.ext.is_empty() {
        return name.to_string();
    }
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let ext = ext.to_ascii_lowercase();
    if ext == kind.ext || (kind.ext == "jpg" && ext == "jpeg") {
        name.to_string()
    } else if stem.is_empty() {
        format!("附件.{}", kind.ext)
    } else {
        format!("{stem}.{}", kind.ext)
    }
}

pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .filter(|c| !crate::forms::is_unwanted(*c) && !matches!(c, '"' | '<' | '>'))
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "附件".to_string()
    } else if cleaned.chars().count() > 120 {
        let ext = cleaned.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        let stem: String = cleaned.chars().take(100).collect();
        format!("{stem}….{ext}")
    } else {
        cleaned.to_string()
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = a)]
pub struct Attachment {
    pub id: i32,
    pub message_id: i32,
    pub event_seq: i32,
    pub original_name: String,
    pub stored_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: Option<i32>,
    pub uploaded_at: NaiveDateTime,
}

impl Attachment {
    /// "1.2 MB", "35 KB".
    pub fn size_text(&self) -> String {
        size_text(self.size_bytes)
    }
}

pub fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

pub fn for_message(conn: &mut DbConn, message_id: i32) -> QueryResult<Vec<Attachment>> {
    ad::attachments
        .filter(a::message_id.eq(message_id))
        .order((a::event_seq, a::id))
        .select(Attachment::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, id: i32) -> QueryResult<Option<Attachment>> {
    ad::attachments
        .find(id)
        .select(Attachment::as_select())
        .first(conn)
        .optional()
}

/// Move the files into the store and record them against one event, inside the
/// caller's transaction. The final paths are pushed to `placed` so the caller can remove
/// them if the transaction does not commit.
pub fn place(
    conn: &mut DbConn,
    store: &Store,
    message_id: i32,
    event_seq: i32,
    user_id: i32,
    files: &[Incoming],
    placed: &mut Vec<PathBuf>,
) -> Result<(), AppError> {
    let now = db::now();
    let year = crate::clock::to_china(now).format("%Y").to_string();
    for f in files {
        let stored_name = format!("{year}/{}", random_name());
        let dest = store.path_of(&stored_name);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(AppError::io)?;
        }
        fs::rename(&f.tmp, &dest).map_err(AppError::io)?;
        placed.push(dest.clone());
        // 安全性: readable by the service account only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o600)).map_err(AppError::io)?;
        }
        diesel::insert_into(ad::attachments)
            .values((
                a::message_id.eq(message_id),
                a::event_seq.eq(event_seq),
                a::original_name.eq(&f.original_name),
                a::stored_name.eq(&stored_name),
                a::content_type.eq(f.kind.mime),
                a::size_bytes.eq(f.size),
                a::sha256.eq(&f.sha256),
                a::uploaded_by.eq(user_id),
                a::uploaded_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The setting holding each unit's attachment quota in MB (0 = no limit).
pub const QUOTA_KEY: &str = "upload_quota_mb";
pub const DEFAULT_QUOTA_MB: i64 = 10 * 1024;

/// Each unit's attachment quota in MB (0 = no limit).
pub fn quota_mb(conn: &mut DbConn) -> QueryResult<i64> {
    Ok(db::get_setting(conn, QUOTA_KEY)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_QUOTA_MB))
}

/// Bytes of attachments uploaded by a unit's users.
pub fn unit_usage(conn: &mut DbConn, unit_id: i32) -> QueryResult<i64> {
    use crate::db::schema::users::dsl as u;
    ad::attachments
        .inner_join(u::users.on(a::uploaded_by.eq(u::id.nullable())))
        .filter(u::unit_id.eq(unit_id))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CAST(COALESCE(SUM(attachments.size_bytes), 0) AS BIGINT)",
        ))
        .first(conn)
}

/// Why files of `adding` bytes would take a unit over its quota, if they would.
pub fn quota_refusal(conn: &mut DbConn, unit_id: i32, adding: i64) -> QueryResult<Option<String>> {
    if adding == 0 {
        return Ok(None);
    }
    let quota = quota_mb(conn)?;
    if quota == 0 {
        return Ok(None);
    }
    let used = unit_usage(conn, unit_id)?;
    let limit = quota * 1024 * 1024;
    Ok((used + adding > limit).then(|| {
        format!(
            "本单位附件容量上限为 {}，已使用 {}，本次上传 {} 将超出上限，附件未保存。请联系安全管理员调整容量，或改为线下移交。",
            size_text(limit),
            size_text(used),
            size_text(adding)
        )
    }))
}

/// Remove files placed by a transaction that did not commit.
pub fn unplace(placed: &[PathBuf]) {
    for p in placed {
        let _ = fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_content() {
        assert_eq!(sniff("a.pdf", b"%PDF-1.7\n...", b""), Some(PDF));
        assert_eq!(sniff("photo", &[0xFF, 0xD8, 0xFF, 0xE0], b""), Some(JPEG));
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0];
        assert_eq!(sniff("x.png", &png, b""), Some(PNG));
        let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0];
        assert_eq!(sniff("报告.DOC", &ole, b""), Some(DOC));
        assert_eq!(sniff("表.xls", &ole, b""), Some(XLS));
        assert_eq!(sniff("x.exe", &ole, b""), None);
        let docx = b"PK\x03\x04....[Content_Types].xml....word/document.xml";
        assert_eq!(sniff("答复.docx", docx, b""), Some(DOCX));
        assert_eq!(sniff("答复.xlsx", docx, b""), None);
        assert_eq!(
            sniff("台账.xlsx", b"PK\x03\x04", b"..xl/workbook.xml"),
            Some(XLSX)
        );
        assert_eq!(sniff("公文.ofd", b"PK\x03\x04..OFD.xml", b""), Some(OFD));
        assert_eq!(sniff("x.zip", b"PK\x03\x04..OFD.xml", b""), None);
        // A script or a page renamed to .pdf is not a PDF.
        assert_eq!(sniff("x.pdf", b"<html><script>", b""), None);
        assert_eq!(sniff("x.pdf", b"MZ\x90\x00", b""), None);
    }

    /// A ZIP holding the named parts, as bytes.
    fn zip_of(parts: &[&str]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for p in parts {
            w.start_file(*p, zip::write::SimpleFileOptions::default())
                .expect("part");
            w.write_all(b"<x/>").expect("write");
        }
        w.finish().expect("zip").into_inner()
    }

    /// An OLE2 compound file holding the named streams, as bytes.
    fn ole_of(streams: &[&str]) -> Vec<u8> {
        use std::io::Write;
        let mut cf = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).expect("cfb");
        for s in streams {
            cf.create_stream(format!("/{s}"))
                .expect("stream")
                .write_all(&[0; 600])
                .expect("write");
        }
        cf.flush().expect("flush");
        cf.into_inner().into_inner()
    }

    #[test]
    fn containers_are_read_not_only_their_first_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let check = |kind: Kind, bytes: &[u8]| {
            let p = dir.path().join("f");
            std::fs::write(&p, bytes).expect("write");
            structure_holds(kind, &p)
        };
        let docx = zip_of(&["[Content_Types].xml", "word/document.xml"]);
        assert!(check(DOCX, &docx));
        assert!(!check(XLSX, &docx), "a Word file is not a workbook");
        assert!(check(
            XLSX,
            &zip_of(&["[Content_Types].xml", "xl/workbook.xml"])
        ));
        assert!(check(OFD, &zip_of(&["OFD.xml", "Doc_0/Document.xml"])));
        assert!(!check(OFD, &zip_of(&["ofd.txt"])));
        // The first bytes and a part's name, but no ZIP behind them.
        let fake = b"PK\x03\x04....[Content_Types].xml....word/document.xml";
        assert_eq!(sniff("答复.docx", fake, b""), Some(DOCX));
        assert!(!check(DOCX, fake));
        // A cut-off ZIP (its central directory gone).
        assert!(!check(DOCX, &docx[..docx.len() - 30]));
        assert!(check(DOC, &ole_of(&["WordDocument", "1Table"])));
        assert!(check(XLS, &ole_of(&["Workbook"])));
        assert!(
            !check(DOC, &ole_of(&["Workbook"])),
            "a workbook is not a DOC"
        );
        assert!(!check(XLS, &ole_of(&["Foo"])));
        let mut junk = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        junk.extend_from_slice(&[0x41; 2000]);
        assert_eq!(sniff("报告.doc", &junk, b""), Some(DOC));
        assert!(
            !check(DOC, &junk),
            "the OLE2 signature followed by anything"
        );
        assert!(check(PDF, b"%PDF-1.7"));
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("C:\\Users\\a\\答复.pdf"), "答复.pdf");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\"<b>.pdf"), "ab.pdf");
        assert_eq!(clean_name("  "), "附件");
        assert_eq!(size_text(1536), "2 KB");
        assert_eq!(size_text(3 * 1024 * 1024), "3.0 MB");
    }
}
