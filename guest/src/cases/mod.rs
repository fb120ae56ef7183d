//! Case tables (feature `cases`): an evaluator's expected verdicts, written
//! once as TOML (`policies/<idp>/cases/*.toml`) and run three ways — natively
//! against the evaluator crate ([`NativeBackend`], in its `cargo test`),
//! through the built component in the host's tests, and by
//! `trustpub eval --cases DIR` — each way a [`CaseBackend`].
//!
//! The format ([`mod@file`]) and what a run does ([`mod@run`]) are documented there;
//! the guide (`guest/README.md`) has an example.

pub mod backend;
pub mod file;
pub mod native;
pub mod run;

pub use backend::CaseBackend;
pub use file::{Case, CaseFile, Expect, StoredPolicy, load_dir, load_file, parse};
pub use native::{NativeBackend, assert_native_dir, run_native_dir};
pub use run::{CaseReport, run};
