//! The `send` and `run` commands: pick the edition, freeze it, fill the journal,
//! deliver, and (for `run`) keep two cron jobs from overlapping.

use std::fs::File;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::build::{BuildError, BuildReport, Prepared, build};
use crate::config::Config;
use crate::content::edition::Week;
use crate::newsletter::bounce::{BounceError, BounceSummary, Mailbox, process_bounces};
use crate::newsletter::delivery::{DeliveryError, DeliveryReport, Route, deliver};
use crate::newsletter::factory::MessageFactory;
use crate::newsletter::token::{TokenError, TokenKey};
use crate::store::journal::{Job, JournalCounts, SendJournal};
use crate::store::subscribers::{Status, Subscribers};
use crate::store::{FrozenEdition, State, StateError};

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("send journal: {0}")]
    Journal(#[from] rusqlite::Error),
    #[error(transparent)]
    Subscribers(#[from] crate::store::subscribers::SubscriberError),
    #[error(
        "another `herald run` or `herald send` holds the lock {path}; exiting without touching anything"
    )]
    LockHeld { path: String },
    #[error("the test message to {to} was not accepted: {failure}")]
    TestSend {
        to: String,
        failure: crate::newsletter::transport::Failure,
    },
    #[error(transparent)]
    Message(#[from] crate::newsletter::message::MessageError),
    #[error("cannot start the sending runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot open the lock file {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
}

/// What sending one edition came to.
#[derive(Debug)]
pub(crate) enum SendOutcome {
    /// The edition has no articles: no e-mail exists for it.
    Empty { week: Week },
    /// Every active subscriber already has it.
    AlreadySent { week: Week, counts: JournalCounts },
    /// `--dry-run`: who would get what.
    DryRun {
        week: Week,
        subject: String,
        recipients: u64,
        route: String,
    },
    Delivered {
        week: Week,
        report: DeliveryReport,
        counts: JournalCounts,
        route: String,
    },
}

impl SendOutcome {
    /// True when something is left undelivered (cron should hear about it).
    pub(crate) fn is_partial(&self) -> bool {
        matches!(self, SendOutcome::Delivered { report, .. }
            if report.failed_temporary > 0 || report.failed_permanent > 0)
    }
}

/// Sends edition `week` to every active subscriber who does not have it yet.
pub(crate) fn send_edition(
    config: &Config,
    week: Week,
    now: DateTime<Utc>,
    dry_run: bool,
    show_progress: bool,
) -> Result<SendOutcome, DispatchError> {
    let state = State::open(&config.paths.state)?;
    let prepared = Prepared::load(config, &state, now)?;
    let Some(digest) = prepared.digest(config, week)? else {
        return Ok(SendOutcome::Empty { week });
    };
    let key = week.to_string();
    let conn = state.connection();
    let journal = SendJournal::new(conn);
    let route = Route::from_config(config)?;
    if dry_run {
        let active = Subscribers::new(conn).count(Status::Active)?;
        let sent = journal.counts(&key)?.sent;
        return Ok(SendOutcome::DryRun {
            week,
            subject: digest.subject,
            recipients: active.saturating_sub(sent),
            route: route.describe(),
        });
    }
    state.freeze_edition(&FrozenEdition {
        week: key.clone(),
        article_ids: digest.article_ids.clone(),
        frozen_at: now.timestamp(),
    })?;
    journal.enqueue(&key, now.timestamp())?;
    if journal.remaining(&key)? == 0 {
        return Ok(SendOutcome::AlreadySent {
            week,
            counts: journal.counts(&key)?,
        });
    }
    let factory = MessageFactory::new(config, TokenKey::for_site(config)?, now)?;
    let report = deliver(
        conn,
        &digest,
        &factory,
        &route,
        config.newsletter.bounce_after,
        now,
        show_progress,
    )?;
    Ok(SendOutcome::Delivered {
        week,
        counts: journal.counts(&key)?,
        report,
        route: route.describe(),
    })
}

/// What `herald send --to` did.
#[derive(Debug)]
pub(crate) struct TestSend {
    pub week: Week,
    pub subject: String,
    pub to: String,
    pub route: String,
    /// The server's answer, or where the outbox put the file.
    pub reply: String,
}

/// `herald send --to ADDRESS`: edition `week` to one address, personalised exactly
/// as a subscriber's copy (its own unsubscribe link; the subscriber's name and VERP
/// tag when the address is on the list), through the configured route. It records
/// nothing: no journal row, no frozen edition, no subscriber change. `None` for an
/// edition without articles.
pub(crate) fn send_test(
    config: &Config,
    week: Week,
    to: &str,
    now: DateTime<Utc>,
) -> Result<Option<TestSend>, DispatchError> {
    let to = crate::store::subscribers::normalise_email(to)?;
    let state = State::open_read_only(&config.paths.state)?;
    let prepared = Prepared::load(config, &state, now)?;
    let Some(digest) = prepared.digest(config, week)? else {
        return Ok(None);
    };
    let subscriber = Subscribers::new(state.connection()).find(&to)?;
    let job = Job {
        rowid: 0,
        subscriber_id: subscriber.as_ref().map_or(0, |s| s.id),
        email: to.clone(),
        name: subscriber.map(|s| s.name).unwrap_or_default(),
    };
    let factory = MessageFactory::new(config, TokenKey::for_site(config)?, now)?;
    let (envelope, bytes) = factory.edition(&digest).build(&job)?;
    let route = Route::from_config(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DispatchError::Runtime)?;
    let reply = runtime
        .block_on(route.send_one(&envelope, &bytes))
        .map_err(|failure| DispatchError::TestSend {
            to: to.clone(),
            failure,
        })?;
    Ok(Some(TestSend {
        week,
        subject: digest.subject,
        to,
        route: route.describe(),
        reply,
    }))
}

/// `herald send`: [`send_edition`] under the run lock, so it never overlaps a cron
/// run working on the same journal. A dry run needs no lock.
pub(crate) fn send(
    config: &Config,
    week: Week,
    now: DateTime<Utc>,
    dry_run: bool,
    show_progress: bool,
) -> Result<SendOutcome, DispatchError> {
    let _lock = if dry_run {
        None
    } else {
        Some(lock(&config.paths.lock)?)
    };
    send_edition(config, week, now, dry_run, show_progress)
}

/// What `herald run` did.
#[derive(Debug)]
pub(crate) struct RunReport {
    /// What reading the bounce mailbox came to, when `[bounces]` is configured. A
    /// failure there (the IMAP server is down) does not stop the build and send:
    /// the reports wait in the mailbox for the next run.
    pub bounces: Option<Result<BounceSummary, BounceError>>,
    pub build: BuildReport,
    /// What sending the edition due now came to (`None` when it is empty or
    /// already complete and nothing was attempted).
    pub send: Option<SendOutcome>,
}

/// Holds the run lock until dropped; the OS releases it if the process dies.
pub(crate) struct RunLock {
    _file: File,
}

/// Takes the exclusive run lock (shared by `run` and `send`), or fails at once with [`DispatchError::LockHeld`].
pub(crate) fn lock(path: &Path) -> Result<RunLock, DispatchError> {
    let shown = path.display().to_string();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DispatchError::Lock {
            path: shown.clone(),
            source,
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| DispatchError::Lock {
            path: shown.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(DispatchError::LockHeld { path: shown }),
        Err(std::fs::TryLockError::Error(source)) => Err(DispatchError::Lock {
            path: shown,
            source,
        }),
    }
}

/// What cron calls: build, then send the most recent due edition if it has
/// articles and is not completely sent. Older editions are never sent from here.
pub(crate) fn run(
    config: &Config,
    now: DateTime<Utc>,
    show_progress: bool,
) -> Result<RunReport, DispatchError> {
    let _lock = lock(&config.paths.lock)?;
    let bounces = config
        .bounces
        .as_ref()
        .map(|_| process_bounces(config, Mailbox::Configured, now));
    let build_report = build(config, now)?;
    let due = crate::content::edition::Schedule::of(config).latest_due(now);
    let send = match send_edition(config, due, now, false, show_progress)? {
        SendOutcome::Empty { .. } | SendOutcome::AlreadySent { .. } => None,
        outcome => Some(outcome),
    };
    Ok(RunReport {
        bounces,
        build: build_report,
        send,
    })
}
