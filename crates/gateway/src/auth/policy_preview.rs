//! What saving a WebAuthn policy would do, before it is saved: the fields it changes, the members
//! it would leave without an accepted key, and the refusal when that includes the acting admin or
//! every admin. `webauthnPolicyPreview` shows it; `webauthnPolicyUpdate` enforces the refusal.

use std::collections::HashMap;

use keyward_domain::DomainError;
use keyward_domain::ids::MemberId;
use keyward_domain::lockout::{AdminKeys, FieldChange, lockout_refusal, policy_changes};
use keyward_domain::repo::SecurityKeyRepo;
use keyward_domain::security_key::SecurityKey;
use keyward_domain::session::Session;
use keyward_domain::webauthn_policy::{CredentialFacts, WebauthnPolicy};

use super::admin::{AtRisk, all_members, key_facts, verified_models};
use crate::state::AppState;

/// What saving a policy would do.
pub struct PolicyPreview {
    /// Fields that change from the stored policy.
    pub changes: Vec<FieldChange>,
    /// Active members with keys whose every key the policy refuses, with each key's reason.
    pub left_without_key: Vec<AtRisk>,
    /// Why saving is refused; `None` when it may be saved.
    pub refusal: Option<String>,
}

/// Judges `candidate` against every active member's keys. Live-session counts are left at 0: the
/// preview is about keys, and the sessions of refused members end when the policy is saved. Only
/// keys refused for certain count towards the lock-out refusal: a key registered without user
/// verification is listed as at risk, since whether it can verify is known only at login.
pub async fn preview(
    app: &AppState,
    session: &Session,
    candidate: &WebauthnPolicy,
) -> Result<PolicyPreview, DomainError> {
    let org = session.org_id;
    let stored = super::webauthn_policy(app, org).await?;
    let mut keys_by_member: HashMap<MemberId, Vec<SecurityKey>> = HashMap::new();
    for key in app.db.keys_in_org(org).await? {
        keys_by_member.entry(key.member_id).or_default().push(key);
    }
    let mut left_without_key = Vec::new();
    let mut admins = Vec::new();
    for summary in all_members(app, org, false).await? {
        let member = summary.member;
        if !member.is_active() {
            continue;
        }
        let keys = keys_by_member.remove(&member.id).unwrap_or_default();
        let models =
            if keys.is_empty() { HashMap::new() } else { verified_models(app, candidate, org, member.id).await? };
        let mut refused = Vec::new();
        let mut surely_refused = 0;
        for key in &keys {
            let facts = key_facts(key, &models);
            let Err(why) = candidate.check(&facts) else { continue };
            // Whether a key can verify its user is known only from the ceremony that asks: the
            // flag stored at registration says it did not, not that it cannot.
            match candidate.check(&CredentialFacts { user_verified: true, ..facts }) {
                Err(_) => surely_refused += 1,
                Ok(()) => {
                    let why = "it did not verify a user (PIN or biometric) when it was registered: it is refused at \
                               login if it cannot";
                    refused.push((key.clone(), why.to_owned()));
                    continue;
                }
            }
            refused.push((key.clone(), why));
        }
        let all_refused = !keys.is_empty() && refused.len() == keys.len();
        if member.is_admin() {
            let surely_all = !keys.is_empty() && surely_refused == keys.len();
            admins.push(AdminKeys { member: member.id, has_keys: !keys.is_empty(), all_refused: surely_all });
        }
        if all_refused {
            left_without_key.push(AtRisk { member, live_sessions: 0, refused_keys: refused });
        }
    }
    Ok(PolicyPreview {
        changes: policy_changes(&stored, candidate),
        refusal: lockout_refusal(session.member_id, &admins),
        left_without_key,
    })
}
