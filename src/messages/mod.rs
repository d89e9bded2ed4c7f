//! Messages (work orders): the pure lifecycle and calendar, configuration, the model
//! and its scoped queries, and the service that applies each action in one transaction.

pub mod calendar;
pub mod config;
pub mod correction;
pub mod deadline;
pub mod lifecycle;
pub mod model;
pub mod notice;
pub mod personal;
pub mod repeats;
pub mod reply_check;
pub mod reply_store;
pub mod service;
