//! The `outputs` table: what each output file was last rendered from.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::{State, StateError};

fn output_fingerprints_in(conn: &Connection) -> rusqlite::Result<HashMap<String, String>> {
    let mut stmt = conn.prepare("SELECT path, fingerprint FROM outputs")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

impl State {
    /// What each output file was last rendered from (path → fingerprint).
    pub(crate) fn output_fingerprints(&self) -> Result<HashMap<String, String>, StateError> {
        output_fingerprints_in(&self.conn).map_err(|e| self.wrap(e))
    }

    /// Records what a build changed in the output fingerprints, in one transaction:
    /// `written` (path, fingerprint) pairs replace theirs, `gone` paths are forgotten.
    /// A build passes only its differences from what it read at its start, so a
    /// no-change build writes nothing.
    pub(crate) fn save_outputs<'a>(
        &mut self,
        written: &[(String, String)],
        gone: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StateError> {
        let tx = self.write_transaction()?;
        let wrap = |source| StateError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let mut delete = tx
            .prepare("DELETE FROM outputs WHERE path = ?1")
            .map_err(wrap)?;
        for path in gone {
            delete.execute([path]).map_err(wrap)?;
        }
        let mut upsert = tx
            .prepare("INSERT OR REPLACE INTO outputs (path, fingerprint) VALUES (?1, ?2)")
            .map_err(wrap)?;
        for (path, fingerprint) in written {
            upsert.execute(params![path, fingerprint]).map_err(wrap)?;
        }
        drop((delete, upsert));
        tx.commit().map_err(wrap)
    }

    /// The recorded fingerprints of the outputs in `folder` (relative to the output
    /// root), by path.
    pub(crate) fn output_fingerprints_in(
        &self,
        folder: &str,
    ) -> Result<HashMap<String, String>, StateError> {
        // A range of the primary key: `folder/` up to `folder0` ('0' follows '/').
        let mut stmt = self
            .conn
            .prepare("SELECT path, fingerprint FROM outputs WHERE path >= ?1 AND path < ?2")
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map(params![format!("{folder}/"), format!("{folder}0")], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| self.wrap(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.wrap(e))
    }
}
