//! The seeds folder listed and every seed `stat`ed: what tells a build which seeds
//! it must read again and which it can take from the state as they are.

use std::path::{Path, PathBuf};

use crate::article::SHORT_SUMMARY_GRAPHEMES;
use crate::config::Config;
use crate::content::seed::{is_seed_name, seed_id};
use crate::store::StateError;
use crate::support::fingerprint::Fingerprinter;
use crate::support::parallel::worker_count;
use crate::support::stamp::{FileVersion, StampClock, changed_at, is_settled};

/// Why the seeds could not be surveyed: the folder, or the state beside it.
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

/// A [`SeedListing`] being taken on another thread ([`SeedListing::start`]).
pub(crate) struct PendingListing(std::thread::JoinHandle<Result<SeedListing, CatalogError>>);

impl PendingListing {
    /// Waits for the listing; a panic while listing is raised again here.
    pub(crate) fn wait(self) -> Result<SeedListing, CatalogError> {
        self.0
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// The seeds folder listed, every seed `stat`ed and keyed under the parsing rules.
pub(crate) struct SeedListing {
    pub(super) files: Vec<SeedFile>,
    pub(super) rules: String,
    /// The clocks just before the seeds were `stat`ed.
    pub(super) listed_at: StampClock,
    /// The seeds folder's own version just before it was read: a new one means
    /// a seed was added, removed or renamed since.
    pub(crate) folder: Option<FileVersion>,
    /// [`SeedListing::seeds_print`], worked out once: a build asks for it several
    /// times, and it hashes every seed.
    print: std::sync::OnceLock<Option<SeedsPrint>>,
}

impl SeedListing {
    /// Lists the seeds folder, `stat`ing its files on every core, on threads of its
    /// own: the caller opens the state and loads the templates meanwhile, and the
    /// listing is most of what a build with nothing to do waits for.
    pub(crate) fn start(config: &Config) -> PendingListing {
        let dir = config.paths.seeds.clone();
        let rules = rules_fingerprint(config);
        PendingListing(std::thread::spawn(move || {
            let folder = std::fs::metadata(&dir)
                .ok()
                .and_then(|m| FileVersion::of(&m));
            let listed_at = StampClock::read_for(&dir);
            let files = list_seed_files(&dir)?;
            let mut listing = SeedListing::new(files, rules, listed_at);
            listing.folder = folder;
            Ok(listing)
        }))
    }

    pub(super) fn new(files: Vec<SeedFile>, rules: String, listed_at: StampClock) -> Self {
        SeedListing {
            files,
            rules,
            listed_at,
            folder: None,
            print: std::sync::OnceLock::new(),
        }
    }

    /// Gives every file its stat key, which reconciling compares with the state's.
    pub(super) fn keyed(mut self) -> SeedListing {
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
    pub(crate) fn manifest(&self) -> impl Iterator<Item = (&str, Option<FileVersion>)> {
        self.files.iter().map(|f| {
            let settled = (f.stat.as_ref()).is_ok_and(|s| is_settled(s.changed, self.listed_at));
            (f.name.as_str(), f.version().filter(|_| settled))
        })
    }

    /// The seeds whose name or version is not in `recorded` (a [`manifest`] of an
    /// earlier listing, by name), and whether every seed of `recorded` is still
    /// there.
    ///
    /// [`manifest`]: SeedListing::manifest
    pub(crate) fn changed_since(
        &self,
        recorded: &[(String, Option<FileVersion>)],
    ) -> (Vec<usize>, bool) {
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
    pub(crate) fn subset(&self, indexes: &[usize]) -> SeedListing {
        let files = indexes.iter().map(|&i| self.files[i].copy()).collect();
        SeedListing::new(files, self.rules.clone(), self.listed_at).keyed()
    }

    /// The article ids and names of the files at `indexes`; `None` when one has
    /// no id.
    pub(crate) fn ids(&self, indexes: &[usize]) -> Option<Vec<(String, String)>> {
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
    pub(crate) fn seeds_print(&self) -> Option<SeedsPrint> {
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
pub(crate) struct SeedsPrint {
    pub fingerprint: String,
    /// No seed changed within [`SETTLED`](crate::support::stamp::SETTLED) of the listing.
    pub settled: bool,
}

/// One entry of the seeds folder. Small: a build lists thousands.
#[derive(Debug)]
pub(super) struct SeedFile {
    pub(super) name: String,
    /// What `stat` said of the file itself (a link is followed) while listing, or
    /// why it could not.
    pub(super) stat: std::io::Result<SeedStat>,
    /// See [`stat_key`]; empty when there is none, or until the listing is keyed.
    pub(super) stat_key: String,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct SeedStat {
    pub(super) kind: FileKind,
    pub(super) len: u64,
    pub(super) version: Option<FileVersion>,
    /// See [`changed_at`].
    pub(super) changed: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileKind {
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
/// name, `stat`ed on every core (a `stat` costs microseconds, and there are
/// thousands). Entries whose names are not UTF-8 are returned with a lossy name so
/// they get reported.
pub(super) fn list_seed_files(dir: &Path) -> Result<Vec<SeedFile>, CatalogError> {
    let wrap = |source| CatalogError::Seeds {
        path: dir.to_path_buf(),
        source,
    };
    let entries = std::fs::read_dir(dir).map_err(wrap)?;
    stat_while_listing(entries, worker_count() - 1).map_err(wrap)
}

/// Reading a large folder takes a while (the kernel hands out a few hundred names
/// per call), so `helpers` threads `stat` the names already read while this one
/// reads the rest, then joins them (with no helpers, it `stat`s them all itself
/// once the folder is read). Runs of names, not single ones: a `stat` is too short
/// to hand out one at a time. Each thread sorts what it `stat`ed by name and the
/// sorted parts are merged: sorting 10,000 names at once was a tenth of a listing.
fn stat_while_listing(entries: std::fs::ReadDir, helpers: usize) -> std::io::Result<Vec<SeedFile>> {
    const RUN: usize = 256;
    let (sender, receiver) = std::sync::mpsc::channel::<Vec<(String, std::fs::DirEntry)>>();
    let receiver = std::sync::Mutex::new(receiver);
    let next_run = || receiver.lock().ok()?.recv().ok();
    let stat_runs = || {
        let mut done = Vec::new();
        while let Some(run) = next_run() {
            done.extend(run.into_iter().map(seed_file));
        }
        // Names in a folder are unique, so an unstable sort gives the same order.
        done.sort_unstable_by(|a: &SeedFile, b| a.name.cmp(&b.name));
        done
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..helpers).map(|_| scope.spawn(stat_runs)).collect();
        let mut run = Vec::with_capacity(RUN);
        let mut failure = None;
        for entry in entries {
            match entry {
                Ok(entry) => run.extend(seed_entry(entry)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if run.len() == RUN {
                let _ = sender.send(std::mem::replace(&mut run, Vec::with_capacity(RUN)));
            }
        }
        let _ = sender.send(run);
        drop(sender);
        let mut seeds = stat_runs();
        for worker in workers {
            let theirs = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            seeds = merge_by_name(seeds, theirs);
        }
        failure.map_or(Ok(seeds), Err)
    })
}

/// Two lists sorted by name, as one.
fn merge_by_name(a: Vec<SeedFile>, b: Vec<SeedFile>) -> Vec<SeedFile> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        let next = if x.name <= y.name { a.next() } else { b.next() };
        merged.extend(next);
    }
    merged.extend(a);
    merged.extend(b);
    merged
}

/// The entry with its name, when the name is a seed's; other names are logged.
fn seed_entry(entry: std::fs::DirEntry) -> Option<(String, std::fs::DirEntry)> {
    let name = (entry.file_name().into_string())
        .unwrap_or_else(|name| name.to_string_lossy().into_owned());
    if is_seed_name(&name) {
        Some((name, entry))
    } else {
        tracing::debug!("{name}: not a seed (seeds are non-hidden *.txt files), ignored");
        None
    }
}

fn seed_file((name, entry): (String, std::fs::DirEntry)) -> SeedFile {
    let is_link = entry.file_type().map_or(true, |t| t.is_symlink());
    // A plain file's metadata is read relative to the open folder, without
    // resolving the whole path again.
    let metadata = if is_link {
        std::fs::metadata(entry.path())
    } else {
        entry.metadata()
    };
    SeedFile {
        name,
        stat: metadata.map(|m| SeedStat::of(&m)),
        stat_key: String::new(),
    }
}

/// Identifies a version of a file, parsed under given rules, without reading it:
/// the rules' fingerprint, then the [`file_version`](crate::support::stamp::file_version).
pub(super) fn stat_key(version: FileVersion, rules: &str) -> String {
    format!("{}:{version}", &rules[..16.min(rules.len())])
}

/// Bumped whenever what [`ArticleHead`] holds changes, so stored heads are rebuilt.
const HEAD_FORMAT: u32 = 4;

/// What parsing depends on besides the bytes: the rules, the timezone and the
/// head format (hashed).
pub(super) fn rules_fingerprint(config: &Config) -> String {
    let rules = format!(
        "{:?}\0{}\0{HEAD_FORMAT}\0{SHORT_SUMMARY_GRAPHEMES}",
        config.seed, config.site.timezone
    );
    crate::support::fingerprint::fingerprint([rules.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn changed_since_names_new_edited_and_unsettled_seeds_and_notices_gone_ones() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["001_a.txt", "002_b.txt", "003_c.txt"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let listing = |dir: &Path| {
            let files = list_seed_files(dir).unwrap();
            let later = std::time::SystemTime::now() + crate::support::stamp::SETTLED;
            SeedListing::new(files, String::new(), StampClock::wall(later))
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

    #[test]
    fn a_large_folder_lists_every_seed_sorted_with_its_stat() {
        let dir = tempfile::tempdir().unwrap();
        // More seeds than one run of names, and names that are not seeds.
        let mut expected = Vec::new();
        for i in (0..700).rev() {
            let name = format!("{i:04}_s{i}.txt");
            std::fs::write(dir.path().join(&name), "x".repeat(i)).unwrap();
            expected.push((name, i as u64));
        }
        expected.sort();
        for other in [".hidden.txt", "notes.md", "draft.txt~"] {
            std::fs::write(dir.path().join(other), "not a seed").unwrap();
        }
        std::os::unix::fs::symlink("0003_s3.txt", dir.path().join("0800_link.txt")).unwrap();
        expected.push(("0800_link.txt".to_string(), 3));
        let sizes = |files: Vec<SeedFile>| -> Vec<(String, u64)> {
            let sizes = files.into_iter().map(|f| (f.name, f.stat.unwrap().len));
            sizes.collect()
        };
        assert_eq!(sizes(list_seed_files(dir.path()).unwrap()), expected);
        for helpers in [0, 3] {
            let listed = stat_while_listing(std::fs::read_dir(dir.path()).unwrap(), helpers);
            assert_eq!(sizes(listed.unwrap()), expected, "{helpers} helpers");
        }
    }

    #[test]
    fn sorted_parts_merge_in_name_order() {
        let files = |names: &[&str]| -> Vec<SeedFile> {
            (names.iter())
                .map(|name| SeedFile {
                    name: name.to_string(),
                    stat: Err(std::io::Error::other("not stated")),
                    stat_key: String::new(),
                })
                .collect()
        };
        let names =
            |files: Vec<SeedFile>| -> Vec<String> { files.into_iter().map(|f| f.name).collect() };
        let merged = merge_by_name(
            files(&["001_a.txt", "004_d.txt"]),
            files(&["002_b.txt", "003_c.txt", "005_e.txt"]),
        );
        assert_eq!(
            names(merged),
            [
                "001_a.txt",
                "002_b.txt",
                "003_c.txt",
                "004_d.txt",
                "005_e.txt"
            ]
        );
        assert_eq!(
            names(merge_by_name(files(&[]), files(&["001_a.txt"]))),
            ["001_a.txt"]
        );
    }
}
