//! `trustpub eval`: the policy author's sandbox. Runs one evaluator component
//! against a token exactly as the server would, with a fixed clock.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use crate::evaluators::conformance::{ConformanceCases, PolicyFile, normalize_policies};
use crate::jose::jws::{KeyResolver, NoKeys};
use crate::jose::key_set::KeySet;
use crate::runtime::{Evaluation, EvaluatorRuntime, Request, SandboxLimits};
use crate::verdict::evaluation_json;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The evaluator component (.wasm).
    #[arg(long)]
    pub evaluator: PathBuf,
    /// The token itself, `@path` to read it from a file, or `-` for stdin.
    #[arg(long, required_unless_present = "cases")]
    pub token: Option<String>,
    /// The policies: `[{"id": 7, "criteria": {...}, "pins": {...}}, ...]`.
    #[arg(long, required_unless_present = "cases")]
    pub policies: Option<PathBuf>,
    /// Run cases instead: a directory of case tables (`*.toml`, e.g.
    /// `policies/entra-id/cases`) or a conformance cases file (`.json`).
    /// Prints `{"cases": N, "passed": true}` and exits 0, or the failures
    /// and exits 1.
    #[arg(long, conflicts_with_all = ["token", "policies", "jwks", "now"])]
    pub cases: Option<PathBuf>,
    /// The issuer's keys as a JWKS document; without it no signature verifies.
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// The evaluation time, unix seconds (default: now).
    #[arg(long)]
    pub now: Option<u64>,
    /// The provider configuration object (JSON), e.g. `{"audience": "api://AzureADTokenExchange"}`.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Exit codes, as documented in the README.
pub const EXIT_MATCHED: u8 = 0;
pub const EXIT_UNAUTHORIZED: u8 = 1;
pub const EXIT_BAD_TOKEN: u8 = 2;
pub const EXIT_ERROR: u8 = 3;

/// Why an evaluation could not run (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum EvalCommandError {
    #[error("cannot read {what} '{path}': {source}")]
    Read {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Load(#[from] crate::runtime::LoadError),
    #[error(transparent)]
    Eval(#[from] crate::runtime::EvalError),
}

/// Runs the evaluation; returns the verdict as JSON and the exit code.
pub fn run(args: &EvalArgs) -> Result<(serde_json::Value, u8), EvalCommandError> {
    let component = read(&args.evaluator, "the evaluator")?;
    let config = match &args.config {
        Some(path) => {
            let text = String::from_utf8_lossy(&read(path, "the config file")?).into_owned();
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v @ serde_json::Value::Object(_)) => v.to_string(),
                _ => {
                    return Err(EvalCommandError::Input(format!(
                        "the config file '{}' is not a JSON object",
                        path.display()
                    )));
                }
            }
        }
        None => "{}".to_string(),
    };
    if let Some(path) = args.cases.as_ref().filter(|p| p.is_dir()) {
        let evaluator = EvaluatorRuntime::new(SandboxLimits::default())?.load(&component)?;
        let report = crate::evaluators::case_tables::run_dir(&evaluator, path)
            .map_err(|e| EvalCommandError::Input(format!("{}: {e}", path.display())))?;
        let cases = report.passed + report.failures.len();
        return Ok(if report.failures.is_empty() {
            (
                serde_json::json!({"cases": cases, "passed": true}),
                EXIT_MATCHED,
            )
        } else {
            (
                serde_json::json!({"cases": cases, "passed": false, "failures": report.failures}),
                EXIT_UNAUTHORIZED,
            )
        });
    }
    if let Some(path) = &args.cases {
        let cases = ConformanceCases::load(path)
            .map_err(|e| EvalCommandError::Input(format!("{}: {e}", path.display())))?;
        let evaluator = EvaluatorRuntime::new(SandboxLimits::default())?.load(&component)?;
        return Ok(match cases.run(&evaluator, &config) {
            Ok(()) => (
                serde_json::json!({"cases": cases.len(), "passed": true}),
                EXIT_MATCHED,
            ),
            Err(failures) => (
                serde_json::json!({"cases": cases.len(), "passed": false, "failures": failures}),
                EXIT_UNAUTHORIZED,
            ),
        });
    }
    let (Some(token_arg), Some(policies_path)) = (&args.token, &args.policies) else {
        return Err(EvalCommandError::Input(
            "--token and --policies are required".into(),
        ));
    };
    let token = read_token(token_arg)?;
    let policies_json =
        String::from_utf8_lossy(&read(policies_path, "the policies file")?).into_owned();
    let keys: Arc<dyn KeyResolver> = match &args.jwks {
        Some(path) => {
            let text = String::from_utf8_lossy(&read(path, "the JWKS file")?).into_owned();
            Arc::new(
                KeySet::from_json(&text)
                    .map_err(|e| EvalCommandError::Input(format!("{}: {e}", path.display())))?,
            )
        }
        None => Arc::new(NoKeys),
    };

    let runtime = EvaluatorRuntime::new(SandboxLimits::default())?;
    let evaluator = runtime.load(&component)?;
    let files: Vec<PolicyFile> = serde_json::from_str(&policies_json).map_err(|e| {
        EvalCommandError::Input(format!(
            "the policies file must be a JSON list of {{\"id\", \"criteria\", \"pins\"?}}: {e}"
        ))
    })?;
    // The server stores criteria as the evaluator normalized them; do the same.
    let policies =
        normalize_policies(&evaluator, &files, &config).map_err(EvalCommandError::Input)?;
    let now = args.now.unwrap_or_else(crate::clock::unix_now);
    let request = Request {
        token,
        policies,
        config,
        now,
    };
    let evaluation = evaluator.evaluate(&request, keys)?;
    let code = match evaluation {
        Evaluation::Matched(_) => EXIT_MATCHED,
        Evaluation::Unauthorized(_) => EXIT_UNAUTHORIZED,
        Evaluation::BadToken(_) => EXIT_BAD_TOKEN,
    };
    Ok((evaluation_json(&evaluation), code))
}

fn read(path: &PathBuf, what: &'static str) -> Result<Vec<u8>, EvalCommandError> {
    std::fs::read(path).map_err(|source| EvalCommandError::Read {
        what,
        path: path.display().to_string(),
        source,
    })
}

fn read_token(arg: &str) -> Result<String, EvalCommandError> {
    let raw = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|source| EvalCommandError::Read {
                what: "the token",
                path: "stdin".into(),
                source,
            })?;
        s
    } else if let Some(path) = arg.strip_prefix('@') {
        String::from_utf8_lossy(&read(&PathBuf::from(path), "the token file")?).into_owned()
    } else {
        arg.to_string()
    };
    Ok(raw.trim().to_string())
}
