//! The record of the last clean build, which lets a build that has nothing to do
//! finish without loading the catalog or rendering anything.
//!
//! A build's outputs are a function of its inputs, of the clock, and of the output
//! folder itself (a missing page is restored, a hand-edited feed rewritten). The
//! record keeps a fingerprint of each:
//! - inputs: Herald's version, the whole configuration, the templates, every seed's
//!   name and stat key (size, inode, modification and change times: any write,
//!   rename or `touch` changes it) and the frozen editions;
//! - the clock: outputs change with time only when a scheduled article or an
//!   edition falls due, so the record holds until the first of those instants;
//! - outputs: inode and times of the output folders (adding, removing or renaming a
//!   file in one changes them) and of the files that are rendered on every build.
//!
//! When all three match, a full build would leave every output as it is. The
//! record is deleted before a build writes anything and saved only after a clean
//! build has written everything, so a crash never leaves a record that claims more
//! than is true; a build with seed problems saves none, so every run reports them.
//!
//! File systems stamp changes with a clock that ticks every few milliseconds, so a
//! change made in the same tick as the one recorded would look like no change. A
//! record is therefore saved only once every stamp it covers is
//! [`SETTLED`](crate::stamp::SETTLED) old
//! (the next build saves it otherwise), like Git's "racily clean" rule.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::output::fingerprint;
use crate::stamp::{StatPrint, changed_at, file_version};
use crate::state::{FrozenEdition, StoredMemo};
use crate::templates::Templates;

/// What the build that saved the record reported, to be reported again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoSummary {
    pub published: usize,
    /// Articles held back: id and publication time (Unix seconds).
    pub scheduled: Vec<(String, i64)>,
    /// Output files the build claimed (all of them current afterwards).
    pub files: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildMemo {
    pub inputs: String,
    pub outputs: String,
    /// The clock of the build that saved it: outputs are not the same for an
    /// earlier time.
    pub valid_from: DateTime<Utc>,
    /// The first instant at which the clock alone changes the outputs.
    pub valid_until: DateTime<Utc>,
    pub summary: MemoSummary,
}

impl BuildMemo {
    /// `None` for a record this version cannot read (then it is not used).
    pub fn from_stored(stored: &StoredMemo) -> Option<BuildMemo> {
        Some(BuildMemo {
            inputs: stored.inputs.clone(),
            outputs: stored.outputs.clone(),
            valid_from: Utc.timestamp_opt(stored.valid_from, 0).single()?,
            valid_until: Utc.timestamp_opt(stored.valid_until, 0).single()?,
            summary: serde_json::from_str(&stored.summary).ok()?,
        })
    }

    pub fn to_stored(&self) -> StoredMemo {
        StoredMemo {
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            valid_from: self.valid_from.timestamp(),
            valid_until: self.valid_until.timestamp(),
            summary: serde_json::to_string(&self.summary).unwrap_or_default(),
        }
    }

    /// True when a build with `inputs` at `now` would leave the outputs as they are:
    /// same inputs, nothing fell due since (and the clock did not go back), and
    /// `outputs` (the output folder's fingerprint now) is what the recording build
    /// left.
    pub fn holds(&self, inputs: &str, outputs: &str, now: DateTime<Utc>) -> bool {
        self.inputs == inputs
            && self.valid_from <= now
            && now < self.valid_until
            && self.outputs == outputs
    }
}

/// Fingerprint of everything a build reads besides the clock and the state's own
/// records of earlier builds: `seeds` is the seeds folder's fingerprint.
pub fn inputs_fingerprint(
    config: &Config,
    templates: &Templates,
    seeds: &str,
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
        seeds.as_bytes(),
        frozen.as_bytes(),
    ])
}

/// The output folder `root` as far as a build cares: inode, size and times of
/// `root`, of its sub-folders `dirs` and of the files `files` (relative to
/// `root`), or that one is missing.
pub fn outputs_print(root: &Path, dirs: &[&str], files: &[&str]) -> StatPrint {
    let mut newest_change = 0;
    let keys: Vec<String> = std::iter::once("")
        .chain(dirs.iter().copied())
        .chain(files.iter().copied())
        .map(|relative| match std::fs::metadata(root.join(relative)) {
            Ok(metadata) => {
                newest_change = newest_change.max(changed_at(&metadata));
                format!("{relative}:{}", file_version(&metadata))
            }
            Err(e) => format!("{relative}: {}", e.kind()),
        })
        .collect();
    StatPrint {
        fingerprint: fingerprint(keys.iter().map(String::as_bytes)),
        newest_change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memo() -> BuildMemo {
        BuildMemo {
            inputs: "in".into(),
            outputs: "out".into(),
            valid_from: Utc.timestamp_opt(500, 0).unwrap(),
            valid_until: Utc.timestamp_opt(1_000, 0).unwrap(),
            summary: MemoSummary {
                published: 3,
                scheduled: vec![("later".into(), 2_000)],
                files: 12,
            },
        }
    }

    #[test]
    fn a_memo_holds_only_for_the_same_inputs_and_outputs_before_it_expires() {
        let memo = memo();
        let before = Utc.timestamp_opt(999, 0).unwrap();
        assert!(memo.holds("in", "out", before));
        assert!(!memo.holds("other", "out", before));
        assert!(!memo.holds("in", "other", before));
        assert!(!memo.holds("in", "out", memo.valid_until));
        assert!(memo.holds("in", "out", memo.valid_from));
        assert!(!memo.holds("in", "out", Utc.timestamp_opt(499, 0).unwrap()));
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

    /// Lets the file system's clock move on, so the next change gets a new stamp.
    fn settle() {
        std::thread::sleep(crate::stamp::SETTLED);
    }

    #[test]
    fn the_outputs_fingerprint_changes_when_a_file_is_added_removed_or_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pages")).unwrap();
        std::fs::write(dir.path().join("index.html"), "one").unwrap();
        let print = || outputs_print(dir.path(), &["pages"], &["index.html"]).fingerprint;
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
        std::fs::write(dir.path().join("index.html"), "two!").unwrap();
        assert_ne!(print(), removed, "a rewritten file");
        std::fs::remove_dir_all(dir.path().join("pages")).unwrap();
        assert!(
            print().len() == 64,
            "a missing folder still gives a fingerprint"
        );
    }
}
