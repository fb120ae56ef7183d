//! The compiled-component disk cache: a restart loads an evaluator's machine
//! code instead of compiling it again.
//!
//! An entry is named `<component sha256>-<engine hash>.cwasm`, where the engine
//! hash is the SHA-256 of wasmtime's `precompile_compatibility_hash` (compiler
//! target and flags, tunables, wasm features and the wasmtime version), so an
//! engine configured differently, or another wasmtime, looks up another name.
//!
//! File format: `TPCWASM2` (8 bytes), then HMAC-SHA256 of the entry's name
//! followed by the artifact (32 bytes), then the artifact exactly as
//! `Component::serialize` produced it. The integrity record is a header rather
//! than a side file so that one `rename` publishes record and artifact
//! together: there is never a moment, even across a crash, when an artifact
//! sits next to a missing or stale record. Hashing the name in too means an
//! entry copied or renamed under another component's name does not verify.
//!
//! What reaches `Component::deserialize` (which trusts its input: it maps the
//! bytes as executable code) is only an artifact that verifies against its
//! record. A truncated, bit-flipped, foreign or forged file is a miss: it is
//! deleted, the component is recompiled and the entry rewritten.
//!
//! The record is keyed with a per-installation secret (32 random bytes in
//! `<cache dir>.key`, beside the cache, readable by the service only), so
//! someone who can write entries but cannot read that file cannot forge one.
//! And since an entry is mapped as native code, the directory, the key file
//! and every entry must belong to the service's user and be writable by
//! nobody else, and none may be a symlink: a cache that fails this is
//! refused at start (the CLI's direct mode included), an entry that fails it
//! is never loaded.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::cache_trust as trust;
use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

const MAGIC: &[u8; 8] = b"TPCWASM2";
const SECRET_LEN: usize = 32;
const HEADER_LEN: usize = MAGIC.len() + 32;

/// How an evaluator's compiled code was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the compiled cache; nothing was compiled.
    Hit,
    /// Not in the cache: compiled, and the cache entry written.
    Miss,
    /// The cache entry was corrupt, truncated or from an incompatible engine:
    /// it was discarded, the component compiled and the entry rewritten.
    Rebuilt,
    /// The runtime has no compiled cache: compiled.
    Disabled,
}

/// What an [`EvaluatorRuntime`](super::EvaluatorRuntime) has loaded so far.
/// `compiled` counts every compilation (misses, rebuilds and loads without a
/// cache); `rebuilt` is the part of it that replaced an unusable entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileStats {
    pub compiled: u64,
    pub cache_hits: u64,
    pub rebuilt: u64,
}

#[derive(Debug, Default)]
pub(super) struct CompileCounters {
    compiled: AtomicU64,
    cache_hits: AtomicU64,
    rebuilt: AtomicU64,
}

impl CompileCounters {
    pub(super) fn record(&self, outcome: CacheOutcome) {
        // Relaxed: these are statistics, ordered with nothing else.
        let bump = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
        match outcome {
            CacheOutcome::Hit => bump(&self.cache_hits),
            CacheOutcome::Miss | CacheOutcome::Disabled => bump(&self.compiled),
            CacheOutcome::Rebuilt => {
                bump(&self.rebuilt);
                bump(&self.compiled)
            }
        };
    }

    pub(super) fn snapshot(&self) -> CompileStats {
        CompileStats {
            compiled: self.compiled.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            rebuilt: self.rebuilt.load(Ordering::Relaxed),
        }
    }
}

/// A directory of compiled components (see the module documentation).
pub struct CompiledCache {
    dir: PathBuf,
    secret: [u8; SECRET_LEN],
}

impl std::fmt::Debug for CompiledCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The name of one entry: component digest and engine configuration.
#[derive(Debug, Clone)]
pub(super) struct CacheKey(String);

/// The result of looking an entry up.
pub(super) enum Lookup {
    Hit(Component),
    Miss,
    /// An entry existed but could not be used; it has been removed.
    Unusable,
}

impl CompiledCache {
    /// Opens (creating if needed) the cache directory and its key file.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, io::Error> {
        let dir = dir.into();
        create_private_dir(&dir)?;
        trust::check_private(&dir, trust::Kind::Directory)?;
        let secret = trust::load_or_create_secret(&key_path(&dir))?;
        Ok(Self { dir, secret })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn key(&self, engine: &Engine, digest: &str) -> CacheKey {
        CacheKey(format!("{digest}-{}", engine_hash(engine)))
    }

    pub(super) fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.cwasm", key.0))
    }

    /// Loads the entry if it verifies and wasmtime accepts it for `engine`;
    /// an entry that does not is deleted so the caller's rewrite replaces it.
    pub(super) fn lookup(&self, key: &CacheKey, engine: &Engine) -> Lookup {
        let path = self.path(key);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "compiled cache entry unreadable, recompiling");
                return Lookup::Unusable;
            }
        };
        if let Err(e) = trust::check_private(&path, trust::Kind::File) {
            tracing::warn!(path = %path.display(), error = %e, "untrusted compiled cache entry, recompiling");
            discard(&path);
            return Lookup::Unusable;
        }
        let Some(artifact) = Verified::check(&self.secret, key, &bytes) else {
            tracing::warn!(path = %path.display(), "corrupt compiled cache entry, recompiling");
            discard(&path);
            return Lookup::Unusable;
        };
        match deserialize(engine, artifact) {
            Ok(component) => Lookup::Hit(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %format!("{e:#}"),
                    "compiled cache entry rejected by wasmtime, recompiling");
                discard(&path);
                Lookup::Unusable
            }
        }
    }

    /// Writes the entry for `component`. The cache is an optimization, so a
    /// failure is logged and otherwise ignored.
    pub(super) fn store(&self, key: &CacheKey, component: &Component) {
        let path = self.path(key);
        if let Err(e) = self.write(key, component, &path) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the compiled cache entry");
        }
    }

    fn write(&self, key: &CacheKey, component: &Component, path: &Path) -> io::Result<()> {
        let artifact = component
            .serialize()
            .map_err(|e| io::Error::other(format!("{e:#}")))?;
        // Readers (other processes included) see no entry or a whole one;
        // flushed first so a crash cannot publish a name whose contents
        // never reached the disk (it would only fail verification, but then
        // every restart would pay for a compile and a warning).
        crate::durable_file::write_durably(path, |file| {
            file.write_all(MAGIC)?;
            file.write_all(&record(&self.secret, key, &artifact))?;
            file.write_all(&artifact)
        })?;
        Ok(())
    }
}

/// An artifact whose bytes match the integrity record written with them;
/// only [`Verified::check`] makes one.
struct Verified<'a>(&'a [u8]);

impl<'a> Verified<'a> {
    fn check(secret: &[u8; SECRET_LEN], key: &CacheKey, file: &'a [u8]) -> Option<Self> {
        if file.len() < HEADER_LEN || &file[..MAGIC.len()] != MAGIC {
            return None;
        }
        let (recorded, artifact) = file[MAGIC.len()..].split_at(32);
        if !constant_time_eq(&record(secret, key, artifact), recorded) {
            return None;
        }
        // A record over garbage is possible only if garbage was written with
        // it; still, never hand deserialize something that is not a component.
        (Engine::detect_precompiled(artifact) == Some(Precompiled::Component))
            .then_some(Self(artifact))
    }
}

/// Rehydrates a compiled component from a verified cache entry.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, artifact: Verified<'_>) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` requires bytes that `serialize` (or
    // `precompile_component`) produced, unmodified. A `Verified` is only made
    // from a private file (owned by this user, writable by no one else, not
    // a symlink) whose keyed record, written by `CompiledCache::write`
    // together with the bytes `Component::serialize` returned in this kind of
    // process, matches: a truncated, corrupted or foreign file (or one moved
    // from another entry's name) never gets here. The entry's name includes
    // the engine's compatibility hash, and wasmtime itself checks the
    // artifact's version and configuration header and returns an error
    // (handled as a miss) for an incompatible one. Forging a record takes the
    // installation's secret, readable only by this service's user.
    unsafe { Component::deserialize(engine, artifact.0) }
}

/// The integrity record: HMAC-SHA256, keyed with the installation's secret,
/// over the entry's name and the artifact.
fn record(secret: &[u8; SECRET_LEN], key: &CacheKey, artifact: &[u8]) -> [u8; 32] {
    let mut mac = hmac_sha256::HMAC::new(secret);
    mac.update(key.0.as_bytes());
    mac.update([0]);
    mac.update(artifact);
    mac.finalize()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key file sits beside the cache directory, not in it.
fn key_path(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trustpub-compiled".into());
    dir.with_file_name(format!("{name}.key"))
}

/// Hex SHA-256 of everything wasmtime considers when deciding whether an
/// artifact fits an engine. SHA-256 rather than `DefaultHasher`, whose
/// algorithm may change between Rust releases and is 64 bits wide.
fn engine_hash(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    crate::digest::hex(&hasher.0.finalize())
}

/// Feeds `Hash` output into SHA-256.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Required by the trait, unused here: the digest is read directly.
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
}

fn discard(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove the compiled cache entry");
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    //! Against the real entra-id component: build it first with
    //! `cargo xtask components`. Outcomes and counters, never timings, show
    //! whether a load compiled.

    use super::*;
    use crate::runtime::{EvaluatorRuntime, LoadedEvaluator, SandboxLimits};

    const CRITERIA: &str = r#"{"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","oid":"0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f"}"#;

    fn component(name: &str) -> Vec<u8> {
        let path = format!("{}/../target/components/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask components` first"))
    }

    fn entra() -> Vec<u8> {
        component("entra-id.wasm")
    }

    fn limits() -> SandboxLimits {
        SandboxLimits {
            max_concurrent: 4,
            ..SandboxLimits::default()
        }
    }

    /// A fresh runtime, as after a restart, with its cache in `home` (the
    /// key file goes beside the cache, so both stay inside `home`).
    fn runtime(home: &Path) -> EvaluatorRuntime {
        EvaluatorRuntime::new(limits())
            .expect("runtime")
            .with_compiled_cache(home.join("cache"))
            .expect("cache dir")
    }

    fn entry(runtime: &EvaluatorRuntime, bytes: &[u8]) -> PathBuf {
        let cache = runtime.compiled_cache().expect("cache");
        let key = cache.key(runtime.engine(), &crate::runtime::component_digest(bytes));
        cache.path(&key)
    }

    fn works(evaluator: &LoadedEvaluator) {
        assert_eq!(evaluator.info().name, "entra-id");
        let checked = evaluator
            .check_criteria(CRITERIA, r#"{"audience":"api://AzureADTokenExchange"}"#)
            .expect("check-criteria runs");
        assert!(checked.is_ok(), "{checked:?}");
    }

    /// A cache directory holding a valid entry for entra-id.
    fn warm() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let evaluator = rt.load(&entra()).expect("loads");
        assert_eq!(evaluator.cache_outcome(), CacheOutcome::Miss);
        let path = entry(&rt, &entra());
        (dir, path)
    }

    /// Writes `artifact` as the entry at `path` with a valid integrity record.
    fn plant(runtime: &EvaluatorRuntime, bytes: &[u8], artifact: &[u8]) {
        let secret = runtime.compiled_cache().expect("cache").secret;
        plant_with_secret(runtime, bytes, artifact, &secret);
    }

    /// As [`plant`], with the record keyed by `secret`.
    fn plant_with_secret(
        runtime: &EvaluatorRuntime,
        bytes: &[u8],
        artifact: &[u8],
        secret: &[u8; 32],
    ) {
        let cache = runtime.compiled_cache().expect("cache");
        let key = cache.key(runtime.engine(), &crate::runtime::component_digest(bytes));
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&record(secret, &key, artifact));
        file.extend_from_slice(artifact);
        std::fs::write(cache.path(&key), file).expect("write entry");
    }

    /// Loads through a fresh runtime and expects an unusable entry replaced
    /// by a good one, which the next restart then hits.
    fn expect_rebuilt(dir: &Path) {
        let rt = runtime(dir);
        let evaluator = rt.load(&entra()).expect("loads despite the bad entry");
        assert_eq!(evaluator.cache_outcome(), CacheOutcome::Rebuilt);
        assert_eq!(
            rt.compile_stats(),
            CompileStats {
                compiled: 1,
                cache_hits: 0,
                rebuilt: 1
            }
        );
        works(&evaluator);
        let path = entry(&rt, &entra());
        let written = std::fs::read(&path).expect("entry rewritten");
        let cache = rt.compiled_cache().expect("cache");
        let key = cache.key(rt.engine(), evaluator.digest());
        assert!(
            Verified::check(&cache.secret, &key, &written).is_some(),
            "rewritten entry verifies"
        );

        let next = runtime(dir);
        let again = next.load(&entra()).expect("loads");
        assert_eq!(again.cache_outcome(), CacheOutcome::Hit);
        assert_eq!(next.compile_stats().compiled, 0);
    }

    #[test]
    fn a_restart_with_a_warm_cache_does_not_compile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cold = runtime(dir.path());
        let first = cold.load(&entra()).expect("loads");
        assert_eq!(first.cache_outcome(), CacheOutcome::Miss);
        assert_eq!(
            cold.compile_stats(),
            CompileStats {
                compiled: 1,
                cache_hits: 0,
                rebuilt: 0
            }
        );
        let path = entry(&cold, &entra());
        assert!(path.is_file(), "{} written", path.display());
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            name.starts_with(first.digest()) && name.ends_with(".cwasm"),
            "{name}"
        );
        // Only the entry: the temporary file was renamed into place.
        let cache_dir = cold.compiled_cache().expect("cache").dir();
        assert_eq!(std::fs::read_dir(cache_dir).expect("dir").count(), 1);

        let restarted = runtime(dir.path());
        let second = restarted.load(&entra()).expect("loads from the cache");
        assert_eq!(second.cache_outcome(), CacheOutcome::Hit);
        assert_eq!(
            restarted.compile_stats(),
            CompileStats {
                compiled: 0,
                cache_hits: 1,
                rebuilt: 0
            }
        );
        works(&second);
        assert_eq!(second.info(), first.info());
    }

    #[test]
    fn a_runtime_without_a_cache_compiles_every_load() {
        let rt = EvaluatorRuntime::new(limits()).expect("runtime");
        assert!(rt.compiled_cache().is_none());
        for _ in 0..2 {
            let evaluator = rt.load(&entra()).expect("loads");
            assert_eq!(evaluator.cache_outcome(), CacheOutcome::Disabled);
        }
        assert_eq!(rt.compile_stats().compiled, 2);
        assert_eq!(rt.compile_stats().cache_hits, 0);
    }

    #[test]
    fn a_bit_flipped_entry_is_rebuilt() {
        let (dir, path) = warm();
        let mut bytes = std::fs::read(&path).expect("entry");
        let middle = bytes.len() / 2;
        for b in &mut bytes[middle..middle + 16] {
            *b ^= 0xa5;
        }
        std::fs::write(&path, &bytes).expect("corrupt");
        expect_rebuilt(dir.path());
    }

    #[test]
    fn a_truncated_entry_is_rebuilt() {
        let (dir, path) = warm();
        let bytes = std::fs::read(&path).expect("entry");
        std::fs::write(&path, &bytes[..bytes.len() / 3]).expect("truncate");
        expect_rebuilt(dir.path());
        // Even shorter than the header.
        std::fs::write(&path, &bytes[..10]).expect("truncate");
        expect_rebuilt(dir.path());
    }

    #[test]
    fn an_artifact_of_a_differently_configured_engine_is_rebuilt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        // A real wasmtime artifact, but for an engine without epoch
        // interruption (its code would never check a deadline), planted with
        // a valid record under this engine's name: only wasmtime's own header
        // check can tell, and it must.
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        let other = Engine::new(&config).expect("engine");
        let foreign = other.precompile_component(&entra()).expect("precompile");
        assert_eq!(
            Engine::detect_precompiled(&foreign),
            Some(Precompiled::Component)
        );
        plant(&rt, &entra(), &foreign);
        // The record verifies, so it is wasmtime that refuses it.
        let cache = rt.compiled_cache().expect("cache");
        let key = cache.key(rt.engine(), &crate::runtime::component_digest(&entra()));
        let file = std::fs::read(cache.path(&key)).expect("planted");
        let verified = Verified::check(&cache.secret, &key, &file).expect("record verifies");
        let refused = deserialize(rt.engine(), verified).expect_err("incompatible artifact");
        assert!(format!("{refused:#}").contains("epoch"), "{refused:#}");
        expect_rebuilt(dir.path());
    }

    #[test]
    fn a_valid_record_over_garbage_is_rebuilt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        plant(&rt, &entra(), b"\x7fELF but not really a wasmtime artifact");
        expect_rebuilt(dir.path());
    }

    #[test]
    fn another_components_entry_under_this_name_is_rebuilt() {
        // The github-actions artifact is valid for this engine, but its
        // record was made for its own name, so it does not verify here.
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let gha = component("github-actions.wasm");
        let loaded = rt.load(&gha).expect("loads");
        assert_eq!(loaded.cache_outcome(), CacheOutcome::Miss);
        std::fs::rename(entry(&rt, &gha), entry(&rt, &entra())).expect("rename");
        expect_rebuilt(dir.path());
    }

    #[test]
    fn a_rejected_component_is_not_cached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let wasi = component("hostile/wasi.wasm");
        assert!(rt.load(&wasi).is_err());
        let cache_dir = rt.compiled_cache().expect("cache").dir();
        assert_eq!(std::fs::read_dir(cache_dir).expect("dir").count(), 0);
    }

    #[test]
    fn different_engine_configurations_use_different_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = runtime(dir.path());
        let same = runtime(dir.path());
        assert_eq!(entry(&a, &entra()), entry(&same, &entra()));
        let cache = CompiledCache::new(dir.path().join("cache")).expect("cache");
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        let other = Engine::new(&config).expect("engine");
        let digest = crate::runtime::component_digest(&entra());
        assert_ne!(cache.path(&cache.key(&other, &digest)), entry(&a, &entra()));
    }

    #[cfg(unix)]
    #[test]
    fn a_world_writable_directory_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let err = EvaluatorRuntime::new(limits())
            .expect("runtime")
            .with_compiled_cache(dir.path())
            .expect_err("refused");
        assert!(
            matches!(err, crate::runtime::LoadError::Cache { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_record_forged_without_the_installations_secret_is_rebuilt() {
        // Whoever can write entries but not read the key file can compute
        // an unkeyed digest, or a record under a guessed key: neither verifies.
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime(dir.path());
        let gha = component("github-actions.wasm");
        rt.load(&gha).expect("loads");
        let artifact = std::fs::read(entry(&rt, &gha)).expect("entry")[HEADER_LEN..].to_vec();
        plant_with_secret(&rt, &entra(), &artifact, &[0u8; 32]);
        expect_rebuilt(dir.path());
    }

    #[cfg(unix)]
    #[test]
    fn a_group_writable_entry_is_never_loaded() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, path) = warm();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        expect_rebuilt(dir.path());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_entry_is_never_loaded() {
        let (dir, path) = warm();
        let elsewhere = dir.path().join("elsewhere.cwasm");
        std::fs::rename(&path, &elsewhere).expect("move");
        std::os::unix::fs::symlink(&elsewhere, &path).expect("symlink");
        expect_rebuilt(dir.path());
    }

    #[cfg(unix)]
    #[test]
    fn a_group_writable_or_symlinked_directory_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().expect("tempdir");
        let cache = home.path().join("cache");
        std::fs::create_dir(&cache).expect("mkdir");
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o770)).expect("chmod");
        let err = CompiledCache::new(&cache).expect_err("group-writable");
        assert!(err.to_string().contains("write"), "{err}");
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let link = home.path().join("link");
        std::os::unix::fs::symlink(&cache, &link).expect("symlink");
        let err = CompiledCache::new(&link).expect_err("symlink");
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(CompiledCache::new(&cache).is_ok());
        assert!(
            home.path().join("cache.key").is_file(),
            "the key sits beside the cache"
        );
    }

    #[test]
    fn a_missing_directory_is_created_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("a/b");
        let cache = CompiledCache::new(&nested).expect("created");
        assert!(cache.dir().is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&nested)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }
}
