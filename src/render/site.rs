//! [`Entry`]s → the static site (index and one page per article), plus the
//! per-article view that the feeds and the newsletter reuse.

use chrono::{DateTime, Datelike, SecondsFormat};
use chrono_tz::Tz;
use serde::Serialize;
use tera::Context;

use crate::article::{Article, ListingDetails};
use crate::config::Config;
use crate::content::catalog::Entry;
use crate::render::paths::{
    ATOM_FEED, JSON_FEED, RSS_FEED, archive_page_path, article_page_path, tag_page_url, tag_slug,
};
use crate::render::templates::{TemplateError, Templates};

/// Site-wide values every template and feed sees.
#[derive(Debug, Clone, Serialize)]
pub struct SiteMeta {
    pub title: String,
    pub description: String,
    pub base_url: String,
    pub language: String,
    pub author: String,
    pub feed_rss: String,
    pub feed_atom: String,
    pub feed_json: String,
    pub newsletter_url: String,
    /// The WebSub hubs every feed names (`websub.hub`).
    pub hubs: Vec<String>,
}

impl SiteMeta {
    pub fn new(config: &Config, column_intro: Option<&str>) -> SiteMeta {
        let base = config.site.base_url.clone();
        let description = column_intro
            .map(str::to_string)
            .filter(|d| !d.is_empty())
            .or_else(|| Some(config.site.description.clone()).filter(|d| !d.is_empty()))
            .unwrap_or_else(|| config.site.title.clone());
        SiteMeta {
            title: config.site.title.clone(),
            description,
            language: config.site.language.clone(),
            author: config.site.author.clone(),
            feed_rss: format!("{base}{RSS_FEED}"),
            feed_atom: format!("{base}{ATOM_FEED}"),
            feed_json: format!("{base}{JSON_FEED}"),
            newsletter_url: format!("{base}newsletter/"),
            hubs: config.websub.hub.clone(),
            base_url: base,
        }
    }

    pub(crate) fn article_url(&self, id: &str) -> String {
        format!("{}{}", self.base_url, article_page_path(id))
    }
}

/// An article as templates see it: text plus derived URLs and formatted dates.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleView {
    pub id: String,
    pub title: String,
    pub url: String,
    /// The publication day in the site timezone, written as the site's language
    /// writes dates ([`date_label`]); `published_iso` is the machine form.
    pub date: String,
    pub published_iso: String,
    pub updated_iso: String,
    pub author: String,
    pub tags: Vec<String>,
    /// Each tag with the URL of its page.
    pub tag_links: Vec<TagLink>,
    pub summary: String,
    pub summary_short: String,
    pub link: Option<String>,
    pub intro: Vec<String>,
    pub sections: Vec<SectionView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TagLink {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionView {
    pub heading: String,
    /// False for the first heading when it is the title (shown as `<h1>` instead).
    pub show_heading: bool,
    pub paragraphs: Vec<String>,
}

/// An entry ready for any output: its view and its rendered HTML body.
#[derive(Debug, Clone)]
pub struct PreparedArticle {
    pub entry: Entry,
    pub view: ArticleView,
    /// The article body as an HTML fragment (from `content.html`); all URLs absolute.
    /// Empty when it was prepared for a summary-only output
    /// ([`listing_view`]: `view` has no `intro` and `sections` either).
    pub content_html: String,
    /// `view` as templates see it, converted once for `content.html` and
    /// `article.html` (`None` for a listing view, which has no page of its own).
    pub(crate) view_value: Option<tera::Value>,
}

/// A day as readers of `language` (a BCP 47 tag) write it: `2026 年 1 月 21 日` in
/// Chinese and Japanese, `2026년 1월 21일` in Korean, `21 January 2026` otherwise.
/// Pages, feeds' HTML and the e-mail all show this one style.
pub(crate) fn date_label(day: chrono::NaiveDate, language: &str) -> String {
    use chrono::Datelike;
    let primary = language
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let (y, m, d) = (day.year(), day.month(), day.day());
    match primary.as_str() {
        "zh" | "ja" => format!("{y} 年 {m} 月 {d} 日"),
        "ko" => format!("{y}년 {m}월 {d}일"),
        _ => format!("{d} {} {y}", day.format("%B")),
    }
}

fn iso(t: &chrono::DateTime<Tz>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The view of `entry`, whose whole article is `a`: what the index lists of it
/// ([`listed_article`], from the head) plus the article's own text.
pub(crate) fn article_view(meta: &SiteMeta, entry: &Entry, a: &Article) -> ArticleView {
    ArticleView {
        intro: a.intro.clone(),
        sections: a
            .body_sections()
            .map(|(show_heading, s)| SectionView {
                heading: s.heading.clone(),
                show_heading,
                paragraphs: s.paragraphs.clone(),
            })
            .collect(),
        ..listing_view(meta, entry, &a.listing_details())
    }
}

/// The view of `entry` without its body (`intro` and `sections` empty): what
/// summary-only outputs show, from the head and `details`.
pub(crate) fn listing_view(
    meta: &SiteMeta,
    entry: &Entry,
    details: &ListingDetails,
) -> ArticleView {
    let ListedArticle {
        id,
        title,
        url,
        date,
        published_iso,
        summary_short,
    } = listed_article(meta, entry);
    let tags = &entry.article.tags;
    ArticleView {
        id,
        title,
        url,
        date,
        published_iso,
        updated_iso: iso(&entry.updated),
        author: details
            .author
            .clone()
            .unwrap_or_else(|| meta.author.clone()),
        tags: tags.clone(),
        tag_links: (tags.iter())
            .map(|tag| TagLink {
                name: tag.clone(),
                url: tag_page_url(&meta.base_url, &tag_slug(tag)),
            })
            .collect(),
        summary: details.summary.clone(),
        summary_short,
        link: details.link.clone(),
        intro: Vec::new(),
        sections: Vec::new(),
    }
}

fn base_context(meta: &SiteMeta) -> Context {
    let mut context = Context::new();
    context.insert("site", meta);
    context
}

/// An article's body as an HTML fragment (`content.html`), with all URLs absolute.
/// `article` is the view as a template value.
fn render_content(
    meta: &SiteMeta,
    article: tera::Value,
    templates: &Templates,
) -> Result<String, TemplateError> {
    let mut context = base_context(meta);
    context.insert_value("article", article);
    templates.render("content.html", &context)
}

/// The view and rendered body of one entry, whose whole article is `article`.
pub fn prepare_one(
    meta: &SiteMeta,
    entry: &Entry,
    article: &Article,
    templates: &Templates,
) -> Result<PreparedArticle, TemplateError> {
    let view = article_view(meta, entry, article);
    let view_value = tera::Value::from_serializable(&view);
    let content_html = render_content(meta, view_value.clone(), templates)?;
    Ok(PreparedArticle {
        entry: entry.clone(),
        view,
        content_html,
        view_value: Some(view_value),
    })
}

/// What the index lists of each article: enough for a list, not the whole text.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListedArticle {
    pub id: String,
    pub title: String,
    pub url: String,
    pub date: String,
    pub published_iso: String,
    pub summary_short: String,
}

pub(crate) fn listed_article(meta: &SiteMeta, entry: &Entry) -> ListedArticle {
    let a = &entry.article;
    ListedArticle {
        id: a.id.clone(),
        title: a.title.clone(),
        url: meta.article_url(&a.id),
        date: date_label(entry.published.date_naive(), &meta.language),
        published_iso: iso(&entry.published),
        summary_short: a.summary_short.clone(),
    }
}

/// A year that has an archive page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveYear {
    pub year: i32,
    pub url: String,
}

/// The years of `entries` (newest first, as the catalog orders them), each with the
/// range of entries published in it (in the site timezone).
pub(crate) fn archive_years(
    meta: &SiteMeta,
    entries: &[Entry],
) -> Vec<(ArchiveYear, std::ops::Range<usize>)> {
    archive_years_of(meta, entries.iter().map(|e| e.published))
}

/// [`archive_years`] of articles given by their publication times, newest first.
pub(crate) fn archive_years_of(
    meta: &SiteMeta,
    published: impl IntoIterator<Item = DateTime<Tz>>,
) -> Vec<(ArchiveYear, std::ops::Range<usize>)> {
    let mut years: Vec<(ArchiveYear, std::ops::Range<usize>)> = Vec::new();
    for (index, published) in published.into_iter().enumerate() {
        let year = published.year();
        match years.last_mut() {
            Some((last, range)) if last.year == year => range.end = index + 1,
            _ => years.push((
                ArchiveYear {
                    year,
                    url: format!("{}{}", meta.base_url, archive_page_path(year)),
                },
                index..index + 1,
            )),
        }
    }
    years
}

fn listing_context(
    meta: &SiteMeta,
    entries: &[Entry],
    years: &[ArchiveYear],
    year: Option<i32>,
) -> Context {
    let mut context = base_context(meta);
    let listed: Vec<ListedArticle> = entries.iter().map(|e| listed_article(meta, e)).collect();
    context.insert("articles", &listed);
    context.insert("years", years);
    context.insert("year", &year);
    let page_url = match year {
        Some(year) => format!("{}{}", meta.base_url, archive_page_path(year)),
        None => meta.base_url.clone(),
    };
    context.insert("page_url", &page_url);
    context
}

/// `index.html`: the newest articles (`entries`), and links to every year's archive.
pub fn render_index(
    meta: &SiteMeta,
    entries: &[Entry],
    years: &[ArchiveYear],
    templates: &Templates,
) -> Result<Vec<u8>, TemplateError> {
    templates.render_bytes("index.html", &listing_context(meta, entries, years, None))
}

/// `archive/<year>.html`: every article of `year` (`entries`), newest first.
pub(crate) fn render_archive_page(
    meta: &SiteMeta,
    year: i32,
    entries: &[Entry],
    years: &[ArchiveYear],
    templates: &Templates,
) -> Result<Vec<u8>, TemplateError> {
    templates.render_bytes(
        "archive.html",
        &listing_context(meta, entries, years, Some(year)),
    )
}

/// An article next to another in publication order, as its page links to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    pub title: String,
    pub url: String,
}

/// The articles published just before and just after one: its page links to both,
/// so a reader can walk the column in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Neighbours {
    pub older: Option<Neighbour>,
    pub newer: Option<Neighbour>,
}

impl Neighbours {
    /// The neighbours of position `index` in a list ordered newest first, each
    /// given as `(id, title)` by `at`.
    pub fn of<'a>(
        meta: &SiteMeta,
        index: usize,
        len: usize,
        at: impl Fn(usize) -> (&'a str, &'a str),
    ) -> Neighbours {
        let link = |i: usize| {
            let (id, title) = at(i);
            Neighbour {
                title: title.to_string(),
                url: meta.article_url(id),
            }
        };
        Neighbours {
            older: (index + 1 < len).then(|| link(index + 1)),
            newer: index.checked_sub(1).map(link),
        }
    }
}

/// One article's page, linking to its `neighbours`.
pub fn render_article_page(
    meta: &SiteMeta,
    article: &PreparedArticle,
    neighbours: &Neighbours,
    templates: &Templates,
) -> Result<Vec<u8>, TemplateError> {
    let mut context = base_context(meta);
    context.insert("page_url", &article.view.url);
    match &article.view_value {
        Some(value) => context.insert_value("article", value.clone()),
        None => context.insert("article", &article.view),
    }
    context.insert("neighbours", neighbours);
    context.insert("content", &article.content_html);
    templates.render_bytes("article.html", &context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_the_site_language() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 21).unwrap();
        assert_eq!(date_label(day, "zh-TW"), "2026 年 1 月 21 日");
        assert_eq!(date_label(day, "ja"), "2026 年 1 月 21 日");
        assert_eq!(date_label(day, "ko-KR"), "2026년 1월 21일");
        assert_eq!(date_label(day, "en-GB"), "21 January 2026");
    }
}
