//! 热点发现 at a million messages: the one-time reading of every message's names after
//! an upgrade, a full recomputation of the last year (read, group, write), and new
//! messages placed one by one. `LIUYAN_BENCH_DB=…/liuyan.db cargo bench --bench hot`
//! (the database of `bench/run.sh`; the hot tables in it are rewritten).

use std::time::Instant;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    let Ok(path) = std::env::var("LIUYAN_BENCH_DB") else {
        println!("LIUYAN_BENCH_DB 未设置：跳过热点发现基准（见 bench/run.sh 生成的数据库）");
        return Ok(());
    };
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let mut conn = liuyan::db::establish(&path)?;
    let last: Option<chrono::NaiveDateTime> = m::messages
        .select(diesel::dsl::max(m::posted_at))
        .first(&mut conn)?;
    let last = last.unwrap_or_default();
    liuyan::db::run_migrations(&mut conn)?;
    println!("\n== 热点发现：{path}，截至最后一条留言（{last}）的一年");
    let t = Instant::now();
    let (n, _, _) = liuyan::hot::store::backfill(&mut conn, last, 0, true)?;
    println!(
        "读取地名与对象（每条留言一次；升级后首次为全部留言）：{n} 条，用时 {:.1} 秒",
        t.elapsed().as_secs_f64()
    );
    let before = peak_rss_mb();
    let t = Instant::now();
    // The newest 200 messages are left out, to be placed one by one as they would arrive.
    let newest: Option<i32> = m::messages
        .select(diesel::dsl::max(m::id))
        .first(&mut conn)?;
    let upto = newest.unwrap_or(0) - 200;
    let kept = liuyan::hot::store::recompute_upto(&mut conn, liuyan::hot::WINDOW_DAYS, last, upto)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let seconds = t.elapsed().as_secs_f64();
    let top = liuyan::hot::store::top(&mut conn, 3650, last, 3)?;
    println!(
            "全部重新计算（读取、分组、写入）：用时 {seconds:.1} 秒；{} 条留言，{} 个问题；进程峰值内存 {:.0} MB（之前 {:.0} MB）；最热：{}",
            kept.as_ref().map(|k| k.fitted).unwrap_or(0),
            liuyan::hot::store::version(&mut conn)?.1,
            peak_rss_mb(),
            before,
            top.iter()
                .map(|c| format!("{}（{} 条，{} 人）", c.place, c.messages, c.users))
                .collect::<Vec<_>>()
                .join("、")
        );
    if let Some(mut kept) = kept {
        let t = Instant::now();
        let placed = liuyan::hot::store::place_new(&mut conn, &mut kept, last)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "最新 {} 条留言作为新到的留言归并（增量，一次）：平均每条 {:.2} ms（含写入）",
            placed.unwrap_or(0),
            t.elapsed().as_secs_f64() * 1e3 / placed.unwrap_or(1).max(1) as f64
        );
    }
    Ok(())
}
