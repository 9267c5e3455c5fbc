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

/// What the files of [`OUTPUT_DIRS`] end with: pages, and the feeds' archive documents.
pub(crate) const OUTPUT_EXTENSIONS: [&str; 2] = ["html", "xml"];

/// The archive documents of the feeds (RFC 5005).
pub(crate) const FEED_ARCHIVE_DIR: &str = "feeds";

/// The folders whose every file is a page of one kind, listed and pruned as a whole.
pub(crate) const OUTPUT_DIRS: [&str; 4] =
    [ARTICLES_DIR, ARCHIVE_DIR, NEWSLETTER_DIR, FEED_ARCHIVE_DIR];

pub(crate) fn article_page_path(id: &str) -> String {
    format!("{ARTICLES_DIR}/{id}.html")
}

pub(crate) fn archive_page_path(year: i32) -> String {
    format!("{ARCHIVE_DIR}/{year}.html")
}

/// Archive document `page` (1 = oldest) of the RSS or Atom feed.
pub(crate) fn feed_archive_path(format: crate::render::feeds::FeedFormat, page: usize) -> String {
    let name = match format {
        crate::render::feeds::FeedFormat::Rss => "rss",
        crate::render::feeds::FeedFormat::Atom => "atom",
    };
    format!("{FEED_ARCHIVE_DIR}/{name}-{page}.xml")
}

pub(crate) fn edition_page_path(week: Week) -> String {
    format!("{NEWSLETTER_DIR}/{week}.html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newsletter_index_is_in_the_newsletter_folder() {
        assert_eq!(NEWSLETTER_INDEX, format!("{NEWSLETTER_DIR}/index.html"));
        assert_eq!(
            edition_page_path("2026-W04".parse().unwrap()),
            "newsletter/2026-W04.html"
        );
    }
}
