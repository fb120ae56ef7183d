//! Shared helpers for the black-box tests in `tests/tests/`: where the built
//! binary and components are, and scratch directories.
//!
//! `cargo xtask test` builds the components and the binary before the tests.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `trustpub` binary of the same profile as the running test.
pub fn trustpub_bin() -> PathBuf {
    // target/<profile>/deps/<test-binary> → target/<profile>/trustpub
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let bin = profile_dir.join("trustpub");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo xtask test` (it builds the binary first)",
        bin.display()
    );
    bin
}

/// A built component, e.g. `component("entra-id")`.
pub fn component(name: &str) -> PathBuf {
    let path = root()
        .join("target/components")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask components`",
        path.display()
    );
    path
}

/// Runs `trustpub` with `args` and optional stdin.
pub fn run_trustpub(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(trustpub_bin())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn trustpub");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("trustpub runs")
}

pub mod in_process;
pub mod postgres;
pub mod server;
