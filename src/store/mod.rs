//! The embedded SQLite state file: what has been published, and when.
//!
//! The state is what makes outputs deterministic and identities stable: an article's
//! first-seen and modified times are recorded once, so rebuilding with no change
//! produces the same bytes, and an edited seed gets a new `updated` time while
//! keeping its id. WAL mode and a busy timeout let a cron run and other readers
//! share the file.

pub mod journal;
pub mod subscribers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::article::{Article, ArticleHead};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("state file {path}: cannot create its folder: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot write {path} (the last build's catalog, kept beside the state): {source}\n  hint: check that the state's folder is writable and the disk is not full"
    )]
    Snapshot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "state file {path} was written by a newer Herald (schema {found}, this one knows {known}); upgrade Herald"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS articles (
    id           TEXT PRIMARY KEY,
    source_file  TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    stat_key     TEXT NOT NULL DEFAULT '',
    head_json    TEXT NOT NULL DEFAULT '',
    first_seen   INTEGER NOT NULL,
    modified     INTEGER,
    removed      INTEGER
);
-- Bodies live apart so that listing every article reads small rows only.
CREATE TABLE IF NOT EXISTS article_bodies (
    id           TEXT PRIMARY KEY,
    article_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outputs (
    path         TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS editions (
    week         TEXT PRIMARY KEY,
    article_ids  TEXT NOT NULL,
    frozen_at    INTEGER NOT NULL
);
-- The last clean build's record (see build_memo.rs): one row, or none. Its
-- catalog snapshot (a megabyte) is a file beside the state, named by snapshot_id.
DROP TABLE IF EXISTS build_memo;
CREATE TABLE IF NOT EXISTS build_record (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    settings     TEXT NOT NULL,
    seeds        TEXT NOT NULL,
    outputs      TEXT NOT NULL,
    valid_from   INTEGER NOT NULL,
    valid_until  INTEGER NOT NULL,
    summary      TEXT NOT NULL,
    settled      INTEGER NOT NULL,
    snapshot_id  TEXT NOT NULL
);
";

/// The stored form of a [`BuildMemo`](crate::build::record::BuildMemo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMemo {
    pub settings: String,
    pub seeds: String,
    pub outputs: String,
    /// Unix seconds.
    pub valid_from: i64,
    pub valid_until: i64,
    /// JSON.
    pub summary: String,
    pub settled: bool,
}

/// An edition whose article list was fixed when its sending began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenEdition {
    /// ISO week key, `2026-W04`.
    pub week: String,
    pub article_ids: Vec<String>,
    /// Unix seconds when sending began.
    pub frozen_at: i64,
}

/// One article as the state remembers it. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredArticle {
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
    /// The full [`Article`](crate::article::Article) as JSON, when this row carries
    /// it: rows read by [`State::articles`] do not (bodies are fetched one by one
    /// with [`BodyReader`]), and a saved row without it keeps the stored body.
    pub article_json: Option<String>,
    pub first_seen: i64,
    /// Last time the parsed article changed after it was first seen.
    pub modified: Option<i64>,
    /// When its seed disappeared; `None` while it is published.
    pub removed: Option<i64>,
}

fn output_fingerprints_in(conn: &Connection) -> rusqlite::Result<HashMap<String, String>> {
    let mut stmt = conn.prepare("SELECT path, fingerprint FROM outputs")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
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
        if let Some(json) = &a.article_json {
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
        article_json: None,
        first_seen: r.get(5)?,
        modified: r.get(6)?,
        removed: r.get(7)?,
    })
}

fn has_article_column(conn: &Connection, column: &str) -> bool {
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
fn split_bodies(conn: &Connection) -> rusqlite::Result<()> {
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

pub struct State {
    conn: Connection,
    path: PathBuf,
    layout: Layout,
}

/// Which columns the `articles` table has: a state file of an older version opened
/// read-only is used as it is. Decided once, when the file is opened.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Versions 1 and 2: the full article in `articles.article_json`, no heads.
    bodies_in_articles: bool,
    /// Version 1 had no stat keys.
    has_stat_key: bool,
}

impl Layout {
    fn of(conn: &Connection) -> Layout {
        Layout {
            bodies_in_articles: has_article_column(conn, "article_json"),
            has_stat_key: has_article_column(conn, "stat_key"),
        }
    }
}

impl State {
    /// Opens (creating if needed) the state file read-write.
    pub fn open(path: &Path) -> Result<State, StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Folder {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let existed = path.exists();
        let conn = Connection::open(path).map_err(|source| StateError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        // The state holds the subscriber list: private to its owner.
        if existed {
            crate::support::permissions::warn_if_readable_by_others(path);
        } else {
            crate::support::permissions::make_private(path);
        }
        let mut state = State {
            conn,
            path: path.to_path_buf(),
            layout: Layout {
                bodies_in_articles: false,
                has_stat_key: true,
            },
        };
        state.init()?;
        state.layout = Layout::of(&state.conn);
        Ok(state)
    }

    /// Opens an existing state file without writing to it, or an empty in-memory
    /// state when there is none yet (what `check` wants).
    pub fn open_read_only(path: &Path) -> Result<State, StateError> {
        let wrap = |source| StateError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        if !path.exists() {
            let conn = Connection::open_in_memory().map_err(wrap)?;
            for schema in [
                SCHEMA,
                crate::store::subscribers::SCHEMA,
                crate::store::journal::SCHEMA,
            ] {
                conn.execute_batch(schema).map_err(wrap)?;
            }
            return Ok(State {
                layout: Layout::of(&conn),
                conn,
                path: path.to_path_buf(),
            });
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(wrap)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(wrap)?;
        Ok(State {
            layout: Layout::of(&conn),
            conn,
            path: path.to_path_buf(),
        })
    }

    fn wrap(&self, source: rusqlite::Error) -> StateError {
        StateError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn init(&self) -> Result<(), StateError> {
        self.conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|e| self.wrap(e))?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.wrap(e))?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.wrap(e))?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.wrap(e))?;
        if version > SCHEMA_VERSION {
            return Err(StateError::TooNew {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        // The build record is only a cache: one of another layout is dropped.
        if (self.conn)
            .prepare("SELECT settled, snapshot_id FROM build_record LIMIT 0")
            .is_err()
        {
            (self.conn)
                .execute_batch("DROP TABLE IF EXISTS build_record")
                .map_err(|e| self.wrap(e))?;
        }
        for schema in [
            SCHEMA,
            crate::store::subscribers::SCHEMA,
            crate::store::journal::SCHEMA,
        ] {
            self.conn.execute_batch(schema).map_err(|e| self.wrap(e))?;
        }
        // Version 1 had no `stat_key` column, version 2 no `head_json`.
        if !has_article_column(&self.conn, "stat_key") {
            self.conn
                .execute_batch("ALTER TABLE articles ADD COLUMN stat_key TEXT NOT NULL DEFAULT ''")
                .map_err(|e| self.wrap(e))?;
        }
        if !has_article_column(&self.conn, "head_json") {
            self.conn
                .execute_batch("ALTER TABLE articles ADD COLUMN head_json TEXT NOT NULL DEFAULT ''")
                .map_err(|e| self.wrap(e))?;
        }
        if version < 3 {
            let tx = self.write_transaction()?;
            split_bodies(&tx).map_err(|e| self.wrap(e))?;
            tx.commit().map_err(|e| self.wrap(e))?;
        }
        self.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// Every article the state knows, removed ones included, by id.
    pub fn articles(&self) -> Result<HashMap<String, StoredArticle>, StateError> {
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
    pub fn body_reader(&self) -> Result<Option<BodyReader>, StateError> {
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
    pub fn article_json(&self, id: &str) -> Result<Option<String>, StateError> {
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

    /// What each output file was last rendered from (path → fingerprint).
    pub fn output_fingerprints(&self) -> Result<HashMap<String, String>, StateError> {
        output_fingerprints_in(&self.conn).map_err(|e| self.wrap(e))
    }

    /// Saves article rows (what a build parsed) in one transaction.
    pub fn save_articles(&mut self, rows: &[StoredArticle]) -> Result<(), StateError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.write_transaction()?;
        upsert_articles(&tx, rows).map_err(|e| self.wrap(e))?;
        tx.commit().map_err(|e| self.wrap(e))
    }

    /// Records what a build changed in the output fingerprints, in one transaction:
    /// `written` (path, fingerprint) pairs replace theirs, `gone` paths are forgotten.
    /// A build passes only its differences from what it read at its start, so a
    /// no-change build writes nothing.
    pub fn save_outputs<'a>(
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

    /// IMMEDIATE: takes the write lock up front. A deferred transaction that reads
    /// before it writes (the v3 migration does) cannot wait for another writer:
    /// SQLite answers "database is locked" at once instead of using the timeout.
    fn write_transaction(&self) -> Result<rusqlite::Transaction<'_>, StateError> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.wrap(e))
    }

    /// The last clean build's record, if there is one.
    pub fn build_memo(&self) -> Result<Option<StoredMemo>, StateError> {
        self.conn
            .query_row(
                "SELECT settings, seeds, outputs, valid_from, valid_until, summary, settled
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
        let mut name = self.path.clone().into_os_string();
        name.push("-catalog");
        PathBuf::from(name)
    }

    /// The catalog snapshot saved with the build record (see
    /// [`CatalogSnapshot`](crate::build::record::CatalogSnapshot)), read by
    /// `reader` (a thread may read it while the caller does something else).
    /// `None` without a record, or when the file is not the one the record names
    /// (a build that crashed between writing the two).
    pub fn build_snapshot_reader(
        &self,
    ) -> Result<impl FnOnce() -> Option<Vec<u8>> + Send + 'static, StateError> {
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
            let mut bytes = std::fs::read(path).ok()?;
            let (len, rest) = bytes.split_at_checked(4)?;
            let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
            if rest.get(..len)? != id.as_bytes() {
                return None;
            }
            bytes.drain(..4 + len);
            Some(bytes)
        })
    }

    /// Replaces the build record (`None`: forgets it). `snapshot`: the id
    /// [`SnapshotSaver::save`] gave its catalog snapshot.
    pub fn save_build_memo(&self, memo: Option<(&StoredMemo, &str)>) -> Result<(), StateError> {
        let result = match memo {
            Some((m, snapshot)) => self.conn.execute(
                "INSERT OR REPLACE INTO build_record
                     (id, settings, seeds, outputs, valid_from, valid_until, summary, settled,
                      snapshot_id)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    m.settings,
                    m.seeds,
                    m.outputs,
                    m.valid_from,
                    m.valid_until,
                    m.summary,
                    m.settled,
                    snapshot
                ],
            ),
            None => self.conn.execute("DELETE FROM build_record", []),
        };
        result.map(|_| ()).map_err(|e| self.wrap(e))
    }

    /// What saves the build record's catalog snapshot (from any thread).
    pub fn snapshot_saver(&self) -> SnapshotSaver {
        SnapshotSaver {
            path: self.snapshot_path(),
        }
    }

    /// The stored rows of the articles `ids` (those the state has), as
    /// [`State::articles`] reads them.
    pub fn articles_with_ids<'a>(
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

    /// The recorded fingerprints of the outputs in `folder` (relative to the output
    /// root), by path.
    pub fn output_fingerprints_in(
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

    /// Every frozen edition, oldest week first.
    pub fn frozen_editions(&self) -> Result<Vec<FrozenEdition>, StateError> {
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
    pub fn freeze_edition(&self, edition: &FrozenEdition) -> Result<(), StateError> {
        let ids = serde_json::to_string(&edition.article_ids).unwrap_or_else(|_| "[]".into());
        self.conn
            .execute(
                "INSERT OR IGNORE INTO editions (week, article_ids, frozen_at) VALUES (?1, ?2, ?3)",
                params![edition.week, ids, edition.frozen_at],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// The raw connection, for stages that keep their own tables in the same file.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Saves the build record's catalog snapshot: a file beside the state, replaced
/// atomically, under a new random id that the record then names.
pub struct SnapshotSaver {
    path: PathBuf,
}

impl SnapshotSaver {
    /// Replaces the snapshot file with `snapshot`; returns its new id.
    pub fn save(&self, snapshot: &[u8]) -> Result<String, StateError> {
        use std::io::Write;
        let path = &self.path;
        let wrap = |source| StateError::Snapshot {
            path: path.clone(),
            source,
        };
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| wrap(std::io::Error::other(e.to_string())))?;
        let id = crate::support::fingerprint::to_hex(&random);
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(wrap)?;
        temp.write_all(&(id.len() as u32).to_le_bytes())
            .and_then(|()| temp.write_all(id.as_bytes()))
            .and_then(|()| temp.write_all(snapshot))
            .map_err(wrap)?;
        temp.persist(path).map_err(|e| wrap(e.error))?;
        Ok(id)
    }
}

/// Fetches stored article bodies by id; shareable between rendering threads.
pub struct BodyReader {
    conn: std::sync::Mutex<Connection>,
    path: PathBuf,
    /// Bodies are in `article_bodies`, or (a state file older than version 3 opened
    /// read-only) in `articles`.
    query: &'static str,
}

impl BodyReader {
    /// The stored article JSON of `id`, if the stored version is the one whose seed
    /// fingerprint is `content_hash` (`None` when another run replaced it meanwhile).
    pub fn article_json(&self, id: &str, content_hash: &str) -> Result<Option<String>, StateError> {
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
