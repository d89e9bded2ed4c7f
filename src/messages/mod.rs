//! Messages (work orders): the pure lifecycle and calendar, the model and queries, the
//! service that applies actions in one transaction each.

pub mod calendar;
pub mod lifecycle;
