//! Where messages go: an SMTP server, or the outbox folder when none is configured.
//!
//! Herald opens the TCP stream itself and turns Nagle's algorithm off before
//! handing it to lettre's async connection: lettre 0.11 leaves it on, which stalls
//! every message on a connection by a delayed-ACK round (about 40 ms). STARTTLS is
//! then negotiated by lettre. Implicit TLS (`tls = "tls"`) is opened by lettre itself,
//! so Nagle stays on in that mode. Every SMTP step runs under `smtp.timeout_secs`
//! (lettre's own timeout covers connecting only).

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{FileTransport, Transport as _};
use tokio::net::TcpStream;

use crate::config::{SmtpConfig, TlsMode};

/// Environment variable holding the SMTP password.
pub const PASSWORD_ENV: &str = "HERALD_SMTP_PASSWORD";

/// Why one delivery attempt failed, classified for the retry policy.
#[derive(Debug, Clone)]
pub struct Failure {
    /// A 5xx reply: retrying will not help.
    pub permanent: bool,
    /// The failure happened before the server accepted the connection (it may be
    /// down, or refusing us): a run-wide problem rather than this recipient's.
    pub connecting: bool,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(
        "cannot read the SMTP password from {path}: {source}\n  hint: check smtp.password_file, or set HERALD_SMTP_PASSWORD"
    )]
    Password {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "smtp.username is set but there is no password\n  hint: set HERALD_SMTP_PASSWORD or smtp.password_file"
    )]
    MissingPassword,
    #[error("cannot create the outbox folder {path}: {source}")]
    Outbox {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Settings for opening SMTP connections; cheap to clone into each worker.
#[derive(Clone)]
pub struct SmtpSettings {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
}

impl SmtpSettings {
    pub fn from_config(config: &SmtpConfig) -> Result<SmtpSettings, TransportError> {
        let password = match std::env::var(PASSWORD_ENV) {
            Ok(p) => Some(p),
            Err(_) => match &config.password_file {
                Some(path) => {
                    crate::token::warn_if_readable_by_others(path);
                    Some(
                        std::fs::read_to_string(path)
                            .map_err(|source| TransportError::Password {
                                path: path.clone(),
                                source,
                            })?
                            .trim_end_matches(['\r', '\n'])
                            .to_string(),
                    )
                }
                None => None,
            },
        };
        let credentials = match (&config.username, password) {
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password)),
            (Some(_), None) => return Err(TransportError::MissingPassword),
            (None, _) => None,
        };
        Ok(SmtpSettings {
            host: config.host.clone(),
            port: config.port,
            tls: config.tls,
            credentials,
            timeout: Duration::from_secs(config.timeout_secs),
            hello: ClientId::default(),
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

fn classify(error: &lettre::transport::smtp::Error, connecting: bool) -> Failure {
    Failure {
        permanent: error.is_permanent(),
        connecting,
        message: error.to_string(),
    }
}

fn timed_out(step: &str, connecting: bool) -> Failure {
    Failure {
        permanent: false,
        connecting,
        message: format!("timed out during {step}"),
    }
}

/// One SMTP connection, opened lazily and reopened after any failure.
pub struct SmtpLink {
    settings: SmtpSettings,
    connection: Option<AsyncSmtpConnection>,
}

impl SmtpLink {
    pub fn new(settings: SmtpSettings) -> SmtpLink {
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
                connecting: true,
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
            .map_err(|_| timed_out("connect", true))?
            .map_err(|e| classify(&e, true))?,
            TlsMode::Starttls | TlsMode::None => {
                let stream =
                    tokio::time::timeout(limit, TcpStream::connect((s.host.as_str(), s.port)))
                        .await
                        .map_err(|_| timed_out("connect", true))?
                        .map_err(|e| Failure {
                            permanent: false,
                            connecting: true,
                            message: format!("cannot connect to {}:{}: {e}", s.host, s.port),
                        })?;
                let _ = stream.set_nodelay(true);
                let mut connection = tokio::time::timeout(
                    limit,
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &s.hello),
                )
                .await
                .map_err(|_| timed_out("greeting", true))?
                .map_err(|e| classify(&e, true))?;
                if s.tls == TlsMode::Starttls {
                    if !connection.can_starttls() {
                        connection.abort().await;
                        return Err(Failure {
                            permanent: false,
                            connecting: true,
                            message: format!(
                                "{} does not offer STARTTLS, and smtp.tls = \"starttls\" requires it",
                                s.host
                            ),
                        });
                    }
                    tokio::time::timeout(limit, connection.starttls(tls_params()?, &s.hello))
                        .await
                        .map_err(|_| timed_out("STARTTLS", true))?
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
            .map_err(|_| timed_out("AUTH", true))?
            .map_err(|e| classify(&e, true))?;
        }
        Ok(connection)
    }

    /// Sends one message; `Ok` carries the server's final reply.
    pub async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<String, Failure> {
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
            Err(_) => Err(timed_out("sending", false)),
        }
    }

    /// Says QUIT politely; errors do not matter any more.
    pub async fn close(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            let _ = tokio::time::timeout(self.settings.timeout, connection.quit()).await;
        }
    }
}

/// The outbox: one `.eml` file per message, written by lettre's file transport.
pub struct Outbox {
    transport: FileTransport,
}

impl Outbox {
    pub fn open(dir: PathBuf) -> Result<Outbox, TransportError> {
        std::fs::create_dir_all(&dir).map_err(|source| TransportError::Outbox {
            path: dir.clone(),
            source,
        })?;
        Ok(Outbox {
            transport: FileTransport::new(dir),
        })
    }

    pub fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<String, Failure> {
        self.transport
            .send_raw(envelope, message)
            .map(|id| format!("written to the outbox as {id}.eml"))
            .map_err(|e| Failure {
                permanent: false,
                connecting: true,
                message: format!("cannot write to the outbox: {e}"),
            })
    }
}
