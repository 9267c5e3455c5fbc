//! `herald bounces`: delivery reports and complaints from the bounce mailbox →
//! subscriber statuses and journal rows.
//!
//! A report is attributed only on evidence Herald made itself: the signed VERP tag
//! of the envelope sender it came back to ([`TokenKey::bounce_tag`]), else the
//! original message's `Message-ID` matched against the send journal. A tag that
//! fails verification is refused and changes nothing; a `Final-Recipient` alone is
//! never trusted, since anyone can mail a report naming any address.
//!
//! Each report is recorded by a fingerprint of its bytes in the same transaction as
//! its effect, so a second pass over the same mailbox (or a crash between applying
//! a report and flagging it) changes nothing. Unclassified messages are left
//! untouched in the mailbox for a person.

mod classify;
mod imap;
mod maildir;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::{BouncesConfig, Config};
use crate::newsletter::message::deterministic_message_id;
use crate::newsletter::token::{TokenError, TokenKey};
use crate::store::bounces::{BounceLedger, Delivery, Effect};
use crate::store::{State, StateError};
use crate::support::fingerprint::fingerprint;
pub(crate) use classify::{Outcome, Report, classify};

#[derive(Debug, thiserror::Error)]
pub enum BounceError {
    #[error("bounce mailbox: {0}")]
    Mailbox(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("state file: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(
        "no bounce mailbox\n  hint: pass --maildir DIR, or configure [bounces] (maildir, or an IMAP host)"
    )]
    NoMailbox,
}

/// Where reports are read from.
pub(crate) trait ReportSource {
    type Ref;
    /// The messages not processed yet, oldest first.
    fn pending(&mut self) -> Result<Vec<Self::Ref>, BounceError>;
    /// How a person finds the message (a file name, an IMAP UID).
    fn label(&self, message: &Self::Ref) -> String;
    fn read(&mut self, message: &Self::Ref) -> Result<Vec<u8>, BounceError>;
    /// Marks the message done, as `[bounces] processed` says.
    fn processed(&mut self, message: &Self::Ref) -> Result<(), BounceError>;
    fn close(&mut self) -> Result<(), BounceError> {
        Ok(())
    }
}

/// Which mailbox `herald bounces` reads.
pub(crate) enum Mailbox<'a> {
    Maildir(&'a Path),
    /// The IMAP server of `[bounces]`.
    Imap,
    /// Whatever `[bounces]` configures.
    Configured,
}

/// What one pass over the mailbox found. The lists name messages by file or UID.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct BounceSummary {
    pub hard: usize,
    pub soft: usize,
    pub complaints: usize,
    pub delayed: usize,
    pub auto_replies: usize,
    /// Reports whose VERP tag failed verification.
    pub refused: Vec<String>,
    /// Reports with neither a tag nor a Message-ID Herald sent.
    pub unattributed: Vec<String>,
    /// Messages Herald does not recognise, left in the mailbox.
    pub unclassified: Vec<String>,
    /// Messages whose report was counted by an earlier pass.
    pub already_counted: usize,
}

/// Reads every unprocessed message of `mailbox` and applies what it reports.
pub(crate) fn process_bounces(
    config: &Config,
    mailbox: Mailbox<'_>,
    now: DateTime<Utc>,
) -> Result<BounceSummary, BounceError> {
    let processed = config
        .bounces
        .as_ref()
        .map_or(crate::config::Processed::Seen, |b| b.processed);
    let state = State::open(&config.paths.state)?;
    let keys = TokenKey::for_site(config)?;
    let judge = Judge {
        config,
        keys: &keys,
        ledger: BounceLedger::new(state.connection()),
        now: now.timestamp(),
    };
    let configured = config.bounces.as_ref();
    match mailbox {
        Mailbox::Maildir(dir) => judge.run(maildir::Maildir::open(dir, processed)?),
        Mailbox::Imap => match configured.filter(|b| b.host.is_some()) {
            Some(bounces) => judge.run(imap::Imap::open(bounces)?),
            None => Err(BounceError::Mailbox(
                "--imap needs [bounces] host, username and a password".into(),
            )),
        },
        Mailbox::Configured => match configured {
            Some(BouncesConfig {
                maildir: Some(dir), ..
            }) => judge.run(maildir::Maildir::open(dir, processed)?),
            Some(b) => judge.run(imap::Imap::open(b)?),
            None => Err(BounceError::NoMailbox),
        },
    }
}

/// Decides what each report means and records it.
struct Judge<'a> {
    config: &'a Config,
    keys: &'a TokenKey,
    ledger: BounceLedger<'a>,
    now: i64,
}

/// Whom a report is about.
enum Attribution {
    Delivery(Delivery),
    /// A tag was there but is not one Herald signed.
    Refused,
    Unknown,
}

impl Judge<'_> {
    fn run<S: ReportSource>(&self, mut source: S) -> Result<BounceSummary, BounceError> {
        let mut summary = BounceSummary::default();
        for message in source.pending()? {
            let label = source.label(&message);
            let raw = source.read(&message)?;
            let key = fingerprint([raw.as_slice()]);
            if self.ledger.seen(&key)? {
                summary.already_counted += 1;
                source.processed(&message)?;
                continue;
            }
            let report = classify(&raw);
            let effect = match report.outcome {
                Outcome::Unclassified => {
                    summary.unclassified.push(label);
                    continue;
                }
                Outcome::AutoReply => {
                    self.ledger.note(&key, "auto-reply", self.now)?;
                    summary.auto_replies += 1;
                    source.processed(&message)?;
                    continue;
                }
                Outcome::Delayed => Effect::Delayed,
                Outcome::Soft => Effect::Soft,
                Outcome::Hard => Effect::Hard,
                Outcome::Complaint => Effect::Complaint,
            };
            match self.attribute(&report)? {
                Attribution::Refused => {
                    self.ledger.note(&key, "refused", self.now)?;
                    summary.refused.push(label);
                }
                Attribution::Unknown => {
                    self.ledger.note(&key, "unattributed", self.now)?;
                    summary.unattributed.push(label);
                }
                Attribution::Delivery(delivery) => {
                    let detail = match &report.status {
                        Some(status) if !report.diagnostic.contains(status.as_str()) => {
                            format!("{status} {}", report.diagnostic)
                        }
                        _ => report.diagnostic.clone(),
                    };
                    self.ledger.apply(
                        &key,
                        &delivery,
                        effect,
                        detail.trim(),
                        self.now,
                        self.config.newsletter.bounce_after,
                    )?;
                    match effect {
                        Effect::Hard => summary.hard += 1,
                        Effect::Soft => summary.soft += 1,
                        Effect::Delayed => summary.delayed += 1,
                        Effect::Complaint => summary.complaints += 1,
                    }
                }
            }
            source.processed(&message)?;
        }
        source.close()?;
        Ok(summary)
    }

    fn attribute(&self, report: &Report) -> Result<Attribution, BounceError> {
        if let Some(base) = &self.config.newsletter.bounce_address {
            let prefix = format!("{}+", base.user().to_ascii_lowercase());
            let mut refused = false;
            for address in &report.addressed_to {
                let Some((local, domain)) = address.rsplit_once('@') else {
                    continue;
                };
                let local = local.to_ascii_lowercase();
                if !domain.eq_ignore_ascii_case(base.domain()) {
                    continue;
                }
                let Some(tag) = local.strip_prefix(&prefix) else {
                    continue;
                };
                match self.keys.verify_bounce_tag(tag) {
                    Ok((week, subscriber_id)) => {
                        return Ok(Attribution::Delivery(Delivery {
                            week,
                            subscriber_id,
                        }));
                    }
                    Err(_) => refused = true,
                }
            }
            if refused {
                return Ok(Attribution::Refused);
            }
        }
        Ok(match &report.original_message_id {
            Some(id) => self
                .by_message_id(id)?
                .map_or(Attribution::Unknown, Attribution::Delivery),
            None => Attribution::Unknown,
        })
    }

    /// The journal row whose message had Message-ID `id` (`<week>.<hash>@<domain>`,
    /// see [`deterministic_message_id`]).
    fn by_message_id(&self, id: &str) -> Result<Option<Delivery>, BounceError> {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        let Some((week, _)) = id.split_once('.') else {
            return Ok(None);
        };
        if week.parse::<crate::content::edition::Week>().is_err() {
            return Ok(None);
        }
        let domain = self.config.site_domain();
        let wanted = format!("<{id}>");
        Ok(self
            .ledger
            .recipients_of(week)?
            .into_iter()
            .find(|(_, email)| deterministic_message_id(week, email, domain) == wanted)
            .map(|(subscriber_id, _)| Delivery {
                week: week.to_string(),
                subscriber_id,
            }))
    }
}
