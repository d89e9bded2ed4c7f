//! What a signature adds to a write (issue 18's target: ≤ 2 ms per action), printed as
//! figures: SM2 signing and verification alone, renewing one message's seal (its reads,
//! two signatures — the seal and the state — and the writes, in its own transaction), and
//! one audit record with its seal; and what sealing 反映人 and 联系方式 at rest costs
//! (SM4-GCM seal and open, the HMAC-SM3 look-up digest, 20 whole rows read, their 40
//! values opened). Run: `cargo bench --bench seal`.

use std::time::Instant;

use liuyan::archive::{ledger, signing};
use liuyan::db;

fn per_op(label: &str, n: u32, started: Instant) {
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("{label}: {:.3} ms ({n} 次)", us / 1000.0);
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = dir.path().join("seal.db").to_string_lossy().to_string();
    let mut conn = db::establish(&url)?;
    let ring = signing::Keyring::ephemeral();
    ring.install();
    liuyan::bootstrap::prepare(&mut conn, true, false)?;
    let texts = liuyan::generate::texts(None)?;
    let n = liuyan::generate::generate(
        &mut conn,
        20_000,
        2,
        liuyan::clock::china_today(),
        &texts,
        |_| {},
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("样本库：{n} 条留言（SQLite，临时目录）");

    let rounds = 2_000;
    let t = Instant::now();
    let mut last = (String::new(), String::new());
    for i in 0..rounds {
        last = ring.sign(format!("statement {i}").as_bytes());
    }
    per_op("SM2 签名", rounds, t);
    let t = Instant::now();
    for _ in 0..rounds {
        let _ = ring.verify(
            &last.0,
            format!("statement {}", rounds - 1).as_bytes(),
            &last.1,
        );
    }
    per_op("SM2 验签", rounds, t);

    let t = Instant::now();
    for id in 1..=rounds as i32 {
        db::write_tx(&mut conn, |c| ledger::seal_message(c, id))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    per_op(
        "更新一条留言的签名封印（读取、两次签名、写入，单独事务）",
        rounds,
        t,
    );

    let actor = liuyan::audit::Actor::cli();
    let t = Instant::now();
    for _ in 0..rounds {
        liuyan::audit::record(&mut conn, &actor, "export", "bench", liuyan::audit::OK, "")?;
    }
    per_op("写一条审计记录并更新其签名封印（单独事务）", rounds, t);

    // Personal data at rest.
    use liuyan::messages::personal;
    let rounds = 100_000;
    let t = Instant::now();
    let mut sealed = String::new();
    for i in 0..rounds {
        sealed = personal::seal(if i % 2 == 0 {
            "欧阳晓明"
        } else {
            "13812345678"
        });
    }
    per_op("SM4-GCM 加密一个反映人或联系方式", rounds, t);
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(personal::open(&sealed));
    }
    per_op("SM4-GCM 解密一个", rounds, t);
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(personal::contact_key("138 1234 5678"));
    }
    per_op("HMAC-SM3 查找摘要一个", rounds, t);
    use diesel::prelude::*;
    use liuyan::db::schema::messages::dsl as m;
    let pages = 2_000;
    let t = Instant::now();
    for p in 0..pages {
        let from = (p * 20) % 19_000 + 1;
        let rows: Vec<liuyan::messages::model::Message> = m::messages
            .filter(m::id.between(from, from + 19))
            .load(&mut conn)?;
        std::hint::black_box(rows);
    }
    per_op("读 20 条留言（解密 40 个值）", pages as u32, t);
    Ok(())
}
