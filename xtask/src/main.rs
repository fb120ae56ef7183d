//! `cargo xtask <command>`: the project's build and test entry points.
//!
//! - `components`: build every evaluator (`policies/*`) and hostile test guest
//!   (`tests/hostile/*`) into `target/components/`;
//! - `test`: components, then the whole workspace's tests, with a throwaway
//!   PostgreSQL for the store suite's second engine and the cluster tests;
//! - `demo`: components, then `trustpub demo`;
//! - `toolchain`: install (when missing) and check the wasm toolchain;
//! - `doc-links`: every Markdown link stays inside the repository and resolves;
//! - `module-cycles`: no module imports one that imports it back.
//!
//! Each step prints how long it took, so a slow clean build shows in CI's log.

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
        Some("components") => timed("components", || components::build_all(&root).map(drop)),
        Some("toolchain") => timed("toolchain", toolchain::check),
        Some("doc-links") => timed("doc-links", || doc_links::check(&root)),
        Some("module-cycles") => timed("module-cycles", || module_cycles::check(&root)),
        Some("test") => {
            timed("components", || components::build_all(&root).map(drop))?;
            // The black-box tests run the binary, so build it before they start.
            timed("build trustpub", || {
                cargo(&root, &["build", "--package", "trustpub"])
            })?;
            // Stopped and removed when dropped, whatever the tests did.
            let server = postgres::ThrowawayPostgres::start()?;
            let env = [
                (postgres::URL_VAR, server.url()),
                (postgres::BIN_VAR, server.bin().display().to_string()),
            ];
            let mut test = vec!["test", "--workspace"];
            test.extend(extra);
            timed("cargo test", || cargo_with_env(&root, &test, &env))
        }
        Some("demo") => {
            timed("components", || components::build_all(&root).map(drop))?;
            let mut demo = vec!["run", "--quiet", "--package", "trustpub", "--", "demo"];
            demo.extend(extra);
            timed("demo", || cargo(&root, &demo))
        }
        _ => bail!(
            "usage: cargo xtask <components | test [cargo test args] | demo | toolchain | doc-links | module-cycles>"
        ),
    }
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
    cargo_with_env(root, args, &[])
}

fn cargo_with_env(root: &Path, args: &[&str], env: &[(&str, String)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
