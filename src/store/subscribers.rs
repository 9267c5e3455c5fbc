//! The subscriber list, kept in the state file.
//!
//! Addresses are validated with lettre's parser and stored lower-cased, so the list
//! is unique case-insensitively. Status is `active`, `unsubscribed`, `bounced` or
//! `complained`; an import never reactivates someone who left, and never adds back
//! an address that was forgotten after leaving (the suppression list keeps a keyed
//! hash of it, never the address).

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use lettre::Address;
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS subscribers (
    id                  INTEGER PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL,
    created             INTEGER NOT NULL,
    changed             INTEGER NOT NULL,
    permanent_failures  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS subscribers_status ON subscribers (status, id);
-- Forgotten addresses, as keyed hashes (see `herald subscribers forget`).
CREATE TABLE IF NOT EXISTS suppressed (
    hash     TEXT PRIMARY KEY,
    status   TEXT NOT NULL,
    changed  INTEGER NOT NULL
);
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Unsubscribed,
    Bounced,
    /// Reported the newsletter as spam: never mailed again unless they subscribe
    /// anew (their own confirm link) or the editor adds them by hand.
    Complained,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Unsubscribed => "unsubscribed",
            Status::Bounced => "bounced",
            Status::Complained => "complained",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        match s {
            "active" => Ok(Status::Active),
            "unsubscribed" => Ok(Status::Unsubscribed),
            "bounced" => Ok(Status::Bounced),
            "complained" => Ok(Status::Complained),
            other => Err(format!(
                "`{other}` is not a status (active, unsubscribed, bounced, complained)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscriber {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub status: Status,
    pub created: DateTime<Utc>,
    pub changed: DateTime<Utc>,
    /// Permanent failures in a row (reset by a delivery).
    pub bounces: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SubscriberError {
    #[error("`{address}` is not a valid e-mail address: {reason}")]
    InvalidAddress { address: String, reason: String },
    #[error("a name must not contain line breaks or control characters")]
    InvalidName,
    #[error("{0} is not on the list")]
    NotFound(String),
    #[error("subscriber database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{path}: {message}")]
    Csv { path: String, message: String },
}

/// Validates and normalises an address: trimmed, lower-cased, accepted by lettre.
pub(crate) fn normalise_email(raw: &str) -> Result<String, SubscriberError> {
    let lowered = raw.trim().to_lowercase();
    lowered
        .parse::<Address>()
        .map(|a| a.to_string())
        .map_err(|e| SubscriberError::InvalidAddress {
            address: raw.trim().to_string(),
            reason: e.to_string(),
        })
}

fn clean_name(name: &str) -> Result<String, SubscriberError> {
    if name.chars().any(char::is_control) {
        return Err(SubscriberError::InvalidName);
    }
    Ok(name.trim().to_string())
}

/// What `add` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddOutcome {
    Added,
    /// Already active; nothing changed.
    AlreadyActive,
    /// On the list but unsubscribed or bounced; left as it was.
    Inactive(Status),
    /// Was unsubscribed or bounced and is active again (explicit `add` only).
    Reactivated,
}

/// Report of an import: rows added, already there, and rejected with line numbers.
#[derive(Debug, Default)]
pub(crate) struct ImportReport {
    pub added: usize,
    pub unchanged: usize,
    /// Rows whose address was forgotten after it left the list: not added.
    pub suppressed: usize,
    pub rejected: Vec<(u64, String)>,
}

pub(crate) struct Subscribers<'a> {
    conn: &'a Connection,
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

impl<'a> Subscribers<'a> {
    pub(crate) fn new(conn: &'a Connection) -> Subscribers<'a> {
        Subscribers { conn }
    }

    pub(crate) fn find(&self, email: &str) -> Result<Option<Subscriber>, SubscriberError> {
        let email = normalise_email(email)?;
        Ok(self
            .conn
            .query_row(
                "SELECT id, email, name, status, created, changed, permanent_failures FROM subscribers WHERE email = ?1",
                [&email],
                row_to_subscriber,
            )
            .optional()?)
    }

    /// Adds an address. `reactivate` lets an explicit add bring back someone who
    /// left (the editor re-adding them by hand); imports never do.
    pub(crate) fn add(
        &self,
        email: &str,
        name: &str,
        now: DateTime<Utc>,
        reactivate: bool,
    ) -> Result<AddOutcome, SubscriberError> {
        let email = normalise_email(email)?;
        let name = clean_name(name)?;
        if let Some(existing) = self.find(&email)? {
            return match existing.status {
                Status::Active => Ok(AddOutcome::AlreadyActive),
                other if !reactivate => Ok(AddOutcome::Inactive(other)),
                _ => {
                    self.set_status(&email, Status::Active, now)?;
                    Ok(AddOutcome::Reactivated)
                }
            };
        }
        self.conn.execute(
            "INSERT INTO subscribers (email, name, status, created, changed) VALUES (?1, ?2, 'active', ?3, ?3)",
            params![email, name, ts(now)],
        )?;
        Ok(AddOutcome::Added)
    }

    /// Imports `email,name[,status]` rows (a header row is optional; `export`
    /// writes `email,name,status,created,changed,bounces`). A new address gets the
    /// row's status (active when there is none), so a list exported and imported
    /// again mails nobody who had left; an address already on the list is left as
    /// it is; an address `is_suppressed` says was forgotten after leaving is not
    /// added. Each bad row is reported with its line number and skipped; the rest
    /// are added in one transaction.
    pub(crate) fn import(
        &self,
        source: impl Read,
        label: &str,
        now: DateTime<Utc>,
        is_suppressed: &dyn Fn(&str) -> bool,
    ) -> Result<ImportReport, SubscriberError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(source);
        let mut report = ImportReport::default();
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| {
            for (index, record) in reader.records().enumerate() {
                let record = record.map_err(|e| SubscriberError::Csv {
                    path: label.to_string(),
                    message: e.to_string(),
                })?;
                let line = record
                    .position()
                    .map(|p| p.line())
                    .unwrap_or(index as u64 + 1);
                let email = record.get(0).unwrap_or("");
                if index == 0 && email.eq_ignore_ascii_case("email") {
                    continue;
                }
                if email.is_empty() && record.len() <= 1 {
                    continue;
                }
                let name = record.get(1).unwrap_or("");
                let status = match record.get(2).map(str::trim).filter(|s| !s.is_empty()) {
                    None => Status::Active,
                    Some(text) => match text.parse() {
                        Ok(status) => status,
                        Err(why) => {
                            report.rejected.push((line, why));
                            continue;
                        }
                    },
                };
                let normalised = match normalise_email(email) {
                    Ok(email) => email,
                    Err(e) => {
                        report.rejected.push((line, e.to_string()));
                        continue;
                    }
                };
                if self.find(&normalised)?.is_none() && is_suppressed(&normalised) {
                    report.suppressed += 1;
                    continue;
                }
                match self.insert(&normalised, name, status, now) {
                    Ok(AddOutcome::Added) => report.added += 1,
                    Ok(_) => report.unchanged += 1,
                    Err(SubscriberError::Sqlite(e)) => return Err(SubscriberError::Sqlite(e)),
                    Err(e) => report.rejected.push((line, e.to_string())),
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(report)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Adds `email` with `status` unless it is on the list already (then nothing
    /// changes: an import never reactivates).
    fn insert(
        &self,
        email: &str,
        name: &str,
        status: Status,
        now: DateTime<Utc>,
    ) -> Result<AddOutcome, SubscriberError> {
        let email = normalise_email(email)?;
        let name = clean_name(name)?;
        if let Some(existing) = self.find(&email)? {
            return Ok(match existing.status {
                Status::Active => AddOutcome::AlreadyActive,
                other => AddOutcome::Inactive(other),
            });
        }
        self.conn.execute(
            "INSERT INTO subscribers (email, name, status, created, changed) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![email, name, status.as_str(), ts(now)],
        )?;
        Ok(AddOutcome::Added)
    }

    /// Writes the list (or those with `status`) as CSV that [`Subscribers::import`]
    /// reads back: `email,name,status,created,changed,bounces`, times in RFC 3339.
    pub(crate) fn export(
        &self,
        status: Option<Status>,
        out: impl std::io::Write,
    ) -> Result<usize, SubscriberError> {
        let mut writer = csv::Writer::from_writer(out);
        let csv_error = |e: csv::Error| SubscriberError::Csv {
            path: "standard output".into(),
            message: e.to_string(),
        };
        writer
            .write_record(["email", "name", "status", "created", "changed", "bounces"])
            .map_err(csv_error)?;
        let list = self.list(status)?;
        for s in &list {
            writer
                .write_record([
                    s.email.as_str(),
                    s.name.as_str(),
                    s.status.as_str(),
                    &s.created.to_rfc3339(),
                    &s.changed.to_rfc3339(),
                    &s.bounces.to_string(),
                ])
                .map_err(csv_error)?;
        }
        writer.flush().map_err(|e| SubscriberError::Csv {
            path: "standard output".into(),
            message: e.to_string(),
        })?;
        Ok(list.len())
    }

    /// Erases `email`: its row, and the address in every journal row (the rows
    /// stay, so an edition's counts do). Only `hash` (a keyed hash of the address,
    /// made by the caller) is kept, in the suppression list, so that a later import
    /// does not add the person back. Returns the status they had.
    pub(crate) fn forget(
        &self,
        email: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Status, SubscriberError> {
        let email = normalise_email(email)?;
        let Some(existing) = self.find(&email)? else {
            return Err(SubscriberError::NotFound(email));
        };
        // Erased means gone from the file too: freed space is zeroed, the file is
        // rebuilt (earlier versions of the row may linger in free space), and the
        // write-ahead log is folded in and emptied.
        self.conn.pragma_update(None, "secure_delete", true)?;
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "UPDATE send_journal SET email = '' WHERE subscriber_id = ?1",
            [existing.id],
        )?;
        tx.execute("DELETE FROM subscribers WHERE id = ?1", [existing.id])?;
        tx.execute(
            "INSERT OR REPLACE INTO suppressed (hash, status, changed) VALUES (?1, ?2, ?3)",
            params![hash, existing.status.as_str(), ts(now)],
        )?;
        tx.commit()?;
        self.conn.execute_batch("VACUUM")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .optional()?;
        Ok(existing.status)
    }

    /// Whether `hash` is on the suppression list.
    pub(crate) fn is_suppressed(&self, hash: &str) -> Result<bool, SubscriberError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM suppressed WHERE hash = ?1")?
            .exists([hash])?)
    }

    /// Takes `hash` off the suppression list (the person came back themself).
    pub(crate) fn unsuppress(&self, hash: &str) -> Result<(), SubscriberError> {
        self.conn
            .execute("DELETE FROM suppressed WHERE hash = ?1", [hash])?;
        Ok(())
    }

    pub(crate) fn list(&self, status: Option<Status>) -> Result<Vec<Subscriber>, SubscriberError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, email, name, status, created, changed, permanent_failures FROM subscribers
             WHERE ?1 IS NULL OR status = ?1 ORDER BY email",
        )?;
        let rows = stmt.query_map([status.map(Status::as_str)], row_to_subscriber)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn set_status(
        &self,
        email: &str,
        status: Status,
        now: DateTime<Utc>,
    ) -> Result<(), SubscriberError> {
        let email = normalise_email(email)?;
        let changed = self.conn.execute(
            "UPDATE subscribers SET status = ?2, changed = ?3,
                 permanent_failures = CASE WHEN ?2 = 'active' THEN 0 ELSE permanent_failures END
             WHERE email = ?1 AND status != ?2",
            params![email, status.as_str(), ts(now)],
        )?;
        if changed == 0 && self.find(&email)?.is_none() {
            return Err(SubscriberError::NotFound(email));
        }
        Ok(())
    }

    /// Deletes a subscriber entirely (their send history stays in the journal).
    pub(crate) fn remove(&self, email: &str) -> Result<(), SubscriberError> {
        let email = normalise_email(email)?;
        if self
            .conn
            .execute("DELETE FROM subscribers WHERE email = ?1", [&email])?
            == 0
        {
            return Err(SubscriberError::NotFound(email));
        }
        Ok(())
    }

    pub(crate) fn count(&self, status: Status) -> Result<u64, SubscriberError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM subscribers WHERE status = ?1",
            [status.as_str()],
            |r| r.get::<_, i64>(0).map(|n| n as u64),
        )?)
    }
}

/// One more permanent failure for subscriber `id` (a 5xx reply while sending, or a
/// bounce report other than a dead address): at `bounce_after` in a row, an active
/// subscriber becomes bounced. A delivery resets the count.
pub(crate) fn count_permanent_failure(
    conn: &Connection,
    id: i64,
    bounce_after: u32,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE subscribers SET permanent_failures = permanent_failures + 1,
             status = CASE WHEN permanent_failures + 1 >= ?2 AND status = 'active' THEN 'bounced' ELSE status END,
             changed = CASE WHEN permanent_failures + 1 >= ?2 AND status = 'active' THEN ?3 ELSE changed END
         WHERE id = ?1",
    )?
    .execute(params![id, bounce_after, now])?;
    Ok(())
}

fn row_to_subscriber(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscriber> {
    let status: String = r.get(3)?;
    Ok(Subscriber {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        status: status.parse().unwrap_or(Status::Unsubscribed),
        created: from_ts(r.get(4)?),
        changed: from_ts(r.get(5)?),
        bounces: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(crate::store::journal::SCHEMA).unwrap();
        conn
    }

    #[test]
    fn addresses_are_validated_and_unique_case_insensitively() {
        let conn = db();
        let subs = Subscribers::new(&conn);
        let now = Utc::now();
        assert_eq!(
            subs.add(" Reader@Example.COM ", "讀者", now, false)
                .unwrap(),
            AddOutcome::Added
        );
        assert_eq!(
            subs.add("reader@example.com", "", now, false).unwrap(),
            AddOutcome::AlreadyActive
        );
        assert!(subs.add("not-an-address", "", now, false).is_err());
        assert!(subs.add("a@b.c", "Evil\r\nBcc: x@y.z", now, false).is_err());
        let all = subs.list(None).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].email, "reader@example.com");
        assert_eq!(all[0].name, "讀者");
    }

    #[test]
    fn import_reports_bad_rows_by_line_and_never_reactivates() {
        let conn = db();
        let subs = Subscribers::new(&conn);
        let now = Utc::now();
        subs.add("left@example.com", "", now, false).unwrap();
        subs.set_status("left@example.com", Status::Unsubscribed, now)
            .unwrap();
        let csv = "email,name\none@example.com,One\nbroken-address,Two\n\nleft@example.com,Back\nTWO@example.com,\n";
        let report = subs
            .import(csv.as_bytes(), "list.csv", now, &|_| false)
            .unwrap();
        assert_eq!(report.added, 2);
        assert_eq!(report.unchanged, 1);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].0, 3);
        assert_eq!(
            subs.find("left@example.com").unwrap().unwrap().status,
            Status::Unsubscribed
        );
        let again = subs
            .import(csv.as_bytes(), "list.csv", now, &|_| false)
            .unwrap();
        assert_eq!(again.added, 0);
        assert_eq!(subs.list(None).unwrap().len(), 3);
        assert_eq!(subs.list(Some(Status::Active)).unwrap().len(), 2);
    }

    #[test]
    fn an_export_imports_back_with_its_statuses_and_forgotten_addresses_stay_out() {
        let conn = db();
        let subs = Subscribers::new(&conn);
        let now = Utc::now();
        for (email, status) in [
            ("a@example.com", Status::Active),
            ("b@example.com", Status::Unsubscribed),
            ("c@example.com", Status::Bounced),
            ("d@example.com", Status::Complained),
        ] {
            subs.add(email, "名字, with comma", now, false).unwrap();
            subs.set_status(email, status, now).unwrap();
        }
        let mut csv = Vec::new();
        assert_eq!(subs.export(None, &mut csv).unwrap(), 4);
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.starts_with("email,name,status,created,changed,bounces\n"),
            "{csv}"
        );

        let fresh = db();
        let copy = Subscribers::new(&fresh);
        let report = copy
            .import(csv.as_bytes(), "export.csv", now, &|_| false)
            .unwrap();
        assert_eq!(
            (report.added, report.rejected.len()),
            (4, 0),
            "{:?}",
            report.rejected
        );
        for s in subs.list(None).unwrap() {
            let back = copy.find(&s.email).unwrap().unwrap();
            assert_eq!((back.status, back.name), (s.status, s.name), "{}", s.email);
        }

        let gone = subs.forget("b@example.com", "hash-of-b", now).unwrap();
        assert_eq!(gone, Status::Unsubscribed);
        assert!(subs.find("b@example.com").unwrap().is_none());
        assert!(subs.is_suppressed("hash-of-b").unwrap());
        let again = subs
            .import("b@example.com,B\n".as_bytes(), "again.csv", now, &|e| {
                e == "b@example.com"
            })
            .unwrap();
        assert_eq!((again.added, again.suppressed), (0, 1));
        assert!(subs.find("b@example.com").unwrap().is_none());
        assert!(matches!(
            subs.forget("nobody@example.com", "h", now),
            Err(SubscriberError::NotFound(_))
        ));
    }
}
