//! One module per subcommand: each runs the library for the CLI and prints what a
//! person (or cron's mail) should see. Exit codes are decided in `main.rs` from
//! the [`Outcome`] and the error.

pub mod bounces;
pub mod build;
pub mod digest;
pub mod report;
pub mod send;
pub mod serve;
pub mod subscribers;
pub mod unsubscribe;

use std::io::IsTerminal;

use anyhow::Context;
use chrono::{DateTime, Utc};

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Some seeds were skipped, some rows rejected or some recipients not reached.
    Partial,
}

impl Outcome {
    fn partial_if(partial: bool) -> Outcome {
        if partial {
            Outcome::Partial
        } else {
            Outcome::Done
        }
    }
}

/// The current time, or `HERALD_NOW` (RFC 3339) to preview or test a given moment.
pub fn now() -> anyhow::Result<DateTime<Utc>> {
    match std::env::var("HERALD_NOW") {
        Ok(text) => Ok(DateTime::parse_from_rfc3339(&text)
            .with_context(|| format!("HERALD_NOW=`{text}` is not an RFC 3339 time"))?
            .with_timezone(&Utc)),
        Err(_) => Ok(Utc::now()),
    }
}

/// A progress bar only for a person watching, never under cron.
fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}
