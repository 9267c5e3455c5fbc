use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use herald::config::Config;
use herald::edition::Week;
use herald::publish::{self, BuildReport, DigestPreview};

/// Publishes a weekly column: feeds, a static site and an e-mail digest.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Path to config.toml; relative paths inside it resolve against its folder.
    #[arg(long, global = true, default_value = "config.toml")]
    config: PathBuf,
    /// Log what each stage does.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read seeds/, write the feeds and the site into the output folder.
    Build,
    /// Validate the config, the templates and every seed without writing anything.
    Check,
    /// Render one edition of the newsletter for preview (HTML, text and .eml); sends nothing.
    Digest {
        /// ISO week of the edition, e.g. 2026-W04 (default: the latest edition due).
        #[arg(long)]
        week: Option<Week>,
        /// Folder to write into (default: `paths.preview` from the config).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Exit codes, documented in README.md.
mod exit {
    pub const SEEDS_SKIPPED: u8 = 1;
    pub const CONFIG: u8 = 2;
    pub const FAILED: u8 = 3;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = if cli.verbose {
        "herald=debug"
    } else {
        "herald=warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();

    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    match run(&cli.command, &config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILED)
        }
    }
}

/// The current time, or `HERALD_NOW` (RFC 3339) to preview or test a given moment.
fn now() -> anyhow::Result<DateTime<Utc>> {
    match std::env::var("HERALD_NOW") {
        Ok(text) => Ok(DateTime::parse_from_rfc3339(&text)
            .with_context(|| format!("HERALD_NOW=`{text}` is not an RFC 3339 time"))?
            .with_timezone(&Utc)),
        Err(_) => Ok(Utc::now()),
    }
}

fn run(command: &Command, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Build => {
            let report = publish::build(config, now()?).context("build failed")?;
            print_report(&report, "build");
            Ok(seed_exit_code(&report))
        }
        Command::Check => {
            let report = publish::check(config, now()?).context("check failed")?;
            print_report(&report, "check");
            Ok(seed_exit_code(&report))
        }
        Command::Digest { week, out } => {
            let out = out.clone().unwrap_or_else(|| config.paths.preview.clone());
            match publish::digest_preview(config, *week, &out, now()?).context("digest failed")? {
                DigestPreview::Written {
                    week,
                    subject,
                    articles,
                    html,
                    text,
                    eml,
                } => {
                    println!("digest {week}: {articles} article(s), subject: {subject}");
                    for path in [html, text, eml] {
                        println!("{}", path.display());
                    }
                }
                DigestPreview::Empty { week } => {
                    println!("digest {week}: empty (no articles), no e-mail produced");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn seed_exit_code(report: &BuildReport) -> ExitCode {
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::SEEDS_SKIPPED)
    }
}

fn print_report(report: &BuildReport, verb: &str) {
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
    let files = if verb == "build" {
        format!(
            "; files: {} written, {} unchanged, {} deleted",
            report.files.written, report.files.unchanged, report.files.deleted
        )
    } else {
        String::new()
    };
    println!(
        "{verb}: {} published ({} new, {} updated, {} unchanged, {} removed), {} scheduled, {} skipped{files}",
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
            "{verb}: {} seed(s) skipped because of the errors above; every other seed was {}",
            report.problems.len(),
            if verb == "build" {
                "published"
            } else {
                "checked"
            }
        );
    }
}
