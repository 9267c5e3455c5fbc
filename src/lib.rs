//! Herald publishes a weekly column: plain-text seed articles become RSS, Atom and
//! JSON feeds, a static site, and a weekly e-mail digest.

pub mod article;
pub mod build;
pub mod cmd;
pub mod config;
pub mod content;
pub mod newsletter;
pub mod render;
pub mod serve;
pub mod store;
pub mod support;
