//! The SDK's JWT decoding and claim accessors on arbitrary input: what the
//! host runs on every token before anything is verified (to route it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustpub_guest::UnverifiedJwt;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(jwt) = UnverifiedJwt::parse(text) else {
        return;
    };
    let _ = jwt.algorithm();
    let claims = &jwt.claims;
    for name in ["iss", "sub", "aud", "tid", "oid", "jti", "uti", "exp", "nbf", "iat"] {
        let _ = claims.string(name);
        let _ = claims.optional_string(name);
        if let Ok(Some(t)) = claims.optional_timestamp(name) {
            assert!(t <= trustpub_guest::claims::MAX_TIMESTAMP);
        }
    }
    let _ = claims.audiences();
    let _ = claims.require_audience(&["api://AzureADTokenExchange".to_string()], true);
    if let Ok(id) = claims.token_id(&["uti", "jti"]) {
        assert!(!id.trim().is_empty(), "a blank token id was accepted");
    }
    let _ = trustpub_guest::lifetime::check_lifetime(claims, 1_800_000_000, 300);
});
