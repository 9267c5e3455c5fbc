//! Where messages go: an SMTP server, or the outbox folder when none is configured.
//!
//! Herald opens the TCP stream itself and turns Nagle's algorithm off before
//! handing it to lettre's async connection: lettre 0.11 leaves it on, which stalls
//! every message on a connection by a delayed-ACK round (about 40 ms). STARTTLS is
//! then negotiated by lettre. Implicit TLS (`tls = "tls"`) is opened by lettre itself,
//! so Nagle stays on in that mode. Every SMTP step runs under `smtp.timeout_secs`
//! (lettre's own timeout covers connecting only).

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{FileTransport, Transport as _};
use tokio::net::TcpStream;

use crate::config::{Relay, TlsMode};
use crate::support::permissions::password_from;

/// Why one delivery attempt failed, classified for the retry policy.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    permanent: bool,
    relay_down: bool,
    message: String,
}

impl Failure {
    /// A 5xx reply, or a set-up that cannot work: retrying will not help.
    pub(crate) fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The relay itself failed, not this recipient: it could not be reached,
    /// refused service (421), timed out or dropped the connection. Its messages
    /// should go to another relay while it rests.
    pub(crate) fn is_relay_down(&self) -> bool {
        self.relay_down
    }

    /// The server's reply or what went wrong, for the journal and the report.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// The route itself could not be set up (an outbox folder that cannot be
    /// created): nothing was sent, and a later attempt may work.
    pub(crate) fn setup(message: String) -> Failure {
        Failure {
            permanent: false,
            relay_down: true,
            message,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(
        "relay {relay}: cannot read the SMTP password from {path}: {source}\n  hint: check {key}.password_file, or set {env}"
    )]
    Password {
        relay: String,
        key: String,
        env: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "relay {relay}: {key}.username is set but there is no password\n  hint: set {env} or {key}.password_file"
    )]
    MissingPassword {
        relay: String,
        key: String,
        env: String,
    },
    #[error("cannot create the outbox folder {path}: {source}")]
    Outbox {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Settings for opening SMTP connections; cheap to clone into each worker.
#[derive(Clone)]
pub(crate) struct SmtpSettings {
    /// Where the relay's keys are (`smtp`, `smtp.relays[1]`) and its password
    /// variable: what a refused login's hint names.
    key: String,
    password_env: String,
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
}

impl SmtpSettings {
    pub(crate) fn from_config(config: &Relay) -> Result<SmtpSettings, TransportError> {
        let file = config.password_file.as_deref();
        let env = &config.password_env;
        let password = password_from(env, file).map_err(|source| TransportError::Password {
            relay: config.name.clone(),
            key: config.key.clone(),
            env: env.clone(),
            path: file.map(Path::to_path_buf).unwrap_or_default(),
            source,
        })?;
        let credentials = match (&config.username, password) {
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password)),
            (Some(_), None) => {
                return Err(TransportError::MissingPassword {
                    relay: config.name.clone(),
                    key: config.key.clone(),
                    env: env.clone(),
                });
            }
            (None, _) => None,
        };
        Ok(SmtpSettings {
            key: config.key.clone(),
            password_env: env.clone(),
            host: config.host.clone(),
            port: config.port,
            tls: config.tls,
            credentials,
            timeout: Duration::from_secs(config.timeout_secs),
            hello: ClientId::default(),
        })
    }
}

/// A reply the server gave, or an error without one (the connection failed).
fn classify(error: &lettre::transport::smtp::Error, connecting: bool) -> Failure {
    let code = error.status().map(|code| code.to_string());
    Failure {
        permanent: error.is_permanent(),
        relay_down: connecting || code.as_deref().is_none_or(|code| code == "421"),
        message: error.to_string(),
    }
}

fn timed_out(step: &str) -> Failure {
    Failure {
        permanent: false,
        relay_down: true,
        message: format!("timed out during {step}"),
    }
}

/// One SMTP connection, opened lazily and reopened after any failure.
pub(crate) struct SmtpLink {
    settings: SmtpSettings,
    connection: Option<AsyncSmtpConnection>,
}

impl SmtpLink {
    pub(crate) fn new(settings: SmtpSettings) -> SmtpLink {
        SmtpLink {
            settings,
            connection: None,
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let s = &self.settings;
        let limit = s.timeout;
        let tls_params = || {
            TlsParameters::new(s.host.clone()).map_err(|e| Failure {
                permanent: true,
                relay_down: true,
                message: format!("TLS set-up failed: {e}"),
            })
        };
        let mut connection = match s.tls {
            TlsMode::Tls => tokio::time::timeout(
                limit,
                AsyncSmtpConnection::connect_tokio1(
                    (s.host.as_str(), s.port),
                    Some(limit),
                    &s.hello,
                    Some(tls_params()?),
                    None,
                ),
            )
            .await
            .map_err(|_| timed_out("connect"))?
            .map_err(|e| classify(&e, true))?,
            TlsMode::Starttls | TlsMode::None => {
                let stream =
                    tokio::time::timeout(limit, TcpStream::connect((s.host.as_str(), s.port)))
                        .await
                        .map_err(|_| timed_out("connect"))?
                        .map_err(|e| Failure {
                            permanent: false,
                            relay_down: true,
                            message: format!("cannot connect to {}:{}: {e}", s.host, s.port),
                        })?;
                let _ = stream.set_nodelay(true);
                let mut connection = tokio::time::timeout(
                    limit,
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &s.hello),
                )
                .await
                .map_err(|_| timed_out("greeting"))?
                .map_err(|e| classify(&e, true))?;
                if s.tls == TlsMode::Starttls {
                    if !connection.can_starttls() {
                        connection.abort().await;
                        return Err(Failure {
                            permanent: false,
                            relay_down: true,
                            message: format!(
                                "{} does not offer STARTTLS, and smtp.tls = \"starttls\" requires it",
                                s.host
                            ),
                        });
                    }
                    tokio::time::timeout(limit, connection.starttls(tls_params()?, &s.hello))
                        .await
                        .map_err(|_| timed_out("STARTTLS"))?
                        .map_err(|e| classify(&e, true))?;
                }
                connection
            }
        };
        if let Some(credentials) = &s.credentials {
            tokio::time::timeout(
                limit,
                connection.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
            )
            .await
            .map_err(|_| timed_out("AUTH"))?
            .map_err(|e| {
                let mut failure = classify(&e, true);
                if failure.permanent {
                    failure.message = format!(
                        "the server refused the login (check {key}.username and the password in \
                         {env} or {key}.password_file): {message}",
                        key = s.key,
                        env = s.password_env,
                        message = failure.message
                    );
                }
                failure
            })?;
        }
        Ok(connection)
    }

    /// Sends one message; `Ok` carries the server's final reply.
    pub(crate) async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<String, Failure> {
        let mut connection = match self.connection.take() {
            Some(c) if !c.has_broken() => c,
            _ => self.connect().await?,
        };
        match tokio::time::timeout(self.settings.timeout, connection.send(envelope, message)).await
        {
            Ok(Ok(response)) => {
                let reply = format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                );
                self.connection = Some(connection);
                Ok(reply)
            }
            Ok(Err(e)) => Err(classify(&e, false)),
            Err(_) => Err(timed_out("sending")),
        }
    }

    /// Says QUIT politely; errors do not matter any more.
    pub(crate) async fn close(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            let _ = tokio::time::timeout(self.settings.timeout, connection.quit()).await;
        }
    }
}

/// The outbox folder, filled through lettre's `FileTransport`.
///
/// lettre writes a message straight into its final file, so a crash mid-write
/// would leave a truncated `.eml` where a pickup job could read it. Herald has
/// lettre write into a staging folder inside the outbox ([`STAGING`]), makes the
/// file durable, and renames it into the outbox: an `.eml` in the outbox is
/// always whole.
pub(crate) struct Outbox {
    dir: PathBuf,
    staging: PathBuf,
    transport: FileTransport,
}

/// The staging folder's name inside the outbox (hidden, so `*.eml` globs skip it).
pub(crate) const STAGING: &str = ".writing";

/// Staged files older than this are left over from a crash (their recipients are
/// still pending in the send journal and get a fresh copy), and are removed when
/// the outbox is next opened. Younger ones may belong to another running process.
const STALE_STAGED: Duration = Duration::from_secs(3600);

impl Outbox {
    pub(crate) fn open(dir: PathBuf) -> Result<Outbox, TransportError> {
        let staging = dir.join(STAGING);
        std::fs::create_dir_all(&staging).map_err(|source| TransportError::Outbox {
            path: staging.clone(),
            source,
        })?;
        remove_stale_staged(&staging);
        Ok(Outbox {
            transport: FileTransport::new(&staging),
            dir,
            staging,
        })
    }

    pub(crate) fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<String, Failure> {
        let name = readable_name(envelope, message);
        self.transport
            .send_raw(envelope, message)
            .map_err(|e| e.to_string())
            .and_then(|id| self.publish(&format!("{id}.eml"), &name))
            .map(|name| format!("written to the outbox as {name}"))
            .map_err(|e| Failure::setup(format!("cannot write to the outbox: {e}")))
    }

    /// Moves a staged file into the outbox as `name` once its bytes are on disk,
    /// and makes the move durable before the journal can call the message sent.
    fn publish(&self, staged: &str, name: &str) -> Result<String, String> {
        let staged = self.staging.join(staged);
        let describe = |e: std::io::Error| format!("{}: {e}", staged.display());
        std::fs::File::open(&staged)
            .and_then(|file| file.sync_all())
            .map_err(describe)?;
        std::fs::rename(&staged, self.dir.join(name)).map_err(describe)?;
        std::fs::File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| format!("{}: {e}", self.dir.display()))?;
        Ok(name.to_string())
    }
}

/// `<edition>-<recipient>.eml` (`2026-W04-reader@example.com.eml`), or
/// `confirm-<recipient>.eml`: what the message is and whom it is for, from the
/// first part of its Message-ID (see `deterministic_message_id`) and the envelope.
/// A message written again (a resend after a crash) replaces its earlier copy.
fn readable_name(envelope: &Envelope, message: &[u8]) -> String {
    let headers = message
        .split(|&b| b == b'\n')
        .take_while(|line| !line.iter().all(u8::is_ascii_whitespace));
    let kind = headers
        .filter_map(|line| std::str::from_utf8(line).ok())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("message-id")
                .then(|| value.trim().trim_start_matches('<').split('.').next())
                .flatten()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "message".into());
    let to = envelope
        .to()
        .first()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let safe: String = format!("{kind}-{to}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.eml", safe.trim_start_matches('.'))
}

fn remove_stale_staged(staging: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(staging) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE_STAGED);
        if stale && let Err(e) = std::fs::remove_file(entry.path()) {
            tracing::warn!("cannot remove {}: {e}", entry.path().display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope::new(
            Some("column@example.com".parse().unwrap()),
            vec!["reader@example.com".parse().unwrap()],
        )
        .unwrap()
    }

    #[test]
    fn outbox_messages_arrive_whole_and_leave_nothing_staged() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path().join("outbox")).unwrap();
        let message = b"Subject: hello\r\n\r\nA whole message.\r\n";
        let reply = outbox.send(&envelope(), message).unwrap();
        let written: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .collect();
        assert_eq!(written.len(), 1);
        let name = written[0].file_name().into_string().unwrap();
        assert!(reply.ends_with(&name), "{reply}");
        assert_eq!(std::fs::read(written[0].path()).unwrap(), message);
        let staged = dir.path().join("outbox").join(STAGING);
        assert_eq!(std::fs::read_dir(staged).unwrap().count(), 0);
    }

    #[test]
    fn opening_the_outbox_removes_only_old_staged_files() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join(STAGING);
        std::fs::create_dir_all(&staging).unwrap();
        let old = staging.join("crashed.eml");
        let young = staging.join("in-flight.eml");
        std::fs::write(&old, b"half a mess").unwrap();
        std::fs::write(&young, b"being writ").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        Outbox::open(dir.path().to_path_buf()).unwrap();
        assert!(
            !old.exists(),
            "a file staged two hours ago is a crash's leftover"
        );
        assert!(young.exists(), "a fresh staged file may be another run's");
    }
}
