//! Limits on the token exchange, checked before any work: requests per
//! client address (first, before the body is read), requests per username
//! (once the body names one), and exchanges in flight at once. A refused
//! request costs no evaluation, no storage and no audit write, so a flood
//! cannot turn into disk and IO growth.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::http::StatusCode;

use super::error::ApiError;

/// What `trustpub.toml` says about the limits; 0 turns a rate limit off.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub per_address_per_minute: u32,
    pub per_username_per_minute: u32,
    pub max_in_flight: u32,
}

pub struct ExchangeLimits {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_username: Option<DefaultKeyedRateLimiter<String>>,
    in_flight: Arc<Semaphore>,
    clock: DefaultClock,
}

impl ExchangeLimits {
    pub fn new(settings: LimitSettings) -> Self {
        // A full minute's allowance may come at once (the burst), then it
        // refills evenly: CI fans out jobs in bursts, floods do not stop.
        fn keyed<K: std::hash::Hash + Eq + Clone>(
            per_minute: u32,
        ) -> Option<DefaultKeyedRateLimiter<K>> {
            NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
        }
        Self {
            per_address: keyed(settings.per_address_per_minute),
            per_username: keyed(settings.per_username_per_minute),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight.max(1) as usize)),
            clock: DefaultClock::default(),
        }
    }

    /// Requests from one client address; an unknown address is not limited
    /// here (the in-flight bound still holds).
    pub fn check_address(&self, addr: Option<IpAddr>) -> Result<(), ApiError> {
        match (&self.per_address, addr) {
            (Some(limiter), Some(addr)) => self.verdict(limiter.check_key(&addr), "this address"),
            _ => Ok(()),
        }
    }

    /// Exchanges for one username, compared case-insensitively so case
    /// variants do not multiply the allowance.
    pub fn check_username(&self, username: &str) -> Result<(), ApiError> {
        match &self.per_username {
            Some(limiter) => self.verdict(
                limiter.check_key(&username.to_ascii_lowercase()),
                "this username",
            ),
            None => Ok(()),
        }
    }

    /// A place among the exchanges in flight, held until dropped; when all
    /// are taken the request is refused at once rather than queued.
    pub fn enter(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.in_flight.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is busy: too many exchanges in flight; try again shortly",
            )
            .with_retry_after(1)
        })
    }

    /// Forgets addresses and usernames whose allowance is full again, so
    /// the tables hold only recent clients.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_address {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_username {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    fn verdict(
        &self,
        check: Result<(), governor::NotUntil<<DefaultClock as Clock>::Instant>>,
        whom: &str,
    ) -> Result<(), ApiError> {
        check.map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many token exchanges from {whom}; retry after {seconds} s"),
            )
            .with_retry_after(seconds.max(1))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: u32, per_username: u32, in_flight: u32) -> ExchangeLimits {
        ExchangeLimits::new(LimitSettings {
            per_address_per_minute: per_address,
            per_username_per_minute: per_username,
            max_in_flight: in_flight,
        })
    }

    #[test]
    fn an_address_over_its_allowance_gets_429_with_retry_after() {
        let l = limits(3, 0, 10);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(l.check_address(Some(a)).is_ok());
        }
        let refused = l.check_address(Some(a)).expect_err("fourth in a minute");
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        // One request in 20 s refills: the wait is at most that, at least 1 s.
        assert!(
            (1..=20).contains(&refused.retry_after.expect("retry-after")),
            "{:?}",
            refused.retry_after
        );
        assert!(
            l.check_address(Some(b)).is_ok(),
            "other addresses unaffected"
        );
        assert!(l.check_address(None).is_ok());
    }

    #[test]
    fn usernames_are_limited_case_insensitively() {
        let l = limits(0, 2, 10);
        assert!(l.check_username("Contoso").is_ok());
        assert!(l.check_username("contoso").is_ok());
        let refused = l.check_username("CONTOSO").expect_err("third");
        assert!(
            refused.message.contains("this username"),
            "{}",
            refused.message
        );
        assert!(l.check_username("fabrikam").is_ok());
    }

    #[test]
    fn zero_turns_a_rate_limit_off() {
        let l = limits(0, 0, 10);
        for _ in 0..1000 {
            assert!(l.check_address(Some([10, 0, 0, 1].into())).is_ok());
            assert!(l.check_username("contoso").is_ok());
        }
    }

    #[test]
    fn exchanges_in_flight_are_bounded_and_places_come_back() {
        let l = limits(0, 0, 2);
        let first = l.enter().expect("first");
        let _second = l.enter().expect("second");
        let busy = l.enter().expect_err("third");
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after, Some(1));
        drop(first);
        assert!(l.enter().is_ok());
    }
}
