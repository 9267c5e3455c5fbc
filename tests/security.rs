//! Security review, as tests: secrets stay out of output and state, files holding
//! private data are private, and nothing a seed or subscriber supplies can add a
//! mail header.

mod common;

use std::process::Command;

use common::smtp::TestSmtp;
use common::{Site, run};
use mail_parser::MessageParser;

const DUE: &str = "2026-01-26T01:00:00Z";
const TOKEN_SECRET: &str = "token-secret-Zq81mBv3xLw0";
const SMTP_PASSWORD: &str = "smtp-password-Hh27Nc9pTr4";

#[test]
fn secrets_never_reach_logs_errors_or_the_state_file() {
    let server = TestSmtp::start();
    let site = Site::with_shipped_seed();
    // The server offers no AUTH, so logging in fails: the error path is where a
    // careless program would print credentials.
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"herald\"\nmax_attempts = 1\n",
        server.addr.port()
    ));
    site.run(&["subscribers", "add", "reader@example.com"]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.arg("--config")
        .arg(site.path("config.toml"))
        .args(["--verbose", "send", "--week", "2026-W04"])
        .env("HERALD_NOW", DUE)
        .env("HERALD_SECRET", TOKEN_SECRET)
        .env("HERALD_SMTP_PASSWORD", SMTP_PASSWORD)
        .env("HERALD_LOG", "trace");
    let failed = run(cmd);
    assert_eq!(failed.code, 3, "{}", failed.stderr);
    for secret in [TOKEN_SECRET, SMTP_PASSWORD] {
        assert!(!failed.stdout.contains(secret) && !failed.stderr.contains(secret));
    }
    let state = std::fs::read(site.path("state/herald.sqlite")).unwrap();
    for secret in [TOKEN_SECRET, SMTP_PASSWORD] {
        assert!(!state.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}

#[cfg(unix)]
#[test]
fn the_state_and_the_generated_secret_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::with_shipped_seed();
    site.run(&["subscribers", "add", "reader@example.com"]);
    assert_eq!(site.run_at(DUE, &["send", "--week", "2026-W04"]).code, 0);
    for file in ["state/herald.sqlite", "state/secret"] {
        let mode = std::fs::metadata(site.path(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is {mode:o}");
    }
    // A secret file others can read is reported.
    let secret = site.path("shared-secret");
    std::fs::write(&secret, "a shared secret that is long enough").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    site.append_config("\n[newsletter]\nsecret_file = \"shared-secret\"\n");
    site.run(&["subscribers", "add", "second@example.com"]);
    let run = site.run_at(DUE, &["send", "--week", "2026-W04"]);
    assert!(
        run.stderr.contains("readable by other users"),
        "{}",
        run.stderr
    );
    // Cron mails stderr: no colour codes and no module paths in it.
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    assert!(!run.stderr.contains("herald::"), "{}", run.stderr);
    assert!(!run.stderr.contains("a shared secret"));
}

#[test]
fn seeds_and_subscribers_cannot_inject_mail_headers() {
    let site = Site::new();
    site.write_seed(
        "001_inject.txt",
        "+++\ntitle = \"Title\\r\\nBcc: victim@example.com\\r\\nX-Evil: 1\"\n+++\ndate 2026-01-21 lead\n\nHeading\n\nBody.\n",
    );
    std::fs::write(
        site.path("list.csv"),
        "\"reader@example.com\",\"Name\r\nBcc: victim@example.com\"\nplain@example.com,Plain\n",
    )
    .unwrap();
    let list = site.path("list.csv");
    let import = site.run(&["subscribers", "import", list.to_str().unwrap()]);
    assert_eq!(import.code, 1, "the name with a line break is rejected");
    assert!(import.stderr.contains("line breaks"), "{}", import.stderr);
    assert_eq!(site.run_at(DUE, &["send", "--week", "2026-W04"]).code, 0);
    let eml = site.outbox_messages().remove(0);
    let bytes = std::fs::read(eml).unwrap();
    let message = MessageParser::default().parse(&bytes).unwrap();
    assert!(message.header_raw("Bcc").is_none());
    assert!(message.header_raw("X-Evil").is_none());
    let subject = message.subject().unwrap();
    assert!(
        subject.contains("Title Bcc: victim@example.com X-Evil: 1"),
        "{subject}"
    );
    let to: Vec<_> = message
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, ["plain@example.com"]);
}
