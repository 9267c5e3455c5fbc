//! `herald.sqlite-bodies`: the articles' texts, beside the state file.
//!
//! Each article the state stores has a body (the parsed article as JSON). In SQLite
//! those bodies cost a full build more than anything else the state does: 40 MB for
//! 10,000 articles written to the log, then again into the database, through a page
//! cache too small to hold them. Here each body is appended once, where the run
//! that parsed the article also reads it back to render its page (this file is the
//! full build's only copy of the texts it has parsed), and the article's row
//! records where it is.
//!
//! The contract with the rows: a row names a body only once the body is on disk
//! (every writer flushes this file before it commits), and bytes are only ever
//! appended, so whatever a committed row names stays readable. Each record starts
//! with its article's id and source fingerprint, so a row never gets another
//! article's text, even from a file that was replaced or cut short: such a body
//! reads as missing. Appends from different processes are serialised by an
//! exclusive lock on the file, held by [`BodyFile`] from opening until dropped.
//!
//! Unlike the caches beside the state, this file holds the only copy of a removed
//! article's text (a sent edition still shows it): back it up with the state.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::companion::companion_path;
use crate::article::Article;

/// The suffix naming the body file beside the state file.
pub(crate) const BODIES_SUFFIX: &str = "-bodies";

/// Where one body is: the whole record, header included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRef {
    pub(crate) at: u64,
    pub(crate) len: u32,
}

impl BodyRef {
    /// As the row stores it (SQLite's integers are signed).
    pub(crate) fn columns(self) -> (i64, i64) {
        (self.at as i64, i64::from(self.len))
    }

    /// From a row's columns; `None` when they name no body (or an impossible one).
    pub(crate) fn from_columns(at: Option<i64>, len: Option<i64>) -> Option<BodyRef> {
        Some(BodyRef {
            at: u64::try_from(at?).ok()?,
            len: u32::try_from(len?).ok()?,
        })
    }
}

/// The state's body file, open for appending (and reading back) by one process at
/// a time.
pub(crate) struct BodyFile {
    file: File,
    end: AtomicU64,
    path: PathBuf,
}

impl BodyFile {
    /// Opens the body file of the state file `state`, creating it (private to its
    /// owner, as the state is), and waits for its lock: until this is dropped, no
    /// other process appends to it or empties it.
    pub(crate) fn open(state: &Path) -> io::Result<BodyFile> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        let path = companion_path(state, BODIES_SUFFIX);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?;
        // SAFETY: the descriptor is open (owned by `file`) for the whole call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let end = file.metadata()?.len();
        Ok(BodyFile {
            file,
            end: AtomicU64::new(end),
            path,
        })
    }

    /// Empties the file: for one whose bytes belong to a state that is gone (no
    /// stored row names a body in it), which the caller asks while it holds the lock.
    pub(crate) fn empty(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        *self.end.get_mut() = 0;
        Ok(())
    }

    /// Whether nothing was ever appended (or it was emptied).
    pub(crate) fn is_empty(&self) -> bool {
        self.end.load(Ordering::Relaxed) == 0
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` (made by [`start_record`], the JSON written after it);
    /// threads may append at the same time (each reserves its range).
    pub(crate) fn append(&self, record: &[u8]) -> io::Result<BodyRef> {
        let len = u32::try_from(record.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a body over 4 GiB"))?;
        let at = self.end.fetch_add(u64::from(len), Ordering::Relaxed);
        self.file.write_all_at(record, at)?;
        Ok(BodyRef { at, len })
    }

    /// Waits until what was appended is on disk: called before committing rows
    /// that name it.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// The JSON of the body at `place`, if it is article `id`'s version `hash`.
    pub(crate) fn read(&self, place: BodyRef, id: &str, hash: &str) -> io::Result<Option<String>> {
        read_body(&self.file, place, id, hash)
    }
}

/// A new record for article `id`'s version `hash`: the header, to which the caller
/// writes the JSON (`capacity`: about how long it will be).
pub(crate) fn start_record(id: &str, hash: &str, capacity: usize) -> Vec<u8> {
    let mut record = Vec::with_capacity(id.len() + hash.len() + 2 + capacity);
    record.extend_from_slice(id.as_bytes());
    record.push(b' ');
    record.extend_from_slice(hash.as_bytes());
    record.push(b'\n');
    record
}

/// The record of `article` as article `id`'s version `hash`, and where its JSON
/// starts in it, in one allocation of about `capacity` bytes (the article's JSON is
/// about its seed's size) rather than the doublings a growing buffer takes.
pub(crate) fn article_record(
    (id, hash): (&str, &str),
    article: &Article,
    capacity: usize,
) -> io::Result<(Vec<u8>, usize)> {
    let mut record = start_record(id, hash, capacity);
    let json_at = record.len();
    serde_json::to_writer(&mut record, article)?;
    Ok((record, json_at))
}

/// Reads the body at `place` from `file`: `None` when the bytes there are not
/// article `id`'s version `hash` (or are not there at all).
pub(crate) fn read_body(
    file: &File,
    place: BodyRef,
    id: &str,
    hash: &str,
) -> io::Result<Option<String>> {
    let mut record = vec![0; place.len as usize];
    match file.read_exact_at(&mut record, place.at) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let header = id.len() + hash.len() + 2;
    let matches = record.len() >= header
        && record.starts_with(id.as_bytes())
        && record[id.len()] == b' '
        && &record[id.len() + 1..header - 1] == hash.as_bytes()
        && record[header - 1] == b'\n';
    if !matches {
        return Ok(None);
    }
    record.drain(..header);
    Ok(crate::support::utf8::string_from_utf8(record))
}

/// The body file of `state` opened for reading, if there is one.
pub(crate) fn open_for_reading(state: &Path) -> io::Result<Option<File>> {
    match File::open(companion_path(state, BODIES_SUFFIX)) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, hash: &str, json: &str) -> Vec<u8> {
        let mut record = start_record(id, hash, json.len());
        record.extend_from_slice(json.as_bytes());
        record
    }

    #[test]
    fn bodies_appended_from_many_threads_read_back_as_their_own_article() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        let file = BodyFile::open(&state).unwrap();
        let places: Vec<(String, String, BodyRef)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|t| {
                    let file = &file;
                    scope.spawn(move || {
                        (0..200)
                            .map(|i| {
                                let id = format!("{t:02}{i:04}");
                                let json = format!("{{\"段\":\"執行緒 {t} 第 {i} 段\"}}");
                                let place = file.append(&record(&id, "h1", &json)).unwrap();
                                (id, json, place)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        file.flush().unwrap();
        let reader = open_for_reading(&state).unwrap().unwrap();
        for (id, json, place) in &places {
            assert_eq!(
                file.read(*place, id, "h1").unwrap().as_deref(),
                Some(&json[..])
            );
            assert_eq!(
                read_body(&reader, *place, id, "h1").unwrap().as_deref(),
                Some(&json[..])
            );
            assert_eq!(
                file.read(*place, id, "h2").unwrap(),
                None,
                "another version"
            );
        }
        let (_, _, first) = &places[0];
        let (other, _, _) = &places[1];
        assert_eq!(
            file.read(*first, other, "h1").unwrap(),
            None,
            "another article"
        );
        let beyond = BodyRef {
            at: first.at + 1_000_000,
            len: first.len,
        };
        assert_eq!(
            file.read(beyond, &places[0].0, "h1").unwrap(),
            None,
            "past the end"
        );
    }

    #[test]
    fn a_file_reopened_is_appended_to_after_its_end_and_an_emptied_one_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        let place = {
            let file = BodyFile::open(&state).unwrap();
            file.append(&record("a", "h", "{}")).unwrap()
        };
        {
            let file = BodyFile::open(&state).unwrap();
            assert_eq!(file.read(place, "a", "h").unwrap().as_deref(), Some("{}"));
            let next = file.append(&record("b", "h", "[]")).unwrap();
            assert_eq!(next.at, u64::from(place.len), "appended after the first");
        }
        let mut file = BodyFile::open(&state).unwrap();
        assert!(!file.is_empty());
        file.empty().unwrap();
        assert!(file.is_empty());
        assert_eq!(file.read(place, "a", "h").unwrap(), None);
        assert_eq!(file.append(&record("c", "h", "{}")).unwrap().at, 0);
        let mode = std::fs::metadata(file.path()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o077, 0, "private to its owner");
    }

    #[test]
    fn a_second_writer_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        let first = BodyFile::open(&state).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = state.clone();
        let second = std::thread::spawn(move || {
            let file = BodyFile::open(&path).unwrap();
            tx.send(()).unwrap();
            file.append(&record("b", "h", "{}")).unwrap()
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "the second opened while the first held the lock"
        );
        let a = first.append(&record("a", "h", "{}")).unwrap();
        drop(first);
        let b = second.join().unwrap();
        assert_eq!(
            b.at,
            u64::from(a.len),
            "the second appended after the first's body"
        );
    }
}
