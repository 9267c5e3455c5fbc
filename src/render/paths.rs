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

/// The folders whose every file is a page of one kind, listed and pruned as a whole.
pub(crate) const OUTPUT_DIRS: [&str; 3] = [ARTICLES_DIR, ARCHIVE_DIR, NEWSLETTER_DIR];

pub(crate) fn article_page_path(id: &str) -> String {
    format!("{ARTICLES_DIR}/{id}.html")
}

pub(crate) fn archive_page_path(year: i32) -> String {
    format!("{ARCHIVE_DIR}/{year}.html")
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
