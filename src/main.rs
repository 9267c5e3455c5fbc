//! The `herald` command: parses the command line, sets up logging, loads the
//! config, runs one [`herald::cmd`] module and turns its result into an exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::io::IsTerminal;

use clap::{Parser, Subcommand};

use herald::cmd::{self, Outcome};
use herald::config::Config;
use herald::content::edition::Week;
use herald::newsletter::send::DispatchError;
use herald::newsletter::token::TokenError;
use herald::store::subscribers::{Status, SubscriberError};

/// mimalloc instead of the system allocator: a build allocates and frees many small
/// strings on several threads, and glibc grows each thread's arena a page at a time
/// (an `mprotect` per page). Measured on 10,000 articles, alternating with glibc:
/// rebuilds with nothing changed and with one article added take a fifth less
/// time; a full build's time is unchanged. Version 2 (the `v2` feature), because
/// version 3 keeps freed memory for a second, longer than a build, which raised a
/// full build's peak RSS from 55 MB to 95 MB (version 2: 60 MB).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Check {
        /// Instead, show how each block of this one seed file is read (lead,
        /// column and episode introductions, title, headings, paragraphs,
        /// boilerplate, footer).
        #[arg(long, value_name = "SEED")]
        explain: Option<PathBuf>,
    },
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
        #[arg(long, conflicts_with = "to")]
        dry_run: bool,
        /// Send the edition to this one address only (need not be a subscriber), as
        /// a subscriber's copy; records nothing.
        #[arg(long, value_name = "ADDRESS")]
        to: Option<String>,
    },
    /// One edition's delivery on one screen: sent, pending and failed by relay,
    /// bounces and complaints, how long sending took and at what rate.
    Report {
        /// ISO week of the edition (default: the newest edition sent).
        #[arg(long)]
        week: Option<Week>,
    },
    /// What cron runs: read bounces (when [bounces] is configured), build, then
    /// send the edition that is due if it is not sent yet.
    Run,
    /// Read delivery reports and complaints from the bounce mailbox and apply them
    /// to the list (default: the mailbox of [bounces]).
    Bounces {
        /// Read this Maildir instead.
        #[arg(long, value_name = "DIR", conflicts_with = "imap")]
        maildir: Option<PathBuf>,
        /// Read the IMAP mailbox of [bounces].
        #[arg(long)]
        imap: bool,
    },
    /// Serve the site, subscribe/confirm/unsubscribe endpoints and edition previews.
    Serve {
        /// Address to listen on (default: `serve.listen` from the config).
        #[arg(long)]
        listen: Option<String>,
        /// Preview the whole site locally: build it into a temporary folder under
        /// the local address, rebuild when a seed, template or the config changes;
        /// public/, the state and the subscribers are never touched.
        #[arg(long)]
        preview: bool,
    },
}

#[derive(Subcommand)]
enum SubscribersCommand {
    /// Add one address (an unsubscribed or bounced one is reactivated).
    Add {
        email: String,
        /// The name the newsletter greets them with.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Import a CSV file of `email,name[,status]` rows (header optional; `export`
    /// writes one). Never reactivates anyone.
    Import { file: PathBuf },
    /// List subscribers.
    List {
        /// Only those with this status: active, unsubscribed, bounced, complained.
        #[arg(long)]
        status: Option<Status>,
    },
    /// Delete an address from the list.
    Remove { email: String },
    /// Write the list as CSV (`email,name,status,created,changed,bounces`) to
    /// standard output; `import` reads it back.
    Export {
        /// Only those with this status: active, unsubscribed, bounced, complained.
        #[arg(long)]
        status: Option<Status>,
    },
    /// Erase a person: their row and their address in the send journal. A keyed
    /// hash stays so that a later import does not add them back.
    Forget { email: String },
}

/// Colour only for a person at a terminal, never in cron mail or a log file, and
/// never when `NO_COLOR` is set (https://no-color.org).
fn colour_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Exit codes, documented in README.md.
mod exit {
    /// Some seeds were skipped or some recipients were not reached.
    pub const PARTIAL: u8 = 1;
    pub const CONFIG: u8 = 2;
    /// A mistake in what was typed: an address that is not one, or not on the list.
    pub const USAGE: u8 = 2;
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
        .with_ansi(colour_wanted())
        .with_target(cli.verbose)
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
    match run(cli.command, &config, &cli.config) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Partial) => ExitCode::from(exit::PARTIAL),
        Err(e) => {
            eprintln!("error: {}", error_report(&e));
            if let Some(DispatchError::LockHeld { .. }) = e.downcast_ref::<DispatchError>() {
                ExitCode::from(exit::LOCKED)
            } else if let Some(TokenError::Invalid) = e.downcast_ref::<TokenError>() {
                ExitCode::from(exit::REFUSED)
            } else if let Some(
                SubscriberError::InvalidAddress { .. }
                | SubscriberError::InvalidName
                | SubscriberError::NotFound(_),
            ) = e.downcast_ref::<SubscriberError>()
            {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::from(exit::FAILED)
            }
        }
    }
}

/// The error and its causes, like `{:#}`, but a cause is left out when the text
/// so far already says it: most of Herald's errors quote their I/O error in the
/// message (before the hint), and the chain would repeat it after the hint.
fn error_report(error: &anyhow::Error) -> String {
    let mut report = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if report.is_empty() {
            report = text;
        } else if !report.contains(&text) {
            report.push_str(": ");
            report.push_str(&text);
        }
    }
    report
}

fn run(command: Command, config: &Config, cli_config: &Path) -> anyhow::Result<Outcome> {
    match command {
        Command::Build => cmd::build::execute(config),
        Command::Check { explain: None } => cmd::build::execute_check(config),
        Command::Check {
            explain: Some(seed),
        } => cmd::build::execute_explain(config, &seed),
        Command::Digest { week, out } => cmd::digest::execute(config, week, out.as_deref()),
        Command::Subscribers(SubscribersCommand::Add { email, name }) => {
            cmd::subscribers::add(config, &email, &name)
        }
        Command::Subscribers(SubscribersCommand::Import { file }) => {
            cmd::subscribers::import(config, &file)
        }
        Command::Subscribers(SubscribersCommand::List { status }) => {
            cmd::subscribers::list(config, status)
        }
        Command::Subscribers(SubscribersCommand::Remove { email }) => {
            cmd::subscribers::remove(config, &email)
        }
        Command::Subscribers(SubscribersCommand::Export { status }) => {
            cmd::subscribers::export(config, status)
        }
        Command::Subscribers(SubscribersCommand::Forget { email }) => {
            cmd::subscribers::forget(config, &email)
        }
        Command::Unsubscribe { token } => cmd::unsubscribe::execute(config, &token),
        Command::Send {
            week, to: Some(to), ..
        } => cmd::send::execute_test(config, week, &to),
        Command::Send { week, dry_run, .. } => cmd::send::execute(config, week, dry_run),
        Command::Run => cmd::send::execute_run(config),
        Command::Report { week } => cmd::report::execute(config, week),
        Command::Bounces { maildir, imap } => {
            cmd::bounces::execute(config, maildir.as_deref(), imap)
        }
        Command::Serve { listen, preview } => {
            cmd::serve::execute(config, cli_config, listen, preview)
        }
    }
}
