//! How the console writes times, digests and lists.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix seconds as `2026-01-02 03:04:05 UTC`.
pub fn time(secs: u64) -> String {
    system_time(UNIX_EPOCH + Duration::from_secs(secs))
}

pub fn system_time(t: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} UTC", text.trim_end_matches('Z').replace('T', " "))
}

/// How long ago, roughly: `42 s`, `5 min`, `3 h`, `2 d`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    }
}

/// The first 12 hex digits of a digest, enough to tell versions apart.
pub fn short_digest(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}
