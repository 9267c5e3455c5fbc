//! Where rendered files go: the output folder (claimed page by page), or nowhere.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::build::output::WriteSummary;

/// Where rendered files go. `build` writes them and skips rendering what is already
/// current; `check` renders everything and writes nothing.
///
/// Every output a build makes is claimed once, which takes it out of `previous`
/// and `unclaimed`: what is left of them at the end is stale. So a page that is
/// current costs two lookups and no copy of its path.
pub(super) struct Sink {
    /// `None` for `check`.
    pub(super) root: Option<PathBuf>,
    /// Fingerprints recorded by the last build, of the outputs not claimed yet.
    pub(super) previous: HashMap<String, String>,
    /// Files present under `root` when the build began (from the build's one
    /// [`OutputListing`](crate::build::output::OutputListing), not a `stat` per page) and
    /// not claimed yet.
    pub(super) unclaimed: HashSet<String>,
    /// Outputs rendered from new fingerprints.
    pub(super) changed: Vec<(String, String)>,
    pub(super) summary: WriteSummary,
}

impl Sink {
    pub(super) fn writer(
        root: &Path,
        previous: HashMap<String, String>,
        existing: HashSet<String>,
    ) -> Sink {
        Sink {
            root: Some(root.to_path_buf()),
            previous,
            unclaimed: existing,
            changed: Vec::new(),
            summary: WriteSummary::default(),
        }
    }

    pub(super) fn dry_run() -> Sink {
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
    pub(super) fn claim(&mut self, path: &str, fingerprint: &str) -> Claim {
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
    pub(super) fn record(&mut self, path: &str, fingerprint: &str, written: bool) {
        self.count(path, written);
        self.changed
            .push((path.to_string(), fingerprint.to_string()));
    }

    /// Notes a file rendered on every build (written only if its bytes changed, so
    /// it needs no fingerprint).
    pub(super) fn count(&mut self, path: &str, written: bool) {
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
pub(super) enum Claim {
    Current,
    /// To be rendered; `on_disk`: an older version is there to be replaced.
    Stale {
        on_disk: bool,
    },
}
