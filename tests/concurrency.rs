//! `herald run` from cron, a manual `herald subscribers import` and a running
//! `herald serve` taking unsubscribe requests, all at once on one state file: no
//! "database is locked" reaches anyone.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::Site;

const DUE: &str = "2026-01-26T01:00:00Z";

#[test]
fn run_import_and_serve_share_the_state_without_lock_errors() {
    let site = Site::with_shipped_seed();
    let first: String = (0..400)
        .map(|i| format!("early{i}@example.com\n"))
        .collect();
    std::fs::write(site.path("first.csv"), first).unwrap();
    let second: String = (0..3000)
        .map(|i| format!("late{i}@example.com,Late {i}\n"))
        .collect();
    std::fs::write(site.path("second.csv"), second).unwrap();
    let first = site.path("first.csv");
    assert_eq!(
        site.run(&["subscribers", "import", first.to_str().unwrap()])
            .code,
        0
    );

    let herald = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
        cmd.arg("--config")
            .arg(site.path("config.toml"))
            .args(args)
            .env("HERALD_NOW", DUE)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let mut serve = herald(&["serve", "--listen", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();

    let run = herald(&["run"]).spawn().unwrap();
    let second = site.path("second.csv");
    let import = herald(&["subscribers", "import", second.to_str().unwrap()])
        .spawn()
        .unwrap();
    let secret = std::fs::read_to_string(site.path("state/secret")).unwrap();
    let key = herald::newsletter::token::TokenKey::from_secret(secret.trim().as_bytes()).unwrap();
    let http = reqwest::blocking::Client::new();
    let mut statuses = Vec::new();
    for i in 0..40 {
        let token = key.unsubscribe_token(&format!("early{}@example.com", i * 10));
        let response = http
            .post(format!("{base}/unsubscribe?token={token}"))
            .body("List-Unsubscribe=One-Click")
            .send()
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    let run = run.wait_with_output().unwrap();
    let import = import.wait_with_output().unwrap();
    let _ = serve.kill();
    let serve = serve.wait_with_output().unwrap();

    for (name, output) in [("run", &run), ("import", &import)] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{name}: {stderr}");
        assert!(
            !stderr.to_lowercase().contains("locked"),
            "{name}: {stderr}"
        );
    }
    let serve_log = String::from_utf8_lossy(&serve.stderr);
    assert!(!serve_log.to_lowercase().contains("locked"), "{serve_log}");
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let list = site.run(&["subscribers", "list", "--status", "unsubscribed"]);
    assert_eq!(list.stdout.lines().count(), 40);
    let active = site.run(&["subscribers", "list", "--status", "active"]);
    assert_eq!(active.stdout.lines().count(), 3400 - 40);
}
