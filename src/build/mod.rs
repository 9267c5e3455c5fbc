//! The `build` and `check` commands: seeds → catalog → rendered outputs → `public/`.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::build::output::{
    WriteError, WriteSummary, delete_stale, scan_outputs, write_if_changed, write_new,
};
use crate::build::record::{
    BuildMemo, CatalogSnapshot, MemoSummary, SnapshotEntry, outputs_print, settings_fingerprint,
};
use crate::config::Config;
use crate::content::catalog::{
    Catalog, CatalogError, Changes, Entry, SeedListing, SeedsPrint, Survey,
};
use crate::content::edition::{Edition, Schedule, Week};
use crate::content::seed::SeedError;
use crate::render::digest::{DigestError, EditionListing, render_archive_index};
use crate::render::feeds::{FeedError, render_atom, render_json_feed, render_rss};
use crate::render::paths::*;
use crate::render::site::{
    ArchiveYear, PreparedArticle, archive_years, render_archive_page, render_article_page,
    render_index,
};
use crate::render::templates::TemplateError;
use crate::store::{State, StateError};
use crate::support::parallel::{drop_in_background, map_in_parallel};
use crate::support::stamp::FileVersion;

use fingerprints::*;
pub(crate) use prepared::Prepared;
use prepared::{has_web_page, load_templates};

mod fingerprints;
mod incremental;
pub(crate) mod output;
mod prepared;
pub(crate) mod record;

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
}

/// What a build (or a check) found and did.
#[derive(Debug, Default)]
pub(crate) struct BuildReport {
    pub changes: Changes,
    pub published: usize,
    pub problems: Vec<SeedError>,
    pub scheduled: Vec<(String, DateTime<Tz>)>,
    pub files: WriteSummary,
}

impl BuildReport {
    /// True when every seed was published (cron should stay quiet).
    pub(crate) fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Where rendered files go. `build` writes them and skips rendering what is already
/// current; `check` renders everything and writes nothing.
///
/// Every output a build makes is claimed once, which takes it out of `previous`
/// and `unclaimed`: what is left of them at the end is stale. So a page that is
/// current costs two lookups and no copy of its path.
struct Sink {
    /// `None` for `check`.
    root: Option<PathBuf>,
    /// Fingerprints recorded by the last build, of the outputs not claimed yet.
    previous: HashMap<String, String>,
    /// Files present under `root` when the build began (from the build's one
    /// [`OutputListing`](crate::build::output::OutputListing), not a `stat` per page) and
    /// not claimed yet.
    unclaimed: HashSet<String>,
    /// Outputs rendered from new fingerprints.
    changed: Vec<(String, String)>,
    summary: WriteSummary,
}

impl Sink {
    fn writer(root: &Path, previous: HashMap<String, String>, existing: HashSet<String>) -> Sink {
        Sink {
            root: Some(root.to_path_buf()),
            previous,
            unclaimed: existing,
            changed: Vec::new(),
            summary: WriteSummary::default(),
        }
    }

    fn dry_run() -> Sink {
        Sink {
            root: None,
            previous: HashMap::new(),
            unclaimed: HashSet::new(),
            changed: Vec::new(),
            summary: WriteSummary::default(),
        }
    }

    /// Claims `path`: whether it is current (rendered from `fingerprint` and still
    /// on disk: then it is kept as it is and need not be rendered) or, if not,
    /// whether there is a file to replace.
    fn claim(&mut self, path: &str, fingerprint: &str) -> Claim {
        let on_disk = self.unclaimed.remove(path);
        let previous = self.previous.remove(path);
        if self.root.is_some() && on_disk && previous.as_deref() == Some(fingerprint) {
            self.summary.unchanged += 1;
            return Claim::Current;
        }
        Claim::Stale { on_disk }
    }

    /// Notes a file a worker rendered (and, when building, wrote) itself after
    /// [`Sink::claim`] said it was not current.
    fn record(&mut self, path: &str, fingerprint: &str, written: bool) {
        self.count(path, written);
        self.changed
            .push((path.to_string(), fingerprint.to_string()));
    }

    /// Notes a file rendered on every build (written only if its bytes changed, so
    /// it needs no fingerprint).
    fn count(&mut self, path: &str, written: bool) {
        self.unclaimed.remove(path);
        if self.root.is_some() {
            if written {
                self.summary.written += 1;
            } else {
                self.summary.unchanged += 1;
            }
        }
    }
}

/// What [`Sink::claim`] found.
enum Claim {
    Current,
    /// To be rendered; `on_disk`: an older version is there to be replaced.
    Stale {
        on_disk: bool,
    },
}

/// A page to render, and where.
struct Stale {
    page: StalePage,
    path: String,
    fingerprint: String,
    /// An older version is there to be replaced (else none was when the build
    /// listed the output folder).
    on_disk: bool,
}

/// A page whose inputs changed since it was last written.
enum StalePage {
    Article {
        index: usize,
    },
    Year {
        year: i32,
        entries: std::ops::Range<usize>,
    },
    Edition {
        week: Week,
    },
}

/// What a build renders: the pages whose inputs changed, and what the outputs
/// rendered on every build list.
struct Plan {
    stale: Vec<Stale>,
    years: Vec<ArchiveYear>,
    /// The newsletter index's lines, newest edition first.
    listings: Vec<EditionListing>,
}

/// Fingerprints every page of the catalog and claims it in `sink`: what is not
/// current is planned for rendering. Also returns each entry's article-page
/// fingerprint (in catalog order).
fn plan_all(
    config: &Config,
    prepared: &Prepared,
    sink: &mut Sink,
    now: DateTime<Utc>,
) -> Result<(Plan, Vec<String>), BuildError> {
    let Prepared {
        catalog,
        meta,
        site_fingerprint: site,
        ..
    } = prepared;
    let mut fingerprints = Vec::with_capacity(catalog.entries.len());
    let mut stale: Vec<Stale> = Vec::new();
    let mut check = |sink: &mut Sink, page: StalePage, path: String, fingerprint: String| {
        if let Claim::Stale { on_disk } = sink.claim(&path, &fingerprint) {
            stale.push(Stale {
                page,
                path,
                fingerprint,
                on_disk,
            });
        }
    };
    for (index, entry) in catalog.entries.iter().enumerate() {
        let path = article_page_path(&entry.article.id);
        let fp = article_fingerprint(
            site,
            &entry.source_hash,
            entry.published.timestamp(),
            entry.updated.timestamp(),
        );
        check(sink, StalePage::Article { index }, path, fp.clone());
        fingerprints.push(fp);
    }
    let (years, year_ranges): (Vec<ArchiveYear>, Vec<_>) =
        archive_years(meta, &catalog.entries).into_iter().unzip();
    let years_key = years_key(&years);
    for (year, entries) in years.iter().zip(year_ranges) {
        let path = archive_page_path(year.year);
        let pages = fingerprints[entries.clone()].iter().map(String::as_str);
        let fp = year_fingerprint(site, &path, &years_key, pages);
        let page = StalePage::Year {
            year: year.year,
            entries,
        };
        check(sink, page, path, fp);
    }
    let mut listings = Vec::new();
    for edition in prepared.published_editions(now) {
        let pages = edition.articles.iter().map(|&i| fingerprints[i].as_str());
        let fp = edition_fingerprint(site, edition.week, pages);
        let path = edition_page_path(edition.week);
        check(sink, StalePage::Edition { week: edition.week }, path, fp);
        listings.push(prepared.edition_listing(config, edition)?);
    }
    listings.reverse();
    let plan = Plan {
        stale,
        years,
        listings,
    };
    Ok((plan, fingerprints))
}

/// Renders the stale pages of `plan` and the outputs rendered on every build (the
/// index, feeds and newsletter index: written only if their bytes changed) into
/// `sink`.
fn render_outputs(
    config: &Config,
    prepared: &Prepared,
    sink: &mut Sink,
    plan: &Plan,
) -> Result<(), BuildError> {
    let Prepared {
        catalog,
        meta,
        templates,
        ..
    } = prepared;
    let Plan {
        stale,
        years,
        listings,
    } = plan;
    // Pages are independent: render and write them on every core, then record
    // them in the sink in order. Each worker writes as it goes, so memory holds one
    // page per worker, not all of them.
    let root = sink.root.clone();
    let written = map_in_parallel(stale, |stale| {
        let html = match &stale.page {
            StalePage::Article { index } => {
                render_article_page(meta, &prepared.article(*index)?, templates)?
            }
            StalePage::Year { year, entries } => render_archive_page(
                meta,
                *year,
                &catalog.entries[entries.clone()],
                years,
                templates,
            )?,
            StalePage::Edition { week } => prepared.edition_page(config, *week)?.into_bytes(),
        };
        let Some(root) = root.as_deref() else {
            return Ok::<_, BuildError>(false);
        };
        let path = root.join(&stale.path);
        Ok(match stale.on_disk {
            true => write_if_changed(&path, &html, false)?,
            false => write_new(&path, &html, false)?,
        })
    });
    for (stale, written) in stale.iter().zip(written) {
        sink.record(&stale.path, &stale.fingerprint, written?);
    }

    let feed_entries: Vec<usize> = (0..catalog.entries.len().min(config.site.feed_items)).collect();
    let newest: Vec<PreparedArticle> = map_in_parallel(&feed_entries, |&i| prepared.article(i))
        .into_iter()
        .collect::<Result<_, _>>()?;
    // Independent of each other, and each flushed to disk: rendered and written on
    // every core.
    let rewritten = map_in_parallel(&REWRITTEN, |&path| {
        let bytes = match path {
            INDEX_PAGE => {
                let shown = &catalog.entries[..catalog.entries.len().min(config.site.index_items)];
                render_index(meta, shown, years, templates)?
            }
            RSS_FEED => render_rss(meta, &newest)?,
            ATOM_FEED => render_atom(meta, &newest)?,
            JSON_FEED => render_json_feed(meta, &newest)?,
            NEWSLETTER_INDEX => render_archive_index(meta, listings, templates)?.into_bytes(),
            other => unreachable!("{other} is not in REWRITTEN"),
        };
        Ok::<_, BuildError>(match &root {
            Some(root) => write_if_changed(&root.join(path), &bytes, true)?,
            None => false,
        })
    });
    for (path, written) in REWRITTEN.iter().zip(rewritten) {
        sink.count(path, written?);
    }
    Ok(())
}

fn report(catalog: Catalog, files: WriteSummary) -> BuildReport {
    let published = catalog.entries.len();
    drop_in_background(catalog.entries);
    BuildReport {
        published,
        changes: catalog.changes,
        problems: catalog.problems,
        scheduled: catalog.scheduled,
        files,
    }
}

/// Builds the site and feeds into the output folder and records what was published.
///
/// The article rows (what was parsed) are saved while the pages render, on a thread
/// of their own; the output fingerprints (what was written) only after every file
/// is in place. A crash in between leaves rows that are current and fingerprints
/// that are not, so the next build re-renders those pages from the stored articles:
/// a page is never recorded as current before it is written.
///
/// A build whose inputs, clock and outputs match the last clean build's record
/// ([`crate::build::record`]) stops after reading the seeds folder: it would change
/// nothing. One whose only change is a few added or edited seeds builds just what
/// they change ([`incremental`]); anything else gets the full build.
pub(crate) fn build(config: &Config, now: DateTime<Utc>) -> Result<BuildReport, BuildError> {
    let started = std::time::Instant::now();
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
        None => (templates, Survey::take(config, &state)?),
        Some(memo) => {
            // Read while the seeds are listed: the listing waits on the file system.
            let read_recorded = incremental::recorded_reader(&state, root, &memo)?;
            let (listing, recorded) = std::thread::scope(|scope| {
                let recorded = scope.spawn(read_recorded);
                let listing = SeedListing::take(config);
                (listing, recorded.join().ok().flatten())
            });
            let listing = listing?;
            let seeds = listing.seeds_print().filter(|seeds| seeds.settled);
            let outputs = outputs_print(root, &OUTPUT_DIRS, &REWRITTEN);
            if seeds.is_some_and(|seeds| memo.holds(&seeds.fingerprint, &outputs.fingerprint)) {
                tracing::debug!(
                    "nothing changed since the last build: outputs are current ({:?})",
                    started.elapsed()
                );
                drop_in_background(listing);
                return Ok(memo_report(&memo, config));
            }
            state.save_build_memo(None)?;
            let recorded = recorded.map(|mut recorded| {
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
    };
    let inputs = BuildInputs::of(settings, survey.listing());
    let mut prepared = Prepared::from_survey(config, &state, templates, survey, now)?;
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
    // The rows carry every parsed article as JSON (40 MB for 10,000 new ones): the
    // saver owns them and frees them as soon as they are written.
    let rows = std::mem::take(&mut prepared.catalog.state_updates);
    let saving = &mut state;
    let (rendered, saved) = std::thread::scope(|scope| {
        let saver = scope.spawn(move || saving.save_articles(&rows));
        let rendered = plan_all(config, &prepared, &mut sink, now).and_then(|planned| {
            render_outputs(config, &prepared, &mut sink, &planned.0)?;
            Ok(planned)
        });
        let saved = saver
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (rendered, saved)
    });
    let (plan, fingerprints) = rendered?;
    saved?;
    tracing::debug!("outputs rendered after {:?}", started.elapsed());
    sink.summary.deleted = delete_stale(root, &sink.unclaimed, "html")?;
    if !sink.changed.is_empty() || !sink.previous.is_empty() {
        state.save_outputs(&sink.changed, sink.previous.keys().map(String::as_str))?;
    }
    if let Some(mut inputs) = inputs.filter(|_| prepared.catalog.problems.is_empty()) {
        let catalog = &prepared.catalog;
        let summary = MemoSummary {
            published: catalog.entries.len(),
            scheduled: catalog
                .scheduled
                .iter()
                .map(|(id, at)| (id.clone(), at.timestamp()))
                .collect(),
            files: sink.summary.written + sink.summary.unchanged,
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

/// The outputs rendered on every build (and written when their bytes changed).
const REWRITTEN: [&str; 5] = [INDEX_PAGE, RSS_FEED, ATOM_FEED, JSON_FEED, NEWSLETTER_INDEX];

/// What a build compares with the last clean build's record ([`crate::build::record`]).
struct BuildInputs {
    settings: String,
    seeds: SeedsPrint,
    /// Every seed's name and version, for the record's snapshot.
    manifest: Vec<(String, Option<FileVersion>)>,
}

impl BuildInputs {
    /// `None` where seeds have no stat keys: such a build is never recorded.
    fn of(settings: String, listing: &SeedListing) -> Option<BuildInputs> {
        let seeds = listing.seeds_print()?;
        let manifest = listing
            .manifest()
            .map(|(name, version)| (name.to_string(), version))
            .collect();
        Some(BuildInputs {
            settings,
            seeds,
            manifest,
        })
    }

    /// Saves the record of a build from these inputs that wrote everything and had
    /// no seed problems; as not settled if a stamp it covers is from this very clock
    /// tick (and could hide a change made right after).
    fn save_record(
        self,
        state: &State,
        summary: MemoSummary,
        valid_until: DateTime<Utc>,
        snapshot: &str,
        root: &Path,
        now: DateTime<Utc>,
    ) -> Result<(), BuildError> {
        let outputs = outputs_print(root, &OUTPUT_DIRS, &REWRITTEN);
        let settled = self.seeds.settled && outputs.is_settled(std::time::SystemTime::now());
        let memo = BuildMemo {
            settings: self.settings,
            seeds: self.seeds.fingerprint,
            outputs: outputs.fingerprint,
            valid_from: now,
            valid_until,
            summary,
            settled,
        };
        state.save_build_memo(Some((&memo.to_stored(), snapshot)))?;
        Ok(())
    }
}

/// What the record's snapshot keeps of `entry`, whose page has fingerprint `page`.
fn snapshot_entry(entry: &Entry, page: &str) -> SnapshotEntry {
    SnapshotEntry {
        id: entry.article.id.clone(),
        published: entry.published.timestamp(),
        first_seen: entry.first_seen.timestamp(),
        page: page.to_string(),
        has_column_intro: entry.article.has_column_intro,
    }
}

/// Each listed edition's week and subject, for the record's snapshot.
fn subjects(listings: &[EditionListing]) -> Vec<(String, String)> {
    listings
        .iter()
        .map(|l| (l.edition.key.clone(), l.subject.clone()))
        .collect()
}

/// The first instant after `now` at which the clock alone changes the outputs: a
/// scheduled article (publication times `scheduled`, Unix seconds) is published,
/// or an edition with articles falls due (its web page appears).
fn valid_until(
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
fn memo_report(memo: &BuildMemo, config: &Config) -> BuildReport {
    let summary = &memo.summary;
    BuildReport {
        changes: Changes {
            unchanged: summary.published,
            ..Changes::default()
        },
        published: summary.published,
        problems: Vec::new(),
        scheduled: recorded_schedule(summary, config),
        files: WriteSummary {
            unchanged: summary.files,
            ..WriteSummary::default()
        },
    }
}

/// The articles the recorded build held back, with their publication times.
fn recorded_schedule(summary: &MemoSummary, config: &Config) -> Vec<(String, DateTime<Tz>)> {
    summary
        .scheduled
        .iter()
        .filter_map(|(id, at)| {
            let at = config.site.timezone.timestamp_opt(*at, 0).single()?;
            Some((id.clone(), at))
        })
        .collect()
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
