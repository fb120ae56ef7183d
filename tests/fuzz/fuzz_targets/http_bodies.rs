//! The host's parsers of request bodies: the token exchange's JSON (what
//! any client on the internet can send) and the admin API's policy. Nothing
//! may panic; an accepted username follows the user-name rule, and an
//! accepted policy's owner and scopes are ones the store may keep.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustpub::fuzzing;
use trustpub::names::{MAX_NAME_LEN, SCOPE_ACTIONS, check_name};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(username)) = fuzzing::exchange_body(data) {
        assert!(check_name("username", &username).is_ok());
        assert!(!username.trim().is_empty() && username.len() <= MAX_NAME_LEN);
    }
    if let Ok(policy) = fuzzing::policy_body(data) {
        assert!(check_name("owner", &policy.owner).is_ok());
        for scope in &policy.scopes {
            assert!(!scope.actions.is_empty());
            assert!(
                scope
                    .actions
                    .iter()
                    .all(|a| SCOPE_ACTIONS.contains(&a.as_str()))
            );
        }
    }
});
