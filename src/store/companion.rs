//! Files kept beside the state file (`herald.sqlite-catalog`, …): caches too large or
//! too often rewritten for SQLite's log, each replaced whole.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The companion of the state file `state` named by `suffix`, in SQLite's manner
/// (`herald.sqlite-catalog` beside `herald.sqlite-wal`).
pub(crate) fn companion_path(state: &Path, suffix: &str) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Replaces the file at `path` with `parts`, one after another, atomically: they are
/// written to a temporary file beside it (private to its owner, as the state is),
/// which is then renamed over it.
pub(crate) fn replace_companion(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    for part in parts {
        temp.write_all(part)?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
