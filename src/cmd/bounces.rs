//! `herald bounces`: read the bounce mailbox, apply what it reports.

use std::path::Path;

use anyhow::Context;

use super::{Outcome, now};
use crate::config::Config;
use crate::newsletter::bounce::{BounceSummary, Mailbox, process_bounces};

pub fn execute(config: &Config, maildir: Option<&Path>, imap: bool) -> anyhow::Result<Outcome> {
    let mailbox = match (maildir, imap) {
        (Some(dir), _) => Mailbox::Maildir(dir),
        (None, true) => Mailbox::Imap,
        (None, false) => Mailbox::Configured,
    };
    let summary = process_bounces(config, mailbox, now()?).context("processing bounces failed")?;
    print_summary(&summary);
    Ok(Outcome::partial_if(!summary.unclassified.is_empty()))
}

/// One line of counts; then each message a person should look at, on stderr.
pub(crate) fn print_summary(s: &BounceSummary) {
    for label in &s.refused {
        eprintln!(
            "bounces: {label}: refused: its bounce tag is not one this newsletter signed (forged or altered); nothing changed"
        );
    }
    for label in &s.unattributed {
        eprintln!(
            "bounces: {label}: names no delivery this newsletter made (no valid tag, no known Message-ID); nothing changed"
        );
    }
    for label in &s.unclassified {
        eprintln!(
            "bounces: {label}: not a report Herald understands; left in the mailbox for a person"
        );
    }
    let already = if s.already_counted > 0 {
        format!(", {} counted before", s.already_counted)
    } else {
        String::new()
    };
    println!(
        "bounces: {} hard, {} soft, {} complaint, {} delayed, {} auto-reply ignored, {} refused (bad tag), {} unattributed, {} unclassified{already}",
        s.hard,
        s.soft,
        s.complaints,
        s.delayed,
        s.auto_replies,
        s.refused.len(),
        s.unattributed.len(),
        s.unclassified.len()
    );
}
