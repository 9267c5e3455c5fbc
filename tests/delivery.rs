//! `herald send`, `run`, `subscribers` and `unsubscribe`, end to end against a real
//! SMTP server on loopback (mailin-embedded, in this test process).

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::smtp::{DroppingProxy, TestSmtp};
use common::{Site, emails};
use mail_parser::MessageParser;

/// Monday 26 January 2026, 09:00 Taipei: week 4's edition is due.
const DUE: &str = "2026-01-26T01:00:00Z";
const SUBJECT: &str = "《華爾街聊什麼》週報 2026 年第 4 週：DeepSeek一週年：中國AI崛起的轉捩點";

fn smtp_site(addr: std::net::SocketAddr, extra: &str) -> Site {
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 5\nretry_base_ms = 20\n{extra}\n",
        addr.port()
    ));
    site
}

fn send(site: &Site) -> common::Run {
    site.run_at(DUE, &["send", "--week", "2026-W04"])
}

fn journal_statuses(site: &Site) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT email, status FROM send_journal WHERE week = '2026-W04' ORDER BY email")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn header(message: &mail_parser::Message, name: &str) -> String {
    message
        .header_raw(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .trim()
        .to_string()
}

#[test]
fn every_subscriber_gets_exactly_one_personal_message_and_a_resend_sends_nothing() {
    let server = TestSmtp::start();
    let site = smtp_site(server.addr, "pool_size = 2");
    let list = emails(6);
    site.add_subscribers(&list);

    let run = send(&site);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("6 sent"), "{}", run.stdout);
    let counts = server.per_recipient();
    assert_eq!(counts.len(), 6);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");

    let mut message_ids = HashSet::new();
    let mut unsubscribe_urls = HashSet::new();
    for received in server.messages() {
        assert_eq!(received.recipients.len(), 1, "one recipient per message");
        let to = &received.recipients[0];
        let message = MessageParser::default().parse(&received.data).unwrap();
        assert_eq!(message.subject(), Some(SUBJECT));
        let header_to = message
            .to()
            .unwrap()
            .first()
            .unwrap()
            .address()
            .unwrap()
            .to_string();
        assert_eq!(&header_to, to, "To is the recipient alone");
        assert!(message.header_raw("Cc").is_none() && message.header_raw("Bcc").is_none());
        let id = message.message_id().unwrap().to_string();
        assert!(
            id.starts_with("2026-W04.") && id.ends_with("@example.com"),
            "{id}"
        );
        message_ids.insert(id);
        assert_eq!(header(&message, "List-Id"), "<newsletter.example.com>");
        assert_eq!(
            header(&message, "List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        let unsubscribe = header(&message, "List-Unsubscribe");
        assert!(
            unsubscribe.starts_with("<https://example.com/herald/unsubscribe?token="),
            "{unsubscribe}"
        );
        let url = unsubscribe
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string();
        let html = message.body_html(0).unwrap();
        let text = message.body_text(0).unwrap();
        assert!(
            text.contains(&url),
            "text part carries the recipient's own link"
        );
        assert!(html.contains(&url.replace('&', "&amp;")));
        assert!(!html.contains("herald.invalid") && !text.contains("herald.invalid"));
        unsubscribe_urls.insert(url);
        assert!(message.date().is_some());
    }
    assert_eq!(message_ids.len(), 6);
    assert_eq!(unsubscribe_urls.len(), 6);
    assert!(journal_statuses(&site).iter().all(|(_, s)| s == "sent"));

    let again = send(&site);
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains("already sent"), "{}", again.stdout);
    assert_eq!(server.count(), 6);
}

#[test]
fn greylisted_recipients_are_retried_and_rejected_ones_do_not_stop_the_others() {
    let server = TestSmtp::start();
    let site = smtp_site(server.addr, "pool_size = 1\nmax_attempts = 3");
    site.append_config("\n[newsletter]\nbounce_after = 1\n");
    let list = emails(5);
    site.add_subscribers(&list);
    {
        let mut b = server.behaviour.lock().unwrap();
        b.greylist.insert(list[1].clone(), 2); // accepted on the third try
        b.greylist.insert(list[2].clone(), 100); // never within this run
        b.reject.insert(list[3].clone());
    }
    let run = send(&site);
    assert_eq!(run.code, 1, "partial delivery exits 1\n{}", run.stdout);
    assert!(
        run.stdout.contains("3 sent, 1 to retry, 1 rejected"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(&list[3]) && run.stderr.contains("550"),
        "{}",
        run.stderr
    );
    let statuses = journal_statuses(&site);
    let status_of = |e: &str| statuses.iter().find(|(x, _)| x == e).unwrap().1.clone();
    assert_eq!(status_of(&list[1]), "sent");
    assert_eq!(status_of(&list[2]), "failed-temporary");
    assert_eq!(status_of(&list[3]), "failed-permanent");
    // bounce_after = 1: one permanent failure marks the address bounced.
    let bounced = site.run(&["subscribers", "list", "--status", "bounced"]);
    assert!(bounced.stdout.contains(&list[3]), "{}", bounced.stdout);

    // The server relents; the next run delivers only what is missing.
    server.behaviour.lock().unwrap().greylist.clear();
    let run = send(&site);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("1 sent"), "{}", run.stdout);
    let counts = server.per_recipient();
    for (i, e) in list.iter().enumerate() {
        let expected = if i == 3 { 0 } else { 1 };
        assert_eq!(counts.get(e).copied().unwrap_or(0), expected, "{e}");
    }
}

#[test]
fn a_connection_dropped_mid_message_is_resumed_without_duplicates() {
    let server = TestSmtp::start();
    let proxy = DroppingProxy::start(server.addr, 3);
    let site = smtp_site(proxy.addr, "pool_size = 1\nmax_attempts = 3");
    let list = emails(6);
    site.add_subscribers(&list);
    let run = send(&site);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(proxy.drops.load(std::sync::atomic::Ordering::SeqCst), 1);
    let counts = server.per_recipient();
    assert_eq!(counts.len(), 6);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[test]
fn after_kill_9_mid_send_the_next_run_completes_within_the_in_flight_bound() {
    let server = TestSmtp::start();
    server.behaviour.lock().unwrap().data_delay = Duration::from_millis(40);
    let pool = 2;
    let site = smtp_site(server.addr, &format!("pool_size = {pool}"));
    let list = emails(40);
    site.add_subscribers(&list);

    let mut child = site
        .command(DUE, &["send", "--week", "2026-W04"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        server.wait_for(8, Duration::from_secs(30)),
        "sending started"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before_restart = server.count();
    assert!(
        before_restart < 40,
        "killed before the end ({before_restart})"
    );

    let run = send(&site);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let counts = server.per_recipient();
    assert_eq!(counts.len(), 40, "nobody is skipped");
    let total: usize = counts.values().sum();
    assert!(
        total <= 40 + pool,
        "at most one duplicate per connection in flight: {total}"
    );
    let statuses = journal_statuses(&site);
    assert_eq!(statuses.len(), 40);
    assert!(statuses.iter().all(|(_, s)| s == "sent"), "{statuses:?}");
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn two_runs_at_once_one_works_the_other_exits_with_the_lock_code() {
    let server = TestSmtp::start();
    server.behaviour.lock().unwrap().data_delay = Duration::from_millis(100);
    let site = smtp_site(server.addr, "pool_size = 1");
    site.add_subscribers(&emails(10));
    let mut first = site
        .command(DUE, &["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(server.wait_for(1, Duration::from_secs(30)));
    let second = site.run_at(DUE, &["run"]);
    assert_eq!(second.code, 75, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("another `herald run` or `herald send` holds the lock"),
        "{}",
        second.stderr
    );
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(server.count(), 10);
    // Safe to run every hour: the edition goes out once.
    let third = site.run_at("2026-01-26T02:00:00Z", &["run"]);
    assert_eq!(third.code, 0);
    assert_eq!(third.stdout, "", "quiet when there is nothing to do");
    assert_eq!(server.count(), 10);
}

#[test]
fn run_sends_only_the_latest_due_edition() {
    let server = TestSmtp::start();
    let site = smtp_site(server.addr, "");
    site.add_subscribers(&emails(2));
    // Ten months later the seed's week is long past: nothing is sent automatically.
    let run = site.run_at("2026-11-29T00:00:00Z", &["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.count(), 0);
    // On purpose, any edition can still be sent.
    let run = send(&site);
    assert_eq!(run.code, 0);
    assert_eq!(server.count(), 2);
}

#[test]
fn unsubscribe_tokens_are_verified_and_honoured() {
    let server = TestSmtp::start();
    let site = smtp_site(server.addr, "");
    let list = emails(3);
    site.add_subscribers(&list);
    assert_eq!(send(&site).code, 0);
    let message = server
        .messages()
        .into_iter()
        .find(|m| m.recipients[0] == list[0])
        .unwrap();
    let parsed = MessageParser::default().parse(&message.data).unwrap();
    let link = header(&parsed, "List-Unsubscribe");
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .trim_end_matches('>')
        .to_string();
    let other = server
        .messages()
        .into_iter()
        .find(|m| m.recipients[0] == list[1])
        .unwrap();
    let other = MessageParser::default().parse(&other.data).unwrap();
    let other_token = header(&other, "List-Unsubscribe")
        .split("token=")
        .nth(1)
        .unwrap()
        .trim_end_matches('>')
        .to_string();
    let (payload, _) = token.split_once('.').unwrap();
    let (_, other_signature) = other_token.split_once('.').unwrap();
    for forged in [
        token[..token.len() - 4].to_string(),
        format!("{payload}.{other_signature}"),
        format!("{payload}.AAAA"),
        "nonsense".to_string(),
    ] {
        let run = site.run(&["unsubscribe", &forged]);
        assert_eq!(run.code, 4, "{forged}: {}", run.stderr);
        assert!(run.stderr.contains("not valid"), "{}", run.stderr);
    }
    let active = site.run(&["subscribers", "list", "--status", "active"]);
    assert_eq!(active.stdout.lines().count(), 3);

    let run = site.run(&["unsubscribe", &token]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(&list[0]));
    let unsubscribed = site.run(&["subscribers", "list", "--status", "unsubscribed"]);
    assert!(unsubscribed.stdout.contains(&list[0]));

    // The next edition does not reach them.
    site.write_seed(
        "002_next.txt",
        &common::simple_seed("2026-01-28", "Next week", "More news."),
    );
    let run = site.run_at("2026-02-02T01:00:00Z", &["send", "--week", "2026-W05"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let w05: Vec<_> = server
        .messages()
        .into_iter()
        .filter(|m| {
            let p = MessageParser::default().parse(&m.data).unwrap();
            p.subject().unwrap_or("").contains("第 5 週")
        })
        .flat_map(|m| m.recipients)
        .collect();
    assert_eq!(w05.len(), 2);
    assert!(!w05.contains(&list[0]));
}

#[test]
fn a_subscriber_who_leaves_during_sending_gets_nothing_further() {
    let server = TestSmtp::start();
    server.behaviour.lock().unwrap().data_delay = Duration::from_millis(150);
    let site = smtp_site(server.addr, "pool_size = 1");
    let list = emails(8);
    site.add_subscribers(&list);
    let child = site
        .command(DUE, &["send", "--week", "2026-W04"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(server.wait_for(1, Duration::from_secs(30)));
    let leaving = list.last().unwrap();
    // Another process changes the list while the send runs (as `herald
    // unsubscribe` or the web endpoint would).
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute(
        "UPDATE subscribers SET status = 'unsubscribed' WHERE email = ?1",
        [leaving],
    )
    .unwrap();
    drop(conn);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("7 sent") && stdout.contains("1 skipped"),
        "{stdout}"
    );
    assert!(!server.per_recipient().contains_key(leaving));
}

#[test]
fn import_reports_rejected_rows_by_line_and_is_idempotent() {
    let site = Site::with_shipped_seed();
    std::fs::write(
        site.path("list.csv"),
        "email,name\na@example.com,甲\nnot an address,乙\nB@Example.com,丙\n",
    )
    .unwrap();
    let list = site.path("list.csv");
    let run = site.run(&["subscribers", "import", list.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("list.csv:3:"), "{}", run.stderr);
    assert!(run.stdout.contains("2 added"), "{}", run.stdout);
    let again = site.run(&["subscribers", "import", list.to_str().unwrap()]);
    assert!(
        again.stdout.contains("0 added, 2 already"),
        "{}",
        again.stdout
    );
    assert_eq!(
        site.run(&["subscribers", "remove", "b@example.com"]).code,
        0
    );
    // Mistakes in what was typed are usage errors (exit 2), not failed runs.
    let typo = site.run(&["subscribers", "add", "not-an-email"]);
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert!(typo.stderr.contains("not-an-email"), "{}", typo.stderr);
    let unknown = site.run(&["subscribers", "remove", "nobody@example.com"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("not on the list"),
        "{}",
        unknown.stderr
    );
    let listed = site.run(&["subscribers", "list"]);
    assert_eq!(listed.stdout.lines().count(), 1);
}

#[test]
fn without_smtp_the_outbox_gets_one_eml_per_recipient() {
    let site = Site::with_shipped_seed();
    site.add_subscribers(&emails(3));
    let run = send(&site);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = site.outbox_messages();
    assert_eq!(files.len(), 3);
    // Readable names: the edition and the recipient (#17).
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected: Vec<String> = emails(3)
        .iter()
        .map(|e| format!("2026-W04-{e}.eml"))
        .collect();
    assert_eq!(names, expected);
    let staged = std::fs::read_dir(site.path("outbox/.writing"))
        .unwrap()
        .count();
    assert_eq!(staged, 0, "every staged message is moved into the outbox");
    let mut recipients = HashSet::new();
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        let message = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(message.subject(), Some(SUBJECT));
        recipients.insert(
            message
                .to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(recipients.len(), 3);
}

/// Runs the independent DKIM checker (Python dkimpy), installing it with pip on
/// first use so `cargo test` alone works on a fresh machine.
fn dkim_check(args: &[&str]) -> common::Run {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| common::require_python("dkim, nacl", &["dkimpy", "pynacl"]));
    let mut cmd = Command::new("python3");
    cmd.arg(common::repo().join("tests/support/dkim_check.py"))
        .args(args);
    common::run(cmd)
}

#[test]
fn dkim_signatures_cover_the_unsubscribe_headers_and_verify_independently() {
    let keys = dkim_check(&["keygen"]);
    assert_eq!(
        keys.code, 0,
        "python3 with dkimpy and pynacl is required: {}",
        keys.stderr
    );
    let (private, public) = keys.stdout.trim().split_once(' ').unwrap();
    let site = Site::with_shipped_seed();
    std::fs::write(site.path("dkim.key"), private).unwrap();
    site.append_config(
        "\n[dkim]\nselector = \"herald\"\nkey_file = \"dkim.key\"\n\
         [newsletter]\nreply_to = \"Letters <letters@example.com>\"\n",
    );
    site.add_subscribers(&emails(1));
    let run = send(&site);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let eml = site.outbox_messages().remove(0);
    let check = dkim_check(&["verify", eml.to_str().unwrap(), public]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(check.stdout.contains("verified"));
    let signed: Vec<&str> = check
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("signed: "))
        .unwrap()
        .split(':')
        .collect();
    for header in [
        "list-unsubscribe",
        "list-unsubscribe-post",
        "message-id",
        "from",
        "reply-to",
        "subject",
        "mime-version",
    ] {
        assert!(signed.contains(&header), "{header} not signed: {signed:?}");
    }
    // A tampered List-Unsubscribe or Reply-To no longer verifies.
    let text = std::fs::read_to_string(&eml).unwrap();
    assert!(text.contains("letters@example.com"), "{text}");
    for (from, to) in [
        ("unsubscribe?token=", "unsubscribe?token=x"),
        ("letters@example.com", "phisher@example.net"),
    ] {
        std::fs::write(&eml, text.replacen(from, to, 1)).unwrap();
        let check = dkim_check(&["verify", eml.to_str().unwrap(), public]);
        assert_eq!(check.code, 1, "tampered {from}: {}", check.stdout);
    }
}

#[test]
fn send_also_waits_for_the_lock() {
    let site = Site::with_shipped_seed();
    site.add_subscribers(&emails(1));
    std::fs::create_dir_all(site.path("state")).unwrap();
    let held = std::fs::File::create(site.path("state/herald.lock")).unwrap();
    held.lock().unwrap();
    let run = send(&site);
    assert_eq!(run.code, 75, "{}", run.stderr);
    assert!(!site.path("outbox").exists());
    drop(held);
    assert_eq!(send(&site).code, 0);
}

#[test]
fn the_rate_limit_spaces_messages_out() {
    let server = TestSmtp::start();
    let site = smtp_site(server.addr, "pool_size = 4\nrate_limit = 10.0");
    site.add_subscribers(&emails(6));
    let start = std::time::Instant::now();
    assert_eq!(send(&site).code, 0);
    // Six messages at ten per second need at least half a second between first and last.
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.count(), 6);
}

#[test]
fn a_dry_run_says_who_would_get_what_and_changes_nothing() {
    let server = TestSmtp::start();
    let site = smtp_site(server.addr, "");
    site.add_subscribers(&emails(4));
    let run = site.run_at(DUE, &["send", "--week", "2026-W04", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("would send \"{SUBJECT}\" to 4 subscriber(s)")),
        "{}",
        run.stdout
    );
    assert_eq!(server.count(), 0);
    assert!(
        journal_statuses(&site).is_empty(),
        "no journal rows, no frozen edition"
    );
    assert_eq!(send(&site).code, 0);
    assert_eq!(server.count(), 4);
}

/// With `newsletter.bounce_address`, each message's envelope sender is a VERP
/// address whose signed tag names the edition and the subscriber; the From header
/// stays the newsletter's.
#[test]
fn each_message_goes_out_from_its_own_signed_bounce_address() {
    let smtp = TestSmtp::start();
    let site = smtp_site(smtp.addr, "");
    site.append_config("\n[newsletter]\nbounce_address = \"bounces@example.com\"\n");
    site.add_subscribers(&emails(3));
    assert_eq!(send(&site).code, 0);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 3);
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let mut senders = HashSet::new();
    for m in &messages {
        let id: i64 = conn
            .query_row(
                "SELECT id FROM subscribers WHERE email = ?1",
                [&m.recipients[0]],
                |r| r.get(0),
            )
            .unwrap();
        let prefix = format!("bounces+2026w04-{id}-");
        assert!(
            m.sender.starts_with(&prefix) && m.sender.ends_with("@example.com"),
            "{} for {}",
            m.sender,
            m.recipients[0]
        );
        let tag = &m.sender[prefix.len()..m.sender.len() - "@example.com".len()];
        assert_eq!(tag.len(), 12, "{tag}");
        assert!(tag.chars().all(|c| c.is_ascii_hexdigit()), "{tag}");
        let parsed = MessageParser::default().parse(&m.data).unwrap();
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.address().unwrap(), "newsletter@example.com");
        assert_eq!(from.name().unwrap(), "華爾街聊什麼");
        senders.insert(m.sender.clone());
    }
    assert_eq!(senders.len(), 3, "one envelope sender per subscriber");
}

/// `send --to` sends one copy, personalised like a subscriber's, to any address,
/// and changes nothing a real send relies on.
#[test]
fn a_test_send_reaches_one_address_and_records_nothing() {
    let smtp = TestSmtp::start();
    let site = smtp_site(smtp.addr, "");
    site.add_subscribers(&emails(2));
    let run = site.run_at(
        DUE,
        &["send", "--week", "2026-W04", "--to", "Editor@Example.org"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("send 2026-W04 (test):"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("to editor@example.org"),
        "{}",
        run.stdout
    );
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].recipients, ["editor@example.org"]);
    let parsed = MessageParser::default().parse(&messages[0].data).unwrap();
    assert_eq!(parsed.subject().unwrap(), SUBJECT);
    let unsubscribe = parsed.header_raw("List-Unsubscribe").unwrap().to_string();
    assert!(unsubscribe.contains("unsubscribe?token="), "{unsubscribe}");
    let token = unsubscribe
        .split("token=")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap()
        .to_string();
    // The link is the editor's own: it unsubscribes that address, nobody else.
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let journal_rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM send_journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal_rows, 0, "no journal row");
    let frozen: i64 = conn
        .query_row("SELECT COUNT(*) FROM editions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(frozen, 0, "the edition is not frozen by a test send");
    drop(conn);
    let own = site.run(&["unsubscribe", &token]);
    assert!(
        own.stderr.contains("editor@example.org is not on the list"),
        "the token names the test address: {} {}",
        own.stdout,
        own.stderr
    );
    // The real send afterwards still goes to every subscriber.
    assert_eq!(send(&site).code, 0);
    assert_eq!(smtp.count(), 3);
}
