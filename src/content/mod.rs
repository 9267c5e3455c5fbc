//! Seed files → articles → the catalog of what to publish, grouped into editions.

pub mod catalog;
pub mod edition;
pub(crate) mod listing;
pub mod seed;
