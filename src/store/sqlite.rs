//! What SQLite needs before it behaves like a server database.
//!
//! A fresh install should just work, so the database file and its directory are created
//! on first use. Every connection then gets the same settings: SQLite keeps most of them
//! per connection, and a pool opens connections whenever it likes.

use super::{error, StoreError};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{AnyConnection, Connection};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

/// Applied to every connection, in this order: wait up to 5 s for a lock held by another
/// connection instead of failing at once; enforce foreign keys (off by default in
/// SQLite); then [`JOURNAL_MODE`].
const PRAGMAS: [&str; 2] = ["PRAGMA busy_timeout = 5000", "PRAGMA foreign_keys = ON"];

/// Write-ahead logging, so that readers and the writer do not block each other. SQLite
/// answers with the journal mode in force.
const JOURNAL_MODE: &str = "PRAGMA journal_mode = WAL";

/// Readies a `sqlite:` URL for connecting: creates the file's parent directory and asks
/// for the file to be created (`mode=rwc`) unless the URL already names a mode.
pub(super) fn prepare(url: &str) -> Result<String, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_string());
    }
    if let Some(dir) = Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| {
                error(
                    format!("creating the database directory {}", dir.display()),
                    e,
                )
            })?;
        }
    }
    let names_mode = form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == "mode");
    let query = match (query.is_empty(), names_mode) {
        (_, true) => query.to_string(),
        (true, false) => "mode=rwc".to_string(),
        (false, false) => format!("{query}&mode=rwc"),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Puts the database file in WAL mode from a single connection, before any pool exists.
/// The mode is stored in the file, so later connections find it already set.
pub(super) async fn enable_wal(url: &str) -> Result<(), StoreError> {
    let context = "switching the SQLite database to WAL journal mode";
    let mut conn = AnyConnection::connect(url)
        .await
        .map_err(|e| error(context, e))?;
    let outcome = apply_pragmas(&mut conn).await;
    let closed = conn.close().await;
    let mode = outcome.map_err(|e| error(context, e))?;
    closed.map_err(|e| error(context, e))?;
    // An in-memory database reports `memory` and has no journal file to speak of.
    if mode.eq_ignore_ascii_case("wal") || mode.eq_ignore_ascii_case("memory") {
        Ok(())
    } else {
        Err(StoreError(format!(
            "{context}: SQLite kept journal mode '{mode}' (WAL needs a local filesystem)"
        )))
    }
}

/// The pool's `after_connect` hook: applies [`PRAGMAS`] and [`JOURNAL_MODE`] to a new
/// connection.
pub(super) fn configure_connection<'c>(
    conn: &'c mut AnyConnection,
    _meta: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'c>> {
    Box::pin(async move { apply_pragmas(conn).await.map(|_journal_mode| ()) })
}

/// Runs [`PRAGMAS`] and [`JOURNAL_MODE`]; returns the journal mode SQLite settled on.
async fn apply_pragmas(conn: &mut AnyConnection) -> Result<String, sqlx::Error> {
    for pragma in PRAGMAS {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    sqlx::query_scalar(JOURNAL_MODE).fetch_one(&mut *conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("cv-sqlite-url-{}", uuid::Uuid::now_v7().simple()))
    }

    #[test]
    fn asks_for_the_file_to_be_created_and_creates_its_directory() {
        let dir = temp_dir();
        let file = dir.join("nested").join("cv.db");
        let url = prepare(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(url, format!("sqlite://{}?mode=rwc", file.display()));
        assert!(file.parent().unwrap().is_dir());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keeps_other_parameters_and_an_explicit_mode() {
        assert_eq!(
            prepare("sqlite:cv.db?cache=shared").unwrap(),
            "sqlite://cv.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            prepare("sqlite://cv.db?mode=ro").unwrap(),
            "sqlite://cv.db?mode=ro"
        );
        assert_eq!(prepare("sqlite::memory:").unwrap(), "sqlite::memory:");
    }
}
