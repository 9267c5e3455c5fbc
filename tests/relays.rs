//! Several relays: messages dealt by weight, a relay that stops, refuses (421) or
//! is too slow rests while the others carry its share, and the run gives up only
//! when none works. Every server is a real SMTP server on loopback.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::smtp::{Fault, FaultProxy, TestSmtp};
use common::{Site, emails};

const DUE: &str = "2026-01-26T01:00:00Z";

fn relay(name: &str, port: u16, extra: &str) -> String {
    format!("\n[[smtp.relays]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\n{extra}")
}

fn site_with(relays: &[String], subscribers: usize) -> Site {
    let site = Site::with_shipped_seed();
    site.append_config(&format!(
        "\n[smtp]\ntls = \"none\"\ntimeout_secs = 1\nmax_attempts = 3\nretry_base_ms = 50\npool_size = 2\n{}",
        relays.concat()
    ));
    site.add_subscribers(&emails(subscribers));
    site
}

fn send(site: &Site) -> common::Run {
    site.run_at(DUE, &["send", "--week", "2026-W04"])
}

/// `(status, relay)` → rows, from the send journal.
fn journal_by_relay(site: &Site) -> HashMap<(String, String), usize> {
    let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT status, COALESCE(relay, ''), COUNT(*) FROM send_journal GROUP BY 1, 2")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(((r.get(0)?, r.get(1)?), r.get::<_, i64>(2)? as usize))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn sent_by(site: &Site, relay: &str) -> usize {
    journal_by_relay(site)
        .get(&("sent".to_string(), relay.to_string()))
        .copied()
        .unwrap_or(0)
}

#[test]
fn messages_are_dealt_to_the_relays_by_weight() {
    let (heavy, light) = (TestSmtp::start(), TestSmtp::start());
    let site = site_with(
        &[
            relay("heavy", heavy.addr.port(), "weight = 3\n"),
            relay("light", light.addr.port(), "weight = 1\n"),
        ],
        40,
    );
    let run = send(&site);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!((heavy.count(), light.count()), (30, 10));
    assert_eq!((sent_by(&site, "heavy"), sent_by(&site, "light")), (30, 10));
    assert!(
        run.stdout.contains("relay heavy: 30 sent"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("relay light: 10 sent"),
        "{}",
        run.stdout
    );

    let report = site.run(&["report", "--week", "2026-W04"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let words = |start: &str| {
        (report.stdout.lines())
            .find(|l| l.trim_start().starts_with(start))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("{start}: {}", report.stdout))
    };
    assert_eq!(words("all"), "all 40 sent 0 pending 0 to retry 0 rejected");
    assert_eq!(
        words("heavy"),
        "heavy 30 sent 0 pending 0 to retry 0 rejected"
    );
    assert_eq!(
        words("light"),
        "light 10 sent 0 pending 0 to retry 0 rejected"
    );
    assert!(
        words("sending:").contains("messages/s"),
        "{}",
        report.stdout
    );
}

#[test]
fn relays_that_stop_refuse_or_stall_rest_while_the_others_deliver_everything() {
    let subscribers = 60;
    let stopping = TestSmtp::start();
    let proxy = FaultProxy::start(stopping.addr, Fault::StopAfter(5));
    let refusing = TestSmtp::start();
    refusing.behaviour.lock().unwrap().refuse_connections = true;
    let slow = TestSmtp::start();
    slow.behaviour.lock().unwrap().mail_delay = Duration::from_millis(1500);
    let healthy = TestSmtp::start();
    let site = site_with(
        &[
            relay("stopping", proxy.addr.port(), "weight = 2\n"),
            relay("refusing", refusing.addr.port(), ""),
            relay("slow", slow.addr.port(), ""),
            relay("healthy", healthy.addr.port(), "pool_size = 3\n"),
        ],
        subscribers,
    );
    let run = send(&site);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Everyone has it; duplicates only from the connections cut with a message
    // in flight (at most one per connection: 2 + 2 + 2 + 3).
    let mut copies: HashMap<String, usize> = HashMap::new();
    for server in [&stopping, &refusing, &slow, &healthy] {
        for (to, n) in server.per_recipient() {
            *copies.entry(to).or_default() += n;
        }
    }
    for reader in emails(subscribers) {
        assert!(copies.get(&reader).is_some_and(|&n| n >= 1), "{reader}");
    }
    let duplicates: usize = copies.values().map(|n| n - 1).sum();
    assert!(duplicates <= 9, "{duplicates} duplicates: {copies:?}");
    assert_eq!(refusing.count() + slow.count(), 0);

    // The journal says who carried what, as the servers saw it.
    let rows = journal_by_relay(&site);
    assert_eq!(
        rows.iter()
            .filter(|((status, _), _)| status == "sent")
            .map(|(_, n)| n)
            .sum::<usize>(),
        subscribers,
        "{rows:?}"
    );
    // The stopping relay accepted its first messages (and perhaps, unheard, the
    // ones in flight when it went away); the healthy one carried the rest.
    let carried = sent_by(&site, "stopping");
    assert!((5..=stopping.count()).contains(&carried), "{rows:?}");
    assert_eq!(sent_by(&site, "healthy"), subscribers - carried, "{rows:?}");
    assert_eq!(healthy.count(), subscribers - carried);

    // The summary names each failing relay and why.
    for (name, why) in [("refusing", "421"), ("slow", "timed out"), ("stopping", "")] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(&format!("relay {name}:")))
            .unwrap_or_else(|| panic!("no line for {name}: {}", run.stdout));
        assert!(
            line.contains("out of rotation") && line.contains(why),
            "{line}"
        );
    }

    let again = send(&site);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("already sent"), "{}", again.stdout);
    assert_eq!(healthy.count() + stopping.count(), subscribers + duplicates);
}

#[test]
fn when_no_relay_works_the_run_stops_naming_each_and_a_later_run_completes() {
    let refusing = TestSmtp::start();
    refusing.behaviour.lock().unwrap().refuse_connections = true;
    let unreachable = common::free_port();
    let site = site_with(
        &[
            relay("refusing", refusing.addr.port(), ""),
            relay("gone", unreachable, ""),
        ],
        4,
    );
    let run = send(&site);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("every relay failed"), "{}", run.stderr);
    assert!(
        run.stderr.contains("refusing: ") && run.stderr.contains("421"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("gone: cannot connect"),
        "{}",
        run.stderr
    );
    assert_eq!(sent_by(&site, "refusing") + sent_by(&site, "gone"), 0);

    refusing.behaviour.lock().unwrap().refuse_connections = false;
    let run = send(&site);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(sent_by(&site, "refusing"), 4);
    assert_eq!(refusing.count(), 4);
}
