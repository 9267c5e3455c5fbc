//! What a build or a check found and did, and why one could not finish.

use chrono::DateTime;
use chrono_tz::Tz;

use crate::build::output::{WriteError, WriteSummary};
use crate::content::catalog::{Catalog, CatalogError, Changes};
use crate::content::seed::SeedError;
use crate::render::digest::DigestError;
use crate::render::feeds::FeedError;
use crate::render::templates::TemplateError;
use crate::store::StateError;
use crate::support::parallel::drop_in_background;

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
    #[error(
        "the stored text of article `{id}` is not where the state says\n  hint: another Herald run may have written the state meanwhile: run this command again; if it fails again, the articles' texts beside the state file (herald.sqlite-bodies) are not the ones it was saved with: restore the two from the same backup"
    )]
    MissingBody { id: String },
}

/// What a build (or a check) found and did.
#[derive(Debug, Default)]
pub(crate) struct BuildReport {
    pub changes: Changes,
    pub published: usize,
    pub problems: Vec<SeedError>,
    /// Seeds published although their editor should fix something.
    pub warnings: Vec<SeedError>,
    pub scheduled: Vec<(String, DateTime<Tz>)>,
    pub files: WriteSummary,
}

impl BuildReport {
    /// True when every seed was published (cron should stay quiet).
    pub(crate) fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(super) fn report(catalog: Catalog, files: WriteSummary) -> BuildReport {
    let published = catalog.entries.len();
    drop_in_background(catalog.entries);
    BuildReport {
        published,
        changes: catalog.changes,
        problems: catalog.problems,
        warnings: catalog.warnings,
        scheduled: catalog.scheduled,
        files,
    }
}
