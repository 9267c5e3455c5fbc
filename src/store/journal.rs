//! `SendJournal`: one row per (edition, subscriber), the single source of truth for
//! who got what.
//!
//! A row becomes `sent` only after the server's 250 reply to the message, and that
//! update is committed before the connection carries another message. So after a
//! crash the next run resends only rows that are not `sent`, and the duplicates a
//! crash can cause are bounded by the messages in flight at that moment: at most one
//! per connection (`smtp.pool_size`).

use rusqlite::{Connection, params};

use crate::store::subscribers::count_permanent_failure;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS send_journal (
    week           TEXT NOT NULL,
    subscriber_id  INTEGER NOT NULL,
    email          TEXT NOT NULL,
    status         TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_reply     TEXT,
    updated        INTEGER NOT NULL,
    bounce         TEXT,
    bounce_detail  TEXT,
    relay          TEXT,
    finished_at    REAL,
    PRIMARY KEY (week, subscriber_id)
);
CREATE INDEX IF NOT EXISTS send_journal_status ON send_journal (week, status);
";

/// Columns later versions added, with the statement that adds each to an older
/// state file: the relay that gave a row its status, and when (Unix seconds,
/// fractional: what `herald report` times a send by).
pub(crate) const COLUMNS_ADDED: [(&str, &str); 2] = [
    ("relay", "ALTER TABLE send_journal ADD COLUMN relay TEXT"),
    (
        "finished_at",
        "ALTER TABLE send_journal ADD COLUMN finished_at REAL",
    ),
];

/// What an attempt to reach one recipient came to. A row starts as `pending`,
/// written by the SQL that adds an edition's recipients, and only these outcomes
/// replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendStatus {
    Sent,
    FailedTemporary,
    FailedPermanent,
}

impl SendStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SendStatus::Sent => "sent",
            SendStatus::FailedTemporary => "failed-temporary",
            SendStatus::FailedPermanent => "failed-permanent",
        }
    }
}

/// What a series of delivery attempts for one row came to.
#[derive(Debug, Clone)]
pub(crate) struct Outcome<'a> {
    pub status: SendStatus,
    pub attempts: u32,
    pub reply: &'a str,
    /// The relay's name (`None` for the outbox).
    pub relay: Option<&'a str>,
    /// The run's clock (Unix seconds), for `updated`.
    pub now: i64,
}

/// One message to send.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub rowid: i64,
    pub subscriber_id: i64,
    pub email: String,
    pub name: String,
}

/// Counts of journal rows for one edition.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JournalCounts {
    pub pending: u64,
    pub sent: u64,
    pub failed_temporary: u64,
    pub failed_permanent: u64,
}

impl JournalCounts {
    /// Counts `n` rows of journal status `status` (an unknown status as pending).
    fn add(&mut self, status: &str, n: u64) {
        match status {
            "sent" => self.sent += n,
            "failed-temporary" => self.failed_temporary += n,
            "failed-permanent" => self.failed_permanent += n,
            _ => self.pending += n,
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.pending + self.sent + self.failed_temporary + self.failed_permanent
    }
}

pub(crate) struct SendJournal<'a> {
    conn: &'a Connection,
}

impl<'a> SendJournal<'a> {
    pub(crate) fn new(conn: &'a Connection) -> SendJournal<'a> {
        SendJournal { conn }
    }

    /// Adds a pending row for every active subscriber who has none for `week`.
    /// Returns how many were added.
    pub(crate) fn enqueue(&self, week: &str, now: i64) -> rusqlite::Result<usize> {
        self.conn.execute(
            "INSERT OR IGNORE INTO send_journal (week, subscriber_id, email, status, attempts, updated)
             SELECT ?1, id, email, 'pending', 0, ?2 FROM subscribers WHERE status = 'active'",
            params![week, now],
        )
    }

    /// Up to `limit` rows still to send, after `after_rowid`, for subscribers who are
    /// still active. Callers page through with the last rowid they got, so memory
    /// stays flat however long the list is.
    pub(crate) fn next_batch(
        &self,
        week: &str,
        after_rowid: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<Job>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT j.rowid, j.subscriber_id, s.email, s.name
             FROM send_journal j JOIN subscribers s ON s.id = j.subscriber_id
             WHERE j.week = ?1 AND j.rowid > ?2 AND j.status IN ('pending', 'failed-temporary')
               AND s.status = 'active'
             ORDER BY j.rowid LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![week, after_rowid, limit as i64], |r| {
            Ok(Job {
                rowid: r.get(0)?,
                subscriber_id: r.get(1)?,
                email: r.get(2)?,
                name: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    /// Whether the subscriber may still be sent to (not unsubscribed meanwhile).
    pub(crate) fn still_active(&self, subscriber_id: i64) -> rusqlite::Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM subscribers WHERE id = ?1 AND status = 'active'")?;
        stmt.exists([subscriber_id])
    }

    /// Records the outcome of a delivery attempt series, in its own transaction:
    /// its status, the server's `reply`, and the `relay` that gave it. A permanent
    /// failure counts towards bouncing the subscriber; a success resets that count.
    pub(crate) fn record(
        &self,
        job: &Job,
        outcome: &Outcome,
        bounce_after: u32,
    ) -> rusqlite::Result<()> {
        let Outcome {
            status,
            attempts,
            reply,
            relay,
            now,
        } = outcome;
        let status = *status;
        let finished_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let tx = self.conn.unchecked_transaction()?;
        tx.prepare_cached(
            "UPDATE send_journal SET status = ?2, attempts = attempts + ?3, last_reply = ?4, updated = ?5,
                 relay = ?6, finished_at = ?7
             WHERE rowid = ?1",
        )?
        .execute(params![
            job.rowid,
            status.as_str(),
            attempts,
            reply,
            now,
            relay,
            finished_at
        ])?;
        match status {
            SendStatus::Sent => {
                tx.prepare_cached(
                    "UPDATE subscribers SET permanent_failures = 0 WHERE id = ?1 AND permanent_failures != 0",
                )?
                .execute([job.subscriber_id])?;
            }
            SendStatus::FailedPermanent => {
                count_permanent_failure(&tx, job.subscriber_id, bounce_after, *now)?;
            }
            _ => {}
        }
        tx.commit()
    }

    pub(crate) fn counts(&self, week: &str) -> rusqlite::Result<JournalCounts> {
        let mut stmt = self
            .conn
            .prepare("SELECT status, COUNT(*) FROM send_journal WHERE week = ?1 GROUP BY status")?;
        let mut counts = JournalCounts::default();
        let rows = stmt.query_map([week], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        for row in rows {
            let (status, n) = row?;
            counts.add(&status, n);
        }
        Ok(counts)
    }

    /// Rows still to send to active subscribers (what a run would try).
    pub(crate) fn remaining(&self, week: &str) -> rusqlite::Result<u64> {
        self.conn.query_row(
            "SELECT COUNT(*) FROM send_journal j JOIN subscribers s ON s.id = j.subscriber_id
             WHERE j.week = ?1 AND j.status IN ('pending', 'failed-temporary') AND s.status = 'active'",
            [week],
            |r| r.get::<_, i64>(0).map(|n| n as u64),
        )
    }

    /// What [`EditionReport`] shows of edition `week`.
    pub(crate) fn edition_report(&self, week: &str) -> rusqlite::Result<EditionReport> {
        let mut report = EditionReport::default();
        let mut stmt = self.conn.prepare(
            "SELECT COALESCE(relay, ''), status, COUNT(*) FROM send_journal WHERE week = ?1
             GROUP BY 1, 2 ORDER BY 1",
        )?;
        let rows = stmt.query_map([week], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        for row in rows {
            let (relay, status, n) = row?;
            let counts = match report.relays.iter_mut().find(|(name, _)| *name == relay) {
                Some((_, counts)) => counts,
                None => {
                    report.relays.push((relay, JournalCounts::default()));
                    &mut report.relays.last_mut().expect("just pushed").1
                }
            };
            counts.add(&status, n);
            report.total.add(&status, n);
        }
        let mut stmt = self.conn.prepare(
            "SELECT bounce, COUNT(*) FROM send_journal WHERE week = ?1 AND bounce IS NOT NULL
             GROUP BY 1 ORDER BY 1",
        )?;
        report.bounces = stmt
            .query_map([week], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<_>>()?;
        (report.first_sent, report.last_sent, report.timed) = self.conn.query_row(
            "SELECT MIN(finished_at), MAX(finished_at), COUNT(*) FROM send_journal
             WHERE week = ?1 AND status = 'sent' AND finished_at IS NOT NULL",
            [week],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
        )?;
        Ok(report)
    }

    /// The newest edition with journal rows.
    pub(crate) fn latest_week(&self) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row("SELECT MAX(week) FROM send_journal", [], |r| r.get(0))
    }
}

/// One edition's delivery as the journal has it.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct EditionReport {
    pub total: JournalCounts,
    /// By the relay that gave each row its status (`""`: none yet, or the outbox).
    pub relays: Vec<(String, JournalCounts)>,
    /// Bounce and complaint reports applied to the edition's rows, by kind
    /// (`complaint`, `delayed`, `hard`, `soft`).
    pub bounces: Vec<(String, u64)>,
    /// When the first and last messages were accepted (Unix seconds), over the
    /// `timed` rows that record it.
    pub first_sent: Option<f64>,
    pub last_sent: Option<f64>,
    pub timed: u64,
}
