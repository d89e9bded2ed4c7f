//! Field-level form errors, shown next to each field and summarised at the top, the one
//! cleaning every submitted value goes through, and what was typed kept for an error page.

use futures_util::StreamExt;

use crate::error::AppError;

/// Characters no clerk types and that make text lie about itself: bidi overrides and
/// isolates (U+202A–202E, U+2066–2069: `invoice` + U+202E + `fdp.exe` shows as `invoiceexe.pdf`), other
/// invisible formatting (zero-width spaces and joiners, marks, the BOM), and control
/// characters other than tab and line breaks (a NUL cannot be stored on PostgreSQL; ESC
/// and BEL would reach the page raw).
pub fn is_unwanted(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}'
        | '\u{2060}'..='\u{2064}' | '\u{061C}' | '\u{FEFF}' | '\u{00AD}')
        || (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// A submitted value without the characters `is_unwanted` names.
pub fn clean_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(is_unwanted) {
        std::borrow::Cow::Owned(s.chars().filter(|c| !is_unwanted(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A submitted form read into the handler's type, every value cleaned first: the one way
/// form input enters the application (plain and multipart forms alike).
/// What the user typed is remembered for the request, so that the error page of an
/// action that could not be saved shows it again.
pub fn read<T: serde::de::DeserializeOwned>(pairs: Vec<(String, String)>) -> Option<T> {
    let pairs = cleaned_pairs(pairs);
    crate::error::remember_typed(typed_text(&pairs));
    let clean = serde_urlencoded::to_string(pairs).ok()?;
    serde_urlencoded::from_str(&clean).ok()
}

/// The fields people type text into (not choices, tokens or passwords), with the label
/// the forms give them.
const TYPED_FIELDS: [(&str, &str); 15] = [
    ("title", "标题"),
    ("complainant_name", "反映人"),
    ("complainant_contact", "联系方式"),
    ("platform_ref", "平台编号"),
    ("appeal", "诉求"),
    ("text", "填写的文字"),
    ("body", "正文"),
    ("reason", "理由"),
    ("note", "说明"),
    ("value", "内容"),
    ("name", "名称"),
    ("display_name", "姓名"),
    ("report_ref_no", "呈报文号"),
    ("evidence_ref", "证明材料文号"),
    ("original_no", "原件编号"),
];

/// The typed text of a submitted form, labelled, empty fields left out.
pub fn typed_text(pairs: &[(String, String)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .filter_map(|(k, v)| {
            TYPED_FIELDS
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, label)| (*label, clean_text(v).into_owned()))
        })
        .collect()
}

fn cleaned_pairs(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = match clean_text(&v) {
                std::borrow::Cow::Borrowed(_) => v,
                std::borrow::Cow::Owned(c) => c,
            };
            (k, v)
        })
        .collect()
}

/// The most text a form may carry, all its fields together (its files aside).
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// Remember the text fields of a plain form submission before anything else reads the
/// request: whichever step then fails (the session, the user's record, the action), its
/// error page shows what was typed. The body is read into memory (its declared length
/// within `MAX_TEXT_BYTES`, as the form reader would) and handed on unchanged.
pub async fn keep_typed(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::{http::header, HttpMessage};
    let plain_form = req.method() == actix_web::http::Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let Some(length) = length.filter(|n| plain_form && *n <= MAX_TEXT_BYTES) else {
        return next.call(req).await;
    };
    let mut payload = req.take_payload();
    let mut body = actix_web::web::BytesMut::with_capacity(length);
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) if body.len() + chunk.len() <= MAX_TEXT_BYTES => {
                body.extend_from_slice(&chunk)
            }
            // Too long or broken: the form reader gives its own answer to what arrived.
            _ => break,
        }
    }
    let body = body.freeze();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    crate::error::remember_typed(typed_text(&pairs));
    req.set_payload(actix_web::dev::Payload::from(body));
    next.call(req).await
}

/// The answer to a request whose session could not be read (the database is
/// unavailable): 503, nothing done, and the text fields of a multipart form (files are
/// read past, never stored) remembered for the error page; a plain form's were
/// remembered by `keep_typed` already.
pub async fn unavailable(
    req: &actix_web::HttpRequest,
    payload: actix_web::dev::Payload,
) -> AppError {
    let is_multipart = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if req.method() != actix_web::http::Method::POST || !is_multipart {
        return AppError::Unavailable("session unreadable: the request was not carried out".into());
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut mp = actix_multipart::Multipart::new(req.headers(), payload);
    let mut text_bytes = 0usize;
    'fields: while let Some(Ok(mut field)) = mp.next().await {
        let name = field.name().unwrap_or("").to_string();
        let is_file = field
            .content_disposition()
            .is_some_and(|cd| cd.get_filename().is_some());
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let Ok(chunk) = chunk else { break 'fields };
            if !is_file {
                text_bytes += chunk.len();
                if text_bytes > MAX_TEXT_BYTES {
                    break 'fields;
                }
                value.extend_from_slice(&chunk);
            }
        }
        if !is_file {
            pairs.push((name, String::from_utf8_lossy(&value).into_owned()));
        }
    }
    crate::error::remember_typed(typed_text(&pairs));
    AppError::Unavailable("session unreadable: the request was not carried out".into())
}

#[derive(Default, Debug, Clone)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: &str) {
        self.0.push((field.to_string(), message.to_string()));
    }

    /// The first error of a field.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Add all of `other`'s errors after these.
    pub fn merge(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn messages(&self) -> Vec<&str> {
        self.0.iter().map(|(_, m)| m.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::clean_text;

    #[test]
    fn typed_text_keeps_what_people_type_and_nothing_secret() {
        let pairs: Vec<(String, String)> = [
            ("csrf_token", "t0ken"),
            ("title", "路灯不亮"),
            ("password", "s3cret"),
            ("category", "城乡建设"),
            ("note", ""),
            ("text", "已派人维修。"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            super::typed_text(&pairs),
            vec![
                ("标题", "路灯不亮".to_string()),
                ("填写的文字", "已派人维修。".to_string())
            ]
        );
    }

    #[test]
    fn invisible_and_control_characters_are_removed() {
        assert_eq!(clean_text("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(clean_text("张\u{200B}三\u{0000}\u{001B}[31m"), "张三[31m");
        assert_eq!(clean_text("第一行\r\n第二行\t完"), "第一行\r\n第二行\t完");
        assert_eq!(clean_text("\u{2067}abc\u{2069}"), "abc");
    }
}
