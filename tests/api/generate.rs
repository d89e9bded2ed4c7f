//! The benchmark data generator makes consistent data: every chain verifies, states come
//! in the intended shares, 文号 and 档号 continue without gaps afterwards.

use crate::helpers::fresh_database;

#[test]
fn generated_messages_are_consistent() {
    let dir = tempfile::tempdir().expect("dir");
    let url = fresh_database(dir.path());
    let _clock = crate::helpers::test_clock().enter();
    let mut conn = liuyan::db::establish(&url).expect("connect");
    let ring = crate::helpers::site_keys(dir.path());
    ring.install();
    liuyan::bootstrap::prepare(&mut conn, true, false).expect("prepare");
    let texts = liuyan::generate::texts(None).expect("texts");
    let today = liuyan::clock::china_today();
    let n = liuyan::generate::generate(&mut conn, 400, 2, today, &texts, |_| {}).expect("generate");
    assert!(n > 350, "{n}");
    let report = crate::helpers::verify_at(&mut conn, dir.path(), None);
    assert!(
        report.breaks.is_empty(),
        "{:?}",
        &report.breaks[..report.breaks.len().min(5)]
    );
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let archived: i64 = m::messages
        .filter(m::state.eq("archived"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert!(archived * 2 > n as i64, "most old messages are archived");
    // A second run on the same database is refused (numbers would collide).
    assert!(liuyan::generate::generate(&mut conn, 10, 1, today, &texts, |_| {}).is_err());
}

#[test]
fn a_database_from_a_newer_version_is_refused_with_a_reason() {
    use diesel::connection::SimpleConnection;
    let dir = tempfile::tempdir().expect("dir");
    let url = fresh_database(dir.path());
    let _clock = crate::helpers::test_clock().enter();
    let mut conn = liuyan::db::establish(&url).expect("connect");
    liuyan::bootstrap::prepare(&mut conn, true, false).expect("prepare");
    conn.batch_execute(
        "INSERT INTO __diesel_schema_migrations (version, run_on) VALUES ('20991231000000', CURRENT_TIMESTAMP)",
    )
    .expect("a future migration");
    let err = liuyan::db::run_migrations(&mut conn).expect_err("refused");
    assert!(
        err.to_string().contains("数据库来自更新版本的程序"),
        "{err}"
    );
}
