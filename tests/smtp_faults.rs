//! A mail server that misbehaves on purpose: every case ends with a clear outcome
//! in the send journal, no hang past the configured timeouts, and a later run that
//! completes the edition. (Greylisting and 550s are in `delivery.rs`.)

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Site;
use common::smtp::{Fault, FaultProxy, TestSmtp};

const DUE: &str = "2026-01-26T01:00:00Z";

fn site_for(port: u16, extra: &str, subscribers: usize) -> Site {
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\npool_size = 1\ntimeout_secs = 1\nmax_attempts = 2\nretry_base_ms = 10\n{extra}\n"
    ));
    site.add_subscribers(&common::emails(subscribers));
    site
}

/// Runs `send`, failing the test if it is still running after `limit` (a hang).
fn send_within(site: &Site, limit: Duration) -> common::Run {
    let mut child = site
        .command(DUE, &["send", "--week", "2026-W04"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("herald send hung for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    common::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn journal(site: &Site) -> Vec<(String, String, i64, String)> {
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT email, status, attempts, COALESCE(last_reply, '') FROM send_journal ORDER BY email")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_421_on_connect_stops_the_run_and_a_later_run_completes() {
    let server = TestSmtp::start();
    server.behaviour.lock().unwrap().refuse_connections = true;
    let site = site_for(server.addr.port(), "", 3);
    let run = send_within(&site, LIMIT);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("gave up on the mail server"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("421"), "{}", run.stderr);
    assert_eq!(server.count(), 0);
    assert!(journal(&site).iter().all(|(_, s, _, _)| s != "sent"));

    server.behaviour.lock().unwrap().refuse_connections = false;
    let run = send_within(&site, LIMIT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.count(), 3);
    assert!(journal(&site).iter().all(|(_, s, _, _)| s == "sent"));
}

#[test]
fn a_552_is_permanent_for_that_recipient_only() {
    let server = TestSmtp::start();
    server
        .behaviour
        .lock()
        .unwrap()
        .too_large
        .insert("reader001@example.com".into());
    let site = site_for(server.addr.port(), "", 3);
    let run = send_within(&site, LIMIT);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let rows = journal(&site);
    let row = rows
        .iter()
        .find(|r| r.0 == "reader001@example.com")
        .unwrap();
    assert_eq!(
        (row.1.as_str(), row.2),
        ("failed-permanent", 1),
        "not retried: {row:?}"
    );
    assert!(row.3.contains("552"), "{row:?}");
    assert_eq!(server.count(), 2);
    // Permanent failures are not retried by later runs.
    let again = send_within(&site, LIMIT);
    assert!(again.stdout.contains("already sent"), "{}", again.stdout);
    assert_eq!(server.count(), 2);
}

#[test]
fn a_reset_after_the_server_accepted_costs_at_most_one_duplicate() {
    let server = TestSmtp::start();
    let proxy = FaultProxy::start(server.addr, Fault::ResetAfterDot(2));
    let site = site_for(proxy.addr.port(), "", 4);
    let run = send_within(&site, LIMIT);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst), 1);
    let counts = server.per_recipient();
    assert_eq!(counts.len(), 4);
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    assert_eq!(duplicates, 1, "the one message in flight: {counts:?}");
    assert!(journal(&site).iter().all(|(_, s, _, _)| s == "sent"));
}

#[test]
fn a_server_that_stops_answering_times_out_and_a_later_run_completes() {
    let server = TestSmtp::start();
    let proxy = FaultProxy::start(server.addr, Fault::SilentAtData);
    let site = site_for(proxy.addr.port(), "", 2);
    let run = send_within(&site, LIMIT);
    // The only relay timed out `max_attempts` times in a row: the run gives up,
    // naming why, and leaves every recipient to the next run.
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("timed out during sending"),
        "{}",
        run.stderr
    );
    let rows = journal(&site);
    assert!(rows.iter().all(|r| r.1 != "sent"), "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.1 == "failed-temporary" && r.2 == 2 && r.3.contains("timed out")),
        "{rows:?}"
    );
    assert_eq!(server.count(), 0);

    *proxy.fault.lock().unwrap() = Fault::Pass;
    let run = send_within(&site, LIMIT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.count(), 2);
    assert!(journal(&site).iter().all(|(_, s, _, _)| s == "sent"));
}

#[test]
fn replies_slower_than_the_timeout_are_retried_and_recorded() {
    let server = TestSmtp::start();
    server.behaviour.lock().unwrap().data_delay = Duration::from_millis(1500);
    let site = site_for(server.addr.port(), "", 1);
    let run = send_within(&site, LIMIT);
    // A relay that times out rests and is retried; the only one failing
    // `max_attempts` times in a row ends the run as failed.
    assert_eq!(run.code, 3, "{}", run.stdout);
    let rows = journal(&site);
    assert_eq!(rows[0].1, "failed-temporary");
    assert!(rows[0].3.contains("timed out"), "{rows:?}");

    server.behaviour.lock().unwrap().data_delay = Duration::ZERO;
    let run = send_within(&site, LIMIT);
    assert_eq!(run.code, 0);
    assert_eq!(journal(&site)[0].1, "sent");
    // The slow server did accept the timed-out attempts: the documented cost of a
    // timeout shorter than the server's replies.
    let received = server.per_recipient()["reader000@example.com"];
    assert!((1..=3).contains(&received), "{received}");
}

#[test]
fn starttls_required_but_not_offered_sends_nothing_in_clear_text() {
    let server = TestSmtp::start();
    let site = site_for(server.addr.port(), "", 2);
    let text = site
        .read("config.toml")
        .replace("tls = \"none\"", "tls = \"starttls\"");
    std::fs::write(site.path("config.toml"), text).unwrap();
    let run = send_within(&site, LIMIT);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("STARTTLS"), "{}", run.stderr);
    assert_eq!(server.count(), 0);
    assert!(journal(&site).iter().all(|(_, s, _, _)| s != "sent"));
}
