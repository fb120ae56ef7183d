//! Choosing how to compile for `wasm32-unknown-unknown`: an installed rustup
//! target when there is one, otherwise Debian's `rustc-web` with
//! `-Zbuild-std`, installed from apt when missing. Never `rustup target add`:
//! its download is not promised to be reachable, and a hang there stalls CI.
//!
//! The Debian route checks itself after installing: every path the build
//! uses must exist *and* belong (per `dpkg -S`) to a package this file
//! installs. A file that only a hand install put on a machine therefore fails
//! the build on that machine too, not only on a new one — the mistake that
//! once left `rust-lld` (package `rust-web-llvm`) out of the install.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

pub const TARGET: &str = "wasm32-unknown-unknown";

/// What the Debian route installs. `--no-install-recommends` keeps the
/// install small, so every package a build path comes from is named here,
/// including `rustc-web`'s recommends `cargo-web` and `rust-web-llvm`.
pub const DEBIAN_PACKAGES: [&str; 5] = [
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-llvm",
    "lld-22",
];

/// A path the wasm build uses, and the package expected to provide it.
#[derive(Debug, Clone, Copy)]
pub struct RequiredPath {
    pub path: &'static str,
    pub what: &'static str,
    pub package: &'static str,
}

pub const REQUIRED_PATHS: [RequiredPath; 4] = [
    RequiredPath {
        path: "/usr/bin/rustc",
        what: "the compiler",
        package: "rustc-web",
    },
    RequiredPath {
        path: "/usr/bin/cargo",
        what: "cargo",
        package: "cargo-web",
    },
    RequiredPath {
        path: "/usr/lib/rustlib/src/rust/library",
        what: "the standard library's source (for -Zbuild-std)",
        package: "rust-web-src",
    },
    RequiredPath {
        path: "/usr/bin/rust-lld",
        what: "the wasm linker",
        package: "rust-web-llvm",
    },
];

const DEBIAN_RUSTC: &str = REQUIRED_PATHS[0].path;
const DEBIAN_CARGO: &str = REQUIRED_PATHS[1].path;

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

/// `cargo xtask toolchain`: says which route the wasm build takes and, for
/// the Debian route, installs what is missing and checks every path.
pub fn check() -> Result<()> {
    if rustup_has_wasm_target() {
        eprintln!("xtask: wasm build uses rustup's installed {TARGET} target");
        return Ok(());
    }
    ensure_debian_toolchain()?;
    eprintln!(
        "xtask: wasm build uses Debian's toolchain; every path it needs belongs to {}",
        DEBIAN_PACKAGES.join(" ")
    );
    Ok(())
}

pub fn rustup_has_wasm_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
}

/// Installs whatever of [`DEBIAN_PACKAGES`] is missing, then checks the result.
pub fn ensure_debian_toolchain() -> Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| !package_installed(p))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "xtask: installing Debian's Rust toolchain for WebAssembly ({})",
            missing.join(" ")
        );
        apt(&["update", "-qq"])?;
        let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
        install.extend(DEBIAN_PACKAGES);
        apt(&install)?;
    }
    verify_debian_toolchain()
}

/// Every required path exists, and it and every link it goes through belong
/// to packages in [`DEBIAN_PACKAGES`] (`dpkg -S` is asked for each link and
/// for the real file it resolves to).
pub fn verify_debian_toolchain() -> Result<()> {
    let mut problems = Vec::new();
    for required in REQUIRED_PATHS {
        if let Err(problem) = check_path(&required, &dpkg_owners) {
            problems.push(problem.to_string());
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "the Debian WebAssembly toolchain is incomplete:\n  - {}\n(the build installs {} with apt-get as root)",
        problems.join("\n  - "),
        DEBIAN_PACKAGES.join(" ")
    )
}

/// Why a required path cannot be trusted to be there on a new machine.
#[derive(Debug, PartialEq, Eq)]
pub enum PathProblem {
    Missing {
        path: String,
        what: &'static str,
        package: &'static str,
    },
    NotOurs {
        path: String,
        what: &'static str,
        owners: Vec<String>,
    },
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Missing {
                path,
                what,
                package,
            } => write!(
                f,
                "{path} ({what}) is missing; Debian's package {package} provides it"
            ),
            PathProblem::NotOurs { path, what, owners } if owners.is_empty() => write!(
                f,
                "{path} ({what}) belongs to no Debian package: it was put there by hand, and a new machine will not have it; the build installs only {}",
                DEBIAN_PACKAGES.join(" ")
            ),
            PathProblem::NotOurs { path, what, owners } => write!(
                f,
                "{path} ({what}) comes from {}, which the build does not install: a new machine will not have it; add the package to DEBIAN_PACKAGES in xtask/src/toolchain.rs",
                owners.join(", ")
            ),
        }
    }
}

/// Checks one path: it exists, and `owners` (which packages own a path;
/// empty: none) names one of ours for every symlink on the way to it and for
/// the real file or directory at the end.
pub fn check_path(
    required: &RequiredPath,
    owners: &dyn Fn(&Path) -> Vec<String>,
) -> std::result::Result<(), PathProblem> {
    let path = Path::new(required.path);
    if !path.exists() {
        return Err(PathProblem::Missing {
            path: required.path.to_string(),
            what: required.what,
            package: required.package,
        });
    }
    for step in resolution_steps(path) {
        let found = owners(&step);
        if !found.iter().any(|o| DEBIAN_PACKAGES.contains(&o.as_str())) {
            return Err(PathProblem::NotOurs {
                path: step.display().to_string(),
                what: required.what,
                owners: found,
            });
        }
    }
    Ok(())
}

/// Resolves `path` like `realpath`, one component at a time, and returns each
/// symlink met on the way (as dpkg records it: its directory resolved, its own
/// name kept) followed by the real path at the end.
pub fn resolution_steps(path: &Path) -> Vec<PathBuf> {
    let mut steps = Vec::new();
    let mut pending: VecDeque<std::ffi::OsString> = path
        .components()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut current = PathBuf::from("/");
    let mut links_followed = 0;
    while let Some(part) = pending.pop_front() {
        match Path::new(&part).components().next() {
            Some(Component::RootDir) => current = PathBuf::from("/"),
            Some(Component::ParentDir) => {
                current.pop();
            }
            Some(Component::Normal(name)) => {
                let candidate = current.join(name);
                match std::fs::read_link(&candidate) {
                    Ok(target) if links_followed < 40 => {
                        links_followed += 1;
                        steps.push(candidate);
                        for c in target.components().rev() {
                            pending.push_front(c.as_os_str().to_os_string());
                        }
                    }
                    _ => current = candidate,
                }
            }
            _ => {}
        }
    }
    steps.push(current);
    steps
}

/// The packages `dpkg -S` names for a path (empty when it names none).
fn dpkg_owners(path: &Path) -> Vec<String> {
    // dpkg records paths as installed, so ask for the path as given, not canonicalized.
    let Ok(out) = Command::new("dpkg").arg("-S").arg(path).output() else {
        return vec![];
    };
    parse_dpkg_search(&String::from_utf8_lossy(&out.stdout), path)
}

/// `dpkg -S` prints `pkg1, pkg2: /path` for each matching path; keep the
/// packages of the line naming exactly `path`. `diversion by` lines are not
/// ownership.
pub fn parse_dpkg_search(output: &str, path: &Path) -> Vec<String> {
    let wanted = path.to_string_lossy();
    output
        .lines()
        .filter(|line| !line.starts_with("diversion "))
        .filter_map(|line| line.split_once(": "))
        .filter(|(_, p)| p.trim() == wanted)
        .flat_map(|(packages, _)| packages.split(", "))
        .map(|p| p.split(':').next().unwrap_or(p).trim().to_string())
        .collect()
}

fn package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "install ok installed")
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

#[cfg(test)]
#[path = "toolchain_tests.rs"]
mod tests;
