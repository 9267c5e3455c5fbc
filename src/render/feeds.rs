//! Prepared articles → RSS 2.0, Atom 1.0 and JSON Feed 1.1.
//!
//! Serialisation is left to `rss`, `atom_syndication` and `serde_json`; this module
//! only decides what goes where. Choices made for the W3C Feed Validation Service:
//! GUIDs and Atom ids are the article permalinks (derived from the id, never from
//! content), every date comes from the articles (never "now", so rebuilds are
//! byte-identical), RSS dates are RFC 822, Atom dates RFC 3339, the author of an RSS
//! item goes in `dc:creator` (RSS `author` must be an e-mail address), and the
//! channel carries an `atom:link rel="self"`. With `websub.hub` set, every feed names
//! its hubs (RSS and Atom `link rel="hub"`, JSON Feed `hubs`) beside its self link,
//! as WebSub subscribers need both.

use std::collections::BTreeMap;

use atom_syndication as atom;
use chrono::{DateTime, FixedOffset, SecondsFormat};
use chrono_tz::Tz;
use rss::extension::atom::{AtomExtension, Link as RssAtomLink};
use rss::extension::dublincore::DublinCoreExtension;
use serde::Serialize;

use crate::render::paths::feed_archive_path;
use crate::render::site::{PreparedArticle, SiteMeta};
use crate::render::templates::escape_html;

const GENERATOR: &str = "Herald";

/// RFC 5005's namespace (`fh:archive`).
const FEED_HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// Where a feed document sits in an archived feed (RFC 5005 §4): the subscription
/// document links to the newest archive document; each archive document is marked
/// `fh:archive` and links to the subscription document (`current`) and to its
/// neighbours. Archive documents hold the complete pages of `site.feed_items`
/// articles, oldest first, so they change only when one of their articles does
/// (and the newest once more, when the page after it fills and it gains its
/// `next-archive`); the articles of the page still filling are all in the
/// subscription document, which always holds the newest `feed_items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeedPlace {
    /// The subscription document, with `archived` complete pages behind it.
    Current { archived: usize },
    /// Archive document `page` (1 = oldest) of `archived`; `full_text`: entries
    /// carry the article's HTML, else only its summary (`site.feed_archives`).
    Archive {
        page: usize,
        archived: usize,
        full_text: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeedFormat {
    Rss,
    Atom,
}

impl FeedPlace {
    /// `(rel, href)` of the RFC 5005 links the document carries.
    fn links(self, meta: &SiteMeta, format: FeedFormat) -> Vec<(&'static str, String)> {
        match self {
            FeedPlace::Current { archived: 0 } => Vec::new(),
            FeedPlace::Current { archived } => {
                vec![("prev-archive", archive_url(meta, format, archived))]
            }
            FeedPlace::Archive { page, archived, .. } => {
                let mut links = vec![("current", subscription_url(meta, format).to_string())];
                if page > 1 {
                    links.push(("prev-archive", archive_url(meta, format, page - 1)));
                }
                if page < archived {
                    links.push(("next-archive", archive_url(meta, format, page + 1)));
                }
                links
            }
        }
    }

    fn self_url(self, meta: &SiteMeta, format: FeedFormat) -> String {
        match self {
            FeedPlace::Current { .. } => subscription_url(meta, format).to_string(),
            FeedPlace::Archive { page, .. } => archive_url(meta, format, page),
        }
    }

    fn is_archive(self) -> bool {
        matches!(self, FeedPlace::Archive { .. })
    }

    fn has_content(self) -> bool {
        !matches!(
            self,
            FeedPlace::Archive {
                full_text: false,
                ..
            }
        )
    }
}

/// The subscription document of the feed in `format`.
fn subscription_url(meta: &SiteMeta, format: FeedFormat) -> &str {
    match format {
        FeedFormat::Rss => &meta.feed_rss,
        FeedFormat::Atom => &meta.feed_atom,
    }
}

fn archive_url(meta: &SiteMeta, format: FeedFormat, page: usize) -> String {
    format!("{}{}", meta.base_url, archive_path(format, page))
}

/// Where archive document `page` (1 = oldest) of the feed in `format` is written.
pub(crate) fn archive_path(format: FeedFormat, page: usize) -> String {
    let name = match format {
        FeedFormat::Rss => "rss",
        FeedFormat::Atom => "atom",
    };
    feed_archive_path(name, page)
}

/// How many complete archive pages `articles` published articles fill, as
/// `site.feed_archives` has them (none when `none`).
pub(crate) fn archived_pages(config: &crate::config::Config, articles: usize) -> usize {
    match config.site.feed_archives {
        crate::config::FeedArchives::None => 0,
        _ => articles / config.site.feed_items.max(1),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("cannot serialise the {format} feed: {message}")]
    Serialise {
        format: &'static str,
        message: String,
    },
}

/// The newest `updated` among the items: the feed's own last-change time.
fn newest_update(items: &[PreparedArticle]) -> Option<DateTime<Tz>> {
    items.iter().map(|a| a.entry.updated).max()
}

fn fixed(t: DateTime<Tz>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

/// The RSS 2.0 subscription document, with `content:encoded` full HTML.
pub fn render_rss(meta: &SiteMeta, items: &[PreparedArticle]) -> Result<Vec<u8>, FeedError> {
    render_rss_at(meta, items, FeedPlace::Current { archived: 0 })
}

/// An RSS 2.0 document at `place` in the archived feed (RFC 5005 Appendix B:
/// the same links and marker as Atom, in the Atom and history namespaces).
pub(crate) fn render_rss_at(
    meta: &SiteMeta,
    items: &[PreparedArticle],
    place: FeedPlace,
) -> Result<Vec<u8>, FeedError> {
    let self_link = RssAtomLink {
        href: place.self_url(meta, FeedFormat::Rss),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    };
    let history_links =
        (place.links(meta, FeedFormat::Rss).into_iter()).map(|(rel, href)| RssAtomLink {
            href,
            rel: rel.into(),
            mime_type: Some("application/rss+xml".into()),
            ..Default::default()
        });
    let hub_links = meta.hubs.iter().map(|hub| RssAtomLink {
        href: hub.clone(),
        rel: "hub".into(),
        ..Default::default()
    });
    let rss_items: Vec<rss::Item> = items
        .iter()
        .map(|a| {
            let v = &a.view;
            rss::Item {
                title: Some(v.title.clone()),
                link: Some(v.url.clone()),
                description: Some(escape_html(&v.summary)),
                guid: Some(rss::Guid {
                    value: v.url.clone(),
                    permalink: true,
                }),
                pub_date: Some(a.entry.published.to_rfc2822()),
                content: place.has_content().then(|| a.content_html.clone()),
                categories: v
                    .tags
                    .iter()
                    .map(|t| rss::Category {
                        name: t.clone(),
                        domain: None,
                    })
                    .collect(),
                dublin_core_ext: Some(DublinCoreExtension {
                    creators: vec![v.author.clone()],
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    let channel = rss::Channel {
        title: meta.title.clone(),
        link: meta.base_url.clone(),
        description: meta.description.clone(),
        language: Some(meta.language.clone()),
        last_build_date: newest_update(items).map(|t| t.to_rfc2822()),
        generator: Some(GENERATOR.into()),
        atom_ext: Some(AtomExtension {
            links: std::iter::once(self_link)
                .chain(history_links)
                .chain(hub_links)
                .collect(),
        }),
        items: rss_items,
        namespaces: BTreeMap::new(),
        ..Default::default()
    };
    let mut channel = channel;
    if place.is_archive() {
        let marker = rss::extension::Extension {
            name: "fh:archive".into(),
            ..Default::default()
        };
        let elements = BTreeMap::from([("archive".to_string(), vec![marker])]);
        channel.extensions.insert("fh".into(), elements);
        channel
            .namespaces
            .insert("fh".into(), FEED_HISTORY_NS.into());
    }
    channel
        .pretty_write_to(Vec::new(), b' ', 2)
        .map(|mut bytes| {
            bytes.push(b'\n');
            bytes
        })
        .map_err(|e| FeedError::Serialise {
            format: "RSS",
            message: e.to_string(),
        })
}

/// The Atom 1.0 (RFC 4287) subscription document.
pub fn render_atom(meta: &SiteMeta, items: &[PreparedArticle]) -> Result<Vec<u8>, FeedError> {
    render_atom_at(meta, items, FeedPlace::Current { archived: 0 })
}

/// An Atom document at `place` in the archived feed. Every document of the feed
/// has the feed's id: they are pages of one logical feed.
pub(crate) fn render_atom_at(
    meta: &SiteMeta,
    items: &[PreparedArticle],
    place: FeedPlace,
) -> Result<Vec<u8>, FeedError> {
    let link = |href: &str, rel: &str, mime: &str| atom::Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: Some(mime.to_string()),
        ..Default::default()
    };
    let person = |name: &str| atom::Person {
        name: name.to_string(),
        ..Default::default()
    };
    let entries: Vec<atom::Entry> = items
        .iter()
        .map(|a| {
            let v = &a.view;
            atom::Entry {
                title: atom::Text::plain(v.title.clone()),
                id: v.url.clone(),
                updated: fixed(a.entry.updated),
                published: Some(fixed(a.entry.published)),
                authors: vec![person(&v.author)],
                links: vec![link(&v.url, "alternate", "text/html")],
                summary: Some(atom::Text::plain(v.summary.clone())),
                content: place.has_content().then(|| atom::Content {
                    value: Some(a.content_html.clone()),
                    content_type: Some("html".into()),
                    ..Default::default()
                }),
                categories: v
                    .tags
                    .iter()
                    .map(|t| atom::Category {
                        term: t.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    let updated = newest_update(items)
        .map(fixed)
        .unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset());
    let feed = atom::Feed {
        title: atom::Text::plain(meta.title.clone()),
        id: meta.base_url.clone(),
        updated,
        authors: vec![person(&meta.author)],
        links: [
            link(
                &place.self_url(meta, FeedFormat::Atom),
                "self",
                "application/atom+xml",
            ),
            link(&meta.base_url, "alternate", "text/html"),
        ]
        .into_iter()
        .chain(
            (place.links(meta, FeedFormat::Atom).into_iter())
                .map(|(rel, href)| link(&href, rel, "application/atom+xml")),
        )
        .chain(meta.hubs.iter().map(|hub| atom::Link {
            href: hub.clone(),
            rel: "hub".into(),
            ..Default::default()
        }))
        .collect(),
        subtitle: Some(atom::Text::plain(meta.description.clone())),
        generator: Some(atom::Generator {
            value: GENERATOR.into(),
            ..Default::default()
        }),
        lang: Some(meta.language.clone()),
        entries,
        ..Default::default()
    };
    let mut feed = feed;
    if place.is_archive() {
        let marker = atom::extension::Extension {
            name: "fh:archive".into(),
            ..Default::default()
        };
        let elements = BTreeMap::from([("archive".to_string(), vec![marker])]);
        feed.extensions.insert("fh".into(), elements);
        feed.namespaces.insert("fh".into(), FEED_HISTORY_NS.into());
    }
    let config = atom::WriteConfig {
        write_document_declaration: true,
        indent_size: Some(2),
    };
    feed.write_with_config(Vec::new(), config)
        .map(|mut bytes| {
            bytes.push(b'\n');
            bytes
        })
        .map_err(|e| FeedError::Serialise {
            format: "Atom",
            message: e.to_string(),
        })
}

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: &'a str,
    language: &'a str,
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<JsonHub<'a>>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonHub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_url: Option<&'a str>,
    title: &'a str,
    content_html: &'a str,
    summary: &'a str,
    date_published: String,
    date_modified: String,
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tags: &'a [String],
}

/// JSON Feed 1.1.
pub fn render_json_feed(meta: &SiteMeta, items: &[PreparedArticle]) -> Result<Vec<u8>, FeedError> {
    let rfc3339 = |t: &DateTime<Tz>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &meta.title,
        home_page_url: &meta.base_url,
        feed_url: &meta.feed_json,
        description: &meta.description,
        language: &meta.language,
        authors: vec![JsonAuthor { name: &meta.author }],
        hubs: (meta.hubs.iter())
            .map(|url| JsonHub {
                kind: "WebSub",
                url,
            })
            .collect(),
        items: items
            .iter()
            .map(|a| JsonItem {
                id: &a.view.url,
                url: &a.view.url,
                external_url: a.view.link.as_deref(),
                title: &a.view.title,
                content_html: &a.content_html,
                summary: &a.view.summary,
                date_published: rfc3339(&a.entry.published),
                date_modified: rfc3339(&a.entry.updated),
                authors: vec![JsonAuthor {
                    name: &a.view.author,
                }],
                tags: &a.view.tags,
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&feed)
        .map(|mut bytes| {
            bytes.push(b'\n');
            bytes
        })
        .map_err(|e| FeedError::Serialise {
            format: "JSON",
            message: e.to_string(),
        })
}
