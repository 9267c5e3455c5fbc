//! The subscriber list → one message each, spread over the relays (or written to
//! the outbox), and journaled.
//!
//! Guarantees (see [`crate::store::journal`]): a recipient is marked sent only after
//! a server's 250, committed before that connection carries another message, so a
//! crash can duplicate at most one message per connection: the sum of the relays'
//! `pool_size`. A 5xx reply is permanent for that recipient and never stops the
//! others; other 4xx replies are retried on the same relay with exponential backoff
//! up to `smtp.max_attempts` and then left for the next run. A subscriber who
//! unsubscribes while an edition is going out is checked right before their message
//! and skipped.
//!
//! Relays: messages are dealt to the relays in proportion to their `weight` (smooth
//! weighted round-robin), each relay sending over its own `pool_size` connections
//! within its own `rate_limit`. A relay that cannot be reached, answers 421, times
//! out or drops the connection rests (out of rotation) for `retry_base_ms`, doubling
//! with each failure in a row, and is tried again later in the run; its messages go
//! to the others meanwhile. The run gives up only when every relay has failed
//! `max_attempts` times in a row. Weights are shares, not priorities: a relay slower
//! than its share holds the others back to its pace unless it times out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rusqlite::Connection;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::Config;
use crate::newsletter::factory::MessageFactory;
use crate::newsletter::message::MessageError;
use crate::newsletter::transport::{Failure, Outbox, SmtpLink, SmtpSettings, TransportError};
use crate::render::digest::Digest;
use crate::store::journal::{Job, Outcome, SendJournal, SendStatus};

/// Rows fetched from the journal at a time: memory stays flat in list size.
const BATCH: usize = 512;

/// The longest a failing relay rests before it is tried again.
const MAX_REST: Duration = Duration::from_secs(300);

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
    /// What each relay did, in configured order (empty for the outbox).
    pub relays: Vec<RelayReport>,
}

/// One relay's share of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RelayReport {
    pub name: String,
    /// Messages it accepted.
    pub sent: u64,
    /// Times it was taken out of rotation.
    pub outages: u32,
    /// Why it was last taken out of rotation.
    pub last_error: Option<String>,
    /// It had failed `max_attempts` times in a row when the run ended.
    pub failing: bool,
}

/// How messages leave: SMTP relays, or the outbox folder.
pub(crate) enum Route {
    Smtp(Relays),
    Outbox(std::path::PathBuf),
}

/// The configured relays, with the run-wide retry settings.
pub(crate) struct Relays {
    relays: Vec<RelayRoute>,
    max_attempts: u32,
    retry_base: Duration,
}

struct RelayRoute {
    name: String,
    settings: SmtpSettings,
    pool_size: usize,
    rate_limit: Option<f64>,
    weight: u32,
}

impl Route {
    pub(crate) fn from_config(config: &Config) -> Result<Route, DeliveryError> {
        let Some(smtp) = &config.smtp else {
            return Ok(Route::Outbox(config.paths.outbox.clone()));
        };
        let relays = (smtp.relays.iter())
            .map(|relay| {
                Ok(RelayRoute {
                    name: relay.name.clone(),
                    settings: SmtpSettings::from_config(relay)?,
                    pool_size: relay.pool_size,
                    rate_limit: relay.rate_limit,
                    weight: relay.weight,
                })
            })
            .collect::<Result<_, TransportError>>()?;
        Ok(Route::Smtp(Relays {
            relays,
            max_attempts: smtp.max_attempts,
            retry_base: Duration::from_millis(smtp.retry_base_ms),
        }))
    }

    /// Sends one message on its own, outside an edition (a subscription
    /// confirmation, a test send): over a connection opened and closed for it,
    /// trying the relays from the heaviest down while they are down, or as one file
    /// in the outbox.
    pub(crate) async fn send_one(
        &self,
        envelope: &lettre::address::Envelope,
        message: &[u8],
    ) -> Result<String, Failure> {
        match self {
            Route::Smtp(relays) => {
                let mut order: Vec<&RelayRoute> = relays.relays.iter().collect();
                order.sort_by_key(|r| std::cmp::Reverse(r.weight));
                let mut last = None;
                for relay in order {
                    let mut link = SmtpLink::new(relay.settings.clone());
                    let sent = link.send(envelope, message).await;
                    link.close().await;
                    match sent {
                        Err(failure) if failure.is_relay_down() => {
                            tracing::warn!(
                                "relay {}: {}; trying the next one",
                                relay.name,
                                failure.message()
                            );
                            last = Some(failure);
                        }
                        sent => return sent,
                    }
                }
                Err(last.unwrap_or_else(|| Failure::setup("no relay is configured".into())))
            }
            Route::Outbox(dir) => Outbox::open(dir.clone())
                .map_err(|e| Failure::setup(e.to_string()))?
                .send(envelope, message),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Route::Smtp(Relays { relays, .. }) => match &relays[..] {
                [one] => format!("SMTP ({} connection(s))", one.pool_size),
                many => {
                    let each: Vec<String> = (many.iter())
                        .map(|r| {
                            format!(
                                "{} ({} connection(s), weight {})",
                                r.name, r.pool_size, r.weight
                            )
                        })
                        .collect();
                    format!("SMTP via {} relays: {}", many.len(), each.join(", "))
                }
            },
            Route::Outbox(dir) => format!("the outbox {}", dir.display()),
        }
    }
}

/// Spaces messages out to at most `rate` per second across one relay's connections.
struct RateLimiter {
    interval: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl RateLimiter {
    fn new(rate: Option<f64>) -> Option<RateLimiter> {
        rate.map(|r| RateLimiter {
            interval: Duration::from_secs_f64(1.0 / r),
            next: tokio::sync::Mutex::new(Instant::now()),
        })
    }

    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One way out during a run: a relay, or the outbox.
struct Lane {
    /// The relay's name; `None` for the outbox.
    name: Option<String>,
    weight: u32,
    connections: usize,
    limiter: Option<RateLimiter>,
    opener: Opener,
}

enum Opener {
    Smtp(SmtpSettings),
    Outbox(Arc<Outbox>),
}

impl Lane {
    fn all(route: &Route) -> Result<Vec<Lane>, DeliveryError> {
        Ok(match route {
            Route::Smtp(relays) => (relays.relays.iter())
                .map(|r| Lane {
                    name: Some(r.name.clone()),
                    weight: r.weight,
                    connections: r.pool_size,
                    limiter: RateLimiter::new(r.rate_limit),
                    opener: Opener::Smtp(r.settings.clone()),
                })
                .collect(),
            Route::Outbox(dir) => vec![Lane {
                name: None,
                weight: 1,
                connections: 1,
                limiter: None,
                opener: Opener::Outbox(Arc::new(Outbox::open(dir.clone())?)),
            }],
        })
    }

    /// What messages and the journal call it.
    fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("the outbox")
    }

    fn open(&self) -> Link {
        match &self.opener {
            Opener::Smtp(settings) => Link::Smtp(Box::new(SmtpLink::new(settings.clone()))),
            Opener::Outbox(outbox) => Link::Outbox(outbox.clone()),
        }
    }
}

/// How a lane has been doing during this run.
#[derive(Default)]
struct Health {
    /// Out of rotation until then.
    resting_until: Option<Instant>,
    /// Failures in a row (reset by a message it accepts).
    failures: u32,
    outages: u32,
    last_error: Option<String>,
    sent: u64,
}

impl Health {
    fn is_resting(&self, now: Instant) -> bool {
        self.resting_until.is_some_and(|until| until > now)
    }
}

/// What the dispatcher does next.
enum Pick {
    Lane(usize),
    /// Every lane is resting; the first is back then.
    Rest(Instant),
    /// Every lane failed `max_attempts` times in a row.
    NoneLeft,
}

/// State shared by the dispatcher and the lanes' workers.
struct Shared<'a> {
    db: Mutex<&'a Connection>,
    bounce_after: u32,
    max_attempts: u32,
    retry_base: Duration,
    report: Mutex<DeliveryReport>,
    health: Mutex<Vec<Health>>,
    stop: AtomicBool,
    fatal: Mutex<Option<String>>,
    done: AtomicU64,
    progress: ProgressBar,
    now: i64,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared<'_> {
    fn record(
        &self,
        job: &Job,
        status: SendStatus,
        attempts: u32,
        reply: &str,
        relay: Option<&str>,
    ) -> Result<(), rusqlite::Error> {
        let outcome = Outcome {
            status,
            attempts,
            reply,
            relay,
            now: self.now,
        };
        SendJournal::new(&locked(&self.db)).record(job, &outcome, self.bounce_after)?;
        let mut report = locked(&self.report);
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
        SendJournal::new(&locked(&self.db)).still_active(job.subscriber_id)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn give_up(&self, why: String) {
        self.stop.store(true, Ordering::SeqCst);
        locked(&self.fatal).get_or_insert(why);
    }

    fn is_resting(&self, lane: usize) -> bool {
        locked(&self.health)[lane].is_resting(Instant::now())
    }

    fn lane_worked(&self, lane: usize) {
        let mut health = locked(&self.health);
        health[lane].failures = 0;
        health[lane].sent += 1;
    }

    /// Takes `lane` out of rotation after `failure`. Connections that fail while it
    /// already rests add nothing: one outage is one failure.
    fn lane_failed(&self, lanes: &[Lane], lane: usize, failure: &Failure) {
        let mut health = locked(&self.health);
        let h = &mut health[lane];
        h.last_error = Some(failure.message().to_string());
        let now = Instant::now();
        if h.is_resting(now) {
            return;
        }
        h.failures += 1;
        h.outages += 1;
        let rest = if failure.is_permanent() {
            h.failures = h.failures.max(self.max_attempts);
            MAX_REST
        } else {
            let doublings = (h.failures - 1).min(16);
            (self.retry_base.saturating_mul(1 << doublings)).min(MAX_REST)
        };
        h.resting_until = Some(now + rest);
        tracing::warn!(
            "relay {} is out of rotation for {:.1} s: {}",
            lanes[lane].label(),
            rest.as_secs_f64(),
            failure.message()
        );
    }

    /// The next lane by smooth weighted round-robin over the lanes not resting
    /// (`current` carries each lane's running credit between calls).
    fn pick(&self, lanes: &[Lane], current: &mut [i64]) -> Pick {
        let health = locked(&self.health);
        let now = Instant::now();
        let ready: Vec<usize> = (0..lanes.len())
            .filter(|&i| !health[i].is_resting(now))
            .collect();
        if ready.is_empty() {
            if health.iter().all(|h| h.failures >= self.max_attempts) {
                return Pick::NoneLeft;
            }
            let back = health.iter().filter_map(|h| h.resting_until).min();
            return Pick::Rest(back.unwrap_or(now));
        }
        let total: i64 = ready.iter().map(|&i| i64::from(lanes[i].weight)).sum();
        for &i in &ready {
            current[i] += i64::from(lanes[i].weight);
        }
        let best = (ready.iter().copied())
            .max_by_key(|&i| (current[i], std::cmp::Reverse(i)))
            .unwrap_or(ready[0]);
        current[best] -= total;
        Pick::Lane(best)
    }

    /// Why the run stopped: each lane's last failure.
    fn none_left(&self, lanes: &[Lane]) -> String {
        let health = locked(&self.health);
        let why = |h: &Health| h.last_error.clone().unwrap_or_default();
        match lanes {
            [_] => why(&health[0]),
            _ => {
                let each: Vec<String> = (lanes.iter().zip(health.iter()))
                    .map(|(lane, h)| format!("{}: {}", lane.label(), why(h)))
                    .collect();
                format!("every relay failed ({})", each.join("; "))
            }
        }
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

/// A recipient's message: its envelope and bytes, or why it cannot be built.
type Built = Result<(lettre::address::Envelope, Vec<u8>), MessageError>;

/// A message on its way, with the attempts made so far (on any lane).
struct Pending {
    job: Job,
    built: Built,
    attempts: u32,
}

/// What a lane's worker did with a message it was dealt.
enum Done {
    /// Recorded in the journal (or skipped, or dropped after a stop: still pending).
    Finished,
    /// Its lane is resting: deal it to another.
    Returned(Pending),
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
    let (max_attempts, retry_base) = match route {
        Route::Smtp(relays) => (relays.max_attempts, relays.retry_base),
        Route::Outbox(_) => (1, Duration::ZERO),
    };
    let lanes = Lane::all(route)?;
    let shared = Shared {
        db: Mutex::new(conn),
        bounce_after,
        max_attempts,
        retry_base,
        report: Mutex::new(DeliveryReport::default()),
        health: Mutex::new(lanes.iter().map(|_| Health::default()).collect()),
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
    let queue = lanes.iter().map(|l| l.connections).sum::<usize>() * 2;
    // Messages are built (personalised, encoded, DKIM-signed) on threads of their
    // own, one per core, a bounded few ahead of the connections: building overlaps
    // sending (the runtime's thread talks SMTP and writes the journal), and an RSA
    // signature per message does not hold every connection to one core's pace.
    let (jobs_in, jobs_out) = mpsc::channel::<Job>(queue);
    let (built_in, built_out) = mpsc::channel::<(Job, Built)>(queue);
    let jobs_out = Mutex::new(jobs_out);
    let builders = crate::support::parallel::worker_count();
    let messages = factory.edition(digest);
    let messages = &messages;
    let result = std::thread::scope(|scope| {
        for _ in 0..builders {
            let (jobs_out, built_in) = (&jobs_out, built_in.clone());
            scope.spawn(move || {
                loop {
                    let Some(job) = locked(jobs_out).blocking_recv() else {
                        break;
                    };
                    let built = messages.build(&job);
                    if built_in.blocking_send((job, built)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(built_in);
        runtime.block_on(run_lanes(&shared, &lanes, &week, jobs_in, built_out))
    });
    shared.progress.finish_and_clear();
    result?;
    // The last messages may have failed on every relay with none left to deal:
    // the run ends as one that gave up.
    let all_failing = locked(&shared.health)
        .iter()
        .all(|h| h.failures >= max_attempts);
    if all_failing {
        shared.give_up(shared.none_left(&lanes));
    }
    let mut report = shared
        .report
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    if let Route::Smtp(_) = route {
        let health = shared
            .health
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        report.relays = (lanes.iter().zip(health))
            .map(|(lane, h)| RelayReport {
                name: lane.name.clone().unwrap_or_default(),
                sent: h.sent,
                outages: h.outages,
                last_error: h.last_error,
                failing: h.failures >= max_attempts,
            })
            .collect();
    }
    if let Some(why) = shared.fatal.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(DeliveryError::ServerUnavailable(why));
    }
    Ok(report)
}

/// Feeds the journal's rows to the builder, deals the built messages to the lanes
/// and runs every lane's connections, all on this thread.
async fn run_lanes(
    shared: &Shared<'_>,
    lanes: &[Lane],
    week: &str,
    sender: mpsc::Sender<Job>,
    built: mpsc::Receiver<(Job, Built)>,
) -> Result<(), DeliveryError> {
    let feeder = async {
        let mut after = 0;
        loop {
            if shared.stopped() {
                break;
            }
            let batch = SendJournal::new(&locked(&shared.db)).next_batch(week, after, BATCH)?;
            let Some(last) = batch.last() else { break };
            after = last.rowid;
            for job in batch {
                if shared.stopped() || sender.send(job).await.is_err() {
                    break;
                }
            }
        }
        drop(sender);
        Ok::<(), DeliveryError>(())
    };
    let (done_in, done_out) = mpsc::unbounded_channel::<Done>();
    let mut queues = Vec::new();
    let receivers: Vec<_> = lanes
        .iter()
        .map(|lane| {
            let (queue_in, queue_out) = mpsc::channel::<Pending>(lane.connections);
            queues.push(queue_in);
            tokio::sync::Mutex::new(queue_out)
        })
        .collect();
    let mut workers = Vec::new();
    for (i, lane) in lanes.iter().enumerate() {
        for _ in 0..lane.connections {
            workers.push(lane_worker(
                shared,
                lanes,
                i,
                &receivers[i],
                done_in.clone(),
            ));
        }
    }
    drop(done_in);
    // Workers borrow the shared state, so they run concurrently on this task
    // (joined, not spawned).
    tokio::try_join!(
        feeder,
        dispatch(shared, lanes, built, done_out, queues),
        try_join_all(workers)
    )?;
    Ok(())
}

/// Deals each built message (and each one a resting lane handed back) to a lane,
/// until every message is finished or the run gives up.
async fn dispatch(
    shared: &Shared<'_>,
    lanes: &[Lane],
    mut built: mpsc::Receiver<(Job, Built)>,
    mut done: mpsc::UnboundedReceiver<Done>,
    queues: Vec<mpsc::Sender<Pending>>,
) -> Result<(), DeliveryError> {
    let mut outstanding = 0usize;
    let mut built_open = true;
    let mut returned: VecDeque<Pending> = VecDeque::new();
    let mut credit = vec![0i64; lanes.len()];
    let take = |d: Done, outstanding: &mut usize, returned: &mut VecDeque<Pending>| {
        *outstanding -= 1;
        if let Done::Returned(pending) = d {
            returned.push_back(pending);
        }
    };
    loop {
        while let Ok(d) = done.try_recv() {
            take(d, &mut outstanding, &mut returned);
        }
        if shared.stopped() {
            // What was returned stays pending in the journal for the next run.
            returned.clear();
            if outstanding == 0 {
                break;
            }
            match done.recv().await {
                Some(d) => take(d, &mut outstanding, &mut returned),
                None => break,
            }
            continue;
        }
        let next = if let Some(pending) = returned.pop_front() {
            pending
        } else if built_open {
            tokio::select! {
                biased;
                Some(d) = done.recv() => {
                    take(d, &mut outstanding, &mut returned);
                    continue;
                }
                job = built.recv() => match job {
                    Some((job, built)) => Pending { job, built, attempts: 0 },
                    None => {
                        built_open = false;
                        continue;
                    }
                },
            }
        } else if outstanding > 0 {
            match done.recv().await {
                Some(d) => take(d, &mut outstanding, &mut returned),
                None => break,
            }
            continue;
        } else {
            break;
        };
        let lane = loop {
            match shared.pick(lanes, &mut credit) {
                Pick::Lane(i) => break Some(i),
                Pick::Rest(until) => tokio::time::sleep_until(until).await,
                Pick::NoneLeft => {
                    shared.give_up(shared.none_left(lanes));
                    break None;
                }
            }
        };
        let Some(lane) = lane else { continue };
        outstanding += 1;
        if queues[lane].send(next).await.is_err() {
            outstanding -= 1;
        }
    }
    drop(queues);
    Ok(())
}

/// One connection of lane `i`: sends what it is dealt until the dispatcher closes
/// the lane's queue.
async fn lane_worker(
    shared: &Shared<'_>,
    lanes: &[Lane],
    i: usize,
    queue: &tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    done: mpsc::UnboundedSender<Done>,
) -> Result<(), DeliveryError> {
    let mut link = lanes[i].open();
    loop {
        let Some(pending) = queue.lock().await.recv().await else {
            break;
        };
        let outcome = if shared.stopped() {
            Done::Finished
        } else if shared.is_resting(i) {
            Done::Returned(pending)
        } else {
            send_pending(shared, lanes, i, &mut link, pending).await?
        };
        let _ = done.send(outcome);
    }
    link.close().await;
    Ok(())
}

async fn send_pending(
    shared: &Shared<'_>,
    lanes: &[Lane],
    i: usize,
    link: &mut Link,
    mut pending: Pending,
) -> Result<Done, DeliveryError> {
    let lane = &lanes[i];
    let relay = lane.name.as_deref();
    let job = &pending.job;
    if !shared.still_active(job)? {
        locked(&shared.report).skipped += 1;
        return Ok(Done::Finished);
    }
    let (envelope, bytes) = match &pending.built {
        Ok(built) => built,
        Err(e) => {
            shared.record(job, SendStatus::FailedPermanent, 1, &e.to_string(), None)?;
            return Ok(Done::Finished);
        }
    };
    loop {
        pending.attempts += 1;
        let attempts = pending.attempts;
        if let Some(limiter) = &lane.limiter {
            limiter.wait().await;
        }
        let failure = match link.send(envelope, bytes).await {
            Ok(reply) => {
                shared.record(job, SendStatus::Sent, attempts, &reply, relay)?;
                shared.lane_worked(i);
                return Ok(Done::Finished);
            }
            Err(failure) => failure,
        };
        tracing::debug!(
            "{}: attempt {attempts} on {} failed: {}",
            job.email,
            lane.label(),
            failure.message()
        );
        let mut last_try = attempts >= shared.max_attempts || shared.stopped();
        if failure.is_relay_down() {
            shared.lane_failed(lanes, i, &failure);
            // The relay failed, not the message: it may try every relay
            // `max_attempts` times (bounded, for a message that itself breaks
            // connections).
            let tries = shared.max_attempts.saturating_mul(lanes.len() as u32);
            last_try = attempts >= tries || shared.stopped();
            if !last_try {
                return Ok(Done::Returned(pending));
            }
        } else if failure.is_permanent() {
            let reply = failure.message();
            shared.record(job, SendStatus::FailedPermanent, attempts, reply, relay)?;
            return Ok(Done::Finished);
        }
        if last_try {
            let reply = failure.message();
            shared.record(job, SendStatus::FailedTemporary, attempts, reply, relay)?;
            return Ok(Done::Finished);
        }
        let backoff = shared
            .retry_base
            .saturating_mul(1 << (attempts - 1).min(10));
        tokio::time::sleep(backoff).await;
    }
}
