//! Articles → bytes: page views, site pages, feeds and the digest, through templates.

pub(crate) mod digest;
pub mod feeds;
pub(crate) mod paths;
pub mod site;
pub mod tags;
pub mod templates;
