//! Rate limits on logins and ceremonies, shared across instances by the store that implements
//! [`RateLimiter`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{DomainError, StoreError};

/// At most `max` attempts per `window_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Attempts allowed in one window.
    pub max: u32,
    /// The window's length.
    pub window_seconds: u32,
}

/// The limits Keyward applies.
pub mod limits {
    use super::Limit;

    /// Failed backup-credential logins per client network (an IPv4 address, an IPv6 /64).
    pub const SECRET_LOGIN_PER_NETWORK: Limit = Limit { max: 20, window_seconds: 300 };
    /// Failed backup-credential logins across every client, per instance of Keyward's shared
    /// store: a ceiling on distributed guessing of a 256-bit secret.
    pub const SECRET_LOGIN_GLOBAL: Limit = Limit { max: 1000, window_seconds: 300 };
    /// Failed recovery codes per login session: each session needs the member's first factor, so
    /// guessing needs a new first-factor login every few tries, and nobody else's session counts.
    pub const RECOVERY_CODE_PER_SESSION: Limit = Limit { max: 5, window_seconds: 600 };
    /// Ceremony finishes per member.
    pub const CEREMONY_PER_MEMBER: Limit = Limit { max: 20, window_seconds: 300 };
    /// Ceremony finishes per client address.
    pub const CEREMONY_PER_IP: Limit = Limit { max: 60, window_seconds: 300 };
    /// SSO login starts per client address.
    pub const SSO_START_PER_IP: Limit = Limit { max: 30, window_seconds: 60 };
}

/// A counter per bucket and window.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one attempt in `bucket`; returns how many attempts the window holds now and the
    /// seconds until it resets.
    async fn hit(&self, bucket: &str, limit: Limit, now: DateTime<Utc>) -> Result<(u32, u64), StoreError>;

    /// Takes one attempt back out of `bucket` (a success), never below zero.
    async fn refund(&self, bucket: &str) -> Result<(), StoreError>;
}

/// The bucket part for a client address: IPv4 addresses count alone, IPv6 addresses by their
/// /64 (one subscriber usually holds a whole /64, so per-address buckets would not limit them).
pub fn network_of(ip: Option<&str>) -> String {
    use std::net::IpAddr;
    match ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => ip.map_or_else(|| "unknown".to_owned(), str::to_owned),
    }
}

/// Buckets that count failures only: an attempt is counted up front (so concurrent guesses are
/// bounded too) and given back when it succeeds, so a correct secret never uses up a limit.
pub struct FailureBudget<'a> {
    limiter: &'a dyn RateLimiter,
    buckets: Vec<String>,
}

impl<'a> FailureBudget<'a> {
    /// Counts one attempt against each `(bucket, limit)`; refuses when any is over its limit
    /// (and gives back what it counted, so refused attempts do not extend the lock).
    pub async fn take(
        limiter: &'a dyn RateLimiter,
        buckets: &[(String, Limit)],
        now: DateTime<Utc>,
    ) -> Result<FailureBudget<'a>, DomainError> {
        let mut budget = FailureBudget { limiter, buckets: Vec::with_capacity(buckets.len()) };
        for (bucket, limit) in buckets {
            let outcome = check(limiter, bucket, *limit, now).await;
            if let Err(DomainError::Store(unavailable)) = outcome {
                return Err(unavailable.into());
            }
            budget.buckets.push(bucket.clone());
            if let Err(refused) = outcome {
                budget.succeeded().await?;
                return Err(refused);
            }
        }
        Ok(budget)
    }

    /// The attempt succeeded: it does not count.
    pub async fn succeeded(self) -> Result<(), DomainError> {
        for bucket in &self.buckets {
            self.limiter.refund(bucket).await?;
        }
        Ok(())
    }

    /// The attempt failed: it stays counted.
    pub fn failed(self) {}
}

/// Counts an attempt and refuses it when over `limit`.
pub async fn check(
    limiter: &dyn RateLimiter,
    bucket: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let (count, resets_in) = limiter.hit(bucket, limit, now).await?;
    if count > limit.max {
        return Err(DomainError::RateLimited { retry_after_seconds: resets_in.max(1) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_group_ipv6_by_64() {
        assert_eq!(network_of(Some("203.0.113.9")), "203.0.113.9");
        assert_eq!(network_of(Some("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(network_of(Some("2001:db8:1:2:ffff:ffff:ffff:ffff")), "2001:db8:1:2::/64");
        assert_ne!(network_of(Some("2001:db8:1:3::1")), network_of(Some("2001:db8:1:2::1")));
        assert_eq!(network_of(Some("::ffff:198.51.100.7")), "198.51.100.7");
        assert_eq!(network_of(None), "unknown");
    }
}
