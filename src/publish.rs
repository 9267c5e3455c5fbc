//! The `build` and `check` commands: seeds → catalog → rendered outputs → `public/`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::catalog::{Catalog, CatalogError, Changes, collect};
use crate::config::Config;
use crate::feeds::{FeedError, render_atom, render_json_feed, render_rss};
use crate::output::{OutputFile, WriteError, WriteSummary, delete_stale, write_all};
use crate::seed::SeedError;
use crate::site::{ARTICLES_DIR, SiteMeta, prepare, render_pages};
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

/// Parses, reconciles and renders: the whole build short of writing.
pub fn plan(config: &Config, state: &State, now: DateTime<Utc>) -> Result<Plan, BuildError> {
    let templates = Templates::load(&config.paths.templates)?;
    let known = state.articles()?;
    let catalog = collect(config, &known, now)?;
    let meta = SiteMeta::new(config, catalog.column_intro());
    let prepared = prepare(&meta, &catalog.entries, &templates)?;
    let mut files = render_pages(&meta, &prepared, &templates)?;
    let newest = &prepared[..prepared.len().min(config.site.feed_items)];
    files.push(OutputFile::new("feed.xml", render_rss(&meta, newest)?));
    files.push(OutputFile::new("atom.xml", render_atom(&meta, newest)?));
    files.push(OutputFile::new(
        "feed.json",
        render_json_feed(&meta, newest)?,
    ));
    Ok(Plan {
        catalog,
        meta,
        files,
        template_overrides: templates.overridden().to_vec(),
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
    let mut summary = write_all(root, &plan.files)?;
    summary.deleted = delete_stale(root, ARTICLES_DIR, "html", &plan.files)?;
    state.save_articles(&plan.catalog.state_updates)?;
    Ok(report(plan, summary))
}

/// Everything `build` checks, without writing anything.
pub fn check(config: &Config, now: DateTime<Utc>) -> Result<BuildReport, BuildError> {
    let state = State::open_read_only(&config.paths.state)?;
    let plan = plan(config, &state, now)?;
    Ok(report(plan, WriteSummary::default()))
}
