//! One readable sentence per event, from its action, details and the name snapshots taken when it
//! was written: "alice deleted key YubiKey 5C of bob".

use serde_json::Value;

use super::{AuditEvent, Outcome};

impl AuditEvent {
    /// Who, as a person reads it: the username snapshot, else the raw actor.
    pub fn actor_display(&self) -> String {
        match (self.actor_name.as_deref(), self.actor.as_str()) {
            (Some(name), _) => name.to_owned(),
            (None, "system") => "Keyward".to_owned(),
            (None, "anonymous") => "Someone".to_owned(),
            (None, raw) => raw.to_owned(),
        }
    }

    /// On what, as a person reads it: the name snapshot, else the raw target.
    pub fn target_display(&self) -> Option<String> {
        self.target_name.clone().or_else(|| self.target.clone())
    }

    /// The event as one sentence.
    pub fn summary(&self) -> String {
        let actor = self.actor_display();
        let target = self.target_display().unwrap_or_else(|| "nothing".to_owned());
        let detail = |key: &str| match self.details.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "?".to_owned(),
            Some(other) => other.to_string(),
        };
        let failed = self.outcome == Outcome::Failure.as_str();
        let (done, tried) = match self.action.as_str() {
            "org.bootstrapped" => (format!("created organization {target}"), None),
            "org.sso.configured" => ("configured single sign-on".to_owned(), None),
            "org.sso.tested" => (
                format!("tested single sign-on settings as {}", detail("email")),
                Some("failed a single sign-on test".into()),
            ),
            "org.webauthn_policy.updated" => ("updated the WebAuthn policy".to_owned(), None),
            "org.mfa_enforcement.enabled" => match self.details.get("endSessions").and_then(Value::as_str) {
                Some("KEYLESS") => {
                    ("turned MFA enforcement on, ending only sessions no key confirmed".to_owned(), None)
                }
                _ => ("turned MFA enforcement on".to_owned(), None),
            },
            "org.mfa_enforcement.disabled" => ("turned MFA enforcement off".to_owned(), None),
            "org.mfa_enforcement.updated" => ("changed MFA enforcement".to_owned(), None),
            "backup_credentials.rotated" => ("rotated the backup credentials".to_owned(), None),
            "backup_credentials.login" => login("backup credentials"),
            "sso.login" => login("single sign-on"),
            "mfa.login" => login("a security key"),
            "cli.login" => ("logged a terminal in with a security key".to_owned(), None),
            "step_up.granted" => {
                (format!("confirmed {} on {} with a security key", detail("action"), detail("resource")), None)
            }
            "step_up.denied" => {
                let what = match self.details.get("action") {
                    Some(_) => format!("was refused {} on {}", detail("action"), detail("resource")),
                    None => "failed a step-up".to_owned(),
                };
                (what.clone(), Some(format!("{what}: {}", detail("reason"))))
            }
            "org.step_up_policy.updated" => (
                format!("changed the step-up policy from version {} to {}", detail("fromVersion"), detail("toVersion")),
                None,
            ),
            "recovery_code.login" => login("a recovery code"),
            "session.logout" => ("logged out".to_owned(), None),
            "session.evicted" => (
                format!(
                    "logged in with {} sessions open: the oldest {} ended",
                    detail("limit"),
                    detail("endedSessions")
                ),
                None,
            ),
            "recovery_codes.generated" => ("generated recovery codes".to_owned(), None),
            "security_key.registered" => (format!("registered key {target}"), None),
            "security_key.renamed" => (format!("renamed key {} to {}", detail("from"), detail("to")), None),
            "security_key.deleted" => (format!("deleted key {target}"), None),
            "security_key.counter_anomaly" => {
                (format!("used key {target} with a signature counter that went backwards"), None)
            }
            "member.security_key.deleted" => (format!("deleted key {} of {target}", detail("keyName")), None),
            "member.sessions.revoked" => (format!("ended {} session(s) of {target}", detail("revokedSessions")), None),
            "member.role.changed" => {
                (format!("changed the role of {target} from {} to {}", detail("from"), detail("to")), None)
            }
            "member.provisioned" => (format!("provisioned member {}", detail("username")), None),
            "member.created" => (format!("added member {target}"), None),
            "member.deactivated" => (format!("deactivated {target}"), None),
            "member.reactivated" => (format!("reactivated {target}"), None),
            "recovery_code.used" => ("used a recovery code".to_owned(), None),
            "security_key.backup_state_changed" => (format!("saw key {target} change its sync state"), None),
            "member.sso.linked" => (format!("linked an SSO identity to {target}"), None),
            "api_key.created" => (format!("created API key {} ({})", detail("name"), detail("prefix")), None),
            "api_key.revoked" => (format!("revoked API key {target}"), None),
            "org.webhook.set" => (format!("set the webhook to {}", detail("urlOrigin")), None),
            "org.webhook.deleted" => ("deleted the webhook".to_owned(), None),
            "org.approval_policy.set" => (
                format!(
                    "changed the approval policy from version {} to {}",
                    detail("fromVersion"),
                    detail("toVersion")
                ),
                None,
            ),
            "approval.requested" => (
                format!(
                    "requested approval of {} run {} ({} to {}): {}",
                    detail("pipeline"),
                    detail("runId"),
                    detail("stage"),
                    detail("environment"),
                    detail("outcome")
                ),
                None,
            ),
            "approval.vote_recorded" => (
                format!(
                    "voted {} on {} {} with a security key",
                    detail("decision"),
                    detail("pipeline"),
                    detail("runId")
                ),
                None,
            ),
            "approval.vote_refused" => ("tried to vote on an approval request".to_owned(), {
                Some(format!("was refused a vote on an approval request: {}", detail("reason")))
            }),
            "approval.approved" => (format!("approved {} run {}", detail("pipeline"), detail("runId")), None),
            "approval.rejected" => {
                (format!("rejected {} run {}: {}", detail("pipeline"), detail("runId"), detail("reason")), None)
            }
            "approval.expired" => {
                (format!("expired {} run {} (nobody decided in time)", detail("pipeline"), detail("runId")), None)
            }
            "approval.token_issued" => (format!("issued approval token {}", detail("jti")), None),
            other if self.target.is_some() => (format!("{other} on {target}"), None),
            other => (other.to_owned(), None),
        };
        match (failed, tried) {
            (false, _) => format!("{actor} {done}"),
            (true, Some(tried)) => format!("{actor} {tried}"),
            (true, None) => format!("{actor} {done} (failed)"),
        }
    }
}

fn login(with: &str) -> (String, Option<String>) {
    (format!("logged in with {with}"), Some(format!("failed to log in with {with}")))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use crate::audit::{Actor, AuditEvent, AuditRecord, GENESIS_HASH};
    use crate::ids::{MemberId, OrgId};

    fn event(record: AuditRecord) -> AuditEvent {
        AuditEvent::seal(OrgId::new(), 1, GENESIS_HASH, Utc::now(), record)
    }

    #[test]
    fn an_admin_deleting_a_members_key_reads_as_a_sentence() {
        let bob = MemberId::new();
        let e = event(
            AuditRecord::new(Actor::Member(MemberId::new()), "member.security_key.deleted")
                .target(format!("member:{bob}"))
                .details(json!({ "keyName": "YubiKey 5C" }))
                .actor_name("alice")
                .target_name("bob"),
        );
        assert_eq!(e.summary(), "alice deleted key YubiKey 5C of bob");
        let own = event(
            AuditRecord::new(Actor::Member(bob), "security_key.deleted")
                .target("security_key:x")
                .actor_name("bob")
                .target_name("Backup key"),
        );
        assert_eq!(own.summary(), "bob deleted key Backup key");
    }

    #[test]
    fn step_up_events_name_the_action_and_the_reason() {
        let alice = MemberId::new();
        let granted = event(
            AuditRecord::new(Actor::Member(alice), "step_up.granted")
                .details(json!({ "action": "k8s.exec", "resource": "prod/cluster-a" }))
                .actor_name("alice"),
        );
        assert_eq!(granted.summary(), "alice confirmed k8s.exec on prod/cluster-a with a security key");
        let denied = event(
            AuditRecord::new(Actor::Member(alice), "step_up.denied")
                .details(json!({ "action": "db.restart", "resource": "prod", "reason": "change freeze" }))
                .actor_name("alice")
                .failed(),
        );
        assert_eq!(denied.summary(), "alice was refused db.restart on prod: change freeze");
        let ceremony = event(
            AuditRecord::new(Actor::Member(alice), "step_up.denied")
                .details(json!({ "reason": "expired" }))
                .actor_name("alice")
                .failed(),
        );
        assert_eq!(ceremony.summary(), "alice failed a step-up: expired");
        let policy = event(
            AuditRecord::new(Actor::Member(alice), "org.step_up_policy.updated")
                .details(json!({ "fromVersion": 1, "toVersion": 2 }))
                .actor_name("alice"),
        );
        assert_eq!(policy.summary(), "alice changed the step-up policy from version 1 to 2");
    }

    #[test]
    fn approval_events_name_the_run() {
        let details = json!({ "pipeline": "infra/deploy", "runId": "42", "stage": "apply", "environment": "production",
            "outcome": "PENDING", "decision": "APPROVE", "reason": "drops a table", "jti": "j-1" });
        let by = |action: &str| {
            event(AuditRecord::new(Actor::Member(MemberId::new()), action).details(details.clone()).actor_name("bob"))
                .summary()
        };
        assert_eq!(
            by("approval.requested"),
            "bob requested approval of infra/deploy run 42 (apply to production): PENDING"
        );
        assert_eq!(by("approval.vote_recorded"), "bob voted APPROVE on infra/deploy 42 with a security key");
        assert_eq!(by("approval.rejected"), "bob rejected infra/deploy run 42: drops a table");
        let system = event(AuditRecord::new(Actor::System, "approval.token_issued").details(details.clone()));
        assert_eq!(system.summary(), "Keyward issued approval token j-1");
    }

    #[test]
    fn failures_unnamed_actors_and_unknown_actions_still_read() {
        let failed = event(
            AuditRecord::new(Actor::Anonymous, "recovery_code.login").target("member:x").target_name("bob").failed(),
        );
        assert_eq!(failed.summary(), "Someone failed to log in with a recovery code");
        let system = event(
            AuditRecord::new(Actor::System, "member.role.changed")
                .target("member:x")
                .details(json!({ "from": "MEMBER", "to": "ADMIN" })),
        );
        assert_eq!(system.summary(), "Keyward changed the role of member:x from MEMBER to ADMIN");
        let member = MemberId::new();
        let unknown = event(AuditRecord::new(Actor::Member(member), "widget.frobbed").target("widget:1").failed());
        assert_eq!(unknown.summary(), format!("member:{member} widget.frobbed on widget:1 (failed)"));
        let revoked = event(
            AuditRecord::new(Actor::System, "member.sessions.revoked")
                .target_name("carol")
                .target("member:c")
                .details(json!({ "revokedSessions": 2 })),
        );
        assert_eq!(revoked.summary(), "Keyward ended 2 session(s) of carol");
    }
}
