//! Forms that may carry files (`multipart/form-data`): the text fields, checked for CSRF
//! like every other form, and the files, streamed to disk under a size limit with their
//! SHA-256 and their type decided by content. A plain url-encoded post of the same form
//! is accepted too (no files), so the same handler serves both.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use actix_multipart::Multipart;
use actix_session::SessionExt;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::attachments::{self, Incoming, Store, ALLOWED, MAX_FILES, SNIFF_BYTES};
use crate::auth::csrf::{check_origin, verify, FIELD};
use crate::auth::session_store::UID_KEY;
use crate::error::AppError;
use crate::web::AppState;

/// Which files a form accepts.
pub trait Policy {
    const ALLOWED: &'static str;
    fn accept(name: &str, head: &[u8], tail: &[u8]) -> Option<attachments::Kind>;
}

/// Attachments of messages and evidence: documents and images.
pub struct Documents;

impl Policy for Documents {
    const ALLOWED: &'static str = ALLOWED;
    fn accept(name: &str, head: &[u8], tail: &[u8]) -> Option<attachments::Kind> {
        attachments::sniff(name, head, tail)
    }
}

/// Files to import: XLSX or CSV.
pub struct Spreadsheets;

impl Policy for Spreadsheets {
    const ALLOWED: &'static str = "Excel（.xlsx）或 CSV";
    fn accept(name: &str, head: &[u8], tail: &[u8]) -> Option<attachments::Kind> {
        attachments::sniff_table(name, head, tail)
    }
}

/// A holiday calendar as JSON.
pub struct Calendars;

impl Policy for Calendars {
    const ALLOWED: &'static str = "JSON（.json）";
    fn accept(name: &str, head: &[u8], _tail: &[u8]) -> Option<attachments::Kind> {
        attachments::sniff_calendar(name, head)
    }
}

/// A CSRF-checked form with its files. `file_errors` lists files that were refused
/// (too large, wrong type); they left nothing on disk.
pub struct CsrfUpload<T, P: Policy = Documents> {
    pub form: T,
    pub files: Vec<Incoming>,
    pub file_errors: Vec<String>,
    _policy: std::marker::PhantomData<P>,
}

fn bad_form() -> AppError {
    AppError::BadRequest("提交的表单格式有误，请返回上一页重新填写。".to_string())
}

impl<T: DeserializeOwned + 'static, P: Policy + 'static> FromRequest for CsrfUpload<T, P> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            check_origin(&req)?;
            let session = req.get_session();
            if crate::auth::session_store::unreadable(&session) {
                return Err(crate::forms::unavailable(&req, payload).await);
            }
            if session.get::<i32>(UID_KEY).ok().flatten().is_none() {
                return Err(AppError::LoginRequired);
            }
            let is_multipart = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("multipart/form-data"));
            if !is_multipart {
                let body = web::Bytes::from_request(&req, &mut payload)
                    .await
                    .map_err(|_| AppError::PayloadTooLarge)?;
                let pairs: Vec<(String, String)> =
                    serde_urlencoded::from_bytes(&body).map_err(|_| bad_form())?;
                let token = pairs.iter().find(|(k, _)| k == FIELD).map(|(_, v)| v);
                verify(&session, token.map(String::as_str))?;
                let form = crate::forms::read::<T>(pairs).ok_or_else(bad_form)?;
                return Ok(CsrfUpload {
                    form,
                    files: Vec::new(),
                    file_errors: Vec::new(),
                    _policy: std::marker::PhantomData,
                });
            }
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| AppError::internal("app state missing"))?;
            let limit = state.config.max_upload_mb * 1024 * 1024;
            let store = Store::new(&state.config.data_dir);
            let mut mp = Multipart::new(req.headers(), payload);
            let mut pairs: Vec<(String, String)> = Vec::new();
            let mut text_bytes = 0usize;
            let mut verified = false;
            let mut files = Vec::new();
            let mut file_errors = Vec::new();
            while let Some(field) = mp.next().await {
                let mut field = field.map_err(|_| bad_form())?;
                let name = field.name().unwrap_or("").to_string();
                let file_name = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .map(str::to_string);
                let Some(file_name) = file_name else {
                    let mut value = Vec::new();
                    while let Some(chunk) = field.next().await {
                        let chunk = chunk.map_err(|_| bad_form())?;
                        text_bytes += chunk.len();
                        if text_bytes > crate::forms::MAX_TEXT_BYTES {
                            return Err(AppError::PayloadTooLarge);
                        }
                        value.extend_from_slice(&chunk);
                    }
                    let value = String::from_utf8(value).map_err(|_| bad_form())?;
                    if name == FIELD {
                        verify(&session, Some(&value))?;
                        verified = true;
                    }
                    pairs.push((name, value));
                    continue;
                };
                // No file may touch the disk before the form is known to be genuine.
                if !verified {
                    return Err(AppError::Csrf);
                }
                // Should the file not be stored (a full disk), the error page shows what
                // was typed so far.
                crate::error::remember_typed(crate::forms::typed_text(&pairs));
                let shown = attachments::clean_name(&file_name);
                if file_name.is_empty() {
                    // An empty file input: the browser sends an empty part.
                    while let Some(chunk) = field.next().await {
                        chunk.map_err(|_| bad_form())?;
                    }
                    continue;
                }
                if files.len() >= MAX_FILES {
                    file_errors.push(format!(
                        "一次最多上传 {MAX_FILES} 个附件，“{shown}”未上传。"
                    ));
                    while let Some(chunk) = field.next().await {
                        chunk.map_err(|_| bad_form())?;
                    }
                    continue;
                }
                let tmp = store.new_incoming().map_err(AppError::io)?;
                let mut out = std::fs::File::create(&tmp).map_err(AppError::io)?;
                let mut incoming = Incoming {
                    original_name: shown.clone(),
                    tmp,
                    size: 0,
                    sha256: String::new(),
                    kind: attachments::Kind {
                        label: "",
                        mime: "",
                        ext: "",
                    },
                };
                let mut hasher = Sha256::new();
                let mut head: Vec<u8> = Vec::new();
                let mut size: u64 = 0;
                let mut too_large = false;
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|_| bad_form())?;
                    if too_large {
                        continue;
                    }
                    size += chunk.len() as u64;
                    if size > limit {
                        too_large = true;
                        continue;
                    }
                    if head.len() < SNIFF_BYTES {
                        let take = (SNIFF_BYTES - head.len()).min(chunk.len());
                        head.extend_from_slice(&chunk[..take]);
                    }
                    hasher.update(&chunk);
                    out.write_all(&chunk).map_err(AppError::io)?;
                }
                if too_large {
                    file_errors.push(format!(
                        "“{shown}”超过 {} MB，未上传。请压缩或拆分后重新选择。",
                        state.config.max_upload_mb
                    ));
                    continue; // `incoming` is dropped: the partial file is deleted.
                }
                if size == 0 {
                    file_errors.push(format!("“{shown}”是空文件，未上传。"));
                    continue;
                }
                out.sync_all().map_err(AppError::io)?;
                drop(out);
                let tail = attachments::read_tail(&incoming.tmp, size).map_err(AppError::io)?;
                let kind = P::accept(&shown, &head, &tail)
                    .filter(|k| attachments::structure_holds(*k, &incoming.tmp));
                match kind {
                    Some(kind) => {
                        incoming.kind = kind;
                        incoming.original_name = attachments::named_as(&shown, kind);
                        incoming.size = size as i64;
                        incoming.sha256 = hex::encode(hasher.finalize());
                        files.push(incoming);
                    }
                    None => file_errors.push(format!(
                        "“{shown}”的文件类型不被接受，未上传。只接受 {}。",
                        P::ALLOWED
                    )),
                }
            }
            if !verified {
                return Err(AppError::Csrf);
            }
            let form = crate::forms::read::<T>(pairs).ok_or_else(bad_form)?;
            Ok(CsrfUpload {
                form,
                files,
                file_errors,
                _policy: std::marker::PhantomData,
            })
        })
    }
}
