//! Choosing how to compile for `wasm32-unknown-unknown` (TOOLCHAIN.md): an
//! installed rustup target when there is one, otherwise Debian's `rustc-web`
//! with `-Zbuild-std`, installed from apt when missing. Never `rustup target
//! add`: its download is not promised to be reachable.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

pub const TARGET: &str = "wasm32-unknown-unknown";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library";
const DEBIAN_LLD: &str = "/usr/bin/rust-lld";
const DEBIAN_PACKAGES: [&str; 4] = ["rustc-web", "cargo-web", "rust-web-src", "lld-22"];

/// A cargo command line that builds for the wasm target.
pub fn wasm_cargo() -> Result<Command> {
    if rustup_has_wasm_target() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--locked", "--profile", "wasm", "--target", TARGET]);
        return Ok(cmd);
    }
    ensure_debian_toolchain()?;
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new(DEBIAN_CARGO);
    cmd.args([
        "build",
        "--locked",
        "--profile",
        "wasm",
        "--target",
        TARGET,
        "-Zbuild-std=std,panic_abort",
    ])
    .env("PATH", path)
    .env("RUSTC", DEBIAN_RUSTC)
    .env("RUSTC_BOOTSTRAP", "1")
    // Set by rustup's proxy for `cargo xtask`; it would pull rustup's rustc back in.
    .env_remove("RUSTUP_TOOLCHAIN")
    .env_remove("RUSTC_WRAPPER")
    .env_remove("CARGO");
    Ok(cmd)
}

fn rustup_has_wasm_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
}

fn ensure_debian_toolchain() -> Result<()> {
    let present = [DEBIAN_RUSTC, DEBIAN_CARGO, DEBIAN_STD_SRC, DEBIAN_LLD]
        .iter()
        .all(|p| Path::new(p).exists());
    if present {
        return Ok(());
    }
    eprintln!(
        "xtask: installing Debian's Rust toolchain for WebAssembly ({})",
        DEBIAN_PACKAGES.join(" ")
    );
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(DEBIAN_PACKAGES);
    apt(&install)
}

fn apt(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get (the WebAssembly build needs Debian's rustc-web, or an installed rustup wasm32-unknown-unknown target)")?;
    if !status.success() {
        bail!(
            "apt-get {} failed ({status}); run as root, or install the rustup wasm32-unknown-unknown target",
            args.join(" ")
        );
    }
    Ok(())
}
