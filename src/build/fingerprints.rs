//! What each output is rendered from, reduced to a fingerprint: a page whose
//! fingerprint matches the one recorded for it is current and is not rendered again.

use crate::config::Config;
use crate::content::edition::Week;
use crate::render::site::{ArchiveYear, SiteMeta};
use crate::render::templates::Templates;
use crate::support::fingerprint::{Fingerprinter, fingerprint};

/// Everything every output depends on besides its own articles: Herald's version,
/// the templates, the site values and the settings that shape pages, feeds and
/// digests.
pub(super) fn site_fingerprint(config: &Config, templates: &Templates, meta: &SiteMeta) -> String {
    let settings = format!(
        "{}\0{:?}\0{}\0{:?}",
        serde_json::to_string(meta).unwrap_or_default(),
        config.newsletter,
        config.site.feed_items,
        config.site.feed_archives
    );
    fingerprint([
        env!("CARGO_PKG_VERSION").as_bytes(),
        templates.fingerprint().as_bytes(),
        settings.as_bytes(),
    ])
}

/// What an article shows wherever it is shown (its page, archive pages, edition
/// pages): `site` ([`site_fingerprint`]), its source and its times.
pub(super) fn article_fingerprint(
    site: &str,
    source_hash: &str,
    published: i64,
    updated: i64,
) -> String {
    // The site timezone is part of `source_hash` (parsing rules), so instants say
    // all the dates do.
    fingerprint([
        site.as_bytes(),
        source_hash.as_bytes(),
        &published.to_le_bytes(),
        &updated.to_le_bytes(),
    ])
}

/// What an article's page is rendered from: what the article shows
/// ([`article_fingerprint`]) and the `(id, title)` of the articles it links to as
/// older and newer.
pub(super) fn page_fingerprint(
    article: &str,
    older: Option<(&str, &str)>,
    newer: Option<(&str, &str)>,
) -> String {
    let mut fingerprint = Fingerprinter::default();
    fingerprint.add(article.as_bytes());
    for neighbour in [older, newer] {
        match neighbour {
            Some((id, title)) => {
                fingerprint.add(b"1");
                fingerprint.add(id.as_bytes());
                fingerprint.add(title.as_bytes());
            }
            None => fingerprint.add(b"0"),
        }
    }
    fingerprint.finish()
}

/// What a year's archive page is rendered from: its articles' pages (newest first)
/// and the list of years (`years_key`) it links to.
pub(super) fn year_fingerprint<'a>(
    site: &str,
    path: &str,
    years_key: &str,
    pages: impl Iterator<Item = &'a str>,
) -> String {
    let mut fingerprint = Fingerprinter::default();
    for part in [site, path, years_key] {
        fingerprint.add(part.as_bytes());
    }
    for page in pages {
        fingerprint.add(page.as_bytes());
    }
    fingerprint.finish()
}

/// The `years_key` of [`year_fingerprint`].
pub(super) fn years_key(years: &[ArchiveYear]) -> String {
    years.iter().map(|y| format!("{} ", y.year)).collect()
}

/// What a feed archive document is rendered from: its articles (oldest page first
/// numbering, so `page` is stable) and whether a later page exists (its
/// `next-archive` link). Both formats of a page share it.
pub(super) fn feed_archive_fingerprint<'a>(
    site: &str,
    page: usize,
    has_next: bool,
    articles: impl Iterator<Item = &'a str>,
) -> String {
    let mut fingerprint = Fingerprinter::default();
    fingerprint.add(site.as_bytes());
    fingerprint.add(&(page as u64).to_le_bytes());
    fingerprint.add(&[u8::from(has_next)]);
    for article in articles {
        fingerprint.add(article.as_bytes());
    }
    fingerprint.finish()
}

/// What a tag's page and feeds are rendered from: its name and slug and its
/// articles (newest first).
pub(super) fn tag_fingerprint<'a>(
    site: &str,
    name: &str,
    slug: &str,
    articles: impl Iterator<Item = &'a str>,
) -> String {
    let mut fingerprint = Fingerprinter::default();
    for part in [site, name, slug] {
        fingerprint.add(part.as_bytes());
    }
    for article in articles {
        fingerprint.add(article.as_bytes());
    }
    fingerprint.finish()
}

/// What the tags index is rendered from: every tag's name, slug and count.
pub(super) fn tags_index_fingerprint(site: &str, tags: &[(String, String, usize)]) -> String {
    let mut fingerprint = Fingerprinter::default();
    fingerprint.add(site.as_bytes());
    for (name, slug, count) in tags {
        fingerprint.add(name.as_bytes());
        fingerprint.add(slug.as_bytes());
        fingerprint.add(&(*count as u64).to_le_bytes());
    }
    fingerprint.finish()
}

/// What an edition's web page is rendered from: its articles' pages.
pub(super) fn edition_fingerprint<'a>(
    site: &str,
    week: Week,
    pages: impl Iterator<Item = &'a str>,
) -> String {
    let mut fingerprint = Fingerprinter::default();
    fingerprint.add(site.as_bytes());
    fingerprint.add(week.to_string().as_bytes());
    for page in pages {
        fingerprint.add(page.as_bytes());
    }
    fingerprint.finish()
}
