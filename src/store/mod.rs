//! The embedded SQLite state file: what has been published, and when.
//!
//! The state is what makes outputs deterministic and identities stable: an article's
//! first-seen and modified times are recorded once, so rebuilding with no change
//! produces the same bytes, and an edited seed gets a new `updated` time while
//! keeping its id. WAL mode and a busy timeout let a cron run and other readers
//! share the file.

mod articles;
pub(crate) mod bodies;
pub(crate) mod bounces;
mod build_record;
pub(crate) mod companion;
mod editions;
pub(crate) mod journal;
mod outputs;
pub mod subscribers;

pub(crate) use articles::{BodyReader, RowBody, RowSaver, StoredArticle, write_bodies};
use articles::{add_listing_details, has_article_column, split_bodies};
pub(crate) use build_record::StoredMemo;
pub(crate) use editions::FrozenEdition;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

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
        "cannot use {path} (the articles' texts, kept beside the state file): {source}\n  hint: check that the state's folder is writable and the disk is not full; this file belongs with the state file: restore both from the same backup"
    )]
    Bodies {
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

const SCHEMA_VERSION: i64 = 5;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS articles (
    id           TEXT PRIMARY KEY,
    source_file  TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    stat_key     TEXT NOT NULL DEFAULT '',
    head_json    TEXT NOT NULL DEFAULT '',
    first_seen   INTEGER NOT NULL,
    modified     INTEGER,
    removed      INTEGER,
    -- Where the body is in the body file beside the state (store/bodies.rs).
    body_at      INTEGER,
    body_len     INTEGER
);
-- Versions 3 and 4 kept the bodies here; a body saved since is in the body file.
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
-- The last complete build's record (see build_memo.rs): one row, or none. Its
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
    unsettled_folders TEXT NOT NULL,
    seeds_folder TEXT NOT NULL,
    snapshot_id  TEXT NOT NULL
);
";

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
    /// Version 5 on: bodies are in the body file, where the rows say.
    bodies_in_file: bool,
}

impl Layout {
    fn of(conn: &Connection) -> Layout {
        Layout {
            bodies_in_articles: has_article_column(conn, "article_json"),
            has_stat_key: has_article_column(conn, "stat_key"),
            bodies_in_file: has_article_column(conn, "body_at"),
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
                bodies_in_file: true,
            },
        };
        state.init()?;
        state.layout = Layout::of(&state.conn);
        Ok(state)
    }

    /// Opens an existing state file without writing to it, or an empty in-memory
    /// state when there is none yet (what `check` wants).
    pub(crate) fn open_read_only(path: &Path) -> Result<State, StateError> {
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
                crate::store::bounces::SCHEMA,
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

    pub(crate) fn wrap(&self, source: rusqlite::Error) -> StateError {
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
            .prepare(
                "SELECT unsettled_folders, seeds_folder, snapshot_id FROM build_record LIMIT 0",
            )
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
            crate::store::bounces::SCHEMA,
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
        if !has_article_column(&self.conn, "body_at") {
            self.conn
                .execute_batch(
                    "ALTER TABLE articles ADD COLUMN body_at INTEGER;
                     ALTER TABLE articles ADD COLUMN body_len INTEGER;",
                )
                .map_err(|e| self.wrap(e))?;
        }
        let journal_columns = (crate::store::bounces::JOURNAL_COLUMNS.iter())
            .chain(&crate::store::journal::COLUMNS_ADDED);
        for (column, add) in journal_columns {
            let present = self
                .conn
                .prepare(&format!("SELECT {column} FROM send_journal LIMIT 0"))
                .is_ok();
            if !present {
                self.conn.execute_batch(add).map_err(|e| self.wrap(e))?;
            }
        }
        if version < 4 {
            let tx = self.write_transaction()?;
            if version < 3 {
                split_bodies(&tx).map_err(|e| self.wrap(e))?;
            }
            add_listing_details(&tx).map_err(|e| self.wrap(e))?;
            tx.commit().map_err(|e| self.wrap(e))?;
        }
        // Written only when it changes: setting it dirties the file's first page, and a
        // build that finds nothing to do should not write (nor sync) the state at all.
        if version != SCHEMA_VERSION {
            self.conn
                .pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(|e| self.wrap(e))?;
        }
        Ok(())
    }

    /// IMMEDIATE: takes the write lock up front. A deferred transaction that reads
    /// before it writes (the v3 migration does) cannot wait for another writer:
    /// SQLite answers "database is locked" at once instead of using the timeout.
    pub(crate) fn write_transaction(&self) -> Result<rusqlite::Transaction<'_>, StateError> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.wrap(e))
    }

    /// The raw connection, for stages that keep their own tables in the same file.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}
