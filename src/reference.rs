//! The reference data that nearly every page reads — the units, the working-day
//! calendar and the option lists — read once per change of the data and then shared
//! (see `cache`), instead of being loaded again for each page view.

use std::sync::Arc;

use crate::cache::Cache;
use crate::db::DbConn;
use crate::messages::calendar::Calendar;
use crate::messages::config;
use crate::units::{self, Unit};

pub struct Reference {
    /// Every unit, in their display order.
    pub units: Vec<Unit>,
    pub calendar: Calendar,
    /// 留言级别, 来源平台 and 留言分类 choices.
    pub levels: Vec<String>,
    pub platforms: Vec<String>,
    pub categories: Vec<String>,
}

/// The reference data of the current data generation.
pub fn get(conn: &mut DbConn, cache: &Cache) -> diesel::QueryResult<Arc<Reference>> {
    cache.get_or(conn, "reference".to_string(), |c| {
        Ok::<_, diesel::result::Error>(Reference {
            units: units::all(c)?,
            calendar: config::calendar(c)?,
            levels: config::list(c, config::LEVEL)?,
            platforms: config::list(c, config::PLATFORM)?,
            categories: config::list(c, config::CATEGORY)?,
        })
    })
}
