//! 网民留言办理记实档案系统 — the library behind the `liuyan` binary.
// No `unwrap()` or `expect()` on anything a user or the database can make fail: outside
// the tests, the compiler refuses both (a proven-impossible case says why with
// `unreachable!`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod archive;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod dispatch;
pub mod error;
pub mod forms;
pub mod generate;
pub mod hot;
pub mod import;
pub mod messages;
pub mod reference;
pub mod scoring;
pub mod search;
pub mod startup;
pub mod stats;
pub mod units;
pub mod users;
pub mod web;
