//! `trustpub demo`, the README's main job, runs its full exchange: a key
//! minted, a replay refused, a key minted without a username.

#[test]
fn the_demo_runs_a_full_exchange() {
    let component = trustpub_tests::component("entra-id");
    let out = trustpub_tests::run_trustpub(
        &["demo", "--evaluator", component.to_str().expect("utf-8")],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches("POST /api/v2/token → 200 OK").count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("POST /api/v2/token → 401 Unauthorized"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"minted\"") && stdout.contains("\"replay\""),
        "{stdout}"
    );
    assert!(stdout.contains("Done:"), "{stdout}");
}
