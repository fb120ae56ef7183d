//! The databases the store suite runs on: a SQLite file in a temporary
//! directory, or a fresh PostgreSQL database created on the server
//! `TRUSTPUB_TEST_POSTGRES_URL` names (`cargo xtask test` starts one) and
//! dropped at the end of the test.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Once};

use crate::store::{PostgresOptions, PostgresStore, SqliteStore, Store};

pub const POSTGRES_URL_VAR: &str = "TRUSTPUB_TEST_POSTGRES_URL";

pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        path: String,
    },
    Postgres {
        admin_url: String,
        url: String,
        name: String,
    },
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir
            .path()
            .join("trustpub.db")
            .to_str()
            .expect("UTF-8 path")
            .to_string();
        Self::Sqlite { _dir: dir, path }
    }

    /// A fresh, empty database; `None` (and a line on stderr saying the
    /// PostgreSQL variants are skipped) when no server is configured.
    pub fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            static SKIP: Once = Once::new();
            SKIP.call_once(|| {
                // Straight to stderr: the test harness captures eprintln!.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: the PostgreSQL store tests did not run ({POSTGRES_URL_VAR} is unset; `cargo xtask test` starts a server and sets it)"
                );
            });
            return None;
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "trustpub_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .expect("connect to TRUSTPUB_TEST_POSTGRES_URL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        let url = with_database(&admin_url, &name);
        Some(Self::Postgres {
            admin_url,
            url,
            name,
        })
    }

    /// A store on this database; a second call opens a second one (another
    /// process, another host) on the same data.
    pub fn open(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite { path, .. } => Arc::new(SqliteStore::open(path).expect("open SQLite")),
            Self::Postgres { url, .. } => Arc::new(
                PostgresStore::open(url, &PostgresOptions::default()).expect("open PostgreSQL"),
            ),
        }
    }

    /// The database's URL (PostgreSQL) or path (SQLite).
    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { path, .. } => path,
            Self::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
            && let Ok(mut admin) = postgres::Client::connect(admin_url, postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// `url` with its database name replaced: `postgres://u@h:p/old?x` →
/// `postgres://u@h:p/NAME?x`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[test]
fn with_database_replaces_only_the_name() {
    assert_eq!(
        with_database("postgres://u:p@h:5/old?host=/tmp", "new"),
        "postgres://u:p@h:5/new?host=/tmp"
    );
    assert_eq!(with_database("postgresql://h", "n"), "postgresql://h/n");
}
