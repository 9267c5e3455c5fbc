//! Herald publishes a weekly column: plain-text seed articles become RSS, Atom and
//! JSON feeds, a static site, and a weekly e-mail digest.
//!
//! Two pipelines share the first stages. Each stage is a folder whose output is
//! plain data for the next; a stage imports only the ones before it.
//!
//! ```text
//! publish     seeds/ ──content──▶ Article, Entry (catalog) ──render──▶ pages, feeds ──build──▶ public/ ──announce──▶ WebSub hubs
//! newsletter  catalog ──content──▶ Edition ──render──▶ Digest ──newsletter──▶ SMTP or outbox/*.eml
//!                                    (store: the SQLite state every stage reads and records into)
//! ```
//!
//! - [`support`]: fingerprints, file stamps, permissions, a parallel map; knows no article.
//! - [`config`]: `config.toml` as parsed, validated values.
//! - [`article`]: the shared data, what a seed becomes.
//! - [`store`]: the SQLite state, one module per table.
//! - [`content`]: seed files → articles → the catalog of what to publish → editions.
//! - [`render`]: article views, site pages, feeds and the digest through templates.
//! - [`build`]: `build` and `check`: what changed, rendering it, atomic writes, the build record.
//! - [`announce`]: after a build, WebSub pings for the feeds that changed.
//! - [`newsletter`]: previews, messages, transports, the send journal's use, tokens.
//! - [`serve`]: the subscribe / confirm / unsubscribe endpoint and previews.
//! - [`cmd`]: one module per subcommand, with what it prints.

pub mod announce;
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
