//! Server-side sessions in the database, behind actix-session's `SessionStore`.
//!
//! The cookie carries a random 64-character key; the table keeps only its SHA-256, the
//! serialized state, the user id (so disabling a user or changing a password can end
//! that user's sessions) and the expiry (the idle timeout, extended on every request).
//! Deleting the row ends the session for real.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::db::schema::sessions::dsl as s;
use crate::db::{self, DbConn, DbPool};
use crate::error::AppError;

pub type SessionState = HashMap<String, String>;

/// Session state key holding the logged-in user's id.
pub const UID_KEY: &str = "uid";

pub struct DbSessionStore {
    pool: DbPool,
}

impl DbSessionStore {
    pub fn new(pool: DbPool) -> DbSessionStore {
        DbSessionStore { pool }
    }
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn new_key() -> Result<SessionKey, anyhow::Error> {
    let key: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect();
    SessionKey::try_from(key).map_err(|e| anyhow::anyhow!("session key: {e}"))
}

fn expiry(ttl: &Duration) -> NaiveDateTime {
    db::now() + chrono::Duration::seconds(ttl.whole_seconds())
}

/// Session state key set (never stored) when the session could not be read because the
/// database is unavailable.
pub const UNAVAILABLE_KEY: &str = "_store_unavailable";

/// Whether this request's session could not be read (the database is unavailable).
pub fn unreadable(session: &actix_session::Session) -> bool {
    session
        .get::<bool>(UNAVAILABLE_KEY)
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn user_of(state: &SessionState) -> Option<i32> {
    state.get(UID_KEY).and_then(|v| v.parse::<i32>().ok())
}

fn anyhow_of(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("session store: {e}")
}

/// End every session of a user (password change, reset, disabling). A handler that
/// keeps its own user logged in calls `session.renew()` afterwards, which stores the
/// current state under a fresh key.
pub fn end_user_sessions(conn: &mut DbConn, user_id: i32) -> QueryResult<usize> {
    diesel::delete(s::sessions.filter(s::user_id.eq(user_id))).execute(conn)
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        let id = key_hash(session_key.as_ref());
        let row = db::run(&self.pool, move |conn| {
            Ok(s::sessions
                .filter(s::id.eq(id))
                .filter(s::expires_at.gt(db::now()))
                .select(s::state)
                .first::<String>(conn)
                .optional()?)
        })
        .await;
        let row = match row {
            Ok(row) => row,
            // The database is unreachable or the disk full: the request goes on with a
            // session that says so, and is answered 503 by the first extractor that needs
            // the user — with what was typed on the page (a middleware error could not).
            // (Any failure of this one small read is the database's, not the request's.)
            Err(why) => {
                tracing::error!(error = %why, "session store unavailable");
                return Ok(Some(SessionState::from([(
                    UNAVAILABLE_KEY.to_string(),
                    "true".to_string(),
                )])));
            }
        };
        match row {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(anyhow::anyhow!(e))),
        }
    }

    async fn save(&self, state: SessionState, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = new_key().map_err(SaveError::Other)?;
        let id = key_hash(key.as_ref());
        let json = serde_json::to_string(&state)
            .map_err(|e| SaveError::Serialization(anyhow::anyhow!(e)))?;
        let uid = user_of(&state);
        let expires = expiry(ttl);
        db::run(&self.pool, move |conn| {
            let now = db::now();
            // Housekeeping: drop expired sessions whenever a new one starts.
            diesel::delete(s::sessions.filter(s::expires_at.le(now))).execute(conn)?;
            diesel::insert_into(s::sessions)
                .values((
                    s::id.eq(id),
                    s::user_id.eq(uid),
                    s::state.eq(json),
                    s::created_at.eq(now),
                    s::expires_at.eq(expires),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .map_err(|e| SaveError::Other(anyhow_of(e)))?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: SessionState,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let id = key_hash(session_key.as_ref());
        let json = serde_json::to_string(&state)
            .map_err(|e| UpdateError::Serialization(anyhow::anyhow!(e)))?;
        let uid = user_of(&state);
        let expires = expiry(ttl);
        let updated = db::run(&self.pool, move |conn| {
            Ok(diesel::update(
                s::sessions
                    .filter(s::id.eq(id))
                    .filter(s::expires_at.gt(db::now())),
            )
            .set((
                s::state.eq(json),
                s::user_id.eq(uid),
                s::expires_at.eq(expires),
            ))
            .execute(conn)?)
        })
        .await
        .map_err(|e| UpdateError::Other(anyhow_of(e)))?;
        if updated == 1 {
            Ok(session_key)
        } else {
            // The session ended meanwhile (logout elsewhere, expiry): start a new one
            // rather than resurrect the old key.
            self.save(state, ttl).await.map_err(|e| match e {
                SaveError::Serialization(e) => UpdateError::Serialization(e),
                SaveError::Other(e) => UpdateError::Other(e),
            })
        }
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let id = key_hash(session_key.as_ref());
        let expires = expiry(ttl);
        db::run(&self.pool, move |conn| {
            Ok(diesel::update(
                s::sessions
                    .filter(s::id.eq(id))
                    .filter(s::expires_at.gt(db::now())),
            )
            .set(s::expires_at.eq(expires))
            .execute(conn)?)
        })
        .await
        .map_err(anyhow_of)?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let id = key_hash(session_key.as_ref());
        db::run(&self.pool, move |conn| {
            Ok(diesel::delete(s::sessions.filter(s::id.eq(id))).execute(conn)?)
        })
        .await
        .map_err(anyhow_of)?;
        Ok(())
    }
}

/// Session state key: a random tag telling a user's sessions apart on “我的会话”.
pub const TAG_KEY: &str = "sid_tag";

/// One of a user's active sessions.
pub struct SessionInfo {
    /// The stored id (SHA-256 of the cookie key: safe to show, useless to replay).
    pub id: String,
    pub login_at: Option<NaiveDateTime>,
    pub ip: String,
    pub expires_at: NaiveDateTime,
    pub tag: String,
}

/// A user's sessions that have not expired, newest login first.
pub fn user_sessions(conn: &mut DbConn, user_id: i32) -> QueryResult<Vec<SessionInfo>> {
    let rows: Vec<(String, String, NaiveDateTime)> = s::sessions
        .filter(s::user_id.eq(user_id))
        .filter(s::expires_at.gt(crate::db::now()))
        .select((s::id, s::state, s::expires_at))
        .load(conn)?;
    let mut out: Vec<SessionInfo> = rows
        .into_iter()
        .map(|(id, state, expires_at)| {
            let map: std::collections::HashMap<String, String> =
                serde_json::from_str(&state).unwrap_or_default();
            let value = |k: &str| {
                map.get(k)
                    .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
            };
            SessionInfo {
                id,
                login_at: value(crate::web::ctx::LOGIN_AT_KEY)
                    .and_then(|v| v.as_i64())
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .map(|t| t.naive_utc()),
                ip: value(crate::web::ctx::LOGIN_IP_KEY)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                expires_at,
                tag: value(TAG_KEY)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            }
        })
        .collect();
    out.sort_by_key(|x| std::cmp::Reverse(x.login_at));
    Ok(out)
}

/// End one of a user's sessions.
pub fn end_one(conn: &mut DbConn, user_id: i32, id: &str) -> QueryResult<usize> {
    diesel::delete(
        s::sessions
            .filter(s::user_id.eq(user_id))
            .filter(s::id.eq(id)),
    )
    .execute(conn)
}
