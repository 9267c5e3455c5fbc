//! The record of the last complete build, which lets a build that has nothing to do
//! finish without loading the catalog or rendering anything, and one that has a
//! few new or edited seeds render only what they change.
//!
//! A build's outputs are a function of its inputs, of the clock, and of the output
//! folder itself (a missing page is restored, a hand-edited feed rewritten). The
//! record keeps a fingerprint of each:
//! - inputs: Herald's version, the whole configuration, the templates and the
//!   frozen editions (the settings); every seed's name and file version (size,
//!   inode, modification and change times: any write, rename or `touch` changes it);
//! - the clock: outputs change with time only when a scheduled article or an
//!   edition falls due, so the record applies until the first of those instants;
//! - outputs: inode and times of the output folders (adding, removing or renaming a
//!   file in one changes them) and of the files that are rendered on every build.
//!
//! When all three match, a full build would leave every output as it is. When only
//! some seeds differ, the record's [`CatalogSnapshot`] (the recorded catalog
//! without its texts) lets the build work out which outputs they change without
//! loading every article (`publish::incremental`).
//!
//! The record is deleted before a build writes anything and saved only after a
//! build has written everything, so a crash never leaves a record that claims more
//! than is true. A build that skipped broken seeds saves their problems with it:
//! the next build with nothing to do reports them as a full build would (a cron job
//! beside a broken seed stays as cheap as one without), and one with changes gets
//! a full build.
//!
//! File systems stamp changes with a clock that ticks every few milliseconds, so a
//! change made in the same tick as one recorded would look like no change (Git's
//! "racily clean" files). A stamp that could still be shared with a later change
//! (younger than a tick of the clock that made it, where that clock is known; younger
//! than [`SETTLED`](crate::support::stamp::SETTLED) where not: see
//! [`is_settled`](crate::support::stamp::is_settled)) is therefore not trusted: such
//! a seed is recorded without a version (the next build reads it again), and a
//! record whose output stamps are that young is marked not
//! [`settled`](BuildMemo::settled): it never lets a build skip everything, and when
//! its output folders' stamps are that young too, an incremental build lists the
//! output folders instead of trusting their stamps.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::build::output::folders_in;
use crate::config::Config;
use crate::content::seed::SeedError;
use crate::render::templates::Templates;
use crate::store::{FrozenEdition, StoredMemo};
use crate::support::fingerprint::fingerprint;
use crate::support::stamp::{FileVersion, StatPrint, changed_at, file_version};

/// What the build that saved the record reported, to be reported again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemoSummary {
    pub published: usize,
    /// Articles held back: id and publication time (Unix seconds).
    pub scheduled: Vec<(String, i64)>,
    /// Output files the build claimed (all of them current afterwards).
    pub files: usize,
    /// The seeds it skipped, with why: a build with nothing to do reports them
    /// again (every run reports a broken seed until it is mended), and a record
    /// with any never lets a build go incremental (a broken seed can hide a second
    /// file for an id, which the snapshot cannot tell).
    #[serde(default)]
    pub problems: Vec<SeedError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuildMemo {
    /// Fingerprint of the inputs besides the seeds ([`settings_fingerprint`]).
    pub settings: String,
    /// Fingerprint of the seeds folder
    /// ([`SeedListing::seeds_print`](crate::content::catalog::SeedListing::seeds_print)).
    pub seeds: String,
    pub outputs: String,
    /// The clock of the build that saved it: outputs are not the same for an
    /// earlier time.
    pub valid_from: DateTime<Utc>,
    /// The first instant at which the clock alone changes the outputs.
    pub valid_until: DateTime<Utc>,
    pub summary: MemoSummary,
    /// Every stamp `seeds` and `outputs` cover was settled
    /// ([`is_settled`](crate::support::stamp::is_settled)) when the record was saved.
    /// A record that is not does not let a build skip everything: a change made in
    /// the same clock tick could hide behind a stamp.
    pub settled: bool,
    /// The output folders whose stamps were not settled: an incremental build lists
    /// them. The others' stamps, unchanged, show that no page was added, removed or
    /// renamed in them since. (The files rendered on every build, written last, are
    /// often not settled, and the folders they are in with them; an incremental
    /// build renders those files again and compares their bytes.)
    pub unsettled_folders: Vec<String>,
    /// The seeds folder's own version when it was listed
    /// ([`SeedListing::folder`](crate::content::catalog::SeedListing::folder)), empty
    /// when unknown. Only a hint: another one means seeds were added, removed or
    /// renamed, so the build will not find everything unchanged.
    pub seeds_folder: String,
}

impl BuildMemo {
    /// `None` for a record this version cannot read (then it is not used).
    pub(crate) fn from_stored(stored: &StoredMemo) -> Option<BuildMemo> {
        Some(BuildMemo {
            settings: stored.settings.clone(),
            seeds: stored.seeds.clone(),
            outputs: stored.outputs.clone(),
            valid_from: Utc.timestamp_opt(stored.valid_from, 0).single()?,
            valid_until: Utc.timestamp_opt(stored.valid_until, 0).single()?,
            summary: serde_json::from_str(&stored.summary).ok()?,
            settled: stored.settled,
            unsettled_folders: (stored.unsettled_folders.split('\n'))
                .filter(|folder| !folder.is_empty())
                .map(str::to_string)
                .collect(),
            seeds_folder: stored.seeds_folder.clone(),
        })
    }

    pub(crate) fn to_stored(&self) -> StoredMemo {
        StoredMemo {
            settings: self.settings.clone(),
            seeds: self.seeds.clone(),
            outputs: self.outputs.clone(),
            valid_from: self.valid_from.timestamp(),
            valid_until: self.valid_until.timestamp(),
            summary: serde_json::to_string(&self.summary).unwrap_or_default(),
            settled: self.settled,
            unsettled_folders: self.unsettled_folders.join("\n"),
            seeds_folder: self.seeds_folder.clone(),
        }
    }

    /// True when the record describes a build with `settings` at `now`: same
    /// settings, and nothing fell due since (nor did the clock go back). Then only
    /// seeds and the output folder can have changed.
    pub(crate) fn applies(&self, settings: &str, now: DateTime<Utc>) -> bool {
        self.settings == settings && self.valid_from <= now && now < self.valid_until
    }

    /// True when a build that [applies](BuildMemo::applies) has nothing to do: the
    /// seeds folder's fingerprint (`seeds`, from a settled listing) and the output
    /// folder's (`outputs`) are what the recording build saw, settled.
    pub(crate) fn holds(&self, seeds: &str, outputs: &str) -> bool {
        self.settled && self.seeds == seeds && self.outputs == outputs
    }
}

/// Fingerprint of everything a build reads besides the seeds, the clock and the
/// state's own records of earlier builds.
pub(crate) fn settings_fingerprint(
    config: &Config,
    templates: &Templates,
    frozen: &[FrozenEdition],
) -> String {
    // The whole configuration, not only what is known to shape outputs today: a
    // setting that does not is merely a needless full build when it changes.
    let config = format!("{config:?}");
    let frozen = format!("{frozen:?}");
    fingerprint([
        env!("CARGO_PKG_VERSION").as_bytes(),
        config.as_bytes(),
        templates.fingerprint().as_bytes(),
        frozen.as_bytes(),
    ])
}

/// The output folder `root` as far as a build cares: inode, size and times of
/// `root`, of its sub-folders `dirs` (and of the folders in those of `nested`: a
/// file removed from one changes its stamps, not its parent's) and of the files
/// `files` (relative to `root`), or that one is missing.
pub(crate) fn outputs_print(
    root: &Path,
    dirs: &[&str],
    nested: &[&str],
    files: &[&str],
) -> StatPrint {
    let mut newest_change = 0;
    let mut folder_changes = Vec::new();
    let mut keys = Vec::new();
    let mut add = |relative: &str, metadata: std::io::Result<std::fs::Metadata>| {
        let key = match metadata {
            Ok(metadata) => {
                let changed = changed_at(&metadata);
                newest_change = newest_change.max(changed);
                format!("{relative}:{}", file_version(&metadata))
            }
            Err(e) => format!("{relative}: {}", e.kind()),
        };
        keys.push(key);
    };
    add("", std::fs::metadata(root));
    for dir in dirs {
        let path = root.join(dir);
        let metadata = std::fs::metadata(&path);
        let mut changed = metadata.as_ref().map_or(0, changed_at);
        add(dir, metadata);
        if nested.contains(dir) {
            for (name, metadata) in sub_folders(&path) {
                changed = changed.max(changed_at(&metadata));
                add(&format!("{dir}/{name}"), Ok(metadata));
            }
        }
        folder_changes.push((dir.to_string(), changed));
    }
    for file in files {
        add(file, std::fs::metadata(root.join(file)));
    }
    StatPrint {
        fingerprint: fingerprint(keys.iter().map(String::as_bytes)),
        newest_change,
        folder_changes,
    }
}

/// The folders in `dir` with their metadata, by name (none when it cannot be read).
fn sub_folders(dir: &Path) -> Vec<(String, std::fs::Metadata)> {
    let mut folders: Vec<_> = folders_in(dir)
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            Some((entry.file_name().to_string_lossy().into_owned(), metadata))
        })
        .collect();
    folders.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    folders
}

/// What the record keeps of the recorded build's catalog: every seed's version,
/// and of every published article what decides its place and its page's
/// fingerprint, but not its text. A build whose only change is a few seeds reads
/// this (about a megabyte for 10,000 articles) instead of every article.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CatalogSnapshot {
    /// `Prepared::site_fingerprint` of the recorded build: what every page shares.
    pub site: String,
    /// Every seed file, by name (see
    /// [`SeedListing::manifest`](crate::content::catalog::SeedListing::manifest)).
    pub seeds: Vec<(String, Option<FileVersion>)>,
    /// The published articles, newest first. Shared: an incremental build keeps
    /// the recorded list beside the merged one, which holds all but a few of them.
    pub entries: Vec<Arc<SnapshotEntry>>,
    /// The subject every published edition is listed under, by week (`2026-W04`).
    pub subjects: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotEntry {
    pub id: String,
    /// Unix seconds, as [`Entry`](crate::content::catalog::Entry) has them.
    pub published: i64,
    pub first_seen: i64,
    pub title: String,
    /// The fingerprint of what the article shows (`article_fingerprint`): what its
    /// page, its year's page and its edition's page were rendered from.
    pub article: String,
    pub has_column_intro: bool,
    /// Its tags, as written (what tag pages group by).
    pub tags: Vec<String>,
}

/// Bumped whenever the snapshot's layout changes (an older one is then not used).
const SNAPSHOT_FORMAT: u32 = 5;

impl CatalogSnapshot {
    /// A compact binary form: strings length-prefixed, numbers little-endian.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 * (self.entries.len() + self.seeds.len()));
        let put = |out: &mut Vec<u8>, text: &str| {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        };
        out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
        put(&mut out, &self.site);
        out.extend_from_slice(&(self.seeds.len() as u32).to_le_bytes());
        for (name, version) in &self.seeds {
            put(&mut out, name);
            match version {
                Some(version) => {
                    out.push(1);
                    out.extend_from_slice(&version.to_bytes());
                }
                None => out.push(0),
            }
        }
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            put(&mut out, &e.id);
            put(&mut out, &e.title);
            for time in [e.published, e.first_seen] {
                out.extend_from_slice(&time.to_le_bytes());
            }
            put(&mut out, &e.article);
            out.push(u8::from(e.has_column_intro));
            out.extend_from_slice(&(e.tags.len() as u32).to_le_bytes());
            for tag in &e.tags {
                put(&mut out, tag);
            }
        }
        out.extend_from_slice(&(self.subjects.len() as u32).to_le_bytes());
        for (week, subject) in &self.subjects {
            put(&mut out, week);
            put(&mut out, subject);
        }
        out
    }

    /// `None` for bytes this version did not write (or that were damaged).
    pub(crate) fn decode(bytes: &[u8]) -> Option<CatalogSnapshot> {
        let mut reader = SnapshotReader { rest: bytes };
        if reader.u32()? != SNAPSHOT_FORMAT {
            return None;
        }
        let site = reader.string()?;
        let seeds = reader.list(|reader| {
            let name = reader.string()?;
            let version = match reader.byte()? {
                0 => None,
                _ => Some(FileVersion::from_bytes(
                    reader.take(FileVersion::BYTES)?.try_into().ok()?,
                )),
            };
            Some((name, version))
        })?;
        let entries = reader.list(|reader| {
            Some(Arc::new(SnapshotEntry {
                id: reader.string()?,
                title: reader.string()?,
                published: reader.i64()?,
                first_seen: reader.i64()?,
                article: reader.string()?,
                has_column_intro: reader.byte()? != 0,
                tags: reader.list(SnapshotReader::string)?,
            }))
        })?;
        let subjects = reader.list(|reader| Some((reader.string()?, reader.string()?)))?;
        reader.rest.is_empty().then_some(CatalogSnapshot {
            site,
            seeds,
            entries,
            subjects,
        })
    }
}

struct SnapshotReader<'a> {
    rest: &'a [u8],
}

impl<'a> SnapshotReader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(taken)
    }

    /// A count, then that many items. The list is sized once from the count (a
    /// snapshot's lists run to tens of thousands: growing them would copy each
    /// several times), as far as the bytes left could hold.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let count = self.u32()? as usize;
        let mut items = Vec::with_capacity(count.min(self.rest.len()));
        for _ in 0..count {
            items.push(item(self)?);
        }
        Some(items)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memo() -> BuildMemo {
        BuildMemo {
            settings: "in".into(),
            seeds: "seeds".into(),
            outputs: "out".into(),
            valid_from: Utc.timestamp_opt(500, 0).unwrap(),
            valid_until: Utc.timestamp_opt(1_000, 0).unwrap(),
            summary: MemoSummary {
                published: 3,
                scheduled: vec![("later".into(), 2_000)],
                files: 12,
                problems: vec![SeedError::new(
                    "009_broken.txt",
                    Some(3),
                    "no date line",
                    "add one",
                )],
            },
            settled: true,
            unsettled_folders: vec!["pages".into(), "more".into()],
            seeds_folder: "folder".into(),
        }
    }

    #[test]
    fn a_memo_applies_for_the_same_settings_before_it_expires_and_holds_when_settled() {
        let mut memo = memo();
        let before = Utc.timestamp_opt(999, 0).unwrap();
        assert!(memo.applies("in", before));
        assert!(!memo.applies("other", before));
        assert!(!memo.applies("in", memo.valid_until));
        assert!(memo.applies("in", memo.valid_from));
        assert!(!memo.applies("in", Utc.timestamp_opt(499, 0).unwrap()));
        assert!(memo.holds("seeds", "out"));
        assert!(!memo.holds("other", "out"));
        assert!(!memo.holds("seeds", "other"));
        memo.settled = false;
        assert!(
            !memo.holds("seeds", "out"),
            "an unsettled record never holds"
        );
    }

    #[test]
    fn a_stored_memo_reads_back_and_an_unreadable_one_is_ignored() {
        let memo = memo();
        assert_eq!(
            BuildMemo::from_stored(&memo.to_stored()),
            Some(memo.clone())
        );
        let mut broken = memo.to_stored();
        broken.summary = "{".into();
        assert_eq!(BuildMemo::from_stored(&broken), None);
    }

    #[test]
    fn a_snapshot_decodes_to_what_was_encoded_and_damaged_bytes_to_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("001_a.txt"), "a").unwrap();
        let version = FileVersion::of(&std::fs::metadata(dir.path().join("001_a.txt")).unwrap());
        assert!(version.is_some());
        let snapshot = CatalogSnapshot {
            site: "site".into(),
            seeds: vec![("001_a.txt".into(), version), ("b\n.txt".into(), None)],
            entries: vec![Arc::new(SnapshotEntry {
                id: "a".into(),
                published: -5,
                first_seen: 7,
                title: "標題".into(),
                article: "article".into(),
                has_column_intro: true,
                tags: vec!["AI".into(), "晶片".into()],
            })],
            subjects: vec![("2026-W04".into(), "第 4 週：標題".into())],
        };
        let bytes = snapshot.encode();
        assert_eq!(CatalogSnapshot::decode(&bytes), Some(snapshot));
        assert_eq!(CatalogSnapshot::decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(CatalogSnapshot::decode(&longer), None);
        assert_eq!(CatalogSnapshot::decode(&[]), None);
    }

    /// Lets the file system's clock move on, so the next change gets a new stamp.
    fn settle() {
        std::thread::sleep(crate::support::stamp::SETTLED);
    }

    #[test]
    fn the_outputs_fingerprint_changes_when_a_file_is_added_removed_or_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pages")).unwrap();
        std::fs::write(dir.path().join("index.html"), "one").unwrap();
        let print = || outputs_print(dir.path(), &["pages"], &[], &["index.html"]).fingerprint;
        let first = print();
        assert_eq!(print(), first, "nothing changed");
        settle();
        std::fs::write(dir.path().join("pages/a.html"), "a").unwrap();
        let added = print();
        assert_ne!(added, first, "a file added to a listed folder");
        settle();
        std::fs::remove_file(dir.path().join("pages/a.html")).unwrap();
        let removed = print();
        assert_ne!(removed, added, "a file removed");
        settle();
        let folders = outputs_print(dir.path(), &["pages"], &[], &["index.html"]).folder_changes;
        assert_eq!(folders.len(), 1);
        std::fs::write(dir.path().join("index.html"), "two!").unwrap();
        assert_ne!(print(), removed, "a rewritten file");
        let rewritten = outputs_print(dir.path(), &["pages"], &[], &["index.html"]);
        assert_eq!(rewritten.folder_changes, folders, "files are not folders");
        assert!(rewritten.newest_change > folders[0].1);
        std::fs::remove_dir_all(dir.path().join("pages")).unwrap();
        assert!(
            print().len() == 64,
            "a missing folder still gives a fingerprint"
        );
    }
}
