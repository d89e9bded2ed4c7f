//! Summaries that read a whole period of messages (the dashboard, statistics, bulletins,
//! the scoreboard) are kept until the data they were computed from changes.
//!
//! Every write to a table they read moves `data_generation.n` (database triggers, so no
//! code path can forget, on every instance of the site). A result is reused only while
//! the counter still holds the value read *before* it was computed, so a page never shows
//! figures older than the data: they stay exact. The first reader after a change pays
//! for the computation, and readers that arrive meanwhile wait for it rather than
//! compute it again.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::prelude::*;

use crate::db::schema::data_generation::dsl as g;
use crate::db::DbConn;

type Entry = (i64, Arc<dyn Any + Send + Sync>);

/// At most this many results are kept (beyond it, all are dropped and rebuilt on demand).
const CAPACITY: usize = 512;

#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, Entry>>,
    /// One lock per key being computed, so that concurrent readers compute it once.
    computing: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// The current data generation.
pub fn generation(conn: &mut DbConn) -> QueryResult<i64> {
    g::data_generation.select(g::n).first(conn)
}

impl Cache {
    fn lookup<T: Send + Sync + 'static>(&self, key: &str, gen: i64) -> Option<Arc<T>> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        if *at != gen {
            return None;
        }
        value.clone().downcast::<T>().ok()
    }

    fn store<T: Send + Sync + 'static>(&self, key: String, gen: i64, value: Arc<T>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(key, (gen, value));
        }
    }

    /// The value for `key` under the current data generation, computed by `f` when there
    /// is none (shared, not copied). Runs on a blocking thread, as every database call does.
    pub fn get_or<T, E>(
        &self,
        conn: &mut DbConn,
        key: String,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: From<diesel::result::Error>,
    {
        let gen = generation(conn)?;
        if let Some(v) = self.lookup(&key, gen) {
            return Ok(v);
        }
        let lock = self
            .computing
            .lock()
            .map(|mut m| m.entry(key.clone()).or_default().clone())
            .ok();
        let _guard = lock.as_ref().and_then(|l| l.lock().ok());
        // Someone else may have computed it while this reader waited.
        let gen = generation(conn)?;
        if let Some(v) = self.lookup(&key, gen) {
            return Ok(v);
        }
        let started = std::time::Instant::now();
        let value = Arc::new(f(conn)?);
        self.store(key.clone(), gen, value.clone());
        // Only a long computation (a year's summary) leaves much freed memory behind;
        // the small ones after every change (the reference data, a 待办) need no trim.
        if started.elapsed() >= std::time::Duration::from_millis(100) {
            give_back_memory();
        }
        if let Ok(mut m) = self.computing.lock() {
            if m.len() > CAPACITY {
                m.clear();
            }
        }
        Ok(value)
    }
}

/// Return the memory a large computation freed to the operating system (glibc keeps it
/// otherwise, and the server's resident size would stay at its peak).
pub fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
