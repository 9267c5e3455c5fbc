//! What bounce and complaint reports did: each report counted once
//! (`bounce_reports`), its outcome on the journal row of the edition and
//! subscriber it is about, and its effect on the subscriber.

use rusqlite::{Connection, params};

use crate::store::subscribers::count_permanent_failure;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bounce_reports (
    key            TEXT PRIMARY KEY,
    received       INTEGER NOT NULL,
    outcome        TEXT NOT NULL,
    week           TEXT,
    subscriber_id  INTEGER
);
";

/// Columns the journal gained for bounces; added to older state files at open.
pub(crate) const JOURNAL_COLUMNS: [(&str, &str); 2] = [
    ("bounce", "ALTER TABLE send_journal ADD COLUMN bounce TEXT"),
    (
        "bounce_detail",
        "ALTER TABLE send_journal ADD COLUMN bounce_detail TEXT",
    ),
];

/// What a report does to its subscriber, strongest last: a weaker report never
/// overwrites a stronger one on the journal row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Effect {
    /// Recorded on the journal row only.
    Delayed,
    /// Counts toward `newsletter.bounce_after`.
    Soft,
    /// The subscriber is marked bounced at once.
    Hard,
    /// The subscriber is marked complained: never mailed again.
    Complaint,
}

impl Effect {
    fn as_str(self) -> &'static str {
        match self {
            Effect::Delayed => "delayed",
            Effect::Soft => "soft",
            Effect::Hard => "hard",
            Effect::Complaint => "complaint",
        }
    }

    fn rank_sql() -> &'static str {
        "CASE bounce WHEN 'delayed' THEN 1 WHEN 'soft' THEN 2 WHEN 'hard' THEN 3 WHEN 'complaint' THEN 4 ELSE 0 END"
    }

    fn rank(self) -> i64 {
        match self {
            Effect::Delayed => 1,
            Effect::Soft => 2,
            Effect::Hard => 3,
            Effect::Complaint => 4,
        }
    }
}

/// The delivery a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub week: String,
    pub subscriber_id: i64,
}

pub(crate) struct BounceLedger<'a> {
    conn: &'a Connection,
}

impl<'a> BounceLedger<'a> {
    pub(crate) fn new(conn: &'a Connection) -> BounceLedger<'a> {
        BounceLedger { conn }
    }

    /// Whether the report with this key was processed before.
    pub(crate) fn seen(&self, key: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM bounce_reports WHERE key = ?1")?
            .exists([key])
    }

    /// Every (subscriber id, address) the journal holds for `week`, for matching a
    /// report's original Message-ID.
    pub(crate) fn recipients_of(&self, week: &str) -> rusqlite::Result<Vec<(i64, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT subscriber_id, email FROM send_journal WHERE week = ?1 AND email != ''",
        )?;
        let rows = stmt.query_map([week], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Records a report that changes nothing (an auto-reply, an unattributed or
    /// refused report) so that it is counted once.
    pub(crate) fn note(&self, key: &str, outcome: &str, now: i64) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO bounce_reports (key, received, outcome) VALUES (?1, ?2, ?3)",
            params![key, now, outcome],
        )?;
        Ok(())
    }

    /// Applies a report to `delivery`, in one transaction with its record, so a
    /// crash can neither apply it twice nor record it unapplied. Returns false when
    /// the key was recorded before (nothing changed).
    pub(crate) fn apply(
        &self,
        key: &str,
        delivery: &Delivery,
        effect: Effect,
        detail: &str,
        now: i64,
        bounce_after: u32,
    ) -> rusqlite::Result<bool> {
        let tx = self.conn.unchecked_transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO bounce_reports (key, received, outcome, week, subscriber_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                key,
                now,
                effect.as_str(),
                delivery.week,
                delivery.subscriber_id
            ],
        )?;
        if inserted == 0 {
            return Ok(false);
        }
        tx.execute(
            &format!(
                "UPDATE send_journal SET bounce = ?3, bounce_detail = ?4
                 WHERE week = ?1 AND subscriber_id = ?2 AND {} <= ?5",
                Effect::rank_sql()
            ),
            params![
                delivery.week,
                delivery.subscriber_id,
                effect.as_str(),
                detail,
                effect.rank()
            ],
        )?;
        let id = delivery.subscriber_id;
        match effect {
            Effect::Delayed => {}
            Effect::Soft => {
                count_permanent_failure(&tx, id, bounce_after, now)?;
            }
            Effect::Hard => {
                tx.execute(
                    "UPDATE subscribers SET status = 'bounced', changed = ?2
                     WHERE id = ?1 AND status = 'active'",
                    params![id, now],
                )?;
            }
            Effect::Complaint => {
                tx.execute(
                    "UPDATE subscribers SET status = 'complained', changed = ?2
                     WHERE id = ?1 AND status != 'complained'",
                    params![id, now],
                )?;
            }
        }
        tx.commit()?;
        Ok(true)
    }
}
