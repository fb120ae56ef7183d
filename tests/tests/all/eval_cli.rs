//! `trustpub eval`, black-box: the built binary on files, as a policy author runs it.

use std::path::Path;

use serde_json::{Value, json};
use trustpub::idp::{TestIdp, entra_app_token_claims};
use trustpub_tests::{component, run_trustpub};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";
const AUD: &str = "api://AzureADTokenExchange";
const NOW: u64 = 1_800_000_000;

struct Case {
    dir: tempfile::TempDir,
    idp: TestIdp,
}

impl Case {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let idp = TestIdp::rs256("k1").expect("key");
        std::fs::write(dir.path().join("jwks.json"), idp.jwks().to_string()).expect("write");
        std::fs::write(
            dir.path().join("policies.json"),
            json!([{"id": 7, "criteria": {"tid": TID, "oid": OID}}]).to_string(),
        )
        .expect("write");
        std::fs::write(
            dir.path().join("config.json"),
            json!({"audience": AUD}).to_string(),
        )
        .expect("write");
        Self { dir, idp }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn token(&self) -> String {
        self.idp
            .mint(&entra_app_token_claims(TID, OID, AUD, NOW - 10, "uti-cli"))
            .expect("mint")
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        std::fs::write(self.dir.path().join(name), contents).expect("write");
        self.path(name)
    }

    fn eval(&self, evaluator: &Path, token_arg: &str, stdin: Option<&str>) -> (i32, Value, String) {
        let out = run_trustpub(
            &[
                "eval",
                "--evaluator",
                &evaluator.display().to_string(),
                "--token",
                token_arg,
                "--policies",
                &self.path("policies.json"),
                "--jwks",
                &self.path("jwks.json"),
                "--config",
                &self.path("config.json"),
                "--now",
                &NOW.to_string(),
            ],
            stdin,
        );
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!stderr.contains("panicked"), "trustpub panicked: {stderr}");
        let verdict = if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout).expect("stdout is JSON")
        };
        (out.status.code().expect("exit code"), verdict, stderr)
    }
}

#[test]
fn matched_from_a_token_file() {
    let case = Case::new();
    let token_file = case.write("token.jwt", case.token() + "\n");
    let (code, verdict, _) = case.eval(&component("entra-id"), &format!("@{token_file}"), None);
    assert_eq!(code, 0);
    assert_eq!(verdict["result"], "matched");
    assert_eq!(verdict["policy_id"], 7);
    assert_eq!(verdict["token_id"], "uti-cli");
    assert_eq!(verdict["subject"], OID);
}

#[test]
fn token_from_stdin_and_inline() {
    let case = Case::new();
    let (code, verdict, _) = case.eval(&component("entra-id"), "-", Some(&case.token()));
    assert_eq!((code, verdict["result"].as_str()), (0, Some("matched")));
    let (code, _, _) = case.eval(&component("entra-id"), &case.token(), None);
    assert_eq!(code, 0);
}

#[test]
fn tampered_token_is_a_bad_token_with_a_helpful_message() {
    let case = Case::new();
    let token = case.token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = entra_app_token_claims(TID, OID, AUD, NOW - 10, "uti-cli");
    claims["oid"] = json!("99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        trustpub::jwt_segment(&claims),
        parts[2]
    );
    let (code, verdict, _) = case.eval(&component("entra-id"), &tampered, None);
    assert_eq!(code, 2);
    assert_eq!(verdict["result"], "bad-token");
    let message = verdict["message"].as_str().expect("message");
    assert!(message.contains("signature"), "{message}");
}

#[test]
fn unauthorized_when_no_policy_matches() {
    let case = Case::new();
    case.write(
        "policies.json",
        json!([{"id": 1, "criteria": {"tid": TID, "oid": "99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f"}}])
            .to_string(),
    );
    let (code, verdict, _) = case.eval(&component("entra-id"), &case.token(), None);
    assert_eq!(code, 1, "{verdict}");
    assert_eq!(verdict["result"], "unauthorized", "{verdict}");
    // The near miss says why policy 1 did not match (for the author, here).
    let misses = verdict["near_misses"].as_array().expect("near misses");
    assert_eq!(misses.len(), 1, "{verdict}");
    assert_eq!(misses[0]["policy_id"], 1);
    assert!(
        misses[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f")),
        "{verdict}"
    );
}

#[test]
fn a_random_file_is_not_an_evaluator() {
    let case = Case::new();
    let junk = case.write(
        "junk.wasm",
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    );
    let (code, verdict, stderr) = case.eval(Path::new(&junk), &case.token(), None);
    assert_eq!(code, 3);
    assert_eq!(verdict, Value::Null, "nothing on stdout");
    assert!(
        stderr.contains("not a valid WebAssembly component"),
        "{stderr}"
    );
}

#[test]
fn a_component_of_another_world_is_not_an_evaluator() {
    let case = Case::new();
    let other = wat::parse_str(
        r#"(component
             (core module $m (func (export "f") (result i32) i32.const 1))
             (core instance $i (instantiate $m))
             (func $f (result u32) (canon lift (core func $i "f")))
             (export "hello" (func $f)))"#,
    )
    .expect("wat");
    let path = case.write("other.wasm", other);
    let (code, _, stderr) = case.eval(Path::new(&path), &case.token(), None);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("does not fit the trustpub:evaluator world"),
        "{stderr}"
    );
}

#[test]
fn unreadable_inputs_exit_3_with_a_reason() {
    let case = Case::new();
    case.write("policies.json", "{not json");
    let (code, _, stderr) = case.eval(&component("entra-id"), &case.token(), None);
    assert_eq!(code, 3);
    assert!(stderr.contains("policies file"), "{stderr}");
    let (code, _, stderr) = case.eval(
        Path::new("/nonexistent/evaluator.wasm"),
        &case.token(),
        None,
    );
    assert_eq!(code, 3);
    assert!(stderr.contains("cannot read the evaluator"), "{stderr}");
}

#[test]
fn invalid_criteria_in_the_policies_file_are_reported() {
    let case = Case::new();
    case.write(
        "policies.json",
        json!([{"id": 1, "criteria": {"tid": "contoso", "oid": OID}}]).to_string(),
    );
    let (code, _, stderr) = case.eval(&component("entra-id"), &case.token(), None);
    assert_eq!(code, 3);
    assert!(stderr.contains("policy 1: invalid criteria"), "{stderr}");
}

#[test]
fn conformance_cases_pass_and_fail_with_reasons() {
    let case = Case::new();
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(case.path("jwks.json")).expect("jwks"))
            .expect("json");
    let policies = json!([{"id": 7, "criteria": {"tid": TID, "oid": OID}}]);
    let cases = |expect_matched: &str| {
        json!({
            "jwks": jwks,
            "config": {"audience": AUD},
            "cases": [
                {"name": "genuine", "token": case.token(), "now": NOW, "policies": policies, "expect": {"result": expect_matched}},
                {"name": "garbage", "token": "a.b.c", "now": NOW, "expect": {"result": "bad-token"}},
            ]
        })
        .to_string()
    };
    let run = |file: &str| {
        let out = run_trustpub(
            &[
                "eval",
                "--evaluator",
                &component("entra-id").display().to_string(),
                "--cases",
                file,
            ],
            None,
        );
        let verdict: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        (out.status.code().expect("code"), verdict)
    };
    let (code, verdict) = run(&case.write("pass.json", cases("matched")));
    assert_eq!((code, verdict), (0, json!({"cases": 2, "passed": true})));
    let (code, verdict) = run(&case.write("fail.json", cases("unauthorized")));
    assert_eq!(code, 1);
    let failures = verdict["failures"].as_str().expect("failures");
    assert!(
        failures.contains("'genuine'") && failures.contains("1 of 2"),
        "{failures}"
    );
}

#[test]
fn a_server_refuses_to_start_with_an_evaluator_failing_its_cases() {
    let case = Case::new();
    let cases = json!({"cases": [{"name": "must be unauthorized", "token": "a.b.c", "now": NOW, "expect": {"result": "unauthorized"}}]});
    let cases_path = case.write("cases.json", cases.to_string());
    let config = format!(
        "listen = \"127.0.0.1:0\"\ndatabase = \"sqlite://{}\"\n[[providers]]\nname = \"entra-id\"\nevaluator = \"{}\"\njwks_url = \"http://127.0.0.1:9/keys\"\ncases = \"{cases_path}\"\n[providers.config]\naudience = \"{AUD}\"\n",
        case.path("db.sqlite"),
        component("entra-id").display()
    );
    let config_path = case.write("trustpub.toml", config);
    let out = run_trustpub(&["serve", "--config", &config_path], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("conformance cases") && stderr.contains("must be unauthorized"),
        "{stderr}"
    );
}

/// The author's offline loop with nothing running: mint a token, print the
/// key's JWKS, evaluate the token against a policy with them.
#[test]
fn a_token_from_idp_mint_verifies_with_the_jwks_from_idp_jwks() {
    let case = Case::new();
    let key = case.path("idp-key.pem");
    let out = run_trustpub(
        &["idp", "mint", "--key", &key, "--tid", TID, "--oid", OID],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let out = run_trustpub(&["idp", "jwks", "--key", &key], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwks = case.write("jwks.json", String::from_utf8(out.stdout).expect("utf-8"));
    let policies = case.write(
        "policies.json",
        json!([{"id": 1, "criteria": {"tid": TID, "oid": OID}}]).to_string(),
    );
    let out = run_trustpub(
        &[
            "eval",
            "--evaluator",
            &component("entra-id").display().to_string(),
            "--token",
            &token,
            "--policies",
            &policies,
            "--jwks",
            &jwks,
            "--config",
            &case.write("config.json", json!({"audience": AUD}).to_string()),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""policy_id":1"#), "{stdout}");
}
