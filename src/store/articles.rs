//! The `articles` and `article_bodies` tables: what was published, and its text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
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
    /// [`BodyReader`]), and a saved row without it keeps the stored body.
    pub article: Option<RowBody>,
    pub first_seen: i64,
    /// Last time the parsed article changed after it was first seen.
    pub modified: Option<i64>,
    /// When its seed disappeared; `None` while it is published.
    pub removed: Option<i64>,
}

/// The article a row carries to be saved, in whichever form the run has it, so a
/// build never holds the text twice.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RowBody {
    /// The catalog's own copy, serialised when the row is saved (on the saver's
    /// thread).
    Parsed(Arc<crate::article::Article>),
    /// Serialised already, by the reader that parsed it.
    Json(String),
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
        match &a.article {
            Some(RowBody::Parsed(full)) => {
                let json = serde_json::to_string(full.as_ref())
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                body.execute(params![a.id, json])?;
            }
            Some(RowBody::Json(json)) => {
                body.execute(params![a.id, json])?;
            }
            None => {}
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
    rewrite_heads(
        conn,
        "SELECT id, article_json FROM articles WHERE head_json = ''",
    )?;
    conn.execute_batch(
        "INSERT OR REPLACE INTO article_bodies (id, article_json) SELECT id, article_json FROM articles;
         ALTER TABLE articles DROP COLUMN article_json;",
    )
}

/// Version 3 heads lacked the listing details (summary, author, link): derive them
/// from the bodies, so summary-only outputs need not load the bodies.
pub(super) fn add_listing_details(conn: &Connection) -> rusqlite::Result<()> {
    rewrite_heads(
        conn,
        "SELECT a.id, b.article_json FROM articles a JOIN article_bodies b ON a.id = b.id
         WHERE a.head_json NOT LIKE '%\"listing\":%'",
    )
}

/// Derives the head of each article `select` returns (`id`, full article JSON) anew
/// and stores it; a body that no longer parses keeps its old head.
fn rewrite_heads(conn: &Connection, select: &str) -> rusqlite::Result<()> {
    let rows: Vec<(String, String)> = {
        let mut stmt = conn.prepare(select)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut update = conn.prepare("UPDATE articles SET head_json = ?2 WHERE id = ?1")?;
    for (id, json) in rows {
        if let Some(head_json) = head_of_article_json(&json) {
            update.execute(params![id, head_json])?;
        }
    }
    Ok(())
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
            // Not a join: taken from rusqlite's statement cache, the join on `id`
            // was prepared again on every use (49 times in 50 fetches, by
            // `sqlite3_stmt_status`), a third of the time of fetching a body; this
            // one-table form was not.
            "SELECT article_json FROM article_bodies
             WHERE id = ?1 AND (SELECT content_hash FROM articles WHERE id = ?1) = ?2"
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

/// Saves article rows on a thread of its own while the catalog is still being read,
/// so a build holds only the batches in flight, not every parsed article: each row
/// carries its article, serialised and written as it arrives, and dropped once
/// written. Everything goes into one transaction, committed by [`RowSaver::finish`];
/// from then on a [`BodyReader`] finds the bodies.
pub(crate) struct RowSaver {
    sender: Option<std::sync::mpsc::SyncSender<Vec<StoredArticle>>>,
    /// Set by [`RowSaver::abandon`]: the saver then rolls back instead of committing.
    abandoned: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Result<(), StateError>>,
}

/// Batches that may wait for the saver: enough to keep it busy while the next one
/// is read, few enough that memory stays flat.
const BATCHES_IN_FLIGHT: usize = 2;

impl RowSaver {
    /// Starts a saver on its own connection to the state file at `path`.
    pub(crate) fn start(path: &Path) -> RowSaver {
        let (sender, batches) =
            std::sync::mpsc::sync_channel::<Vec<StoredArticle>>(BATCHES_IN_FLIGHT);
        let path = path.to_path_buf();
        let abandoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let abandoning = Arc::clone(&abandoned);
        let thread = std::thread::spawn(move || {
            let state = State::open(&path)?;
            let tx = state.write_transaction()?;
            for rows in batches {
                upsert_articles(&tx, &rows).map_err(|e| state.wrap(e))?;
            }
            if abandoning.load(std::sync::atomic::Ordering::Acquire) {
                return Ok(());
            }
            tx.commit().map_err(|e| state.wrap(e))
        });
        RowSaver {
            sender: Some(sender),
            abandoned,
            thread,
        }
    }

    /// Hands `rows` to the saver, waiting while it is [`BATCHES_IN_FLIGHT`] behind.
    /// A saver that failed takes no more; [`RowSaver::finish`] reports why.
    pub(crate) fn save(&self, rows: Vec<StoredArticle>) {
        if let Some(sender) = &self.sender
            && !rows.is_empty()
        {
            let _ = sender.send(rows);
        }
    }

    /// Tells the saver no more rows come, so it commits (on its thread) as soon as
    /// it has written them.
    pub(crate) fn seal(&mut self) {
        drop(self.sender.take());
    }

    /// Waits until what was saved is committed.
    pub(crate) fn finish(mut self) -> Result<(), StateError> {
        drop(self.sender.take());
        self.join()
    }

    /// Saves nothing: for a catalog that could not be completed.
    pub(crate) fn abandon(mut self) {
        self.abandoned
            .store(true, std::sync::atomic::Ordering::Release);
        drop(self.sender.take());
        let _ = self.join();
    }

    fn join(self) -> Result<(), StateError> {
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, hash: &str, json: &str) -> StoredArticle {
        StoredArticle {
            id: id.into(),
            source_file: format!("001_{id}.txt"),
            content_hash: hash.into(),
            stat_key: String::new(),
            head: None,
            article: Some(RowBody::Json(json.into())),
            first_seen: 1,
            modified: None,
            removed: None,
        }
    }

    #[test]
    fn a_body_is_fetched_only_for_the_version_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("state.sqlite")).unwrap();
        let rows = [
            row("a", "hash-a", "{\"a\":1}"),
            row("b", "hash-b", "{\"b\":2}"),
        ];
        state.save_articles(&rows).unwrap();
        let reader = state.body_reader().unwrap().unwrap();
        // Several rounds: the statement comes from the cache after the first.
        for _ in 0..3 {
            let body = |id, hash| reader.article_json(id, hash).unwrap();
            assert_eq!(body("a", "hash-a").as_deref(), Some("{\"a\":1}"));
            assert_eq!(body("b", "hash-b").as_deref(), Some("{\"b\":2}"));
            assert_eq!(body("a", "hash-b"), None, "another version's fingerprint");
            assert_eq!(body("c", "hash-a"), None, "an unknown id");
        }
    }
}
