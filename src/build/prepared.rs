//! The catalog made ready for rendering, shared by every command that renders:
//! `build`, `check`, `digest`, `send` and the server's preview.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::BuildError;
use super::fingerprints::site_fingerprint;
use crate::article::Article;
use crate::config::{Config, DigestContent};
use crate::content::catalog::{Catalog, Entry, Streaming, Survey, collect};
use crate::content::edition::{Edition, Schedule, Week, assign_editions};
use crate::render::digest::{
    Digest, EditionListing, SUBJECT_TEMPLATE, edition_view, render_digest, render_edition_page,
    render_subject,
};
use crate::render::site::{PreparedArticle, SiteMeta, listed_article, listing_view, prepare_one};
use crate::render::templates::Templates;
use crate::store::bodies::BodyFile;
use crate::store::{BodyReader, RowSaver, State, StateError};

/// The catalog ready for rendering: the common first half of `build`, `check`,
/// `digest`, `send` and the server's preview. Article bodies are rendered on demand,
/// so a build that finds most pages current renders only what changed.
pub(crate) struct Prepared {
    pub catalog: Catalog,
    pub meta: SiteMeta,
    pub templates: Templates,
    pub editions: BTreeMap<Week, Edition>,
    pub schedule: Schedule,
    /// Everything every output depends on besides its own articles: templates,
    /// site values and the settings that shape pages, feeds and digests.
    pub site_fingerprint: String,
    /// Where the bodies of articles this run did not parse come from.
    pub(super) bodies: Option<BodyReader>,
    /// Where the bodies of articles this run parsed are, in a streamed build: the
    /// state's body file, open for this run.
    pub(super) written: Option<Arc<BodyFile>>,
}

impl Prepared {
    pub(crate) fn load(
        config: &Config,
        state: &State,
        now: DateTime<Utc>,
    ) -> Result<Prepared, BuildError> {
        let templates = load_templates(config)?;
        let survey = Survey::take(config, state)?;
        Prepared::from_survey(config, state, templates, survey, now, None)
    }

    /// With `streamed`, the articles parsed in this run go to the body file (and
    /// their rows to the saver) as they are read, and rendering reads them back
    /// from there; without, the catalog keeps them.
    pub(super) fn from_survey(
        config: &Config,
        state: &State,
        templates: Templates,
        survey: Survey,
        now: DateTime<Utc>,
        streamed: Option<(&RowSaver, Arc<BodyFile>)>,
    ) -> Result<Prepared, BuildError> {
        let (saver, written) = streamed.unzip();
        let streaming = saver
            .zip(written.as_deref())
            .map(|(saver, bodies)| Streaming { saver, bodies });
        let catalog = collect(config, state, survey, now, streaming)?;
        let bodies = state.body_reader()?;
        let column_intro = match catalog.column_intro_entry() {
            Some(index) => {
                full_article(&catalog.entries[index], bodies.as_ref(), written.as_deref())?
                    .column_intro
                    .clone()
            }
            None => None,
        };
        let meta = SiteMeta::new(config, column_intro.as_deref());
        let schedule = Schedule::of(config);
        let editions = assign_editions(&catalog.entries, &state.frozen_editions()?, &schedule);
        let site_fingerprint = site_fingerprint(config, &templates, &meta);
        Ok(Prepared {
            catalog,
            meta,
            templates,
            editions,
            schedule,
            site_fingerprint,
            bodies,
            written,
        })
    }

    /// Entry `index` with its view and rendered body.
    pub(crate) fn article(&self, index: usize) -> Result<PreparedArticle, BuildError> {
        let entry = &self.catalog.entries[index];
        let article = full_article(entry, self.bodies.as_ref(), self.written.as_deref())?;
        Ok(prepare_one(&self.meta, entry, &article, &self.templates)?)
    }

    /// Entry `index` as summary-only outputs show it: its view without the body
    /// ([`listing_view`]). Taken from the head, so the body is not loaded, unless
    /// the head was stored before heads carried the listing details.
    pub(super) fn listing(&self, index: usize) -> Result<PreparedArticle, BuildError> {
        let entry = &self.catalog.entries[index];
        let view = match &entry.article.listing {
            Some(details) => listing_view(&self.meta, entry, details),
            None => {
                let article = full_article(entry, self.bodies.as_ref(), self.written.as_deref())?;
                listing_view(&self.meta, entry, &article.listing_details())
            }
        };
        Ok(PreparedArticle {
            entry: entry.clone(),
            view,
            content_html: String::new(),
            view_value: None,
        })
    }

    /// The line of the newsletter index for `edition`, whose lead is in the catalog.
    pub(super) fn edition_listing(
        &self,
        config: &Config,
        edition: &Edition,
    ) -> Result<EditionListing, BuildError> {
        let lead = edition
            .articles
            .first()
            .map(|&i| listed_article(&self.meta, &self.catalog.entries[i]));
        let view = edition_view(&self.meta, edition.week, edition.articles.len());
        let subject = render_subject(config, &self.meta, &view, lead.as_ref(), &self.templates)?;
        Ok(EditionListing {
            edition: view,
            subject,
        })
    }

    /// The articles of one edition, newest first (empty for a week with none): whole
    /// when the digest carries them, else as summary-only outputs show them.
    fn edition_articles(
        &self,
        config: &Config,
        week: Week,
    ) -> Result<Vec<PreparedArticle>, BuildError> {
        let Some(edition) = self.editions.get(&week) else {
            return Ok(Vec::new());
        };
        let articles = edition.articles.iter();
        match config.newsletter.content {
            DigestContent::Full => articles.map(|&i| self.article(i)).collect(),
            DigestContent::Summary => articles.map(|&i| self.listing(i)).collect(),
        }
    }

    /// The web page of one edition.
    pub(super) fn edition_page(&self, config: &Config, week: Week) -> Result<String, BuildError> {
        let articles = self.edition_articles(config, week)?;
        let refs: Vec<&PreparedArticle> = articles.iter().collect();
        Ok(render_edition_page(
            config,
            &self.meta,
            week,
            &refs,
            &self.templates,
        )?)
    }

    /// Renders one edition's digest; `None` when it has no articles and
    /// `newsletter.skip_empty` is on.
    pub(crate) fn digest(&self, config: &Config, week: Week) -> Result<Option<Digest>, BuildError> {
        let articles = self.edition_articles(config, week)?;
        if articles.is_empty() && config.newsletter.skip_empty {
            return Ok(None);
        }
        let refs: Vec<&PreparedArticle> = articles.iter().collect();
        Ok(Some(render_digest(
            config,
            &self.meta,
            week,
            &refs,
            &self.templates,
        )?))
    }

    /// Editions with a web page: sent, or due and not empty.
    pub(super) fn published_editions(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Edition> {
        self.editions
            .values()
            .filter(move |e| has_web_page(e, &self.schedule, now))
    }
}

/// Whether `edition` has a web page at `now`: sent, or due and not empty.
pub(super) fn has_web_page(edition: &Edition, schedule: &Schedule, now: DateTime<Utc>) -> bool {
    !edition.articles.is_empty()
        && (edition.frozen_at.is_some() || schedule.due(edition.week) <= now)
}

/// The templates (overrides from `paths.templates`) with the newsletter subject.
pub(super) fn load_templates(config: &Config) -> Result<Templates, BuildError> {
    let mut templates = Templates::load(&config.paths.templates)?;
    templates.add(SUBJECT_TEMPLATE, &config.newsletter.subject)?;
    Ok(templates)
}

/// The whole article of `entry`: parsed in this run (kept, or written to the body
/// file `written`), or the stored version.
fn full_article(
    entry: &Entry,
    bodies: Option<&BodyReader>,
    written: Option<&BodyFile>,
) -> Result<Arc<Article>, BuildError> {
    if let Some(full) = &entry.full {
        return Ok(Arc::clone(full));
    }
    let id = &entry.article.id;
    // Read back from where this run wrote it, without asking the state where that is.
    let json = match (entry.written.zip(written), bodies) {
        (Some((place, file)), _) => {
            file.read(place, id, &entry.source_hash)
                .map_err(|source| StateError::Bodies {
                    path: file.path().to_path_buf(),
                    source,
                })?
        }
        (None, Some(reader)) => reader.article_json(id, &entry.source_hash)?,
        (None, None) => None,
    };
    json.and_then(|json| serde_json::from_str(&json).ok())
        .map(Arc::new)
        .ok_or_else(|| BuildError::MissingBody {
            id: entry.article.id.clone(),
        })
}
