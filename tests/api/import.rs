//! Importing platform exports: the real 泰迪杯 2020 files from ../shared/data (skipped
//! with a note when absent, required when CI=true), an import with a bad row committing
//! nothing, and an export that round-trips through the importer.

use std::path::PathBuf;

use reqwest::StatusCode;

use crate::helpers::{csrf_of, location, spawn_app, Browser};
use crate::lifecycle::unit_id;

fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.join("taidi2020_replies.xlsx").exists() {
        return Some(dir);
    }
    crate::helpers::skip(
        "真实数据导入测试",
        "未找到 ../shared/data（仓库旁的共享数据目录）。",
    );
    None
}

/// Hidden inputs and selected options of a form page, as (name, value).
fn form_values(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" name=\"").skip(1) {
        if let Some((name, rest)) = part.split_once('"') {
            if let Some(v) = rest
                .split("value=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
            {
                // The page's other forms (log-out) repeat the token: keep one of each.
                if !out.iter().any(|(n, _): &(String, String)| n == name) {
                    out.push((name.to_string(), v.replace("&#38;", "&")));
                }
            }
        }
    }
    for part in html.split("<select id=\"map_").skip(1) {
        let name = format!("map_{}", part.split('"').next().unwrap_or(""));
        let block = part.split("</select>").next().unwrap_or("");
        let chosen = block
            .split("<option value=\"")
            .skip(1)
            .find(|o| o.contains("\" selected"))
            .and_then(|o| o.split('"').next())
            .unwrap_or("")
            .to_string();
        out.push((name, chosen));
    }
    out
}

/// Upload, accept the proposed mapping, preview; returns the preview page and the form it
/// offers (to commit, or to check again with another mapping).
pub async fn upload_and_preview(
    b: &Browser,
    name: &str,
    bytes: &[u8],
    platform: &str,
    category: &str,
    reply_unit: &str,
) -> (StatusCode, String, Vec<(String, String)>) {
    let (_, page) = b.page("/import").await;
    let token = csrf_of(&page).expect("token");
    let r = b
        .post_multipart(
            "/import",
            &[
                ("csrf_token", &token),
                ("platform", platform),
                ("level", "市级"),
                ("category", category),
                ("reply_unit", reply_unit),
            ],
            &[("files", name, bytes)],
        )
        .await;
    let status = r.status();
    let map = r.text().await.expect("map page");
    assert_eq!(
        status,
        StatusCode::OK,
        "upload {name}: {}",
        map.split("class=\"flash")
            .nth(1)
            .unwrap_or(&map)
            .chars()
            .take(300)
            .collect::<String>()
    );
    let fields = form_values(&map);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = b.post_raw("/import/preview", &pairs).await;
    let status = r.status();
    let html = r.text().await.expect("preview");
    let fields = form_values(&html);
    (status, html, fields)
}

pub async fn commit(b: &Browser, fields: &[(String, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post_raw("/import/commit", &pairs).await
}

#[tokio::test]
async fn the_real_platform_exports_import_correctly() {
    let Some(dir) = shared_data() else { return };
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = unit_id(&app, "安顺市西秀区");

    // 附件4: 2,816 messages with their replies (one real Excel date cell among strings).
    let bytes = std::fs::read(dir.join("taidi2020_replies.xlsx")).expect("file");
    let started = std::time::Instant::now();
    let (status, preview, fields) = upload_and_preview(
        &center,
        "taidi2020_replies.xlsx",
        &bytes,
        "其他",
        "城乡建设",
        &xixiu,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        &preview[..preview.len().min(3000)]
    );
    assert!(
        preview.contains("可导入 <strong>2816</strong> 行"),
        "{}",
        &preview[..3000.min(preview.len())]
    );
    let r = commit(&center, &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    eprintln!(
        "导入 taidi2020_replies.xlsx（2816 行）用时 {:?}",
        started.elapsed()
    );
    assert_eq!(app.count("messages WHERE state = 'replied'"), 2816);
    assert_eq!(
        app.count("message_events WHERE action IN ('assign', 'accept')"),
        0,
        "no 转办 or 签收 is invented"
    );
    assert_eq!(app.count("messages WHERE assigned_at IS NOT NULL"), 0);
    assert_eq!(
        app.count("messages WHERE platform_ref = '2549' AND title = 'A2区景蓉华苑物业管理有问题'"),
        1
    );
    {
        use diesel::prelude::*;
        use liuyan::db::schema::messages::dsl as m;
        let (posted, replied, summary): (
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
            Option<String>,
        ) = m::messages
            .filter(m::platform_ref.eq("2549"))
            .select((m::posted_at, m::replied_at, m::handling_summary))
            .first(&mut app.db())
            .expect("row 2549");
        // China time in the file, UTC in the database.
        assert_eq!(posted.to_string(), "2019-04-25 01:32:09");
        assert_eq!(
            replied.map(|t| t.to_string()),
            Some("2019-05-10 06:56:53".to_string())
        );
        assert!(summary
            .unwrap_or_default()
            .starts_with("现将网友在平台《问政西地省》栏目"));
    }
    // Importing the same file again adds nothing: every row is a repeat.
    let (_, preview, _) = upload_and_preview(
        &center,
        "taidi2020_replies.xlsx",
        &bytes,
        "其他",
        "城乡建设",
        &xixiu,
    )
    .await;
    assert!(preview.contains("可导入 <strong>0</strong> 行"));
    assert!(preview.contains("跳过平台编号已存在或在文件中重复的 2816 行"));

    // 附件2 sample: 495 rows in a sheet claiming 65,203; one id twice.
    let bytes = std::fs::read(dir.join("taidi2020_messages_sample.xlsx")).expect("file");
    let (status, preview, fields) =
        upload_and_preview(&center, "sample.xlsx", &bytes, "市长信箱", "", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        preview.contains("可导入 <strong>494</strong> 行"),
        "{}",
        &preview[..3000.min(preview.len())]
    );
    assert_eq!(
        commit(&center, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.count("messages WHERE source_platform = '市长信箱' AND platform_ref = '24' AND category = '城乡建设'"),
        1
    );

    // 附件3 as CSV: 4,326 rows, no category column (the default applies).
    let bytes = std::fs::read(dir.join("taidi2020_hot_messages.csv")).expect("file");
    let (status, preview, fields) =
        upload_and_preview(&center, "hot.csv", &bytes, "人民网领导留言板", "其他", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(preview.contains("可导入 <strong>4326</strong> 行"));
    assert_eq!(
        commit(&center, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.count("messages WHERE source_platform = '人民网领导留言板'"),
        4326
    );
    // Search finds imported text.
    let (_, list) = center
        .page(&format!(
            "/messages?q={}",
            liuyan::web::utf8_percent("景蓉华苑")
        ))
        .await;
    assert!(list.contains("A2区<mark>景蓉华苑</mark>物业管理有问题"));
}

#[tokio::test]
async fn one_bad_row_commits_nothing_and_is_named() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let csv = "留言编号,留言用户,留言主题,留言时间,留言详情,一级分类\n\
               1,A1,路灯不亮,2026-10-01 08:00:00,小区路灯坏了,城乡建设\n\
               2,A2,噪音扰民,二〇二六年,夜间施工,环境保护\n\
               \n\
               3,A3,公交改线,2026-10-03 08:00:00,改线不便,交通运输\n";
    let (status, preview, fields) =
        upload_and_preview(&center, "bad.csv", csv.as_bytes(), "市长信箱", "", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        preview.contains("<td class=\"num\">3</td><td>留言时间</td><td>“二〇二六年”不是有效的时间"),
        "{preview}"
    );
    assert!(!preview.contains("确认导入"));
    // A forced commit is refused too, and nothing is written.
    let r = commit(&center, &fields).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("messages"), 0);
    // The upload that was never committed is on record.
    assert_eq!(
        app.count("audit_log WHERE event = 'import_upload' AND object LIKE '%bad.csv%'"),
        1
    );
    assert_eq!(app.count("audit_log WHERE event = 'import'"), 0);
    // Only the registrars may import.
    let zhujian = app.login_as("zhujian").await;
    assert_eq!(zhujian.page("/import").await.0, StatusCode::NOT_FOUND);
    // Not a spreadsheet: refused at upload with the reason.
    let (_, page) = center.page("/import").await;
    let token = csrf_of(&page).expect("token");
    let r = center
        .post_multipart(
            "/import",
            &[("csrf_token", &token), ("platform", "市长信箱")],
            &[("files", "notes.pdf", b"%PDF-1.4")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("只接受 Excel（.xlsx）或 CSV"));
}

#[tokio::test]
async fn an_export_round_trips_through_the_importer() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    for (t, n) in [("出口一：路面坑洼", "钱一"), ("出口二：广场舞噪音", "孙二")]
    {
        crate::lifecycle::register(&center, t, n).await;
    }
    center.confirm_password().await;
    let r = center.get("/messages/export?format=xlsx").await;
    assert_eq!(r.status(), StatusCode::OK);
    let xlsx = r.bytes().await.expect("xlsx").to_vec();
    assert_eq!(app.count("audit_log WHERE event = 'export'"), 1);
    let r = center.get("/messages/export?format=csv").await;
    let csv = String::from_utf8(r.bytes().await.expect("csv").to_vec()).expect("utf-8");
    assert!(
        csv.contains("****5678") && !crate::privacy::has_mobile(&csv),
        "contact masked"
    );
    assert!(csv.contains("转办时间") && csv.contains("审核人"));

    // Into a second, empty system.
    let other = spawn_app().await;
    let center2 = other.login_as("center").await;
    let (status, preview, fields) =
        upload_and_preview(&center2, "导出.xlsx", &xlsx, "市长信箱", "", "").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        &preview[..2000.min(preview.len())]
    );
    assert!(preview.contains("可导入 <strong>2</strong> 行"));
    assert_eq!(
        commit(&center2, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(other.count("messages WHERE title = '出口一：路面坑洼'"), 1);
    assert_eq!(other.with_name("钱一"), 1);
    assert_eq!(
        other.count("messages WHERE title = '出口二：广场舞噪音' AND category = '投诉举报'"),
        1
    );
    let _ = location;
}

/// The messages' (posted, replied, closed, state) by platform id, China time.
fn imported(app: &crate::helpers::TestApp, platform_ref: &str) -> (String, String, String, String) {
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let (posted, replied, closed, state): (
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
        Option<chrono::NaiveDateTime>,
        String,
    ) = m::messages
        .filter(m::platform_ref.eq(platform_ref))
        .select((m::posted_at, m::replied_at, m::closed_at, m::state))
        .first(&mut app.db())
        .expect("imported row");
    let china =
        |t: Option<chrono::NaiveDateTime>| t.map(liuyan::clock::format_time).unwrap_or_default();
    (china(Some(posted)), china(replied), china(closed), state)
}

#[tokio::test]
async fn platform_exports_import_as_they_come() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let xixiu = unit_id(&app, "安顺市西秀区");

    // A CSV as Excel saves it on a Chinese Windows: GB18030, CRLF, a title line above the
    // header, the platform's own column names, dates in three spellings, a footer.
    let csv = "安顺市市长信箱信件导出\r\n\
信件编号,来信人,信件标题,来信时间,信件内容,回复内容,回复时间,联系电话\r\n\
X1001,王某,路灯不亮,2019年4月25日 09:32,小区门口路灯坏了一个月,已修复。,2019/5/6 10:05:30,13812345678\r\n\
X1002,李某,噪音扰民,2019/2/28 11:25:05,夜间施工噪音大,,,\r\n\
X1003,赵某,垃圾未清运,2019-03-01 08:00,垃圾堆了一周,已安排清运。,2019年3月4日,\r\n\
\r\n\
制表单位：安顺市社情民意研究中心,,,,,,,\r\n";
    let (gbk, _, bad) = encoding_rs::GB18030.encode(csv);
    assert!(!bad);
    let (status, preview, fields) = upload_and_preview(
        &center,
        "市长信箱导出.csv",
        &gbk,
        "市长信箱",
        "城乡建设",
        &xixiu,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(
        preview.contains("可导入 <strong>3</strong> 行"),
        "{preview}"
    );
    assert!(preview.contains("已有平台答复的 2 条导入后为"));
    assert_eq!(
        commit(&center, &fields).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        imported(&app, "X1001"),
        (
            "2019-04-25 09:32".to_string(),
            "2019-05-06 10:05".to_string(),
            String::new(),
            "replied".to_string()
        )
    );
    assert_eq!(imported(&app, "X1002").3, "registered");
    assert_eq!(imported(&app, "X1003").1, "2019-03-04 00:00");
    assert_eq!(app.with_contact("13812345678"), 1, "联系电话 recognised");
    // The timeline says what happened: registered now, answered on the platform then.
    let id: i32 = {
        use diesel::prelude::*;
        use liuyan::db::schema::messages::dsl as m;
        m::messages
            .filter(m::platform_ref.eq("X1001"))
            .select(m::id)
            .first(&mut app.db())
            .expect("id")
    };
    let (_, page) = center.page(&format!("/messages/{id}")).await;
    assert!(page.contains("平台答复（导入）") && page.contains("平台答复时间：2019-05-06 10:05"));
    assert!(!page.contains(">转办<") && !page.contains(">签收<"));

    // An XLSX with a title merged across the columns, a real date cell, a date as text and
    // a footer; its answered rows taken as 已办结.
    let xlsx = {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        let title = Format::new().set_bold();
        ws.merge_range(0, 0, 0, 6, "2019年第二季度网民来信统计表", &title)
            .expect("merge");
        for (c, h) in [
            "工单编号",
            "姓名",
            "主题",
            "提交时间",
            "详情",
            "答复意见",
            "答复时间",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(1, c as u16, *h).expect("header");
        }
        let when = Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let t = ExcelDateTime::parse_from_str("2019-04-02 08:30:00").expect("datetime");
        ws.write_string(2, 0, "G-7").expect("cell");
        ws.write_string(2, 1, "孙某").expect("cell");
        ws.write_string(2, 2, "公交站牌缺失").expect("cell");
        ws.write_datetime_with_format(2, 3, &t, &when)
            .expect("cell");
        ws.write_string(2, 4, "站牌被撞坏未修复").expect("cell");
        ws.write_string(2, 5, "已重新设置站牌。").expect("cell");
        ws.write_string(2, 6, "2019年4月9日 16:20").expect("cell");
        ws.write_string(4, 0, "合计：1 件").expect("footer");
        wb.save_to_buffer().expect("xlsx")
    };
    let (status, preview, mut fields2) = upload_and_preview(
        &center,
        "季度统计.xlsx",
        &xlsx,
        "市长信箱",
        "城乡建设",
        &xixiu,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(
        preview.contains("可导入 <strong>1</strong> 行"),
        "{preview}"
    );
    fields2.push(("answered".to_string(), "closed".to_string()));
    assert_eq!(
        commit(&center, &fields2).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        imported(&app, "G-7"),
        (
            "2019-04-02 08:30".to_string(),
            "2019-04-09 16:20".to_string(),
            "2019-04-09 16:20".to_string(),
            "closed".to_string()
        )
    );
}

/// A CSV from the 市长信箱 of type 城乡建设 without replies, uploaded and previewed.
async fn preview_csv(
    b: &Browser,
    name: &str,
    csv: &str,
) -> (StatusCode, String, Vec<(String, String)>) {
    upload_and_preview(b, name, csv.as_bytes(), "市长信箱", "城乡建设", "").await
}

/// The mapping is shown with the results and can be changed there: the page checks
/// again with the new one, and a commit whose mapping differs from the one the results
/// were read for imports nothing and shows the results for it instead.
#[tokio::test]
async fn the_mapping_can_be_changed_on_the_preview() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    let csv = "信件编号,来信人,信件标题,来信时间,信件内容,摘要\n\
               M1,张一,路灯,2019-10-01 08:00:00,小区路灯坏了三盏,东门路灯不亮\n";
    let (status, preview, fields) = preview_csv(&center, "map.csv", csv).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(
        preview.contains("各要素对应的列"),
        "the mapping is on the preview"
    );
    assert!(preview.contains("formaction=\"/import/preview\""));
    // 摘要 (column 5) rather than 信件标题 as the 留言标题, chosen on the preview.
    let changed: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| {
            let v = if k == "map_title" {
                "5".to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    // Pressing 确认导入 after changing a choice: nothing imported, the results for it.
    let r = commit(&center, &changed).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = r.text().await.expect("preview");
    assert!(again.contains("<td>东门路灯不亮</td>"), "{again}");
    assert_eq!(app.count("messages"), 0);
    // Its own form commits, with the new choice.
    let r = commit(&center, &form_values(&again)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("messages WHERE title = '东门路灯不亮'"), 1);
}

/// Every row of an import file is checked for repeats, not only the rows the preview
/// shows: the same 联系方式 as a message already registered, or as an earlier row, and
/// the same 反映人 and 标题 as an earlier row.
#[tokio::test]
async fn every_row_of_an_import_is_checked_for_repeats() {
    let app = spawn_app().await;
    let center = app.login_as("center").await;
    crate::lifecycle::register(&center, "已登记的留言", "钱二").await;
    let phone = crate::lifecycle::contact_of("钱二");
    let mut csv = String::from("信件编号,来信人,信件标题,来信时间,信件内容,联系电话\n");
    // 25 ordinary rows first, so that the repeats lie beyond the 20 rows shown.
    for i in 0..25 {
        csv.push_str(&format!(
            "R{i},人{i},事项{i},2019-10-01 08:00:00,内容{i},1390000{i:04}\n"
        ));
    }
    csv.push_str(&format!(
        "R30,换名的人,别的事,2019-10-02 08:00:00,内容,{phone}\n"
    ));
    csv.push_str("R31,另一人,又一件事,2019-10-02 09:00:00,内容,13900000003\n");
    csv.push_str("R32,人4,事项4,2019-10-03 08:00:00,同一人同一标题,\n");
    let (status, preview, _) = preview_csv(&center, "repeats.csv", &csv).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(
        preview.contains("疑似重复件：<strong>3</strong> 行"),
        "{preview}"
    );
    // Lines count the header as line 1.
    for line in [
        "第 27 行：联系方式与已有留言相同",
        "第 28 行：联系方式与第 5 行相同",
        "第 29 行：反映人和标题与第 6 行相同",
    ] {
        assert!(preview.contains(line), "{line}: {preview}");
    }
}
