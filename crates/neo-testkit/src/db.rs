//! A database of its own for each test: a temp SQLite file, or a PostgreSQL
//! database created under `NEO_TEST_DATABASE_URL` and dropped afterwards.
//! Hands out URLs only, so any crate's tests can open their store on it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

/// A test database, removed when dropped.
#[derive(Debug)]
pub struct TestDb {
    /// Where to connect.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

/// A name no other live test process uses: pid, a counter, and per-process randomness.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().hash_one(std::process::id()) & 0xff_ffff;
    format!(
        "{prefix}_{}_{}_{random:06x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The PostgreSQL server for tests, or `None` (after saying so loudly) when there is none.
/// Under `CI=true` a missing server fails the test instead.
#[allow(clippy::panic, clippy::print_stderr)] // failing or skipping loudly is the point
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("NEO_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "NEO_TEST_DATABASE_URL is missing: CI must provide PostgreSQL \
                     (e.g. postgres://postgres@127.0.0.1:5432/postgres)"
                );
            }
            eprintln!(
                "\n*** SKIPPED: a PostgreSQL test did not run because NEO_TEST_DATABASE_URL is not set, \
                 e.g. NEO_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres ***\n"
            );
            None
        }
    }
}

/// `admin_url` with its database replaced by `name` (query options kept).
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

impl TestDb {
    /// A new SQLite file under the temp directory.
    pub fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("neo_test")));
        TestDb {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            cleanup: Cleanup::File(path),
        }
    }

    /// A new PostgreSQL database, or `None` when no server is configured (see [`postgres_admin_url`]).
    #[allow(clippy::panic)] // a configured but unreachable server is a broken test setup
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_admin_url()?;
        let name = unique_name("neo_test");
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach NEO_TEST_DATABASE_URL={admin_url}: {e}"));
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await
            {
                panic!("cannot create test database {name}: {e}");
            }
        }
        let _ = admin.close().await;
        Some(TestDb {
            url: with_database(&admin_url, &name),
            cleanup: Cleanup::Database { admin_url, name },
        })
    }
}

impl TestDb {
    /// A PostgreSQL outage of this database alone: new connections are refused
    /// (SQLSTATE 55000) and every open one is cut, as a maintenance window or a
    /// failover does. `false` for SQLite (nothing to take away).
    #[allow(clippy::panic)] // the admin connection failing is a broken test setup
    pub async fn take_away(&self) -> bool {
        let Cleanup::Database { admin_url, name } = &self.cleanup else {
            return false;
        };
        admin(
            admin_url,
            &[
                format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ),
            ],
        )
        .await;
        true
    }

    /// Ends [`TestDb::take_away`]'s outage.
    pub async fn give_back(&self) {
        if let Cleanup::Database { admin_url, name } = &self.cleanup {
            admin(
                admin_url,
                &[format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")],
            )
            .await;
        }
    }
}

/// Runs statements on the admin database.
#[allow(clippy::panic)] // a broken test setup should stop loudly
async fn admin(admin_url: &str, statements: &[String]) {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {admin_url}: {e}"));
    for sql in statements {
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut admin)
            .await
        {
            panic!("{sql}: {e}");
        }
    }
    let _ = admin.close().await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Database { admin_url, name } => {
                // Drop is synchronous and may run inside the test's runtime: use a thread
                // with a runtime of its own. Best effort: a leftover database is harmless.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async {
                        if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                                .execute(&mut admin)
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Runs `async fn scenario(url: &str)` scenarios as two tests each: on a fresh
/// SQLite file and on a fresh PostgreSQL database (skipped loudly, or failing
/// under `CI=true`, when `NEO_TEST_DATABASE_URL` is not set).
#[macro_export]
macro_rules! on_both_stores {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let db = $crate::db::TestDb::sqlite();
                    super::$scenario(&db.url).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(db) = $crate::db::TestDb::postgres().await else { return };
                    super::$scenario(&db.url).await;
                }
            )+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_only_the_path() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_ne!(unique_name("a"), unique_name("a"));
    }
}
