//! An [`Edition`](crate::content::edition::Edition) → the weekly digest: subject, inlined-CSS HTML, plain text, and
//! the web archive pages.
//!
//! The digest is rendered once per edition, not per subscriber: the unsubscribe
//! link is rendered as [`UNSUBSCRIBE_PLACEHOLDER`] and each recipient's URL is put in
//! by [`Digest::personalise`]. The placeholder is a plain ASCII URL, so neither
//! escaping nor CSS inlining can alter it.

use serde::Serialize;
use tera::Context;

use crate::article::shorten;
use crate::config::{Config, DigestContent};
use crate::content::edition::Week;
use crate::render::paths::edition_page_path;
use crate::render::site::{ArticleView, ListedArticle, PreparedArticle, SiteMeta, listed_article};
use crate::render::templates::{TemplateError, Templates, escape_html};

/// Name under which `newsletter.subject` is registered with the templates.
pub(crate) const SUBJECT_TEMPLATE: &str = "newsletter.subject";

/// Rendered where the per-recipient unsubscribe URL goes.
pub(crate) const UNSUBSCRIBE_PLACEHOLDER: &str = "https://unsubscribe.herald.invalid/placeholder";
/// Gmail clips messages whose HTML is larger than about 102 KB.
pub(crate) const GMAIL_CLIP_BYTES: usize = 100 * 1024;
const PREHEADER_GRAPHEMES: usize = 90;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(
        "digest.html: cannot inline its CSS: {0}\n  hint: check the <style> block of templates/digest.html"
    )]
    Inline(String),
}

/// One edition's newsletter, ready to personalise and send.
#[derive(Debug, Clone)]
pub(crate) struct Digest {
    pub week: Week,
    pub subject: String,
    /// HTML with all CSS inlined; contains the unsubscribe placeholder.
    pub html: String,
    /// Plain-text part; contains the unsubscribe placeholder.
    pub text: String,
    /// Ids of the articles it carries, newest first.
    pub article_ids: Vec<String>,
}

impl Digest {
    /// The HTML and text parts with `unsubscribe_url` in place of the placeholder.
    pub(crate) fn personalise(&self, unsubscribe_url: &str) -> (String, String) {
        let (in_html, in_text) = unsubscribe_values(unsubscribe_url);
        (
            self.html.replace(UNSUBSCRIBE_PLACEHOLDER, &in_html),
            self.text.replace(UNSUBSCRIBE_PLACEHOLDER, in_text),
        )
    }
}

/// What takes the place of [`UNSUBSCRIBE_PLACEHOLDER`] in a digest's HTML and in its
/// text for `unsubscribe_url`.
pub(crate) fn unsubscribe_values(unsubscribe_url: &str) -> (String, &str) {
    (escape_html(unsubscribe_url), unsubscribe_url)
}

impl Digest {}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EditionView {
    pub key: String,
    pub year: i32,
    pub week: u32,
    /// Monday and Sunday, `YYYY-MM-DD`.
    pub start: String,
    pub end: String,
    /// Human label, e.g. `2026 年第 4 週（1/19–1/25）`.
    pub label: String,
    pub web_url: String,
    pub article_count: usize,
}

#[derive(Debug, Clone, Serialize)]
struct DigestArticle<'a> {
    #[serde(flatten)]
    view: &'a ArticleView,
    /// The full body as HTML, when `newsletter.content = "full"`.
    content: Option<&'a str>,
}

#[derive(Serialize)]
struct NewsletterMeta<'a> {
    title: &'a str,
    full_text: bool,
}

pub(crate) fn edition_web_url(meta: &SiteMeta, week: Week) -> String {
    format!("{}{}", meta.base_url, edition_page_path(week))
}

pub(crate) fn edition_view(meta: &SiteMeta, week: Week, article_count: usize) -> EditionView {
    let (monday, sunday) = (week.monday(), week.sunday());
    EditionView {
        key: week.to_string(),
        year: week.year,
        week: week.week,
        start: monday.format("%Y-%m-%d").to_string(),
        end: sunday.format("%Y-%m-%d").to_string(),
        label: format!(
            "{} 年第 {} 週（{}–{}）",
            week.year,
            week.week,
            monday.format("%-m/%-d"),
            sunday.format("%-m/%-d")
        ),
        web_url: edition_web_url(meta, week),
        article_count,
    }
}

/// Renders one edition. `articles` are the edition's articles, newest first,
/// prepared with their bodies when `newsletter.content = "full"`.
pub(crate) fn render_digest(
    config: &Config,
    meta: &SiteMeta,
    week: Week,
    articles: &[&PreparedArticle],
    templates: &Templates,
) -> Result<Digest, DigestError> {
    let (context, subject) = digest_context(config, meta, week, articles, templates)?;
    let html = templates.render("digest.html", &context)?;
    let html = inline_css(&html)?;
    if html.len() > GMAIL_CLIP_BYTES {
        tracing::warn!(
            "the {week} digest is {} KB of HTML; Gmail clips messages over about 100 KB (use newsletter.content = \"summary\")",
            html.len() / 1024
        );
    }
    let text = templates.render("digest.txt", &context)?;
    Ok(Digest {
        week,
        subject,
        html,
        text,
        article_ids: articles.iter().map(|a| a.view.id.clone()).collect(),
    })
}

/// The web version of an edition (the "view in browser" page): `digest.html` with
/// `web_page` set, so it is a public page: a `main` landmark, a description, a
/// subscribe link instead of an unsubscribe link (which needs a reader's token)
/// and no text meant for an inbox. Its CSS is left in the `<style>` block, which
/// browsers apply (inlining is for e-mail clients).
pub(crate) fn render_edition_page(
    config: &Config,
    meta: &SiteMeta,
    week: Week,
    articles: &[&PreparedArticle],
    templates: &Templates,
) -> Result<String, DigestError> {
    let (mut context, _) = digest_context(config, meta, week, articles, templates)?;
    context.insert("unsubscribe_url", &config.newsletter.unsubscribe_url);
    context.insert("web_page", &true);
    Ok(templates.render("digest.html", &context)?)
}

/// What `digest.html` and `digest.txt` are rendered with, and the subject.
fn digest_context(
    config: &Config,
    meta: &SiteMeta,
    week: Week,
    articles: &[&PreparedArticle],
    templates: &Templates,
) -> Result<(Context, String), TemplateError> {
    let full = config.newsletter.content == DigestContent::Full;
    let edition = edition_view(meta, week, articles.len());
    let items: Vec<DigestArticle> = articles
        .iter()
        .map(|a| DigestArticle {
            view: &a.view,
            content: full.then_some(a.content_html.as_str()),
        })
        .collect();
    let mut context = edition_context(config, meta, &edition);
    context.insert("articles", &items);
    let lead = items.first().map(|a| a.view);
    context.insert("lead", &lead);
    let subject = render_subject(
        config,
        meta,
        &edition,
        articles
            .first()
            .map(|a| listed_article(meta, &a.entry))
            .as_ref(),
        templates,
    )?;
    let preheader = items
        .first()
        .map(|a| shorten(&a.view.summary, PREHEADER_GRAPHEMES))
        .unwrap_or_default();
    context.insert("subject", &subject);
    context.insert("preheader", &preheader);
    context.insert("unsubscribe_url", UNSUBSCRIBE_PLACEHOLDER);
    context.insert("web_page", &false);
    Ok((context, subject))
}

/// What every edition template sees: `site`, `newsletter` and `edition`.
fn edition_context(config: &Config, meta: &SiteMeta, edition: &EditionView) -> Context {
    let mut context = Context::new();
    context.insert("site", meta);
    context.insert(
        "newsletter",
        &NewsletterMeta {
            title: &config.newsletter.title,
            full_text: config.newsletter.content == DigestContent::Full,
        },
    );
    context.insert("edition", edition);
    context
}

/// The subject line of an edition: `newsletter.subject` rendered with `newsletter`,
/// `edition` and `lead` (the newest article as the index lists it: no body, so the
/// archive index can show every edition's subject without loading any article),
/// collapsed to one line so no template can smuggle a line break into the header.
pub(crate) fn render_subject(
    config: &Config,
    meta: &SiteMeta,
    edition: &EditionView,
    lead: Option<&ListedArticle>,
    templates: &Templates,
) -> Result<String, TemplateError> {
    let mut context = edition_context(config, meta, edition);
    context.insert("lead", &lead);
    let subject = templates.render(SUBJECT_TEMPLATE, &context)?;
    Ok(subject.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Moves every CSS rule onto the elements it styles, as e-mail clients need; at-rules
/// (the dark-mode media query) stay in a `<style>` for the clients that honour them.
fn inline_css(html: &str) -> Result<String, DigestError> {
    let inliner = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .keep_style_tags(false)
        .keep_at_rules(true)
        .build();
    inliner
        .inline(html)
        .map_err(|e| DigestError::Inline(e.to_string()))
}

/// One line of the archive index.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EditionListing {
    #[serde(flatten)]
    pub edition: EditionView,
    pub subject: String,
}

/// `newsletter/index.html`: every published edition, newest first.
pub(crate) fn render_archive_index(
    meta: &SiteMeta,
    listings: &[EditionListing],
    templates: &Templates,
) -> Result<String, TemplateError> {
    let mut context = Context::new();
    context.insert("site", meta);
    context.insert("page_url", &meta.newsletter_url);
    context.insert("editions", listings);
    templates.render("newsletter_index.html", &context)
}
