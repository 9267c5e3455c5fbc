//! The incremental build: when only a few seeds were added or edited since the last
//! recorded build, only they are reconciled, and the outputs are exactly what a
//! full build would leave. Whatever it is not sure of gets a full build.

mod common;

use common::{Run, Site, feed_titles, simple_seed};

const INCREMENTAL: &str = "changed seeds built";
const SHORT_CUT: &str = "nothing changed since the last build";
/// Monday 26 January 2026, 09:00 Taipei: week 4's edition is due.
const NOW: &str = "2026-01-26T01:00:00Z";

fn build(site: &Site) -> Run {
    let run = site.run_at(NOW, &["--verbose", "build"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    run
}

fn incremental(site: &Site) -> Run {
    let run = build(site);
    assert!(run.stderr.contains(INCREMENTAL), "{}", run.stderr);
    run
}

fn full(site: &Site) -> Run {
    let run = build(site);
    assert!(!run.stderr.contains(INCREMENTAL), "{}", run.stderr);
    assert!(!run.stderr.contains(SHORT_CUT), "{}", run.stderr);
    run
}

/// Builds until a settled record is saved (the next build would do nothing).
fn settle(site: &Site) {
    std::thread::sleep(herald::support::stamp::SETTLED * 2);
    build(site);
    let short = build(site);
    assert!(short.stderr.contains(SHORT_CUT), "{}", short.stderr);
}

/// A site with articles in two years and several weeks, built and settled.
fn site_with_articles() -> Site {
    let site = Site::with_shipped_seed();
    site.write_seed(
        "001_winter.txt",
        &simple_seed("2025-12-30", "Winter", "Snow on the harbour."),
    );
    site.write_seed(
        "002_tide.txt",
        &simple_seed("2026-01-05", "Tide", "The tide came in early."),
    );
    site.write_seed(
        "003_lamps.txt",
        &simple_seed("2026-01-13", "Lamps", "Lamps along the pier."),
    );
    assert_eq!(build(&site).code, 0);
    settle(&site);
    site
}

/// A full build of a copy of `site` that forgot the record and what every page was
/// rendered from finds every article unchanged and writes nothing: the incremental
/// build left what a full build would have.
fn assert_a_full_build_agrees(site: &Site) {
    let stderr = site.assert_a_full_build_agrees(NOW);
    assert!(
        !stderr.contains(INCREMENTAL) && !stderr.contains(SHORT_CUT),
        "{stderr}"
    );
}

#[test]
fn an_added_article_is_built_alone_and_as_a_full_build_would() {
    let site = site_with_articles();
    site.write_seed(
        "004_gulls.txt",
        &simple_seed("2026-01-22", "Gulls", "Gulls over the market."),
    );
    let run = incremental(&site);
    assert!(run.stdout.contains("new: gulls"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("build: 5 published (1 new, 0 updated, 4 unchanged, 0 removed)"),
        "{}",
        run.stdout
    );
    assert!(
        site.read("public/articles/gulls.html")
            .contains("Gulls over the market.")
    );
    assert!(site.read("public/archive/2026.html").contains("Gulls"));
    assert!(site.read("public/index.html").contains("Gulls"));
    assert!(
        site.read("public/newsletter/2026-W04.html")
            .contains("Gulls")
    );
    assert_eq!(feed_titles(&site, "atom.xml")[0], "Gulls");
    assert_a_full_build_agrees(&site);
}

#[test]
fn an_edited_article_is_rebuilt_alone_and_as_a_full_build_would() {
    let site = site_with_articles();
    site.write_seed(
        "002_tide.txt",
        &simple_seed("2026-01-05", "Tide", "The tide went out at noon."),
    );
    let run = incremental(&site);
    assert!(run.stdout.contains("updated: tide"), "{}", run.stdout);
    assert!(
        site.read("public/articles/tide.html")
            .contains("went out at noon")
    );
    assert_a_full_build_agrees(&site);

    // Moving the only article of 2025 into 2026 leaves no 2025 page, and every
    // year page's list of years changes.
    settle(&site);
    site.write_seed(
        "001_winter.txt",
        &simple_seed("2026-01-02", "Winter", "Snow on the harbour."),
    );
    let run = incremental(&site);
    assert!(run.stdout.contains("updated: winter"), "{}", run.stdout);
    assert!(run.stdout.contains(", 1 deleted"), "{}", run.stdout);
    assert!(!site.path("public/archive/2025.html").exists());
    assert!(!site.read("public/archive/2026.html").contains("2025"));
    assert_a_full_build_agrees(&site);

    // Moving an article to another week of the same year changes both editions.
    site.write_seed(
        "004_rope.txt",
        &simple_seed("2026-01-14", "Rope", "Rope on the bollard."),
    );
    incremental(&site);
    settle(&site);
    assert!(
        site.read("public/newsletter/2026-W03.html")
            .contains("Lamps")
    );
    site.write_seed(
        "003_lamps.txt",
        &simple_seed("2026-01-20", "Lamps", "Lamps along the pier."),
    );
    let run = incremental(&site);
    assert!(run.stdout.contains("updated: lamps"), "{}", run.stdout);
    let left = site.read("public/newsletter/2026-W03.html");
    assert!(left.contains("Rope") && !left.contains("Lamps"));
    assert!(
        site.read("public/newsletter/2026-W04.html")
            .contains("Lamps")
    );
    assert_a_full_build_agrees(&site);
}

/// The titles an article page links to as older (`rel="prev"`) and newer
/// (`rel="next"`).
fn neighbours(site: &Site, id: &str) -> (Option<String>, Option<String>) {
    let html = site.read(&format!("public/articles/{id}.html"));
    let link = |rel: &str| {
        let start = html.find(&format!("rel=\"{rel}\""))?;
        let text = &html[start..];
        let title = text.split("</span>").nth(1)?.split("</a>").next()?;
        Some(title.to_string())
    };
    (link("prev"), link("next"))
}

#[test]
fn article_pages_link_their_neighbours_and_an_edit_relinks_them() {
    let site = site_with_articles();
    let some = |t: &str| Some(t.to_string());
    assert_eq!(neighbours(&site, "winter"), (None, some("Tide")));
    assert_eq!(neighbours(&site, "tide"), (some("Winter"), some("Lamps")));

    // A new title shows on both neighbours' pages, rebuilt incrementally.
    site.write_seed(
        "002_tide.txt",
        &simple_seed("2026-01-05", "High tide", "The tide came in early."),
    );
    incremental(&site);
    assert_eq!(neighbours(&site, "winter"), (None, some("High tide")));
    assert_eq!(neighbours(&site, "lamps").0, some("High tide"));
    assert_a_full_build_agrees(&site);

    // An article added between two others: both link to it, and it to both.
    settle(&site);
    site.write_seed(
        "004_gulls.txt",
        &simple_seed("2026-01-09", "Gulls", "Gulls over the market."),
    );
    incremental(&site);
    assert_eq!(
        neighbours(&site, "gulls"),
        (some("High tide"), some("Lamps"))
    );
    assert_eq!(neighbours(&site, "tide").1, some("Gulls"));
    assert_eq!(neighbours(&site, "lamps").0, some("Gulls"));
    assert_a_full_build_agrees(&site);

    // Moved to be the oldest: its old neighbours now link to each other.
    settle(&site);
    site.write_seed(
        "004_gulls.txt",
        &simple_seed("2025-12-01", "Gulls", "Gulls over the market."),
    );
    incremental(&site);
    assert_eq!(neighbours(&site, "gulls"), (None, some("Winter")));
    assert_eq!(neighbours(&site, "winter").0, some("Gulls"));
    assert_eq!(neighbours(&site, "tide").1, some("Lamps"));
    assert_eq!(neighbours(&site, "lamps").0, some("High tide"));
    assert_a_full_build_agrees(&site);
}

#[test]
fn feed_archive_pages_are_built_incrementally_as_a_full_build_would() {
    let site = Site::with_shipped_seed();
    site.edit_config("feed_items = 50", "feed_items = 2");
    for (i, day) in ["2026-01-02", "2026-01-05", "2026-01-08"]
        .iter()
        .enumerate()
    {
        site.write_seed(
            &format!("00{i}_n{i}.txt"),
            &simple_seed(day, &format!("N{i}"), "A note."),
        );
    }
    assert_eq!(build(&site).code, 0);
    settle(&site);
    let pages = |site: &Site| {
        std::fs::read_dir(site.path("public/feeds"))
            .unwrap()
            .count()
    };
    assert_eq!(pages(&site), 4, "four articles: two pages, two formats");

    // A fifth article fills no page; a sixth fills page 3 and links page 2 to it.
    site.write_seed("003_n3.txt", &simple_seed("2026-01-12", "N3", "A note."));
    incremental(&site);
    assert_eq!(pages(&site), 4);
    assert_a_full_build_agrees(&site);
    site.write_seed("004_n4.txt", &simple_seed("2026-01-13", "N4", "A note."));
    let run = incremental(&site);
    assert_eq!(pages(&site), 6, "{}", run.stdout);
    assert!(site.read("public/feeds/atom-2.xml").contains("atom-3.xml"));
    assert_a_full_build_agrees(&site);

    // Back-dated to be the oldest: every page shifts.
    settle(&site);
    site.write_seed("004_n4.txt", &simple_seed("2025-12-01", "N4", "A note."));
    incremental(&site);
    assert!(site.read("public/feeds/rss-1.xml").contains("N4"));
    assert_a_full_build_agrees(&site);
}

#[test]
fn seeds_added_one_right_after_another_are_each_built_alone() {
    let site = site_with_articles();
    let shipped = site.read(&format!("seeds/{}", common::SHIPPED_SEED));
    for day in (22..25).rev() {
        // The shipped seed, a day earlier each time: the newest article is then the
        // one added (and re-read) before, whose column introduction is the site
        // description.
        let seed = shipped.replacen("date 2026-01-21", &format!("date 2026-01-{day}"), 1);
        site.write_seed(&format!("0{day}_day{day}.txt"), &seed);
        // No pause: the record each build saves may not be settled, and a seed
        // written within a clock tick of a build is read again by the next.
        let run = incremental(&site);
        assert!(
            run.stdout.contains(&format!("new: day{day}")),
            "{}",
            run.stdout
        );
    }
    assert_a_full_build_agrees(&site);
}

#[test]
fn pages_removed_right_after_the_build_that_wrote_them_come_back() {
    // However soon after a build a page is removed, the next build notices: the
    // record trusts the output folders' stamps only once a later change could not
    // share them (within a clock tick, usually before the build ends), and lists
    // the folders when it could.
    let site = site_with_articles();
    for day in 1..=12 {
        let id = format!("quick{day}");
        site.write_seed(
            &format!("1{day:02}_{id}.txt"),
            &simple_seed(&format!("2025-11-{day:02}"), &id, "A quick note."),
        );
        let page = site.path(&format!("public/articles/{id}.html"));
        build(&site);
        std::fs::remove_file(&page).unwrap();
        if day % 2 == 0 {
            std::fs::remove_file(site.path("public/archive/2025.html")).unwrap();
        }
        build(&site);
        assert!(
            page.exists(),
            "round {day}: {} was not restored",
            page.display()
        );
        assert!(
            site.path("public/archive/2025.html").exists(),
            "round {day}"
        );
    }
    assert_a_full_build_agrees(&site);
}

#[test]
fn the_feeds_bodies_are_kept_for_the_next_build_and_never_used_stale() {
    let site = site_with_articles();
    let kept = site.path("state/herald.sqlite-feed-bodies");
    assert!(kept.exists(), "the build kept the bodies its feeds showed");
    // The added article's body is rendered, the others' are taken from the file, and
    // the feeds are what a full build that renders every body writes.
    site.write_seed(
        "004_gulls.txt",
        &simple_seed("2026-01-22", "Gulls", "Gulls over the market."),
    );
    incremental(&site);
    assert!(
        site.read("public/atom.xml")
            .contains("Gulls over the market.")
    );
    assert_a_full_build_agrees(&site);

    // A template change reaches every body the feeds show.
    std::fs::create_dir_all(site.path("templates")).unwrap();
    let template = std::fs::read_to_string(common::repo().join("templates/content.html")).unwrap();
    std::fs::write(
        site.path("templates/content.html"),
        format!("<p>edited template</p>\n{template}"),
    )
    .unwrap();
    full(&site);
    let atom = site.read("public/atom.xml");
    let entries = atom.matches("<entry>").count();
    assert!(entries >= 4, "{atom}");
    assert_eq!(
        atom.matches("&lt;p&gt;edited template&lt;/p&gt;").count(),
        entries
    );

    // A damaged file is not used: one body's text altered, its length kept.
    let bytes = std::fs::read(&kept).unwrap();
    let (text, altered) = (b"Snow on the harbour", b"Snow on the harbouR");
    let at = (bytes.windows(text.len()))
        .position(|w| w == text)
        .expect("the winter article's body is kept");
    let mut bytes = bytes;
    bytes[at..at + text.len()].copy_from_slice(altered);
    std::fs::write(&kept, bytes).unwrap();
    site.write_seed(
        "005_kites.txt",
        &simple_seed("2026-01-23", "Kites", "Kites on the breakwater."),
    );
    incremental(&site);
    assert_a_full_build_agrees(&site);
}

#[test]
fn a_touched_seed_changes_no_page() {
    let site = site_with_articles();
    let before = site.snapshot("public");
    let seed = site.path("seeds/003_lamps.txt");
    let text = std::fs::read(&seed).unwrap();
    std::fs::write(&seed, text).unwrap();
    let run = incremental(&site);
    assert!(run.stdout.contains("; files: 0 written,"), "{}", run.stdout);
    assert_eq!(site.snapshot("public"), before);
}

#[test]
fn what_the_incremental_build_is_unsure_of_gets_a_full_build() {
    let site = site_with_articles();
    std::fs::remove_file(site.path("seeds/003_lamps.txt")).unwrap();
    assert!(full(&site).stdout.contains("removed: lamps"));
    assert!(!site.path("public/articles/lamps.html").exists());

    settle(&site);
    site.write_seed("005_broken.txt", "no date line here\n");
    let run = full(&site);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("005_broken.txt"), "{}", run.stderr);
    std::fs::remove_file(site.path("seeds/005_broken.txt")).unwrap();

    settle(&site);
    site.write_seed(
        "006_later.txt",
        &simple_seed("2026-03-01", "Later", "Soon."),
    );
    let run = full(&site);
    assert!(run.stdout.contains("scheduled: later"), "{}", run.stdout);

    settle(&site);
    site.write_seed(
        "007_tide.txt",
        &simple_seed("2026-01-06", "Tide again", "Twice."),
    );
    let run = full(&site);
    assert!(
        run.stderr.contains("already used by 002_tide.txt"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(site.path("seeds/007_tide.txt")).unwrap();

    // A page lost from the output folder: the full build restores it.
    settle(&site);
    std::fs::remove_file(site.path("public/articles/winter.html")).unwrap();
    site.write_seed("008_moss.txt", &simple_seed("2026-01-24", "Moss", "Green."));
    full(&site);
    assert!(site.path("public/articles/winter.html").exists());
    assert_a_full_build_agrees(&site);
}
