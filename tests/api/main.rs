//! One integration-test binary: the real application over HTTP.

mod admin;
mod attachments;
mod auth;
mod batch;
mod helpers;
mod lifecycle;
mod settings;
