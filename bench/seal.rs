//! What a signature adds to a write (issue 18's target: ≤ 2 ms per action), printed as
//! figures: SM2 signing and verification alone, renewing one message's seal (its reads,
//! two signatures — the seal and the state — and the writes, in its own transaction), and
//! one audit record with its seal. Run: `cargo bench --bench seal`.

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
    Ok(())
}
