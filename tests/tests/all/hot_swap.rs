//! Deploying evaluators without a restart — over HTTP, by replacing the
//! file, with the CLI — under load, with rollback; and hostile guests
//! contained while the server keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use trustpub::idp::TestIdpServer;
use trustpub_tests::server::{
    ADMIN_TOKEN, OID, Service, config_with_evaluator, entra_token, start_idp,
};

/// The entra-id component with a custom section appended: the same rules,
/// another digest — two versions to swap between.
pub(crate) fn variant(bytes: &[u8], tag: &str) -> Vec<u8> {
    let name = b"trustpub-test-variant";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(payload.len() as u8);
    out.extend_from_slice(&payload);
    out
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    trustpub::runtime::component_digest(bytes)
}

/// Small sandbox limits, and no rate limits: swaps are tested under a load
/// far above the default per-username limit.
const SETTINGS: &str = "evaluation_timeout_ms = 200
evaluator_memory_mib = 16
rate_limit_per_address_per_minute = 0
rate_limit_per_username_per_minute = 0";

/// A server whose entra-id evaluator lives in `dir` (deploys write there),
/// with `extra_providers` (TOML) after it.
fn start(dir: &Path, idp: &TestIdpServer, extra_providers: &str) -> (Service, PathBuf) {
    let evaluator = copy_evaluator(dir);
    (start_with(dir, idp, "", extra_providers), evaluator)
}

/// The entra-id component copied into `dir`, where deploys write.
pub(crate) fn copy_evaluator(dir: &Path) -> PathBuf {
    let evaluator = dir.join("entra-id.wasm");
    std::fs::copy(trustpub_tests::component("entra-id"), &evaluator).expect("copy component");
    evaluator
}

/// A server on the evaluator in `dir` (see [`copy_evaluator`]), with more
/// top-level `settings`.
pub(crate) fn start_with(
    dir: &Path,
    idp: &TestIdpServer,
    settings: &str,
    extra_providers: &str,
) -> Service {
    let evaluator = dir.join("entra-id.wasm");
    let settings = format!("{SETTINGS}\n{settings}");
    let config =
        config_with_evaluator(&dir.join("db.sqlite"), idp, &settings, &evaluator) + extra_providers;
    Service::start(dir, &config)
}

pub(crate) async fn active_digest(svc: &Service) -> String {
    let list: Value = svc.get_json("/admin/evaluators").await;
    list[0]["digest"]
        .as_str()
        .expect("digest")
        .trim_start_matches("sha256:")
        .to_string()
}

pub(crate) async fn put(svc: &Service, bytes: Vec<u8>) -> (u16, Value) {
    put_signed(svc, bytes, None).await
}

/// `PUT /admin/evaluators/entra-id`, with an `X-Trustpub-Signature`.
pub(crate) async fn put_signed(
    svc: &Service,
    bytes: Vec<u8>,
    signature: Option<&str>,
) -> (u16, Value) {
    let mut request = svc
        .admin(Method::PUT, "/admin/evaluators/entra-id")
        .body(bytes);
    if let Some(signature) = signature {
        request = request.header("x-trustpub-signature", signature);
    }
    let r = request.send().await.expect("send");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn wait_for_digest(svc: &Service, digest: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while active_digest(svc).await != digest {
        if Instant::now() > deadline {
            let logs = svc.logs();
            let tail: Vec<&str> = logs.lines().rev().take(15).collect();
            panic!(
                "the evaluator file was not deployed; last log lines:\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_validates_activates_and_rolls_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = start_idp("k1").await;
    let (svc, path) = start(dir.path(), &idp, "");
    svc.user_with_policy("contoso", OID).await;
    let original = std::fs::read(&path).expect("read");
    let (a, b) = (sha256(&original), variant(&original, "b"));

    let (status, body) = put(&svc, b.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["digest"], format!("sha256:{}", sha256(&b)));
    assert_eq!(body["previous_digest"], format!("sha256:{a}"));
    assert_eq!(active_digest(&svc).await, sha256(&b));
    assert_eq!(
        std::fs::read(&path).expect("read"),
        b,
        "a deploy survives a restart: the file is the new version"
    );
    assert_eq!(
        svc.exchange(&entra_token(&idp, OID), "contoso").await.0,
        200
    );
    let audit: Value = svc.audit("username=contoso&limit=1").await;
    assert_eq!(
        audit[0]["evaluator_digest"],
        sha256(&b),
        "the audit names the version that decided"
    );

    // Rejected components leave the active one serving, with a reason.
    let rejected: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "random bytes",
            (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "not a valid WebAssembly component",
        ),
        (
            "half a component",
            b[..b.len() / 2].to_vec(),
            "not a valid WebAssembly component",
        ),
        (
            "imports WASI",
            std::fs::read(trustpub_tests::component("hostile/wasi")).expect("read"),
            "wasi:random",
        ),
        (
            "another contract version",
            std::fs::read(trustpub_tests::component("hostile/old-wit")).expect("read"),
            "9.0.0",
        ),
        (
            "another provider's evaluator",
            std::fs::read(trustpub_tests::component("github-actions")).expect("read"),
            "'github-actions' evaluator",
        ),
        (
            "a looping info()",
            std::fs::read(trustpub_tests::component("hostile/loop")).expect("read"),
            "'hostile-loop' evaluator",
        ),
    ];
    for (name, bytes, needle) in rejected {
        let (status, body) = put(&svc, bytes).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{name}: {body}"
        );
        assert_eq!(
            active_digest(&svc).await,
            sha256(&b),
            "{name}: the active version is unchanged (a = {a}); log: {}",
            svc.logs()
                .lines()
                .filter(|l| l.contains("activated") || l.contains("rejected"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert_eq!(
        svc.exchange(&entra_token(&idp, OID), "contoso").await.0,
        200
    );

    let r = svc
        .admin(Method::POST, "/admin/evaluators/entra-id/rollback")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(
        active_digest(&svc).await,
        a,
        "rollback restores the previous digest"
    );
    assert_eq!(std::fs::read(&path).expect("read"), original);

    let r = svc
        .http
        .put(svc.url("/admin/evaluators/entra-id"))
        .body(b)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401, "deploying needs the admin token");
    let r = svc
        .admin(Method::PUT, "/admin/evaluators/nope")
        .body(original)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_load_fail_no_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = Arc::new(start_idp("k1").await);
    let (svc, path) = start(dir.path(), &idp, "");
    let svc = Arc::new(svc);
    svc.user_with_policy("contoso", OID).await;
    let original = std::fs::read(&path).expect("read");
    let versions = [variant(&original, "x"), variant(&original, "y")];
    let digests: Vec<String> = [original.clone(), versions[0].clone(), versions[1].clone()]
        .iter()
        .map(|v| sha256(v))
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (svc, idp, stop, ok, failed) = (
            svc.clone(),
            idp.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, body, _) = svc.exchange(&entra_token(&idp, OID), "contoso").await;
                if status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("failed exchange during swaps: {status} {body}");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let env = [
        ("TRUSTPUB_SERVER", svc.base.clone()),
        ("TRUSTPUB_ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
    ];
    let candidates = dir.path().join("candidate.wasm");
    for round in 0..10 {
        let next = &versions[round % 2];
        // 1. PUT
        let (status, body) = put(&svc, next.clone()).await;
        assert_eq!(status, 200, "{body}");
        // 2. The file, replaced atomically as a deploy tool would.
        let other = &versions[(round + 1) % 2];
        trustpub::durable_file::write_bytes_durably(&path, other).expect("replace file");
        wait_for_digest(&svc, &sha256(other)).await;
        // 3. The CLI.
        std::fs::write(&candidates, next).expect("write");
        let out = std::process::Command::new(trustpub_tests::trustpub_bin())
            .args([
                "evaluator",
                "push",
                "entra-id",
                &candidates.display().to_string(),
            ])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("run push");
        assert!(
            out.status.success(),
            "push: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(active_digest(&svc).await, sha256(next));
    }
    stop.store(true, Ordering::Relaxed);
    load.await.expect("load task");

    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during swaps"
    );
    assert!(ok.load(Ordering::Relaxed) > 0, "the load ran");
    let audit: Value = svc.audit("username=contoso&limit=1000").await;
    for event in audit.as_array().expect("list") {
        let digest = event["evaluator_digest"]
            .as_str()
            .expect("every record names its digest");
        assert!(
            digests.iter().any(|d| d == digest),
            "unknown digest {digest}"
        );
    }
    let metrics = svc.metrics().await;
    assert!(metrics.contains(r#"trustpub_evaluator_deploys_total{provider="entra-id",origin="file",result="activated"}"#), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_guests_are_contained_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = start_idp("k1").await;
    let hostile: String = ["loop", "memory", "trap", "wrong-policy"]
        .iter()
        .map(|name| {
            // The looping guest's provider has a tighter deadline of its own.
            let limits = if *name == "loop" { "[providers.limits]\ntimeout_ms = 50\n" } else { "" };
            format!(
                "\n[[providers]]\nname = \"hostile-{name}\"\nevaluator = \"{}\"\njwks_url = \"{}\"\n{limits}",
                trustpub_tests::component(&format!("hostile/{name}")).display(),
                idp.jwks_url()
            )
        })
        .collect();
    let (svc, _) = start(dir.path(), &idp, &hostile);
    svc.user_with_policy("contoso", OID).await;
    // A candidate for wrong-policy's `match-candidates` to lie about.
    svc.policy("contoso", "hostile-wrong-policy", json!({}))
        .await;
    for name in ["loop", "memory", "trap", "wrong-policy"] {
        let token = idp
            .mint(
                &json!({"iss": format!("https://hostile.example/{name}"), "exp": 9_999_999_999u64}),
            )
            .expect("mint");
        let (status, body, _) = svc.exchange(&token, "contoso").await;
        assert_eq!(status, 503, "hostile-{name}: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("evaluator")),
            "hostile-{name}: {body}"
        );
        let (status, body, _) = svc.exchange(&entra_token(&idp, OID), "contoso").await;
        assert_eq!(status, 200, "after hostile-{name}: {body}");
    }
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains(r#"trustpub_evaluator_failures_total{provider="hostile-loop"} 1"#),
        "{metrics}"
    );
    let logs = svc.logs();
    assert!(
        logs.contains("evaluator failed") && logs.contains("hostile-loop"),
        "a log line names the failure"
    );
    let audit: Value = svc.audit("username=contoso&limit=100").await;
    let details: Vec<&str> = audit
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(
        details.iter().any(|d| d.contains("time limit of 50 ms")),
        "the provider's own limit applied: {details:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_compiled_cache_spares_compiling_and_a_corrupt_one_is_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = start_idp("k1").await;
    let (svc, _) = start(dir.path(), &idp, "");
    assert!(
        svc.logs().contains("evaluator compiled"),
        "a cold start compiles"
    );
    svc.kill();

    let (svc, _) = start(dir.path(), &idp, "");
    let logs = svc.logs();
    assert!(
        logs.contains("evaluator loaded from the compiled cache"),
        "{logs}"
    );
    assert!(
        !logs.contains("evaluator compiled"),
        "a warm start does not compile:\n{logs}"
    );
    svc.kill();

    let cache = dir.path().join("trustpub-compiled");
    let mut corrupted = 0;
    for entry in std::fs::read_dir(&cache).expect("cache dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let mut bytes = std::fs::read(&path).expect("read");
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xff;
            std::fs::write(&path, bytes).expect("write");
            corrupted += 1;
        }
    }
    assert_eq!(corrupted, 1, "one cached evaluator");
    let (svc, _) = start(dir.path(), &idp, "");
    assert!(
        svc.logs()
            .contains("compiled cache entry was unusable; evaluator recompiled"),
        "{}",
        svc.logs()
    );
    svc.user_with_policy("contoso", OID).await;
    assert_eq!(
        svc.exchange(&entra_token(&idp, OID), "contoso").await.0,
        200
    );
}
