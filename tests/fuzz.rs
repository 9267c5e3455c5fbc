//! Property tests (proptest) for the seed parser and the feed renderers: for any
//! input, parsing never panics, and any article it produces renders into RSS, Atom
//! and JSON Feed that an independent parser (feed-rs, serde_json) accepts, and into
//! pages without injected markup.
//!
//! `PROPTEST_CASES=N cargo test --release --test fuzz` runs longer campaigns (see
//! README, "Fuzzing").

use std::path::Path;

use chrono::{TimeZone, Utc};
use herald::config::Config;
use herald::content::catalog::Entry;
use herald::content::seed::parse_seed;
use herald::render::feeds::{render_atom, render_json_feed, render_rss};
use herald::render::site::{SiteMeta, prepare_one, render_article_page, render_index};
use herald::render::templates::Templates;
use proptest::prelude::*;

fn config() -> Config {
    Config::from_toml(
        "[site]\ntitle = \"Fuzz & <Site>\"\nbase_url = \"https://example.com/f/\"\nauthor = \"A <b>\"\n",
        Path::new("config.toml"),
        Path::new("/nonexistent"),
    )
    .unwrap()
}

/// Text made of the pieces most likely to break a parser or a serialiser.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\n".to_string()),
        Just("\n\n".to_string()),
        Just("\r\n".to_string()),
        Just("\r".to_string()),
        Just("+++".to_string()),
        Just("date 2026-01-21 ".to_string()),
        Just("date ".to_string()),
        Just("廣告".to_string()),
        Just("更多風傳媒報導".to_string()),
        Just("《華爾街聊什麼》欄目介紹".to_string()),
        Just("本期Podcast與來賓介紹".to_string()),
        Just("]]>".to_string()),
        Just("<![CDATA[".to_string()),
        Just("</item>".to_string()),
        Just("<script>alert(1)</script>".to_string()),
        Just("&amp;&#0;&".to_string()),
        Just("title = \"x\"\n".to_string()),
        Just("\u{feff}".to_string()),
        Just("。".to_string()),
        Just("e\u{301}".to_string()),
        Just("👨\u{200d}👩\u{200d}👧".to_string()),
        Just("\u{202e}".to_string()),
        "[\\x00-\\x1f\\x7f]{1,3}",
        "\\PC{0,12}",
        "[a-zA-Z0-9 ]{0,20}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn render_and_check(article: herald::article::Article) {
    let config = config();
    let published = article.published(config.site.timezone, 8);
    let entry = Entry {
        article: article.head().into(),
        full: None,
        published,
        updated: published,
        first_seen: Utc.timestamp_opt(0, 0).unwrap(),
        source_hash: String::new(),
        written: None,
    };
    let templates = Templates::load(Path::new("/nonexistent")).unwrap();
    let meta = SiteMeta::new(&config, article.column_intro.as_deref());
    let prepared = vec![prepare_one(&meta, &entry, &article, &templates).unwrap()];
    for (name, bytes) in [
        ("rss", render_rss(&meta, &prepared).unwrap()),
        ("atom", render_atom(&meta, &prepared).unwrap()),
        ("json", render_json_feed(&meta, &prepared).unwrap()),
    ] {
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| {
            panic!(
                "{name} does not parse: {e}\n{}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert_eq!(feed.entries.len(), 1, "{name}");
        if name == "json" {
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap();
        }
    }
    let pages = [
        (
            "index",
            render_index(&meta, std::slice::from_ref(&entry), &[], &templates).unwrap(),
        ),
        (
            "article",
            render_article_page(&meta, &prepared[0], &Default::default(), &templates).unwrap(),
        ),
    ]
    .map(|(name, bytes)| (name, String::from_utf8(bytes).expect("pages are UTF-8")));
    for (name, html) in pages {
        assert!(!html.contains("<script>alert"), "{name}");
        assert!(!html.contains("</item>"), "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let config = config();
        let _ = parse_seed("001_fuzz.txt", &bytes, &config.seed, config.site.timezone);
    }

    #[test]
    fn any_parsed_article_renders_valid_feeds(text in hostile_text()) {
        let config = config();
        if let Ok(article) = parse_seed("001_fuzz.txt", text.as_bytes(), &config.seed, config.site.timezone) {
            render_and_check(article);
        }
    }

    #[test]
    fn structured_seeds_with_hostile_fields_render_valid_feeds(
        lead in hostile_text(),
        heading in "[^\\n\\r。！？!?.…；;，,、：:]{1,30}",
        body in hostile_text(),
        title in "\\PC{0,40}",
    ) {
        let config = config();
        let front = format!("+++\ntitle = {}\n+++\n", toml_string(&title));
        for seed in [
            format!("date 2026-01-21 {lead}\n\n{heading}x\n\n{body}\nend."),
            format!("{front}date 2026-01-21 {lead}\n\nHeading\n\n{body}\nend."),
        ] {
            if let Ok(article) = parse_seed("001_fuzz.txt", seed.as_bytes(), &config.seed, config.site.timezone) {
                render_and_check(article);
            }
        }
    }
}

/// A TOML basic string for `s` (escaping what TOML requires).
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Edge case: a lead made only of the inline headings leaves an empty summary.
#[test]
fn a_lead_of_only_inline_headings_renders() {
    let config = config();
    let seed = "date 2026-01-21 《華爾街聊什麼》欄目介紹本期Podcast與來賓介紹\n\nHeading\n\nBody.";
    let article = parse_seed(
        "001_x.txt",
        seed.as_bytes(),
        &config.seed,
        config.site.timezone,
    )
    .unwrap();
    render_and_check(article);
}
