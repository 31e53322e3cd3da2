//! The sqlx storage adapter: clients, agents, calls and their event history.
//!
//! One [`SqlStore`] serves both SQLite (the default: a single file, nothing to run) and
//! PostgreSQL (for deployments that outgrow one machine's disk). Both go through
//! `sqlx::Any`, so there is one set of migrations and one text per query, and the two
//! backends cannot drift apart. The price is the Any driver's small type set, which
//! shapes the schema: ids are UUID text, timestamps are BIGINT milliseconds since the
//! Unix epoch, JSON is text and booleans are 0/1 integers.
//!
//! - `sqlite`: SQLite URL preparation and per-connection settings.
//! - `tenants`: clients and agents.
//! - `calls`: calls and call events, including the actors' [`CallStore`] port.
//! - `group_commit`: the one writer through which the actors' call writes share
//!   transactions; `batch_sql`: its multi-row statements.
//! - `campaigns`: campaigns and contacts, including the actors' `CampaignStore` port.
//! - `rows`, `campaign_rows`: conversion between rows and domain values.
//! - `rows`: conversion between rows and domain values.
//! - `health_checks`, `sync_runs`, `alerts`, `retention`: the monitors' ports and the
//!   monitoring API's reads; `monitor_rows`: their row conversions.
//! - `analytics`: totals, rates and daily breakdowns of calls.
//!
//! [`CallStore`]: callvisor_actors::ports::CallStore

mod alerts;
mod analytics;
mod batch_sql;
mod calls;
mod campaign_rows;
mod campaigns;
mod conditions;
mod group_commit;
mod health_checks;
mod monitor_rows;
mod retention;
mod rows;
mod sqlite;
mod sync_runs;
mod tenants;

pub use alerts::AlertFilter;
pub use analytics::{Day, DayRange, Report, Scope, Tally};
pub use calls::CallFilter;
pub use callvisor_actors::ports::StoreError;
pub use campaigns::{CampaignFilter, FailureCounts};
pub use health_checks::{HealthFilter, HealthStats};
pub use sync_runs::SyncStats;

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::migrate::Migrator;
use sqlx::AnyPool;
use std::fmt;
use std::time::{Duration, Instant};

/// The migrations under `migrations/`, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Which database a [`SqlStore`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A local SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError(format!(
                "unsupported database URL '{}': expected sqlite://… or postgres://…",
                redact(url)
            )))
        }
    }

    /// The backend's name, for logs and health reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The storage adapter: a connection pool plus the backend it points at.
///
/// Cloning is cheap and every clone shares the same pool.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// Where the actors' call saves go, to be committed in batches.
    writer: group_commit::GroupCommit,
}

impl SqlStore {
    /// Connects to `sqlite://path` or `postgres://…`.
    ///
    /// For SQLite the file, and its parent directory, are created when missing, and every
    /// connection runs in WAL journal mode with foreign keys enforced and a busy timeout,
    /// so readers never block the writer and a second writer waits instead of failing.
    /// The schema is not touched: call [`SqlStore::migrate`] for that.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyPoolOptions::new();
        let (url, options) = match backend {
            Backend::Sqlite => {
                let url = sqlite::prepare(url)?;
                // Switch the file to WAL once, on a lone connection: the switch needs an
                // exclusive lock that pool connections opening side by side could contend for.
                sqlite::enable_wal(&url).await?;
                (url, options.after_connect(sqlite::configure_connection))
            }
            Backend::Postgres => (url.to_string(), options),
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| error(format!("connecting to {}", redact(&url)), e))?;
        let writer = group_commit::GroupCommit::start(pool.clone());
        Ok(Self {
            pool,
            backend,
            writer,
        })
    }

    /// Brings the schema up to date by running the migrations not yet applied.
    /// Running it again is harmless.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError(format!("running migrations: {e}")))
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `SELECT 1` and returns how long the round trip took (including waiting for a
    /// pooled connection), for health checks.
    pub async fn ping(&self) -> Result<Duration, StoreError> {
        let started = Instant::now();
        sqlx::query("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| error("pinging the database", e))?;
        Ok(started.elapsed())
    }

    /// Connections open in the pool, and how many of them are idle.
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Closes every connection, waiting for the ones in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A storage error that says what was being done and what went wrong.
fn error(context: impl fmt::Display, cause: impl fmt::Display) -> StoreError {
    StoreError(format!("{context}: {cause}"))
}

/// Whether a write touched a row, for updates of rows that may not exist.
fn touched(result: &AnyQueryResult) -> bool {
    result.rows_affected() > 0
}

/// The URL without its password, fit for error messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot carry a password, which this one does.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_comes_from_the_url_scheme() {
        assert_eq!(
            Backend::of_url("sqlite://data/cv.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(Backend::of_url("sqlite:cv.db").ok(), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(Backend::of_url("mysql://h/db").is_err());
    }

    #[test]
    fn error_messages_never_show_the_password() {
        let shown = redact("postgres://cv:s3cret@db.internal:5432/cv");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.internal"), "{shown}");
        let err = Backend::of_url("mysql://cv:s3cret@h/db").unwrap_err();
        assert!(!err.0.contains("s3cret"), "{err}");
    }
}
