//! What the console's browser test needs, installed when missing: Debian's
//! `chromium` (apt) and `playwright-core` at the version pinned in
//! `tests/browser/package-lock.json` (npm). Never a browser download of
//! Playwright's own: the test drives the system's Chromium.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where the browser test and its npm packages live.
pub const DIR: &str = "tests/browser";

pub fn install(root: &Path) -> Result<()> {
    if !Path::new("/usr/bin/chromium").exists() {
        eprintln!("xtask: installing Debian's chromium for the console's browser test");
        apt(&["update", "-q"])?;
        apt(&["install", "-y", "-q", "chromium"])?;
    }
    if Command::new("npm").arg("--version").output().is_err() {
        eprintln!("xtask: installing Node.js and npm for the console's browser test");
        apt(&["update", "-q"])?;
        apt(&["install", "-y", "-q", "nodejs", "npm"])?;
    }
    let dir = root.join(DIR);
    if !dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        // `npm ci`: exactly the lock file's versions, or a failure.
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .context("cannot run npm")?;
        if !status.success() {
            bail!("npm ci in {DIR} failed ({status})");
        }
    }
    Ok(())
}

fn apt(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get (the console's browser test needs Debian's chromium)")?;
    if !status.success() {
        bail!("apt-get {} failed ({status}); run as root", args.join(" "));
    }
    Ok(())
}
