//! Every action Keyward writes to the audit trail, with the label people read in filters and
//! lists. One table, so the SPA's dropdown, the API and the summaries use one vocabulary.

/// `(action, label)` for every action Keyward writes.
pub const ACTIONS: &[(&str, &str)] = &[
    ("org.bootstrapped", "Organization created"),
    ("org.sso.configured", "Single sign-on configured"),
    ("org.sso.tested", "Single sign-on test sign-in"),
    ("org.webauthn_policy.updated", "WebAuthn policy changed"),
    ("org.mfa_enforcement.enabled", "MFA enforcement turned on"),
    ("org.mfa_enforcement.disabled", "MFA enforcement turned off"),
    ("org.mfa_enforcement.updated", "MFA grace deadline changed"),
    ("org.step_up_policy.updated", "Step-up policy changed"),
    ("org.approval_policy.set", "Approval policy changed"),
    ("org.webhook.set", "Webhook set"),
    ("org.webhook.deleted", "Webhook deleted"),
    ("backup_credentials.rotated", "Backup credentials rotated"),
    ("backup_credentials.login", "Login with backup credentials"),
    ("sso.login", "Login with single sign-on"),
    ("mfa.login", "Login with a security key"),
    ("cli.login", "Terminal login"),
    ("recovery_code.login", "Login with a recovery code"),
    ("recovery_code.used", "Recovery code used"),
    ("recovery_codes.generated", "Recovery codes generated"),
    ("session.logout", "Logout"),
    ("session.evicted", "Oldest sessions ended at the session limit"),
    ("step_up.granted", "Step-up confirmed"),
    ("step_up.denied", "Step-up refused"),
    ("security_key.registered", "Security key added"),
    ("security_key.renamed", "Security key renamed"),
    ("security_key.deleted", "Security key deleted"),
    ("security_key.counter_anomaly", "Security key counter went backwards"),
    ("security_key.backup_state_changed", "Security key sync state changed"),
    ("member.created", "Member added"),
    ("member.provisioned", "Member provisioned by SSO"),
    ("member.sso.linked", "SSO account linked"),
    ("member.role.changed", "Member role changed"),
    ("member.deactivated", "Member deactivated"),
    ("member.reactivated", "Member reactivated"),
    ("member.security_key.deleted", "Member's security key deleted by an admin"),
    ("member.sessions.revoked", "Member's sessions ended"),
    ("api_key.created", "API key created"),
    ("api_key.revoked", "API key revoked"),
    ("approval.requested", "Approval requested"),
    ("approval.vote_recorded", "Approval vote"),
    ("approval.vote_refused", "Approval vote refused"),
    ("approval.approved", "Approval granted"),
    ("approval.rejected", "Approval rejected"),
    ("approval.expired", "Approval expired"),
    ("approval.token_issued", "Approval token issued"),
];

/// The label of `action`; the action itself for one this table does not know (an event written by
/// a newer version).
pub fn label_of(action: &str) -> &str {
    ACTIONS.iter().find(|(known, _)| *known == action).map_or(action, |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::Utc;

    use super::*;
    use crate::audit::{Actor, AuditEvent, AuditRecord, GENESIS_HASH};
    use crate::ids::OrgId;

    #[test]
    fn actions_and_labels_are_unique() {
        let actions: HashSet<_> = ACTIONS.iter().map(|(a, _)| a).collect();
        let labels: HashSet<_> = ACTIONS.iter().map(|(_, l)| l).collect();
        assert_eq!(actions.len(), ACTIONS.len());
        assert_eq!(labels.len(), ACTIONS.len(), "two actions would read the same in the filter");
        assert_eq!(label_of("mfa.login"), "Login with a security key");
        assert_eq!(label_of("from.the.future"), "from.the.future");
    }

    #[test]
    fn every_labelled_action_has_its_own_sentence() {
        for (action, _) in ACTIONS {
            let record = AuditRecord::new(Actor::System, *action).target("member:x");
            let event = AuditEvent::seal(OrgId::new(), 1, GENESIS_HASH, Utc::now(), record);
            let summary = event.summary();
            assert!(!summary.contains(action), "{action} falls through to the generic sentence: {summary}");
        }
    }
}
