//! One integration-test binary: the real application over HTTP.

mod admin;
mod archive;
mod attachments;
mod auditlog;
mod auth;
mod authz;
mod backup;
mod batch;
mod browser;
mod concurrency;
mod crash;
mod crawl;
mod generate;
mod helpers;
mod import;
mod insight;
mod lifecycle;
mod page;
mod periods;
mod print;
mod privacy;
mod scores;
mod search;
mod settings;
mod twofactor;
mod xss;
