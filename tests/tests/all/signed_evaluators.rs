//! Signed evaluators: with `evaluator_trusted_keys` configured, every path
//! that admits a version — start-up, `PUT`, `trustpub evaluator push`, a
//! replaced file — needs a valid signature by a trusted key, made with
//! `trustpub evaluator keygen` and `trustpub evaluator sign`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use trustpub_tests::run_trustpub;
use trustpub_tests::server::{ADMIN_TOKEN, OID, entra_token, start_idp};

use crate::hot_swap::{
    active_digest, copy_evaluator, put_signed, sha256, start_with, variant, wait_for_digest,
};

/// A new key: the secret key file and the public key.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let secret = dir.join(name);
    let out = run_trustpub(
        &[
            "evaluator",
            "keygen",
            "--secret-key",
            &secret.display().to_string(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    (secret, public)
}

/// Signs `component` into `<component>.sig`; returns the signature.
fn sign(secret: &Path, component: &Path) -> String {
    let out = run_trustpub(
        &[
            "evaluator",
            "sign",
            "--secret-key",
            &secret.display().to_string(),
            &component.display().to_string(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(format!("{}.sig", component.display()))
        .expect("signature file")
        .trim()
        .to_string()
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_versions_signed_by_a_trusted_key_are_admitted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = start_idp("k1").await;
    let (secret, public) = keygen(dir.path(), "author.key");
    let (stranger, _) = keygen(dir.path(), "stranger.key");
    let evaluator = copy_evaluator(dir.path());
    let original = std::fs::read(&evaluator).expect("read");
    sign(&secret, &evaluator);
    let svc = start_with(
        dir.path(),
        &idp,
        &format!("evaluator_trusted_keys = [\"{public}\"]"),
        "",
    );
    svc.user_with_policy("contoso", OID).await;
    assert_eq!(
        svc.exchange(&entra_token(&idp, OID), "contoso").await.0,
        200
    );

    // Candidates are written elsewhere, so signing them leaves the served file alone.
    let staging = tempfile::tempdir().expect("staging");
    let next = staging.path().join("next.wasm");
    let b = variant(&original, "b");
    std::fs::write(&next, &b).expect("write");
    let by_stranger = sign(&stranger, &next);
    let good = sign(&secret, &next);
    let for_original = std::fs::read_to_string(format!("{}.sig", evaluator.display()))
        .expect("sig")
        .trim()
        .to_string();
    for (what, signature, needle) in [
        ("unsigned", None, "not signed"),
        (
            "signed by an untrusted key",
            Some(by_stranger.as_str()),
            "does not verify",
        ),
        (
            "the original's signature",
            Some(for_original.as_str()),
            "does not verify",
        ),
        ("not base64", Some("!!!"), "not base64"),
    ] {
        let (status, body) = put_signed(&svc, b.clone(), signature).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert!(error_of(&body).contains(needle), "{what}: {body}");
        assert_eq!(active_digest(&svc).await, sha256(&original), "{what}");
    }
    // Each refusal is audited as the admin API's.
    let actions = svc.audit("kind=actions").await;
    let refused = actions
        .as_array()
        .expect("list")
        .iter()
        .filter(|e| e["outcome"] == "evaluator-rejected" && e["subject"] == "admin-api")
        .count();
    assert_eq!(refused, 4, "{actions}");
    let (status, body) = put_signed(&svc, b.clone(), Some(&good)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(active_digest(&svc).await, sha256(&b));
    // Written beside the component with it, so a restart verifies it again.
    let beside = std::fs::read_to_string(format!("{}.sig", evaluator.display())).expect("sig");
    assert_eq!(beside.trim(), good);

    // The CLI push finds `<component>.sig` beside the component it sends.
    let c = variant(&original, "c");
    std::fs::write(&next, &c).expect("write");
    sign(&secret, &next);
    let out = run_trustpub(
        &[
            "evaluator",
            "push",
            "--server",
            &svc.base,
            "--admin-token",
            ADMIN_TOKEN,
            "entra-id",
            &next.display().to_string(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(active_digest(&svc).await, sha256(&c));

    // A replaced file whose signature does not match is refused, and audited.
    let d = variant(&original, "d");
    std::fs::write(&evaluator, &d).expect("replace");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let rejected = loop {
        let actions = svc.audit("kind=actions").await;
        if let Some(event) = actions.as_array().and_then(|a| {
            a.iter()
                .find(|e| e["outcome"] == "evaluator-rejected" && e["subject"] == "file-watcher")
                .cloned()
        }) {
            break event;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rejection audited: {actions}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        rejected["detail"]
            .as_str()
            .is_some_and(|d| d.contains("does not verify")),
        "{rejected}"
    );
    assert_eq!(active_digest(&svc).await, sha256(&c));
    // Signing it in place deploys it.
    sign(&secret, &evaluator);
    wait_for_digest(&svc, &sha256(&d)).await;
    // The deploy is audited after the version is active (and the policies
    // re-indexed): on a busy machine the event can trail the digest.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let deployed = svc.audit("kind=actions&limit=1").await;
        if deployed[0]["outcome"] == "evaluator-deployed" {
            assert_eq!(deployed[0]["subject"], "file-watcher");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy was not audited: {deployed}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[test]
fn a_server_requiring_signatures_does_not_start_on_an_unsigned_evaluator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, public) = keygen(dir.path(), "author.key");
    let evaluator = copy_evaluator(dir.path());
    let config = format!(
        "listen = \"127.0.0.1:0\"\ndatabase = \"sqlite://{db}\"\nevaluator_trusted_keys = [\"{public}\"]\n[[providers]]\nname = \"entra-id\"\nevaluator = \"{evaluator}\"\njwks_url = \"http://127.0.0.1:9/keys\"\n",
        db = dir.path().join("db.sqlite").display(),
        evaluator = evaluator.display(),
    );
    let path = dir.path().join("trustpub.toml");
    std::fs::write(&path, config).expect("config");
    let out = run_trustpub(&["serve", "--config", &path.display().to_string()], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("entra-id") && stderr.contains("not signed"),
        "{stderr}"
    );
}
