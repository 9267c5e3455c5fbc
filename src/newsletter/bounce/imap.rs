//! An IMAP mailbox as a source of reports. Unseen messages are read with
//! `BODY.PEEK[]` (reading does not mark them); a processed one is flagged
//! `\Seen`, moved to `move_to`, or flagged `\Deleted` and expunged when the
//! session ends, as `[bounces] processed` says.

use std::path::Path;

use super::{BounceError, ReportSource};
use crate::config::{BouncesConfig, Processed, TlsMode};
use crate::support::permissions::password_from;

/// Environment variable holding the IMAP password.
pub(crate) const PASSWORD_ENV: &str = "HERALD_IMAP_PASSWORD";

pub(crate) struct Imap {
    session: imap::Session<imap::Connection>,
    processed: Processed,
    move_to: Option<String>,
    deleted_any: bool,
}

fn imap_error(what: &str, e: imap::Error) -> BounceError {
    BounceError::Mailbox(format!("IMAP {what}: {e}"))
}

impl Imap {
    pub(crate) fn open(config: &BouncesConfig) -> Result<Imap, BounceError> {
        let host = config.host.as_deref().unwrap_or_default();
        let username = config.username.as_deref().unwrap_or_default();
        let file = config.password_file.as_deref();
        let password = password_from(PASSWORD_ENV, file)
            .map_err(|e| {
                BounceError::Mailbox(format!(
                    "cannot read the IMAP password from {}: {e}\n  hint: check bounces.password_file, or set {PASSWORD_ENV}",
                    file.unwrap_or(Path::new("")).display()
                ))
            })?
            .ok_or_else(|| {
                BounceError::Mailbox(format!(
                    "no IMAP password\n  hint: set {PASSWORD_ENV} or bounces.password_file"
                ))
            })?;
        let mode = match config.tls {
            TlsMode::Tls => imap::ConnectionMode::Tls,
            TlsMode::Starttls => imap::ConnectionMode::StartTls,
            TlsMode::None => imap::ConnectionMode::Plaintext,
        };
        let client = imap::ClientBuilder::new(host, config.port)
            .mode(mode)
            .connect()
            .map_err(|e| {
                BounceError::Mailbox(format!(
                    "cannot connect to the IMAP server {host}:{}: {e}\n  hint: check bounces.host, bounces.port and bounces.tls",
                    config.port
                ))
            })?;
        let mut session = client.login(username, &password).map_err(|(e, _)| {
            BounceError::Mailbox(format!(
                "the IMAP server refused the login of {username}: {e}\n  hint: check bounces.username and the password in {PASSWORD_ENV} or bounces.password_file"
            ))
        })?;
        if let (Processed::Move, Some(folder)) = (config.processed, &config.move_to) {
            // Made on first use; "already exists" is the usual answer after that.
            let _ = session.create(folder);
        }
        session
            .select(&config.mailbox)
            .map_err(|e| imap_error(&format!("SELECT {}", config.mailbox), e))?;
        Ok(Imap {
            session,
            processed: config.processed,
            move_to: config.move_to.clone(),
            deleted_any: false,
        })
    }
}

impl ReportSource for Imap {
    type Ref = u32;

    fn pending(&mut self) -> Result<Vec<u32>, BounceError> {
        let mut uids: Vec<u32> = self
            .session
            .uid_search("UNSEEN")
            .map_err(|e| imap_error("SEARCH", e))?
            .into_iter()
            .collect();
        uids.sort_unstable();
        Ok(uids)
    }

    fn label(&self, uid: &u32) -> String {
        format!("IMAP UID {uid}")
    }

    fn read(&mut self, uid: &u32) -> Result<Vec<u8>, BounceError> {
        let fetches = self
            .session
            .uid_fetch(uid.to_string(), "BODY.PEEK[]")
            .map_err(|e| imap_error("FETCH", e))?;
        fetches
            .iter()
            .find_map(|f| f.body().map(<[u8]>::to_vec))
            .ok_or_else(|| BounceError::Mailbox(format!("IMAP UID {uid} has no body")))
    }

    fn processed(&mut self, uid: &u32) -> Result<(), BounceError> {
        let uid = uid.to_string();
        match (self.processed, &self.move_to) {
            (Processed::Move, Some(folder)) => self
                .session
                .uid_mv(&uid, folder)
                .map_err(|e| imap_error(&format!("MOVE to {folder}"), e)),
            (Processed::Delete, _) => {
                self.deleted_any = true;
                self.session
                    .uid_store(&uid, "+FLAGS (\\Deleted \\Seen)")
                    .map(drop)
                    .map_err(|e| imap_error("STORE", e))
            }
            _ => self
                .session
                .uid_store(&uid, "+FLAGS (\\Seen)")
                .map(drop)
                .map_err(|e| imap_error("STORE", e)),
        }
    }

    fn close(&mut self) -> Result<(), BounceError> {
        if self.deleted_any {
            self.session
                .expunge()
                .map_err(|e| imap_error("EXPUNGE", e))?;
        }
        self.session.logout().map_err(|e| imap_error("LOGOUT", e))
    }
}
