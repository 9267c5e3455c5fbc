//! The `build` and `check` commands: seeds → catalog → rendered outputs → `public/`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, CatalogError, Changes, collect};
use crate::config::Config;
use crate::digest::{Digest, DigestError, NEWSLETTER_DIR, render_archive, render_digest};
use crate::edition::{Edition, Schedule, Week, assign_editions};
use crate::feeds::{FeedError, render_atom, render_json_feed, render_rss};
use crate::message::{Envelope, MessageError, compose, deterministic_message_id, parse_mailbox};
use crate::output::{OutputFile, WriteError, WriteSummary, delete_stale, write_all};
use crate::seed::SeedError;
use crate::site::{ARTICLES_DIR, PreparedArticle, SiteMeta, prepare, render_pages};
use crate::state::{State, StateError};
use crate::templates::{TemplateError, Templates};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("cannot write the preview into {path}: {source}")]
    Preview {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a build (or a check) found and did.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub changes: Changes,
    pub published: usize,
    pub problems: Vec<SeedError>,
    pub scheduled: Vec<(String, DateTime<Tz>)>,
    pub files: WriteSummary,
    pub template_overrides: Vec<String>,
}

impl BuildReport {
    /// True when every seed was published (cron should stay quiet).
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Everything a build would write, computed without touching the output folder.
pub struct Plan {
    pub catalog: Catalog,
    pub meta: SiteMeta,
    pub files: Vec<OutputFile>,
    pub template_overrides: Vec<String>,
}

/// The catalog with every article prepared for rendering: the common first half of
/// `build`, `check` and `digest`.
pub struct Prepared {
    pub catalog: Catalog,
    pub meta: SiteMeta,
    pub articles: Vec<PreparedArticle>,
    pub templates: Templates,
    pub editions: BTreeMap<Week, Edition>,
    pub schedule: Schedule,
}

impl Prepared {
    pub fn load(
        config: &Config,
        state: &State,
        now: DateTime<Utc>,
    ) -> Result<Prepared, BuildError> {
        let templates = Templates::load(&config.paths.templates)?;
        let known = state.articles()?;
        let catalog = collect(config, &known, now)?;
        let meta = SiteMeta::new(config, catalog.column_intro());
        let articles = prepare(&meta, &catalog.entries, &templates)?;
        let schedule = schedule(config);
        let editions = assign_editions(&catalog.entries, &state.frozen_editions()?, &schedule);
        Ok(Prepared {
            catalog,
            meta,
            articles,
            templates,
            editions,
            schedule,
        })
    }

    /// The articles of one edition, newest first (empty for a week with none).
    pub fn edition_articles(&self, week: Week) -> Vec<&PreparedArticle> {
        self.editions
            .get(&week)
            .map(|e| e.articles.iter().map(|&i| &self.articles[i]).collect())
            .unwrap_or_default()
    }

    /// Renders one edition's digest; `None` when it has no articles and
    /// `newsletter.skip_empty` is on.
    pub fn digest(&self, config: &Config, week: Week) -> Result<Option<Digest>, BuildError> {
        let articles = self.edition_articles(week);
        if articles.is_empty() && config.newsletter.skip_empty {
            return Ok(None);
        }
        Ok(Some(render_digest(
            config,
            &self.meta,
            week,
            &articles,
            &self.templates,
        )?))
    }
}

/// When editions fall due, from `[newsletter]`.
pub fn schedule(config: &Config) -> Schedule {
    Schedule {
        tz: config.timezone,
        weekday: config.send_weekday(),
        hour: config.newsletter.send_hour,
    }
}

/// Parses, reconciles and renders: the whole build short of writing.
pub fn plan(config: &Config, state: &State, now: DateTime<Utc>) -> Result<Plan, BuildError> {
    let prepared = Prepared::load(config, state, now)?;
    let Prepared {
        meta,
        articles,
        templates,
        ..
    } = &prepared;
    let mut files = render_pages(meta, articles, templates)?;
    let newest = &articles[..articles.len().min(config.site.feed_items)];
    files.push(OutputFile::new("feed.xml", render_rss(meta, newest)?));
    files.push(OutputFile::new("atom.xml", render_atom(meta, newest)?));
    files.push(OutputFile::new(
        "feed.json",
        render_json_feed(meta, newest)?,
    ));

    // The web archive: every edition that was sent, or is due and has articles.
    let mut digests = Vec::new();
    for edition in prepared.editions.values() {
        let published = edition.frozen_at.is_some() || prepared.schedule.due(edition.week) <= now;
        if published && let Some(digest) = prepared.digest(config, edition.week)? {
            digests.push((edition, digest));
        }
    }
    let pairs: Vec<(&Edition, &Digest)> = digests.iter().map(|(e, d)| (*e, d)).collect();
    files.extend(render_archive(meta, &pairs, templates)?);
    Ok(Plan {
        template_overrides: prepared.templates.overridden().to_vec(),
        meta: prepared.meta,
        catalog: prepared.catalog,
        files,
    })
}

fn report(plan: Plan, files: WriteSummary) -> BuildReport {
    BuildReport {
        published: plan.catalog.entries.len(),
        changes: plan.catalog.changes,
        problems: plan.catalog.problems,
        scheduled: plan.catalog.scheduled,
        files,
        template_overrides: plan.template_overrides,
    }
}

/// Builds the site and feeds into the output folder and records what was published.
///
/// Outputs are written before the state is saved: a crash in between leaves the
/// state as it was, and the next build redoes the same work.
pub fn build(config: &Config, now: DateTime<Utc>) -> Result<BuildReport, BuildError> {
    let mut state = State::open(&config.paths.state)?;
    let plan = plan(config, &state, now)?;
    let root = &config.paths.output;
    let leftovers = crate::output::clean_temp_files(root);
    if leftovers > 0 {
        tracing::warn!("removed {leftovers} temporary file(s) left by an interrupted build");
    }
    let mut summary = write_all(root, &plan.files)?;
    summary.deleted = delete_stale(root, ARTICLES_DIR, "html", &plan.files)?
        + delete_stale(root, NEWSLETTER_DIR, "html", &plan.files)?;
    state.save_articles(&plan.catalog.state_updates)?;
    Ok(report(plan, summary))
}

/// Everything `build` checks, without writing anything.
pub fn check(config: &Config, now: DateTime<Utc>) -> Result<BuildReport, BuildError> {
    let state = State::open_read_only(&config.paths.state)?;
    let plan = plan(config, &state, now)?;
    Ok(report(plan, WriteSummary::default()))
}

/// What `herald digest` wrote, or why it wrote nothing.
#[derive(Debug)]
pub enum DigestPreview {
    Written {
        week: Week,
        subject: String,
        articles: usize,
        html: PathBuf,
        text: PathBuf,
        eml: PathBuf,
    },
    Empty {
        week: Week,
    },
}

/// Placeholder recipient of previews.
pub const PREVIEW_RECIPIENT: &str = "讀者 <reader@example.com>";

/// Renders one edition (by default the latest one due) into `out` as `<week>.html`,
/// `<week>.txt` and `<week>.eml`, without sending or recording anything.
pub fn digest_preview(
    config: &Config,
    week: Option<Week>,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<DigestPreview, BuildError> {
    let state = State::open_read_only(&config.paths.state)?;
    let prepared = Prepared::load(config, &state, now)?;
    let week = week.unwrap_or_else(|| prepared.schedule.latest_due(now));
    let Some(digest) = prepared.digest(config, week)? else {
        return Ok(DigestPreview::Empty { week });
    };
    let from = parse_mailbox("newsletter.from", &config.newsletter.from)?;
    let reply_to = config
        .newsletter
        .reply_to
        .as_deref()
        .map(|r| parse_mailbox("newsletter.reply_to", r))
        .transpose()?;
    let to = parse_mailbox("preview recipient", PREVIEW_RECIPIENT)?;
    let (html, text) = digest.personalise(&format!("{}unsubscribe", prepared.meta.base_url));
    let message = compose(
        &digest.subject,
        Envelope {
            from: &from,
            reply_to: reply_to.as_ref(),
            message_id: deterministic_message_id(
                &week.to_string(),
                to.email.as_ref(),
                config.site_domain(),
            ),
            to,
            date: now.into(),
            list: None,
        },
        html.clone(),
        text.clone(),
    )?;
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Preview { path, source }
    };
    std::fs::create_dir_all(out).map_err(wrap(out))?;
    let paths = ["html", "txt", "eml"].map(|ext| out.join(format!("{week}.{ext}")));
    for (path, bytes) in
        paths
            .iter()
            .zip([html.into_bytes(), text.into_bytes(), message.formatted()])
    {
        crate::output::write_if_changed(path, &bytes)?;
    }
    let [html, text, eml] = paths;
    Ok(DigestPreview::Written {
        week,
        subject: digest.subject,
        articles: digest.article_ids.len(),
        html,
        text,
        eml,
    })
}
