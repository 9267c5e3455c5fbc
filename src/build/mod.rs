//! The `build` and `check` commands: seeds → catalog → rendered outputs → `public/`.

use chrono::{DateTime, Utc};

use crate::build::output::{WriteSummary, delete_stale, scan_outputs};
use crate::build::record::{BuildMemo, CatalogSnapshot, MemoSummary, settings_fingerprint};
use crate::config::Config;
use crate::content::catalog::{SeedListing, Survey};
use crate::render::paths::{OUTPUT_DIRS, OUTPUT_EXTENSIONS};

use crate::store::{RowSaver, State};
use crate::support::parallel::drop_in_background;
use crate::support::stamp::FileVersion;

use inputs::{BuildInputs, memo_report, output_stamps, snapshot_entry, subjects, valid_until};
use plan::{plan_all, render_outputs};
pub(crate) use prepared::Prepared;
use prepared::load_templates;
pub use report::BuildError;
pub(crate) use report::BuildReport;
use report::report;
use sink::Sink;

mod feed_bodies;
mod fingerprints;
mod incremental;
mod inputs;
pub(crate) mod output;
mod plan;
mod prepared;
pub(crate) mod record;
mod report;
mod sink;

/// Builds the site and feeds into the output folder and records what was published.
///
/// The article rows (what was parsed) are saved while the seeds are read, a batch at
/// a time on a thread of their own, and pages render from the texts this run wrote
/// to the state's body file, so a full build holds the catalog's heads but never
/// every article's text. The output
/// fingerprints (what was written) are saved only after every file is in place. A
/// crash in between leaves rows that are current and fingerprints that are not, so
/// the next build re-renders those pages from the stored articles: a page is never
/// recorded as current before it is written.
///
/// A build whose inputs, clock and outputs match the last complete build's record
/// ([`crate::build::record`]) stops after reading the seeds folder: it would change
/// nothing. One whose only change is a few added or edited seeds builds just what
/// they change ([`incremental`]); anything else gets the full build.
pub(crate) fn build(config: &Config, now: DateTime<Utc>) -> Result<BuildReport, BuildError> {
    let started = std::time::Instant::now();
    let listing = SeedListing::start(config);
    let mut state = State::open(&config.paths.state)?;
    let templates = load_templates(config)?;
    let root = &config.paths.output;
    let settings = settings_fingerprint(config, &templates, &state.frozen_editions()?);
    let memo = state.build_memo()?;
    let applying = (memo.as_ref().and_then(BuildMemo::from_stored))
        .filter(|memo| memo.applies(&settings, now));
    if memo.is_some() && applying.is_none() {
        // From here on outputs change: the record no longer describes them.
        state.save_build_memo(None)?;
    }
    let (templates, survey) = match applying {
        None => (templates, Survey::of_pending(listing, &state)?),
        Some(memo) => {
            // The record is read on a thread of its own. A build that may find
            // nothing changed never needs it, so it is read only once the seeds
            // are listed (the listing keeps every core busy: with the two side by
            // side such a build took 27 ms instead of 22 on 10,000 seeds). One
            // that will not (an unsettled record, or a seeds folder that gained or
            // lost a name) reads it while the seeds are listed (back-to-back builds
            // adding one article each: 50 ms, against 53 ms when read after).
            let start_reading =
                || incremental::recorded_reader(&state, root, &memo).map(std::thread::spawn);
            let seeds_folder = std::fs::metadata(&config.paths.seeds).ok();
            let seeds_folder = seeds_folder.as_ref().and_then(FileVersion::of);
            let seeds_moved = seeds_folder.is_none_or(|v| v.to_string() != memo.seeds_folder);
            let incremental = memo.summary.problems.is_empty();
            let reading = (incremental && (!memo.settled || seeds_moved))
                .then(start_reading)
                .transpose()?;
            let listing = listing.wait()?;
            let seeds = listing.seeds_print().filter(|seeds| seeds.settled);
            let outputs = output_stamps(root);
            if seeds.is_some_and(|seeds| memo.holds(&seeds.fingerprint, &outputs.fingerprint)) {
                tracing::debug!(
                    "nothing changed since the last build: outputs are current ({:?})",
                    started.elapsed()
                );
                drop_in_background(listing);
                return Ok(memo_report(&memo, config));
            }
            if !incremental {
                tracing::debug!("the last build found broken seeds: a full build");
                state.save_build_memo(None)?;
                (templates, Survey::of_listing(listing, &state)?)
            } else {
                // The reader takes the record's snapshot: started before the record
                // is deleted.
                let reading = match reading {
                    Some(reading) => reading,
                    None => start_reading()?,
                };
                state.save_build_memo(None)?;
                let recorded = reading.join().ok().flatten().map(|mut recorded| {
                    recorded.judge_by_stamps(outputs.fingerprint == memo.outputs);
                    recorded
                });
                let changed = incremental::build_changed(
                    config, &mut state, templates, &listing, &memo, recorded, now,
                )?;
                match changed {
                    incremental::Outcome::Built(report) => {
                        tracing::debug!("changed seeds built after {:?}", started.elapsed());
                        drop_in_background(listing);
                        return Ok(report);
                    }
                    incremental::Outcome::Declined(templates) => {
                        (*templates, Survey::of_listing(listing, &state)?)
                    }
                }
            }
        }
    };
    let inputs = BuildInputs::of(settings, survey.listing());
    let bodies = state.open_body_file()?;
    let mut saver = RowSaver::start(&config.paths.state, std::sync::Arc::clone(&bodies));
    let streamed = Some((&saver, bodies));
    let prepared = match Prepared::from_survey(config, &state, templates, survey, now, streamed) {
        Ok(prepared) => prepared,
        Err(error) => {
            saver.abandon();
            return Err(error);
        }
    };
    // Every row is in the saver's hands: it commits while the pages render.
    saver.seal();
    tracing::debug!(
        "catalog of {} articles ready after {:?}",
        prepared.catalog.entries.len(),
        started.elapsed()
    );
    let listing = scan_outputs(root, &OUTPUT_DIRS);
    if listing.temp_files_removed > 0 {
        tracing::warn!(
            "removed {} temporary file(s) left by an interrupted build",
            listing.temp_files_removed
        );
    }
    let mut sink = Sink::writer(root, state.output_fingerprints()?, listing.files);
    // The rows are saved while the pages render: what was parsed is right whether or
    // not the pages get written.
    let rendered = plan_all(config, &prepared, &mut sink, now).and_then(|planned| {
        render_outputs(config, &prepared, &mut sink, &planned.0)?;
        Ok(planned)
    });
    tracing::debug!("pages rendered after {:?}", started.elapsed());
    saver.finish()?;
    let (plan, fingerprints) = rendered?;
    tracing::debug!("outputs rendered after {:?}", started.elapsed());
    sink.summary.deleted = delete_stale(root, &sink.unclaimed, &OUTPUT_EXTENSIONS)?;
    if !sink.changed.is_empty() || !sink.previous.is_empty() {
        state.save_outputs(&sink.changed, sink.previous.keys().map(String::as_str))?;
    }
    if let Some(mut inputs) = inputs {
        let catalog = &prepared.catalog;
        let summary = MemoSummary {
            published: catalog.entries.len(),
            scheduled: catalog
                .scheduled
                .iter()
                .map(|(id, at)| (id.clone(), at.timestamp()))
                .collect(),
            files: sink.summary.written + sink.summary.unchanged,
            problems: catalog.problems.clone(),
        };
        let until = valid_until(
            catalog.scheduled.iter().map(|(_, at)| at.timestamp()),
            &prepared.editions,
            &prepared.schedule,
            now,
        );
        let entries = catalog.entries.iter().zip(&fingerprints);
        let snapshot = CatalogSnapshot {
            site: prepared.site_fingerprint.clone(),
            seeds: std::mem::take(&mut inputs.manifest),
            entries: entries.map(|(e, page)| snapshot_entry(e, page)).collect(),
            subjects: subjects(&plan.listings),
        };
        let snapshot = state.snapshot_saver().save(&snapshot.encode())?;
        inputs.save_record(&state, summary, until, &snapshot, root, now)?;
    }
    tracing::debug!("state saved after {:?}", started.elapsed());
    drop_in_background((sink.previous, sink.unclaimed));
    Ok(report(prepared.catalog, sink.summary))
}

/// Everything `build` checks, rendering every output, without writing anything.
pub(crate) fn check(config: &Config, now: DateTime<Utc>) -> Result<BuildReport, BuildError> {
    let state = State::open_read_only(&config.paths.state)?;
    let prepared = Prepared::load(config, &state, now)?;
    let mut sink = Sink::dry_run();
    let (plan, _) = plan_all(config, &prepared, &mut sink, now)?;
    render_outputs(config, &prepared, &mut sink, &plan)?;
    Ok(report(prepared.catalog, WriteSummary::default()))
}
