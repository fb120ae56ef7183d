//! Issuer patterns against arbitrary issuers: a placeholder must stand for
//! exactly one non-empty path segment, never a host or several segments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustpub_guest::issuer::IssuerPattern;

const SHIPPED: [&str; 3] = [
    "https://login.microsoftonline.com/{tid}/v2.0",
    "https://token.actions.githubusercontent.com",
    "https://token.actions.githubusercontent.com/{slug}",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First line: a pattern of the fuzzer's; the rest: an issuer.
    let (pattern, iss) = text.split_once('\n').unwrap_or((text, text));
    if let Ok(p) = IssuerPattern::parse(pattern) {
        let _ = p.matches(iss);
        let _ = p.captures(iss);
    }
    for shipped in SHIPPED {
        let p = IssuerPattern::parse(shipped).expect("shipped patterns parse");
        if let Some(captures) = p.captures(iss) {
            assert!(p.matches(iss));
            for (_, value) in captures {
                assert!(
                    !value.is_empty() && !value.contains('/'),
                    "{shipped} captured {value:?} from {iss:?}"
                );
            }
        }
    }
});
