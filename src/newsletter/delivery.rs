//! A [`Digest`] + the subscriber list → one personalised message per subscriber,
//! delivered and journaled.
//!
//! Guarantees (see [`crate::store::journal`]): a recipient is marked sent only after the
//! server's 250, committed before that connection carries another message; 4xx
//! replies and dropped connections are retried with exponential backoff up to
//! `smtp.max_attempts` and then left for the next run; 5xx replies are permanent for
//! that recipient and never stop the others; a subscriber who unsubscribes while an
//! edition is going out is checked right before their message and skipped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::message::{Mailbox, dkim_sign};
use rusqlite::Connection;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::newsletter::message::{
    Envelope, ListHeaders, MessageError, compose, deterministic_message_id,
};
use crate::newsletter::token::{TokenKey, with_token};
use crate::newsletter::transport::{Failure, Outbox, SmtpLink, SmtpSettings, TransportError};
use crate::render::digest::Digest;
use crate::store::journal::{Job, SendJournal, SendStatus};

/// Rows fetched from the journal at a time: memory stays flat in list size.
const BATCH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("send journal: {0}")]
    Journal(#[from] rusqlite::Error),
    #[error(
        "DKIM key {path}: {message}\n  hint: use an Ed25519 key (base64 of the 32-byte seed) or an RSA key in PKCS#1 PEM"
    )]
    Dkim { path: String, message: String },
    #[error("cannot start the sender: {0}")]
    Runtime(std::io::Error),
    #[error(
        "gave up on the mail server: {0}\n  hint: the remaining recipients stay pending; the next run continues where this one stopped"
    )]
    ServerUnavailable(String),
}

/// What one sending run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct DeliveryReport {
    pub attempted: u64,
    pub sent: u64,
    pub failed_temporary: u64,
    pub failed_permanent: u64,
    /// Unsubscribed after the run began; nothing was sent to them.
    pub skipped: u64,
    /// Each permanent failure: `(address, server reply)`.
    pub permanent_failures: Vec<(String, String)>,
}

/// Everything that is the same for every message of an edition.
pub(crate) struct MessageFactory {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// `newsletter.bounce_address`: the base of each message's VERP envelope sender.
    bounce_address: Option<lettre::Address>,
    domain: String,
    list_id: String,
    unsubscribe_base: String,
    unsubscribe_mailto: Option<String>,
    keys: TokenKey,
    dkim: Option<DkimConfig>,
    date: SystemTime,
}

impl MessageFactory {
    pub(crate) fn new(
        config: &Config,
        keys: TokenKey,
        now: DateTime<Utc>,
    ) -> Result<MessageFactory, DeliveryError> {
        let n = &config.newsletter;
        let domain = config.site_domain().to_string();
        Ok(MessageFactory {
            from: n.from.clone(),
            reply_to: n.reply_to.clone(),
            bounce_address: n.bounce_address.clone(),
            list_id: match &n.list_id {
                Some(id) => id.clone(),
                None => format!("<newsletter.{domain}>"),
            },
            unsubscribe_base: n.unsubscribe_url.clone(),
            unsubscribe_mailto: n.unsubscribe_mailto.clone(),
            dkim: load_dkim(config)?,
            domain,
            keys,
            date: now.into(),
        })
    }

    pub(crate) fn unsubscribe_url(&self, email: &str) -> String {
        with_token(&self.unsubscribe_base, &self.keys.unsubscribe_token(email))
    }

    /// The exact bytes and envelope for one recipient.
    pub(crate) fn build(
        &self,
        digest: &Digest,
        job: &Job,
    ) -> Result<(lettre::address::Envelope, Vec<u8>), MessageError> {
        let address = job
            .email
            .parse()
            .map_err(|e: lettre::address::AddressError| MessageError::Address {
                field: "subscriber".into(),
                value: job.email.clone(),
                reason: e.to_string(),
            })?;
        let name = (!job.name.is_empty()).then(|| job.name.clone());
        let to = Mailbox::new(name, address);
        let envelope_sender = match &self.bounce_address {
            Some(base) => {
                Some(self.verp_sender(base, &digest.week.to_string(), job.subscriber_id)?)
            }
            None => None,
        };
        let unsubscribe_url = self.unsubscribe_url(&job.email);
        let (html, text) = digest.personalise(&unsubscribe_url);
        let mut message = compose(
            &digest.subject,
            Envelope {
                from: &self.from,
                reply_to: self.reply_to.as_ref(),
                to,
                message_id: deterministic_message_id(
                    &digest.week.to_string(),
                    &job.email,
                    &self.domain,
                ),
                date: self.date,
                list: Some(ListHeaders {
                    list_id: self.list_id.clone(),
                    unsubscribe_url,
                    unsubscribe_mailto: self.unsubscribe_mailto.clone(),
                }),
            },
            html,
            text,
        )?;
        if let Some(dkim) = &self.dkim {
            dkim_sign(&mut message, dkim);
        }
        let envelope = match envelope_sender {
            Some(sender) => {
                lettre::address::Envelope::new(Some(sender), message.envelope().to().to_vec())
                    .map_err(|e| MessageError::Build(e.to_string()))?
            }
            None => message.envelope().clone(),
        };
        Ok((envelope, message.formatted()))
    }

    /// `bounces+<tag>@domain` for `base` = `bounces@domain`: the envelope sender a
    /// delivery report comes back to, naming edition `week` and the subscriber.
    fn verp_sender(
        &self,
        base: &lettre::Address,
        week: &str,
        subscriber_id: i64,
    ) -> Result<lettre::Address, MessageError> {
        let tag = self.keys.bounce_tag(week, subscriber_id);
        let user = format!("{}+{tag}", base.user());
        lettre::Address::new(&user, base.domain()).map_err(|e| MessageError::Address {
            field: "newsletter.bounce_address".into(),
            value: format!("{user}@{}", base.domain()),
            reason: e.to_string(),
        })
    }
}

/// Headers the DKIM signature covers: lettre's defaults, Reply-To (signed even
/// when absent, so none can be added in transit) and MIME-Version, plus the ones
/// RFC 8058 requires for one-click unsubscribe to be trusted. The top-level
/// Content-Type cannot be listed: lettre writes a multipart's Content-Type with
/// the body, outside the headers its signer sees, so listing it would sign it as
/// absent and break every signature (the parts it describes are covered by the
/// body hash).
const DKIM_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

fn load_dkim(config: &Config) -> Result<Option<DkimConfig>, DeliveryError> {
    let (Some(dkim), Some(signing_domain)) = (&config.dkim, config.dkim_domain()) else {
        return Ok(None);
    };
    let path = dkim.key_file.display().to_string();
    let err = |message: String| DeliveryError::Dkim {
        path: path.clone(),
        message,
    };
    crate::support::permissions::warn_if_readable_by_others(&dkim.key_file);
    let pem = std::fs::read_to_string(&dkim.key_file).map_err(|e| err(e.to_string()))?;
    let algorithm = if pem.contains("BEGIN RSA PRIVATE KEY") {
        DkimSigningAlgorithm::Rsa
    } else {
        DkimSigningAlgorithm::Ed25519
    };
    let key = DkimSigningKey::new(pem.trim(), algorithm).map_err(|e| err(format!("{e:?}")))?;
    Ok(Some(DkimConfig::new(
        dkim.selector.clone(),
        signing_domain.to_string(),
        key,
        DKIM_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    )))
}

/// How messages leave: SMTP with a pool of connections, or the outbox folder.
pub(crate) enum Route {
    Smtp {
        settings: SmtpSettings,
        pool_size: usize,
        rate_limit: Option<f64>,
        max_attempts: u32,
        retry_base: Duration,
    },
    Outbox(std::path::PathBuf),
}

impl Route {
    pub(crate) fn from_config(config: &Config) -> Result<Route, DeliveryError> {
        Ok(match &config.smtp {
            Some(smtp) => Route::Smtp {
                settings: SmtpSettings::from_config(smtp)?,
                pool_size: smtp.pool_size,
                rate_limit: smtp.rate_limit,
                max_attempts: smtp.max_attempts,
                retry_base: Duration::from_millis(smtp.retry_base_ms),
            },
            None => Route::Outbox(config.paths.outbox.clone()),
        })
    }

    /// How many messages are in flight at once.
    fn connections(&self) -> usize {
        match self {
            Route::Smtp { pool_size, .. } => *pool_size,
            Route::Outbox(_) => 1,
        }
    }

    /// Sends one message on its own, outside an edition (a subscription
    /// confirmation): over a connection opened and closed for it, or as one file in
    /// the outbox.
    pub(crate) async fn send_one(
        &self,
        envelope: &lettre::address::Envelope,
        message: &[u8],
    ) -> Result<String, Failure> {
        match self {
            Route::Smtp { settings, .. } => {
                let mut link = SmtpLink::new(settings.clone());
                let sent = link.send(envelope, message).await;
                link.close().await;
                sent
            }
            Route::Outbox(dir) => Outbox::open(dir.clone())
                .map_err(|e| Failure::setup(e.to_string()))?
                .send(envelope, message),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Route::Smtp { pool_size, .. } => format!("SMTP ({pool_size} connection(s))"),
            Route::Outbox(dir) => format!("the outbox {}", dir.display()),
        }
    }
}

/// Spaces messages out to at most `rate` per second across all connections.
struct RateLimiter {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl RateLimiter {
    fn new(rate: Option<f64>) -> Option<RateLimiter> {
        rate.map(|r| RateLimiter {
            interval: Duration::from_secs_f64(1.0 / r),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        })
    }

    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// State shared by the sending workers.
struct Shared<'a> {
    db: Mutex<&'a Connection>,
    bounce_after: u32,
    report: Mutex<DeliveryReport>,
    stop: AtomicBool,
    fatal: Mutex<Option<String>>,
    done: AtomicU64,
    progress: ProgressBar,
    now: i64,
}

impl Shared<'_> {
    fn record(
        &self,
        job: &Job,
        status: SendStatus,
        attempts: u32,
        reply: &str,
    ) -> Result<(), rusqlite::Error> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        SendJournal::new(&db).record(job, status, attempts, reply, self.now, self.bounce_after)?;
        drop(db);
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        report.attempted += 1;
        match status {
            SendStatus::Sent => report.sent += 1,
            SendStatus::FailedTemporary => report.failed_temporary += 1,
            SendStatus::FailedPermanent => {
                report.failed_permanent += 1;
                report
                    .permanent_failures
                    .push((job.email.clone(), reply.to_string()));
            }
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        self.progress.inc(1);
        Ok(())
    }

    fn still_active(&self, job: &Job) -> Result<bool, rusqlite::Error> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        SendJournal::new(&db).still_active(job.subscriber_id)
    }

    fn give_up(&self, why: String) {
        self.stop.store(true, Ordering::SeqCst);
        let mut fatal = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        fatal.get_or_insert(why);
    }
}

enum Link {
    Smtp(Box<SmtpLink>),
    Outbox(Arc<Outbox>),
}

impl Link {
    async fn send(
        &mut self,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> Result<String, Failure> {
        match self {
            Link::Smtp(link) => link.send(envelope, bytes).await,
            Link::Outbox(outbox) => outbox.send(envelope, bytes),
        }
    }

    async fn close(&mut self) {
        if let Link::Smtp(link) = self {
            link.close().await;
        }
    }
}

/// Delivers `digest` to every journal row of its edition that is not yet sent.
/// The journal rows must already exist ([`SendJournal::enqueue`]).
pub(crate) fn deliver(
    conn: &Connection,
    digest: &Digest,
    factory: &MessageFactory,
    route: &Route,
    bounce_after: u32,
    now: DateTime<Utc>,
    show_progress: bool,
) -> Result<DeliveryReport, DeliveryError> {
    let week = digest.week.to_string();
    let total = SendJournal::new(conn).remaining(&week)?;
    let progress = if show_progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} sent  {per_sec}  eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let shared = Shared {
        db: Mutex::new(conn),
        bounce_after,
        report: Mutex::new(DeliveryReport::default()),
        stop: AtomicBool::new(false),
        fatal: Mutex::new(None),
        done: AtomicU64::new(0),
        progress,
        now: now.timestamp(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DeliveryError::Runtime)?;
    let queue = route.connections() * 2;
    // Messages are built on a thread of their own, so building the next ones
    // overlaps sending (the runtime's thread talks SMTP and writes the journal).
    let (jobs_in, mut jobs_out) = mpsc::channel::<Job>(queue);
    let (built_in, built_out) = mpsc::channel::<BuiltJob>(queue);
    let result = std::thread::scope(|scope| {
        scope.spawn(move || {
            while let Some(job) = jobs_out.blocking_recv() {
                let built = factory.build(digest, &job);
                if built_in.blocking_send((job, built)).is_err() {
                    break;
                }
            }
        });
        runtime.block_on(run_workers(&shared, route, &week, jobs_in, built_out))
    });
    shared.progress.finish_and_clear();
    result?;
    if let Some(why) = shared
        .fatal
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        return Err(DeliveryError::ServerUnavailable(why));
    }
    Ok(shared
        .report
        .into_inner()
        .unwrap_or_else(|e| e.into_inner()))
}

/// A recipient's message: its envelope and bytes, or why it cannot be built.
type Built = Result<(lettre::address::Envelope, Vec<u8>), crate::newsletter::message::MessageError>;
/// A job with its message, built by the builder thread.
type BuiltJob = (Job, Built);

async fn run_workers(
    shared: &Shared<'_>,
    route: &Route,
    week: &str,
    sender: mpsc::Sender<Job>,
    receiver: mpsc::Receiver<BuiltJob>,
) -> Result<(), DeliveryError> {
    let workers = route.connections();
    let (limiter, max_attempts, retry_base) = match route {
        Route::Smtp {
            rate_limit,
            max_attempts,
            retry_base,
            ..
        } => (RateLimiter::new(*rate_limit), *max_attempts, *retry_base),
        Route::Outbox(_) => (None, 1, Duration::ZERO),
    };
    let outbox = match route {
        Route::Outbox(dir) => Some(Arc::new(Outbox::open(dir.clone())?)),
        Route::Smtp { .. } => None,
    };
    let receiver = tokio::sync::Mutex::new(receiver);
    let feeder = async {
        let mut after = 0;
        loop {
            if shared.stop.load(Ordering::SeqCst) {
                break;
            }
            let batch = {
                let db = shared.db.lock().unwrap_or_else(|e| e.into_inner());
                SendJournal::new(&db).next_batch(week, after, BATCH)?
            };
            let Some(last) = batch.last() else { break };
            after = last.rowid;
            for job in batch {
                if shared.stop.load(Ordering::SeqCst) || sender.send(job).await.is_err() {
                    break;
                }
            }
        }
        drop(sender);
        Ok(())
    };
    let worker = |_: usize| {
        let mut link = match (&outbox, route) {
            (Some(outbox), _) => Link::Outbox(outbox.clone()),
            (None, Route::Smtp { settings, .. }) => {
                Link::Smtp(Box::new(SmtpLink::new(settings.clone())))
            }
            (None, Route::Outbox(_)) => unreachable!("outbox is opened above"),
        };
        let receiver = &receiver;
        let limiter = limiter.as_ref();
        async move {
            loop {
                let Some((job, built)) = receiver.lock().await.recv().await else {
                    break;
                };
                // After a stop, drain what the feeder already queued so it can finish.
                if !shared.stop.load(Ordering::SeqCst) {
                    send_one(
                        shared,
                        &mut link,
                        limiter,
                        &job,
                        built,
                        max_attempts,
                        retry_base,
                    )
                    .await?;
                }
            }
            link.close().await;
            Ok::<(), DeliveryError>(())
        }
    };
    // Workers borrow the shared state, so they run concurrently on this task
    // (joined, not spawned).
    let workers: Vec<_> = (0..workers).map(worker).collect();
    tokio::try_join!(feeder, try_join_all(workers))?;
    Ok(())
}

async fn send_one(
    shared: &Shared<'_>,
    link: &mut Link,
    limiter: Option<&RateLimiter>,
    job: &Job,
    built: Built,
    max_attempts: u32,
    retry_base: Duration,
) -> Result<(), DeliveryError> {
    if !shared.still_active(job)? {
        let mut report = shared.report.lock().unwrap_or_else(|e| e.into_inner());
        report.skipped += 1;
        return Ok(());
    }
    let (envelope, bytes) = match built {
        Ok(built) => built,
        Err(e) => {
            shared.record(job, SendStatus::FailedPermanent, 1, &e.to_string())?;
            return Ok(());
        }
    };
    let mut attempts = 0;
    let mut connect_failures = 0;
    loop {
        attempts += 1;
        if let Some(limiter) = limiter {
            limiter.wait().await;
        }
        match link.send(&envelope, &bytes).await {
            Ok(reply) => {
                shared.record(job, SendStatus::Sent, attempts, &reply)?;
                return Ok(());
            }
            Err(failure) if failure.is_permanent() && !failure.is_connecting() => {
                shared.record(
                    job,
                    SendStatus::FailedPermanent,
                    attempts,
                    failure.message(),
                )?;
                return Ok(());
            }
            Err(failure) => {
                if failure.is_connecting() {
                    connect_failures += 1;
                }
                tracing::debug!(
                    "{}: attempt {attempts} failed: {}",
                    job.email,
                    failure.message().to_string()
                );
                if attempts >= max_attempts || shared.stop.load(Ordering::SeqCst) {
                    shared.record(
                        job,
                        SendStatus::FailedTemporary,
                        attempts,
                        failure.message(),
                    )?;
                    if connect_failures >= max_attempts || failure.is_permanent() {
                        // The server itself is unreachable or refuses us: stop the
                        // run instead of failing every recipient the same way.
                        shared.give_up(failure.message().to_string());
                    }
                    return Ok(());
                }
                let backoff = retry_base.saturating_mul(1 << (attempts - 1).min(10));
                tokio::time::sleep(backoff).await;
            }
        }
    }
}
