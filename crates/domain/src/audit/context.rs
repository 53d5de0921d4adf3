//! What an event records beyond the change itself: the request that wrote it (cleaned, bounded)
//! and display-name snapshots of its actor and target, taken when it is written.

use super::{Actor, AuditRecord};
use crate::ids::{MemberId, OrgId, SecurityKeyId};

/// The longest user agent kept; longer ones are cut (clients choose it, the trail stores it).
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// The longest request ID kept.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

impl AuditRecord {
    /// Fills the user agent and request ID from `meta` where the record has none.
    pub fn with_request(mut self, meta: &RequestMeta) -> Self {
        if self.user_agent.is_none() {
            self.user_agent.clone_from(&meta.user_agent);
        }
        if self.request_id.is_none() {
            self.request_id.clone_from(&meta.request_id);
        }
        self
    }

    /// The member whose username the actor snapshot still needs, if any.
    pub fn unnamed_actor(&self) -> Option<MemberId> {
        match (&self.actor, &self.actor_name) {
            (Actor::Member(id), None) => Some(*id),
            _ => None,
        }
    }

    /// What the target snapshot still needs a name from, if anything.
    pub fn unnamed_target(&self) -> Option<NameSource> {
        if self.target_name.is_some() {
            return None;
        }
        NameSource::of_target(self.target.as_deref()?)
    }

    /// Uses `username` for the actor and target snapshots that refer to member `id` and are not
    /// named yet (for callers that read the member's row anyway).
    pub fn with_member_name(mut self, id: MemberId, username: &str) -> Self {
        if self.unnamed_actor() == Some(id) {
            self.actor_name = Some(username.to_owned());
        }
        if self.unnamed_target() == Some(NameSource::Member(id)) {
            self.target_name = Some(username.to_owned());
        }
        self
    }
}

/// A row whose display name an event's target snapshot takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSource {
    /// `member:<id>`: the username.
    Member(MemberId),
    /// `security_key:<id>`: the key's name.
    SecurityKey(SecurityKeyId),
    /// `org:<id>`: the organization's name.
    Organization(OrgId),
}

impl NameSource {
    /// The row a target string refers to; `None` for targets without a name (`oidc:<sub>`).
    pub fn of_target(target: &str) -> Option<Self> {
        let (kind, id) = target.split_once(':')?;
        match kind {
            "member" => id.parse().ok().map(Self::Member),
            "security_key" => id.parse().ok().map(Self::SecurityKey),
            "org" => id.parse().ok().map(Self::Organization),
            _ => None,
        }
    }
}

/// Where a request came from, as the audit trail records it. The HTTP layer derives it once per
/// request; both values are client-chosen, so they are cleaned and bounded here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// The request's ID.
    pub request_id: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

impl RequestMeta {
    /// Cleans both values: control characters dropped, surrounding space trimmed, length capped,
    /// empty values absent.
    pub fn new(request_id: Option<&str>, user_agent: Option<&str>) -> Self {
        Self {
            request_id: request_id.and_then(|v| clean(v, MAX_REQUEST_ID_CHARS)),
            user_agent: user_agent.and_then(|v| clean(v, MAX_USER_AGENT_CHARS)),
        }
    }
}

fn clean(value: &str, max_chars: usize) -> Option<String> {
    let cleaned: String = value.chars().filter(|c| !c.is_control()).collect();
    let cleaned: String = cleaned.trim().chars().take(max_chars).collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_context_is_cleaned_and_fills_only_what_is_missing() {
        let meta = RequestMeta::new(Some("  "), Some(&format!("Evil\u{7}\nAgent {}", "x".repeat(600))));
        assert_eq!(meta.request_id, None);
        let agent = meta.user_agent.clone().unwrap();
        assert!(agent.starts_with("EvilAgent x") && agent.chars().count() == MAX_USER_AGENT_CHARS, "{agent}");
        let meta = RequestMeta::new(Some("req-9"), None);
        let record = AuditRecord::new(Actor::System, "t").with_request(&meta);
        assert_eq!((record.request_id.as_deref(), record.user_agent.as_deref()), (Some("req-9"), None));
        let mut given = AuditRecord::new(Actor::System, "t");
        given.request_id = Some("from-caller".into());
        assert_eq!(given.with_request(&meta).request_id.as_deref(), Some("from-caller"));
    }

    #[test]
    fn name_snapshots_know_what_they_still_need() {
        let alice = MemberId::new();
        let key = SecurityKeyId::new();
        let record = AuditRecord::new(Actor::Member(alice), "t").target(format!("security_key:{key}"));
        assert_eq!(record.unnamed_actor(), Some(alice));
        assert_eq!(record.unnamed_target(), Some(NameSource::SecurityKey(key)));
        let named = record.with_member_name(alice, "alice");
        assert_eq!(
            (named.actor_name.as_deref(), named.unnamed_target()),
            (Some("alice"), Some(NameSource::SecurityKey(key)))
        );
        let own = AuditRecord::new(Actor::Member(alice), "t")
            .target(format!("member:{alice}"))
            .with_member_name(alice, "alice");
        assert_eq!((own.actor_name.as_deref(), own.target_name.as_deref()), (Some("alice"), Some("alice")));
        let org = OrgId::new();
        assert_eq!(NameSource::of_target(&format!("org:{org}")), Some(NameSource::Organization(org)));
        assert_eq!(NameSource::of_target("oidc:abc"), None);
        assert_eq!(NameSource::of_target("member:not-a-uuid"), None);
        assert_eq!(AuditRecord::new(Actor::System, "t").unnamed_actor(), None);
    }
}
