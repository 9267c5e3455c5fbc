//! `herald build` and `herald check`.

use anyhow::Context;

use super::{Outcome, now};
use crate::build::{BuildReport, build, check};
use crate::config::Config;

pub fn execute(config: &Config) -> anyhow::Result<Outcome> {
    let report = build(config, now()?).context("build failed")?;
    print_report(&report, Verb::Build);
    Ok(Outcome::partial_if(!report.is_clean()))
}

/// `check` also says what would hurt deliverability (DMARC alignment); the other
/// commands stay quiet about it, since cron mails whatever they print.
pub fn execute_check(config: &Config) -> anyhow::Result<Outcome> {
    for warning in config.alignment_warnings() {
        eprintln!("warning: {warning}");
    }
    let report = check(config, now()?).context("check failed")?;
    print_report(&report, Verb::Check);
    Ok(Outcome::partial_if(!report.is_clean()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Build,
    Check,
}

/// What changed, one line per article, then a summary line; seed errors to stderr.
pub(crate) fn print_report(report: &BuildReport, verb: Verb) {
    let name = match verb {
        Verb::Build => "build",
        Verb::Check => "check",
    };
    for problem in &report.problems {
        eprintln!("error: {problem}");
    }
    let c = &report.changes;
    for id in &c.new {
        println!("new: {id}");
    }
    for id in &c.updated {
        println!("updated: {id}");
    }
    for id in &c.removed {
        println!("removed: {id} (its seed is gone; dropped from the site and feeds)");
    }
    for (id, at) in &report.scheduled {
        println!("scheduled: {id} (held back until {})", at.to_rfc3339());
    }
    let files = if verb == Verb::Build {
        format!(
            "; files: {} written, {} unchanged, {} deleted",
            report.files.written, report.files.unchanged, report.files.deleted
        )
    } else {
        String::new()
    };
    println!(
        "{name}: {} published ({} new, {} updated, {} unchanged, {} removed), {} scheduled, {} skipped{files}",
        report.published,
        c.new.len(),
        c.updated.len(),
        c.unchanged,
        c.removed.len(),
        report.scheduled.len(),
        report.problems.len(),
    );
    if !report.problems.is_empty() {
        eprintln!(
            "{name}: {} seed(s) skipped because of the errors above; every other seed was {}",
            report.problems.len(),
            match verb {
                Verb::Build => "published",
                Verb::Check => "checked",
            }
        );
    }
}
