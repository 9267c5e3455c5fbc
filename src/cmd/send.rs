//! `herald send` and `herald run` (what cron runs).

use anyhow::Context;

use super::bounces::print_summary;
use super::build::{Verb, announce_feeds, print_report};
use super::{Outcome, now, progress_wanted};
use crate::config::Config;
use crate::content::edition::{Schedule, Week};
use crate::newsletter::bounce::BounceSummary;
use crate::newsletter::send::{SendOutcome, run, send, send_test};

pub fn execute(config: &Config, week: Option<Week>, dry_run: bool) -> anyhow::Result<Outcome> {
    let now = now()?;
    let week = week.unwrap_or_else(|| Schedule::of(config).latest_due(now));
    let outcome = send(config, week, now, dry_run, progress_wanted())
        .with_context(|| format!("sending edition {week} failed"))?;
    print_send(&outcome, true);
    Ok(Outcome::partial_if(outcome.is_partial()))
}

/// `herald send --to ADDRESS`: one copy, recorded nowhere.
pub fn execute_test(config: &Config, week: Option<Week>, to: &str) -> anyhow::Result<Outcome> {
    let now = now()?;
    let week = week.unwrap_or_else(|| Schedule::of(config).latest_due(now));
    match send_test(config, week, to, now)
        .with_context(|| format!("test-sending edition {week} failed"))?
    {
        Some(sent) => println!(
            "send {} (test): \"{}\" to {} through {}: {}",
            sent.week, sent.subject, sent.to, sent.route, sent.reply
        ),
        None => println!("send {week} (test): empty edition, nothing to send"),
    }
    Ok(Outcome::Done)
}

pub fn execute_run(config: &Config) -> anyhow::Result<Outcome> {
    let report = run(config, now()?, progress_wanted()).context("run failed")?;
    let bounces_failed = match &report.bounces {
        Some(Ok(summary)) => {
            if *summary != BounceSummary::default() {
                print_summary(summary);
            }
            !summary.unclassified.is_empty()
        }
        Some(Err(e)) => {
            eprintln!("error: reading bounces failed (they wait for the next run): {e}");
            true
        }
        None => false,
    };
    let b = &report.build;
    let c = &b.changes;
    // Quiet when nothing changed (cron mails any output); anything published,
    // removed, warned about or deleted from the site is reported.
    let quiet = c.new.is_empty()
        && c.updated.is_empty()
        && c.removed.is_empty()
        && b.problems.is_empty()
        && b.warnings.is_empty()
        && b.files.deleted == 0;
    if !quiet {
        print_report(b, Verb::Build);
    }
    announce_feeds(config, b, false);
    if let Some(outcome) = &report.send {
        print_send(outcome, false);
    }
    Ok(Outcome::partial_if(
        bounces_failed
            || !b.is_clean()
            || report.send.as_ref().is_some_and(SendOutcome::is_partial),
    ))
}

/// One summary line; with `verbose`, also when there was nothing to do.
fn print_send(outcome: &SendOutcome, verbose: bool) {
    match outcome {
        SendOutcome::Empty { week } => println!("send {week}: empty edition, nothing to send"),
        SendOutcome::AlreadySent { week, counts } => {
            if verbose {
                println!(
                    "send {week}: already sent to every subscriber ({} sent), nothing to do",
                    counts.sent
                );
            }
        }
        SendOutcome::DryRun {
            week,
            subject,
            recipients,
            route,
        } => {
            println!(
                "send {week} (dry run): would send \"{subject}\" to {recipients} subscriber(s) through {route}"
            );
        }
        SendOutcome::Delivered {
            week,
            report,
            counts,
            route,
            ..
        } => {
            for (email, reply) in &report.permanent_failures {
                eprintln!("send {week}: {email}: rejected permanently: {reply}");
            }
            println!(
                "send {week}: {} sent, {} to retry, {} rejected, {} skipped (unsubscribed) through {route}; edition total {} of {} sent",
                report.sent,
                report.failed_temporary,
                report.failed_permanent,
                report.skipped,
                counts.sent,
                counts.total()
            );
            let several = report.relays.len() > 1;
            for relay in &report.relays {
                if !several && relay.outages == 0 {
                    continue;
                }
                let mut line = format!("send {week}: relay {}: {} sent", relay.name, relay.sent);
                if relay.outages > 0 {
                    line += &format!(
                        ", out of rotation {} time(s){}, last because: {}",
                        relay.outages,
                        if relay.failing { ", still failing" } else { "" },
                        relay.last_error.as_deref().unwrap_or("?")
                    );
                }
                println!("{line}");
            }
        }
    }
}
