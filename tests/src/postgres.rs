//! PostgreSQL for the cluster tests. [`TestDatabase`]: a fresh database on
//! the server `cargo xtask test` started (`TRUSTPUB_TEST_POSTGRES_URL`),
//! dropped at the end. [`TestPostgresServer`]: a server of the test's own
//! (from `TRUSTPUB_TEST_POSTGRES_BIN`), for tests that stop and start it.
//! Without those variables the tests say they are skipped and check nothing.
//!
//! The sync PostgreSQL client runs a runtime of its own, which may not start
//! inside a test's: every call here runs on a thread of its own.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub const URL_VAR: &str = "TRUSTPUB_TEST_POSTGRES_URL";
pub const BIN_VAR: &str = "TRUSTPUB_TEST_POSTGRES_BIN";

fn skip(test: &str, var: &str) {
    // Straight to stderr: the harness captures eprintln!.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {test} needs PostgreSQL ({var} is unset; `cargo xtask test` sets it)"
    );
}

/// A fresh database on the shared test server; dropped with this value.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// `None` (saying so on stderr) when no server is configured.
    pub fn create(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var(URL_VAR) else {
            skip(test, URL_VAR);
            return None;
        };
        Some(Self::create_on(&admin_url))
    }

    fn create_on(admin_url: &str) -> Self {
        let admin_url = admin_url.to_string();
        off_runtime(move || Self::create_blocking(&admin_url))
    }

    fn create_blocking(admin_url: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "trustpub_bb_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin =
            postgres::Client::connect(admin_url, postgres::NoTls).expect("connect to PostgreSQL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        Self {
            admin_url: admin_url.to_string(),
            url: with_database(admin_url, &name),
            name,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The one number `sql` selects (e.g. a count), read directly.
    pub fn query_i64(&self, sql: &str) -> i64 {
        let (url, sql) = (self.url.clone(), sql.to_string());
        off_runtime(move || {
            postgres::Client::connect(&url, postgres::NoTls)
                .expect("connect to the test database")
                .query_one(sql.as_str(), &[])
                .expect("query")
                .get(0)
        })
    }
}

/// Runs `f` on a thread of its own and waits for it.
fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .expect("PostgreSQL helper thread")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        off_runtime(move || {
            if let Ok(mut admin) = postgres::Client::connect(&admin_url, postgres::NoTls) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        });
    }
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
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

/// A PostgreSQL server of one test's own, on a fixed port it keeps across a
/// stop and a start; stopped and removed on drop.
pub struct TestPostgresServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
}

impl TestPostgresServer {
    pub fn start(test: &str) -> Option<Self> {
        let Ok(bin) = std::env::var(BIN_VAR) else {
            skip(test, BIN_VAR);
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let server = Self {
            dir,
            bin: PathBuf::from(bin),
            as_postgres,
            port,
        };
        if as_postgres {
            let dir = server.dir.path().display().to_string();
            let status = Command::new("chown")
                .args(["postgres:postgres", &dir])
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let data = server.data();
        server.pg(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "trustpub",
                "--no-sync",
                "--no-instructions",
            ],
        );
        server.resume();
        server.pg(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "trustpub",
                "trustpub",
            ],
        );
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("postgres://trustpub@127.0.0.1:{}/trustpub", self.port)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Stops the server (fast shutdown: sessions are ended).
    pub fn stop(&self) {
        self.pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts it again on the same port and data.
    pub fn resume(&self) {
        let log = self.dir.path().join("server.log").display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    fn pg(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestPostgresServer {
    fn drop(&mut self) {
        let data = self.data();
        let path = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .current_dir(self.dir.path())
            .output();
    }
}
