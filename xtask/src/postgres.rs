//! A throwaway PostgreSQL for `cargo xtask test`: Debian's `postgresql`
//! (installed with apt when no `initdb` is found), a new cluster in a
//! temporary directory on a free loopback port with its unix socket beside
//! it, one database. The tests get its URL in `TRUSTPUB_TEST_POSTGRES_URL`
//! (and the server's binaries in `TRUSTPUB_TEST_POSTGRES_BIN`, for tests
//! that start and stop a server of their own); dropping the value stops the
//! server and removes the directory, on failure too.
//!
//! `initdb` refuses to run as root: as root, the cluster belongs to the
//! `postgres` user the package creates and every server command runs through
//! `runuser -u postgres`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

pub const URL_VAR: &str = "TRUSTPUB_TEST_POSTGRES_URL";
pub const BIN_VAR: &str = "TRUSTPUB_TEST_POSTGRES_BIN";

const DATABASE: &str = "trustpub";
const SUPERUSER: &str = "trustpub";

pub struct ThrowawayPostgres {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
}

impl ThrowawayPostgres {
    pub fn start() -> Result<Self> {
        let bin = match server_bin_dir() {
            Some(bin) => bin,
            None => {
                install()?;
                server_bin_dir().context(
                    "`postgresql` is installed but no /usr/lib/postgresql/*/bin/initdb exists",
                )?
            }
        };
        let as_postgres = running_as_root();
        let dir = std::env::temp_dir().join(format!(
            "trustpub-pg-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let server = Self {
            dir,
            bin,
            as_postgres,
            port: free_port()?,
        };
        if as_postgres {
            run(Command::new("chown").args(["postgres:postgres", server.dir_str()?]))?;
        }
        let data = server.dir.join("data");
        let data = data.to_str().context("non-UTF-8 temporary directory")?;
        server.pg(
            "initdb",
            &[
                "-D",
                data,
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        )?;
        let log = server.dir.join("server.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c full_page_writes=off",
            server.port,
            server.dir_str()?
        );
        server
            .pg(
                "pg_ctl",
                &[
                    "-D",
                    data,
                    "-l",
                    log.to_str().context("non-UTF-8 path")?,
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            )
            .with_context(|| format!("the server did not start; its log: {}", log.display()))?;
        server.pg(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &server.port.to_string(),
                "-U",
                SUPERUSER,
                DATABASE,
            ],
        )?;
        eprintln!(
            "xtask: throwaway PostgreSQL on 127.0.0.1:{} ({})",
            server.port,
            server.dir.display()
        );
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    fn dir_str(&self) -> Result<&str> {
        self.dir.to_str().context("non-UTF-8 temporary directory")
    }

    /// Runs one of the server's programs, as `postgres` when we are root.
    fn pg(&self, program: &str, args: &[&str]) -> Result<()> {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // The server's programs chdir nowhere: a directory postgres may read.
        cmd.args(args).current_dir(&self.dir);
        run(&mut cmd)
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if let Some(data) = data.to_str() {
            let _ = self.pg("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's `bin/` directory, if any.
pub fn server_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn install() -> Result<()> {
    eprintln!("xtask: installing Debian's postgresql for the store tests");
    apt(&["update", "-qq"])?;
    apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "postgresql",
    ])
}

fn apt(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get (the tests need Debian's postgresql)")?;
    if !status.success() {
        bail!("apt-get {} failed ({status}); run as root", args.join(" "));
    }
    Ok(())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

fn run(cmd: &mut Command) -> Result<()> {
    let output = cmd
        .output()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}{}",
            cmd.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
