//! One integration-test binary: the real application over HTTP.

mod admin;
mod auth;
mod helpers;
mod lifecycle;
