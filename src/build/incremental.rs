//! The incremental build: the build record applies (same settings, inside its
//! clock window) and only a few seeds were added or edited.
//!
//! Instead of loading and checking every article, the build reconciles only those
//! seeds (with the same [`collect`] as a full build), works out from the record's
//! [`CatalogSnapshot`] which other pages they change (the archive pages of the
//! years and the edition pages of the weeks they were or are in, the index, feeds
//! and newsletter index), fetches only the articles those pages show, and renders
//! them with the same code as a full build. The pages are the ones a full build
//! would write, byte for byte: the record proves every other output current (its
//! output stamps when its folders' were settled, a listing of the output folders
//! when not).
//!
//! Whatever it is not sure of (a seed gone or renamed, a seed problem, an article
//! held back, a second file for an id, a new article that changes the site
//! description, output folders not as recorded, more than [`MAX_CHANGED`] seeds)
//! it declines before writing anything, and the full build decides.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;

use super::fingerprints::{
    article_fingerprint, edition_fingerprint, page_fingerprint, site_fingerprint, year_fingerprint,
    years_key,
};
use super::inputs::{BuildInputs, recorded_schedule, snapshot_entry, subjects, valid_until};
use super::plan::{Plan, Stale, StalePage, TagPlan, feed_archive_pages, render_outputs};
use super::prepared::{Prepared, has_web_page};
use super::report::{BuildError, BuildReport};
use super::sink::Sink;
use crate::article::Article;
use crate::build::output::{WriteSummary, delete_stale};
use crate::build::record::{BuildMemo, CatalogSnapshot, MemoSummary, SnapshotEntry};
use crate::config::Config;
use crate::content::catalog::{Catalog, Changes, Entry, SeedListing, Survey, collect};
use crate::content::edition::{Edition, Week, assign_dated};
use crate::render::digest::{EditionListing, edition_view};

use crate::render::feeds::{FeedFormat, archive_path};
use crate::render::paths::{
    ARCHIVE_DIR, ARTICLES_DIR, FEED_ARCHIVE_DIR, NEWSLETTER_DIR, OUTPUT_DIRS, OUTPUT_EXTENSIONS,
    TAGS_DIR, TAGS_INDEX, archive_page_path, article_page_path, edition_page_path,
};
use crate::render::site::{Neighbours, SiteMeta, archive_years_of};
use crate::render::tags::{TagGroup, tag_paths};
use crate::render::templates::Templates;
use crate::store::{State, write_bodies};
use crate::support::parallel::drop_in_background;

/// More changed seeds than this get a full build: reconciling them one by one
/// would no longer be the cheaper way.
pub(crate) const MAX_CHANGED: usize = 64;

pub(super) enum Outcome {
    Built(BuildReport),
    /// Nothing was written; the templates are handed back for the full build.
    Declined(Box<Templates>),
}

/// Builds what the seeds of `listing` that changed since `memo` (which applies)
/// change, or declines. `recorded`: what [`recorded_reader`] read.
pub(super) fn build_changed(
    config: &Config,
    state: &mut State,
    templates: Templates,
    listing: &SeedListing,
    memo: &BuildMemo,
    recorded: Option<Recorded>,
    now: DateTime<Utc>,
) -> Result<Outcome, BuildError> {
    let reconciled = reconcile_changed(config, state, &templates, listing, memo, recorded, now)?;
    let Some(mut merged) = reconciled else {
        return Ok(Outcome::Declined(Box::new(templates)));
    };
    let Some(mut inputs) = BuildInputs::of(memo.settings.clone(), listing) else {
        return Ok(Outcome::Declined(Box::new(templates)));
    };
    let (prepared, plan, pages) = match plan_changed(config, state, templates, &merged, now)? {
        Ok(planned) => planned,
        Err(templates) => return Ok(Outcome::Declined(Box::new(templates))),
    };
    let n = merged.entries.len();
    let snapshot_contents = CatalogSnapshot {
        site: prepared.site_fingerprint.clone(),
        seeds: std::mem::take(&mut inputs.manifest),
        entries: std::mem::take(&mut merged.entries),
        subjects: subjects(&plan.listings),
    };
    let root = &config.paths.output;
    let mut sink = Sink::writer(root, HashMap::new(), HashSet::new());
    let saver = state.snapshot_saver();
    let rows = &mut merged.catalog.state_updates;
    let bodies = state.body_file_for(rows)?;
    // The snapshot and the new bodies are written while the pages render: the
    // record that names the one and the rows that name the others are saved only
    // after them.
    let (rendered, snapshot, written) = std::thread::scope(|scope| {
        let saving = scope.spawn(|| saver.save(&snapshot_contents.encode()));
        let writing = (bodies.as_deref()).map(|bodies| scope.spawn(|| write_bodies(bodies, rows)));
        let rendered = render_outputs(config, &prepared, &mut sink, &plan);
        fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }
        let written = writing.map(join).transpose();
        (rendered, join(saving), written)
    });
    rendered?;
    let snapshot = snapshot?;
    written.map_err(|e| state.bodies_error(e))?;
    let gone: HashSet<String> = pages.gone.iter().cloned().collect();
    sink.summary.deleted = delete_stale(root, &gone, &OUTPUT_EXTENSIONS)?;
    state.save_articles(&merged.catalog.state_updates)?;
    state.save_outputs(&sink.changed, pages.gone.iter().map(String::as_str))?;

    let files = (memo.summary.files + pages.created).saturating_sub(sink.summary.deleted);
    let summary = MemoSummary {
        published: n,
        scheduled: memo.summary.scheduled.clone(),
        files,
        problems: Vec::new(),
    };
    let scheduled = memo.summary.scheduled.iter().map(|(_, at)| *at);
    let until = valid_until(scheduled, &pages.editions, &prepared.schedule, now);
    inputs.save_record(state, summary, until, &snapshot, root, now)?;
    let changes = &merged.catalog.changes;
    let report = BuildReport {
        changes: Changes {
            new: changes.new.clone(),
            updated: changes.updated.clone(),
            unchanged: n.saturating_sub(changes.new.len() + changes.updated.len()),
            removed: Vec::new(),
        },
        published: n,
        problems: Vec::new(),
        warnings: merged.catalog.warnings.clone(),
        scheduled: recorded_schedule(&memo.summary, config),
        files: WriteSummary {
            written: sink.summary.written,
            unchanged: files.saturating_sub(sink.summary.written),
            deleted: sink.summary.deleted,
            feeds_written: std::mem::take(&mut sink.summary.feeds_written),
        },
    };
    drop_in_background((merged, prepared, plan, pages, snapshot_contents));
    Ok(Outcome::Built(report))
}

/// The changed seeds reconciled, and the recorded catalog with them.
struct Merged {
    /// What [`collect`] made of the changed seeds alone.
    catalog: Catalog,
    /// Every published article, newest first.
    entries: Vec<Arc<SnapshotEntry>>,
    /// The recorded build's `entries`.
    recorded: Vec<Arc<SnapshotEntry>>,
    /// Their publication instants.
    published: Vec<DateTime<Tz>>,
    /// What the recorded build had of the changed ids it published.
    previous: HashMap<String, Arc<SnapshotEntry>>,
    meta: SiteMeta,
    site: String,
    snapshot_subjects: HashMap<String, String>,
    /// The recorded fingerprints of the year and edition pages and of the feeds'
    /// archive documents, by path.
    archive: HashMap<String, String>,
    newsletter: HashMap<String, String>,
    feeds: HashMap<String, String>,
    /// The recorded fingerprints of the tags' outputs and the tags index.
    tags: HashMap<String, String>,
}

/// True when the output folders of `listed` hold exactly the pages the recorded
/// build wrote in them (its `entries`' article pages, the year and edition pages
/// of `archive` and `newsletter`, the feed archive documents of `feeds`), as far as
/// a full build would check: that each exists and no other page does. The outputs
/// rendered on every build are rendered again anyway.
fn outputs_as_recorded(
    root: &Path,
    listed: &[String],
    entries: &[Arc<SnapshotEntry>],
    archive: &HashMap<String, String>,
    newsletter: &HashMap<String, String>,
    feeds: &HashMap<String, String>,
) -> bool {
    let listed = |dir: &str| listed.iter().any(|folder| folder == dir);
    // The names are distinct, so as many expected pages as expected is all of them.
    let holds = |dir: &str, count: usize, expected: &dyn Fn(&str) -> bool| {
        let suffix = if dir == FEED_ARCHIVE_DIR {
            ".xml"
        } else {
            ".html"
        };
        let Ok(listing) = std::fs::read_dir(root.join(dir)) else {
            return count == 0;
        };
        let mut found = 0;
        for entry in listing.flatten() {
            let name = entry.file_name();
            let Some(page) = name.to_str().and_then(|n| n.strip_suffix(suffix)) else {
                continue;
            };
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if !is_file || (dir == NEWSLETTER_DIR && page == "index") {
                continue;
            }
            if !expected(page) {
                return false;
            }
            found += 1;
        }
        found == count
    };
    let recorded = |pages: &HashMap<String, String>, dir: &str, page: &str| {
        pages.contains_key(&format!("{dir}/{page}.html"))
            || pages.contains_key(&format!("{dir}/{page}.xml"))
    };
    let articles_hold = || {
        let ids: HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        holds(ARTICLES_DIR, ids.len(), &|id| ids.contains(id))
    };
    let pages_hold = |dir: &str, pages: &HashMap<String, String>| {
        !listed(dir) || holds(dir, pages.len(), &|page| recorded(pages, dir, page))
    };
    (!listed(ARTICLES_DIR) || articles_hold())
        && pages_hold(ARCHIVE_DIR, archive)
        && pages_hold(NEWSLETTER_DIR, newsletter)
        && pages_hold(FEED_ARCHIVE_DIR, feeds)
}

/// True when `tags/` holds exactly the files of `recorded` (the tags' outputs and
/// the tags index), listed as a full build lists them.
fn tag_outputs_as_recorded(root: &Path, recorded: &HashMap<String, String>) -> bool {
    let listed = crate::build::output::tag_outputs(root);
    listed.len() == recorded.len() && listed.iter().all(|path| recorded.contains_key(path))
}

/// What the incremental build reads from the record besides its row: the catalog
/// snapshot, the recorded fingerprints of the year and edition pages, and whether
/// the output folders whose stamps were not settled (listed) hold what it says.
pub(super) struct Recorded {
    snapshot: CatalogSnapshot,
    archive: HashMap<String, String>,
    newsletter: HashMap<String, String>,
    feeds: HashMap<String, String>,
    tags: HashMap<String, String>,
    /// Whether the output folders are as the record says: the folders whose stamps
    /// were not settled are listed, the others told by the output stamps
    /// ([`Recorded::judge_by_stamps`]); `None` (taken as no) until known.
    as_recorded: Option<bool>,
}

impl Recorded {
    /// For the folders not listed: they are as the record says when the output
    /// stamps are `unchanged`.
    pub(super) fn judge_by_stamps(&mut self, unchanged: bool) {
        self.as_recorded.get_or_insert(unchanged);
    }
}

/// What reads the record's [`Recorded`] parts, on a thread of its own (the build
/// lists the seeds or clears its record meanwhile).
pub(super) fn recorded_reader(
    state: &State,
    root: &Path,
    memo: &BuildMemo,
) -> Result<impl FnOnce() -> Option<Recorded> + Send + 'static, BuildError> {
    let read_snapshot = state.build_snapshot_reader()?;
    let archive = state.output_fingerprints_in(ARCHIVE_DIR)?;
    let newsletter = state.output_fingerprints_in(NEWSLETTER_DIR)?;
    let feeds = state.output_fingerprints_in(FEED_ARCHIVE_DIR)?;
    let tags = state.output_fingerprints_in(TAGS_DIR)?;
    let (root, listed) = (root.to_path_buf(), memo.unsettled_folders.clone());
    Ok(move || {
        let snapshot = CatalogSnapshot::decode(read_snapshot()?.as_bytes())?;
        let (entries, tags_listed) = (&snapshot.entries, listed.iter().any(|f| f == TAGS_DIR));
        let hold = outputs_as_recorded(&root, &listed, entries, &archive, &newsletter, &feeds)
            && (!tags_listed || tag_outputs_as_recorded(&root, &tags));
        // Whether the folders not listed are as recorded is for their stamps to say.
        let every_folder_listed = OUTPUT_DIRS
            .iter()
            .all(|dir| listed.iter().any(|f| f == dir));
        let as_recorded = (!hold || every_folder_listed).then_some(hold);
        Some(Recorded {
            snapshot,
            archive,
            newsletter,
            feeds,
            tags,
            as_recorded,
        })
    })
}

fn declined(reason: &str) -> Result<Option<Merged>, BuildError> {
    tracing::debug!("a full build is needed: {reason}");
    Ok(None)
}

/// Reconciles the changed seeds and merges them into the recorded catalog; `None`
/// when a full build must decide.
fn reconcile_changed(
    config: &Config,
    state: &State,
    templates: &Templates,
    listing: &SeedListing,
    memo: &BuildMemo,
    recorded: Option<Recorded>,
    now: DateTime<Utc>,
) -> Result<Option<Merged>, BuildError> {
    let Some(Recorded {
        snapshot,
        archive,
        newsletter,
        feeds,
        tags,
        as_recorded,
    }) = recorded
    else {
        return declined("the record has no catalog snapshot this version can read");
    };
    if as_recorded != Some(true) {
        return declined("the output folder is not as the recorded build left it");
    }
    let (changed, all_there) = listing.changed_since(&snapshot.seeds);
    if !all_there {
        return declined("a seed was removed or renamed");
    }
    if changed.len() > MAX_CHANGED || listing.seeds_print().is_none() {
        return declined("more than a few seeds changed (or one cannot be keyed)");
    }
    let Some(ids) = listing.ids(&changed) else {
        return declined("a changed seed has no id");
    };
    // What the recorded build had of the changed ids it published.
    let changed_ids: HashSet<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    let previous: HashMap<String, Arc<SnapshotEntry>> = (snapshot.entries.iter())
        .filter(|e| changed_ids.contains(e.id.as_str()))
        .map(|e| (e.id.clone(), Arc::clone(e)))
        .collect();
    let mut seen = HashSet::new();
    for (id, name) in &ids {
        let held_back = memo.summary.scheduled.iter().any(|(s, _)| s == id);
        // A recorded article comes from a recorded seed (a record is saved only when
        // no two seeds share an id), and a seed's id is in its name: a new file
        // with a recorded article's id is a second file for it.
        let is_new_file = (snapshot.seeds)
            .binary_search_by(|(recorded, _)| recorded.as_str().cmp(name))
            .is_err();
        let owned_elsewhere = is_new_file && previous.contains_key(id);
        if held_back || owned_elsewhere || !seen.insert(id.as_str()) {
            return declined("a changed seed shares its id or was held back");
        }
    }
    let known = state.articles_with_ids(ids.iter().map(|(id, _)| id.as_str()))?;
    let catalog = collect(
        config,
        state,
        Survey::of(listing.subset(&changed), known),
        now,
        None,
    )?;
    if !catalog.problems.is_empty() || !catalog.scheduled.is_empty() {
        return declined("a changed seed has a problem or is dated in the future");
    }

    let CatalogSnapshot {
        site,
        entries,
        subjects,
        ..
    } = snapshot;
    let fresh: HashSet<&str> = catalog
        .entries
        .iter()
        .map(|e| e.article.id.as_str())
        .collect();
    let recorded = entries;
    let mut entries: Vec<Arc<SnapshotEntry>> = (recorded.iter())
        .filter(|e| !fresh.contains(e.id.as_str()))
        .cloned()
        .collect();
    for entry in &catalog.entries {
        let (published, updated) = (entry.published.timestamp(), entry.updated.timestamp());
        let page = article_fingerprint(&site, &entry.source_hash, published, updated);
        entries.push(snapshot_entry(entry, &page));
    }
    // Nearly sorted already: a stable sort finds the runs.
    entries.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| a.id.cmp(&b.id)));
    let tz = config.site.timezone;
    let Some(published) = entries
        .iter()
        .map(|e| tz.timestamp_opt(e.published, 0).single())
        .collect::<Option<Vec<_>>>()
    else {
        return declined("a recorded publication time is out of range");
    };

    // The site description: the column introduction of the newest article that has
    // one (parsed in this run, or stored).
    let column_intro = match entries.iter().find(|e| e.has_column_intro) {
        None => None,
        Some(e) => {
            let fresh = (catalog.entries.iter())
                .find(|f| f.article.id == e.id)
                .and_then(|f| f.full.clone());
            let article = match fresh {
                Some(article) => Some(article),
                None => (state.article_json(&e.id)?)
                    .and_then(|json| serde_json::from_str::<Article>(&json).ok())
                    .map(Arc::new),
            };
            match article {
                Some(article) => article.column_intro.clone(),
                None => return declined("the site description's article is not stored"),
            }
        }
    };
    let meta = SiteMeta::new(config, column_intro.as_deref());
    if site_fingerprint(config, templates, &meta) != site {
        return declined("what every page shares changed (the site description)");
    }
    Ok(Some(Merged {
        archive,
        newsletter,
        feeds,
        tags,
        catalog,
        entries,
        recorded,
        published,
        previous,
        meta,
        site,
        snapshot_subjects: subjects.into_iter().collect(),
    }))
}

/// What the changed articles do to the pages besides their own.
struct PageChanges {
    /// Every edition of the merged catalog (articles by merged index).
    editions: std::collections::BTreeMap<Week, Edition>,
    /// Pages that no longer exist (a year or edition left empty).
    gone: Vec<String>,
    /// Stale pages that did not exist before.
    created: usize,
}

/// Which pages the merged catalog changes, and a [`Prepared`] holding just the
/// articles they show (the newest ones for the index and feeds, every article of a
/// changed year or edition). Declines (handing the templates back) only for a
/// record this version would not have written.
fn plan_changed(
    config: &Config,
    state: &State,
    templates: Templates,
    merged: &Merged,
    now: DateTime<Utc>,
) -> Result<Result<(Prepared, Plan, PageChanges), Templates>, BuildError> {
    let Merged {
        entries,
        published,
        meta,
        site,
        ..
    } = merged;
    let n = entries.len();
    let page = |i: usize| entries[i].article.as_str();
    let mut needed = vec![false; n];
    needed[..config.site.index_items.max(config.site.feed_items).min(n)].fill(true);
    let mut gone = Vec::new();
    let fresh: HashMap<&str, &Entry> = (merged.catalog.entries.iter())
        .map(|e| (e.article.id.as_str(), e))
        .collect();
    let is_fresh: Vec<bool> = (entries.iter())
        .map(|e| fresh.contains_key(e.id.as_str()))
        .collect();
    let tz = config.site.timezone;
    // Where the changed articles were: their old year and edition changed too.
    let before: Vec<(&str, DateTime<Tz>, DateTime<Utc>)> = (merged.previous.values())
        .filter_map(|p| {
            let published = tz.timestamp_opt(p.published, 0).single()?;
            let first_seen = Utc.timestamp_opt(p.first_seen, 0).single()?;
            Some((p.id.as_str(), published, first_seen))
        })
        .collect();

    let (years, year_ranges): (Vec<_>, Vec<_>) = archive_years_of(meta, published.iter().copied())
        .into_iter()
        .unzip();
    let years_key = years_key(&years);
    let mut recorded = merged.archive.clone();
    // A year page changes when one of its articles does, or the list of years.
    let same_years = years.len() == recorded.len()
        && (years.iter()).all(|y| recorded.contains_key(&archive_page_path(y.year)));
    let mut touched: HashSet<i32> = (before.iter()).map(|(_, at, _)| at.year()).collect();
    touched.extend((0..n).filter(|&i| is_fresh[i]).map(|i| published[i].year()));
    let mut stale_years = Vec::new();
    for (year, range) in years.iter().zip(&year_ranges) {
        let path = archive_page_path(year.year);
        let before = recorded.remove(&path);
        if same_years && !touched.contains(&year.year) {
            continue;
        }
        let fp = year_fingerprint(site, &path, &years_key, range.clone().map(page));
        if before.as_ref() != Some(&fp) {
            needed[range.clone()].fill(true);
            stale_years.push((year.year, range.clone(), path, fp, before.is_some()));
        }
    }
    gone.extend(recorded.into_keys());

    let schedule = crate::content::edition::Schedule::of(config);
    let frozen = state.frozen_editions()?;
    let dated = entries.iter().zip(published).map(|(e, &at)| {
        let first_seen = Utc.timestamp_opt(e.first_seen, 0).single();
        (e.id.as_str(), at, first_seen.unwrap_or_default())
    });
    let editions = assign_dated(dated, &frozen, &schedule);
    // An edition changes when one of its articles does: an article's edition
    // depends on nothing else that can have changed.
    let touched: HashSet<Week> = assign_dated(before.iter().copied(), &frozen, &schedule)
        .into_keys()
        .chain(
            (editions.values())
                .filter(|e| e.articles.iter().any(|&i| is_fresh[i]))
                .map(|e| e.week),
        )
        .collect();
    let mut recorded = merged.newsletter.clone();
    let mut stale_editions = Vec::new();
    for edition in editions
        .values()
        .filter(|e| has_web_page(e, &schedule, now))
    {
        let path = edition_page_path(edition.week);
        if !touched.contains(&edition.week) {
            recorded.remove(&path);
            continue;
        }
        let fp = edition_fingerprint(
            site,
            edition.week,
            edition.articles.iter().map(|&i| page(i)),
        );
        let before = recorded.remove(&path);
        if before.as_ref() != Some(&fp) {
            edition.articles.iter().for_each(|&i| needed[i] = true);
            stale_editions.push((edition.week, path, fp, before.is_some()));
        }
    }
    gone.extend(recorded.into_keys());

    let pages = feed_archive_pages(config, site, n, page);
    let archived = pages.len();
    let mut recorded = merged.feeds.clone();
    let mut stale_feeds = Vec::new();
    for archive in pages {
        for format in [FeedFormat::Rss, FeedFormat::Atom] {
            let path = archive_path(format, archive.page);
            let before = recorded.remove(&path);
            if before.as_ref() != Some(&archive.fingerprint) {
                needed[archive.entries.clone()].fill(true);
                let (range, fp) = (archive.entries.clone(), archive.fingerprint.clone());
                stale_feeds.push((format, archive.page, range, path, fp, before.is_some()));
            }
        }
    }
    gone.extend(recorded.into_keys());

    let tag_plan = TagPlan::of(site, entries.iter().map(|e| e.tags.as_slice()), page);
    let mut recorded = merged.tags.clone();
    let mut stale_tags = Vec::new();
    for (g, (group, fp)) in tag_plan
        .groups
        .iter()
        .zip(&tag_plan.fingerprints)
        .enumerate()
    {
        for (output, path) in tag_paths(&group.slug) {
            let before = recorded.remove(&path);
            if before.as_ref() != Some(fp) {
                group.members.iter().for_each(|&i| needed[i] = true);
                stale_tags.push((g, output, path, fp.clone(), before.is_some()));
            }
        }
    }
    let index_before = recorded.remove(TAGS_INDEX);
    let index_stale =
        !tag_plan.groups.is_empty() && index_before.as_ref() != Some(&tag_plan.index_fingerprint);
    gone.extend(recorded.into_keys());

    let stale_articles = stale_article_pages(merged, &is_fresh);
    for &(i, ..) in &stale_articles {
        needed[i] = true;
    }
    let stored_ids = (0..n)
        .filter(|&i| needed[i] && !fresh.contains_key(entries[i].id.as_str()))
        .map(|i| entries[i].id.as_str());
    let stored = state.articles_with_ids(stored_ids)?;
    let tz = config.site.timezone;
    let mut position = vec![usize::MAX; n];
    let mut shown = Vec::new();
    for i in (0..n).filter(|&i| needed[i]) {
        let e = &entries[i];
        let entry = match fresh.get(e.id.as_str()) {
            Some(entry) => (*entry).clone(),
            None => (stored.get(&e.id))
                .and_then(|row| Entry::stored(row, published[i], tz))
                .ok_or_else(|| BuildError::MissingBody { id: e.id.clone() })?,
        };
        position[i] = shown.len();
        shown.push(entry);
    }

    let mut stale = Vec::new();
    let mut created = 0;
    for (i, fingerprint, on_disk) in stale_articles {
        created += usize::from(!on_disk);
        let neighbours = Neighbours::of(meta, i, n, |k| id_title(entries, k));
        stale.push(Stale {
            page: StalePage::Article {
                index: position[i],
                neighbours,
            },
            path: article_page_path(&entries[i].id),
            fingerprint,
            on_disk,
        });
    }
    for (year, range, path, fingerprint, on_disk) in stale_years {
        created += usize::from(!on_disk);
        let entries = position[range.start]..position[range.end - 1] + 1;
        stale.push(Stale {
            page: StalePage::Year { year, entries },
            path,
            fingerprint,
            on_disk,
        });
    }
    for (format, number, range, path, fingerprint, on_disk) in stale_feeds {
        created += usize::from(!on_disk);
        stale.push(Stale {
            page: StalePage::FeedArchive {
                format,
                page: number,
                archived,
                entries: position[range.start]..position[range.end - 1] + 1,
            },
            path,
            fingerprint,
            on_disk,
        });
    }
    let mut shown_tags: Vec<TagGroup> = Vec::new();
    let mut shown_index: HashMap<usize, usize> = HashMap::new();
    for (g, output, path, fingerprint, on_disk) in stale_tags {
        created += usize::from(!on_disk);
        let group = *shown_index.entry(g).or_insert_with(|| {
            let group = &tag_plan.groups[g];
            shown_tags.push(TagGroup {
                members: group.members.iter().map(|&i| position[i]).collect(),
                ..group.clone()
            });
            shown_tags.len() - 1
        });
        stale.push(Stale {
            page: StalePage::Tag { output, group },
            path,
            fingerprint,
            on_disk,
        });
    }
    if index_stale {
        created += usize::from(index_before.is_none());
        stale.push(Stale {
            page: StalePage::TagsIndex,
            path: TAGS_INDEX.to_string(),
            fingerprint: tag_plan.index_fingerprint.clone(),
            on_disk: index_before.is_some(),
        });
    }
    let mut shown_editions = std::collections::BTreeMap::new();
    for (week, path, fingerprint, on_disk) in stale_editions {
        created += usize::from(!on_disk);
        let edition = &editions[&week];
        let shown_edition = Edition {
            week,
            articles: edition.articles.iter().map(|&i| position[i]).collect(),
            frozen_at: edition.frozen_at,
        };
        shown_editions.insert(week, shown_edition);
        stale.push(Stale {
            page: StalePage::Edition { week },
            path,
            fingerprint,
            on_disk,
        });
    }

    let prepared = Prepared {
        catalog: Catalog {
            entries: shown,
            ..Catalog::default()
        },
        meta: meta.clone(),
        templates,
        editions: shown_editions,
        schedule,
        site_fingerprint: site.clone(),
        bodies: state.body_reader()?,
        written: None,
    };
    let mut listings = Vec::new();
    for edition in editions
        .values()
        .filter(|e| has_web_page(e, &schedule, now))
    {
        let key = edition.week.to_string();
        let recorded = merged.snapshot_subjects.get(&key);
        let listing = match (prepared.editions.get(&edition.week), recorded) {
            (None, Some(subject)) => EditionListing {
                edition: edition_view(meta, edition.week, edition.articles.len()),
                subject: subject.clone(),
            },
            (Some(shown), _) => prepared.edition_listing(config, shown)?,
            (None, None) => {
                tracing::debug!("a full build is needed: an edition's subject was not recorded");
                return Ok(Err(prepared.templates));
            }
        };
        listings.push(listing);
    }
    listings.reverse();
    let plan = Plan {
        stale,
        years,
        listings,
        archived,
        tags: shown_tags,
        tag_index: tag_plan.index,
    };
    let pages = PageChanges {
        editions,
        gone,
        created,
    };
    Ok(Ok((prepared, plan, pages)))
}

fn id_title(entries: &[Arc<SnapshotEntry>], i: usize) -> (&str, &str) {
    (entries[i].id.as_str(), entries[i].title.as_str())
}

/// The [`page_fingerprint`] of `entries[i]`, whose neighbours are in `entries`.
fn page_of(entries: &[Arc<SnapshotEntry>], i: usize) -> String {
    let older = (i + 1 < entries.len()).then(|| id_title(entries, i + 1));
    let newer = i.checked_sub(1).map(|k| id_title(entries, k));
    page_fingerprint(&entries[i].article, older, newer)
}

/// Where the article `id` published at `published` is in `entries` (newest first,
/// then by id, as the catalog orders them).
fn position_of(entries: &[Arc<SnapshotEntry>], id: &str, published: i64) -> Option<usize> {
    (entries.binary_search_by(|e| {
        published
            .cmp(&e.published)
            .then_with(|| e.id.as_str().cmp(id))
    }))
    .ok()
}

/// The article pages of the merged catalog that changed: `(index, page
/// fingerprint, whether an older version is on disk)`. Only a changed article and
/// the articles next to it (where it is now and where it was) can have changed:
/// each page shows its article and links to its neighbours.
fn stale_article_pages(merged: &Merged, is_fresh: &[bool]) -> Vec<(usize, String, bool)> {
    let Merged {
        entries, recorded, ..
    } = merged;
    let n = entries.len();
    let mut candidates = std::collections::BTreeSet::new();
    for i in (0..n).filter(|&i| is_fresh[i]) {
        candidates.extend(i.saturating_sub(1)..(i + 2).min(n));
    }
    for p in merged.previous.values() {
        let Some(j) = position_of(recorded, &p.id, p.published) else {
            continue;
        };
        for k in [j.checked_sub(1), Some(j + 1)].into_iter().flatten() {
            let Some(e) = recorded.get(k) else { continue };
            candidates.extend(position_of(entries, &e.id, e.published));
        }
    }
    let mut stale = Vec::new();
    for i in candidates {
        let e = &entries[i];
        let was_published = merged
            .previous
            .get(&e.id)
            .map_or(e.published, |p| p.published);
        let before = position_of(recorded, &e.id, was_published).map(|j| page_of(recorded, j));
        let now = page_of(entries, i);
        if before.as_ref() != Some(&now) {
            stale.push((i, now, before.is_some()));
        }
    }
    stale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Arc<SnapshotEntry> {
        Arc::new(SnapshotEntry {
            id: id.into(),
            title: id.into(),
            published: 0,
            first_seen: 0,
            article: String::new(),
            has_column_intro: false,
            tags: Vec::new(),
        })
    }

    #[test]
    fn output_folders_are_as_recorded_only_with_every_recorded_page_and_no_other() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &str| {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        };
        for path in [
            "articles/a.html",
            "articles/b.html",
            "archive/2026.html",
            "newsletter/2026-W04.html",
            "newsletter/index.html",
            "articles/notes.txt",
        ] {
            write(path);
        }
        let entries = [entry("a"), entry("b")];
        let pages = |path: &str| HashMap::from([(path.to_string(), "fp".to_string())]);
        let (archive, newsletter) = (
            pages("archive/2026.html"),
            pages("newsletter/2026-W04.html"),
        );
        let feeds = HashMap::new();
        let all: Vec<String> = OUTPUT_DIRS.iter().map(|d| d.to_string()).collect();
        let listed = |dirs: &[String]| {
            outputs_as_recorded(root.path(), dirs, &entries, &archive, &newsletter, &feeds)
        };
        let holds = || listed(&all);
        assert!(holds(), "every page there; other files do not count");
        write("articles/stray.html");
        assert!(!holds(), "a page no build wrote");
        assert!(
            listed(&["archive".to_string(), "newsletter".to_string()]),
            "folders not listed are not looked at"
        );
        std::fs::remove_file(root.path().join("articles/stray.html")).unwrap();

        std::fs::remove_file(root.path().join("articles/b.html")).unwrap();
        assert!(!holds(), "a recorded page is missing");
        write("articles/c.html");
        assert!(!holds(), "as many pages, but one is not recorded");
        std::fs::remove_file(root.path().join("articles/c.html")).unwrap();
        write("articles/b.html");
        write("archive/2025.html");
        assert!(!holds(), "a page no build wrote");
        std::fs::remove_file(root.path().join("archive/2025.html")).unwrap();
        std::fs::remove_file(root.path().join("newsletter/2026-W04.html")).unwrap();
        assert!(!holds(), "an edition page is missing");
    }
}
