//! Builds guest crates to core wasm modules and encodes them as components.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wit_component::ComponentEncoder;

use crate::toolchain::{TARGET, wasm_cargo};

/// A guest crate and where its component goes.
struct Guest {
    package: String,
    output: PathBuf,
}

/// Builds every guest; returns the component paths.
pub fn build_all(root: &Path) -> Result<Vec<PathBuf>> {
    build(root, Names::Stripped)
}

/// Whether the components keep their function names: a profiler (perf with
/// `TRUSTPUB_PERF_MAP=1`) can then name the evaluator's functions.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Stripped,
    Kept,
}

pub fn build(root: &Path, names: Names) -> Result<Vec<PathBuf>> {
    let out = root.join("target/components");
    let mut guests = discover(&root.join("policies"), &out)?;
    guests.extend(discover(&root.join("tests/hostile"), &out.join("hostile"))?);
    if guests.is_empty() {
        bail!("no guest crates under policies/ or tests/hostile/");
    }
    let mut cargo = wasm_cargo()?;
    cargo.current_dir(root);
    if names == Names::Kept {
        cargo.env("CARGO_PROFILE_WASM_STRIP", "false");
    }
    for guest in &guests {
        cargo.args(["--package", &guest.package]);
    }
    let status = cargo
        .status()
        .context("cannot run cargo for the wasm build")?;
    if !status.success() {
        bail!("building the guests failed ({status})");
    }
    let modules = root.join("target").join(TARGET).join("wasm");
    guests
        .iter()
        .map(|guest| {
            let module = modules.join(format!("{}.wasm", guest.package.replace('-', "_")));
            encode(&module, &guest.output)?;
            Ok(guest.output.clone())
        })
        .collect()
}

/// Every directory under `dir` with a Cargo.toml is a guest named after it.
fn discover(dir: &Path, out: &Path) -> Result<Vec<Guest>> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(vec![]);
    };
    let mut guests = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let manifest = path.join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let text = fs::read_to_string(&manifest)?;
        let package = package_name(&text)
            .with_context(|| format!("no package name in {}", manifest.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        guests.push(Guest {
            package,
            output: out.join(format!("{name}.wasm")),
        });
    }
    guests.sort_by(|a, b| a.output.cmp(&b.output));
    Ok(guests)
}

fn package_name(manifest: &str) -> Option<String> {
    let package = manifest.split("[package]").nth(1)?;
    let line = package
        .lines()
        .find(|l| l.trim_start().starts_with("name"))?;
    Some(line.split('"').nth(1)?.to_string())
}

/// Core module → component. The module carries its WIT world (wit-bindgen
/// embeds it), so no adapter or extra WIT is needed.
fn encode(module: &Path, output: &Path) -> Result<()> {
    let core = fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
    let component = ComponentEncoder::default()
        .module(&core)
        .with_context(|| format!("{} is not a guest module", module.display()))?
        .validate(true)
        .encode()
        .with_context(|| format!("cannot encode {} as a component", module.display()))?;
    if let Some(dir) = output.parent() {
        fs::create_dir_all(dir)?;
    }
    // Write then rename, so a watcher never sees a half-written component.
    let tmp = output.with_extension("wasm.tmp");
    fs::write(&tmp, &component)?;
    fs::rename(&tmp, output)?;
    eprintln!("xtask: {} ({} bytes)", output.display(), component.len());
    Ok(())
}
