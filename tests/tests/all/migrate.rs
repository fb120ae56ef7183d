//! `trustpub migrate` from a populated SQLite file into PostgreSQL: a host on
//! the copy gives the same answers — the same introspections, the same
//! policies and audit, used tokens still used, new policy ids past the old.

use serde_json::json;
use trustpub_tests::postgres::TestDatabase;
use trustpub_tests::run_trustpub;
use trustpub_tests::server::{OID, Service, TestServer, entra_token};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_migrated_database_gives_the_same_answers() {
    let Some(db) = TestDatabase::create("a_migrated_database_gives_the_same_answers") else {
        return;
    };
    let mut s = TestServer::new().spawn().await;
    let policy_id = s.policy_id.expect("policy");
    // A deleted policy: its id must not be handed out again after the move.
    let deleted = s
        .svc
        .user_with_policy("fabrikam", "11111111-2222-3333-4444-555555555555")
        .await;
    let r = s
        .svc
        .admin(
            reqwest::Method::DELETE,
            &format!("/admin/policies/{deleted}"),
        )
        .send()
        .await
        .expect("send");
    assert!(r.status().is_success(), "{}", r.status());

    let mut keys = Vec::new();
    let mut used = Vec::new();
    for _ in 0..5 {
        let token = entra_token(&s.entra, OID);
        let (status, body, _) = s.svc.exchange(&token, "contoso").await;
        assert_eq!(status, 200, "{body}");
        keys.push(body["apiKey"].as_str().expect("apiKey").to_string());
        used.push(token);
    }
    assert_eq!(s.svc.revoke(&keys[0]).await, 204);
    // A refused attempt, for the audit.
    let (status, _, _) = s
        .svc
        .exchange(&entra_token(&s.entra, "someone-else"), "contoso")
        .await;
    assert_eq!(status, 401);

    let mut before = Vec::new();
    for key in &keys {
        before.push(s.svc.introspect(key).await);
    }
    let policies = s.svc.get_json("/admin/policies").await;
    let users = s.svc.get_json("/admin/users").await;
    let audit = s.svc.audit("kind=all&limit=100").await;
    s.svc.sigkill();

    let sqlite = format!("sqlite://{}", s.dir.path().join("db.sqlite").display());
    let out = run_trustpub(&["migrate", "--from", &sqlite, "--to", db.url()], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("api_keys") && stdout.contains("verified"),
        "{stdout}"
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM api_keys"),
        keys.len() as i64
    );

    // Into a database that is no longer empty: refused, nothing changed.
    let again = run_trustpub(&["migrate", "--from", &sqlite, "--to", db.url()], None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let config = s.config.replace(
        &format!("database = \"{sqlite}\""),
        &format!(
            "database = \"{}\"\ncompiled_cache_dir = \"{}\"",
            db.url(),
            s.dir.path().join("compiled").display()
        ),
    );
    assert_ne!(config, s.config, "the configuration names the SQLite file");
    s.svc = Service::start(s.dir.path(), &config);

    for (key, answer) in keys.iter().zip(&before) {
        assert_eq!(&s.svc.introspect(key).await, answer);
    }
    assert_eq!(s.svc.get_json("/admin/policies").await, policies);
    assert_eq!(s.svc.get_json("/admin/users").await, users);
    assert_eq!(s.svc.audit("kind=all&limit=100").await, audit);
    for token in &used {
        let (status, body, _) = s.svc.exchange(token, "contoso").await;
        assert_eq!(
            status, 401,
            "a used token minted again after the move: {body}"
        );
    }
    let (status, body, _) = s.svc.exchange(&entra_token(&s.entra, OID), "contoso").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.svc
            .introspect(body["apiKey"].as_str().expect("key"))
            .await["policy_id"],
        json!(policy_id)
    );
    let next = s.svc.user_with_policy("northwind", OID).await;
    assert!(
        next > deleted,
        "policy id {next} reused (deleted: {deleted})"
    );
}
