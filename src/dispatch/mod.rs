//! 智能分拨: the handling unit and the 所属类型 proposed from a message's text, learned from
//! the site's own record (and from labelled files a site is seeded with).

pub mod linear;
pub mod model;
pub mod seedfile;
pub mod text;
