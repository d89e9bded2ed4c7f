//! Authentication and authorization: roles, passwords, server-side sessions, CSRF.

pub mod client;
pub mod csrf;
pub mod password;
pub mod roles;
pub mod sealing;
pub mod session_store;
pub mod throttle;
pub mod totp;
