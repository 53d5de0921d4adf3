//! Recovery codes: ten single-use codes per member, stored as SHA-256 hashes, that log in at a
//! stage where only key registration is allowed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::rate_limit::limits;
use keyward_domain::repo::{AuditRepo, MemberRepo, OrganizationRepo, RecoveryCodeRepo};
use keyward_domain::session::{AuthMethod, Session};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::session::{self, Issued};
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

/// Logs in with a recovery code: the member's other sessions end, and the new session may only
/// register a key.
pub async fn login(
    app: &AppState,
    organization: &str,
    username: &str,
    code: &str,
    ip: Option<String>,
) -> Result<Issued, DomainError> {
    let now = Utc::now();
    super::limit(
        app,
        &[
            (format!("secret-ip:{}", ip.as_deref().unwrap_or("unknown")), limits::SECRET_LOGIN_PER_IP),
            (format!("recovery:{organization}:{username}"), limits::SECRET_LOGIN_PER_ACCOUNT),
        ],
        now,
    )
    .await?;
    let org = app.db.organization_by_slug(organization).await?.ok_or(DomainError::InvalidCredentials)?;
    let member = app.db.member_by_username(org.id, username).await?.ok_or(DomainError::InvalidCredentials)?;
    let record = AuditRecord::new(Actor::Member(member.id), "recovery_code.login")
        .target(format!("member:{}", member.id))
        .ip(ip.clone());
    if !app.db.consume_recovery_code(org.id, member.id, &hash_code(code), now, record).await? {
        let failed = AuditRecord::new(Actor::Anonymous, "recovery_code.login")
            .target(format!("member:{}", member.id))
            .failed()
            .ip(ip);
        app.db.append_audit(org.id, failed).await?;
        return Err(DomainError::InvalidCredentials);
    }
    let revoked = app.sessions.revoke_member(org.id, member.id, None, now).await?;
    let issued = session::start(app, &org, &member, AuthMethod::RecoveryCode, now).await?;
    let record = AuditRecord::new(Actor::Member(member.id), "member.sessions.revoked")
        .target(format!("member:{}", member.id))
        .details(json!({ "revokedSessions": revoked, "reason": "recovery code used" }));
    app.db.append_audit(org.id, record).await?;
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
