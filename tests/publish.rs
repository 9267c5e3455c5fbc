//! `herald build` / `herald check` end to end: the real binary on a temp site, its
//! feeds read back with the independent `feed-rs` parser.

mod common;

use chrono::{TimeZone, Utc};
use common::{SHIPPED_SEED, Site, parse_feed, simple_seed, stored_bodies};

const URL: &str = "https://example.com/herald/articles/1bd5276be7ff4f0b.html";
const TITLE: &str = "DeepSeek一週年：中國AI崛起的轉捩點";
const BODY_SENTENCE: &str = "儘管軟體實力大增，晶片仍是中國AI發展的最大罩門。";

#[test]
fn shipped_seed_becomes_three_valid_feeds_and_a_site() {
    let site = Site::with_shipped_seed();
    let run = site.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("new: 1bd5276be7ff4f0b"),
        "{}",
        run.stdout
    );

    let published = Utc.with_ymd_and_hms(2026, 1, 21, 0, 0, 0).unwrap(); // 08:00 Taipei
    for feed_file in ["feed.xml", "atom.xml", "feed.json"] {
        let feed = parse_feed(&site, feed_file);
        let description = feed
            .description
            .as_ref()
            .map(|d| d.content.clone())
            .unwrap_or_default();
        assert!(
            description.starts_with("我們從《華爾街日報》Podcast"),
            "{feed_file}: {description}"
        );
        assert_eq!(feed.entries.len(), 1, "{feed_file}");
        let entry = &feed.entries[0];
        assert_eq!(entry.id, URL, "{feed_file}");
        assert_eq!(entry.title.as_ref().unwrap().content, TITLE, "{feed_file}");
        assert_eq!(entry.links[0].href, URL, "{feed_file}");
        assert_eq!(entry.published, Some(published), "{feed_file}");
        let summary = &entry.summary.as_ref().unwrap().content;
        // RSS descriptions are HTML, so the apostrophe may arrive as an entity.
        assert!(
            summary.contains("News Sunday》節目（1 月 18 日）"),
            "{feed_file}: {summary}"
        );
        assert!(!summary.contains("欄目介紹"), "{feed_file}");
        let content = entry.content.as_ref().unwrap().body.as_deref().unwrap();
        assert!(
            content.contains("<h2>開源、便宜、好用：中國AI的全球南方戰略</h2>"),
            "{feed_file}"
        );
        assert_eq!(
            content.matches("<h2>").count(),
            4,
            "{feed_file}: title is not repeated"
        );
        for banned in ["廣告", "更多風傳媒報導", "每週更新"] {
            assert!(!content.contains(banned), "{feed_file} contains {banned}");
        }
    }
    let atom = parse_feed(&site, "atom.xml");
    assert_eq!(
        atom.entries[0].authors[0].name.as_deref(),
        Some("華爾街聊什麼編輯部")
    );
    assert_eq!(atom.language.as_deref(), Some("zh-TW"));
    let rss = site.read("public/feed.xml");
    assert!(rss.contains(
        r#"<atom:link href="https://example.com/herald/feed.xml" rel="self" type="application/rss+xml"/>"#
    ));
    assert!(rss.contains("<pubDate>Wed, 21 Jan 2026 08:00:00 +0800</pubDate>"));

    let page = site.read("public/articles/1bd5276be7ff4f0b.html");
    assert!(page.contains(r#"<html lang="zh-TW""#));
    assert!(page.contains(&format!("<h1>{TITLE}</h1>")));
    assert!(page.contains(r#"<link rel="alternate" type="application/atom+xml""#));
    assert!(page.contains("Noto Sans TC"));
    let index = site.read("public/index.html");
    assert!(index.contains(&format!(r#"<a href="{URL}">{TITLE}</a>"#)));
}

#[test]
fn rebuilding_without_changes_is_byte_identical_and_writes_nothing() {
    let site = Site::with_shipped_seed();
    assert_eq!(site.run(&["build"]).code, 0);
    let before = site.snapshot("public");
    let mtimes: Vec<_> = before
        .iter()
        .map(|(p, _)| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    // Even a later clock must not change any byte.
    let run = site.run_at("2027-03-01T00:00:00Z", &["build"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("0 written"), "{}", run.stdout);
    let after = site.snapshot("public");
    assert_eq!(before, after);
    let mtimes_after: Vec<_> = after
        .iter()
        .map(|(p, _)| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    assert_eq!(mtimes, mtimes_after);
}

#[test]
fn editing_a_seed_keeps_its_guid_and_moves_updated() {
    let site = Site::new();
    site.write_seed(
        "001_tides.txt",
        &simple_seed("2026-02-02", "Tides", "The sea rose."),
    );
    assert_eq!(site.run_at("2026-02-03T00:00:00Z", &["build"]).code, 0);
    let first = parse_feed(&site, "atom.xml");
    site.write_seed(
        "001_tides.txt",
        &simple_seed("2026-02-02", "Tides", "The sea rose, then fell."),
    );
    let run = site.run_at("2026-02-10T12:00:00Z", &["build"]);
    assert!(run.stdout.contains("updated: tides"), "{}", run.stdout);
    for file in ["atom.xml", "feed.json"] {
        let feed = parse_feed(&site, file);
        let entry = &feed.entries[0];
        assert_eq!(entry.id, first.entries[0].id, "{file}");
        assert_eq!(entry.published, first.entries[0].published, "{file}");
        assert_eq!(
            entry.updated,
            Some(Utc.with_ymd_and_hms(2026, 2, 10, 12, 0, 0).unwrap()),
            "{file}"
        );
        assert!(
            entry
                .content
                .as_ref()
                .unwrap()
                .body
                .as_ref()
                .unwrap()
                .contains("then fell"),
            "{file}"
        );
    }
    let rss = parse_feed(&site, "feed.xml");
    assert_eq!(rss.entries.len(), 1);
}

#[test]
fn broken_seeds_are_reported_and_skipped_while_the_rest_publish() {
    let site = Site::with_shipped_seed();
    site.write_seed(
        "010_good.txt",
        &simple_seed("2026-03-01", "Good news", "It works."),
    );
    site.write_seed(
        "011_nodate.txt",
        "A title\n\nA paragraph without a date line.\n",
    );
    site.write_seed(
        "012_baddate.txt",
        "\ndate 2026-02-31 lead\n\nHeading\n\nBody.\n",
    );
    site.write_seed("013_empty.txt", "");
    std::fs::write(
        site.path("seeds/014_latin1.txt"),
        b"date 2026-03-02 lead\n\nCaf\xe9 heading\n\nBody.\n",
    )
    .unwrap();
    site.write_seed(
        "015_bad name.txt",
        &simple_seed("2026-03-03", "Spaces", "Body."),
    );
    site.write_seed(
        "016_good.txt",
        &simple_seed("2026-03-04", "Same id", "Body."),
    );
    let run = site.run(&["build"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for expected in [
        "011_nodate.txt:1: the seed has no date line",
        "012_baddate.txt:2: `2026-02-31` is not a valid date",
        "013_empty.txt:1: the seed is empty",
        "014_latin1.txt:3: the text is not valid UTF-8",
        "015_bad name.txt: the file name does not give a safe article id",
        "016_good.txt: article id `good` is already used by 010_good.txt",
        "hint:",
        "6 seed(s) skipped",
    ] {
        assert!(
            run.stderr.contains(expected),
            "missing {expected:?} in\n{}",
            run.stderr
        );
    }
    let feed = parse_feed(&site, "feed.json");
    let titles: Vec<_> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(titles, ["Good news", TITLE]);
    assert!(site.path("public/articles/good.html").exists());
}

#[test]
fn the_file_already_holding_an_id_keeps_it() {
    let site = Site::new();
    site.write_seed(
        "005_shared.txt",
        &simple_seed("2026-03-01", "Original", "First."),
    );
    assert_eq!(site.run(&["build"]).code, 0);
    // Sorts before the original: without the state it would win.
    site.write_seed(
        "001_shared.txt",
        &simple_seed("2026-03-02", "Intruder", "Second."),
    );
    let run = site.run(&["build"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("001_shared.txt: article id `shared` is already used by 005_shared.txt"),
        "{}",
        run.stderr
    );
    let feed = parse_feed(&site, "atom.xml");
    assert_eq!(feed.entries.len(), 1);
    assert_eq!(feed.entries[0].title.as_ref().unwrap().content, "Original");
}

#[test]
fn a_published_article_whose_seed_breaks_stays_up_in_its_last_good_version() {
    let site = Site::new();
    site.write_seed(
        "001_steady.txt",
        &simple_seed("2026-03-01", "Steady", "Kept."),
    );
    assert_eq!(site.run(&["build"]).code, 0);
    site.write_seed("001_steady.txt", "date 2026-13-01 broken edit\n");
    let run = site.run(&["build"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("001_steady.txt:1"), "{}", run.stderr);
    let feed = parse_feed(&site, "feed.xml");
    assert_eq!(feed.entries.len(), 1);
    assert!(site.read("public/articles/steady.html").contains("Kept."));
}

#[test]
fn removing_a_seed_removes_it_from_every_output() {
    let site = Site::new();
    site.write_seed("001_stay.txt", &simple_seed("2026-03-01", "Stay", "Here."));
    site.write_seed("002_go.txt", &simple_seed("2026-03-02", "Go", "Gone soon."));
    assert_eq!(site.run(&["build"]).code, 0);
    assert!(site.path("public/articles/go.html").exists());
    std::fs::remove_file(site.path("seeds/002_go.txt")).unwrap();
    let run = site.run(&["build"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("removed: go"), "{}", run.stdout);
    assert!(!site.path("public/articles/go.html").exists());
    for file in ["feed.xml", "atom.xml", "feed.json"] {
        assert_eq!(parse_feed(&site, file).entries.len(), 1, "{file}");
    }
    assert!(!site.read("public/index.html").contains("Gone soon"));
}

#[test]
fn future_articles_are_held_back_until_their_date_in_the_site_timezone() {
    let site = Site::new();
    site.write_seed(
        "001_later.txt",
        &simple_seed("2026-05-01", "Later", "Not yet."),
    );
    // 07:59 Taipei on the day: one minute before the 08:00 publish hour.
    let run = site.run_at("2026-04-30T23:59:00Z", &["build"]);
    assert!(run.stdout.contains("scheduled: later"), "{}", run.stdout);
    assert_eq!(parse_feed(&site, "atom.xml").entries.len(), 0);
    assert!(!site.path("public/articles/later.html").exists());
    let run = site.run_at("2026-05-01T00:00:00Z", &["build"]);
    assert!(run.stdout.contains("new: later"), "{}", run.stdout);
    assert_eq!(parse_feed(&site, "atom.xml").entries.len(), 1);
}

#[test]
fn seed_text_cannot_inject_markup() {
    let site = Site::new();
    let seed = "+++\ntitle = \"Tom & Jerry <script>alert(1)</script>\"\n+++\ndate 2026-03-01 Lead with </item> and ]]> inside.\n\nA heading\n\nBody <b>bold</b> & <img src=x onerror=alert(1)> ]]> end.\n";
    site.write_seed("001_inject.txt", seed);
    let run = site.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for file in ["feed.xml", "atom.xml", "feed.json"] {
        let feed = parse_feed(&site, file);
        let entry = &feed.entries[0];
        assert_eq!(
            entry.title.as_ref().unwrap().content,
            "Tom & Jerry <script>alert(1)</script>",
            "{file}"
        );
        let content = entry.content.as_ref().unwrap().body.clone().unwrap();
        assert!(!content.contains("<img"), "{file}: {content}");
        assert!(!content.contains("<b>"), "{file}: {content}");
        assert!(content.contains("&lt;img"), "{file}: {content}");
    }
    let page = site.read("public/articles/inject.html");
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("&lt;script&gt;"));
    assert!(!page.contains("<img src=x"));
}

#[test]
fn check_reports_problems_and_writes_nothing() {
    let site = Site::with_shipped_seed();
    site.write_seed("002_broken.txt", "no date here\n");
    let run = site.run(&["check"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("002_broken.txt:1"), "{}", run.stderr);
    assert!(run.stdout.contains("check: 1 published"), "{}", run.stdout);
    assert!(!site.path("public").exists());
    assert!(!site.path("state").exists());
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let site = Site::with_shipped_seed();
    // run() starts the binary in the system temp dir, not in the site.
    assert_eq!(site.run(&["build"]).code, 0);
    assert!(site.path("public/feed.xml").exists());
    assert!(site.path("state/herald.sqlite").exists());
}

#[test]
fn a_template_in_the_templates_folder_overrides_the_built_in_one() {
    let site = Site::with_shipped_seed();
    std::fs::create_dir_all(site.path("templates")).unwrap();
    std::fs::write(
        site.path("templates/index.html"),
        "<!DOCTYPE html><p>Custom index: {% for a in articles %}{{ a.title }}{% endfor %}</p>",
    )
    .unwrap();
    assert_eq!(site.run(&["build"]).code, 0);
    assert_eq!(
        site.read("public/index.html"),
        format!("<!DOCTYPE html><p>Custom index: {TITLE}</p>")
    );
}

#[test]
fn a_broken_template_names_the_file_and_writes_nothing() {
    let site = Site::with_shipped_seed();
    std::fs::create_dir_all(site.path("templates")).unwrap();
    std::fs::write(site.path("templates/article.html"), "{% if %}").unwrap();
    let run = site.run(&["build"]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("article.html"), "{}", run.stderr);
    assert!(!site.path("public").exists());
}

/// Before and after a build record exists (the second build takes the record's
/// path, which lists the folder first thing).
#[test]
fn a_missing_seeds_folder_is_named_with_its_hint_and_its_cause_once() {
    let site = Site::with_shipped_seed();
    for recorded in [false, true] {
        if recorded {
            std::fs::rename(site.path("seeds.gone"), site.path("seeds")).unwrap();
            assert_eq!(site.run(&["build"]).code, 0);
            std::thread::sleep(herald::support::stamp::SETTLED * 2);
            assert_eq!(site.run(&["build"]).code, 0);
        }
        std::fs::rename(site.path("seeds"), site.path("seeds.gone")).unwrap();
        let run = site.run(&["build"]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(run.stderr.contains("seeds folder"), "{}", run.stderr);
        assert!(run.stderr.contains("check `paths.seeds`"), "{}", run.stderr);
        // The OS's words (ENOENT), once: not again after the hint.
        assert_eq!(
            run.stderr.matches("(os error 2)").count(),
            1,
            "{}",
            run.stderr
        );
    }
}

#[test]
fn config_errors_name_the_key() {
    let site = Site::with_shipped_seed();
    site.append_config("");
    let text = site
        .read("config.toml")
        .replace("Asia/Taipei", "Asia/Atlantis");
    std::fs::write(site.path("config.toml"), text).unwrap();
    let run = site.run(&["build"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("site.timezone"), "{}", run.stderr);
    assert!(run.stderr.contains("config.toml"), "{}", run.stderr);
}

#[test]
fn the_shipped_seed_filename_is_the_one_in_the_repository() {
    assert!(common::repo().join("seeds").join(SHIPPED_SEED).exists());
}

#[test]
fn feeds_carry_only_the_newest_feed_items() {
    let site = Site::new();
    site.edit_config("feed_items = 50", "feed_items = 2");
    for (i, day) in ["2026-03-01", "2026-03-02", "2026-03-03"]
        .iter()
        .enumerate()
    {
        site.write_seed(
            &format!("00{i}_day{i}.txt"),
            &simple_seed(day, &format!("Day {i}"), "Body."),
        );
    }
    assert_eq!(site.run(&["build"]).code, 0);
    for file in ["feed.xml", "atom.xml", "feed.json"] {
        let titles: Vec<String> = parse_feed(&site, file)
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.clone())
            .collect();
        assert_eq!(titles, ["Day 2", "Day 1"], "{file}");
    }
    // The site itself lists every article.
    assert!(site.read("public/index.html").contains("Day 0"));
}

#[test]
fn unchanged_pages_are_not_rerendered_but_template_edits_and_lost_files_are_noticed() {
    let site = Site::with_shipped_seed();
    assert_eq!(site.run(&["build"]).code, 0);
    let page = "public/articles/1bd5276be7ff4f0b.html";
    // A page rendered from the same inputs is kept as it is, even if edited by hand.
    std::fs::write(site.path(page), "hand edit").unwrap();
    assert_eq!(site.run(&["build"]).code, 0);
    assert_eq!(site.read(page), "hand edit");
    // A template change re-renders every page made from it.
    std::fs::create_dir_all(site.path("templates")).unwrap();
    std::fs::write(
        site.path("templates/article.html"),
        "<p>v2 {{ article.title }}</p>{{ content | safe }}",
    )
    .unwrap();
    let run = site.run(&["build"]);
    assert_eq!(run.code, 0);
    // The seed was not parsed again: the body comes from the state.
    assert!(run.stdout.contains("0 new, 0 updated"), "{}", run.stdout);
    let v2 = site.read(page);
    assert!(v2.starts_with(&format!("<p>v2 {TITLE}</p>")), "{v2}");
    assert!(v2.contains(BODY_SENTENCE), "{v2}");
    // A page that went missing is written again.
    std::fs::remove_file(site.path(page)).unwrap();
    let run = site.run(&["build"]);
    assert!(run.stdout.contains("1 written"), "{}", run.stdout);
    assert_eq!(site.read(page), v2);
}

#[test]
fn a_state_file_from_before_article_heads_is_upgraded_in_place() {
    let site = Site::with_shipped_seed();
    assert_eq!(site.run(&["build"]).code, 0);
    let before = site.snapshot("public");
    let state = site.path("state/herald.sqlite");
    // Turn the state back into schema version 2: the whole article in `articles`,
    // no heads, no bodies table.
    move_bodies_into_the_database(&state);
    {
        let conn = rusqlite::Connection::open(&state).unwrap();
        conn.execute_batch(
            "ALTER TABLE articles ADD COLUMN article_json TEXT NOT NULL DEFAULT '';
             UPDATE articles SET article_json =
                 (SELECT article_json FROM article_bodies b WHERE b.id = articles.id);
             DROP TABLE article_bodies;
             ALTER TABLE articles DROP COLUMN head_json;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    // A read-only command works on the old file as it is.
    let run = site.run(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("1 published"), "{}", run.stdout);
    // A build upgrades it and finds nothing to redo.
    let run = site.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("0 written"), "{}", run.stdout);
    assert_eq!(site.snapshot("public"), before);
    let conn = rusqlite::Connection::open(&state).unwrap();
    assert_eq!(schema_version(&conn), 5);
    let head: String = conn
        .query_row("SELECT head_json FROM articles", [], |r| r.get(0))
        .unwrap();
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    assert_eq!(head["title"], TITLE);
    assert!(head.get("sections").is_none(), "{head}");
    assert!(
        head["listing"]["summary"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{head}"
    );
    let body: String = conn
        .query_row("SELECT article_json FROM article_bodies", [], |r| r.get(0))
        .unwrap();
    assert!(body.contains(BODY_SENTENCE));
    assert!(
        conn.prepare("SELECT article_json FROM articles").is_err(),
        "the bodies moved out of `articles`"
    );
    // Pages re-rendered after the upgrade get their bodies from the new table.
    std::fs::remove_file(site.path("public/articles/1bd5276be7ff4f0b.html")).unwrap();
    assert_eq!(site.run(&["build"]).code, 0);
    assert_eq!(site.snapshot("public"), before);
    // An edit's text goes to the body file beside the state, and the old one
    // leaves the table.
    let seed = site.path("seeds/000_1bd5276be7ff4f0b.txt");
    let text = std::fs::read_to_string(&seed).unwrap();
    let edited = text.replacen(BODY_SENTENCE, "改過的一段。", 1);
    assert_ne!(edited, text);
    std::fs::write(&seed, edited).unwrap();
    let run = site.run(&["build"]);
    assert!(run.stdout.contains("1 updated"), "{}", run.stdout);
    let left: i64 = conn
        .query_row("SELECT COUNT(*) FROM article_bodies", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
    let bodies = std::fs::read_to_string(site.path("state/herald.sqlite-bodies")).unwrap();
    assert!(bodies.contains("改過的一段"));
    assert!(
        site.read("public/articles/1bd5276be7ff4f0b.html")
            .contains("改過的一段")
    );
}

/// The articles' texts live beside the state file. One that does not belong to
/// the state (lost, cut short, restored from another backup) stops a build that
/// needs a text from it, naming the article and the file, and never puts another
/// text on the page; once the state is gone too, a build starts both afresh.
#[test]
fn a_body_file_that_does_not_match_the_state_stops_the_build_and_one_without_a_state_starts_over() {
    let site = Site::with_shipped_seed();
    site.write_seed(
        "001_second.txt",
        &simple_seed("2026-01-20", "Second piece", "其他的內文。"),
    );
    assert_eq!(site.run(&["build"]).code, 0);
    let bodies = site.path("state/herald.sqlite-bodies");
    let size = std::fs::metadata(&bodies).unwrap().len();
    assert!(size > 1000, "{size}");
    let page = "public/articles/1bd5276be7ff4f0b.html";
    let before = site.read(page);

    // Cut short: the shipped article's text is gone.
    let whole = std::fs::read(&bodies).unwrap();
    std::fs::write(&bodies, b"").unwrap();
    std::fs::remove_file(site.path(page)).unwrap();
    let run = site.run(&["build"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains("1bd5276be7ff4f0b") && run.stderr.contains("herald.sqlite-bodies"),
        "{}",
        run.stderr
    );
    assert!(!site.path(page).exists());

    // Another state's file: the same offsets hold other articles' texts.
    let mut swapped = whole.clone();
    let second = whole
        .windows(b"\nsecond ".len())
        .position(|w| w == b"\nsecond ")
        .map(|at| at + 1);
    let first_len = second.unwrap_or(whole.len());
    swapped[..first_len].fill(b' ');
    swapped[..b"second ".len()].copy_from_slice(b"second ");
    std::fs::write(&bodies, &swapped).unwrap();
    let run = site.run(&["build"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("1bd5276be7ff4f0b"), "{}", run.stderr);
    assert!(!site.path(page).exists());

    // Put back, the build completes as before.
    std::fs::write(&bodies, &whole).unwrap();
    let run = site.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(site.read(page), before);

    // Without the state, the texts beside it belong to nothing: the file starts over
    // instead of growing.
    for file in ["herald.sqlite", "herald.sqlite-wal", "herald.sqlite-shm"] {
        let _ = std::fs::remove_file(site.path("state").join(file));
    }
    let run = site.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::metadata(&bodies).unwrap().len(), size);
    assert_eq!(site.read(page), before);
}

/// Turns a state file of this version back into version 4's layout: the bodies in
/// the `article_bodies` table, no body file beside it.
fn move_bodies_into_the_database(state: &std::path::Path) {
    let bodies = stored_bodies(state);
    assert!(!bodies.is_empty());
    let conn = rusqlite::Connection::open(state).unwrap();
    for (id, json) in bodies {
        conn.execute(
            "INSERT INTO article_bodies (id, article_json) VALUES (?1, ?2)",
            rusqlite::params![id, json.unwrap()],
        )
        .unwrap();
    }
    conn.execute_batch(
        "ALTER TABLE articles DROP COLUMN body_at;
         ALTER TABLE articles DROP COLUMN body_len;
         PRAGMA user_version = 4;",
    )
    .unwrap();
    std::fs::remove_file(state.with_file_name("herald.sqlite-bodies")).unwrap();
}

/// Version 3 heads lacked the listing details that summary-only outputs show: an
/// upgrade derives them from the bodies, and a read-only command on the old file
/// loads the bodies instead. Both give the same pages as before.
#[test]
fn a_state_file_from_before_listing_details_is_upgraded_in_place() {
    let site = Site::with_shipped_seed();
    site.edit_config("feed_items = 50", "feed_items = 1");
    site.write_seed(
        "001_older.txt",
        &simple_seed("2026-01-20", "Older piece", "Body."),
    );
    let build = site.run_at("2026-02-01T00:00:00Z", &["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let before = site.snapshot("public");
    let state = site.path("state/herald.sqlite");
    move_bodies_into_the_database(&state);
    {
        let conn = rusqlite::Connection::open(&state).unwrap();
        conn.execute_batch(
            "UPDATE articles SET head_json = json_remove(head_json, '$.listing');
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    // Every page that shows summaries is rendered again from the old heads.
    let mut removed = 0;
    for (page, _) in &before {
        let rel = page.strip_prefix(site.path("public")).unwrap();
        if rel.starts_with("newsletter") || rel.starts_with("feeds") {
            std::fs::remove_file(page).unwrap();
            removed += 1;
        }
    }
    assert!(
        removed >= 3,
        "an edition page and two feed archive documents"
    );
    let check = site.run_at("2026-02-01T00:00:00Z", &["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let build = site.run_at("2026-02-01T00:00:00Z", &["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    assert_eq!(site.snapshot("public"), before);
    let conn = rusqlite::Connection::open(&state).unwrap();
    assert_eq!(schema_version(&conn), 5);
    let heads: Vec<String> = conn
        .prepare("SELECT head_json FROM articles")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(heads.len(), 2);
    for head in heads {
        let head: serde_json::Value = serde_json::from_str(&head).unwrap();
        assert!(head["listing"]["summary"].as_str().is_some(), "{head}");
    }
}

#[test]
fn the_front_page_lists_the_newest_articles_and_each_year_has_an_archive_page() {
    let site = Site::new();
    site.edit_config("index_items = 30", "index_items = 2");
    for (i, day) in ["2024-12-30", "2025-06-01", "2025-07-01", "2026-02-01"]
        .iter()
        .enumerate()
    {
        site.write_seed(
            &format!("00{i}_day{i}.txt"),
            &simple_seed(day, &format!("Piece {i}"), "Body."),
        );
    }
    let run = site.run_at("2026-03-01T00:00:00Z", &["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let index = site.read("public/index.html");
    assert!(
        index.contains("Piece 3") && index.contains("Piece 2"),
        "{index}"
    );
    assert!(
        !index.contains("Piece 1") && !index.contains("Piece 0"),
        "{index}"
    );
    for year in ["2024", "2025", "2026"] {
        assert!(
            index.contains(&format!("https://example.com/herald/archive/{year}.html")),
            "{index}"
        );
    }
    let titles_in = |rel: &str| -> Vec<usize> {
        let page = site.read(rel);
        (0..4)
            .filter(|i| page.contains(&format!("Piece {i}")))
            .collect()
    };
    assert_eq!(titles_in("public/archive/2024.html"), [0]);
    assert_eq!(titles_in("public/archive/2025.html"), [1, 2]);
    assert_eq!(titles_in("public/archive/2026.html"), [3]);
    let page_2025 = site.read("public/archive/2025.html");
    // Newest first, and the page marks its own year in the year list.
    assert!(page_2025.find("Piece 2").unwrap() < page_2025.find("Piece 1").unwrap());
    assert!(
        page_2025.contains(r#"archive/2025.html" aria-current="page""#),
        "{page_2025}"
    );

    // A new article rewrites its year's page and the front page, not the other years.
    let before_2024 = std::fs::metadata(site.path("public/archive/2024.html"))
        .unwrap()
        .modified()
        .unwrap();
    site.write_seed(
        "004_day4.txt",
        &simple_seed("2026-02-15", "Piece 4", "Body."),
    );
    let run = site.run_at("2026-03-01T00:00:00Z", &["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(site.read("public/archive/2026.html").contains("Piece 4"));
    assert!(site.read("public/index.html").contains("Piece 4"));
    assert!(!site.read("public/index.html").contains("Piece 2"));
    let after_2024 = std::fs::metadata(site.path("public/archive/2024.html"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before_2024, after_2024);

    // A year whose articles are all gone loses its page and its link.
    std::fs::remove_file(site.path("seeds/000_day0.txt")).unwrap();
    let run = site.run_at("2026-03-01T00:00:00Z", &["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!site.path("public/archive/2024.html").exists());
    assert!(!site.read("public/index.html").contains("archive/2024.html"));
}

#[test]
fn a_seed_changed_within_a_clock_tick_of_the_build_is_read_again_next_time() {
    let site = Site::new();
    site.write_seed(
        "001_fresh.txt",
        &simple_seed("2026-03-01", "Fresh", "First."),
    );
    let stat_key = || -> String {
        let conn = rusqlite::Connection::open(site.path("state/herald.sqlite")).unwrap();
        conn.query_row(
            "SELECT stat_key FROM articles WHERE id = 'fresh'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    // A change stamped in the future has not settled when the build looks at it.
    let seed = std::fs::File::options()
        .write(true)
        .open(site.path("seeds/001_fresh.txt"))
        .unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    seed.set_modified(later).unwrap();
    assert_eq!(site.run(&["build"]).code, 0);
    assert_eq!(stat_key(), "", "no key for a seed that may change unseen");
    // Once settled, the next build reads it, finds the same text, and keeps a key.
    let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    seed.set_modified(earlier).unwrap();
    std::thread::sleep(herald::support::stamp::SETTLED * 2);
    let run = site.run(&["build"]);
    assert!(
        run.stdout.contains("0 new, 0 updated, 1 unchanged"),
        "{}",
        run.stdout
    );
    assert_ne!(stat_key(), "");
}

/// Every public page names its canonical address and carries Open Graph tags, so
/// a shared link shows the right title (#17).
#[test]
fn every_public_page_has_a_canonical_link_and_open_graph_tags() {
    let site = Site::with_shipped_seed();
    assert_eq!(site.run_at("2026-01-26T01:00:00Z", &["build"]).code, 0);
    let base = "https://example.com/herald/";
    for (file, url, title) in [
        ("public/index.html", base.to_string(), "華爾街聊什麼"),
        (
            "public/articles/1bd5276be7ff4f0b.html",
            format!("{base}articles/1bd5276be7ff4f0b.html"),
            "DeepSeek一週年：中國AI崛起的轉捩點",
        ),
        (
            "public/archive/2026.html",
            format!("{base}archive/2026.html"),
            "2026 年文章 · 華爾街聊什麼",
        ),
        (
            "public/newsletter/index.html",
            format!("{base}newsletter/"),
            "電子報 | 華爾街聊什麼",
        ),
        (
            "public/newsletter/2026-W04.html",
            format!("{base}newsletter/2026-W04.html"),
            "《華爾街聊什麼》週報 2026 年第 4 週：DeepSeek一週年：中國AI崛起的轉捩點",
        ),
    ] {
        let page = site.read(file);
        assert_eq!(
            page.matches("rel=\"canonical\"").count(),
            1,
            "{file}: one canonical link"
        );
        assert!(
            page.contains(&format!("<link rel=\"canonical\" href=\"{url}\">")),
            "{file}"
        );
        assert!(
            page.contains(&format!("<meta property=\"og:title\" content=\"{title}\">")),
            "{file}: {page}"
        );
        assert!(page.contains(&format!("<meta property=\"og:url\" content=\"{url}\">")));
    }
}

/// `run` is quiet when nothing changed, but says so when pages were removed, here
/// because the clock was set before the article's date (#17).
#[test]
fn run_reports_removed_pages() {
    let site = Site::with_shipped_seed();
    let first = site.run_at("2026-01-26T01:00:00Z", &["run"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let quiet = site.run_at("2026-01-26T02:00:00Z", &["run"]);
    assert!(!quiet.stdout.contains("build:"), "{}", quiet.stdout);
    let earlier = site.run_at("2026-01-10T01:00:00Z", &["run"]);
    assert_eq!(earlier.code, 0, "{}", earlier.stderr);
    assert!(
        earlier.stdout.contains("scheduled: 1bd5276be7ff4f0b"),
        "{}",
        earlier.stdout
    );
    let deleted: usize = earlier
        .stdout
        .split(" deleted")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(deleted >= 1, "{}", earlier.stdout);
    assert!(!site.path("public/articles/1bd5276be7ff4f0b.html").exists());
}

/// The state file's schema version (`PRAGMA user_version`).
fn schema_version(conn: &rusqlite::Connection) -> i64 {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}
