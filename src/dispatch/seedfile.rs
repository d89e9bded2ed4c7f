//! Labelled CSV files (`liuyan classify --train/--eval`): a label column (一级分类, 一级标签,
//! 类别, label) and either one text column (文本, text) or a title and a body (留言主题 /
//! 标题 / 主题 and 留言详情 / 内容 / 详情). UTF-8, with or without BOM.

use super::model::Labelled;

const LABEL: &[&str] = &["一级分类", "一级标签", "类别", "分类", "label"];
const TEXT: &[&str] = &["文本", "text"];
const TITLE: &[&str] = &["留言主题", "标题", "主题", "信件标题", "title"];
const BODY: &[&str] = &["留言详情", "内容", "详情", "信件内容", "body"];

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&h.trim()))
}

/// Read one labelled file; rows without a label or text are skipped.
pub fn read(bytes: &[u8]) -> Result<Vec<Labelled>, String> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = r
        .headers()
        .map_err(|e| format!("读取表头失败：{e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let label = find(&header, LABEL).ok_or("找不到类别列（一级分类）")?;
    let (text, title, body) = (
        find(&header, TEXT),
        find(&header, TITLE),
        find(&header, BODY),
    );
    if text.is_none() && title.is_none() && body.is_none() {
        return Err("找不到文本列（文本，或留言主题与留言详情）".into());
    }
    let mut out = Vec::new();
    for row in r.records() {
        let row = row.map_err(|e| format!("读取第 {} 行失败：{e}", out.len() + 2))?;
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).unwrap_or("").trim().to_string();
        let l = get(Some(label));
        let (t, b) = match text {
            Some(_) => (String::new(), get(text)),
            None => (get(title), get(body)),
        };
        if l.is_empty() || (t.is_empty() && b.is_empty()) {
            continue;
        }
        out.push(Labelled {
            title: t,
            body: b,
            labels: vec![l],
            weight: 1.0,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_both_layouts() {
        let a =
            super::read("一级分类,文本\n教育文体,\"学校, 收费\"\n,空\n".as_bytes()).expect("reads");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].body, "学校, 收费");
        let b = super::read(
            "\u{feff}留言编号,留言主题,留言详情,一级分类\n1,标题,内容,城乡建设\n".as_bytes(),
        )
        .expect("reads");
        assert_eq!(
            (b[0].title.as_str(), b[0].labels[0].as_str()),
            ("标题", "城乡建设")
        );
        assert!(super::read("a,b\n1,2\n".as_bytes()).is_err());
    }
}
