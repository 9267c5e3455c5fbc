//! The `editions` table: editions whose article list was fixed when sending began.

use rusqlite::params;

use super::{State, StateError};

/// An edition whose article list was fixed when its sending began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrozenEdition {
    /// ISO week key, `2026-W04`.
    pub week: String,
    pub article_ids: Vec<String>,
    /// Unix seconds when sending began.
    pub frozen_at: i64,
}

impl State {
    /// Every frozen edition, oldest week first.
    pub(crate) fn frozen_editions(&self) -> Result<Vec<FrozenEdition>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT week, article_ids, frozen_at FROM editions ORDER BY week")
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map([], |r| {
                let ids: String = r.get(1)?;
                Ok(FrozenEdition {
                    week: r.get(0)?,
                    article_ids: serde_json::from_str(&ids).unwrap_or_default(),
                    frozen_at: r.get(2)?,
                })
            })
            .map_err(|e| self.wrap(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.wrap(e))
    }

    /// Fixes an edition's article list; a second call for the same week keeps the first.
    pub(crate) fn freeze_edition(&self, edition: &FrozenEdition) -> Result<(), StateError> {
        let ids = serde_json::to_string(&edition.article_ids).unwrap_or_else(|_| "[]".into());
        self.conn
            .execute(
                "INSERT OR IGNORE INTO editions (week, article_ids, frozen_at) VALUES (?1, ?2, ?3)",
                params![edition.week, ids, edition.frozen_at],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }
}
