//! Actions and resources: their names, classes and how the policy sees them.

use serde::Serialize;
use serde_json::Value;

use crate::error::DomainError;

/// Longest action name accepted.
pub const MAX_ACTION_LEN: usize = 100;
/// Longest resource accepted.
pub const MAX_RESOURCE_LEN: usize = 300;

/// An action's class: the action without its last segment (`member.security_key.delete` →
/// `member.security_key`), so a class grant covers the sibling actions of one kind of thing.
pub fn class_of(action: &str) -> &str {
    action.rsplit_once('.').map_or(action, |(class, _)| class)
}

/// An action on a resource in words, for the person asked to touch their key.
pub fn describe(action: &str, resource: Option<&str>) -> String {
    let what = match action {
        "security_key.delete" => "Delete a security key",
        "security_key.rename" => "Rename a security key",
        "recovery_codes.generate" => "Generate new recovery codes",
        "sso.link" => "Link your account to the identity provider",
        "member.security_key.delete" => "Delete a member's security key",
        "member.sessions.revoke" => "End all sessions of a member",
        "member.deactivate" => "Deactivate a member",
        "member.reactivate" => "Reactivate a member",
        "org.mfa_enforcement.set" => "Change MFA enforcement for the organization",
        "org.sso.configure" => "Change the organization's SSO settings",
        "org.webauthn_policy.set" => "Change the organization's security-key policy",
        "org.step_up_policy.set" => "Change the organization's step-up policy",
        "backup_credentials.rotate" => "Rotate the organization's backup credentials",
        "cli.login" => "Sign in a terminal as you",
        other => return resource.map_or_else(|| format!("Perform {other}"), |r| format!("Perform {other} on {r}")),
    };
    match resource {
        Some(resource) if !resource.starts_with("org:") && !resource.starts_with("handoff:") => {
            format!("{what} ({resource})")
        }
        _ => what.to_owned(),
    }
}

/// Checks an action name: lowercase dotted words (`k8s.exec`, `db.restart`).
pub fn validate_action(action: &str) -> Result<(), DomainError> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.');
    if action.is_empty()
        || action.len() > MAX_ACTION_LEN
        || !action.chars().all(valid_char)
        || action.starts_with('.')
        || action.ends_with('.')
        || action.contains("..")
    {
        return Err(DomainError::bad_input(
            "action",
            "an action is 1 to 100 characters of lowercase letters, digits, '_', '-' and '.', such as k8s.exec",
        ));
    }
    Ok(())
}

/// Checks a resource string: printable, at most [`MAX_RESOURCE_LEN`] bytes.
pub fn validate_resource(resource: &str) -> Result<(), DomainError> {
    if resource.len() > MAX_RESOURCE_LEN || resource.chars().any(char::is_control) {
        return Err(DomainError::bad_input("resource", "a resource is at most 300 printable characters"));
    }
    Ok(())
}

/// A resource as the policy sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceView {
    /// `security_key` for `security_key:<id>`; empty when the resource names no type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource as given, or the part after `type:`.
    pub id: String,
    /// `prod` for `prod/cluster-a`; empty otherwise.
    pub environment: String,
    /// Labels given with the request (forward auth `label.<name>=<value>`).
    pub labels: serde_json::Map<String, Value>,
}

impl ResourceView {
    /// Splits `type:id` and `environment/name` resources.
    pub fn parse(resource: Option<&str>, labels: serde_json::Map<String, Value>) -> ResourceView {
        let resource = resource.unwrap_or_default();
        let (kind, id) = match resource.split_once(':') {
            Some((kind, id)) if !kind.is_empty() && !kind.contains('/') => (kind.to_owned(), id.to_owned()),
            _ => (String::new(), resource.to_owned()),
        };
        let environment = match resource.split_once('/') {
            Some((env, _)) if kind.is_empty() => env.to_owned(),
            _ => String::new(),
        };
        ResourceView { kind, id, environment, labels }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_is_the_action_without_its_last_segment() {
        assert_eq!(class_of("security_key.delete"), "security_key");
        assert_eq!(class_of("member.security_key.delete"), "member.security_key");
        assert_eq!(class_of("deploy"), "deploy");
    }

    #[test]
    fn actions_are_lowercase_dotted_words() {
        for good in ["k8s.exec", "db.restart", "org.step_up_policy.set", "a-b"] {
            assert!(validate_action(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(MAX_ACTION_LEN + 1);
        for bad in ["", "K8s.exec", ".exec", "exec.", "a..b", "a b", "a/b", too_long.as_str()] {
            assert!(validate_action(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resources_refuse_control_characters_and_length() {
        assert!(validate_resource("prod/cluster-a").is_ok());
        assert!(validate_resource("a\\nb").is_ok(), "a backslash is printable");
        assert!(validate_resource("a\nb").is_err());
        assert!(validate_resource(&"r".repeat(MAX_RESOURCE_LEN + 1)).is_err());
    }

    #[test]
    fn typed_and_environment_resources_are_split() {
        let key = ResourceView::parse(Some("security_key:0194"), Default::default());
        assert_eq!((key.kind.as_str(), key.id.as_str(), key.environment.as_str()), ("security_key", "0194", ""));
        let cluster = ResourceView::parse(Some("prod/cluster-a"), Default::default());
        assert_eq!(
            (cluster.kind.as_str(), cluster.id.as_str(), cluster.environment.as_str()),
            ("", "prod/cluster-a", "prod")
        );
        let none = ResourceView::parse(None, Default::default());
        assert_eq!((none.kind.as_str(), none.id.as_str()), ("", ""));
        let url = ResourceView::parse(Some("prod/db:5432"), Default::default());
        assert_eq!((url.kind.as_str(), url.environment.as_str()), ("", "prod"));
    }
}
