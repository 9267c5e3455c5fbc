//! Tags: how a tag becomes a folder name and a URL, which articles each tag
//! groups, and the tag pages.
//!
//! Slug rules: see [`tag_slug`](crate::render::paths::tag_slug).

use serde::Serialize;
use tera::Context;

use crate::content::catalog::Entry;
use crate::render::paths::{TAGS_INDEX, tag_output_path, tag_page_url, tag_slug};
use crate::render::site::{ListedArticle, SiteMeta, listed_article};
use crate::render::templates::{TemplateError, Templates};

/// One tag and the articles that carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagGroup {
    /// As the newest article carrying it spells it.
    pub(crate) name: String,
    pub(crate) slug: String,
    /// Positions in the list the groups were made from, newest first.
    pub(crate) members: Vec<usize>,
}

/// The tags of a list of articles (newest first), by slug; and each slug that more
/// than one spelling shares, with the spellings.
pub(crate) fn tag_groups<'a>(
    tags: impl Iterator<Item = &'a [String]>,
) -> (Vec<TagGroup>, Vec<(String, Vec<String>)>) {
    let mut groups: std::collections::BTreeMap<String, (TagGroup, Vec<String>)> =
        std::collections::BTreeMap::new();
    for (index, article_tags) in tags.enumerate() {
        for tag in article_tags {
            let slug = tag_slug(tag);
            let (group, spellings) = groups.entry(slug.clone()).or_insert_with(|| {
                let group = TagGroup {
                    name: tag.clone(),
                    slug,
                    members: Vec::new(),
                };
                (group, Vec::new())
            });
            if group.members.last() != Some(&index) {
                group.members.push(index);
            }
            if !spellings.contains(tag) {
                spellings.push(tag.clone());
            }
        }
    }
    let mut shared = Vec::new();
    let groups = groups
        .into_values()
        .map(|(group, spellings)| {
            if spellings.len() > 1 {
                shared.push((group.slug.clone(), spellings));
            }
            group
        })
        .collect();
    (groups, shared)
}

/// The URL of a tag's page.
pub(crate) fn tag_url(meta: &SiteMeta, slug: &str) -> String {
    tag_page_url(&meta.base_url, slug)
}

/// What a tag's outputs are: its page and its three feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagOutput {
    Page,
    Rss,
    Atom,
    Json,
}

impl TagOutput {
    pub(crate) const ALL: [TagOutput; 4] = [
        TagOutput::Page,
        TagOutput::Rss,
        TagOutput::Atom,
        TagOutput::Json,
    ];

    /// The file's name inside the tag's folder.
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            TagOutput::Page => "index.html",
            TagOutput::Rss => "feed.xml",
            TagOutput::Atom => "atom.xml",
            TagOutput::Json => "feed.json",
        }
    }
}

impl SiteMeta {
    /// The site as the feeds of tag `name` present it: their own title, home page
    /// (the tag's page, also the Atom id) and self links.
    pub(crate) fn for_tag(&self, name: &str, slug: &str) -> SiteMeta {
        let home = tag_url(self, slug);
        let feed = |output: TagOutput| format!("{home}{}", output.file_name());
        SiteMeta {
            title: format!("{}：{name}", self.title),
            feed_rss: feed(TagOutput::Rss),
            feed_atom: feed(TagOutput::Atom),
            feed_json: feed(TagOutput::Json),
            base_url: home,
            ..self.clone()
        }
    }
}

/// A tag as the tags index lists it.
#[derive(Debug, Clone, Serialize)]
struct ListedTag<'a> {
    name: &'a str,
    url: String,
    count: usize,
}

/// `tags/<slug>/index.html`: every article carrying the tag, newest first, with
/// autodiscovery links to the tag's feeds.
pub(crate) fn render_tag_page<'a>(
    meta: &SiteMeta,
    group: &TagGroup,
    entries: impl Iterator<Item = &'a Entry>,
    templates: &Templates,
) -> Result<Vec<u8>, TemplateError> {
    let tag_meta = meta.for_tag(&group.name, &group.slug);
    let listed: Vec<ListedArticle> = entries.map(|e| listed_article(meta, e)).collect();
    let mut context = Context::new();
    context.insert("site", meta);
    context.insert("tag", &group.name);
    context.insert("tag_feeds", &tag_meta);
    context.insert("articles", &listed);
    context.insert("page_url", &tag_meta.base_url);
    context.insert("tags_url", &tags_index_url(meta));
    templates.render_bytes("tag.html", &context)
}

pub(crate) fn tags_index_url(meta: &SiteMeta) -> String {
    format!("{}{TAGS_INDEX}", meta.base_url)
}

/// `tags/index.html`: every tag with its number of articles.
pub(crate) fn render_tags_index(
    meta: &SiteMeta,
    groups: &[(String, String, usize)],
    templates: &Templates,
) -> Result<Vec<u8>, TemplateError> {
    let listed: Vec<ListedTag> = (groups.iter())
        .map(|(name, slug, count)| ListedTag {
            name,
            url: tag_url(meta, slug),
            count: *count,
        })
        .collect();
    let mut context = Context::new();
    context.insert("site", meta);
    context.insert("tags", &listed);
    context.insert("page_url", &tags_index_url(meta));
    templates.render_bytes("tags.html", &context)
}

/// The path of each output of a tag, by slug.
pub(crate) fn tag_paths(slug: &str) -> impl Iterator<Item = (TagOutput, String)> + '_ {
    TagOutput::ALL
        .into_iter()
        .map(move |output| (output, tag_output_path(slug, output.file_name())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_that_share_a_slug_are_one_tag_named_by_the_newest() {
        let tags: Vec<Vec<String>> = vec![
            vec!["ai".into(), "晶片".into()],
            vec!["AI".into()],
            vec!["晶片".into(), "晶片".into()],
        ];
        let (groups, shared) = tag_groups(tags.iter().map(Vec::as_slice));
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (
                groups[0].name.as_str(),
                groups[0].slug.as_str(),
                &groups[0].members[..]
            ),
            ("ai", "ai", &[0, 1][..])
        );
        assert_eq!(&groups[1].members[..], &[0, 2]);
        assert_eq!(
            shared,
            [("ai".to_string(), vec!["ai".to_string(), "AI".to_string()])]
        );
    }
}
