//! The `articles` and `article_bodies` tables: what was published, and its text.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::article::{Article, ArticleHead};

use super::{State, StateError};

/// One article as the state remembers it. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredArticle {
    pub id: String,
    pub source_file: String,
    /// Fingerprint of the seed bytes and the parsing rules; equal means the stored
    /// `article_json` is still what parsing would produce.
    pub content_hash: String,
    /// Size, inode and modification/change times of the seed file when it was last
    /// read: while they are the same, the file need not be read again.
    pub stat_key: String,
    /// The listing view of the article (stored as JSON); `None` when the stored
    /// one cannot be read (another version wrote it), so the seed is parsed again.
    /// Shared: the catalog's entry for an unchanged article is this same head.
    pub head: Option<Arc<ArticleHead>>,
    /// The full article, when this row carries it (parsed in this run): rows read
    /// by [`State::articles`] do not (bodies are fetched one by one with
    /// [`BodyReader`]), and a saved row without it keeps the stored body. It is the
    /// catalog's own copy, serialised only when the row is saved (on the saver's
    /// thread), so a build never holds the text twice.
    pub article: Option<Arc<crate::article::Article>>,
    pub first_seen: i64,
    /// Last time the parsed article changed after it was first seen.
    pub modified: Option<i64>,
    /// When its seed disappeared; `None` while it is published.
    pub removed: Option<i64>,
}

fn upsert_articles(tx: &rusqlite::Transaction<'_>, rows: &[StoredArticle]) -> rusqlite::Result<()> {
    let mut article = tx.prepare(
        "INSERT INTO articles (id, source_file, content_hash, first_seen, modified, removed, stat_key, head_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(id) DO UPDATE SET source_file = ?2, content_hash = ?3,
             first_seen = ?4, modified = ?5, removed = ?6, stat_key = ?7, head_json = ?8",
    )?;
    let mut body =
        tx.prepare("INSERT OR REPLACE INTO article_bodies (id, article_json) VALUES (?1, ?2)")?;
    for a in rows {
        let head_json = a
            .head
            .as_ref()
            .and_then(|h| serde_json::to_string(h.as_ref()).ok())
            .unwrap_or_default();
        article.execute(params![
            a.id,
            a.source_file,
            a.content_hash,
            a.first_seen,
            a.modified,
            a.removed,
            a.stat_key,
            head_json
        ])?;
        if let Some(full) = &a.article {
            let json = serde_json::to_string(full.as_ref())
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            body.execute(params![a.id, json])?;
        }
    }
    Ok(())
}

/// A row of [`State::article_columns`]; `old_layout`: the head column holds the
/// full article (versions 1 and 2).
fn stored_article(r: &rusqlite::Row<'_>, old_layout: bool) -> rusqlite::Result<StoredArticle> {
    // Parsed from SQLite's own buffer: no copy of the JSON is made.
    let json = r.get_ref(4)?.as_str()?;
    let head = if old_layout {
        serde_json::from_str::<Article>(json).ok().map(|a| a.head())
    } else {
        serde_json::from_str::<ArticleHead>(json).ok()
    };
    Ok(StoredArticle {
        id: r.get(0)?,
        source_file: r.get(1)?,
        content_hash: r.get(2)?,
        stat_key: r.get(3)?,
        head: head.map(Arc::new),
        article: None,
        first_seen: r.get(5)?,
        modified: r.get(6)?,
        removed: r.get(7)?,
    })
}

pub(super) fn has_article_column(conn: &Connection, column: &str) -> bool {
    conn.prepare(&format!("SELECT {column} FROM articles LIMIT 0"))
        .is_ok()
}

/// The head JSON of a stored full article.
fn head_of_article_json(json: &str) -> Option<String> {
    let article: Article = serde_json::from_str(json).ok()?;
    serde_json::to_string(&article.head()).ok()
}

/// Versions 1 and 2 kept the full article in `articles.article_json`: derive each
/// row's head and move the bodies into `article_bodies`.
pub(super) fn split_bodies(conn: &Connection) -> rusqlite::Result<()> {
    if !has_article_column(conn, "article_json") {
        return Ok(());
    }
    let rows: Vec<(String, String)> = {
        let mut stmt =
            conn.prepare("SELECT id, article_json FROM articles WHERE head_json = ''")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut update = conn.prepare("UPDATE articles SET head_json = ?2 WHERE id = ?1")?;
    for (id, json) in rows {
        if let Some(head_json) = head_of_article_json(&json) {
            update.execute(params![id, head_json])?;
        }
    }
    conn.execute_batch(
        "INSERT OR REPLACE INTO article_bodies (id, article_json) SELECT id, article_json FROM articles;
         ALTER TABLE articles DROP COLUMN article_json;",
    )
}

impl State {
    /// Every article the state knows, removed ones included, by id.
    pub(crate) fn articles(&self) -> Result<HashMap<String, StoredArticle>, StateError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {} FROM articles", self.article_columns()))
            .map_err(|e| self.wrap(e))?;
        let old_layout = self.layout.bodies_in_articles;
        let rows = stmt
            .query_map([], |r| stored_article(r, old_layout))
            .map_err(|e| self.wrap(e))?;
        rows.map(|r| r.map(|a| (a.id.clone(), a)))
            .collect::<Result<_, _>>()
            .map_err(|e| self.wrap(e))
    }

    /// The columns [`stored_article`] reads. A state file of an older version
    /// opened read-only lacks the newer ones: heads are derived from the full
    /// articles, and no stat key means "read the seed".
    fn article_columns(&self) -> String {
        let head = if self.layout.bodies_in_articles {
            "article_json"
        } else {
            "head_json"
        };
        let stat_key = if self.layout.has_stat_key {
            "stat_key"
        } else {
            "''"
        };
        format!("id, source_file, content_hash, {stat_key}, {head}, first_seen, modified, removed")
    }

    /// A second, read-only connection for fetching article bodies from any thread;
    /// `None` for a state that has no file (nothing is stored in it).
    pub(crate) fn body_reader(&self) -> Result<Option<BodyReader>, StateError> {
        if self.conn.path().is_none_or(str::is_empty) {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| self.wrap(e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| self.wrap(e))?;
        let query = if self.layout.bodies_in_articles {
            "SELECT article_json FROM articles WHERE id = ?1 AND content_hash = ?2"
        } else {
            "SELECT b.article_json FROM article_bodies b JOIN articles a ON a.id = b.id
             WHERE b.id = ?1 AND a.content_hash = ?2"
        };
        Ok(Some(BodyReader {
            conn: std::sync::Mutex::new(conn),
            path: self.path.clone(),
            query,
        }))
    }

    /// The stored article JSON of `id` (removed articles included).
    pub(crate) fn article_json(&self, id: &str) -> Result<Option<String>, StateError> {
        let sql = if self.layout.bodies_in_articles {
            "SELECT article_json FROM articles WHERE id = ?1"
        } else {
            "SELECT article_json FROM article_bodies WHERE id = ?1"
        };
        self.conn
            .query_row(sql, [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.wrap(e))
    }

    /// Saves article rows (what a build parsed) in one transaction.
    pub(crate) fn save_articles(&mut self, rows: &[StoredArticle]) -> Result<(), StateError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.write_transaction()?;
        upsert_articles(&tx, rows).map_err(|e| self.wrap(e))?;
        tx.commit().map_err(|e| self.wrap(e))
    }

    /// The stored rows of the articles `ids` (those the state has), as
    /// [`State::articles`] reads them.
    pub(crate) fn articles_with_ids<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, StoredArticle>, StateError> {
        let query = format!(
            "SELECT {} FROM articles WHERE id = ?1",
            self.article_columns()
        );
        let mut stmt = self.conn.prepare_cached(&query).map_err(|e| self.wrap(e))?;
        let old_layout = self.layout.bodies_in_articles;
        let mut found = HashMap::new();
        for id in ids {
            let row = stmt
                .query_row([id], |r| stored_article(r, old_layout))
                .optional()
                .map_err(|e| self.wrap(e))?;
            if let Some(row) = row {
                found.insert(row.id.clone(), row);
            }
        }
        Ok(found)
    }
}

/// Fetches stored article bodies by id; shareable between rendering threads.
pub(crate) struct BodyReader {
    conn: std::sync::Mutex<Connection>,
    path: PathBuf,
    /// Bodies are in `article_bodies`, or (a state file older than version 3 opened
    /// read-only) in `articles`.
    query: &'static str,
}

impl BodyReader {
    /// The stored article JSON of `id`, if the stored version is the one whose seed
    /// fingerprint is `content_hash` (`None` when another run replaced it meanwhile).
    pub(crate) fn article_json(
        &self,
        id: &str,
        content_hash: &str,
    ) -> Result<Option<String>, StateError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        conn.prepare_cached(self.query)
            .and_then(|mut stmt| {
                stmt.query_row(params![id, content_hash], |r| r.get(0))
                    .optional()
            })
            .map_err(|source| StateError::Sqlite {
                path: self.path.clone(),
                source,
            })
    }
}
