//! Spreadsheet downloads (statistics, lists, exports): CSV with a byte-order mark, or
//! XLSX written row by row in constant memory.

use actix_web::HttpResponse;

use crate::error::AppError;

/// A spreadsheet written row by row: CSV, or XLSX in constant-memory mode (finished rows
/// go to a temporary file), so that an export of any length holds one chunk of rows at a
/// time, not all of them.
pub enum Sheet {
    Csv(Box<csv::Writer<Vec<u8>>>),
    /// The workbook and the next row to write.
    Xlsx(Box<rust_xlsxwriter::Workbook>, u32),
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::internal(e)
}

impl Sheet {
    /// A CSV with a byte-order mark (so that Excel reads it as UTF-8) and the header row.
    pub fn csv(headers: &[&str]) -> Result<Sheet, AppError> {
        let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
        w.write_record(headers).map_err(AppError::internal)?;
        Ok(Sheet::Csv(Box::new(w)))
    }

    /// An XLSX with a title row and bold headers.
    pub fn xlsx(title: &str, headers: &[&str]) -> Result<Sheet, AppError> {
        use rust_xlsxwriter::{Format, FormatBorder, Workbook};
        let mut wb = Workbook::new();
        let ws = wb
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_error)?;
        for (i, h) in headers.iter().enumerate() {
            ws.set_column_width(i as u16, (h.chars().count() as f64 * 2.2).max(10.0))
                .map_err(xlsx_error)?;
        }
        ws.write(0, 0, title).map_err(xlsx_error)?;
        let head = Format::new().set_bold().set_border(FormatBorder::Thin);
        for (i, h) in headers.iter().enumerate() {
            ws.write_with_format(1, i as u16, *h, &head)
                .map_err(xlsx_error)?;
        }
        Ok(Sheet::Xlsx(Box::new(wb), 2))
    }

    /// The next row. In XLSX, counts and averages become numbers; codes such as 0851…
    /// stay text.
    pub fn push(&mut self, row: &[String]) -> Result<(), AppError> {
        match self {
            Sheet::Csv(w) => w
                .write_record(row.iter().map(|v| csv_safe(v).into_owned()))
                .map_err(AppError::internal),
            Sheet::Xlsx(wb, next) => {
                let ws = wb.worksheet_from_index(0).map_err(xlsx_error)?;
                for (c, v) in row.iter().enumerate() {
                    let numeric = (v == "0" || !v.starts_with('0') || v.starts_with("0."))
                        && v.chars().all(|ch| ch.is_ascii_digit() || ch == '.');
                    match v.parse::<f64>() {
                        Ok(n) if numeric => ws.write(*next, c as u16, n).map_err(xlsx_error)?,
                        _ => ws.write(*next, c as u16, v).map_err(xlsx_error)?,
                    };
                }
                *next += 1;
                Ok(())
            }
        }
    }

    /// The finished file, offered as a download under `name`.
    pub fn download(self, name: &str) -> Result<HttpResponse, AppError> {
        let (bytes, kind, fallback) = match self {
            Sheet::Csv(w) => (
                w.into_inner().map_err(AppError::internal)?,
                "text/csv; charset=utf-8",
                "export.csv",
            ),
            Sheet::Xlsx(mut wb, _) => (
                wb.save_to_buffer().map_err(xlsx_error)?,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "export.xlsx",
            ),
        };
        Ok(crate::web::download(fallback, name, kind, bytes))
    }
}

/// A CSV cell that a spreadsheet will not run as a formula (OWASP “CSV injection”):
/// text beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`.
/// Plain numbers (a negative count, say) stay as they are.
pub fn csv_safe(v: &str) -> std::borrow::Cow<'_, str> {
    let risky = v.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = v.parse::<f64>().is_ok() && !v.starts_with('+');
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{v}"))
    } else {
        std::borrow::Cow::Borrowed(v)
    }
}

/// A CSV download of a whole table.
pub fn csv_response(
    name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<HttpResponse, AppError> {
    let mut sheet = Sheet::csv(headers)?;
    for r in rows {
        sheet.push(r)?;
    }
    sheet.download(name)
}

/// An XLSX download of a whole table: a title row, bold headers, numbers as numbers.
pub fn xlsx_response(
    name: &str,
    title: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<HttpResponse, AppError> {
    let mut sheet = Sheet::xlsx(title, headers)?;
    for r in rows {
        sheet.push(r)?;
    }
    sheet.download(name)
}

#[cfg(test)]
mod tests {
    use super::csv_safe;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for payload in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "=cmd|' /C calc'!A0",
            "+1+1",
            "@SUM(1)",
            "-1+2",
            "\t=1",
            "\r=1",
            "+86",
        ] {
            assert_eq!(csv_safe(payload), format!("'{payload}"), "{payload:?}");
        }
        for plain in ["张三", "-3", "-0.5", "12", "安网留〔2026〕0301号", ""] {
            assert_eq!(csv_safe(plain), plain);
        }
    }
}
