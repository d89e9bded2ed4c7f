//! Field-level form errors, shown next to each field and summarised at the top, and the
//! one cleaning every submitted value goes through.

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
pub fn read<T: serde::de::DeserializeOwned>(pairs: Vec<(String, String)>) -> Option<T> {
    let clean = serde_urlencoded::to_string(cleaned_pairs(pairs)).ok()?;
    serde_urlencoded::from_str(&clean).ok()
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
    fn invisible_and_control_characters_are_removed() {
        assert_eq!(clean_text("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(clean_text("张\u{200B}三\u{0000}\u{001B}[31m"), "张三[31m");
        assert_eq!(clean_text("第一行\r\n第二行\t完"), "第一行\r\n第二行\t完");
        assert_eq!(clean_text("\u{2067}abc\u{2069}"), "abc");
    }
}
