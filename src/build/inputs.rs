//! What a build compares with the last complete build's record, and what it records.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::report::{BuildError, BuildReport};
use crate::build::output::WriteSummary;
use crate::build::record::{BuildMemo, MemoSummary, SnapshotEntry, outputs_print};
use crate::config::Config;
use crate::content::catalog::{Changes, Entry, SeedListing, SeedsPrint};
use crate::content::edition::{Edition, Schedule, Week};
use crate::render::digest::EditionListing;
use crate::render::paths::{
    ATOM_FEED, INDEX_PAGE, JSON_FEED, NEWSLETTER_INDEX, OUTPUT_DIRS, RSS_FEED, TAGS_DIR,
};

use crate::store::State;
use crate::support::stamp::{FileVersion, StampClock, StatPrint};

/// The outputs rendered on every build (and written when their bytes changed).
pub(super) const REWRITTEN: [&str; 5] =
    [INDEX_PAGE, RSS_FEED, ATOM_FEED, JSON_FEED, NEWSLETTER_INDEX];

/// The output folder's stamps as the record keeps them ([`outputs_print`]).
pub(super) fn output_stamps(root: &Path) -> StatPrint {
    outputs_print(root, &OUTPUT_DIRS, &[TAGS_DIR], &REWRITTEN)
}

/// What a build compares with the last complete build's record ([`crate::build::record`]).
pub(super) struct BuildInputs {
    pub(super) settings: String,
    pub(super) seeds: SeedsPrint,
    /// Every seed's name and version, for the record's snapshot.
    pub(super) manifest: Vec<(String, Option<FileVersion>)>,
    /// The seeds folder's own version (see [`BuildMemo::seeds_folder`]).
    pub(super) seeds_folder: Option<FileVersion>,
}

impl BuildInputs {
    /// `None` where seeds have no stat keys: such a build is never recorded.
    pub(super) fn of(settings: String, listing: &SeedListing) -> Option<BuildInputs> {
        let seeds = listing.seeds_print()?;
        let manifest = listing
            .manifest()
            .map(|(name, version)| (name.to_string(), version))
            .collect();
        Some(BuildInputs {
            settings,
            seeds,
            manifest,
            seeds_folder: listing.folder,
        })
    }

    /// Saves the record of a build from these inputs that wrote everything; as not
    /// settled if a stamp it covers is from this very clock
    /// tick (and could hide a change made right after).
    pub(super) fn save_record(
        self,
        state: &State,
        summary: MemoSummary,
        valid_until: DateTime<Utc>,
        snapshot: &str,
        root: &Path,
        now: DateTime<Utc>,
    ) -> Result<(), BuildError> {
        // Read before the stamps: a change made after it gets a later stamp.
        let clock = StampClock::read_for(root);
        let outputs = output_stamps(root);
        let settled = self.seeds.settled && outputs.is_settled(clock);
        let unsettled_folders = outputs.unsettled_folders(clock);
        let memo = BuildMemo {
            settings: self.settings,
            seeds: self.seeds.fingerprint,
            outputs: outputs.fingerprint,
            valid_from: now,
            valid_until,
            summary,
            settled,
            unsettled_folders,
            seeds_folder: self
                .seeds_folder
                .map_or_else(String::new, |v| v.to_string()),
        };
        state.save_build_memo(Some((&memo.to_stored(), snapshot)))?;
        Ok(())
    }
}

/// What the record's snapshot keeps of `entry`, whose page has fingerprint `page`
/// (shared, as the snapshot's entries are).
pub(super) fn snapshot_entry(entry: &Entry, article: &str) -> Arc<SnapshotEntry> {
    Arc::new(SnapshotEntry {
        id: entry.article.id.clone(),
        title: entry.article.title.clone(),
        published: entry.published.timestamp(),
        first_seen: entry.first_seen.timestamp(),
        article: article.to_string(),
        has_column_intro: entry.article.has_column_intro,
        tags: entry.article.tags.clone(),
    })
}

/// Each listed edition's week and subject, for the record's snapshot.
pub(super) fn subjects(listings: &[EditionListing]) -> Vec<(String, String)> {
    listings
        .iter()
        .map(|l| (l.edition.key.clone(), l.subject.clone()))
        .collect()
}

/// The first instant after `now` at which the clock alone changes the outputs: a
/// scheduled article (publication times `scheduled`, Unix seconds) is published,
/// or an edition with articles falls due (its web page appears).
pub(super) fn valid_until(
    scheduled: impl Iterator<Item = i64>,
    editions: &BTreeMap<Week, Edition>,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let scheduled = scheduled.filter_map(|at| Utc.timestamp_opt(at, 0).single());
    let editions = editions
        .values()
        .filter(|e| !e.articles.is_empty() && e.frozen_at.is_none())
        .map(|e| schedule.due(e.week));
    scheduled
        .chain(editions)
        .filter(|at| *at > now)
        .min()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What a build that found nothing to do reports: what the recorded build found,
/// with every article and file unchanged.
pub(super) fn memo_report(memo: &BuildMemo, config: &Config) -> BuildReport {
    let summary = &memo.summary;
    BuildReport {
        changes: Changes {
            unchanged: summary.published,
            ..Changes::default()
        },
        published: summary.published,
        problems: summary.problems.clone(),
        warnings: Vec::new(),
        scheduled: recorded_schedule(summary, config),
        files: WriteSummary {
            unchanged: summary.files,
            ..WriteSummary::default()
        },
    }
}

/// The articles the recorded build held back, with their publication times.
pub(super) fn recorded_schedule(
    summary: &MemoSummary,
    config: &Config,
) -> Vec<(String, DateTime<Tz>)> {
    summary
        .scheduled
        .iter()
        .filter_map(|(id, at)| {
            let at = config.site.timezone.timestamp_opt(*at, 0).single()?;
            Some((id.clone(), at))
        })
        .collect()
}
