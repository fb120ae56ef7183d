//! `cargo xtask <command>`: the project's build and test entry points.
//!
//! - `components`: build every evaluator (`policies/*`) and hostile test guest
//!   (`tests/hostile/*`) into `target/components/`;
//! - `test`: components, then the whole workspace's tests;
//! - `demo`: components, then `trustpub demo`.

mod components;
mod toolchain;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

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
    match args.first().map(String::as_str) {
        Some("components") => components::build_all(&root).map(drop),
        Some("test") => {
            components::build_all(&root)?;
            // The black-box tests run the binary, so build it before they start.
            cargo(&root, &["build", "--package", "trustpub"])?;
            let mut test = vec!["test", "--workspace"];
            test.extend(args[1..].iter().map(String::as_str));
            cargo(&root, &test)
        }
        Some("demo") => {
            components::build_all(&root)?;
            let mut demo = vec!["run", "--quiet", "--package", "trustpub", "--", "demo"];
            demo.extend(args[1..].iter().map(String::as_str));
            cargo(&root, &demo)
        }
        _ => bail!("usage: cargo xtask <components | test [cargo test args] | demo>"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Runs the cargo that runs us (rustup's), in the workspace root.
fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
