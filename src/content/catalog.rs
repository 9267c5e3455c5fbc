//! Seed folder + state → the [`Catalog`] of articles to publish.
//!
//! This is where identity is decided: which file owns an id, which articles are
//! new, updated, unchanged or removed, and which are held back because they are
//! dated in the future. A broken seed never takes anything else down with it: it is
//! reported, and if its id was already published the last good version stays up.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::article::{Article, ArticleHead, SHORT_SUMMARY_GRAPHEMES};
use crate::config::Config;
use crate::content::seed::{SeedError, is_seed_name, parse_seed, seed_id};
use crate::store::{State, StateError, StoredArticle};
use crate::support::fingerprint::Fingerprinter;
use crate::support::parallel::{drop_in_background, map_in_parallel, worker_count};
use crate::support::stamp::{FileVersion, changed_at, is_settled};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("seeds folder {path}: {source}\n  hint: check `paths.seeds` in config.toml")]
    Seeds {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

/// An article that is published, with the times every output agrees on.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Shared with the state's row when the article is unchanged.
    pub article: Arc<ArticleHead>,
    /// The whole article when this run parsed it; `None` when it is the stored
    /// version (whose body the state keeps, fetched only for what is rendered).
    pub full: Option<Arc<Article>>,
    pub published: DateTime<Tz>,
    /// `published`, or the time an edit was first seen if that is later.
    pub updated: DateTime<Tz>,
    /// When Herald first saw the article (what the newsletter uses for late arrivals).
    pub first_seen: DateTime<Utc>,
    /// Fingerprint of the seed bytes and parsing rules it was parsed from: equal
    /// fingerprints mean equal articles.
    pub source_hash: String,
}

#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub new: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    pub removed: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Catalog {
    /// Published articles, newest first.
    pub entries: Vec<Entry>,
    /// Articles dated in the future: `(id, publication time)`.
    pub scheduled: Vec<(String, DateTime<Tz>)>,
    pub problems: Vec<SeedError>,
    pub changes: Changes,
    /// State rows that differ from what is stored; saved after outputs are written.
    pub state_updates: Vec<StoredArticle>,
}

impl Catalog {
    /// The entry whose column introduction is the site description: the newest
    /// article that has one.
    pub fn column_intro_entry(&self) -> Option<usize> {
        self.entries.iter().position(|e| e.article.has_column_intro)
    }
}

/// What a seed file yielded.
enum Parsed {
    /// Parsed in this run; with the JSON the state stores (serialised on the worker
    /// thread that parsed it).
    Fresh(Box<FreshArticle>),
    /// The stored version is current (same file, same bytes, same rules): its head.
    Stored(Arc<ArticleHead>),
}

struct FreshArticle {
    article: Article,
    head: Arc<ArticleHead>,
    article_json: String,
}

impl FreshArticle {
    fn new(article: Article) -> FreshArticle {
        FreshArticle {
            article_json: serde_json::to_string(&article).unwrap_or_default(),
            head: Arc::new(article.head()),
            article,
        }
    }
}

struct Candidate {
    name: String,
    id: String,
    hash: String,
    result: Result<Parsed, SeedError>,
    /// See [`StoredArticle::stat_key`].
    stat_key: String,
}

/// The seeds folder listed, every seed `stat`ed and keyed under the parsing rules.
pub struct SeedListing {
    files: Vec<SeedFile>,
    rules: String,
    /// The wall clock just before the seeds were `stat`ed.
    listed_from: std::time::SystemTime,
    /// [`SeedListing::seeds_print`], worked out once: a build asks for it several
    /// times, and it hashes every seed.
    print: std::sync::OnceLock<Option<SeedsPrint>>,
}

impl SeedListing {
    /// Lists the seeds folder, `stat`ing its files on every core.
    pub fn take(config: &Config) -> Result<SeedListing, CatalogError> {
        let listed_from = std::time::SystemTime::now();
        let files = list_seed_files(&config.paths.seeds, true)?;
        Ok(SeedListing::new(
            files,
            rules_fingerprint(config),
            listed_from,
        ))
    }

    fn new(files: Vec<SeedFile>, rules: String, listed_from: std::time::SystemTime) -> Self {
        SeedListing {
            files,
            rules,
            listed_from,
            print: std::sync::OnceLock::new(),
        }
    }

    /// Gives every file its stat key, which reconciling compares with the state's.
    fn keyed(mut self) -> SeedListing {
        for file in &mut self.files {
            if let (Some(version), true) = (file.version(), file.stat_key.is_empty()) {
                file.stat_key = stat_key(version, &self.rules);
            }
        }
        self
    }

    /// Every seed's name and [`FileVersion`], by name. The version is `None` when
    /// the seed has none, or changed within [`SETTLED`](crate::support::stamp::SETTLED) of
    /// the listing (a change made right after could keep the same stamps): a build
    /// that compares with this reads such a seed again.
    pub fn manifest(&self) -> impl Iterator<Item = (&str, Option<FileVersion>)> {
        self.files.iter().map(|f| {
            let settled = (f.stat.as_ref()).is_ok_and(|s| is_settled(s.changed, self.listed_from));
            (f.name.as_str(), f.version().filter(|_| settled))
        })
    }

    /// The seeds whose name or version is not in `recorded` (a [`manifest`] of an
    /// earlier listing, by name), and whether every seed of `recorded` is still
    /// there.
    ///
    /// [`manifest`]: SeedListing::manifest
    pub fn changed_since(&self, recorded: &[(String, Option<FileVersion>)]) -> (Vec<usize>, bool) {
        let mut changed = Vec::new();
        let mut recorded = recorded.iter().peekable();
        let mut all_there = true;
        for (index, file) in self.files.iter().enumerate() {
            while let Some((name, _)) = recorded.next_if(|(name, _)| *name < file.name) {
                tracing::debug!("{name}: gone since the last build");
                all_there = false;
            }
            match recorded.next_if(|(name, _)| *name == file.name) {
                Some((_, Some(version))) if file.version() == Some(*version) => {}
                _ => changed.push(index),
            }
        }
        (changed, all_there && recorded.next().is_none())
    }

    /// A listing of only the files at `indexes` (of this listing), keyed.
    pub fn subset(&self, indexes: &[usize]) -> SeedListing {
        let files = indexes.iter().map(|&i| self.files[i].copy()).collect();
        SeedListing::new(files, self.rules.clone(), self.listed_from).keyed()
    }

    /// The article ids and names of the files at `indexes`; `None` when one has
    /// no id.
    pub fn ids(&self, indexes: &[usize]) -> Option<Vec<(String, String)>> {
        indexes
            .iter()
            .map(|&i| {
                let name = &self.files[i].name;
                Some((seed_id(name).ok()?, name.clone()))
            })
            .collect()
    }

    /// The seeds folder under the parsing rules: the fingerprint of the
    /// [`manifest`](SeedListing::manifest). Equal fingerprints of settled listings
    /// mean that no seed was added, removed, renamed or written since. `None` where
    /// files have no stat keys (then nothing can be said without reading them).
    pub fn seeds_print(&self) -> Option<SeedsPrint> {
        self.print.get_or_init(|| self.work_out_print()).clone()
    }

    fn work_out_print(&self) -> Option<SeedsPrint> {
        // An unreadable seed has no version either, but it is a seed problem, and a
        // build with problems is never recorded.
        if (self.files.iter()).any(|f| f.stat.is_ok() && f.version().is_none()) {
            return None;
        }
        let mut fingerprint = Fingerprinter::default();
        fingerprint.add(self.rules.as_bytes());
        let mut settled = true;
        for (name, version) in self.manifest() {
            settled &= version.is_some();
            fingerprint.add(name.as_bytes());
            fingerprint.add(&version.map_or([0; FileVersion::BYTES], FileVersion::to_bytes));
        }
        Some(SeedsPrint {
            fingerprint: fingerprint.finish(),
            settled,
        })
    }
}

/// See [`SeedListing::seeds_print`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedsPrint {
    pub fingerprint: String,
    /// No seed changed within [`SETTLED`](crate::support::stamp::SETTLED) of the listing.
    pub settled: bool,
}

/// The seeds folder listed and the articles the state knows: what a build reads
/// before it decides anything.
pub struct Survey {
    listing: SeedListing,
    known: HashMap<String, StoredArticle>,
}

impl Survey {
    /// Lists the seeds while the state's articles load: the two wait on different
    /// things, so they overlap.
    pub fn take(config: &Config, state: &State) -> Result<Survey, CatalogError> {
        let dir = &config.paths.seeds;
        let listed_from = std::time::SystemTime::now();
        let (files, known) = std::thread::scope(|scope| {
            let files = scope.spawn(|| list_seed_files(dir, false));
            let known = state.articles();
            let files = files
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (files, known)
        });
        let (files, known) = (files?, known?);
        let listing = SeedListing::new(files, rules_fingerprint(config), listed_from);
        Ok(Survey::of(listing, known))
    }

    /// `listing` with the state's articles.
    pub fn of_listing(listing: SeedListing, state: &State) -> Result<Survey, CatalogError> {
        Ok(Survey::of(listing, state.articles()?))
    }

    /// `listing` with what the state knows of the articles it could hold: a build
    /// that reconciles only some seeds passes only their articles.
    pub fn of(listing: SeedListing, known: HashMap<String, StoredArticle>) -> Survey {
        tracing::debug!(
            "{} seed files listed, {} articles loaded from the state",
            listing.files.len(),
            known.len()
        );
        // Keyed here rather than while listing: the listing thread is as long as the
        // state's.
        Survey {
            listing: listing.keyed(),
            known,
        }
    }

    pub fn listing(&self) -> &SeedListing {
        &self.listing
    }
}

/// Reconciles every seed of `survey` (read on every core) with what the state
/// knows.
pub fn collect(
    config: &Config,
    state: &State,
    survey: Survey,
    now: DateTime<Utc>,
) -> Result<Catalog, CatalogError> {
    let Survey {
        listing:
            SeedListing {
                files,
                rules,
                listed_from,
                ..
            },
        known,
    } = survey;
    let mut catalog = Catalog::default();
    let candidates = map_in_parallel(&files, |file| {
        read_candidate(config, &rules, &known, file, listed_from)
    });
    let mut slots: Vec<Option<Candidate>> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        match candidate {
            Ok(candidate) => slots.push(Some(candidate)),
            Err(problem) => catalog.problems.push(problem),
        }
    }
    let groups = group_by_id(&slots);
    catalog.entries.reserve(slots.len());

    let tz = config.site.timezone;
    let hour = config.site.publish_hour;
    let now_ts = now.timestamp();
    for group in groups {
        let mut candidates: Vec<Candidate> = group
            .iter()
            .map(|&slot| slots[slot].take().expect("every slot is taken once"))
            .collect();
        let id = candidates[0].id.clone();
        let stored = known.get(&id);
        let owner_index = stored
            .filter(|s| s.removed.is_none())
            .and_then(|s| candidates.iter().position(|c| c.name == s.source_file))
            .unwrap_or(0);
        let owner = candidates.remove(owner_index);
        for other in candidates {
            catalog.problems.push(SeedError::new(
                &other.name,
                None,
                format!("article id `{id}` is already used by {}", owner.name),
                "give this file a different id (the part of its name after `NNN_`); ids are permanent",
            ));
        }
        match owner.result {
            Ok(Parsed::Stored(head)) => {
                let Some(old) = stored else { continue };
                let published = head.published(tz, hour);
                if published.with_timezone(&Utc) > now {
                    catalog.scheduled.push((id, published));
                    continue;
                }
                catalog.changes.unchanged += 1;
                if old.stat_key != owner.stat_key {
                    let mut row = old.clone();
                    row.stat_key = owner.stat_key.clone();
                    catalog.state_updates.push(row);
                }
                catalog
                    .entries
                    .push(entry_from(head, None, old, published, tz));
            }
            Ok(Parsed::Fresh(fresh)) => {
                let FreshArticle {
                    article,
                    head,
                    article_json: json,
                } = *fresh;
                let published = article.published(tz, hour);
                if published.with_timezone(&Utc) > now {
                    catalog.scheduled.push((id, published));
                    continue;
                }
                let mut row = StoredArticle {
                    id: id.clone(),
                    source_file: owner.name.clone(),
                    content_hash: owner.hash.clone(),
                    stat_key: owner.stat_key.clone(),
                    head: Some(Arc::clone(&head)),
                    article_json: None,
                    first_seen: now_ts,
                    modified: None,
                    removed: None,
                };
                match stored {
                    None => catalog.changes.new.push(id.clone()),
                    Some(old) if old.removed.is_some() => {
                        row.first_seen = old.first_seen;
                        row.modified = Some(now_ts);
                        catalog.changes.new.push(id.clone());
                    }
                    Some(old) => {
                        row.first_seen = old.first_seen;
                        row.modified = old.modified;
                        if state.article_json(&id)?.as_deref() != Some(json.as_str()) {
                            row.modified = Some(now_ts);
                            catalog.changes.updated.push(id.clone());
                        } else {
                            catalog.changes.unchanged += 1;
                        }
                    }
                }
                let entry = entry_from(head, Some(Arc::new(article)), &row, published, tz);
                row.article_json = Some(json);
                catalog.state_updates.push(row);
                catalog.entries.push(entry);
            }
            Err(problem) => {
                catalog.problems.push(problem);
                if let Some(old) = stored.filter(|s| s.removed.is_none())
                    && let Some(head) = old.head.clone()
                {
                    let published = head.published(tz, hour);
                    catalog
                        .entries
                        .push(entry_from(head, None, old, published, tz));
                    catalog.changes.unchanged += 1;
                }
            }
        }
    }

    // When every stored article that was live is still published (the usual case),
    // none was removed: counting that is cheaper than a set of published ids.
    let live = known.values().filter(|s| s.removed.is_none()).count();
    let still_published = catalog
        .entries
        .iter()
        .map(|e| e.article.id.as_str())
        .chain(catalog.scheduled.iter().map(|(id, _)| id.as_str()))
        .filter(|id| known.get(*id).is_some_and(|s| s.removed.is_none()))
        .count();
    if still_published < live {
        let published: std::collections::HashSet<&str> = catalog
            .entries
            .iter()
            .map(|e| e.article.id.as_str())
            .chain(catalog.scheduled.iter().map(|(id, _)| id.as_str()))
            .collect();
        let mut removed: Vec<StoredArticle> = known
            .values()
            .filter(|s| s.removed.is_none() && !published.contains(s.id.as_str()))
            .cloned()
            .collect();
        removed.sort_by(|a, b| a.id.cmp(&b.id));
        for mut row in removed {
            row.removed = Some(now_ts);
            catalog.changes.removed.push(row.id.clone());
            catalog.state_updates.push(row);
        }
    }
    drop_in_background(known);

    catalog.entries = newest_first(std::mem::take(&mut catalog.entries));
    catalog.scheduled.sort();
    catalog.problems.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(catalog)
}

/// `entries` newest first, equal times by id. Sorts indexes, not the entries: an
/// entry is a few hundred bytes, and a stable sort of 10,000 of them mostly moves
/// memory.
fn newest_first(entries: Vec<Entry>) -> Vec<Entry> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (&entries[a], &entries[b]);
        b.published
            .cmp(&a.published)
            .then_with(|| a.article.id.cmp(&b.article.id))
    });
    let mut slots: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|index| {
            slots[index]
                .take()
                .expect("each index is in the order once")
        })
        .collect()
}

/// Indexes of `slots` grouped by article id, groups in id order and each group in
/// file-name order (the order of `slots`). Sorting indexes rather than moving the
/// candidates (or keeping a list per id) keeps a 10,000-seed catalog cheap.
fn group_by_id(slots: &[Option<Candidate>]) -> Vec<Vec<usize>> {
    let id = |i: usize| slots[i].as_ref().map_or("", |c| c.id.as_str());
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_unstable_by(|&a, &b| id(a).cmp(id(b)).then(a.cmp(&b)));
    order
        .chunk_by(|&a, &b| id(a) == id(b))
        .map(<[usize]>::to_vec)
        .collect()
}

impl Entry {
    /// The entry of a stored article as a build that did not parse it makes it;
    /// `published` is its head's publication time. `None` when its head cannot be
    /// read.
    pub fn stored(row: &StoredArticle, published: DateTime<Tz>, tz: Tz) -> Option<Entry> {
        let head = Arc::clone(row.head.as_ref()?);
        Some(entry_from(head, None, row, published, tz))
    }
}

/// `published` is `article.published(tz, hour)`, which the caller has computed.
fn entry_from(
    article: Arc<ArticleHead>,
    full: Option<Arc<Article>>,
    row: &StoredArticle,
    published: DateTime<Tz>,
    tz: Tz,
) -> Entry {
    let modified = row
        .modified
        .and_then(|t| tz.timestamp_opt(t, 0).single())
        .filter(|m| *m > published);
    Entry {
        updated: modified.unwrap_or(published),
        first_seen: Utc
            .timestamp_opt(row.first_seen, 0)
            .single()
            .unwrap_or_default(),
        published,
        article,
        full,
        source_hash: row.content_hash.clone(),
    }
}

/// One entry of the seeds folder. Small: a build lists thousands.
#[derive(Debug)]
struct SeedFile {
    name: String,
    /// What `stat` said of the file itself (a link is followed) while listing, or
    /// why it could not.
    stat: std::io::Result<SeedStat>,
    /// See [`stat_key`]; empty when there is none, or until the listing is keyed.
    stat_key: String,
}

#[derive(Debug, Clone, Copy)]
struct SeedStat {
    kind: FileKind,
    len: u64,
    version: Option<FileVersion>,
    /// See [`changed_at`].
    changed: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    File,
    Folder,
    Other,
}

impl SeedStat {
    fn of(metadata: &std::fs::Metadata) -> SeedStat {
        SeedStat {
            kind: match (metadata.is_file(), metadata.is_dir()) {
                (true, _) => FileKind::File,
                (_, true) => FileKind::Folder,
                _ => FileKind::Other,
            },
            len: metadata.len(),
            version: FileVersion::of(metadata),
            changed: changed_at(metadata),
        }
    }
}

impl SeedFile {
    fn version(&self) -> Option<FileVersion> {
        self.stat.as_ref().ok().and_then(|s| s.version)
    }

    fn copy(&self) -> SeedFile {
        SeedFile {
            name: self.name.clone(),
            stat: match &self.stat {
                Ok(stat) => Ok(*stat),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            },
            stat_key: self.stat_key.clone(),
        }
    }
}

/// Every non-hidden `*.txt` entry of the seeds folder with its metadata, sorted by
/// name. Entries whose names are not UTF-8 are returned with a lossy name so they
/// get reported. `on_every_core`: `stat` them on every core (when nothing else
/// runs beside the listing: a `stat` costs microseconds, and there are thousands).
fn list_seed_files(dir: &Path, on_every_core: bool) -> Result<Vec<SeedFile>, CatalogError> {
    let wrap = |source| CatalogError::Seeds {
        path: dir.to_path_buf(),
        source,
    };
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(wrap)? {
        let entry = entry.map_err(wrap)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_seed_name(&name) {
            seeds.push((name, entry));
        } else {
            tracing::debug!("{name}: not a seed (seeds are non-hidden *.txt files), ignored");
        }
    }
    // Names in a folder are unique, so an unstable sort gives the same order.
    seeds.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let seed_file = |(name, entry): &(String, std::fs::DirEntry)| {
        let is_link = entry.file_type().map_or(true, |t| t.is_symlink());
        // A plain file's metadata is read relative to the open folder, without
        // resolving the whole path again.
        let metadata = if is_link {
            std::fs::metadata(entry.path())
        } else {
            entry.metadata()
        };
        SeedFile {
            name: name.clone(),
            stat: metadata.map(|m| SeedStat::of(&m)),
            stat_key: String::new(),
        }
    };
    if !on_every_core {
        return Ok(seeds.iter().map(seed_file).collect());
    }
    // In runs of files: a `stat` is too short to hand out one by one. Several runs per
    // core, so a core that another thread keeps busy takes fewer of them.
    let chunks: Vec<&[(String, std::fs::DirEntry)]> = seeds
        .chunks(seeds.len().div_ceil(8 * worker_count()).max(1))
        .collect();
    Ok(map_in_parallel(&chunks, |chunk| {
        chunk.iter().map(seed_file).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect())
}

fn read_candidate(
    config: &Config,
    rules: &str,
    known: &HashMap<String, StoredArticle>,
    file: &SeedFile,
    listed_from: std::time::SystemTime,
) -> Result<Candidate, SeedError> {
    let name = file.name.as_str();
    let id = seed_id(name)?;
    // Only regular files are read: a FIFO would block the build forever, and a
    // device or folder is not an article.
    let stat = file.stat.as_ref().map_err(|e| {
        SeedError::new(
            name,
            None,
            format!("cannot read the file: {e}"),
            "check that it is a readable regular file (not a broken or looping link)",
        )
    })?;
    if stat.kind != FileKind::File {
        let what = match stat.kind {
            FileKind::Folder => "a folder",
            _ => "not a regular file",
        };
        return Err(SeedError::new(
            name,
            None,
            format!("this is {what}, not a seed file"),
            "move it out of the seeds folder or rename it so it does not end in .txt",
        ));
    }
    if stat.len > config.seed.max_seed_bytes {
        return Err(SeedError::new(
            name,
            None,
            format!(
                "the seed is {} bytes, over the limit of {} bytes",
                stat.len, config.seed.max_seed_bytes
            ),
            "split the article, or raise `seed.max_seed_bytes` in config.toml",
        ));
    }
    // A seed changed within a clock tick of its `stat` could change again with the
    // same stamps: it gets no key (so the next build reads it) until it settles.
    let stat_key = if is_settled(stat.changed, listed_from) {
        file.stat_key.as_str()
    } else {
        ""
    };
    let live = known
        .get(&id)
        .filter(|s| s.removed.is_none() && s.source_file == name);
    // Unchanged size, inode and times: the stored article is what parsing would give.
    if let Some(stored) = live.filter(|s| !s.stat_key.is_empty() && s.stat_key == stat_key)
        && let Some(head) = stored.head.clone()
    {
        return Ok(Candidate {
            name: name.to_string(),
            id,
            hash: stored.content_hash.clone(),
            result: Ok(Parsed::Stored(head)),
            stat_key: stored.stat_key.clone(),
        });
    }
    let stat_key = stat_key.to_string();
    let bytes = std::fs::read(config.paths.seeds.join(name)).map_err(|e| {
        SeedError::new(
            name,
            None,
            format!("cannot read the file: {e}"),
            "check that it is a readable regular file (not a broken link)",
        )
    })?;
    let hash = crate::support::fingerprint::fingerprint([rules.as_bytes(), &bytes[..]]);
    let result = match live
        .filter(|s| s.content_hash == hash)
        .and_then(|s| s.head.clone())
    {
        Some(head) => Ok(Parsed::Stored(head)),
        None => parse_seed(name, &bytes, &config.seed, config.site.timezone)
            .map(|article| Parsed::Fresh(Box::new(FreshArticle::new(article)))),
    };
    Ok(Candidate {
        name: name.to_string(),
        id,
        hash,
        result,
        stat_key,
    })
}

/// Identifies a version of a file, parsed under given rules, without reading it:
/// the rules' fingerprint, then the [`file_version`](crate::support::stamp::file_version).
fn stat_key(version: FileVersion, rules: &str) -> String {
    format!("{}:{version}", &rules[..16.min(rules.len())])
}

/// Bumped whenever what [`ArticleHead`] holds changes, so stored heads are rebuilt.
const HEAD_FORMAT: u32 = 2;

/// What parsing depends on besides the bytes: the rules, the timezone and the
/// head format (hashed).
fn rules_fingerprint(config: &Config) -> String {
    let rules = format!(
        "{:?}\0{}\0{HEAD_FORMAT}\0{SHORT_SUMMARY_GRAPHEMES}",
        config.seed, config.site.timezone
    );
    crate::support::fingerprint::fingerprint([rules.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_since_names_new_edited_and_unsettled_seeds_and_notices_gone_ones() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["001_a.txt", "002_b.txt", "003_c.txt"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let listing = |dir: &Path| {
            let files = list_seed_files(dir, true).unwrap();
            let listed_from = std::time::SystemTime::now() + crate::support::stamp::SETTLED;
            SeedListing::new(files, String::new(), listed_from)
        };
        let first = listing(dir.path());
        let manifest: Vec<(String, Option<FileVersion>)> = first
            .manifest()
            .map(|(name, version)| (name.to_string(), version))
            .collect();
        assert!(manifest.iter().all(|(_, version)| version.is_some()));
        assert_eq!(first.changed_since(&manifest), (vec![], true));

        std::fs::write(dir.path().join("002_b.txt"), "edited, longer").unwrap();
        std::fs::write(dir.path().join("004_d.txt"), "new").unwrap();
        assert_eq!(
            listing(dir.path()).changed_since(&manifest),
            (vec![1, 3], true)
        );

        let mut unsettled = manifest.clone();
        unsettled[2].1 = None;
        std::fs::remove_file(dir.path().join("001_a.txt")).unwrap();
        let (changed, all_there) = listing(dir.path()).changed_since(&unsettled);
        assert_eq!(
            (changed, all_there),
            (vec![0, 1, 2], false),
            "b, c, d; a is gone"
        );
    }
}
