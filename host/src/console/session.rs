//! Console sessions: the admin token is exchanged once, at sign-in, for a
//! random session id kept in an `HttpOnly` cookie. Sessions live in memory
//! (a restart signs everyone out) with an absolute and an idle expiry; each
//! has its own CSRF token, sent back in every form.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

/// The cookie's name; its path is `/console`, so no other route sees it.
pub const COOKIE: &str = "trustpub_console";
/// A session ends this long after sign-in, however busy.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// …or this long after its last request.
pub const IDLE: Duration = Duration::from_secs(3600);
/// Sign-in attempts per client address per minute: the admin token is
/// long, but a guesser should still pay for every guess.
const SIGN_INS_PER_MINUTE: u32 = 10;

/// A signed-in session, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
    /// One message to show on the next page (after a redirect).
    pub flash: Option<String>,
}

struct Entry {
    csrf: String,
    flash: Option<String>,
    started: Instant,
    last_seen: Instant,
}

/// Every live session, by the SHA-256 of its id: a memory dump or a debug
/// print shows no usable cookie.
pub struct Sessions {
    entries: Mutex<HashMap<String, Entry>>,
    sign_ins: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new()
    }
}

impl Sessions {
    pub fn new() -> Self {
        let per_minute = NonZeroU32::new(SIGN_INS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self {
            entries: Mutex::new(HashMap::new()),
            sign_ins: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// Whether `addr` may try to sign in now (unknown addresses share one
    /// allowance).
    pub fn may_try_sign_in(&self, addr: Option<IpAddr>) -> bool {
        let key = addr.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        self.sign_ins.check_key(&key).is_ok()
    }

    /// Starts a session; returns its id (for the cookie). `None` only if
    /// the system's random source fails.
    pub fn start(&self) -> Option<String> {
        let id = random_token()?;
        let csrf = random_token()?;
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, e| live(e, now));
        entries.insert(
            key(&id),
            Entry {
                csrf,
                flash: None,
                started: now,
                last_seen: now,
            },
        );
        Some(id)
    }

    /// The live session of a cookie value, taking its flash message.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut entries = self.lock();
        let k = key(id);
        let entry = entries.get_mut(&k)?;
        if !live(entry, now) {
            entries.remove(&k);
            return None;
        }
        entry.last_seen = now;
        Some(Session {
            csrf: entry.csrf.clone(),
            flash: entry.flash.take(),
        })
    }

    /// Leaves a message for the session's next page.
    pub fn flash(&self, id: &str, message: String) {
        if let Some(entry) = self.lock().get_mut(&key(id)) {
            entry.flash = Some(message);
        }
    }

    pub fn end(&self, id: &str) {
        self.lock().remove(&key(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere cannot leave a half-written map: inserts and
        // removes are single calls.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn live(entry: &Entry, now: Instant) -> bool {
    now.duration_since(entry.started) < LIFETIME && now.duration_since(entry.last_seen) < IDLE
}

fn key(id: &str) -> String {
    crate::digest::sha256_hex(id.as_bytes())
}

/// 32 random bytes, URL-safe base64.
fn random_token() -> Option<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares a presented CSRF token with the session's in constant time.
pub fn same_token(expected: &str, presented: &str) -> bool {
    Sha256::digest(expected.as_bytes()) == Sha256::digest(presented.as_bytes())
}

/// The `Set-Cookie` value that holds a new session. `Secure` when the
/// browser reached the console over HTTPS (its `Origin` says so), so the
/// cookie never travels in the clear after that.
pub fn cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_session_is_found_by_its_id_only_and_ends() {
        let sessions = Sessions::new();
        let id = sessions.start().unwrap();
        let session = sessions.get(&id).unwrap();
        assert_eq!(session.csrf.len(), 43);
        assert!(sessions.get("guess").is_none());
        sessions.flash(&id, "saved".into());
        assert_eq!(sessions.get(&id).unwrap().flash.as_deref(), Some("saved"));
        assert_eq!(sessions.get(&id).unwrap().flash, None, "shown once");
        sessions.end(&id);
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn sign_in_attempts_are_limited_per_address() {
        let sessions = Sessions::new();
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        for _ in 0..SIGN_INS_PER_MINUTE {
            assert!(sessions.may_try_sign_in(a));
        }
        assert!(!sessions.may_try_sign_in(a));
        assert!(sessions.may_try_sign_in(b));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        let plain = cookie("abc", false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(plain.contains("Path=/console") && plain.contains("Max-Age="));
        assert!(!plain.contains("Secure"));
        assert!(cookie("abc", true).ends_with("; Secure"));
    }
}
