//! The database harness of the store suites: every test runs twice, on a fresh SQLite
//! file in a new temporary directory and on a fresh PostgreSQL database created for it
//! on the server named by `CALLVISOR_TEST_POSTGRES_URL`; without that variable the
//! PostgreSQL variants say so on stderr and pass. `on_both_backends!(test, …)` declares
//! `sqlite::test` and `postgres::test` for each named test.

use callvisor::store::{Backend, SqlStore};
use callvisor_actors::domain::{Agent, AgentId, Client, ClientId, PhoneNumber};
use chrono::{DateTime, Utc};
use std::future::Future;
use tokio::task::JoinError;
use uuid::Uuid;

const POSTGRES_URL_VAR: &str = "CALLVISOR_TEST_POSTGRES_URL";

/// A migrated store on a database made for one test, and that database's URL for the
/// tests that need to reach underneath the store.
pub struct TestDb {
    pub store: SqlStore,
    pub url: String,
}

impl TestDb {
    /// A plain pool on the same database, bypassing the store.
    pub async fn raw_pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.url)
            .await
            .expect("connect a raw pool to the test database")
    }
}

/// Runs `test` on a fresh SQLite file, then deletes it.
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("store.db").display());
    let outcome = tokio::spawn(run(url, Backend::Sqlite, test)).await;
    let _ = std::fs::remove_dir_all(&dir);
    finish(outcome);
}

/// Runs `test` on a PostgreSQL database created for it, then drops the database.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(server_url) = std::env::var(POSTGRES_URL_VAR) else {
        super::say(&format!(
            "PostgreSQL store suite skipped: {POSTGRES_URL_VAR} is not set"
        ));
        return;
    };
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&server_url)
        .await
        .unwrap_or_else(|e| panic!("connect to {POSTGRES_URL_VAR}: {e}"));
    let name = format!("cv_test_{}", Uuid::now_v7().simple());
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));

    let mut url = url::Url::parse(&server_url).expect("a valid PostgreSQL URL");
    url.set_path(&name);
    let outcome = tokio::spawn(run(url.to_string(), Backend::Postgres, test)).await;
    // FORCE ends the connections a failed test may have left open.
    let dropped = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
    if let Err(e) = dropped {
        eprintln!("could not drop test database {name}: {e}");
    }
    admin.close().await;
    finish(outcome);
}

/// Connects a store to `url`, migrates it and runs `test` on it. Runs in its own task so
/// that the caller can clean the database up even when this panics.
async fn run<F, Fut>(url: String, backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = SqlStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to the {backend} test database: {e}"));
    assert_eq!(store.backend(), backend);
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate the {backend} test database: {e}"));
    test(TestDb {
        store: store.clone(),
        url,
    })
    .await;
    store.close().await;
}

/// Re-raises a failure of the test body once the database has been cleaned up.
fn finish(outcome: Result<(), JoinError>) {
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task did not finish: {e}");
    }
}

/// Declares each named test once per backend: `sqlite::name` and `postgres::name`.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    $crate::common::db::on_sqlite(crate::$test).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    $crate::common::db::on_postgres(crate::$test).await;
                }
            )+
        }
    };
}

pub fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("callvisor-store-{}", Uuid::now_v7().simple()))
}

// Fixtures

/// Now, at the millisecond precision the store keeps.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("a valid time")
}

pub fn phone(n: &str) -> PhoneNumber {
    PhoneNumber::from_trusted(n.to_string())
}

pub fn client(name: &str) -> Client {
    let at = now();
    Client {
        id: ClientId::new(),
        name: name.to_string(),
        max_concurrent_calls: 25,
        timezone: "Asia/Kolkata".to_string(),
        created_at: at,
        updated_at: at,
    }
}

pub fn agent(client: &Client, name: &str) -> Agent {
    let at = now();
    Agent {
        id: AgentId::new(),
        client_id: client.id,
        name: name.to_string(),
        answer_url: format!("https://bots.example/{name}/answer"),
        warmup_url: None,
        caller_id: None,
        created_at: at,
        updated_at: at,
    }
}

/// A client and one of its agents, stored.
pub async fn tenant(store: &SqlStore) -> (Client, Agent) {
    let c = client("Acme");
    let a = agent(&c, "sales");
    store.insert_client(&c).await.expect("insert client");
    store.insert_agent(&a).await.expect("insert agent");
    (c, a)
}
