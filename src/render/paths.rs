//! Where each output lives under the output folder: the one place these names are
//! spelled, for the pages that link to them and the build that writes them.

use crate::content::edition::Week;

macro_rules! newsletter_dir {
    () => {
        "newsletter"
    };
}

/// One page per article.
pub(crate) const ARTICLES_DIR: &str = "articles";
/// One page per year listing every article of that year.
pub(crate) const ARCHIVE_DIR: &str = "archive";
/// The web version of each edition, and their index.
pub(crate) const NEWSLETTER_DIR: &str = newsletter_dir!();

pub(crate) const INDEX_PAGE: &str = "index.html";
pub(crate) const RSS_FEED: &str = "feed.xml";
pub(crate) const ATOM_FEED: &str = "atom.xml";
pub(crate) const JSON_FEED: &str = "feed.json";
pub(crate) const NEWSLETTER_INDEX: &str = concat!(newsletter_dir!(), "/index.html");
/// The subscription feeds.
pub(crate) const FEEDS: [&str; 3] = [RSS_FEED, ATOM_FEED, JSON_FEED];

/// What the files of [`OUTPUT_DIRS`] end with: pages, and feeds.
pub(crate) const OUTPUT_EXTENSIONS: [&str; 3] = ["html", "xml", "json"];

/// Tag pages and feeds: `tags/<slug>/…`, and the tags index.
pub(crate) const TAGS_DIR: &str = "tags";
pub(crate) const TAGS_INDEX: &str = "tags/index.html";

/// The archive documents of the feeds (RFC 5005).
pub(crate) const FEED_ARCHIVE_DIR: &str = "feeds";

/// The folders whose every file is an output of one kind, listed and pruned as a
/// whole ([`TAGS_DIR`] one level deeper too: a folder per tag).
pub(crate) const OUTPUT_DIRS: [&str; 5] = [
    ARTICLES_DIR,
    ARCHIVE_DIR,
    NEWSLETTER_DIR,
    FEED_ARCHIVE_DIR,
    TAGS_DIR,
];

pub(crate) fn article_page_path(id: &str) -> String {
    format!("{ARTICLES_DIR}/{id}.html")
}

pub(crate) fn archive_page_path(year: i32) -> String {
    format!("{ARCHIVE_DIR}/{year}.html")
}

/// Archive document `page` (1 = oldest) of the feed `name` (`rss`, `atom`).
pub(crate) fn feed_archive_path(name: &str, page: usize) -> String {
    format!("{FEED_ARCHIVE_DIR}/{name}-{page}.xml")
}

/// `file` of the tag whose slug is `slug`.
pub(crate) fn tag_output_path(slug: &str, file: &str) -> String {
    format!("{TAGS_DIR}/{slug}/{file}")
}

/// The folder name of `tag`.
///
/// Rules:
/// - letters are lower-cased (`AI` and `ai` are one tag); CJK and other letters and
///   digits are kept as they are (`晶片` stays `晶片`, not a transliteration);
/// - runs of anything else (spaces, punctuation, symbols) become one `-`, and `-`
///   at either end is dropped (`Deep Learning` → `deep-learning`); `+` is kept so
///   `C++` is not `C`;
/// - a tag with nothing left is `tag`.
///
/// In URLs the slug is percent-encoded as UTF-8 (`tags/%E6%99%B6%E7%89%87/`), which
/// every browser shows as `tags/晶片/`. Two spellings with one slug (`AI`, `ai`) are
/// one tag, named by the spelling of the newest article that uses it; the build
/// warns about them so the editor can pick one.
pub(crate) fn tag_slug(tag: &str) -> String {
    let mut slug = String::new();
    let mut gap = false;
    for c in tag.chars() {
        if c.is_alphanumeric() || c == '+' {
            if gap && !slug.is_empty() {
                slug.push('-');
            }
            gap = false;
            slug.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    if slug.is_empty() { "tag".into() } else { slug }
}

/// `slug` as a URL path segment: every byte outside RFC 3986's unreserved set
/// percent-encoded.
pub(crate) fn encode_segment(slug: &str) -> String {
    let mut out = String::new();
    for byte in slug.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The URL of the page of the tag whose slug is `slug`, under `base_url`.
pub(crate) fn tag_page_url(base_url: &str, slug: &str) -> String {
    format!("{base_url}{TAGS_DIR}/{}/", encode_segment(slug))
}

pub(crate) fn edition_page_path(week: Week) -> String {
    format!("{NEWSLETTER_DIR}/{week}.html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_case_keep_cjk_and_join_the_rest_with_hyphens() {
        assert_eq!(tag_slug("AI"), "ai");
        assert_eq!(tag_slug("晶片"), "晶片");
        assert_eq!(tag_slug("Deep Learning"), "deep-learning");
        assert_eq!(tag_slug("  美國 / 聯準會 "), "美國-聯準會");
        assert_eq!(tag_slug("C++"), "c++");
        assert_eq!(tag_slug("C#"), "c");
        assert_eq!(tag_slug("Ｎｖｉｄｉａ"), "ｎｖｉｄｉａ");
        assert_eq!(tag_slug("!!!"), "tag");
    }

    #[test]
    fn slugs_are_percent_encoded_as_utf8_in_urls() {
        assert_eq!(encode_segment("晶片"), "%E6%99%B6%E7%89%87");
        assert_eq!(encode_segment("c++"), "c%2B%2B");
        assert_eq!(encode_segment("deep-learning"), "deep-learning");
    }

    #[test]
    fn the_newsletter_index_is_in_the_newsletter_folder() {
        assert_eq!(NEWSLETTER_INDEX, format!("{NEWSLETTER_DIR}/index.html"));
        assert_eq!(
            edition_page_path("2026-W04".parse().unwrap()),
            "newsletter/2026-W04.html"
        );
    }
}
