//! Writing outputs: atomically, and only when the bytes changed.
//!
//! Each file is written to a temporary file in the same folder and renamed over the
//! old one, so a reader (a web server, a feed fetcher) sees either the old file or
//! the new one, never half of either. A file whose bytes are unchanged is not
//! touched, which keeps rebuilds cheap and modification times meaningful.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::render::paths::TAGS_DIR;

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot write {path}: {source}\n  hint: check that the output folder is writable and the disk is not full; the previous file was left intact"
)]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Replaces `path` with `bytes` unless it already holds exactly them, and returns
/// whether it wrote. `durable` also flushes the data to disk before the rename (for
/// the files that matter most after a power cut: feeds, indexes); a crash of the
/// process alone never needs it.
pub(crate) fn write_if_changed(
    path: &Path,
    bytes: &[u8],
    durable: bool,
) -> Result<bool, WriteError> {
    let exists = match std::fs::read(path) {
        Ok(existing) if existing == bytes => return Ok(false),
        Ok(_) => true,
        Err(_) => false,
    };
    let dir = create_parent(path)?;
    let created = !exists
        && create_new_atomically(dir, path, bytes, durable).map_err(|e| write_error(path, e))?;
    if !created {
        let temp = replacement(dir, path, bytes)?;
        if durable {
            temp.as_file()
                .sync_data()
                .map_err(|e| write_error(path, e))?;
        }
        put_in_place(temp, path)?;
    }
    Ok(true)
}

/// A durable replacement of a file, written but not yet in place: a temporary file
/// beside it, whose data the disk starts writing when it is staged. Flushing waits
/// for the disk, not the processor, so a build stages the files it rewrites on
/// every run, renders the pages they link to meanwhile, and only then puts them in
/// place ([`StagedFile::put_in_place`]: flush, then rename), when the flush has
/// little left to wait for. Dropped instead, the temporary file is deleted.
pub(crate) struct StagedFile {
    temp: tempfile::NamedTempFile,
    path: PathBuf,
    flushed: AtomicBool,
}

impl StagedFile {
    /// Waits until the new bytes are on disk. May run on another thread than the
    /// one that puts the file in place.
    pub(crate) fn flush(&self) -> Result<(), WriteError> {
        self.temp
            .as_file()
            .sync_data()
            .map_err(|e| write_error(&self.path, e))?;
        self.flushed.store(true, Ordering::Release);
        Ok(())
    }

    /// Renames the new bytes over the file, flushed first (if [`StagedFile::flush`]
    /// has not done it), as [`write_if_changed`] with `durable` does.
    pub(crate) fn put_in_place(self) -> Result<(), WriteError> {
        if !self.flushed.load(Ordering::Acquire) {
            self.flush()?;
        }
        put_in_place(self.temp, &self.path)
    }
}

/// Stages what [`write_if_changed`] with `durable` would write; `None` when `path`
/// already holds exactly `bytes`.
pub(crate) fn stage_if_changed(
    path: &Path,
    bytes: &[u8],
) -> Result<Option<StagedFile>, WriteError> {
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(None);
    }
    let temp = replacement(create_parent(path)?, path, bytes)?;
    start_writeback(temp.as_file());
    Ok(Some(StagedFile {
        temp,
        path: path.to_path_buf(),
        flushed: AtomicBool::new(false),
    }))
}

/// Asks the kernel to start writing `file`'s data to disk without waiting for it.
/// Only a head start for a later flush, so a failure is ignored: the flush reports
/// any real one.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: the descriptor is open (owned by `file`, borrowed for the call); the
    // call only reads its arguments.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &std::fs::File) {}

/// `path`'s folder, created if missing.
fn create_parent(path: &Path) -> Result<&Path, WriteError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| write_error(path, e))?;
    Ok(dir)
}

/// `bytes` in a new temporary file in `dir` (readable by a web server, as
/// published files must be), to be renamed over `path`.
fn replacement(
    dir: &Path,
    path: &Path,
    bytes: &[u8],
) -> Result<tempfile::NamedTempFile, WriteError> {
    let wrap = |source| write_error(path, source);
    let mut temp = tempfile::Builder::new()
        .prefix(".herald-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(wrap)?;
    temp.write_all(bytes).map_err(wrap)?;
    set_readable(temp.as_file()).map_err(wrap)?;
    Ok(temp)
}

fn put_in_place(temp: tempfile::NamedTempFile, path: &Path) -> Result<(), WriteError> {
    temp.persist(path).map_err(|e| write_error(path, e.error))?;
    Ok(())
}

fn write_error(path: &Path, source: std::io::Error) -> WriteError {
    WriteError {
        path: path.to_path_buf(),
        source,
    }
}

/// [`write_if_changed`] for a file that a listing made earlier in this run did not
/// have: it is created without first reading it to compare (a first build writes
/// 10,000 pages, and a failed open per page is a fifth of the cost of writing it).
/// Should it have appeared meanwhile, or its folder not exist yet, this is
/// [`write_if_changed`].
pub(crate) fn write_new(path: &Path, bytes: &[u8], durable: bool) -> Result<bool, WriteError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let created =
        create_new_atomically(dir, path, bytes, durable).map_err(|e| write_error(path, e))?;
    if created {
        return Ok(true);
    }
    write_if_changed(path, bytes, durable)
}

/// Creates a file that does not exist yet without a visible temporary name: the
/// data goes into an unnamed `O_TMPFILE` inode that is linked into place complete.
/// That is one directory operation instead of two (create + rename), which is most
/// of the cost of a first build. Returns `Ok(false)` when the filesystem or kernel
/// does not offer it (or the name appeared meanwhile), so the caller falls back to
/// temp file + rename; errors writing the data are real errors.
#[cfg(target_os = "linux")]
fn create_new_atomically(
    dir: &Path,
    path: &Path,
    bytes: &[u8],
    durable: bool,
) -> std::io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let Ok(mut file) = std::fs::OpenOptions::new()
        .write(true)
        .mode(0o644)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
    else {
        return Ok(false);
    };
    file.write_all(bytes)?;
    if durable {
        file.sync_data()?;
    }
    let Ok(target) = CString::new(path.as_os_str().as_bytes()) else {
        return Ok(false);
    };
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `file`, which outlives the calls;
    // both paths are valid NUL-terminated C strings.
    let linked = unsafe {
        libc::linkat(
            fd,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::AT_EMPTY_PATH,
        ) == 0
            || {
                let proc_path = CString::new(format!("/proc/self/fd/{fd}")).unwrap_or_default();
                libc::linkat(
                    libc::AT_FDCWD,
                    proc_path.as_ptr(),
                    libc::AT_FDCWD,
                    target.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                ) == 0
            }
    };
    Ok(linked)
}

#[cfg(not(target_os = "linux"))]
fn create_new_atomically(_: &Path, _: &Path, _: &[u8], _: bool) -> std::io::Result<bool> {
    Ok(false)
}

/// Temp files are created 0600; published files must be readable by a web server.
#[cfg(unix)]
fn set_readable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// The files found under an output root when a build starts. One listing serves
/// the whole build: which pages exist, which are stale, and leftover temp files.
#[derive(Debug, Default)]
pub(crate) struct OutputListing {
    /// Regular files directly in the listed folders, relative to the root and
    /// `/`-separated (`articles/<id>.html`), as outputs are named.
    pub files: std::collections::HashSet<String>,
    /// Temporary files a killed build left behind that were removed.
    pub temp_files_removed: usize,
}

/// Lists the regular files directly in `root/<dir>` for each of `dirs` and in each
/// tag's folder under [`TAGS_DIR`], and removes
/// temporary files a killed build left behind (`.herald-*.tmp`) in `root` and its
/// immediate subfolders. Temp files are never served: their names start with a dot.
pub(crate) fn scan_outputs(root: &Path, dirs: &[&str]) -> OutputListing {
    let mut listing = OutputListing::default();
    let mut folders = vec![(root.to_path_buf(), None)];
    if let Ok(entries) = std::fs::read_dir(root) {
        folders.extend(
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let listed = dirs.contains(&name.as_str()).then_some(name);
                    (e.path(), listed)
                }),
        );
    }
    for (folder, listed) in folders {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if is_temp_file(&name) {
                if std::fs::remove_file(entry.path()).is_ok() {
                    listing.temp_files_removed += 1;
                }
            } else if let Some(dir) = &listed
                && entry.file_type().is_ok_and(|t| t.is_file())
            {
                listing.files.insert(format!("{dir}/{name}"));
            }
        }
    }
    let tag_folders = dirs.contains(&TAGS_DIR).then(|| tag_folder_files(root));
    for (path, entry) in tag_folders.into_iter().flatten() {
        if !is_temp_file(&entry.file_name().to_string_lossy()) {
            listing.files.insert(path);
        } else if std::fs::remove_file(entry.path()).is_ok() {
            listing.temp_files_removed += 1;
        }
    }
    listing
}

/// A temporary file an interrupted build left behind.
fn is_temp_file(name: &str) -> bool {
    name.starts_with(".herald-") && name.ends_with(".tmp")
}

/// The folders in `dir` (none when it cannot be read), in no particular order.
pub(crate) fn folders_in(dir: &Path) -> impl Iterator<Item = std::fs::DirEntry> + use<> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries.filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
}

/// The regular files in each tag's folder (`tags/<slug>/<file>`), each with its
/// output path.
fn tag_folder_files(root: &Path) -> impl Iterator<Item = (String, std::fs::DirEntry)> {
    folders_in(&root.join(TAGS_DIR)).flat_map(|folder| {
        let slug = folder.file_name().to_string_lossy().into_owned();
        let files = std::fs::read_dir(folder.path())
            .into_iter()
            .flatten()
            .flatten();
        files
            .filter(|file| file.file_type().is_ok_and(|t| t.is_file()))
            .map(move |file| {
                let name = file.file_name();
                (
                    format!("{TAGS_DIR}/{slug}/{}", name.to_string_lossy()),
                    file,
                )
            })
    })
}

/// The outputs in `root/tags` (the tags index and each tag's files) as a build
/// lists them, without touching anything.
pub(crate) fn tag_outputs(root: &Path) -> std::collections::HashSet<String> {
    let index = std::fs::metadata(root.join(crate::render::paths::TAGS_INDEX))
        .is_ok_and(|m| m.is_file())
        .then(|| crate::render::paths::TAGS_INDEX.to_string());
    let files = tag_folder_files(root)
        .map(|(path, _)| path)
        .filter(|path| !is_temp_file(path.rsplit('/').next().unwrap_or_default()));
    index.into_iter().chain(files).collect()
}

/// What writing a set of outputs did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct WriteSummary {
    pub written: usize,
    pub unchanged: usize,
    pub deleted: usize,
    /// The feeds whose bytes changed (paths under the output folder): what WebSub
    /// hubs are told about.
    pub feeds_written: Vec<String>,
}

/// Deletes the files of `unclaimed` (relative to `root`, as [`scan_outputs`] lists
/// them: what the listing found that no output of this build claimed) with
/// one of the extensions `exts` (outputs of articles, years, editions or archive
/// pages that no longer exist). Files written since the listing was made are not in
/// it, so they are all kept.
pub(crate) fn delete_stale(
    root: &Path,
    unclaimed: &std::collections::HashSet<String>,
    exts: &[&str],
) -> Result<usize, WriteError> {
    let mut deleted = 0;
    for relative in unclaimed {
        let extension = Path::new(relative).extension();
        if extension.is_some_and(|e| exts.iter().any(|ext| e == *ext)) {
            let path = root.join(relative);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    deleted += 1;
                    // A tag's folder goes with its last file (this fails while
                    // others remain).
                    if relative.matches('/').count() > 1
                        && let Some(folder) = path.parent()
                    {
                        let _ = std::fs::remove_dir(folder);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(WriteError { path, source }),
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect()
    }

    #[test]
    fn unchanged_files_are_not_rewritten_and_no_temp_files_remain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.xml");
        assert!(write_if_changed(&path, b"one", true).unwrap());
        assert!(!write_if_changed(&path, b"one", false).unwrap());
        assert!(write_if_changed(&path, b"two", false).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names_in(&dir.path().join("a")), ["b.xml"]);
    }

    #[test]
    fn a_staged_file_replaces_the_old_one_only_when_put_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds/atom.xml");
        assert!(write_if_changed(&path, b"old", true).unwrap());
        assert!(
            stage_if_changed(&path, b"old").unwrap().is_none(),
            "same bytes"
        );

        let staged = stage_if_changed(&path, b"new").unwrap().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old", "not in place yet");
        assert_eq!(names_in(&dir.path().join("feeds")).len(), 2, "a temp file");
        staged.put_in_place().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");

        // Flushed on another thread, then put in place.
        let staged = stage_if_changed(&path, b"newer").unwrap().unwrap();
        std::thread::scope(|s| s.spawn(|| staged.flush()).join().unwrap()).unwrap();
        staged.put_in_place().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"newer");

        // Abandoned: the old file stays and the temp file goes.
        drop(stage_if_changed(&path, b"never").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"newer");
        assert_eq!(names_in(&dir.path().join("feeds")), ["atom.xml"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_staged_file_creates_its_folder_and_is_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/index.html");
        stage_if_changed(&path, b"page")
            .unwrap()
            .unwrap()
            .put_in_place()
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"page");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn a_new_file_is_created_with_its_folder_and_an_existing_one_is_compared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/page.html");
        assert!(write_new(&path, b"one", false).unwrap(), "folder created");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        // Listed as absent, but there by now: compared, not clobbered blindly.
        assert!(!write_new(&path, b"one", false).unwrap());
        assert!(write_new(&path, b"two", false).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names_in(&dir.path().join("new")), ["page.html"]);
    }

    #[test]
    fn stale_outputs_are_deleted_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        write_if_changed(&dir.path().join("articles/a.html"), b"a", false).unwrap();
        write_if_changed(&dir.path().join("articles/gone.html"), b"x", false).unwrap();
        write_if_changed(&dir.path().join("articles/notes.txt"), b"x", false).unwrap();
        write_if_changed(&dir.path().join("other/b.html"), b"x", false).unwrap();
        let temp = dir.path().join("articles/.herald-123.tmp");
        std::fs::write(&temp, b"half").unwrap();
        let listing = scan_outputs(dir.path(), &["articles"]);
        assert_eq!(listing.temp_files_removed, 1);
        assert!(!temp.exists());
        let mut unclaimed = listing.files;
        assert!(unclaimed.remove("articles/a.html"));
        assert_eq!(delete_stale(dir.path(), &unclaimed, &["html"]).unwrap(), 1);
        assert!(dir.path().join("articles/a.html").exists());
        assert!(dir.path().join("articles/notes.txt").exists());
        assert!(!dir.path().join("articles/gone.html").exists());
        // Folders not listed are left alone.
        assert!(dir.path().join("other/b.html").exists());
    }

    #[test]
    fn tag_folders_are_listed_one_level_deeper_and_emptied_folders_go() {
        let dir = tempfile::tempdir().unwrap();
        for path in [
            "tags/index.html",
            "tags/ai/atom.xml",
            "tags/晶片/index.html",
        ] {
            write_if_changed(&dir.path().join(path), b"x", false).unwrap();
        }
        let temp = dir.path().join("tags/ai/.herald-9.tmp");
        std::fs::write(&temp, b"half").unwrap();
        let expected: std::collections::HashSet<String> = [
            "tags/index.html",
            "tags/ai/atom.xml",
            "tags/晶片/index.html",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            tag_outputs(dir.path()),
            expected,
            "listing alone removes nothing"
        );
        assert!(temp.exists());
        let listing = scan_outputs(dir.path(), &[TAGS_DIR]);
        assert_eq!((listing.files, listing.temp_files_removed), (expected, 1));
        assert!(!temp.exists());
        let gone = ["tags/晶片/index.html".to_string()].into();
        assert_eq!(delete_stale(dir.path(), &gone, &["html"]).unwrap(), 1);
        assert!(!dir.path().join("tags/晶片").exists());
        assert!(dir.path().join("tags/ai").exists());
    }
}
