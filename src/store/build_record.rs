//! The `build_record` table and the catalog snapshot beside the state file: the
//! last complete build's record, which lets an unchanged build stop early.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use super::companion::{companion_path, replace_companion};
use super::{State, StateError};

/// The stored form of a [`BuildMemo`](crate::build::record::BuildMemo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredMemo {
    pub settings: String,
    pub seeds: String,
    pub outputs: String,
    /// Unix seconds.
    pub valid_from: i64,
    pub valid_until: i64,
    /// JSON.
    pub summary: String,
    pub settled: bool,
    /// Folder names, one per line.
    pub unsettled_folders: String,
    pub seeds_folder: String,
}

/// A catalog snapshot as read from its file: the bytes after the id that ties it
/// to the build record (kept in place rather than shifted down, a megabyte or two).
pub(crate) struct StoredSnapshot {
    bytes: Vec<u8>,
    start: usize,
}

impl StoredSnapshot {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

impl State {
    /// The last complete build's record, if there is one.
    pub(crate) fn build_memo(&self) -> Result<Option<StoredMemo>, StateError> {
        self.conn
            .query_row(
                "SELECT settings, seeds, outputs, valid_from, valid_until, summary, settled,
                        unsettled_folders, seeds_folder
                 FROM build_record WHERE id = 1",
                [],
                |r| {
                    Ok(StoredMemo {
                        settings: r.get(0)?,
                        seeds: r.get(1)?,
                        outputs: r.get(2)?,
                        valid_from: r.get(3)?,
                        valid_until: r.get(4)?,
                        summary: r.get(5)?,
                        settled: r.get(6)?,
                        unsettled_folders: r.get(7)?,
                        seeds_folder: r.get(8)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.wrap(e))
    }

    /// Where the build record's catalog snapshot is kept: a file beside the state,
    /// named like SQLite's own (`herald.sqlite-catalog` beside `herald.sqlite-wal`),
    /// because SQLite writes a blob of a megabyte through its log and a checkpoint,
    /// several times slower than a plain file.
    fn snapshot_path(&self) -> PathBuf {
        companion_path(&self.path, "-catalog")
    }

    /// The catalog snapshot saved with the build record (see
    /// [`CatalogSnapshot`](crate::build::record::CatalogSnapshot)), read by
    /// `reader` (a thread may read it while the caller does something else).
    /// `None` without a record, or when the file is not the one the record names
    /// (a build that crashed between writing the two).
    pub(crate) fn build_snapshot_reader(
        &self,
    ) -> Result<impl FnOnce() -> Option<StoredSnapshot> + Send + 'static, StateError> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT snapshot_id FROM build_record WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.wrap(e))?;
        let path = self.snapshot_path();
        Ok(move || {
            let id = id?;
            let bytes = std::fs::read(path).ok()?;
            let (len, rest) = bytes.split_at_checked(4)?;
            let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
            if rest.get(..len)? != id.as_bytes() {
                return None;
            }
            Some(StoredSnapshot {
                bytes,
                start: 4 + len,
            })
        })
    }

    /// Replaces the build record (`None`: forgets it). `snapshot`: the id
    /// [`SnapshotSaver::save`] gave its catalog snapshot.
    pub(crate) fn save_build_memo(
        &self,
        memo: Option<(&StoredMemo, &str)>,
    ) -> Result<(), StateError> {
        let result = match memo {
            Some((m, snapshot)) => self.conn.execute(
                "INSERT OR REPLACE INTO build_record
                     (id, settings, seeds, outputs, valid_from, valid_until, summary, settled,
                      unsettled_folders, seeds_folder, snapshot_id)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    m.settings,
                    m.seeds,
                    m.outputs,
                    m.valid_from,
                    m.valid_until,
                    m.summary,
                    m.settled,
                    m.unsettled_folders,
                    m.seeds_folder,
                    snapshot
                ],
            ),
            None => self.conn.execute("DELETE FROM build_record", []),
        };
        result.map(|_| ()).map_err(|e| self.wrap(e))
    }

    /// What saves the build record's catalog snapshot (from any thread).
    pub(crate) fn snapshot_saver(&self) -> SnapshotSaver {
        SnapshotSaver {
            path: self.snapshot_path(),
        }
    }
}

/// Saves the build record's catalog snapshot: a file beside the state, replaced
/// atomically, under a new random id that the record then names.
pub(crate) struct SnapshotSaver {
    path: PathBuf,
}

impl SnapshotSaver {
    /// Replaces the snapshot file with `snapshot`; returns its new id.
    pub(crate) fn save(&self, snapshot: &[u8]) -> Result<String, StateError> {
        let wrap = |source| StateError::Snapshot {
            path: self.path.clone(),
            source,
        };
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| wrap(std::io::Error::other(e.to_string())))?;
        let id = crate::support::fingerprint::to_hex(&random);
        let len = (id.len() as u32).to_le_bytes();
        replace_companion(&self.path, &[&len, id.as_bytes(), snapshot]).map_err(wrap)?;
        Ok(id)
    }
}
