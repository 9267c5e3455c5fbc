//! What `stat` says about files, for noticing changes without reading them.

/// How old the newest recorded change must be for a record to be saved: well over
/// the timestamp granularity of local Linux file systems (a kernel tick, at most
/// 10 ms).
pub const SETTLED: std::time::Duration = std::time::Duration::from_millis(50);

/// A fingerprint of files as `stat` sees them, with the newest change it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatPrint {
    pub fingerprint: String,
    /// The latest modification or change time among the files, in nanoseconds since
    /// the Unix epoch.
    pub newest_change: i128,
}

impl StatPrint {
    /// True when no change it covers is younger than [`SETTLED`] at `now`.
    pub fn is_settled(&self, now: std::time::SystemTime) -> bool {
        is_settled(self.newest_change, now)
    }
}

/// True when a change stamped `changed` (see [`changed_at`]) is at least
/// [`SETTLED`] old at `now`: a later change cannot get the same stamp.
pub fn is_settled(changed: i128, now: std::time::SystemTime) -> bool {
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    now - changed >= SETTLED.as_nanos() as i128
}

/// Identifies a version of a file without reading it: size, inode, and modification
/// and change times in nanoseconds (a rewrite, a rename over it or a `touch` all
/// change it). Empty where there are no inodes: then nothing can be said without
/// reading the file.
pub fn file_version(metadata: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!(
            "{}:{}:{}.{}:{}.{}",
            metadata.len(),
            metadata.ino(),
            metadata.mtime(),
            metadata.mtime_nsec(),
            metadata.ctime(),
            metadata.ctime_nsec()
        )
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        String::new()
    }
}

/// The later of the modification and change times, in nanoseconds since the epoch.
pub fn changed_at(metadata: &std::fs::Metadata) -> i128 {
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
}
