//! Session tokens as clients hold them, and the hashes a store keeps instead.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::OrgId;

/// Bytes of randomness in a session token.
pub const TOKEN_SECRET_BYTES: usize = 32;
const TOKEN_PREFIX: &str = "kw1";

/// A session token as the client holds it: the organization (so the right shard is found in one
/// lookup) and 256 random bits. Never stored; only its [`TokenHash`] is.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    org_id: OrgId,
    secret: [u8; TOKEN_SECRET_BYTES],
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionToken").field("org_id", &self.org_id).finish_non_exhaustive()
    }
}

impl SessionToken {
    /// A token for `org_id` from random bytes the caller drew from a CSPRNG.
    pub fn from_random(org_id: OrgId, secret: [u8; TOKEN_SECRET_BYTES]) -> Self {
        Self { org_id, secret }
    }

    /// Parses the client's form, `kw1.<org>.<secret>`; `None` for anything malformed.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split('.');
        let (prefix, org, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if prefix != TOKEN_PREFIX || parts.next().is_some() {
            return None;
        }
        let org_id = org.parse().ok()?;
        let bytes = URL_SAFE_NO_PAD.decode(secret).ok()?;
        let secret = bytes.try_into().ok()?;
        Some(Self { org_id, secret })
    }

    /// The organization the session belongs to.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The form handed to the client (cookie value or bearer token).
    pub fn expose(&self) -> String {
        format!("{TOKEN_PREFIX}.{}.{}", self.org_id.0.simple(), URL_SAFE_NO_PAD.encode(self.secret))
    }

    /// SHA-256 of the token: the only form that is ever stored.
    pub fn hash(&self) -> TokenHash {
        let mut hasher = Sha256::new();
        hasher.update(self.org_id.0.as_bytes());
        hasher.update(self.secret);
        TokenHash(URL_SAFE_NO_PAD.encode(hasher.finalize()))
    }
}

/// SHA-256 of a session token, base64url. A session is identified by its first
/// [`TokenHash::KEY_CHARS`] characters (132 bits, see [`TokenHash::key`]): two hashes are equal
/// when their keys are, so a full hash and the key a store lists name the same session.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(pub String);

impl TokenHash {
    /// Characters of the hash that identify the session: 132 bits, beyond guessing and beyond
    /// accidental collision, in half the bytes of the full hash (a store keeps it three times
    /// per session).
    pub const KEY_CHARS: usize = 22;

    /// The session's storage key: the hash's first [`Self::KEY_CHARS`] characters (all of it
    /// when shorter).
    pub fn key(&self) -> &str {
        self.0.get(..Self::KEY_CHARS).unwrap_or(&self.0)
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for TokenHash {}

impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for TokenHash {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TokenHash {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(other.key())
    }
}

impl std::fmt::Display for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_identified_by_the_key_of_its_hash() {
        let token = SessionToken::from_random(OrgId::new(), [9; TOKEN_SECRET_BYTES]);
        let full = token.hash();
        assert_eq!(full.0.len(), 43, "base64url of SHA-256");
        let key = TokenHash(full.key().to_owned());
        assert_eq!(key.key().len(), TokenHash::KEY_CHARS);
        assert_eq!(key, full, "the key a store lists names the same session as the full hash");
        let set: std::collections::HashSet<TokenHash> = [full.clone(), key].into_iter().collect();
        assert_eq!(set.len(), 1, "and hashes the same");
        let other = SessionToken::from_random(token.org_id(), [8; TOKEN_SECRET_BYTES]).hash();
        assert_ne!(other, full);
        assert_eq!(TokenHash("short".into()).key(), "short");
    }

    #[test]
    fn tokens_round_trip_and_hash_stably() {
        let token = SessionToken::from_random(OrgId::new(), [7; TOKEN_SECRET_BYTES]);
        let parsed = SessionToken::parse(&token.expose()).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(parsed.hash(), token.hash());
        assert_ne!(token.hash().0, token.expose());
        let other = SessionToken::from_random(token.org_id(), [8; TOKEN_SECRET_BYTES]);
        assert_ne!(other.hash(), token.hash());
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let good = SessionToken::from_random(OrgId::new(), [1; TOKEN_SECRET_BYTES]).expose();
        for bad in
            ["", "kw1", "kw2.x.y", &good[..good.len() - 2], &format!("{good}.extra"), &good.replacen("kw1", "kw2", 1)]
        {
            assert!(SessionToken::parse(bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let token = SessionToken::from_random(OrgId::new(), [9; TOKEN_SECRET_BYTES]);
        assert!(!format!("{token:?}").contains(&token.expose()[40..]));
    }
}
