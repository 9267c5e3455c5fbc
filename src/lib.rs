//! Herald publishes a weekly column: plain-text seed articles become RSS, Atom and
//! JSON feeds, a static site, and a weekly e-mail digest.
//!
//! The pipeline, one module per stage, each producing plain data for the next:
//! [`seed`] (files → [`article::Article`]) → [`catalog`] (articles + [`state`] →
//! entries to publish) → [`site`] and [`feeds`] (entries → rendered pages and feeds)
//! → [`output`] (atomic writes). [`publish`] runs the stages for the CLI.

pub mod article;
pub mod build_memo;
pub mod catalog;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod dispatch;
pub mod edition;
pub mod feeds;
pub mod journal;
pub mod message;
pub mod output;
pub mod parallel;
pub mod publish;
pub mod seed;
pub mod serve;
pub mod site;
pub mod stamp;
pub mod state;
pub mod subscribers;
pub mod templates;
pub mod token;
pub mod transport;
