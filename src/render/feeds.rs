//! Prepared articles → RSS 2.0, Atom 1.0 and JSON Feed 1.1.
//!
//! Serialisation is left to `rss`, `atom_syndication` and `serde_json`; this module
//! only decides what goes where. Choices made for the W3C Feed Validation Service:
//! GUIDs and Atom ids are the article permalinks (derived from the id, never from
//! content), every date comes from the articles (never "now", so rebuilds are
//! byte-identical), RSS dates are RFC 822, Atom dates RFC 3339, the author of an RSS
//! item goes in `dc:creator` (RSS `author` must be an e-mail address), and the
//! channel carries an `atom:link rel="self"`.

use std::collections::BTreeMap;

use atom_syndication as atom;
use chrono::{DateTime, FixedOffset, SecondsFormat};
use chrono_tz::Tz;
use rss::extension::atom::{AtomExtension, Link as RssAtomLink};
use rss::extension::dublincore::DublinCoreExtension;
use serde::Serialize;

use crate::render::site::{PreparedArticle, SiteMeta};
use crate::render::templates::escape_html;

const GENERATOR: &str = "Herald";

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

/// RSS 2.0 with `content:encoded` full HTML.
pub fn render_rss(meta: &SiteMeta, items: &[PreparedArticle]) -> Result<Vec<u8>, FeedError> {
    let self_link = RssAtomLink {
        href: meta.feed_rss.clone(),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    };
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
                content: Some(a.content_html.clone()),
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
            links: vec![self_link],
        }),
        items: rss_items,
        namespaces: BTreeMap::new(),
        ..Default::default()
    };
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

/// Atom 1.0 (RFC 4287).
pub fn render_atom(meta: &SiteMeta, items: &[PreparedArticle]) -> Result<Vec<u8>, FeedError> {
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
                content: Some(atom::Content {
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
        links: vec![
            link(&meta.feed_atom, "self", "application/atom+xml"),
            link(&meta.base_url, "alternate", "text/html"),
        ],
        subtitle: Some(atom::Text::plain(meta.description.clone())),
        generator: Some(atom::Generator {
            value: GENERATOR.into(),
            ..Default::default()
        }),
        lang: Some(meta.language.clone()),
        entries,
        ..Default::default()
    };
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
    items: Vec<JsonItem<'a>>,
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
