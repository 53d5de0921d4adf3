//! The policy's input: everything a step-up policy may look at, built from the session and the
//! request alone (no lookups on the request path).

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::action::ResourceView;
use crate::session::{AuthMethod, Session};

/// What the policy sees of the request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// The client's address.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// The input document of a step-up policy (the contract in the README).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyInput(pub Value);

fn method_name(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::Sso => "sso",
        AuthMethod::BackupCredentials => "backup_credentials",
        AuthMethod::RecoveryCode => "recovery_code",
        AuthMethod::SecurityKey => "security_key",
    }
}

impl PolicyInput {
    /// The input for `session` asking to do `action` on `resource` at `now`. `key_model` is the
    /// verified model name of the key the session's login used, when known.
    pub fn new(
        session: &Session,
        action: &str,
        resource: &ResourceView,
        request: &RequestFacts,
        key_model: Option<&str>,
        now: DateTime<Utc>,
    ) -> PolicyInput {
        let facts = &session.facts;
        let key = facts.key.as_ref().map(|key| {
            json!({
                "aaguid": key.aaguid.map(|a| a.to_string()),
                "model": key_model,
                "backup_eligible": key.backup_eligible,
                "backup_state": key.backup_state,
                "user_verified": key.user_verified,
            })
        });
        let id_hash = hex::encode(&Sha256::digest(session.token_hash.key().as_bytes())[..8]);
        let ip_changed = match (&facts.login_ip, &request.ip) {
            (Some(login), Some(now)) => login != now,
            _ => false,
        };
        PolicyInput(json!({
            "action": action,
            "resource": resource,
            "principal": {
                "id": session.member_id.to_string(),
                "username": facts.username,
                "role": session.role.as_str(),
                "groups": facts.groups,
            },
            "session": {
                "id_hash": id_hash,
                "age_seconds": (now - session.created_at).num_seconds().max(0),
                "mfa_age_seconds": session.mfa_age(now).map(|age| age.num_seconds().max(0)),
                "methods": session.methods.iter().map(|m| method_name(*m)).collect::<Vec<_>>(),
                "key": key,
            },
            "request": {
                "time": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "weekday": now.weekday().to_string(),
                "ip": request.ip,
                "user_agent": request.user_agent,
                "ip_changed_since_login": ip_changed,
            },
        }))
    }

    /// A representative input for `action`, to check a policy against on save and to prefill
    /// `policyEvaluate`.
    pub fn sample(action: &str, role: &str, mfa_age_seconds: Option<i64>) -> PolicyInput {
        PolicyInput(json!({
            "action": action,
            "resource": {"type": "", "id": "prod/cluster-a", "environment": "prod", "labels": {}},
            "principal": {"id": "00000000-0000-0000-0000-000000000000", "username": "alice", "role": role, "groups": ["platform"]},
            "session": {
                "id_hash": "0011223344556677",
                "age_seconds": 3600,
                "mfa_age_seconds": mfa_age_seconds,
                "methods": ["sso", "security_key"],
                "key": {"aaguid": null, "model": null, "backup_eligible": false, "backup_state": false, "user_verified": true},
            },
            "request": {
                "time": "2026-11-27T16:30:00Z",
                "weekday": "Fri",
                "ip": "192.0.2.10",
                "user_agent": "keyward-sample",
                "ip_changed_since_login": false,
            },
        }))
    }

    /// The sample inputs a policy must evaluate cleanly on save: every built-in action, a tool
    /// action, for admins and members, with and without a key touch.
    pub fn samples() -> Vec<PolicyInput> {
        let actions = [
            "security_key.delete",
            "member.security_key.delete",
            "org.mfa_enforcement.set",
            "backup_credentials.rotate",
            "k8s.exec",
        ];
        let mut samples = Vec::new();
        for action in actions {
            for role in ["ADMIN", "MEMBER"] {
                for age in [None, Some(30)] {
                    samples.push(PolicyInput::sample(action, role, age));
                }
            }
        }
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MemberId, OrgId};
    use crate::member::Role;
    use crate::session::{KeyFacts, NewSession, SessionFacts, SessionLifetimes, SessionStage, TokenHash};
    use chrono::Duration;

    #[test]
    fn the_input_follows_the_contract() {
        let now = Utc::now();
        let mut session = NewSession {
            token_hash: TokenHash("hash".into()),
            org_id: OrgId::new(),
            member_id: MemberId::new(),
            role: Role::Admin,
            stage: SessionStage::Authenticated,
            methods: vec![AuthMethod::Sso, AuthMethod::SecurityKey],
            grace_period_ends_at: None,
            facts: SessionFacts {
                username: "alice".into(),
                groups: vec!["platform".into()],
                login_ip: Some("192.0.2.1".into()),
                device: None,
                key: Some(KeyFacts { aaguid: None, backup_eligible: true, backup_state: false, user_verified: true }),
            },
        }
        .start(
            now - Duration::seconds(120),
            SessionLifetimes { absolute: Duration::hours(1), idle: Duration::hours(1), pending: Duration::minutes(5) },
            Default::default(),
        );
        session.mfa_verified_at = Some(now - Duration::seconds(90));
        let request = RequestFacts { ip: Some("198.51.100.7".into()), user_agent: Some("curl/8".into()) };
        let resource = ResourceView::parse(Some("prod/cluster-a"), Default::default());
        let PolicyInput(input) = PolicyInput::new(&session, "k8s.exec", &resource, &request, Some("YubiKey 5"), now);
        assert_eq!(input["action"], "k8s.exec");
        assert_eq!(input["resource"]["environment"], "prod");
        assert_eq!(input["principal"]["username"], "alice");
        assert_eq!(input["principal"]["role"], "ADMIN");
        assert_eq!(input["principal"]["groups"][0], "platform");
        assert_eq!(input["session"]["age_seconds"], 120);
        assert_eq!(input["session"]["mfa_age_seconds"], 90);
        assert_eq!(input["session"]["methods"], serde_json::json!(["sso", "security_key"]));
        assert_eq!(input["session"]["key"]["model"], "YubiKey 5");
        assert_eq!(input["session"]["key"]["backup_eligible"], true);
        assert_eq!(input["session"]["id_hash"].as_str().unwrap().len(), 16);
        assert_eq!(input["request"]["ip_changed_since_login"], true);
        assert_eq!(input["request"]["user_agent"], "curl/8");
        assert_eq!(input["request"]["weekday"].as_str().unwrap().len(), 3);
    }

    #[test]
    fn samples_cover_members_admins_and_sessions_without_a_touch() {
        let samples = PolicyInput::samples();
        assert!(
            samples
                .iter()
                .any(|PolicyInput(s)| s["principal"]["role"] == "MEMBER" && s["session"]["mfa_age_seconds"].is_null())
        );
        assert!(samples.iter().any(|PolicyInput(s)| s["action"] == "k8s.exec"));
    }
}
