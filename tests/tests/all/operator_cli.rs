//! `trustpub user` and `trustpub policy`, against a running server and
//! directly against its database.

use serde_json::Value;
use trustpub_tests::run_trustpub;
use trustpub_tests::server::{ADMIN_TOKEN, OID, Service, TID, config, start_idp};

fn run_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(trustpub_tests::trustpub_bin());
    cmd.args(args)
        .env_remove("TRUSTPUB_SERVER")
        .env_remove("TRUSTPUB_ADMIN_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run trustpub");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().expect("code"),
        String::from_utf8_lossy(&out.stdout).to_string(),
        stderr,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_policies_over_http_and_directly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = start_idp("k1").await;
    let db = dir.path().join("db.sqlite");
    let svc = Service::start(dir.path(), &config(&db, &idp, ""));
    let env = [
        ("TRUSTPUB_SERVER", svc.base.as_str()),
        ("TRUSTPUB_ADMIN_TOKEN", ADMIN_TOKEN),
    ];

    let (code, out, err) = run_with(&["user", "add", "contoso"], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json")["username"],
        "contoso"
    );
    let criteria = format!(r#"{{"tid": "{}", "oid": "{OID}"}}"#, TID.to_uppercase());
    let (code, out, err) = run_with(
        &[
            "policy",
            "add",
            "--username",
            "contoso",
            "--provider",
            "entra-id",
            "--criteria",
            &criteria,
            "--scope",
            "Contoso.*=package:push",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let policy: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        policy["criteria"]["tid"], TID,
        "normalized by the evaluator"
    );
    assert_eq!(policy["scopes"][0]["packages"], "Contoso.*");

    // Invalid criteria and a wrong admin token fail with a reason, exit 1.
    let (code, _, err) = run_with(
        &[
            "policy",
            "add",
            "--username",
            "contoso",
            "--provider",
            "entra-id",
            "--criteria",
            "{}",
        ],
        &env,
    );
    assert_eq!(code, 1);
    assert!(err.contains("invalid criteria"), "{err}");
    let (code, _, err) = run_with(
        &["user", "list"],
        &[
            ("TRUSTPUB_SERVER", svc.base.as_str()),
            ("TRUSTPUB_ADMIN_TOKEN", "wrong-wrong-wrong-wrong"),
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("401"), "{err}");

    // Directly on the database of the configuration.
    let config_path = dir.path().join("trustpub.toml").display().to_string();
    let (code, out, err) = run_with(
        &[
            "policy",
            "list",
            "--username",
            "contoso",
            "--config",
            &config_path,
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let id = list[0]["id"].as_u64().expect("id").to_string();
    let (code, _, err) = run_with(&["policy", "rm", &id], &env);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run_with(&["policy", "list", "--username", "contoso"], &env);
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json"),
        serde_json::json!([])
    );
    let _ = run_trustpub(&["--version"], None);
}
