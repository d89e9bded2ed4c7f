//! The export package for long-term preservation and handover: one ZIP holding each
//! archive as a self-contained HTML page, its metadata as JSON and its attachments, with
//! `manifest.json` listing every file's size, SHA-256 and SM3. `verify` re-reads a
//! package and reports any missing, added or changed file.

use std::io::{Cursor, Read, Write};

use serde::{Deserialize, Serialize};

use crate::archive::chain;
use crate::error::AppError;

pub const MANIFEST: &str = "manifest.json";

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub sm3: String,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Manifest {
    pub title: String,
    pub unit: String,
    pub period: String,
    pub created_at: String,
    pub created_by: String,
    pub archives: usize,
    pub files: Vec<Entry>,
}

/// Write the files and their manifest into a ZIP.
pub fn write(mut manifest: Manifest, files: Vec<(String, Vec<u8>)>) -> Result<Vec<u8>, AppError> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    manifest.files.clear();
    for (path, bytes) in &files {
        let (sha256, sm3) = chain::digests(bytes);
        manifest.files.push(Entry {
            path: path.clone(),
            size: bytes.len() as u64,
            sha256,
            sm3,
        });
        zip.start_file(path.as_str(), opts)
            .map_err(AppError::internal)?;
        zip.write_all(bytes).map_err(AppError::internal)?;
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(AppError::internal)?;
    zip.start_file(MANIFEST, opts).map_err(AppError::internal)?;
    zip.write_all(&json).map_err(AppError::internal)?;
    let cursor = zip.finish().map_err(AppError::internal)?;
    Ok(cursor.into_inner())
}

/// Check a package against its manifest; returns the problems found (empty = intact)
/// and the number of files checked.
pub fn verify(bytes: &[u8]) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => return (vec![format!("不是有效的 ZIP 文件：{e}")], 0),
    };
    let manifest: Manifest = match archive.by_name(MANIFEST) {
        Ok(mut f) => {
            let mut s = String::new();
            if f.read_to_string(&mut s).is_err() {
                return (vec!["清单 manifest.json 无法读取".to_string()], 0);
            }
            match serde_json::from_str(&s) {
                Ok(m) => m,
                Err(e) => return (vec![format!("清单 manifest.json 格式错误：{e}")], 0),
            }
        }
        Err(_) => return (vec!["缺少清单 manifest.json".to_string()], 0),
    };
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .collect();
    for entry in &manifest.files {
        let mut f = match archive.by_name(&entry.path) {
            Ok(f) => f,
            Err(_) => {
                problems.push(format!("缺少文件：{}", entry.path));
                continue;
            }
        };
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            problems.push(format!("无法读取：{}", entry.path));
            continue;
        }
        let (sha, sm3) = chain::digests(&buf);
        if sha != entry.sha256 || sm3 != entry.sm3 || buf.len() as u64 != entry.size {
            problems.push(format!("文件被改动：{}", entry.path));
        }
    }
    for n in &names {
        if n != MANIFEST && !manifest.files.iter().any(|e| &e.path == n) {
            problems.push(format!("清单之外的文件：{n}"));
        }
    }
    (problems, manifest.files.len())
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
            archives: 1,
            files: Vec::new(),
        }
    }

    #[test]
    fn a_package_verifies_and_a_changed_one_does_not() {
        let files = vec![
            ("a/archive.html".to_string(), b"<html>".to_vec()),
            ("a/metadata.json".to_string(), b"{}".to_vec()),
        ];
        let zip = write(manifest(), files).expect("zip");
        let (problems, n) = verify(&zip);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(n, 2);
        // Rebuild with one file's content swapped but the old manifest kept.
        let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).expect("read");
        let mut m = String::new();
        archive
            .by_name(MANIFEST)
            .expect("manifest")
            .read_to_string(&mut m)
            .expect("text");
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        w.start_file("a/archive.html", o).expect("f");
        w.write_all(b"<html>forged").expect("w");
        w.start_file("extra.txt", o).expect("f");
        w.write_all(b"x").expect("w");
        w.start_file(MANIFEST, o).expect("f");
        w.write_all(m.as_bytes()).expect("w");
        let forged = w.finish().expect("finish").into_inner();
        let (problems, _) = verify(&forged);
        assert!(problems
            .iter()
            .any(|p| p.contains("文件被改动：a/archive.html")));
        assert!(problems
            .iter()
            .any(|p| p.contains("缺少文件：a/metadata.json")));
        assert!(problems
            .iter()
            .any(|p| p.contains("清单之外的文件：extra.txt")));
        assert!(!verify(b"not a zip").0.is_empty());
    }
}
