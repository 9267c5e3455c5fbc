//! Articles → bytes: page views, site pages, feeds and the digest, through templates.

pub mod digest;
pub mod feeds;
pub mod paths;
pub mod site;
pub mod templates;
