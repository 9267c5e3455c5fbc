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
        "the stored text of article `{id}` changed while this run was using it\n  hint: another Herald run wrote the state at the same time; run this command again"
    )]
    MissingBody { id: String },
    #[error(
        "cannot set article texts aside in a temporary file in {}: {source}\n  hint: a full build needs about the seeds' size free there (the state file's folder); check that it is writable and has free space",
        dir.display()
    )]
    Spill {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
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
