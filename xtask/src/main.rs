//! `cargo xtask <command>`: the project's build and test entry points.
//!
//! - `components`: build every evaluator (`policies/*`) and hostile test guest
//!   (`tests/hostile/*`) into `target/components/`;
//! - `test`: components, the browser test's Chromium and npm packages
//!   (installed when missing), then the whole workspace's tests, with a
//!   throwaway PostgreSQL for the store suite's second engine and the
//!   cluster tests;
//! - `screenshots`: the console's browser test, saving a screenshot of each
//!   page into `docs/console/`;
//! - `demo`: components, then `trustpub demo`;
//! - `toolchain`: install (when missing) and check the wasm toolchain;
//! - `doc-links`: every Markdown link stays inside the repository and resolves;
//! - `module-cycles`: no module imports one that imports it back.
//!
//! Each step prints how long it took, so a slow clean build shows in CI's log.

mod browser;
mod components;
mod doc_links;
mod module_cycles;
mod postgres;
mod toolchain;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let extra = args.iter().skip(1).map(String::as_str);
    match args.first().map(String::as_str) {
        Some("components") => {
            let names = if extra.clone().any(|a| a == "--keep-names") {
                components::Names::Kept
            } else {
                components::Names::Stripped
            };
            timed("components", || components::build(&root, names).map(drop))
        }
        Some("toolchain") => timed("toolchain", toolchain::check),
        Some("doc-links") => timed("doc-links", || doc_links::check(&root)),
        Some("module-cycles") => timed("module-cycles", || module_cycles::check(&root)),
        Some("test") => {
            timed("components", || components::build_all(&root).map(drop))?;
            timed("browser", || browser::install(&root))?;
            // The black-box tests run the binary, so build it before they
            // start, together with every test target: with the test build's
            // packages and dev-dependencies, so that features resolve as they
            // will for `cargo test` and no dependency is compiled twice.
            let lock_flags = extra.clone().filter(|a| is_lock_flag(a));
            timed("build trustpub and the tests", || {
                build_for_tests(&root, lock_flags)
            })?;
            // Stopped and removed when dropped, whatever the tests did.
            let server = postgres::ThrowawayPostgres::start()?;
            let url = std::ffi::OsString::from(server.url());
            let env = [
                (postgres::URL_VAR, url.as_os_str()),
                (postgres::BIN_VAR, server.bin().as_os_str()),
            ];
            let mut test = vec!["test", "--workspace"];
            test.extend(extra);
            timed("cargo test", || cargo_with(&root, &test, &env))
        }
        Some("screenshots") => {
            timed("components", || components::build_all(&root).map(drop))?;
            timed("browser", || browser::install(&root))?;
            let lock_flags = extra.clone().filter(|a| is_lock_flag(a));
            timed("build trustpub and the tests", || {
                build_for_tests(&root, lock_flags)
            })?;
            let shots = root.join("docs/console");
            timed("screenshots", || {
                cargo_with(
                    &root,
                    &[
                        "test",
                        "--workspace",
                        "--test",
                        "all",
                        "console::the_console_in_headless_chromium",
                    ],
                    &[("TRUSTPUB_SCREENSHOTS", shots.as_os_str())],
                )
            })
        }
        Some("demo") => {
            timed("components", || components::build_all(&root).map(drop))?;
            let mut demo = vec!["run", "--quiet", "--package", "trustpub", "--", "demo"];
            demo.extend(extra);
            timed("demo", || cargo(&root, &demo))
        }
        _ => bail!(
            "usage: cargo xtask <components [--keep-names] | test [cargo test args] | screenshots | demo | toolchain | doc-links | module-cycles>"
        ),
    }
}

/// Builds the binary and every test target in one resolution: the same
/// packages and dev-dependencies as `cargo test --workspace`, so features
/// resolve alike and no dependency (wasmtime above all) is compiled twice.
fn build_for_tests<'a>(root: &Path, flags: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut build = vec!["build", "--workspace", "--bins", "--tests"];
    build.extend(flags);
    cargo(root, &build)
}

/// Flags about the lock file, which every cargo step must share.
fn is_lock_flag(arg: &str) -> bool {
    matches!(arg, "--locked" | "--frozen" | "--offline")
}

/// Runs one step and says how long it took, whether it failed or not.
fn timed(step: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let start = Instant::now();
    let result = f();
    let outcome = if result.is_ok() { "done" } else { "failed" };
    eprintln!(
        "xtask: {step} {outcome} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    result
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Runs the cargo that runs us (rustup's), in the workspace root.
fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    cargo_with(root, args, &[])
}

/// [`cargo`] with more environment variables.
fn cargo_with(root: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
