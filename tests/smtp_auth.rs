//! Logging in to the SMTP server: `herald send` against aiosmtpd (Python), a server
//! that requires AUTH, started on loopback by `tests/support/auth_smtpd.py`.
//! (mailin-embedded, used elsewhere, offers AUTH only after STARTTLS.)

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::{Site, emails};

const DUE: &str = "2026-01-26T01:00:00Z";
const USER: &str = "column-editor";
const PASSWORD: &str = "correct horse battery staple";

/// The running server: its port, and the lines it prints for each AUTH and DATA.
struct AuthServer {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    events: Receiver<String>,
}

impl AuthServer {
    fn start() -> AuthServer {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| common::require_python("aiosmtpd", &["aiosmtpd"]));
        let mut child = Command::new("python3")
            .arg(common::repo().join("tests/support/auth_smtpd.py"))
            .args([USER, PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3");
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the server prints its port").unwrap();
        let port = first
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {first}"));
        let (sender, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        AuthServer {
            child,
            stdin,
            port,
            events,
        }
    }

    /// Every event printed until `done` holds for them or five seconds pass.
    fn events_until(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        while !done(&seen) {
            match self
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        seen
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn site_for(server: &AuthServer) -> Site {
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{USER}\"\n\
         timeout_secs = 5\nmax_attempts = 1\n",
        server.port
    ));
    site
}

fn send_with_password(site: &Site, password: &str) -> common::Run {
    let mut cmd = site.command(DUE, &["send", "--week", "2026-W04"]);
    cmd.env("HERALD_SMTP_PASSWORD", password);
    common::run(cmd)
}

fn sent_count(site: &Site) -> i64 {
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM send_journal WHERE status = 'sent'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn herald_logs_in_with_the_configured_user_and_password() {
    let server = AuthServer::start();
    let site = site_for(&server);
    site.add_subscribers(&emails(2));
    let run = send_with_password(&site, PASSWORD);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = server.events_until(|e| e.iter().filter(|l| l.starts_with("data ")).count() == 2);
    let logins: Vec<_> = events.iter().filter(|l| l.starts_with("auth ")).collect();
    assert!(!logins.is_empty(), "Herald never logged in: {events:?}");
    for login in &logins {
        let fields: Vec<_> = login.split(' ').collect();
        assert!(["PLAIN", "LOGIN"].contains(&fields[1]), "{login}");
        assert_eq!(&fields[2..], [USER, "ok"], "{login}");
    }
    let deliveries: Vec<_> = events.iter().filter(|l| l.starts_with("data ")).collect();
    assert_eq!(deliveries.len(), 2, "{events:?}");
    for delivery in &deliveries {
        let authenticated = delivery.split(' ').nth(1);
        assert_eq!(authenticated, Some("True"), "{delivery}");
    }
    for reader in emails(2) {
        assert!(
            deliveries.iter().any(|d| d.contains(&reader)),
            "{reader}: {deliveries:?}"
        );
    }
    assert_eq!(sent_count(&site), 2);
}

#[test]
fn a_refused_password_stops_the_run_sends_nothing_and_names_the_cause() {
    let server = AuthServer::start();
    let site = site_for(&server);
    site.add_subscribers(&emails(2));
    let run = send_with_password(&site, "wrong password");
    assert_eq!(run.code, 3, "{}", run.stderr);
    for said in [
        "refused the login",
        "smtp.username",
        "(535)",
        "Authentication credentials invalid",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("wrong password"), "{}", run.stderr);
    let events = server.events_until(|e| e.iter().any(|l| l.starts_with("auth ")));
    assert!(
        events
            .iter()
            .any(|l| l.ends_with(&format!("{USER} refused"))),
        "{events:?}"
    );
    assert!(!events.iter().any(|l| l.starts_with("data ")), "{events:?}");
    assert_eq!(sent_count(&site), 0);
    // The journal still holds both readers, so the next run with the right
    // password sends to them.
    let retry = send_with_password(&site, PASSWORD);
    assert_eq!(retry.code, 0, "{}", retry.stderr);
    assert_eq!(sent_count(&site), 2);
}
