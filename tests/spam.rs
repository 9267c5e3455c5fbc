//! SpamAssassin (Debian's package and rules, local tests only: `-L -t`) scores a
//! real message from the outbox: it must score at most 0.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Site, emails};

/// The score `spamassassin -L -t` gives `message`, and its report.
fn spam_score(message: &[u8]) -> (f64, String) {
    common::require_debian(&["spamassassin"], &["spamassassin"]);
    let mut child = Command::new("spamassassin")
        .args(["-L", "-t"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(message).unwrap();
    let output = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    let score = report
        .split("Content analysis details:")
        .nth(1)
        .and_then(|rest| rest.trim_start().strip_prefix('('))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no score in {report}"));
    (score, report)
}

#[test]
fn a_real_digest_scores_at_most_zero() {
    let site = Site::with_shipped_seed();
    site.add_subscribers(&emails(1));
    let run = site.run_at("2026-01-26T01:00:00Z", &["send", "--week", "2026-W04"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let message = std::fs::read(&site.outbox_messages()[0]).unwrap();
    let (score, report) = spam_score(&message);
    assert!(score <= 0.0, "score {score}:\n{report}");
}

/// The judge works: the standard anti-spam test string scores far above zero.
#[test]
fn spamassassin_catches_the_standard_test_message() {
    let gtube = "Subject: test\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\n\
                 XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";
    let (score, report) = spam_score(gtube.as_bytes());
    assert!(score > 100.0, "{report}");
}
