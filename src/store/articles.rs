//! The `articles` and `article_bodies` tables: what was published, and its text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::article::{Article, ArticleHead};

use super::bodies::{
    BODIES_SUFFIX, BodyFile, BodyRef, article_record, open_for_reading, read_body,
};
use super::companion::companion_path;
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
    /// The catalog's own copy, serialised and appended to the body file when the
    /// row is saved.
    Parsed(Arc<crate::article::Article>),
    /// Appended to the body file already, by the reader that parsed it.
    Stored(BodyRef),
}

/// Saves `rows`; a row's body (if it carries one) goes to `bodies` first, which
/// must be flushed before the transaction commits. `legacy`: the state still has
/// bodies in the `article_bodies` table (an older version's), which a new body
/// replaces.
fn upsert_articles(
    tx: &rusqlite::Transaction<'_>,
    rows: &[StoredArticle],
    bodies: Option<&BodyFile>,
    legacy: bool,
) -> Result<(), SaveError> {
    let mut article = tx.prepare_cached(
        "INSERT INTO articles (id, source_file, content_hash, first_seen, modified, removed, stat_key, head_json, body_at, body_len)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(id) DO UPDATE SET source_file = ?2, content_hash = ?3,
             first_seen = ?4, modified = ?5, removed = ?6, stat_key = ?7, head_json = ?8,
             body_at = COALESCE(?9, body_at), body_len = COALESCE(?10, body_len)",
    )?;
    for a in rows {
        let head_json = a
            .head
            .as_ref()
            .and_then(|h| serde_json::to_string(h.as_ref()).ok())
            .unwrap_or_default();
        let body = match &a.article {
            Some(RowBody::Parsed(full)) => {
                let bodies = bodies.ok_or(SaveError::NoBodyFile)?;
                let appended = article_record((&a.id, &a.content_hash), full, 4096)
                    .and_then(|(record, _)| bodies.append(&record));
                Some(appended.map_err(SaveError::Bodies)?)
            }
            Some(RowBody::Stored(place)) => Some(*place),
            None => None,
        };
        let (at, len) = body.map(BodyRef::columns).unzip();
        article.execute(params![
            a.id,
            a.source_file,
            a.content_hash,
            a.first_seen,
            a.modified,
            a.removed,
            a.stat_key,
            head_json,
            at,
            len
        ])?;
        if legacy && body.is_some() {
            tx.prepare_cached("DELETE FROM article_bodies WHERE id = ?1")?
                .execute([&a.id])?;
        }
    }
    Ok(())
}

/// Why rows could not be saved: SQLite, or the body file beside it.
enum SaveError {
    Sqlite(rusqlite::Error),
    Bodies(std::io::Error),
    /// A row carried a body to append and no body file was open (a bug).
    NoBodyFile,
}

impl From<rusqlite::Error> for SaveError {
    fn from(e: rusqlite::Error) -> SaveError {
        SaveError::Sqlite(e)
    }
}

impl State {
    fn wrap_save(&self, error: SaveError) -> StateError {
        match error {
            SaveError::Sqlite(e) => self.wrap(e),
            SaveError::Bodies(source) => self.bodies_error(source),
            SaveError::NoBodyFile => self.bodies_error(std::io::Error::other(
                "no body file open for an article to save",
            )),
        }
    }

    pub(crate) fn bodies_error(&self, source: std::io::Error) -> StateError {
        bodies_error(&self.path, source)
    }

    /// Whether bodies remain in the `article_bodies` table (from an older version).
    fn has_legacy_bodies(&self) -> Result<bool, StateError> {
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM article_bodies)", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.wrap(e))
    }

    /// The body file, open for appending (waiting for another process appending to
    /// it): emptied first when no row names a body in it (its bytes belong to a
    /// state that is gone).
    pub(crate) fn open_body_file(&self) -> Result<Arc<BodyFile>, StateError> {
        let mut bodies = BodyFile::open(&self.path).map_err(|e| self.bodies_error(e))?;
        if !bodies.is_empty() {
            let referenced: bool = self
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM articles WHERE body_at IS NOT NULL)",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.wrap(e))?;
            if !referenced {
                bodies.empty().map_err(|e| self.bodies_error(e))?;
            }
        }
        Ok(Arc::new(bodies))
    }
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
        Ok(Some(BodyReader {
            conn: std::sync::Mutex::new(conn),
            path: self.path.clone(),
            layout: self.layout,
            file: std::sync::Mutex::new(None),
        }))
    }

    /// The stored article JSON of `id` (removed articles included).
    pub(crate) fn article_json(&self, id: &str) -> Result<Option<String>, StateError> {
        let stored = stored_body(&self.conn, self.layout, id, None).map_err(|e| self.wrap(e))?;
        stored_json(stored, id, || open_for_reading(&self.path)).map_err(|e| self.bodies_error(e))
    }

    /// The body file open for the bodies `rows` carry in memory, if any do: for a
    /// caller that writes them ([`write_bodies`]) before it saves the rows.
    pub(crate) fn body_file_for(
        &self,
        rows: &[StoredArticle],
    ) -> Result<Option<Arc<BodyFile>>, StateError> {
        rows.iter()
            .any(|r| matches!(r.article, Some(RowBody::Parsed(_))))
            .then(|| self.open_body_file())
            .transpose()
    }

    /// Saves article rows (what a build parsed) in one transaction; the bodies they
    /// carry are appended to the body file and flushed first.
    pub(crate) fn save_articles(&mut self, rows: &[StoredArticle]) -> Result<(), StateError> {
        if rows.is_empty() {
            return Ok(());
        }
        let bodies = self.body_file_for(rows)?;
        let legacy = self.has_legacy_bodies()?;
        let tx = self.write_transaction()?;
        upsert_articles(&tx, rows, bodies.as_deref(), legacy).map_err(|e| self.wrap_save(e))?;
        if let Some(bodies) = &bodies {
            bodies.flush().map_err(|e| self.bodies_error(e))?;
        }
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

/// Appends the bodies `rows` carry in memory to `bodies` and flushes it, so that
/// saving the rows ([`State::save_articles`]) only commits them: a build does this
/// on another thread while its pages render, instead of waiting for the disk after.
pub(crate) fn write_bodies(bodies: &BodyFile, rows: &mut [StoredArticle]) -> std::io::Result<()> {
    for row in rows.iter_mut() {
        if let Some(RowBody::Parsed(article)) = &row.article {
            let (record, _) = article_record((&row.id, &row.content_hash), article, 4096)?;
            row.article = Some(RowBody::Stored(bodies.append(&record)?));
        }
    }
    bodies.flush()
}

/// Saves article rows on a thread of its own while the catalog is still being read,
/// so a build holds only the batches in flight, not every parsed article: each row
/// carries its article (appended to the body file already by whoever parsed it, or
/// appended here), and is dropped once written. Everything goes into one
/// transaction, committed by [`RowSaver::finish`] once the body file is flushed;
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
    /// Starts a saver on its own connection to the state file at `path`, whose
    /// body file `bodies` is (opened, and so locked, by the caller).
    pub(crate) fn start(path: &Path, bodies: Arc<BodyFile>) -> RowSaver {
        let (sender, batches) =
            std::sync::mpsc::sync_channel::<Vec<StoredArticle>>(BATCHES_IN_FLIGHT);
        let path = path.to_path_buf();
        let abandoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let abandoning = Arc::clone(&abandoned);
        let thread = std::thread::spawn(move || {
            let state = State::open(&path)?;
            let legacy = state.has_legacy_bodies()?;
            let tx = state.write_transaction()?;
            for rows in batches {
                upsert_articles(&tx, &rows, Some(&bodies), legacy)
                    .map_err(|e| state.wrap_save(e))?;
            }
            if abandoning.load(std::sync::atomic::Ordering::Acquire) {
                return Ok(());
            }
            bodies.flush().map_err(|e| state.bodies_error(e))?;
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

/// Where a stored body is.
enum StoredBody {
    /// In the body file, as version `hash` of the article.
    InFile { place: BodyRef, hash: String },
    /// In the database (a state from before the body file).
    Json(String),
}

/// The JSON of the body `stored` names (of article `id`), reading the state's body
/// file, which `file` opens (`None` when there is none), only if it is there.
fn stored_json<F: std::borrow::Borrow<std::fs::File>>(
    stored: Option<StoredBody>,
    id: &str,
    file: impl FnOnce() -> std::io::Result<Option<F>>,
) -> std::io::Result<Option<String>> {
    match stored {
        None => Ok(None),
        Some(StoredBody::Json(json)) => Ok(Some(json)),
        Some(StoredBody::InFile { place, hash }) => match file()? {
            Some(file) => read_body(file.borrow(), place, id, &hash),
            None => Ok(None),
        },
    }
}

/// The error for the body file beside the state file `state`.
fn bodies_error(state: &Path, source: std::io::Error) -> StateError {
    StateError::Bodies {
        path: companion_path(state, BODIES_SUFFIX),
        source,
    }
}

/// Where the body of `id` is, if the state has it (and, with `hash`, only if the
/// stored version is that one).
fn stored_body(
    conn: &Connection,
    layout: super::Layout,
    id: &str,
    hash: Option<&str>,
) -> rusqlite::Result<Option<StoredBody>> {
    if layout.bodies_in_articles {
        let json: Option<String> = conn
            .prepare_cached(
                "SELECT article_json FROM articles WHERE id = ?1 AND (?2 IS NULL OR content_hash = ?2)",
            )?
            .query_row(params![id, hash], |r| r.get(0))
            .optional()?;
        return Ok(json.map(StoredBody::Json));
    }
    let located = if layout.bodies_in_file {
        let row = conn
            .prepare_cached(
                "SELECT content_hash, body_at, body_len FROM articles
                 WHERE id = ?1 AND (?2 IS NULL OR content_hash = ?2)",
            )?
            .query_row(params![id, hash], |r| {
                let at: Option<i64> = r.get(1)?;
                Ok((r.get::<_, String>(0)?, BodyRef::from_columns(at, r.get(2)?)))
            })
            .optional()?;
        match row {
            None => return Ok(None),
            Some((hash, Some(place))) => return Ok(Some(StoredBody::InFile { place, hash })),
            Some((_, None)) => true,
        }
    } else {
        false
    };
    // Not a join: taken from rusqlite's statement cache, the join on `id` was
    // prepared again on every use (49 times in 50 fetches, by
    // `sqlite3_stmt_status`), a third of the time of fetching a body.
    let json: Option<String> = if located || hash.is_none() {
        conn.prepare_cached("SELECT article_json FROM article_bodies WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
    } else {
        conn.prepare_cached(
            "SELECT article_json FROM article_bodies
             WHERE id = ?1 AND (SELECT content_hash FROM articles WHERE id = ?1) = ?2",
        )?
        .query_row(params![id, hash], |r| r.get(0))
        .optional()?
    };
    Ok(json.map(StoredBody::Json))
}

/// Fetches stored article bodies by id; shareable between rendering threads.
pub(crate) struct BodyReader {
    conn: std::sync::Mutex<Connection>,
    path: PathBuf,
    layout: super::Layout,
    /// The body file, opened when first needed (a state may have none yet).
    file: std::sync::Mutex<Option<Arc<std::fs::File>>>,
}

impl BodyReader {
    /// The stored article JSON of `id`, if the stored version is the one whose seed
    /// fingerprint is `content_hash` (`None` when another run replaced it meanwhile).
    pub(crate) fn article_json(
        &self,
        id: &str,
        content_hash: &str,
    ) -> Result<Option<String>, StateError> {
        let stored = {
            let conn = self
                .conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            stored_body(&conn, self.layout, id, Some(content_hash))
        };
        let stored = stored.map_err(|source| StateError::Sqlite {
            path: self.path.clone(),
            source,
        })?;
        stored_json(stored, id, || self.file()).map_err(|e| bodies_error(&self.path, e))
    }

    fn file(&self) -> std::io::Result<Option<Arc<std::fs::File>>> {
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if file.is_none() {
            *file = open_for_reading(&self.path)?.map(Arc::new);
        }
        Ok(file.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::bodies::start_record;
    use super::*;

    fn article(id: &str, title: &str) -> Arc<Article> {
        Arc::new(Article {
            id: id.into(),
            title: title.into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            time: None,
            author: None,
            tags: vec![],
            summary: format!("{title}的摘要"),
            column_intro: None,
            link: None,
            intro: vec!["第一段。".into()],
            sections: vec![],
        })
    }

    fn row(id: &str, hash: &str, body: Option<RowBody>) -> StoredArticle {
        StoredArticle {
            id: id.into(),
            source_file: format!("001_{id}.txt"),
            content_hash: hash.into(),
            stat_key: String::new(),
            head: None,
            article: body,
            first_seen: 1,
            modified: None,
            removed: None,
        }
    }

    fn json(article: &Article) -> String {
        serde_json::to_string(article).unwrap()
    }

    #[test]
    fn a_body_is_fetched_only_for_the_version_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("state.sqlite")).unwrap();
        let (a, b) = (article("a", "甲"), article("b", "乙"));
        let rows = [
            row("a", "hash-a", Some(RowBody::Parsed(Arc::clone(&a)))),
            row("b", "hash-b", Some(RowBody::Parsed(Arc::clone(&b)))),
        ];
        state.save_articles(&rows).unwrap();
        let reader = state.body_reader().unwrap().unwrap();
        // Several rounds: the statements come from the cache after the first.
        for _ in 0..3 {
            let body = |id, hash| reader.article_json(id, hash).unwrap();
            assert_eq!(body("a", "hash-a"), Some(json(&a)));
            assert_eq!(body("b", "hash-b"), Some(json(&b)));
            assert_eq!(body("a", "hash-b"), None, "another version's fingerprint");
            assert_eq!(body("c", "hash-a"), None, "an unknown id");
        }
        assert_eq!(state.article_json("b").unwrap(), Some(json(&b)));
        // A row saved without a body keeps the one it has.
        state.save_articles(&[row("a", "hash-a", None)]).unwrap();
        assert_eq!(reader.article_json("a", "hash-a").unwrap(), Some(json(&a)));
        let stored: i64 = (state.conn)
            .query_row("SELECT COUNT(*) FROM article_bodies", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 0, "no body is kept in the database");
    }

    #[test]
    fn a_body_an_older_version_kept_in_the_database_is_read_until_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("state.sqlite")).unwrap();
        state.save_articles(&[row("a", "hash-1", None)]).unwrap();
        let old = article("a", "舊版");
        (state.conn)
            .execute(
                "INSERT INTO article_bodies (id, article_json) VALUES ('a', ?1)",
                [json(&old)],
            )
            .unwrap();
        let reader = state.body_reader().unwrap().unwrap();
        assert_eq!(
            reader.article_json("a", "hash-1").unwrap(),
            Some(json(&old))
        );
        assert_eq!(reader.article_json("a", "hash-2").unwrap(), None);
        assert_eq!(state.article_json("a").unwrap(), Some(json(&old)));

        let new = article("a", "新版");
        let saved = row("a", "hash-2", Some(RowBody::Parsed(Arc::clone(&new))));
        state.save_articles(&[saved]).unwrap();
        assert_eq!(
            reader.article_json("a", "hash-2").unwrap(),
            Some(json(&new))
        );
        assert_eq!(reader.article_json("a", "hash-1").unwrap(), None);
        assert_eq!(state.article_json("a").unwrap(), Some(json(&new)));
        let legacy: i64 = (state.conn)
            .query_row("SELECT COUNT(*) FROM article_bodies", [], |r| r.get(0))
            .unwrap();
        assert_eq!(legacy, 0, "the replaced body left the database");
    }

    #[test]
    fn a_body_appended_by_the_reader_that_parsed_it_is_saved_by_the_saver() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let state = State::open(&path).unwrap();
        let bodies = state.open_body_file().unwrap();
        let a = article("a", "甲");
        let mut record = start_record("a", "hash-a", 0);
        record.extend_from_slice(json(&a).as_bytes());
        let place = bodies.append(&record).unwrap();
        let saver = RowSaver::start(&path, Arc::clone(&bodies));
        saver.save(vec![
            row("a", "hash-a", Some(RowBody::Stored(place))),
            row("b", "hash-b", Some(RowBody::Parsed(article("b", "乙")))),
        ]);
        saver.finish().unwrap();
        drop(bodies);
        let reader = state.body_reader().unwrap().unwrap();
        assert_eq!(reader.article_json("a", "hash-a").unwrap(), Some(json(&a)));
        assert_eq!(
            reader.article_json("b", "hash-b").unwrap(),
            Some(json(&article("b", "乙")))
        );
    }
}
