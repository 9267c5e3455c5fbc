//! What `stat` says about files, for noticing changes without reading them.

use std::path::Path;

/// How old the newest recorded change must be for a record to be saved, where
/// nothing more is known of the file system: well over the timestamp granularity
/// of local Linux file systems (a kernel tick, at most 10 ms).
pub const SETTLED: std::time::Duration = std::time::Duration::from_millis(50);

const MILLISECOND: i128 = 1_000_000;

/// The clocks a stamp is judged against ([`is_settled`]), read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StampClock {
    /// The wall clock, in nanoseconds since the Unix epoch.
    wall: i128,
    /// The clock the folder's file system stamps changes with, where that is
    /// known: on Linux, local file systems stamp with the kernel's coarse
    /// real-time clock (or a finer one), so a change made after this reading gets
    /// a stamp no earlier than it. `None` elsewhere (a network file system stamps
    /// with its server's clock).
    stamping: Option<i128>,
}

impl StampClock {
    /// The clocks now, for stamps of files in `folder`.
    pub(crate) fn read_for(folder: &Path) -> StampClock {
        StampClock {
            stamping: stamps_with_local_clock(folder).then(coarse_clock).flatten(),
            ..StampClock::wall(std::time::SystemTime::now())
        }
    }

    /// Only the wall clock, at `at`: stamps are judged by [`SETTLED`] alone.
    pub(crate) fn wall(at: std::time::SystemTime) -> StampClock {
        let wall = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        StampClock {
            wall,
            stamping: None,
        }
    }
}

/// True when `folder` is on a file system that stamps changes with this kernel's
/// clock at a granularity under a millisecond (the local ones Linux runs on).
#[cfg(target_os = "linux")]
// `f_type` and the magic numbers have different types on different targets.
#[allow(clippy::unnecessary_cast)]
fn stamps_with_local_clock(folder: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
        return false;
    };
    let mut info = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `path` is a valid C string and `info` is written by a successful call.
    if unsafe { libc::statfs(path.as_ptr(), info.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: `statfs` returned 0, so it filled `info`.
    let kind = unsafe { info.assume_init() }.f_type as i64;
    [
        libc::EXT4_SUPER_MAGIC as i64,
        libc::XFS_SUPER_MAGIC as i64,
        libc::BTRFS_SUPER_MAGIC as i64,
        libc::TMPFS_MAGIC as i64,
        libc::OVERLAYFS_SUPER_MAGIC as i64,
        libc::F2FS_SUPER_MAGIC as i64,
    ]
    .contains(&kind)
}

#[cfg(not(target_os = "linux"))]
fn stamps_with_local_clock(_folder: &Path) -> bool {
    false
}

/// The kernel's coarse real-time clock, in nanoseconds since the epoch.
#[cfg(target_os = "linux")]
fn coarse_clock() -> Option<i128> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) };
    (read == 0).then(|| i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec))
}

#[cfg(not(target_os = "linux"))]
fn coarse_clock() -> Option<i128> {
    None
}

/// A fingerprint of files as `stat` sees them, with the newest change it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatPrint {
    pub fingerprint: String,
    /// The latest modification or change time among the files, in nanoseconds since
    /// the Unix epoch.
    pub newest_change: i128,
    /// The same for each sub-folder it covers, by name.
    pub folder_changes: Vec<(String, i128)>,
}

impl StatPrint {
    /// True when no change it covers could share its stamp with a later one
    /// ([`is_settled`]).
    pub(crate) fn is_settled(&self, clock: StampClock) -> bool {
        is_settled(self.newest_change, clock)
    }

    /// The sub-folders whose stamps are not settled ([`is_settled`]).
    pub(crate) fn unsettled_folders(&self, clock: StampClock) -> Vec<String> {
        (self.folder_changes.iter())
            .filter(|(_, changed)| !is_settled(*changed, clock))
            .map(|(folder, _)| folder.clone())
            .collect()
    }
}

/// True when a change stamped `changed` (see [`changed_at`]) cannot share its
/// stamp with a change made after `clock` was read, so an unchanged stamp means
/// an unchanged file. Either the stamp is [`SETTLED`] old, or the file system
/// stamps with a clock that had moved a millisecond past it, and the stamp shows
/// digits under a millisecond (so its granularity is finer: a later change is
/// stamped later). File systems stamp with a clock that moves a tick (1 to 10 ms)
/// at a time, so the second way settles a change within a tick.
pub(crate) fn is_settled(changed: i128, clock: StampClock) -> bool {
    let fine = changed % MILLISECOND != 0;
    clock.wall - changed >= SETTLED.as_nanos() as i128
        || clock
            .stamping
            .is_some_and(|now| fine && now - changed >= MILLISECOND)
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
            folder_changes: Vec::new(),
        };
        assert!(!print.is_settled(StampClock::wall(at)));
        assert!(!print.is_settled(StampClock::wall(at + SETTLED / 2)));
        assert!(print.is_settled(StampClock::wall(at + SETTLED)));
    }

    #[test]
    fn a_stamp_finer_than_a_millisecond_settles_once_the_stamping_clock_moved_past_it() {
        let changed = 100_000_000_000 + 123_456;
        let clock = |after: i128| StampClock {
            wall: changed + after,
            stamping: Some(changed + after),
        };
        assert!(!is_settled(changed, clock(0)));
        assert!(!is_settled(changed, clock(MILLISECOND - 1)));
        assert!(is_settled(changed, clock(MILLISECOND)));
        // A stamp in whole milliseconds may come from a coarser file system.
        let whole = 100_000_000_000;
        assert!(!is_settled(whole, clock(changed - whole + 4 * MILLISECOND)));
        assert!(is_settled(
            whole,
            StampClock::wall(std::time::UNIX_EPOCH + SETTLED + std::time::Duration::from_secs(100))
        ));
        // A stamp ahead of the clocks (set by hand) is never settled by them.
        assert!(!is_settled(changed + 10 * MILLISECOND, clock(0)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_local_file_system_stamps_a_change_no_earlier_than_the_clock_read_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        for round in 0..50 {
            let clock = StampClock::read_for(dir.path());
            let before = clock
                .stamping
                .expect("a temporary folder is on a local file system");
            std::fs::write(&path, round.to_string()).unwrap();
            let changed = changed_at(&std::fs::metadata(&path).unwrap());
            assert!(
                changed >= before,
                "round {round}: stamped {changed}, clock read {before}"
            );
        }
        // And the change settles within a few ticks, long before SETTLED.
        std::thread::sleep(std::time::Duration::from_millis(25));
        let changed = changed_at(&std::fs::metadata(&path).unwrap());
        assert!(
            is_settled(changed, StampClock::read_for(dir.path())) || changed % MILLISECOND == 0
        );
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
