//! What `stat` says about files, for noticing changes without reading them.

/// How old the newest recorded change must be for a record to be saved: well over
/// the timestamp granularity of local Linux file systems (a kernel tick, at most
/// 10 ms).
pub const SETTLED: std::time::Duration = std::time::Duration::from_millis(50);

/// A fingerprint of files as `stat` sees them, with the newest change it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatPrint {
    pub fingerprint: String,
    /// The latest modification or change time among the files, in nanoseconds since
    /// the Unix epoch.
    pub newest_change: i128,
}

impl StatPrint {
    /// True when no change it covers is younger than [`SETTLED`] at `now`.
    pub(crate) fn is_settled(&self, now: std::time::SystemTime) -> bool {
        is_settled(self.newest_change, now)
    }
}

/// True when a change stamped `changed` (see [`changed_at`]) is at least
/// [`SETTLED`] old at `now`: a later change cannot get the same stamp.
pub(crate) fn is_settled(changed: i128, now: std::time::SystemTime) -> bool {
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    now - changed >= SETTLED.as_nanos() as i128
}

/// Identifies a version of a file without reading it: size, inode, and modification
/// and change times in nanoseconds (a rewrite, a rename over it or a `touch` all
/// change it). Empty where there are no inodes: then nothing can be said without
/// reading the file.
pub(crate) fn file_version(metadata: &std::fs::Metadata) -> String {
    FileVersion::of(metadata).map_or_else(String::new, |v| v.to_string())
}

/// [`file_version`] as numbers: compared and stored without formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileVersion {
    size: u64,
    inode: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileVersion {
    /// `None` where there are no inodes.
    pub(crate) fn of(metadata: &std::fs::Metadata) -> Option<FileVersion> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileVersion {
                size: metadata.len(),
                inode: metadata.ino(),
                modified: (metadata.mtime(), metadata.mtime_nsec()),
                changed: (metadata.ctime(), metadata.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            None
        }
    }

    pub(crate) const BYTES: usize = 48;

    pub(crate) fn to_bytes(self) -> [u8; FileVersion::BYTES] {
        let mut out = [0; FileVersion::BYTES];
        let fields = [
            self.size.to_le_bytes(),
            self.inode.to_le_bytes(),
            self.modified.0.to_le_bytes(),
            self.modified.1.to_le_bytes(),
            self.changed.0.to_le_bytes(),
            self.changed.1.to_le_bytes(),
        ];
        for (chunk, field) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&field);
        }
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8; FileVersion::BYTES]) -> FileVersion {
        let field = |i: usize| {
            let mut eight = [0; 8];
            eight.copy_from_slice(&bytes[8 * i..8 * i + 8]);
            eight
        };
        FileVersion {
            size: u64::from_le_bytes(field(0)),
            inode: u64::from_le_bytes(field(1)),
            modified: (i64::from_le_bytes(field(2)), i64::from_le_bytes(field(3))),
            changed: (i64::from_le_bytes(field(4)), i64::from_le_bytes(field(5))),
        }
    }
}

impl std::fmt::Display for FileVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}.{}:{}.{}",
            self.size, self.inode, self.modified.0, self.modified.1, self.changed.0, self.changed.1
        )
    }
}

/// The later of the modification and change times, in nanoseconds since the epoch.
pub(crate) fn changed_at(metadata: &std::fs::Metadata) -> i128 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let nanos = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        nanos(metadata.mtime(), metadata.mtime_nsec())
            .max(nanos(metadata.ctime(), metadata.ctime_nsec()))
    }
    #[cfg(not(unix))]
    {
        metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_print_is_settled_only_once_its_newest_change_is_old_enough() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(100);
        let print = StatPrint {
            fingerprint: String::new(),
            newest_change: 100_000_000_000,
        };
        assert!(!print.is_settled(at));
        assert!(!print.is_settled(at + SETTLED / 2));
        assert!(print.is_settled(at + SETTLED));
    }

    #[test]
    fn a_file_version_reads_back_from_its_bytes_and_prints_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "abc").unwrap();
        let metadata = std::fs::metadata(&path).unwrap();
        let version = FileVersion::of(&metadata).unwrap();
        assert_eq!(FileVersion::from_bytes(&version.to_bytes()), version);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            file_version(&metadata),
            format!(
                "3:{}:{}.{}:{}.{}",
                metadata.ino(),
                metadata.mtime(),
                metadata.mtime_nsec(),
                metadata.ctime(),
                metadata.ctime_nsec()
            )
        );
    }
}
