//! An append-only temporary file for bytes a run sets aside and reads back later,
//! so that what it holds does not count against the process's memory.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes written once and read back any number of times, from any thread. The file
/// has no name (it disappears with the process, even one that is killed), and its
/// pages live in the operating system's cache rather than in the process.
pub struct Spill {
    file: File,
    end: AtomicU64,
    dir: std::path::PathBuf,
}

/// Where [`Spill::put`] left some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillRef {
    at: u64,
    len: u32,
}

impl Spill {
    /// A new, empty spill file in `dir`.
    pub(crate) fn create_in(dir: &Path) -> io::Result<Spill> {
        Ok(Spill {
            file: tempfile::tempfile_in(dir)?,
            end: AtomicU64::new(0),
            dir: dir.to_path_buf(),
        })
    }

    /// The folder the file is in (for messages).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `bytes`; threads may put at the same time (each reserves its range).
    pub(crate) fn put(&self, bytes: &[u8]) -> io::Result<SpillRef> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "over 4 GiB at once"))?;
        let at = self.end.fetch_add(u64::from(len), Ordering::Relaxed);
        self.file.write_all_at(bytes, at)?;
        Ok(SpillRef { at, len })
    }

    /// The bytes `place` names, as they were put.
    pub(crate) fn get(&self, place: SpillRef) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; place.len as usize];
        self.file.read_exact_at(&mut bytes, place.at)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_put_from_many_threads_reads_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create_in(dir.path()).unwrap();
        let places: Vec<(String, SpillRef)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|t| {
                    let spill = &spill;
                    scope.spawn(move || {
                        (0..200)
                            .map(|i| {
                                let text = format!("執行緒 {t} 第 {i} 段 ").repeat(i % 7 + 1);
                                let place = spill.put(text.as_bytes()).unwrap();
                                (text, place)
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
        for (text, place) in places {
            assert_eq!(spill.get(place).unwrap(), text.as_bytes());
        }
        assert!(spill.put(b"").is_ok(), "an empty put is allowed");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no name");
    }
}
