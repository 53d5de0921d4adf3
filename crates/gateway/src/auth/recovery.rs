//! Recovery codes: ten single-use codes per member, stored as SHA-256 hashes, that stand in for a
//! lost security key at the key step of login.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::change::AuthzChange;
use keyward_domain::rate_limit::{FailureBudget, limits, network_of};
use keyward_domain::repo::{AuditRepo, RecoveryCodeRepo};
use keyward_domain::session::Session;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::changes;
use super::session::Issued;
use crate::state::AppState;

/// Codes per generation.
pub const CODES: usize = 10;

/// A code as people type it: 16 characters from an unambiguous alphabet, grouped by four.
fn new_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// SHA-256 of a code, ignoring case, spaces and dashes (codes carry ~78 bits, so a fast hash is
/// enough; they are also rate limited).
pub fn hash_code(code: &str) -> String {
    let normalized: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    URL_SAFE_NO_PAD.encode(Sha256::digest(normalized.as_bytes()))
}

/// Generates fresh codes for the caller, voiding the old ones. Returned once; only hashes are kept.
pub async fn generate(app: &AppState, session: &Session, ip: Option<String>) -> Result<Vec<String>, DomainError> {
    let codes: Vec<String> = (0..CODES).map(|_| new_code()).collect();
    let hashes = codes.iter().map(|c| hash_code(c)).collect();
    let record = AuditRecord::new(Actor::Member(session.member_id), "recovery_codes.generated")
        .target(format!("member:{}", session.member_id))
        .ip(ip)
        .details(json!({ "count": CODES }));
    app.db.replace_recovery_codes(session.org_id, session.member_id, hashes, Utc::now(), record).await?;
    Ok(codes)
}

/// Uses a recovery code at the key step of login, in place of the lost key: the code replaces the
/// key, never the first factor, so it is taken only from a session at `MFA_REQUIRED`. The
/// member's other sessions end; this one moves under a new token to `MFA_REGISTRATION_REQUIRED`.
///
/// Only failures are counted, per login session (an attacker must pass the first factor again
/// every few guesses), per client network and across the service: no bucket the member shares
/// with an attacker can refuse their correct code.
pub async fn finish(app: &AppState, session: &Session, code: &str, ip: Option<String>) -> Result<Issued, DomainError> {
    let now = Utc::now();
    let budget = FailureBudget::take(
        app.rate_limiter.as_ref(),
        &[
            (format!("recovery-session:{}", session.token_hash), limits::RECOVERY_CODE_PER_SESSION),
            (format!("secret-net:{}", network_of(ip.as_deref())), limits::SECRET_LOGIN_PER_NETWORK),
            ("secret-global".to_owned(), limits::SECRET_LOGIN_GLOBAL),
        ],
        now,
    )
    .await?;
    let actor = Actor::Member(session.member_id);
    let target = format!("member:{}", session.member_id);
    let record = AuditRecord::new(actor.clone(), "recovery_code.used").target(target.clone()).ip(ip.clone());
    if !app.db.consume_recovery_code(session.org_id, session.member_id, &hash_code(code), now, record).await? {
        budget.failed();
        let failed = AuditRecord::new(actor.clone(), "recovery_code.used").target(target).failed().ip(ip);
        app.db.append_audit(session.org_id, failed).await?;
        return Err(DomainError::bad_input("code", "that recovery code is not valid or was already used"));
    }
    budget.succeeded().await?;
    let change = AuthzChange::RecoveryCodeUsed(session.member_id);
    let next = session.recovered(app.lifetimes, now);
    let applied = changes::apply(app, session.org_id, &change, Some(session), Some(next), now).await?;
    let issued = applied.rotated.ok_or(DomainError::Unauthenticated)?;
    let record = AuditRecord::new(actor, "member.sessions.revoked")
        .target(format!("member:{}", session.member_id))
        .details(json!({ "revokedSessions": applied.ended, "reason": "recovery code used" }));
    app.db.append_audit(session.org_id, record).await?;
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_hash_forgivingly() {
        let code = new_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(hash_code(&code), hash_code(&code.to_uppercase().replace('-', " ")));
        assert_ne!(hash_code(&code), hash_code(&new_code()));
    }
}
