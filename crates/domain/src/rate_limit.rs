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

    /// Backup-credential and recovery-code logins per organization and username.
    pub const SECRET_LOGIN_PER_ACCOUNT: Limit = Limit { max: 5, window_seconds: 300 };
    /// Backup-credential and recovery-code logins per client address.
    pub const SECRET_LOGIN_PER_IP: Limit = Limit { max: 20, window_seconds: 300 };
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
