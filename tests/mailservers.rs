//! Bounces end to end with real mail servers on loopback: Postfix relays Herald's
//! mail and writes the bounce for a reader who does not exist to the VERP address
//! itself; Dovecot serves a bounce mailbox over IMAP.

mod common;

use std::time::Duration;

use common::Site;
use common::mailservers::{Dovecot, IMAP_PASSWORD, IMAP_USER, Postfix, wait_for_files};

const DUE: &str = "2026-01-26T01:00:00Z";

fn status_of(site: &Site, email: &str) -> String {
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    conn.query_row(
        "SELECT status FROM subscribers WHERE email = ?1",
        [email],
        |r| r.get(0),
    )
    .unwrap()
}

/// Herald → Postfix → "unknown user" → Postfix's own DSN → the VERP address →
/// the bounce Maildir → `herald bounces` → the reader is bounced and the next
/// edition goes only to the reader who exists.
#[test]
fn postfix_bounces_a_dead_reader_and_herald_stops_mailing_them() {
    let postfix = Postfix::start();
    let site = Site::with_shipped_seed();
    site.edit_config(
        "bounce_address = \"bounces@example.com\"",
        "bounce_address = \"bounces@bounces.test\"",
    );
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 10\n",
        postfix.port
    ));
    let dead = "no-such-reader@readers.test";
    let alive = "reader@inbox.test";
    site.add_subscribers(&[dead.to_string(), alive.to_string()]);

    let run = site.run_at(DUE, &["send", "--week", "2026-W04"]);
    assert_eq!(run.code, 0, "Postfix accepts both: {}", run.stderr);
    assert!(run.stdout.contains("2 sent"), "{}", run.stdout);

    let delivered = wait_for_files(&postfix.mailbox("reader/new"), 1, Duration::from_secs(30));
    assert_eq!(delivered.len(), 1, "{}", postfix.log());
    let bounces = wait_for_files(&postfix.mailbox("bounces/new"), 1, Duration::from_secs(30));
    assert_eq!(bounces.len(), 1, "Postfix wrote one DSN: {}", postfix.log());
    let dsn = std::fs::read_to_string(&bounces[0]).unwrap();
    assert!(dsn.contains("Delivered-To: bounces+2026w04-"), "{dsn}");
    assert!(dsn.contains("report-type=delivery-status"), "{dsn}");

    let mailbox = postfix.mailbox("bounces");
    let run = site.run_at(DUE, &["bounces", "--maildir", mailbox.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("bounces: 1 hard, 0 soft, 0 complaint, 0 delayed"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(status_of(&site, dead), "bounced");
    assert_eq!(status_of(&site, alive), "active");
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let (bounce, detail): (String, String) = conn
        .query_row(
            "SELECT bounce, bounce_detail FROM send_journal WHERE email = ?1",
            [dead],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(bounce, "hard");
    assert!(detail.contains("5.1.1"), "{detail}");

    site.write_seed(
        "002_next.txt",
        &common::simple_seed("2026-01-28", "Next week", "More."),
    );
    let run = site.run_at("2026-02-02T01:00:00Z", &["send", "--week", "2026-W05"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("1 sent"),
        "only the live reader: {}",
        run.stdout
    );
    let delivered = wait_for_files(&postfix.mailbox("reader/new"), 2, Duration::from_secs(30));
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        postfix.log().matches(&format!("to=<{dead}>")).count(),
        1,
        "the dead address was tried once, for W04 only"
    );
}

/// `herald bounces --imap` against Dovecot: reports are read without being marked
/// until processed, processed ones are flagged seen, a letter is left unseen, and
/// a second pass changes nothing.
#[test]
fn reports_in_an_imap_mailbox_are_read_and_flagged() {
    let dovecot = Dovecot::start();
    let smtp = common::smtp::TestSmtp::start();
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\n[bounces]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{IMAP_USER}\"\nmailbox = \"INBOX\"\n",
        smtp.addr.port(),
        dovecot.port
    ));
    let list = common::emails(2);
    site.add_subscribers(&list);
    assert_eq!(site.run_at(DUE, &["send", "--week", "2026-W04"]).code, 0);
    let messages = smtp.messages();
    let to_first = messages
        .iter()
        .find(|m| m.recipients[0] == list[0])
        .unwrap();
    let fixture = |name: &str| {
        std::fs::read_to_string(common::repo().join("tests/fixtures/bounces").join(name))
            .unwrap()
            .replace("@@VERP@@", &to_first.sender)
            .replace("@@RCPT@@", &list[0])
            .replace("@@MID@@", "not-used@example.com")
            .replace('\n', "\r\n")
    };
    dovecot.deliver("1769400001.M1P1.test", &fixture("arf-complaint.eml"));
    dovecot.deliver("1769400002.M2P1.test", &fixture("a-letter.eml"));

    let bounces = |site: &Site| {
        let mut cmd = site.command(DUE, &["bounces", "--imap"]);
        cmd.env("HERALD_IMAP_PASSWORD", IMAP_PASSWORD);
        common::run(cmd)
    };
    let run = bounces(&site);
    assert_eq!(
        run.code, 1,
        "the letter is left for a person: {}",
        run.stderr
    );
    assert!(
        run.stdout.contains("0 hard, 0 soft, 1 complaint") && run.stdout.contains("1 unclassified"),
        "{}\n{}\n{}",
        run.stdout,
        run.stderr,
        dovecot.log()
    );
    assert!(
        run.stderr.contains("IMAP UID 2: not a report"),
        "{}",
        run.stderr
    );
    assert_eq!(status_of(&site, &list[0]), "complained");
    assert_eq!(status_of(&site, &list[1]), "active");

    let cur: Vec<String> = std::fs::read_dir(dovecot.inbox().join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let seen = cur.iter().filter(|n| n.ends_with(",S")).count();
    assert_eq!(seen, 1, "only the report is flagged seen: {cur:?}");

    let again = bounces(&site);
    assert!(
        again.stdout.contains("0 complaint") && again.stdout.contains("1 unclassified"),
        "{}",
        again.stdout
    );

    // A wrong password stops with the hint, and nothing changes.
    let mut cmd = site.command(DUE, &["bounces", "--imap"]);
    cmd.env("HERALD_IMAP_PASSWORD", "wrong");
    let refused = common::run(cmd);
    assert_eq!(refused.code, 3);
    assert!(
        refused.stderr.contains("refused the login"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("wrong"),
        "the password is never printed"
    );
}

/// `processed = "move"` files each report into `move_to` (made on first use) and
/// leaves what needs a person in the INBOX.
#[test]
fn processed_reports_can_be_moved_to_a_folder() {
    let dovecot = Dovecot::start();
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[bounces]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{IMAP_USER}\"\nprocessed = \"move\"\nmove_to = \"Processed\"\n",
        dovecot.port
    ));
    let fixture = |name: &str| {
        std::fs::read_to_string(common::repo().join("tests/fixtures/bounces").join(name))
            .unwrap()
            .replace("@@RCPT@@", "someone@example.org")
            .replace('\n', "\r\n")
    };
    dovecot.deliver("1769400001.M1P1.test", &fixture("out-of-office.eml"));
    dovecot.deliver("1769400002.M2P1.test", &fixture("a-letter.eml"));
    let mut cmd = site.command(DUE, &["bounces"]);
    cmd.env("HERALD_IMAP_PASSWORD", IMAP_PASSWORD);
    let run = common::run(cmd);
    assert!(
        run.stdout.contains("1 auto-reply ignored") && run.stdout.contains("1 unclassified"),
        "{}\n{}\n{}",
        run.stdout,
        run.stderr,
        dovecot.log()
    );
    let count = |dir: &std::path::Path| {
        ["new", "cur"]
            .iter()
            .map(|sub| std::fs::read_dir(dir.join(sub)).map_or(0, |d| d.count()))
            .sum::<usize>()
    };
    assert_eq!(count(&dovecot.inbox()), 1, "the letter stays in the INBOX");
    assert_eq!(
        count(&dovecot.inbox().join(".Processed")),
        1,
        "the reply was moved"
    );
}
