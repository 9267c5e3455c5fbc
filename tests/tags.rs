//! Tags: each tag gets a page and its own Atom, RSS and JSON Feed under
//! `tags/<slug>/`, a tags index lists them, article pages link to them; CJK tags
//! keep their characters in the folder name and are percent-encoded in URLs; an
//! edit moves an article between tags in an incremental build exactly as a full
//! build would.

mod common;

use common::{Site, feed_titles, simple_seed};

const NOW: &str = "2026-01-26T01:00:00Z";
const BASE: &str = "https://wallstreet.example.com/";

fn tagged(date: &str, title: &str, tags: &[&str]) -> String {
    let list: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        "+++\ntags = [{}]\n+++\n{}",
        list.join(", "),
        simple_seed(date, title, &format!("{title}: a note on the markets."))
    )
}

fn site() -> Site {
    let site = Site::with_shipped_seed();
    let base = site.base_url();
    site.edit_config(
        &format!("base_url = \"{base}\""),
        &format!("base_url = \"{BASE}\""),
    );
    site.write_seed(
        "001_chips.txt",
        &tagged("2026-01-05", "Chips", &["AI", "晶片"]),
    );
    site.write_seed("002_rates.txt", &tagged("2026-01-12", "Rates", &["聯準會"]));
    site.write_seed("003_models.txt", &tagged("2026-01-19", "Models", &["ai"]));
    site
}

fn build(site: &Site) -> common::Run {
    let run = site.run_at(NOW, &["--verbose", "build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

#[test]
fn every_tag_has_a_page_three_feeds_and_a_line_in_the_index() {
    let site = site();
    let run = build(&site);
    // `AI` and `ai` are one tag, named as the newest article spells it.
    assert!(
        run.stderr
            .contains("tags `ai` and `AI` are one tag (tags/ai/)"),
        "{}",
        run.stderr
    );
    let page = site.read("public/tags/ai/index.html");
    assert!(page.contains("<h1>標籤：ai</h1>"), "{page}");
    assert!(page.contains("Models") && page.contains("Chips") && !page.contains("Rates"));
    assert!(page.find("Models") < page.find("Chips"), "newest first");
    // Autodiscovery of the tag's own feeds.
    assert!(
        page.contains(&format!(
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"《華爾街聊什麼》：ai (Atom)\" href=\"{BASE}tags/ai/atom.xml\">"
        )) || page.contains(&format!("href=\"{BASE}tags/ai/atom.xml\"")),
        "{page}"
    );

    for feed in ["tags/ai/atom.xml", "tags/ai/feed.xml", "tags/ai/feed.json"] {
        assert_eq!(feed_titles(&site, feed), ["Models", "Chips"], "{feed}");
    }
    let atom = common::parse_feed(&site, "tags/ai/atom.xml");
    assert_eq!(atom.id, format!("{BASE}tags/ai/"));
    assert!(
        atom.links.iter().any(
            |l| l.rel.as_deref() == Some("self") && l.href == format!("{BASE}tags/ai/atom.xml")
        ),
        "{:?}",
        atom.links
    );

    // A CJK tag keeps its characters on disk and is percent-encoded in URLs.
    assert_eq!(feed_titles(&site, "tags/晶片/feed.json"), ["Chips"]);
    let cjk = common::parse_feed(&site, "tags/晶片/atom.xml");
    assert_eq!(cjk.id, format!("{BASE}tags/%E6%99%B6%E7%89%87/"));
    let article = site.read("public/articles/chips.html");
    assert!(
        article.contains(&format!(
            "<a href=\"{BASE}tags/%E6%99%B6%E7%89%87/\" rel=\"tag\">晶片</a>"
        )),
        "{article}"
    );

    let index = site.read("public/tags/index.html");
    for (name, url, count) in [
        ("ai", "tags/ai/", 2),
        ("晶片", "tags/%E6%99%B6%E7%89%87/", 1),
        ("聯準會", "tags/%E8%81%AF%E6%BA%96%E6%9C%83/", 1),
    ] {
        let line =
            format!("<a href=\"{BASE}{url}\">{name}</a> <span class=\"meta\">{count} 篇</span>");
        assert!(index.contains(&line), "{line}\n{index}");
    }
}

#[test]
fn an_edit_moves_an_article_between_tags_incrementally_as_a_full_build_would() {
    let site = site();
    build(&site);
    std::thread::sleep(herald::support::stamp::SETTLED * 2);
    build(&site);

    // Chips leaves 晶片 (its only article) and joins 聯準會.
    site.write_seed(
        "001_chips.txt",
        &tagged("2026-01-05", "Chips", &["AI", "聯準會"]),
    );
    let run = build(&site);
    assert!(run.stderr.contains("changed seeds built"), "{}", run.stderr);
    assert!(
        !site.path("public/tags/晶片").exists(),
        "an empty tag's folder goes"
    );
    assert_eq!(
        feed_titles(&site, "tags/聯準會/atom.xml"),
        ["Rates", "Chips"]
    );
    assert!(!site.read("public/tags/index.html").contains("晶片"));

    // A new article with a new tag.
    site.write_seed("004_oil.txt", &tagged("2026-01-21", "Oil", &["能源"]));
    let run = build(&site);
    assert!(run.stderr.contains("changed seeds built"), "{}", run.stderr);
    assert_eq!(feed_titles(&site, "tags/能源/feed.xml"), ["Oil"]);

    site.assert_a_full_build_agrees(NOW);
}

#[test]
fn a_tag_page_or_feed_removed_after_a_settled_build_is_restored() {
    let site = site();
    build(&site);
    let before = site.snapshot("public");
    for lost in ["public/tags/ai/atom.xml", "public/tags/聯準會/index.html"] {
        // Settled: the next build trusts the stamps it recorded.
        std::thread::sleep(herald::support::stamp::SETTLED * 2);
        build(&site);
        std::fs::remove_file(site.path(lost)).unwrap();
        build(&site);
        assert!(site.path(lost).exists(), "{lost} was not restored");
        assert_eq!(site.snapshot("public"), before);
    }
}
