//! Seed folder + state → the [`Catalog`] of articles to publish.
//!
//! This is where identity is decided: which file owns an id, which articles are
//! new, updated, unchanged or removed, and which are held back because they are
//! dated in the future. A broken seed never takes anything else down with it: it is
//! reported, and if its id was already published the last good version stays up.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::article::{Article, ArticleHead};
use crate::config::Config;
pub use crate::content::listing::CatalogError;
use crate::content::listing::{FileKind, PendingListing, SeedFile};
pub(crate) use crate::content::listing::{SeedListing, SeedsPrint};
use crate::content::seed::{Parsed as ParsedSeed, SeedError, parse_seed_with_warnings, seed_id};
use crate::store::bodies::{BodyFile, BodyRef, article_record};
use crate::store::{RowBody, RowSaver, State, StoredArticle};
use crate::support::parallel::{drop_in_background, map_in_parallel};
use crate::support::stamp::{StampClock, is_settled};

/// An article that is published, with the times every output agrees on.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Shared with the state's row when the article is unchanged.
    pub article: Arc<ArticleHead>,
    /// The whole article when this run parsed it and kept it; `None` when it is the
    /// stored version (whose body the state keeps, fetched only for what is
    /// rendered) or was written to the body file in this run (`written`).
    pub full: Option<Arc<Article>>,
    /// Where in the state's body file ([`Streaming::bodies`]) this run put the
    /// article it parsed (rendering reads it back from there).
    pub written: Option<BodyRef>,
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
pub(crate) struct Changes {
    pub new: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    pub removed: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// Published articles, newest first.
    pub entries: Vec<Entry>,
    /// Articles dated in the future: `(id, publication time)`.
    pub scheduled: Vec<(String, DateTime<Tz>)>,
    pub problems: Vec<SeedError>,
    /// Seeds published with something their editor should fix (a derived title).
    pub warnings: Vec<SeedError>,
    pub changes: Changes,
    /// State rows that differ from what is stored, for the caller to save; empty
    /// when [`collect`] streamed them to a saver as it read the seeds.
    pub state_updates: Vec<StoredArticle>,
}

impl Catalog {
    /// The entry whose column introduction is the site description: the newest
    /// article that has one.
    pub(crate) fn column_intro_entry(&self) -> Option<usize> {
        self.entries.iter().position(|e| e.article.has_column_intro)
    }
}

/// What a seed file yielded.
enum Parsed {
    /// Parsed in this run.
    Fresh(Box<FreshArticle>),
    /// The stored version is current (same file, same bytes, same rules): its head.
    Stored(Arc<ArticleHead>),
}

struct FreshArticle {
    body: FreshBody,
    head: Arc<ArticleHead>,
    warnings: Vec<SeedError>,
}

/// Where the body of an article parsed in this run waits for rendering.
enum FreshBody {
    /// In memory, in the catalog.
    Kept(Article),
    /// Serialised (what the state stores) and written to the state's body file;
    /// the record is kept until the article is reconciled (an edit is told by
    /// comparing it with the stored one).
    Written {
        record: Vec<u8>,
        /// Where the JSON starts in `record`.
        json_at: usize,
        place: BodyRef,
    },
}

impl FreshBody {
    /// The article as the state stores it.
    fn json(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            FreshBody::Kept(article) => serde_json::to_vec(article).unwrap_or_default().into(),
            FreshBody::Written {
                record, json_at, ..
            } => record[*json_at..].into(),
        }
    }
}

impl FreshArticle {
    /// With `bodies`, the body (of article `id`'s version `hash`) is written there;
    /// if that fails (a full disk), it stays in memory: the build goes on, only
    /// bigger. `seed_len`: the size of the seed file, which the article's JSON is
    /// about (its text less the boilerplate, plus the field names).
    fn new(
        parsed: ParsedSeed,
        (id, hash): (&str, &str),
        seed_len: usize,
        bodies: Option<&BodyFile>,
    ) -> FreshArticle {
        let article = parsed.article;
        let head = Arc::new(article.head());
        let body = match bodies {
            None => FreshBody::Kept(article),
            Some(bodies) => {
                let written = article_record((id, hash), &article, seed_len + 512)
                    .and_then(|(record, json_at)| Ok((bodies.append(&record)?, record, json_at)));
                match written {
                    Ok((place, record, json_at)) => FreshBody::Written {
                        record,
                        json_at,
                        place,
                    },
                    Err(error) => {
                        tracing::warn!(
                            "keeping an article in memory: cannot write it to {}: {error}",
                            bodies.path().display()
                        );
                        FreshBody::Kept(article)
                    }
                }
            }
        };
        FreshArticle {
            body,
            head,
            warnings: parsed.warnings,
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

/// The seeds folder listed and the articles the state knows: what a build reads
/// before it decides anything.
pub(crate) struct Survey {
    listing: SeedListing,
    known: HashMap<String, StoredArticle>,
}

impl Survey {
    /// Lists the seeds while the state's articles load: the two wait on different
    /// things, so they overlap.
    pub(crate) fn take(config: &Config, state: &State) -> Result<Survey, CatalogError> {
        Survey::of_pending(SeedListing::start(config), state)
    }

    /// `listing`, already under way, with the state's articles, loaded meanwhile.
    pub(crate) fn of_pending(
        listing: PendingListing,
        state: &State,
    ) -> Result<Survey, CatalogError> {
        let known = state.articles()?;
        Ok(Survey::of(listing.wait()?, known))
    }

    /// `listing` with the state's articles.
    pub(crate) fn of_listing(listing: SeedListing, state: &State) -> Result<Survey, CatalogError> {
        Ok(Survey::of(listing, state.articles()?))
    }

    /// `listing` with what the state knows of the articles it could hold: a build
    /// that reconciles only some seeds passes only their articles.
    pub(crate) fn of(listing: SeedListing, known: HashMap<String, StoredArticle>) -> Survey {
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

    pub(crate) fn listing(&self) -> &SeedListing {
        &self.listing
    }
}

/// Reconciles every seed of `survey` (read on every core) with what the state
/// knows.
pub(crate) fn collect(
    config: &Config,
    state: &State,
    survey: Survey,
    now: DateTime<Utc>,
    streaming: Option<Streaming<'_>>,
) -> Result<Catalog, CatalogError> {
    let saver = streaming.as_ref().map(|s| s.saver);
    let bodies = streaming.as_ref().map(|s| s.bodies);
    let Survey {
        listing:
            SeedListing {
                files,
                rules,
                listed_at,
                ..
            },
        known,
    } = survey;
    let mut catalog = Catalog::default();
    // Grouped by id (the name says it) before any file is read, so the files can be
    // read and reconciled a batch at a time: with a saver, a batch's articles are
    // dropped once it has them, and memory does not grow with the archive's text.
    let mut keyed: Vec<(String, usize)> = Vec::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        match seed_id(&file.name) {
            Ok(id) => keyed.push((id, index)),
            Err(problem) => catalog.problems.push(problem),
        }
    }
    keyed.sort_unstable();
    let groups: Vec<&[(String, usize)]> = keyed.chunk_by(|a, b| a.0 == b.0).collect();
    catalog.entries.reserve(keyed.len());
    let mut reconciler = Reconciler {
        state,
        known: &known,
        tz: config.site.timezone,
        hour: config.site.publish_hour,
        now,
        edit_instants: EditInstants::from(now.timestamp()),
    };
    let now_ts = now.timestamp();
    for batch in groups.chunks(BATCH_GROUPS) {
        let indexes: Vec<usize> = batch.iter().flat_map(|g| g.iter().map(|k| k.1)).collect();
        let mut read = map_in_parallel(&indexes, |&index| {
            read_candidate(config, &rules, &known, &files[index], listed_at, bodies)
        })
        .into_iter();
        for group in batch {
            let mut candidates = Vec::with_capacity(group.len());
            for candidate in read.by_ref().take(group.len()) {
                match candidate {
                    Ok(candidate) => candidates.push(candidate),
                    Err(problem) => catalog.problems.push(problem),
                }
            }
            if !candidates.is_empty() {
                reconciler.reconcile(&mut catalog, candidates)?;
            }
        }
        if let Some(saver) = saver {
            saver.save(std::mem::take(&mut catalog.state_updates));
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
    if let Some(saver) = saver {
        saver.save(std::mem::take(&mut catalog.state_updates));
    }
    drop_in_background(known);

    catalog.entries = newest_first(std::mem::take(&mut catalog.entries));
    catalog.scheduled.sort();
    catalog.problems.sort_by(|a, b| a.file.cmp(&b.file));
    catalog.warnings.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(catalog)
}

/// How a full build reads the seeds with memory that does not grow with the
/// archive's text: each article parsed is serialised once and written to the
/// state's body file `bodies` (rendering reads it back from there), and its row,
/// which names it, is handed to `saver`, a batch at a time.
pub(crate) struct Streaming<'a> {
    pub saver: &'a RowSaver,
    pub bodies: &'a BodyFile,
}

/// Seeds read and reconciled at a time: a batch of ~11 KB articles is a few MB.
const BATCH_GROUPS: usize = 256;

/// Decides, for one article id at a time, what its seed files give: see
/// [`Reconciler::reconcile`].
struct Reconciler<'a> {
    state: &'a State,
    known: &'a HashMap<String, StoredArticle>,
    tz: Tz,
    hour: u32,
    now: DateTime<Utc>,
    edit_instants: EditInstants,
}

impl Reconciler<'_> {
    /// Adds to `catalog` what the seed files of one id (`candidates`, in file-name
    /// order, at least one) give: its entry, held-back date or problems, and the
    /// state row to save.
    fn reconcile(
        &mut self,
        catalog: &mut Catalog,
        mut candidates: Vec<Candidate>,
    ) -> Result<(), CatalogError> {
        let (tz, hour, now, state) = (self.tz, self.hour, self.now, self.state);
        let now_ts = now.timestamp();
        let id = candidates[0].id.clone();
        let stored = self.known.get(&id);
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
                let Some(old) = stored else { return Ok(()) };
                let published = head.published(tz, hour);
                if published.with_timezone(&Utc) > now {
                    catalog.scheduled.push((id, published));
                    return Ok(());
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
                    body,
                    head,
                    warnings,
                } = *fresh;
                catalog.warnings.extend(warnings);
                let published = head.published(tz, hour);
                if published.with_timezone(&Utc) > now {
                    catalog.scheduled.push((id, published));
                    return Ok(());
                }
                let mut row = StoredArticle {
                    id: id.clone(),
                    source_file: owner.name.clone(),
                    content_hash: owner.hash.clone(),
                    stat_key: owner.stat_key.clone(),
                    head: Some(Arc::clone(&head)),
                    article: None,
                    first_seen: now_ts,
                    modified: None,
                    removed: None,
                };
                match stored {
                    None => catalog.changes.new.push(id.clone()),
                    Some(old) if old.removed.is_some() => {
                        row.first_seen = old.first_seen;
                        row.modified = Some(self.edit_instants.next());
                        catalog.changes.new.push(id.clone());
                    }
                    Some(old) => {
                        row.first_seen = old.first_seen;
                        row.modified = old.modified;
                        let json = body.json();
                        let stored = state.article_json(&id)?;
                        if stored.as_ref().map(String::as_bytes) != Some(json.as_ref()) {
                            row.modified = Some(self.edit_instants.next());
                            catalog.changes.updated.push(id.clone());
                        } else {
                            catalog.changes.unchanged += 1;
                        }
                    }
                }
                let entry = match body {
                    FreshBody::Kept(article) => {
                        let article = Arc::new(article);
                        row.article = Some(RowBody::Parsed(Arc::clone(&article)));
                        entry_from(head, Some(article), &row, published, tz)
                    }
                    FreshBody::Written { place, .. } => {
                        row.article = Some(RowBody::Stored(place));
                        Entry {
                            written: Some(place),
                            ..entry_from(head, None, &row, published, tz)
                        }
                    }
                };
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
        Ok(())
    }
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

impl Entry {
    /// The entry of a stored article as a build that did not parse it makes it;
    /// `published` is its head's publication time. `None` when its head cannot be
    /// read.
    pub(crate) fn stored(row: &StoredArticle, published: DateTime<Tz>, tz: Tz) -> Option<Entry> {
        let head = Arc::clone(row.head.as_ref()?);
        Some(entry_from(head, None, row, published, tz))
    }
}

/// The instants recorded for the articles one build finds edited: the build's time
/// for the first, then one second earlier for each next one. Atom readers order
/// entries by `updated`, and the W3C feed validator warns (DuplicateUpdated) about
/// two entries sharing one, which a batch edit would otherwise always produce.
/// Counting down keeps every instant at or before the build's time.
struct EditInstants {
    next: i64,
}

impl EditInstants {
    fn from(now_ts: i64) -> Self {
        Self { next: now_ts }
    }

    fn next(&mut self) -> i64 {
        self.next -= 1;
        self.next + 1
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
        written: None,
    }
}

/// The bytes of the seed at `path`, which the listing found `len` bytes long: the
/// buffer is sized from that, where `std::fs::read` asks for the size again (one of
/// the five calls that reading a seed took). A seed that changed since is read to
/// its end all the same.
fn read_seed(path: &std::path::Path, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    // One byte to spare, so the read that finds the end needs no larger buffer.
    // (`File::read_to_end` would ask for the size itself.)
    let mut bytes = vec![0; usize::try_from(len).unwrap_or(0).saturating_add(1)];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            bytes.resize(bytes.len() * 2, 0);
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

fn read_candidate(
    config: &Config,
    rules: &str,
    known: &HashMap<String, StoredArticle>,
    file: &SeedFile,
    listed_at: StampClock,
    bodies: Option<&BodyFile>,
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
    let stat_key = if is_settled(stat.changed, listed_at) {
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
    let bytes = read_seed(&config.paths.seeds.join(name), stat.len).map_err(|e| {
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
        None => parse_seed_with_warnings(name, &bytes, &config.seed, config.site.timezone).map(
            |parsed| {
                let fresh = FreshArticle::new(parsed, (&id, &hash), bytes.len(), bodies);
                Parsed::Fresh(Box::new(fresh))
            },
        ),
    };
    Ok(Candidate {
        name: name.to_string(),
        id,
        hash,
        result,
        stat_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_is_read_whole_whatever_size_the_listing_saw() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("001_a.txt");
        let text = "date: 2026-01-05\n標題\n".repeat(300);
        std::fs::write(&path, &text).unwrap();
        let len = text.len() as u64;
        for listed in [len, 0, 1, len - 1, len + 1, len * 3] {
            assert_eq!(
                read_seed(&path, listed).unwrap(),
                text.as_bytes(),
                "{listed}"
            );
        }
        std::fs::write(&path, "").unwrap();
        assert!(read_seed(&path, len).unwrap().is_empty());
        assert!(read_seed(&dir.path().join("missing.txt"), 0).is_err());
    }
}
