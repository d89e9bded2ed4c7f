//! CSRF protection: a per-session token in a hidden field of every form (the `csrf`
//! macro in `templates/macros.html`), compared in constant time, plus refusal of
//! cross-site requests by `Sec-Fetch-Site`/`Origin`. Every POST handler takes its form
//! through `CsrfForm`, so no POST escapes the check.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::AppError;

pub const SESSION_KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";

/// The session's token, created on first use.
pub fn ensure_token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session
        .get::<String>(SESSION_KEY)
        .map_err(AppError::internal)?
    {
        return Ok(t);
    }
    let t = new_token();
    session
        .insert(SESSION_KEY, &t)
        .map_err(AppError::internal)?;
    Ok(t)
}

pub fn new_token() -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect()
}

/// Refuse requests a browser marks as cross-site, and requests whose `Origin` is not
/// this site.
pub fn check_origin(req: &HttpRequest) -> Result<(), AppError> {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if site != "same-origin" && site != "none" {
            return Err(AppError::Csrf);
        }
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        // Against LIUYAN_PUBLIC_URL or the Host header: never a forwarded host a client
        // could send.
        let host = crate::auth::client::host(req);
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
        if origin_host != host {
            return Err(AppError::Csrf);
        }
    }
    Ok(())
}

/// Compare the submitted token with the session's, in constant time.
pub fn verify(session: &Session, submitted: Option<&str>) -> Result<(), AppError> {
    let expected = session
        .get::<String>(SESSION_KEY)
        .map_err(AppError::internal)?;
    match (expected, submitted) {
        (Some(e), Some(s)) if bool::from(e.as_bytes().ct_eq(s.as_bytes())) => Ok(()),
        _ => Err(AppError::Csrf),
    }
}

#[derive(Deserialize)]
struct TokenOnly {
    csrf_token: Option<String>,
}

/// An url-encoded form that passed the origin and token checks.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            check_origin(&req)?;
            if crate::auth::session_store::unreadable(&req.get_session()) {
                return Err(crate::forms::unavailable(&req, payload).await);
            }
            let body = web::Bytes::from_request(&req, &mut payload)
                .await
                .map_err(|_| AppError::PayloadTooLarge)?;
            let token = serde_urlencoded::from_bytes::<TokenOnly>(&body)
                .ok()
                .and_then(|t| t.csrf_token);
            verify(&req.get_session(), token.as_deref())?;
            let bad =
                || AppError::BadRequest("提交的表单格式有误，请返回上一页重新填写。".to_string());
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|_| bad())?;
            crate::forms::read::<T>(pairs).map(CsrfForm).ok_or_else(bad)
        })
    }
}
