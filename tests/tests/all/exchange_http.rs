//! The token exchange service, black-box: the built binary, real HTTP on
//! loopback, a local test IdP serving real JWKS, a real SQLite file.

use reqwest::Method;
use serde_json::{Value, json};
use trustpub::idp::{SigningAlg, SigningKey, TestIdp};
use trustpub_tests::server::{
    ADMIN_TOKEN, OID, Service, Spawned, TestServer, config, contoso_service, entra_claims,
    entra_token, start_idp,
};

const UNAUTHORIZED: &str = "no trusted publishing policy of this user trusts this token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_exchange_introspect_and_revoke() {
    let (_dir, idp, svc, policy_id) = contoso_service("").await;

    let (status, body, headers) = svc.exchange(&entra_token(&idp, OID), "contoso").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tokenType"], "ApiKey");
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let key = body["apiKey"].as_str().expect("apiKey").to_string();
    assert!(key.starts_with("tpk_"));
    let expires = body["expires"].as_str().expect("expires");
    assert!(
        expires.ends_with('Z') && expires.len() == 20,
        "RFC 3339 UTC: {expires}"
    );

    let info = svc.introspect(&key).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["username"], "contoso");
    assert_eq!(info["owner"], "contoso");
    assert_eq!(info["policy_id"], policy_id);
    assert_eq!(info["provider"], "entra-id");
    let exp = info["exp"].as_u64().expect("exp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        exp > now + 3500 && exp <= now + 3600,
        "default lifetime 1 h: {exp} vs {now}"
    );

    // JSON introspection works too; foreign strings are simply inactive.
    let r = svc
        .admin(Method::POST, "/api/v2/token/introspect")
        .json(&json!({"token": key}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.json::<Value>().await.expect("json")["active"], true);
    assert_eq!(svc.introspect("not-a-key").await, json!({"active": false}));

    assert_eq!(svc.revoke(&key).await, 204);
    assert_eq!(svc.introspect(&key).await, json!({"active": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snake_case_request_gets_a_snake_case_answer() {
    let (_dir, idp, svc, _) = contoso_service("").await;
    let r = svc
        .http
        .post(svc.url("/api/v2/token"))
        .bearer_auth(entra_token(&idp, OID))
        .json(&json!({"username": "contoso", "token_type": "api_key"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["token_type"], "api_key");
    assert!(
        body["api_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("tpk_"))
    );
    assert!(body.get("apiKey").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_get_json_errors_with_the_documented_status() {
    let (_dir, idp, svc, _) = contoso_service("").await;
    let token = entra_token(&idp, OID);
    let url = svc.url("/api/v2/token");
    let body = json!({"username": "contoso", "tokenType": "ApiKey"});
    let post = || svc.http.post(&url);

    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "malformed JSON",
            post()
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("{nope"),
            400,
        ),
        (
            "unknown token type",
            post()
                .bearer_auth(&token)
                .json(&json!({"username": "contoso", "tokenType": "Password"})),
            400,
        ),
        (
            "blank username",
            post()
                .bearer_auth(&token)
                .json(&json!({"username": " ", "tokenType": "ApiKey"})),
            400,
        ),
        (
            "missing token type",
            post()
                .bearer_auth(&token)
                .json(&json!({"username": "contoso"})),
            400,
        ),
        (
            "also an API key",
            post()
                .bearer_auth(&token)
                .header("X-NuGet-ApiKey", "tpk_x")
                .json(&body),
            400,
        ),
        (
            "also a cookie",
            post()
                .bearer_auth(&token)
                .header("Cookie", "session=1")
                .json(&body),
            400,
        ),
        (
            "not JSON",
            post()
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body(body.to_string()),
            400,
        ),
        ("no Authorization", post().json(&body), 401),
        ("not a JWT", post().bearer_auth("garbage").json(&body), 401),
        (
            "admin token as bearer",
            post().bearer_auth(ADMIN_TOKEN).json(&body),
            401,
        ),
        (
            "oversize token",
            post().bearer_auth("a".repeat(17 * 1024)).json(&body),
            413,
        ),
        (
            "oversize body",
            post()
                .bearer_auth(&token)
                .json(&json!({"username": "x".repeat(20 * 1024), "tokenType": "ApiKey"})),
            413,
        ),
    ];
    for (name, request, expected) in cases {
        let r = request.send().await.expect("send");
        let status = r.status().as_u16();
        let www = r
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{name}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{name}: JSON error expected, got {body}"
        );
        if expected == 401 {
            assert_eq!(
                www.as_deref(),
                Some("Bearer"),
                "{name}: 401 carries WWW-Authenticate"
            );
        }
    }
    // None of those consumed the token: it still works once.
    assert_eq!(svc.exchange(&token, "contoso").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_say_what_is_wrong_and_unauthorized_says_nothing() {
    let (_dir, idp, svc, _) = contoso_service("").await;
    svc.user_with_policy("fabrikam", "99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f")
        .await;
    let r = svc
        .admin(Method::POST, "/admin/users")
        .json(&json!({"username": "nopolicies"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);

    let mut claims = entra_claims(OID);
    claims["aud"] = json!("api://other");
    let (status, body, _) = svc
        .exchange(&idp.mint(&claims).expect("mint"), "contoso")
        .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("aud claim 'api://other'"),
        "{body}"
    );

    // Unknown user, user without policies, user whose policy does not match:
    // byte-for-byte the same answer.
    let mut bodies = Vec::new();
    for user in ["nobody-here", "nopolicies", "fabrikam"] {
        let r = svc
            .http
            .post(svc.url("/api/v2/token"))
            .bearer_auth(entra_token(&idp, OID))
            .json(&json!({"username": user, "tokenType": "ApiKey"}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "{user}");
        bodies.push(r.bytes().await.expect("body"));
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
    assert_eq!(
        serde_json::from_slice::<Value>(&bodies[0]).expect("json"),
        json!({"error": UNAUTHORIZED})
    );

    // A bad token for an unknown user is judged as a bad token: the token comes first.
    let (status, body, _) = svc.exchange("a.b.c", "nobody-here").await;
    assert_eq!(status, 401);
    assert_ne!(body["error"], UNAUTHORIZED);
}

/// Hostile input found in review: each was a 500 or a silent choice before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_times_and_ambiguous_credentials_are_client_errors() {
    let (_dir, idp, svc, _) = contoso_service("").await;

    // Signed by the IdP, so only the range check can refuse them.
    for (claim, value) in [
        ("exp", json!(1u64 << 63)),
        ("exp", json!(1e19)),
        ("exp", json!(u64::MAX)),
        ("nbf", json!(1u64 << 63)),
        ("iat", json!(1e19)),
    ] {
        let mut claims = entra_claims(OID);
        claims[claim] = value.clone();
        let (status, body, headers) = svc
            .exchange(&idp.mint(&claims).expect("mint"), "contoso")
            .await;
        assert_eq!(status, 401, "{claim}={value}: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("out of range")),
            "{claim}={value}: {body}"
        );
        assert!(headers.contains_key("www-authenticate"));
    }

    // Two Authorization headers, even when one is a valid token: refused,
    // and the valid token stays unused.
    let token = entra_token(&idp, OID);
    for (first, second) in [
        (format!("Bearer {token}"), "Bearer x".to_string()),
        ("Bearer x".to_string(), format!("Bearer {token}")),
    ] {
        let r = svc
            .http
            .post(svc.url("/api/v2/token"))
            .header("Authorization", first)
            .header("Authorization", second)
            .json(&json!({"username": "contoso", "tokenType": "ApiKey"}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.expect("json");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("more than one authorization header")),
            "{body}"
        );
    }
    assert_eq!(svc.exchange(&token, "contoso").await.0, 200);

    // A username that no user can have is a malformed request: refused
    // before any work, so it never reaches the audit log.
    for username in [
        "x".repeat(10_000),
        "a b".to_string(),
        "contoso\n".to_string(),
    ] {
        let (status, body, _) = svc.exchange(&entra_token(&idp, OID), &username).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("username must be 1-64")),
            "{body}"
        );
    }
    let audit = svc.audit("limit=1000").await.to_string();
    assert!(!audit.contains("xxxxxxxxxx"), "{audit}");

    // The operator API refuses them too, even with the right admin token twice.
    let r = svc
        .http
        .get(svc.url("/admin/users"))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_get_429_with_retry_after_and_write_nothing() {
    let (_dir, idp, svc, _) = contoso_service(
        "rate_limit_per_address_per_minute = 4\nrate_limit_per_username_per_minute = 2",
    )
    .await;
    let audit_rows = || async {
        svc.audit("limit=1000")
            .await
            .as_array()
            .expect("array")
            .len()
    };

    // Per username: the third exchange for contoso within a minute is
    // refused before any work, whatever the case of the name.
    assert_eq!(svc.exchange("x", "contoso").await.0, 401);
    assert_eq!(svc.exchange("x", "Contoso").await.0, 401);
    let before = audit_rows().await;
    let (status, body, headers) = svc.exchange(&entra_token(&idp, OID), "contoso").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("this username")),
        "{body}"
    );
    let retry: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        audit_rows().await,
        before,
        "a refused request writes no audit row"
    );

    // Another username still gets its answer; then the address is spent.
    assert_eq!(svc.exchange("x", "fabrikam").await.0, 401);
    let (status, body, headers) = svc.exchange("x", "fabrikam").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("this address")),
        "{body}"
    );
    assert!(headers.contains_key("retry-after"));
    // The operator API is not counted against the exchange's limits.
    assert_eq!(
        svc.admin(Method::GET, "/admin/users")
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_actions_are_audited_with_who_and_from_where() {
    let (_dir, idp, svc, policy_id) = contoso_service("").await;
    let (status, body, _) = svc.exchange(&entra_token(&idp, OID), "contoso").await;
    assert_eq!(status, 200, "{body}");
    let key = body["apiKey"].as_str().expect("key").to_string();
    assert_eq!(svc.revoke(&key).await, 204);
    for (method, path) in [
        (Method::POST, format!("/admin/policies/{policy_id}/renew")),
        (Method::DELETE, format!("/admin/policies/{policy_id}")),
    ] {
        let r = svc.admin(method, &path).send().await.expect("send");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    let component = std::fs::read(trustpub_tests::component("entra-id")).expect("component");
    let r = svc
        .admin(Method::PUT, "/admin/evaluators/entra-id")
        .body(component)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);

    let audit: Value = svc.audit("kind=actions&limit=100").await;
    let find = |outcome: &str| {
        audit
            .as_array()
            .expect("array")
            .iter()
            .find(|e| e["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no {outcome} event in {audit}"))
            .clone()
    };
    for outcome in ["policy-created", "policy-renewed", "policy-deleted"] {
        let e = find(outcome);
        assert_eq!(e["subject"], "admin-api", "{e}");
        assert_eq!(e["client_addr"], "127.0.0.1", "{e}");
        assert_eq!(e["policy_id"], policy_id, "{e}");
        assert_eq!(e["username"], "contoso", "{e}");
        assert_eq!(e["provider"], "entra-id", "{e}");
    }
    assert_eq!(find("policy-deleted")["detail"], "0 live keys revoked");
    let revoked = find("key-revoked");
    assert_eq!(revoked["subject"], "key-holder");
    assert_eq!(revoked["username"], "contoso");
    let deployed = find("evaluator-deployed");
    assert_eq!(deployed["provider"], "entra-id");
    assert!(
        deployed["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already active")),
        "{deployed}"
    );
    // The default listing stays the exchanges it always was.
    let exchanges: Value = svc.audit("limit=100").await;
    let outcomes: Vec<&str> = exchanges
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["minted"]);
    // No record holds the key or the admin token.
    let text = audit.to_string();
    assert!(!text.contains(&key) && !text.contains(ADMIN_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_exchanged_once() {
    let (_dir, idp, svc, _) = contoso_service("").await;
    let token = entra_token(&idp, OID);
    assert_eq!(svc.exchange(&token, "contoso").await.0, 200);
    let (status, body, _) = svc.exchange(&token, "contoso").await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error"],
        "this token has already been used; request a new one for each exchange"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_exchanges_of_one_token_yield_one_key() {
    let s = std::sync::Arc::new(TestServer::new().spawn().await);
    let token = entra_token(&s.entra, OID);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (s, token) = (s.clone(), token.clone());
            tokio::spawn(async move { s.svc.exchange(&token, "contoso").await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_picked_up_without_a_restart() {
    let s = TestServer::new()
        .entra_kid("old")
        .settings("jwks_min_refresh_seconds = 0")
        .spawn()
        .await;
    let svc = &s.svc;
    assert_eq!(
        svc.exchange(&entra_token(&s.entra, OID), "contoso").await.0,
        200
    );
    s.entra.rotate(TestIdp::rs256("new").expect("key"));
    let (status, body, _) = svc.exchange(&entra_token(&s.entra, OID), "contoso").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_keys_keep_verifying_while_the_idp_is_down() {
    let (_dir, idp, svc, _) = contoso_service("jwks_min_refresh_seconds = 0").await;
    let tokens: Vec<String> = (0..2).map(|_| entra_token(&idp, OID)).collect();
    idp.stop().await;
    for token in tokens {
        let (status, body, _) = svc.exchange(&token, "contoso").await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_interval() {
    let (_dir, idp, svc, _) = contoso_service("jwks_min_refresh_seconds = 3600").await;
    let before = idp.requests();
    for i in 0..30 {
        let stranger = SigningKey::generate(SigningAlg::Es256, &format!("bogus-{i}")).expect("key");
        let (status, body, _) = svc
            .exchange(&stranger.sign(&entra_claims(OID)).expect("sign"), "contoso")
            .await;
        assert_eq!(status, 401);
        assert!(
            body["error"]
                .as_str()
                .expect("error")
                .contains("no key with kid"),
            "{body}"
        );
    }
    assert!(
        idp.requests() - before <= 1,
        "{} JWKS fetches for 30 unknown kids",
        idp.requests() - before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_in_a_token_are_never_fetched() {
    let (_dir, _idp, svc, _) = contoso_service("jwks_min_refresh_seconds = 0").await;
    let trap = start_idp("trap").await;
    // An issuer the test controls...
    let mut claims = entra_claims(OID);
    claims["iss"] = json!(trap.base_url());
    assert_eq!(
        svc.exchange(&trap.mint(&claims).expect("mint"), "contoso")
            .await
            .0,
        401
    );
    // ...and key URLs in the header of an otherwise Entra-shaped token.
    let metadata = jwt_simple::prelude::KeyMetadata::default()
        .with_key_set_url(trap.jwks_url())
        .with_certificate_url(trap.jwks_url());
    let key = SigningKey::generate(SigningAlg::Rs256, "k1").expect("key");
    let token = key
        .sign_with_metadata(&entra_claims(OID), metadata)
        .expect("sign");
    assert_eq!(svc.exchange(&token, "contoso").await.0, 401);
    assert_eq!(
        trap.requests(),
        0,
        "the service contacted an address named by a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_on_the_same_database() {
    let Spawned {
        dir,
        entra: idp,
        svc,
        policy_id,
        ..
    } = TestServer::new().spawn().await;
    let policy_id = policy_id.expect("policy");
    let db = dir.path().join("db.sqlite");
    let token = entra_token(&idp, OID);
    let (status, body, _) = svc.exchange(&token, "contoso").await;
    assert_eq!(status, 200);
    let key = body["apiKey"].as_str().expect("key").to_string();
    svc.kill();

    let svc = Service::start(dir.path(), &config(&db, &idp, ""));
    let r = svc
        .admin(Method::GET, &format!("/admin/policies/{policy_id}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(
        svc.introspect(&key).await["active"],
        true,
        "the key survived"
    );
    let (status, body, _) = svc.exchange(&token, "contoso").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            401,
            Some("this token has already been used; request a new one for each exchange")
        )
    );
    let audit: Value = svc.audit("username=contoso").await;
    let outcomes: Vec<&str> = audit
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["replay", "minted"], "most recent first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_full_exchange_hold_no_secret() {
    let (_dir, idp, svc, _) = contoso_service("").await;
    let token = entra_token(&idp, OID);
    let (_, body, _) = svc.exchange(&token, "contoso").await;
    let key = body["apiKey"].as_str().expect("key").to_string();
    svc.introspect(&key).await;
    svc.exchange(&token, "contoso").await;
    svc.http
        .delete(svc.url("/api/v2/token"))
        .header("X-NuGet-ApiKey", &key)
        .send()
        .await
        .expect("send");
    let logs = svc.logs();
    assert!(
        logs.contains("api key minted"),
        "the exchange was logged:\n{logs}"
    );
    let signature = token.rsplit('.').next().expect("signature");
    for (what, secret) in [
        ("token", token.as_str()),
        ("token signature", signature),
        ("API key", key.as_str()),
        ("admin token", ADMIN_TOKEN),
    ] {
        assert!(!logs.contains(secret), "the logs contain the {what}");
    }
}

/// The test server's stderr is a file: no terminal, so no colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_written_to_a_file_are_plain_text() {
    let (_dir, idp, svc, _) = contoso_service("").await;
    svc.exchange(&entra_token(&idp, OID), "contoso").await;
    let logs = svc.logs();
    assert!(logs.contains("api key minted"), "{logs}");
    let coloured = logs.lines().find(|line| line.contains('\u{1b}'));
    assert_eq!(coloured, None, "escape codes in the log file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_api_needs_the_admin_token() {
    let s = TestServer::new().without_policy().spawn().await;
    let svc = &s.svc;
    for (method, path) in [
        (Method::GET, "/admin/users"),
        (Method::POST, "/admin/users"),
        (Method::GET, "/admin/evaluators"),
        (Method::POST, "/api/v2/token/introspect"),
    ] {
        let r = svc
            .http
            .request(method.clone(), svc.url(path))
            .bearer_auth("wrong-token-wrong-token")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    let r = svc.admin(Method::POST, "/admin/policies")
        .json(&json!({"username": "x", "provider": "entra-id", "owner": "x", "criteria": {"tid": "nope"}}))
        .send().await.expect("send");
    assert_eq!(
        r.status(),
        400,
        "invalid criteria are refused with the evaluator's message"
    );
    let r = svc
        .admin(Method::GET, "/admin/evaluators")
        .send()
        .await
        .expect("send");
    let list: Value = r.json().await.expect("json");
    assert_eq!(list[0]["provider"], "entra-id");
    assert!(
        list[0]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    let r = svc
        .http
        .get(svc.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}
