//! The record of the last clean build: a build with nothing to do stops early and
//! says what a full build would have said, and every kind of change is still
//! built (a few added or edited seeds incrementally: see `incremental.rs`).

mod common;

use common::{Site, emails, parse_feed, simple_seed};

const SHORT_CUT: &str = "nothing changed since the last build";
/// Monday 26 January 2026, 09:00 Taipei: week 4's edition (the shipped seed's) is due.
const NOW: &str = "2026-01-26T01:00:00Z";

fn build(site: &Site, now: &str) -> common::Run {
    let run = site.run_at(now, &["--verbose", "build"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    run
}

/// Builds until the record is saved and holds: a build that wrote files just before
/// it ended cannot save it (their stamps are too fresh), the next one can.
fn settle(site: &Site, now: &str) -> common::Run {
    std::thread::sleep(herald::support::stamp::SETTLED * 2);
    let recording = build(site, now);
    let short = build(site, now);
    assert!(short.stderr.contains(SHORT_CUT), "{}", short.stderr);
    assert_eq!(short.stdout, recording.stdout, "the same report");
    short
}

/// A build that does not stop early (a full or an incremental one).
fn full_build(site: &Site, now: &str) -> common::Run {
    let run = build(site, now);
    assert!(!run.stderr.contains(SHORT_CUT), "{}", run.stderr);
    run
}

#[test]
fn a_build_with_nothing_to_do_stops_early_and_changes_nothing() {
    let site = Site::with_shipped_seed();
    site.write_seed(
        "002_later.txt",
        &simple_seed("2026-12-01", "Later", "Soon."),
    );
    build(&site, NOW);
    let before = site.snapshot("public");
    let run = settle(&site, NOW);
    assert!(
        run.stdout.contains(
            "build: 1 published (0 new, 0 updated, 1 unchanged, 0 removed), 1 scheduled, 0 skipped; files: 0 written"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("scheduled: later (held back until 2026-12-01T08:00:00+08:00)")
    );
    assert_eq!(site.snapshot("public"), before);

    // Nor does it write the state: not a byte, not a stamp (a write would also cost
    // a sync and a checkpoint on every cron run).
    let state = site.path("state/herald.sqlite");
    let stamp = |path: &std::path::Path| std::fs::metadata(path).unwrap().modified().unwrap();
    let (bytes, modified) = (std::fs::read(&state).unwrap(), stamp(&state));
    std::thread::sleep(herald::support::stamp::SETTLED * 2);
    assert!(build(&site, NOW).stderr.contains(SHORT_CUT));
    assert_eq!(stamp(&state), modified, "the state file was written");
    assert!(std::fs::read(&state).unwrap() == bytes, "the state changed");
}

#[test]
fn edited_added_and_removed_seeds_are_published() {
    let site = Site::with_shipped_seed();
    site.write_seed(
        "001_one.txt",
        &simple_seed("2026-01-20", "One", "First text."),
    );
    build(&site, NOW);
    settle(&site, NOW);
    site.write_seed(
        "001_one.txt",
        &simple_seed("2026-01-20", "One", "Second text."),
    );
    assert!(full_build(&site, NOW).stdout.contains("updated: one"));
    assert!(
        site.read("public/articles/one.html")
            .contains("Second text.")
    );

    settle(&site, NOW);
    site.write_seed("003_two.txt", &simple_seed("2026-01-21", "Two", "Another."));
    assert!(full_build(&site, NOW).stdout.contains("new: two"));

    settle(&site, NOW);
    std::fs::remove_file(site.path("seeds/003_two.txt")).unwrap();
    assert!(full_build(&site, NOW).stdout.contains("removed: two"));
    assert!(!site.path("public/articles/two.html").exists());
}

#[test]
fn lost_or_edited_outputs_are_restored() {
    let site = Site::with_shipped_seed();
    build(&site, NOW);
    let before = site.snapshot("public");
    settle(&site, NOW);
    let page = "public/articles/1bd5276be7ff4f0b.html";
    std::fs::remove_file(site.path(page)).unwrap();
    assert!(full_build(&site, NOW).stdout.contains("1 written"));
    assert_eq!(site.snapshot("public"), before);

    settle(&site, NOW);
    std::fs::write(site.path("public/feed.xml"), "hand edit").unwrap();
    assert!(full_build(&site, NOW).stdout.contains("1 written"));
    assert_eq!(site.snapshot("public"), before);

    settle(&site, NOW);
    std::fs::remove_dir_all(site.path("public")).unwrap();
    full_build(&site, NOW);
    assert_eq!(site.snapshot("public"), before);
}

#[test]
fn configuration_and_template_changes_get_a_full_build() {
    let site = Site::with_shipped_seed();
    build(&site, NOW);
    settle(&site, NOW);
    site.edit_config("title = \"華爾街聊什麼\"", "title = \"新的名字\"");
    full_build(&site, NOW);
    assert_eq!(
        parse_feed(&site, "atom.xml").title.map(|t| t.content),
        Some("新的名字".to_string())
    );

    settle(&site, NOW);
    std::fs::create_dir_all(site.path("templates")).unwrap();
    std::fs::write(
        site.path("templates/article.html"),
        "<p>override {{ article.title }}</p>",
    )
    .unwrap();
    full_build(&site, NOW);
    assert!(
        site.read("public/articles/1bd5276be7ff4f0b.html")
            .starts_with("<p>override ")
    );
}

#[test]
fn the_clock_ends_the_record_when_something_falls_due() {
    let site = Site::new();
    site.write_seed("001_now.txt", &simple_seed("2026-04-01", "Now", "Out."));
    site.write_seed(
        "002_later.txt",
        &simple_seed("2026-05-01", "Later", "Not yet."),
    );
    // 07:59 Taipei on 1 May: one minute before the 08:00 publish hour.
    let before_due = "2026-04-30T23:59:00Z";
    build(&site, before_due);
    settle(&site, before_due);
    let run = full_build(&site, "2026-05-01T00:00:00Z");
    assert!(run.stdout.contains("new: later"), "{}", run.stdout);
    assert_eq!(parse_feed(&site, "atom.xml").entries.len(), 2);
    // A clock that goes back is not trusted with the record either.
    settle(&site, "2026-05-01T00:00:00Z");
    let run = full_build(&site, before_due);
    assert!(run.stdout.contains("scheduled: later"), "{}", run.stdout);
}

/// What a build said about its seeds on stderr: its `error:` lines and the line
/// counting the skipped seeds, without the debug log.
fn seed_errors(run: &common::Run) -> Vec<&str> {
    (run.stderr.lines())
        .filter(|l| {
            l.starts_with("error:") || l.starts_with("  hint:") || l.contains("seed(s) skipped")
        })
        .collect()
}

#[test]
fn a_broken_seed_is_reported_by_every_build() {
    let site = Site::with_shipped_seed();
    site.write_seed("009_broken.txt", "no date line here\n");
    site.write_seed("010_twin.txt", &simple_seed("2026-01-20", "Twin", "One."));
    site.write_seed(
        "011_twin.txt",
        &simple_seed("2026-01-21", "Twin again", "Two."),
    );
    let first = full_build(&site, NOW);
    assert_eq!(first.code, 1);
    let reported = seed_errors(&first);
    assert!(
        reported.iter().any(|l| l.contains("009_broken.txt")),
        "{}",
        first.stderr
    );
    assert!(
        reported
            .iter()
            .any(|l| l.contains("011_twin.txt") && l.contains("already used")),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("2 seed(s) skipped"),
        "{}",
        first.stderr
    );

    // With nothing changed, the record says it all again, without a build: a cron
    // job beside a broken seed stays cheap, and still fails until it is mended.
    let short = settle(&site, NOW);
    assert_eq!(short.code, 1);
    assert_eq!(seed_errors(&short), reported);

    // A change beside them gets a full build (an incremental one could not tell
    // which of the twins owns the id), which reports them too.
    site.write_seed(
        "010_twin.txt",
        &simple_seed("2026-01-20", "Twin", "One, edited."),
    );
    let edited = full_build(&site, NOW);
    assert_eq!(edited.code, 1);
    assert!(edited.stdout.contains("updated: twin"), "{}", edited.stdout);
    assert_eq!(seed_errors(&edited), reported);

    // Mended, they are published, and the record reports nothing any more.
    site.write_seed(
        "009_broken.txt",
        &simple_seed("2026-01-22", "Mended", "Fixed."),
    );
    std::fs::remove_file(site.path("seeds/011_twin.txt")).unwrap();
    let mended = full_build(&site, NOW);
    assert_eq!(mended.code, 0, "{}", mended.stderr);
    assert!(mended.stdout.contains("new: broken"), "{}", mended.stdout);
    let short = settle(&site, NOW);
    assert_eq!(short.code, 0);
    assert!(seed_errors(&short).is_empty(), "{}", short.stderr);
}

#[test]
fn sending_an_edition_gets_a_full_build() {
    let site = Site::with_shipped_seed();
    site.add_subscribers(&emails(1));
    build(&site, NOW);
    settle(&site, NOW);
    // Without `[smtp]`, messages go to the outbox; the edition is frozen either way.
    let send = site.run_at(NOW, &["send", "--week", "2026-W04"]);
    assert_eq!(send.code, 0, "{}", send.stderr);
    full_build(&site, NOW);
}
