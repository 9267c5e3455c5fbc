//! RFC 5005 archived feeds: starting from a subscription feed and following
//! `prev-archive`, an independent parser (Python's feedparser) collects every
//! published article, each archive document holding its articles exactly once; the
//! archive documents change only when their articles do.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use common::{Site, simple_seed};

const NOW: &str = "2026-03-02T01:00:00Z";
const FEED_ITEMS: usize = 3;

/// A site with the shipped seed and `extra` more articles, `feed_items = 3`.
fn site_with(extra: usize) -> Site {
    let site = Site::with_shipped_seed();
    site.edit_config("feed_items = 50", &format!("feed_items = {FEED_ITEMS}"));
    for i in 0..extra {
        write_article(&site, i);
    }
    site
}

fn write_article(site: &Site, i: usize) {
    let day = 1 + i % 28;
    let month = 1 + i / 28;
    site.write_seed(
        &format!("1{i:02}_note{i}.txt"),
        &simple_seed(
            &format!("2025-{month:02}-{day:02}"),
            &format!("Note {i}"),
            &format!("Harbour note number {i}."),
        ),
    );
}

/// Follows the chain from `start` with feedparser: `(document, its entry ids, its
/// RFC 5005 links)` for the subscription document and each archive document.
fn walk(site: &Site, start: &str) -> Vec<(String, Vec<String>, BTreeMap<String, String>)> {
    common::require_python("feedparser", &["feedparser"]);
    let script = r#"
import feedparser, json, os, sys
root, base, path = sys.argv[1], sys.argv[2], sys.argv[3]
out = []
seen = set()
while path and path not in seen:
    seen.add(path)
    d = feedparser.parse(os.path.join(root, path))
    assert not d.bozo, (path, d.bozo_exception)
    links = {l['rel']: l['href'] for l in d.feed.get('links', []) if l.get('rel') in ('prev-archive', 'next-archive', 'current', 'self')}
    out.append([path, [e.id for e in d.entries], links])
    prev = links.get('prev-archive')
    path = prev[len(base):] if prev else None
print(json.dumps(out))
"#;
    let base = site.base_url();
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(site.path("public"))
        .arg(&base)
        .arg(start)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn published_ids(site: &Site) -> BTreeSet<String> {
    let json: serde_json::Value = serde_json::from_str(&site.read("public/feed.json")).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), FEED_ITEMS);
    std::fs::read_dir(site.path("public/articles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|name| name.trim_end_matches(".html").to_string())
        .collect()
}

fn assert_the_chain_holds_every_article_once(site: &Site, start: &str, archive_prefix: &str) {
    let chain = walk(site, start);
    let ids = published_ids(site);
    let (current, archives) = chain.split_first().unwrap();
    assert_eq!(current.1.len(), FEED_ITEMS);
    assert!(!current.2.contains_key("current"), "{current:?}");
    let pages = ids.len() / FEED_ITEMS;
    assert_eq!(archives.len(), pages, "{chain:?}");
    let mut collected: BTreeSet<String> = current.1.iter().cloned().collect();
    let mut archived = Vec::new();
    for (number, (path, entries, links)) in archives.iter().enumerate() {
        let page = pages - number;
        assert_eq!(path, &format!("feeds/{archive_prefix}-{page}.xml"));
        assert_eq!(entries.len(), FEED_ITEMS, "{path}");
        assert!(links["current"].ends_with(start), "{links:?}");
        assert_eq!(
            links.contains_key("prev-archive"),
            page > 1,
            "{path}: {links:?}"
        );
        assert_eq!(
            links.contains_key("next-archive"),
            page < pages,
            "{path}: {links:?}"
        );
        // feed-rs, a second parser, reads it whole too.
        assert_eq!(
            common::parse_feed(site, path).entries.len(),
            FEED_ITEMS,
            "{path}"
        );
        let xml = site.read(&format!("public/{path}"));
        assert!(
            xml.contains("xmlns:fh=\"http://purl.org/syndication/history/1.0\"")
                && xml.contains("<fh:archive"),
            "{path}"
        );
        archived.extend(entries.iter().cloned());
        collected.extend(entries.iter().cloned());
    }
    let urls: BTreeSet<String> = collected
        .iter()
        .map(|url| {
            url.rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".html")
                .to_string()
        })
        .collect();
    assert_eq!(
        urls, ids,
        "every article, from the subscription feed and its archives"
    );
    let distinct: BTreeSet<&String> = archived.iter().collect();
    assert_eq!(
        distinct.len(),
        archived.len(),
        "an article in two archive documents"
    );
}

#[test]
fn following_prev_archive_collects_every_article_once_in_rss_and_atom() {
    let site = site_with(10);
    let build = site.run_at(NOW, &["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    assert_the_chain_holds_every_article_once(&site, "atom.xml", "atom");
    assert_the_chain_holds_every_article_once(&site, "feed.xml", "rss");
}

/// The names of the files of `after` that are new or differ from `before`.
fn changed_files(before: &[(PathBuf, Vec<u8>)], after: &[(PathBuf, Vec<u8>)]) -> Vec<String> {
    after
        .iter()
        .filter(|file| !before.contains(file))
        .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn archive_documents_change_only_with_their_articles() {
    let site = site_with(9);
    assert_eq!(site.run_at(NOW, &["build"]).code, 0);
    let before = site.snapshot("public/feeds");
    assert_eq!(
        before.len(),
        6,
        "10 articles: three pages of three, two formats"
    );

    // One more article fills no page: no archive document changes.
    write_article(&site, 9);
    let build = site.run_at(NOW, &["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    assert_eq!(site.snapshot("public/feeds"), before);

    // The next one fills page 4: it is written, and page 3 gains its next-archive.
    write_article(&site, 10);
    assert_eq!(site.run_at(NOW, &["build"]).code, 0);
    let after = site.snapshot("public/feeds");
    assert_eq!(after.len(), 8);
    let changed = changed_files(&before, &after);
    assert_eq!(
        changed,
        ["atom-3.xml", "atom-4.xml", "rss-3.xml", "rss-4.xml"]
    );
    assert_the_chain_holds_every_article_once(&site, "atom.xml", "atom");

    // Editing an article of page 1 changes page 1 only.
    let before = after;
    site.write_seed(
        "100_note0.txt",
        &simple_seed("2025-01-01", "Note 0 corrected", "Harbour note number 0."),
    );
    assert_eq!(site.run_at(NOW, &["build"]).code, 0);
    let after = site.snapshot("public/feeds");
    let changed = changed_files(&before, &after);
    assert_eq!(changed, ["atom-1.xml", "rss-1.xml"]);
    assert!(site.read("public/feeds/atom-1.xml").contains("corrected"));

    // Fewer articles, fewer pages: the last page's documents are deleted.
    std::fs::remove_file(site.path("seeds/110_note10.txt")).unwrap();
    let build = site.run_at(NOW, &["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    assert!(!site.path("public/feeds/atom-4.xml").exists());
    assert!(!site.path("public/feeds/rss-4.xml").exists());
    assert_eq!(site.snapshot("public/feeds").len(), 6);
    assert_the_chain_holds_every_article_once(&site, "feed.xml", "rss");
}

#[test]
fn archives_carry_summaries_by_default_the_full_text_when_asked_and_none_when_off() {
    let site = site_with(5);
    assert_eq!(site.run_at(NOW, &["build"]).code, 0);
    let atom = site.read("public/feeds/atom-1.xml");
    let rss = site.read("public/feeds/rss-1.xml");
    assert!(
        atom.contains("<summary") && !atom.contains("<content"),
        "{atom}"
    );
    assert!(!rss.contains("content:encoded"), "{rss}");
    assert!(site.read("public/atom.xml").contains("<content"));

    site.append_config("\n[site]\nfeed_archives = \"full\"\n");
    assert_eq!(site.run_at(NOW, &["build"]).code, 0);
    assert!(site.read("public/feeds/atom-1.xml").contains("<content"));
    assert!(
        site.read("public/feeds/rss-1.xml")
            .contains("content:encoded")
    );
    assert_the_chain_holds_every_article_once(&site, "atom.xml", "atom");

    site.edit_config("feed_archives = \"full\"", "feed_archives = \"none\"");
    assert_eq!(site.run_at(NOW, &["build"]).code, 0);
    assert!(site.snapshot("public/feeds").is_empty());
    assert!(!site.read("public/atom.xml").contains("prev-archive"));
}
