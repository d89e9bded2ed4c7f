//! 智能分拨, measured (issue 20): prints figures, asserts nothing. Run:
//! `cargo bench --bench dispatch` (with `LIUYAN_BENCH_DB=/tmp/liuyan-bench-1000000/liuyan.db`
//! to train on a generated million-message site's newest 100,000 confirmed messages).
//!
//! 1. Quality on the shipped labelled files (../shared/data; each text once): 5-fold
//!    cross-validated macro-F1, and macro-F1 on a fixed fifth never trained on.
//! 2. Training time and peak memory on 100,000 messages.
//! 3. The model's ranking of one message (what a proposal mostly costs), p50/p99 over
//!    2,000 messages, one thread. The whole 转办 form under load: bench/run.sh.
//! 4. 热点发现 (which shares the text features): a full recomputation over the newest
//!    year of the generated site's messages, time and memory.

use std::time::Instant;

use liuyan::dispatch::model::{self, Labelled, Model};

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

fn shipped() -> Option<Vec<Labelled>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut seen = std::collections::HashSet::new();
    let mut all = Vec::new();
    for f in [
        "taidi2020_messages_sample.csv",
        "taidi2020_labelled_dev.csv",
    ] {
        let bytes = std::fs::read(dir.join(f)).ok()?;
        let mut rows = liuyan::dispatch::seedfile::read(&bytes).ok()?;
        let dropped = model::dedup(&mut rows, &mut seen);
        println!("{f}: {} 条（重复 {dropped} 条已去除）", rows.len());
        all.extend(rows);
    }
    Some(all)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn train_big(what: &str, docs: &[Labelled]) -> anyhow::Result<Model> {
    println!("\n== 2. 训练 {} 条：{what}", docs.len());
    let before = peak_rss_mb();
    let t = Instant::now();
    let m = Model::train(docs).ok_or_else(|| anyhow::anyhow!("no classes"))?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "用时 {secs:.1} 秒；{} 个类别，{} 个特征；模型 {:.1} MB；进程峰值内存 {:.0} MB（训练前 {:.0} MB）",
        m.classes.len(),
        m.vocab.len(),
        m.to_bytes().len() as f64 / 1e6,
        peak_rss_mb(),
        before
    );
    Ok(m)
}

fn main() -> anyhow::Result<()> {
    // The training's own log line gives its phases (counting terms, the SVMs).
    tracing_subscriber::fmt().with_target(false).init();
    let Some(docs) = shipped() else {
        println!("../shared/data 不存在：跳过");
        return Ok(());
    };

    println!("\n== 1. 5 折交叉验证（{} 条）", docs.len());
    let t = Instant::now();
    let cv = model::cross_validate(&docs, 5);
    print!("{}", model::render(&cv));
    println!("用时 {:.1} 秒", t.elapsed().as_secs_f64());

    let (train, test) = model::split(&docs, 5);
    println!(
        "\n== 1b. 留出集：训练 {} 条，从未训练过的 {} 条上评估",
        train.len(),
        test.len()
    );
    let m = Model::train(&train).ok_or_else(|| anyhow::anyhow!("no classes"))?;
    print!(
        "{}",
        model::render(&model::score(&model::predictions(&m, &test)))
    );

    // Labels that follow the text (the shipped files, each text about 45 times with a
    // number appended, like a matter many people write about) and, when a generated site
    // is given, labels that do not: its generator assigns one of 46 units at random, so
    // no text is far from the margin — the slowest case a training can meet.
    let cycled: Vec<Labelled> = (0..100_000)
        .map(|i| {
            let d = &docs[i % docs.len()];
            Labelled {
                title: format!("{}{}", d.title, i),
                ..d.clone()
            }
        })
        .collect();
    let mut m = train_big(
        "附带样本循环到 100,000 条（每条加上序号；7 个类别，标签随文本）",
        &cycled,
    )?;
    if let Ok(path) = std::env::var("LIUYAN_BENCH_DB") {
        let mut conn = liuyan::db::establish(&path)?;
        let site: Vec<Labelled> = liuyan::dispatch::store::site_examples(&mut conn, 100_000)?
            .into_iter()
            .map(|(title, body, unit, _)| Labelled {
                title,
                body,
                labels: vec![unit.to_string()],
                weight: 2.0,
            })
            .collect();
        // The ranking below then uses the larger model (46 classes to score).
        m = train_big(
            &format!(
                "{path} 最新的已确认留言（核办单位由生成器随机指定：标签与文本无关，最坏情形）"
            ),
            &site,
        )?;
    }
    let big = cycled;

    println!(
        "\n== 3. 一条留言的模型排序（转办建议的主要计算），单线程，{} 个类别",
        m.classes.len()
    );
    let mut times = Vec::with_capacity(2_000);
    for d in big.iter().step_by(big.len() / 2_000).take(2_000) {
        let t = Instant::now();
        let r = m.rank(&d.title, &d.body);
        std::hint::black_box(r);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "p50 {:.2} ms，p99 {:.2} ms，最长 {:.2} ms（{} 条）",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1],
        times.len()
    );
    Ok(())
}
