//! Request extraction that answers in Chinese: the site's own `Query` (an empty value
//! means "not given"), the query-string builder every link uses (it leaves empty values
//! out), and the error handlers that turn any failed extraction of a path, query, form
//! or JSON body into the site's error page instead of actix's English `text/plain`.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::AppError;

const UNREADABLE_FORM: &str =
    "提交的表单内容无法识别（字段缺失或格式不对）。请返回表单页面，刷新后重新填写提交。";

/// What to do after a malformed address.
const REENTER: &str =
    "请返回上一页，从页面上的链接或按钮重新进入；手工修改过网址的，请改回后重试。";

/// A query string deserialized after dropping the parameters with empty values, so an
/// empty `?before=` or a cleared `年度` field means the parameter was not given.
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Parse a query string, empty values left out.
pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).map_err(|_| bad_query())?;
    let given: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let cleaned = serde_urlencoded::to_string(&given).map_err(|_| bad_query())?;
    serde_urlencoded::from_str(&cleaned).map_err(|_| bad_query())
}

fn bad_query() -> AppError {
    AppError::BadRequest(format!(
        "网址中的查询条件有误（例如页码、年度或编号不是数字，日期格式不对）。{REENTER}"
    ))
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// A query string for a link: `key=value` pairs, empty values left out, percent-encoded.
/// Starts with `?` unless nothing is left.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let given: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    match serde_urlencoded::to_string(&given) {
        Ok(s) if !s.is_empty() => format!("?{s}"),
        _ => String::new(),
    }
}

/// Error handlers for the extractors of actix-web itself (paths, queries, forms, JSON),
/// registered once on the application.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|_, _| bad_query().into()))
        .app_data(web::FormConfig::default().error_handler(|e, _| {
            use actix_web::error::UrlencodedError as U;
            match e {
                U::Overflow { .. } | U::UnknownLength => AppError::PayloadTooLarge.into(),
                _ => AppError::BadRequest(UNREADABLE_FORM.to_string()).into(),
            }
        }))
        .app_data(web::JsonConfig::default().error_handler(|_, _| {
            AppError::BadRequest("提交的数据格式不正确。请刷新页面后重试。".to_string()).into()
        }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Q {
        page: Option<i64>,
        before: Option<i32>,
        #[serde(default)]
        q: String,
    }

    #[test]
    fn empty_values_are_not_given_and_bad_ones_are_a_chinese_error() {
        let q: Q = parse_query("before=&page=2&q=").expect("parses");
        assert_eq!((q.page, q.before, q.q.as_str()), (Some(2), None, ""));
        let q: Q = parse_query("q=%E8%B7%AF%E7%81%AF").expect("parses");
        assert_eq!(q.q, "路灯");
        match parse_query::<Q>("page=abc") {
            Err(AppError::BadRequest(m)) => assert!(m.contains("页码")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn links_leave_empty_values_out() {
        assert_eq!(
            query(&[("before", ""), ("state", "待签收"), ("page", "2")]),
            "?state=%E5%BE%85%E7%AD%BE%E6%94%B6&page=2"
        );
        assert_eq!(query(&[("before", "")]), "");
    }
}
