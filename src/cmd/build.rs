//! `herald build` and `herald check`.

use std::path::Path;

use anyhow::Context;

use super::{Outcome, now};
use crate::announce::websub::ping_hubs;
use crate::build::{BuildReport, build, check};
use crate::config::Config;
use crate::content::seed::{BlockKind, explain_seed};

pub fn execute(config: &Config) -> anyhow::Result<Outcome> {
    let report = build(config, now()?).context("build failed")?;
    print_report(&report, Verb::Build);
    announce_feeds(config, &report, true);
    Ok(Outcome::partial_if(!report.is_clean()))
}

/// Pings the WebSub hubs about the feeds the build changed. A hub that could not
/// be told is a warning: the build itself succeeded. With `say_done`, successful
/// pings are listed too (cron's `run` keeps quiet about them).
pub(crate) fn announce_feeds(config: &Config, report: &BuildReport, say_done: bool) {
    let feeds: Vec<String> = (report.files.feeds_written.iter())
        .map(|path| format!("{}{path}", config.site.base_url))
        .collect();
    for ping in ping_hubs(config, &feeds) {
        match &ping.result {
            Ok(status) if say_done => {
                println!("websub: {} accepted {} ({status})", ping.hub, ping.feed);
            }
            Ok(_) => {}
            Err(why) => eprintln!(
                "warning: WebSub hub {} was not told that {} changed: {why} (its subscribers will still poll)",
                ping.hub, ping.feed
            ),
        }
    }
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
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
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

/// `herald check --explain SEED`: one line per part of the seed, with the line it
/// starts on, what it was read as, and its first words.
pub fn execute_explain(config: &Config, seed: &Path) -> anyhow::Result<Outcome> {
    let bytes = std::fs::read(seed).with_context(|| format!("cannot read {}", seed.display()))?;
    let name = seed
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (explanation, result) = explain_seed(&name, &bytes, &config.seed, config.site.timezone);
    let show = |line: Option<usize>, what: &str, text: &str| {
        let line = line.map_or_else(|| "-".to_string(), |l| l.to_string());
        println!("{line:>5}  {what:<22} {}", excerpt(text));
    };
    if let Some(line) = explanation.lead_line {
        show(Some(line), "lead", "");
        if let Some(column) = &explanation.column_intro {
            show(None, "  column intro", column);
        }
        if let Some(episode) = &explanation.episode_intro {
            show(None, "  episode intro (summary)", episode);
        }
    }
    let mut title_shown = false;
    for (line, kind, text) in &explanation.blocks {
        let what = match kind {
            BlockKind::Heading if !title_shown && *text == explanation.title => {
                title_shown = true;
                "heading (title)"
            }
            BlockKind::Heading => "heading",
            BlockKind::Paragraph => "paragraph",
            BlockKind::Dropped => "dropped (boilerplate)",
            BlockKind::Footer => "footer (dropped)",
            BlockKind::AfterFooter => "after footer (dropped)",
        };
        show(Some(*line), what, text);
    }
    match result {
        Ok(parsed) => {
            println!("title: {}", parsed.article.title);
            for warning in &parsed.warnings {
                eprintln!("warning: {warning}");
            }
            Ok(Outcome::Done)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Outcome::Partial)
        }
    }
}

/// The first 40 graphemes of `text` on one line.
fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::article::shorten(&flat, 40)
}
