//! Crash consistency: `kill -9` at many points during `build` and during `send`,
//! then run again. The state stays intact, feeds are never half-written, nobody
//! loses an edition, and duplicates stay within the documented bound (one per
//! connection in flight per crash). `HERALD_CRASH_POINTS` sets how many kills
//! (default 20 each).

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::smtp::TestSmtp;
use common::{Site, parse_feed, simple_seed, stored_bodies};

const DUE: &str = "2026-01-26T01:00:00Z";

fn crash_points() -> usize {
    std::env::var("HERALD_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// Deterministic pseudo-random numbers (xorshift), so a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn integrity_ok(site: &Site) -> bool {
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    result == "ok"
}

/// Every body the state's rows name is in the body file beside it, as the version
/// the row says (the file is appended to and flushed before the rows commit).
fn bodies_ok(site: &Site) -> Result<usize, String> {
    let bodies = stored_bodies(&site.path("state/herald.sqlite"));
    for (id, json) in &bodies {
        let json = json
            .as_ref()
            .map_err(|problem| format!("{id}: {problem}"))?;
        serde_json::from_str::<serde_json::Value>(json).map_err(|e| format!("{id}: {e}"))?;
    }
    Ok(bodies.len())
}

fn spawn(site: &Site, args: &[&str]) -> std::process::Child {
    site.command(DUE, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_during_build_never_leaves_broken_state_or_half_feeds() {
    let site = Site::new();
    let articles = 300;
    let write_all = |revision: usize| {
        for i in 0..articles {
            let day = 1 + (i % 28);
            site.write_seed(
                &format!("{i:03}_a{i}.txt"),
                &simple_seed(
                    &format!("2025-{:02}-{day:02}", 1 + i % 12),
                    &format!("Article {i}"),
                    &format!(
                        "Revision {revision} of article {i}. {}",
                        "Text. ".repeat(50)
                    ),
                ),
            );
        }
    };
    write_all(0);
    let first = site.run_at(DUE, &["build"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let start = std::time::Instant::now();
    assert_eq!(site.run_at(DUE, &["build"]).code, 0);
    let typical = start.elapsed().as_millis().max(20) as u64;

    let mut dice = Dice(0x9e3779b97f4a7c15);
    let mut killed_while_running = 0;
    for point in 0..crash_points() {
        write_all(point + 1);
        let mut child = spawn(&site, &["build"]);
        std::thread::sleep(Duration::from_millis(dice.below(typical * 3)));
        if child.try_wait().unwrap().is_none() {
            killed_while_running += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        assert!(integrity_ok(&site), "kill point {point}: state damaged");
        match bodies_ok(&site) {
            Ok(named) => assert_eq!(named, articles, "kill point {point}"),
            Err(problem) => panic!("kill point {point}: {problem}"),
        }
        for file in ["feed.xml", "atom.xml", "feed.json"] {
            // Parses in full: the old or the new version, never a torn one.
            let feed = parse_feed(&site, file);
            assert_eq!(feed.entries.len(), 50, "kill point {point}: {file}");
        }
    }
    assert!(killed_while_running > 0, "no kill landed during a build");
    let last = site.run_at(DUE, &["build"]);
    assert_eq!(last.code, 0, "{}", last.stderr);
    let feed = parse_feed(&site, "feed.json");
    let body = feed.entries[0]
        .content
        .as_ref()
        .unwrap()
        .body
        .clone()
        .unwrap();
    assert!(
        body.contains(&format!("Revision {}", crash_points())),
        "the final build publishes the latest text"
    );
    let leftovers: Vec<_> = std::fs::read_dir(site.path("public"))
        .unwrap()
        .chain(std::fs::read_dir(site.path("public/articles")).unwrap())
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files are cleaned: {leftovers:?}"
    );
    assert!(integrity_ok(&site));
}

#[test]
fn kill_9_during_send_loses_nobody_and_bounds_duplicates() {
    let server = TestSmtp::start();
    server.behaviour.lock().unwrap().data_delay = Duration::from_millis(5);
    let pool = 2;
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\npool_size = {pool}\ntimeout_secs = 5\n",
        server.addr.port()
    ));
    let subscribers = 120;
    site.add_subscribers(&common::emails(subscribers));

    let mut dice = Dice(0x2545f4914f6cdd1d);
    let mut kills = 0;
    for point in 0..crash_points() {
        let mut child = spawn(&site, &["send", "--week", "2026-W04"]);
        std::thread::sleep(Duration::from_millis(5 + dice.below(60)));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        assert!(integrity_ok(&site), "kill point {point}: state damaged");
    }
    let last = site.run_at(DUE, &["send", "--week", "2026-W04"]);
    assert_eq!(last.code, 0, "{}\n{}", last.stdout, last.stderr);

    let counts = server.per_recipient();
    assert_eq!(counts.len(), subscribers, "nobody lost the edition");
    let total: usize = counts.values().sum();
    assert!(
        total <= subscribers + kills * pool,
        "{total} messages for {subscribers} subscribers after {kills} kills (bound {})",
        subscribers + kills * pool
    );
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let (rows, sent): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), SUM(status = 'sent') FROM send_journal WHERE week = '2026-W04'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, sent), (subscribers as i64, subscribers as i64));
    println!("send crash test: {kills} kills, {total} messages for {subscribers} subscribers");
}
