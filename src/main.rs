use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use herald::config::Config;
use std::io::IsTerminal;

use herald::build::{self as publish, BuildReport};
use herald::content::edition::Week;
use herald::newsletter::preview::{DigestPreview, digest_preview};
use herald::newsletter::send::{self as dispatch, DispatchError, SendOutcome};
use herald::newsletter::token::TokenError;
use herald::store::State;
use herald::store::subscribers::{AddOutcome, Status, Subscribers};

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
    /// Manage the subscriber list.
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// Unsubscribe the address an unsubscribe link's token was made for.
    Unsubscribe {
        /// The `token` parameter of the link.
        token: String,
    },
    /// Send one edition to every active subscriber who does not have it yet.
    Send {
        /// ISO week of the edition (default: the latest edition due).
        #[arg(long)]
        week: Option<Week>,
        /// Show who would get what, send nothing, record nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// What cron runs: build, then send the edition that is due if it is not sent yet.
    Run,
    /// Serve the site, subscribe/confirm/unsubscribe endpoints and edition previews.
    Serve {
        /// Address to listen on (default: `serve.listen` from the config).
        #[arg(long)]
        listen: Option<String>,
    },
}

#[derive(Subcommand)]
enum SubscribersCommand {
    /// Add one address (an unsubscribed or bounced one is reactivated).
    Add {
        email: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Import a CSV file of `email,name` rows (header optional). Never reactivates.
    Import { file: PathBuf },
    /// List subscribers.
    List {
        #[arg(long)]
        status: Option<Status>,
    },
    /// Delete an address from the list.
    Remove { email: String },
}

/// Exit codes, documented in README.md.
mod exit {
    /// Some seeds were skipped or some recipients were not reached.
    pub const PARTIAL: u8 = 1;
    pub const CONFIG: u8 = 2;
    pub const FAILED: u8 = 3;
    /// The unsubscribe token was refused.
    pub const REFUSED: u8 = 4;
    /// Another `herald run` holds the lock (EX_TEMPFAIL).
    pub const LOCKED: u8 = 75;
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
        Ok(config) => {
            for warning in &config.warnings {
                eprintln!("warning: {}: {warning}", cli.config.display());
            }
            config
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    match run(&cli.command, &config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(DispatchError::LockHeld { .. }) = e.downcast_ref::<DispatchError>() {
                ExitCode::from(exit::LOCKED)
            } else if let Some(TokenError::Invalid) = e.downcast_ref::<TokenError>() {
                ExitCode::from(exit::REFUSED)
            } else {
                ExitCode::from(exit::FAILED)
            }
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
            match digest_preview(config, *week, &out, now()?).context("digest failed")? {
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
        Command::Subscribers(command) => subscribers(command, config),
        Command::Unsubscribe { token } => {
            let email =
                herald::newsletter::token::TokenKey::for_site(config)?.verify_unsubscribe(token)?;
            let state = State::open(&config.paths.state)?;
            Subscribers::new(state.connection()).set_status(
                &email,
                Status::Unsubscribed,
                now()?,
            )?;
            println!("unsubscribed {email}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Send { week, dry_run } => {
            let now = now()?;
            let week = week
                .unwrap_or_else(|| herald::content::edition::Schedule::of(config).latest_due(now));
            let outcome = dispatch::send(config, week, now, *dry_run, progress_wanted())
                .with_context(|| format!("sending edition {week} failed"))?;
            print_send(&outcome, true);
            Ok(if outcome.is_partial() {
                ExitCode::from(exit::PARTIAL)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Serve { listen } => {
            let clock = match std::env::var("HERALD_NOW") {
                Ok(_) => Some(now()?),
                Err(_) => None,
            };
            herald::serve::serve(config.clone(), listen.clone(), clock)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let report = dispatch::run(config, now()?, progress_wanted()).context("run failed")?;
            let b = &report.build;
            let c = &b.changes;
            if !(c.new.is_empty()
                && c.updated.is_empty()
                && c.removed.is_empty()
                && b.problems.is_empty())
            {
                print_report(b, "build");
            }
            if let Some(outcome) = &report.send {
                print_send(outcome, false);
            }
            let partial =
                !b.is_clean() || report.send.as_ref().is_some_and(SendOutcome::is_partial);
            Ok(if partial {
                ExitCode::from(exit::PARTIAL)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// A progress bar only for a person watching, never under cron.
fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}

fn subscribers(command: &SubscribersCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let state = State::open(&config.paths.state)?;
    let subs = Subscribers::new(state.connection());
    let now = now()?;
    match command {
        SubscribersCommand::Add { email, name } => {
            let outcome = subs.add(email, name, now, true)?;
            let email = herald::store::subscribers::normalise_email(email)?;
            match outcome {
                AddOutcome::Added => println!("added {email}"),
                AddOutcome::AlreadyActive => println!("{email} is already subscribed"),
                AddOutcome::Reactivated => println!("reactivated {email}"),
                AddOutcome::Inactive(status) => println!("{email} stays {status}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        SubscribersCommand::Import { file } => {
            let reader = std::fs::File::open(file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let report = subs.import(reader, &file.display().to_string(), now)?;
            for (line, why) in &report.rejected {
                eprintln!("{}:{line}: {why} (row skipped)", file.display());
            }
            println!(
                "import: {} added, {} already on the list, {} rejected",
                report.added,
                report.unchanged,
                report.rejected.len()
            );
            Ok(if report.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(exit::PARTIAL)
            })
        }
        SubscribersCommand::List { status } => {
            for s in subs.list(*status)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    s.email,
                    s.status,
                    s.name,
                    s.changed.to_rfc3339()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SubscribersCommand::Remove { email } => {
            subs.remove(email)?;
            println!(
                "removed {}",
                herald::store::subscribers::normalise_email(email)?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

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
        }
    }
}

fn seed_exit_code(report: &BuildReport) -> ExitCode {
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::PARTIAL)
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
