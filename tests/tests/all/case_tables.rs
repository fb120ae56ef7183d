//! Each evaluator's case tables (`policies/<idp>/cases/`) through the built
//! component, with real signatures — the second of the three ways they run
//! (natively in the evaluator's `cargo test`; here; `trustpub eval --cases`).

use trustpub::evaluators::case_tables::run_dir;
use trustpub::runtime::{EvaluatorRuntime, SandboxLimits};

/// Every evaluator with case tables: each `policies/<idp>/cases` directory.
fn evaluators() -> Vec<String> {
    let policies = trustpub_tests::root().join("policies");
    let mut evaluators: Vec<String> = std::fs::read_dir(&policies)
        .expect("policies/")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("cases").is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    evaluators.sort();
    assert!(
        [
            "entra-id",
            "github-actions",
            "gitlab",
            "forgejo-actions",
            "generic-oidc"
        ]
        .iter()
        .all(|idp| evaluators.iter().any(|e| e == idp)),
        "{evaluators:?}"
    );
    evaluators
}

fn cases_dir(idp: &str) -> std::path::PathBuf {
    trustpub_tests::root()
        .join("policies")
        .join(idp)
        .join("cases")
}

#[test]
fn every_case_table_passes_through_the_component() {
    let runtime = EvaluatorRuntime::new(SandboxLimits::default()).expect("runtime");
    // Every evaluator runs, so one's failure does not hide another's.
    let mut failures = Vec::new();
    for idp in evaluators() {
        let idp = idp.as_str();
        let bytes = std::fs::read(trustpub_tests::component(idp)).expect("component");
        let evaluator = runtime.load(&bytes).expect("load");
        let report = run_dir(&evaluator, &cases_dir(idp)).expect("case tables");
        failures.extend(report.failures.iter().map(|f| format!("{idp}: {f}")));
        if report.passed < 10 {
            failures.push(format!("{idp}: only {} cases", report.passed));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_case_table_fails_on_the_wrong_evaluator() {
    let runtime = EvaluatorRuntime::new(SandboxLimits::default()).expect("runtime");
    let bytes = std::fs::read(trustpub_tests::component("github-actions")).expect("component");
    let evaluator = runtime.load(&bytes).expect("load");
    // Entra ID criteria are not GitHub criteria: the table cannot pass.
    assert!(
        run_dir(&evaluator, &cases_dir("entra-id"))
            .map(|r| !r.failures.is_empty())
            .unwrap_or(true)
    );
}

#[test]
fn trustpub_eval_runs_a_case_table_directory() {
    for idp in evaluators() {
        let idp = idp.as_str();
        let dir = cases_dir(idp);
        let component = trustpub_tests::component(idp);
        let out = trustpub_tests::run_trustpub(
            &[
                "eval",
                "--evaluator",
                component.to_str().expect("utf-8"),
                "--cases",
                dir.to_str().expect("utf-8"),
            ],
            None,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{idp}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!(report["passed"], true, "{report}");
        assert!(report["cases"].as_u64().expect("count") >= 10, "{report}");
    }
}
