//! The background worker that keeps the clusters current: a full recomputation at start,
//! daily and after a clerk's decision; between them, new messages are placed as they
//! arrive (woken by registration and import, else once a minute). Requests never wait
//! for it: they read the stored clusters.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};

use super::store::{self, Kept};
use crate::db::DbPool;

#[derive(Default)]
struct Flags {
    woken: bool,
    /// A clerk changed the clusters: regroup from the stored decisions.
    stale: bool,
    /// Full recomputations and placings finished (tests and benchmarks wait on it).
    runs: u64,
}

/// Shared between the request handlers and the worker.
#[derive(Default)]
pub struct Hot {
    flags: Mutex<Flags>,
    signal: Condvar,
}

impl Hot {
    /// New messages have arrived.
    pub fn wake(&self) {
        if let Ok(mut f) = self.flags.lock() {
            f.woken = true;
            self.signal.notify_all();
        }
    }

    /// A clerk decided about a cluster.
    pub fn stale(&self) {
        if let Ok(mut f) = self.flags.lock() {
            f.stale = true;
            f.woken = true;
            self.signal.notify_all();
        }
    }

    /// How many passes the worker has finished.
    pub fn runs(&self) -> u64 {
        self.flags.lock().map(|f| f.runs).unwrap_or(0)
    }

    /// Wait to be woken, at most `timeout`; whether a regrouping was asked for.
    fn wait(&self, timeout: StdDuration) -> bool {
        let Ok(mut f) = self.flags.lock() else {
            return false;
        };
        if !f.woken {
            f = match self.signal.wait_timeout(f, timeout) {
                Ok((f, _)) => f,
                Err(_) => return false,
            };
        }
        f.woken = false;
        std::mem::take(&mut f.stale)
    }

    fn finished(&self) {
        if let Ok(mut f) = self.flags.lock() {
            f.runs += 1;
            self.signal.notify_all();
        }
    }
}

/// One pass: regroup when asked, when nothing is kept yet or the grouping is a day old;
/// otherwise place the new messages. Whether it regrouped.
pub fn pass(
    pool: &DbPool,
    kept: &mut Option<Kept>,
    regroup: bool,
    window_days: i64,
    now: NaiveDateTime,
) -> Result<bool, crate::error::AppError> {
    let mut c = pool.get().map_err(crate::error::AppError::internal)?;
    let old = kept
        .as_ref()
        .is_none_or(|k| now - k.computed >= Duration::days(1) || now < k.computed);
    let mut regroup = regroup || old;
    if !regroup {
        if let Some(k) = kept.as_mut() {
            regroup = store::place_new(&mut c, k, now)?.is_none();
        }
    }
    if regroup {
        // A clerk's decision made meanwhile makes the result unwritable: try again.
        for _ in 0..3 {
            if let Some(k) = store::recompute(&mut c, window_days, now)? {
                *kept = Some(k);
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Run the worker until the site stops (`pool` answers none once the site is gone).
pub fn run(hot: Arc<Hot>, pool: impl Fn() -> Option<DbPool>, window_days: i64) {
    let mut kept: Option<Kept> = None;
    let mut regroup = true;
    while let Some(p) = pool() {
        let started = std::time::Instant::now();
        if let Err(e) = pass(&p, &mut kept, regroup, window_days, crate::db::now()) {
            tracing::error!(error = %e, "热点发现更新失败");
        }
        drop(p);
        if regroup {
            tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                "热点发现已重新计算"
            );
        }
        hot.finished();
        regroup = hot.wait(StdDuration::from_secs(60));
    }
}
