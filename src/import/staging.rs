//! Uploaded import files kept between the steps of an import (upload → mapping →
//! preview → commit) in the data directory's `imports`: named by a token that starts
//! with the uploader's id, so that nobody reaches another user's file, and swept after a
//! day. Every upload is on record in the audit log, also one never committed.

use std::path::{Path, PathBuf};

use crate::attachments::Incoming;
use crate::audit::{self, Actor};
use crate::db::DbConn;
use crate::error::AppError;
use crate::import::{self, Limits, Table};

/// Files older than this are swept at the next upload.
const KEEP_SECONDS: u64 = 86_400;

pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub fn new(data_dir: &Path) -> Staging {
        Staging {
            dir: data_dir.join("imports"),
        }
    }

    /// Keep an uploaded file for `user_id`'s next steps; returns its token. Files older
    /// than a day are swept first.
    pub fn keep(&self, user_id: i32, file: &Incoming) -> Result<String, AppError> {
        std::fs::create_dir_all(&self.dir).map_err(AppError::io)?;
        self.sweep();
        let ext = if file.kind.label == "CSV" {
            "csv"
        } else {
            "xlsx"
        };
        let token = format!("{user_id}-{}.{ext}", &file.sha256[..24]);
        std::fs::rename(&file.tmp, self.dir.join(&token)).map_err(AppError::io)?;
        Ok(token)
    }

    /// The file behind a token, if it is `user_id`'s and still kept.
    pub fn path(&self, user_id: i32, token: &str) -> Result<PathBuf, AppError> {
        let ok = token.starts_with(&format!("{user_id}-"))
            && token.len() < 80
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        let p = self.dir.join(token);
        if ok && p.exists() {
            Ok(p)
        } else {
            Err(AppError::BadRequest(
                "上传的文件已失效（超过一天或已导入），请重新上传。".to_string(),
            ))
        }
    }

    /// Read a kept file as a table (`name` is the uploaded file's name).
    pub fn table(path: &Path, name: &str, limits: &Limits) -> Result<Table, String> {
        let bytes = std::fs::read(path).map_err(|_| "文件已失效，请重新上传。".to_string())?;
        import::read(name, &bytes, limits)
    }

    /// Drop a file once imported (a file already gone is fine).
    pub fn remove(path: &Path) {
        let _ = std::fs::remove_file(path);
    }

    fn sweep(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in rd.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > KEEP_SECONDS);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The audit row of an upload (`platform` as chosen on the form).
pub fn record_upload(
    conn: &mut DbConn,
    actor: &Actor,
    file: &Incoming,
    platform: &str,
) -> Result<(), AppError> {
    audit::record(
        conn,
        actor,
        "import_upload",
        &format!("上传导入文件“{}”（{platform}）", file.original_name),
        audit::OK,
        &format!(
            "{}，SHA-256 {}",
            crate::attachments::size_text(file.size),
            file.sha256
        ),
    )?;
    Ok(())
}
