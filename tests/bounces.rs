//! `herald bounces` on a Maildir of delivery reports written the way real mail
//! systems write them (Postfix, Exchange, Gmail, qmail, Exim, an ARF feedback
//! loop, an out-of-office reply, a delay notice, a forged bounce and a reader's
//! letter), after a real send to a real SMTP server on loopback.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::smtp::TestSmtp;
use common::{Site, emails};
use mail_parser::MessageParser;

const DUE: &str = "2026-01-26T01:00:00Z";
const BOUNCES: &str = "bounces@example.com";

/// What the send gave each subscriber: envelope sender and Message-ID.
struct Sent {
    verp: String,
    message_id: String,
}

fn sent_site() -> (Site, TestSmtp, Vec<String>, HashMap<String, Sent>) {
    let smtp = TestSmtp::start();
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 5\n",
        smtp.addr.port()
    ));
    let list = emails(8);
    site.add_subscribers(&list);
    let run = site.run_at(DUE, &["send", "--week", "2026-W04"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(smtp.wait_for(8, Duration::from_secs(20)));
    let sent = smtp
        .messages()
        .into_iter()
        .map(|m| {
            let parsed = MessageParser::default().parse(&m.data).unwrap();
            let id = parsed.message_id().unwrap().to_string();
            (
                m.recipients[0].clone(),
                Sent {
                    verp: m.sender.clone(),
                    message_id: id,
                },
            )
        })
        .collect();
    (site, smtp, list, sent)
}

fn fixture(name: &str, rcpt: &str, sent: &Sent, forged: &str) -> String {
    let path = common::repo().join("tests/fixtures/bounces").join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .replace("@@VERP@@", &sent.verp)
        .replace("@@RCPT@@", rcpt)
        .replace("@@MID@@", &sent.message_id)
        .replace("@@FORGED@@", forged)
        .replace('\n', "\r\n")
}

fn maildir(root: &Path) {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
}

fn statuses(site: &Site) -> HashMap<String, (String, i64)> {
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT email, status, permanent_failures FROM subscribers")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn journal_bounces(site: &Site) -> HashMap<String, (String, String)> {
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT email, bounce, bounce_detail FROM send_journal
             WHERE week = '2026-W04' AND bounce IS NOT NULL",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn reports_are_classified_attributed_applied_once_and_honoured_by_the_next_send() {
    let (site, smtp, list, sent) = sent_site();
    for s in sent.values() {
        assert!(s.verp.starts_with("bounces+2026w04-"), "{}", s.verp);
    }
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let id_of = |email: &str| -> i64 {
        conn.query_row(
            "SELECT id FROM subscribers WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap()
    };
    let forged = format!(
        "bounces+2026w04-{}-0123456789ab@example.com",
        id_of(&list[7])
    );
    let dir = site.path("bounce-mail");
    maildir(&dir);
    let cases = [
        ("postfix-user-unknown.eml", 0),
        ("exchange-recipient-not-found.eml", 1),
        ("gmail-no-such-account.eml", 2),
        ("qmail-permanent.eml", 3),
        ("exim-mailbox-full.eml", 4),
        ("arf-complaint.eml", 5),
        ("delayed.eml", 6),
        ("out-of-office.eml", 7),
        ("forged-tag.eml", 7),
        ("a-letter.eml", 7),
    ];
    for (n, (name, who)) in cases.iter().enumerate() {
        let rcpt = &list[*who];
        let text = fixture(name, rcpt, &sent[rcpt], &forged);
        std::fs::write(
            dir.join("new")
                .join(format!("17694{n:05}.M{n}P1.test-{name}")),
            text,
        )
        .unwrap();
    }

    let run = site.run_at(DUE, &["bounces", "--maildir", dir.to_str().unwrap()]);
    assert_eq!(
        run.code, 1,
        "an unclassified message is left for a person: {}",
        run.stderr
    );
    assert!(
        run.stdout.contains(
            "bounces: 4 hard, 1 soft, 1 complaint, 1 delayed, 1 auto-reply ignored, 1 refused (bad tag), 0 unattributed, 1 unclassified"
        ),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr.contains("test-a-letter.eml: not a report"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("test-forged-tag.eml: refused"),
        "{}",
        run.stderr
    );

    let status = statuses(&site);
    for who in 0..4 {
        assert_eq!(status[&list[who]].0, "bounced", "{}", list[who]);
    }
    assert_eq!(
        status[&list[4]],
        ("active".to_string(), 1),
        "a soft bounce counts"
    );
    assert_eq!(status[&list[5]].0, "complained");
    for who in 6..8 {
        assert_eq!(
            status[&list[who]],
            ("active".to_string(), 0),
            "{}",
            list[who]
        );
    }
    let journal = journal_bounces(&site);
    assert_eq!(journal.len(), 7, "{journal:?}");
    assert_eq!(journal[&list[0]].0, "hard");
    assert!(
        journal[&list[0]].1.contains("5.1.1"),
        "{:?}",
        journal[&list[0]]
    );
    assert!(
        journal[&list[1]].1.contains("5.1.10"),
        "{:?}",
        journal[&list[1]]
    );
    assert_eq!(journal[&list[2]].0, "hard", "attributed by its Message-ID");
    assert_eq!(journal[&list[4]].0, "soft");
    assert!(
        journal[&list[4]].1.contains("5.2.2"),
        "{:?}",
        journal[&list[4]]
    );
    assert_eq!(journal[&list[5]].0, "complaint");
    assert_eq!(journal[&list[6]].0, "delayed");
    assert!(
        journal[&list[6]].1.contains("4.4.1"),
        "{:?}",
        journal[&list[6]]
    );

    // `herald report` counts what the journal rows now say.
    let kinds = |kind: &str| journal.values().filter(|(k, _)| k == kind).count();
    let report = site.run(&["report"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let expected = format!(
        "bounces: {} delayed, {} hard, {} soft",
        kinds("delayed"),
        kinds("hard"),
        kinds("soft")
    );
    assert!(
        report.stdout.contains(&expected),
        "{expected}\n{}",
        report.stdout
    );
    let complaints = format!("complaints: {}", kinds("complaint"));
    assert!(report.stdout.contains(&complaints), "{}", report.stdout);
    assert!(
        report.stdout.starts_with("edition 2026-W04: "),
        "{}",
        report.stdout
    );

    // Maildir semantics: processed messages move to cur/ flagged seen; the letter
    // stays new.
    assert_eq!(files_in(&dir.join("new")).len(), 1);
    let cur = files_in(&dir.join("cur"));
    assert_eq!(cur.len(), 9);
    assert!(cur.iter().all(|n| n.ends_with(":2,S")), "{cur:?}");

    // A second pass, and the same reports delivered again, change nothing.
    let again = site.run_at(DUE, &["bounces", "--maildir", dir.to_str().unwrap()]);
    assert!(again.stdout.contains("bounces: 0 hard, 0 soft, 0 complaint, 0 delayed, 0 auto-reply ignored, 0 refused (bad tag), 0 unattributed, 1 unclassified"), "{}", again.stdout);
    for name in &cur {
        let base = name.trim_end_matches(":2,S");
        std::fs::rename(dir.join("cur").join(name), dir.join("new").join(base)).unwrap();
    }
    let replay = site.run_at(DUE, &["bounces", "--maildir", dir.to_str().unwrap()]);
    assert!(replay.stdout.contains("0 hard, 0 soft, 0 complaint, 0 delayed, 0 auto-reply ignored, 0 refused (bad tag), 0 unattributed, 1 unclassified, 9 counted before"), "{}", replay.stdout);
    assert_eq!(statuses(&site), status);

    // The next edition reaches only those still active.
    site.write_seed(
        "002_next.txt",
        &common::simple_seed("2026-01-28", "Next week", "More to read."),
    );
    let before = smtp.count();
    let run = site.run_at("2026-02-02T01:00:00Z", &["send", "--week", "2026-W05"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut reached: Vec<String> = smtp.messages()[before..]
        .iter()
        .map(|m| m.recipients[0].clone())
        .collect();
    reached.sort();
    let mut expected = vec![list[4].clone(), list[6].clone(), list[7].clone()];
    expected.sort();
    assert_eq!(reached, expected);
}

/// A report with no tag and no Message-ID Herald sent changes nothing, however
/// convincingly it names a subscriber in `Final-Recipient`.
#[test]
fn a_final_recipient_alone_is_not_trusted() {
    let (site, _smtp, list, sent) = sent_site();
    let dir = site.path("mail");
    maildir(&dir);
    let mut fake = Sent {
        verp: "newsletter@example.com".into(),
        message_id: "2026-W04.000000000000000000000000@example.com".into(),
    };
    let text = fixture("gmail-no-such-account.eml", &list[0], &fake, "");
    std::fs::write(dir.join("new/1.M1P1.gmail"), text).unwrap();
    fake.message_id = sent[&list[1]].message_id.replace("2026-W04", "2026-W03");
    let text = fixture("gmail-no-such-account.eml", &list[1], &fake, "");
    std::fs::write(dir.join("new/2.M1P1.gmail"), text).unwrap();
    let run = site.run_at(DUE, &["bounces", "--maildir", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("0 hard") && run.stdout.contains("2 unattributed"),
        "{}",
        run.stdout
    );
    assert!(statuses(&site).values().all(|(s, _)| s == "active"));
}

/// Without a bounce address the envelope sender is the From address; the
/// `bounces` command still attributes by Message-ID.
#[test]
fn without_a_bounce_address_reports_are_matched_by_message_id() {
    let smtp = TestSmtp::start();
    let site = Site::with_shipped_seed();
    site.edit_config(&format!("bounce_address = \"{BOUNCES}\"\n"), "");
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        smtp.addr.port()
    ));
    let list = emails(1);
    site.add_subscribers(&list);
    assert_eq!(site.run_at(DUE, &["send", "--week", "2026-W04"]).code, 0);
    let m = &smtp.messages()[0];
    assert_eq!(m.sender, "newsletter@example.com");
    let id = MessageParser::default()
        .parse(&m.data)
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    let dir = site.path("mail");
    maildir(&dir);
    let sent = Sent {
        verp: m.sender.clone(),
        message_id: id,
    };
    std::fs::write(
        dir.join("new/1.M1P1.x"),
        fixture("postfix-user-unknown.eml", &list[0], &sent, ""),
    )
    .unwrap();
    let run = site.run_at(DUE, &["bounces", "--maildir", dir.to_str().unwrap()]);
    assert!(
        run.stdout.contains("1 hard"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(statuses(&site)[&list[0]].0, "bounced");
}

/// With `[bounces] maildir`, `herald run` reads the reports before it sends, so a
/// reader whose address died last week is not mailed this week.
#[test]
fn run_reads_the_bounce_mailbox_before_sending() {
    let (site, smtp, list, sent) = sent_site();
    let dir = site.path("bounce-mail");
    maildir(&dir);
    site.append_config(&format!("\n[bounces]\nmaildir = \"{}\"\n", dir.display()));
    let dead = &list[0];
    std::fs::write(
        dir.join("new/1769400000.M1P1.test"),
        fixture("postfix-user-unknown.eml", dead, &sent[dead], ""),
    )
    .unwrap();
    site.write_seed(
        "002_next.txt",
        &common::simple_seed("2026-01-28", "Next week", "More to read."),
    );
    let before = smtp.count();
    let run = site.run_at("2026-02-02T01:00:00Z", &["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("bounces: 1 hard"), "{}", run.stdout);
    assert!(
        run.stdout.contains("send 2026-W05: 7 sent"),
        "{}",
        run.stdout
    );
    let reached: Vec<String> = smtp.messages()[before..]
        .iter()
        .map(|m| m.recipients[0].clone())
        .collect();
    assert_eq!(reached.len(), 7);
    assert!(!reached.contains(dead), "{reached:?}");
}

/// `subscribers export` writes what `import` reads back, statuses included;
/// `forget` erases the address everywhere and keeps later imports from adding it.
#[test]
fn export_forget_and_import_from_the_command_line() {
    let site = Site::with_shipped_seed();
    site.add_subscribers(&emails(3));
    let list = emails(3);
    assert_eq!(site.run(&["unsubscribe-me-not"]).code, 2, "unknown command");
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    conn.execute(
        "UPDATE subscribers SET status = 'complained' WHERE email = ?1",
        [&list[1]],
    )
    .unwrap();
    drop(conn);
    let export = site.run(&["subscribers", "export"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let mut lines = export.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("email,name,status,created,changed,bounces")
    );
    assert_eq!(lines.count(), 3);
    assert!(export.stdout.contains(&format!("{},", list[1])));
    assert!(export.stdout.contains(",complained,"), "{}", export.stdout);
    let only = site.run(&["subscribers", "export", "--status", "complained"]);
    assert_eq!(only.stdout.lines().count(), 2, "{}", only.stdout);

    // Into a new installation: statuses come along.
    let other = Site::with_shipped_seed();
    let file = other.path("export.csv");
    std::fs::write(&file, &export.stdout).unwrap();
    let import = other.run(&["subscribers", "import", file.to_str().unwrap()]);
    assert_eq!(import.code, 0, "{}", import.stderr);
    let complained = other.run(&["subscribers", "list", "--status", "complained"]);
    assert!(
        complained.stdout.contains(&list[1]),
        "{}",
        complained.stdout
    );

    let forget = site.run(&["subscribers", "forget", &list[1].to_uppercase()]);
    assert_eq!(forget.code, 0, "{}", forget.stderr);
    assert!(
        forget.stdout.contains("was complained"),
        "{}",
        forget.stdout
    );
    let everyone = site.run(&["subscribers", "list"]);
    assert!(!everyone.stdout.contains(&list[1]));
    let needle = list[1].as_bytes();
    for file in ["herald.sqlite", "herald.sqlite-wal", "herald.sqlite-shm"] {
        let bytes = std::fs::read(site.path("state").join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the address is nowhere in {file}"
        );
    }
    let file = site.path("again.csv");
    std::fs::write(&file, format!("{},Again\n", list[1])).unwrap();
    let again = site.run(&["subscribers", "import", file.to_str().unwrap()]);
    assert!(
        again.stdout.contains("0 added") && again.stdout.contains("1 suppressed"),
        "{}",
        again.stdout
    );
    let added = site.run(&["subscribers", "add", &list[1]]);
    assert!(
        added.stdout.contains("added"),
        "an explicit add lifts it: {}",
        added.stdout
    );
}
