//! What Keyward remembers of a member's IdP groups, and the rule it serves: an admin-group
//! setting must not demote every admin at their next SSO login (then nobody could undo it).
//!
//! The groups are the ID token's group-like claims (string or string-list values, identity claims
//! left out), kept from each member's last SSO login or test sign-in, bounded in size.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::member::Role;
use crate::repo::SsoConfig;

/// Group-like claims: claim name → values.
pub type GroupClaims = BTreeMap<String, Vec<String>>;

/// Claims that name the person or the token rather than groups: never kept.
const IDENTITY_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
    "sid",
    "acr",
    "amr",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];
const MAX_CLAIMS: usize = 20;
const MAX_VALUES: usize = 50;
const MAX_CHARS: usize = 200;

/// The group-like claims of an ID token's payload, bounded (20 claims of 50 values of 200
/// characters at most).
pub fn group_claims(claims: &Value) -> GroupClaims {
    let Some(object) = claims.as_object() else { return GroupClaims::new() };
    let cut = |s: &str| s.chars().take(MAX_CHARS).collect::<String>();
    object
        .iter()
        .filter(|(name, _)| !IDENTITY_CLAIMS.contains(&name.as_str()) && name.chars().count() <= MAX_CHARS)
        .filter_map(|(name, value)| {
            let values: Vec<String> = match value {
                Value::String(s) => vec![cut(s)],
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    items.iter().filter_map(Value::as_str).take(MAX_VALUES).map(cut).collect()
                }
                _ => return None,
            };
            Some((name.clone(), values))
        })
        .take(MAX_CLAIMS)
        .collect()
}

/// An active admin as the admin-group check sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminGroups {
    /// Their username, for the message.
    pub username: String,
    /// They log in through SSO (their role follows the IdP's groups there).
    pub sso_linked: bool,
    /// Their groups from their last SSO login or test sign-in, when known.
    pub groups: Option<GroupClaims>,
}

/// Why `config` must not be saved, or `None`: refused when it names an admin group and no active
/// admin is known to keep the role at their next login. Admins who never log in with SSO keep
/// their role; SSO admins keep it only when their recorded groups contain the admin group.
pub fn admin_group_refusal(config: &SsoConfig, admins: &[AdminGroups]) -> Option<String> {
    let (Some(claim), Some(value)) = (&config.admin_group_claim, &config.admin_group_value) else {
        return None;
    };
    let stays_admin = |admin: &AdminGroups| {
        !admin.sso_linked
            || admin.groups.as_ref().is_some_and(|groups| {
                config.role_from_claims(&serde_json::to_value(groups).unwrap_or(Value::Null)) == Some(Role::Admin)
            })
    };
    if admins.is_empty() || admins.iter().any(stays_admin) {
        return None;
    }
    Some(format!(
        "no admin is known to be in group \"{value}\" of claim \"{claim}\", so every admin would become a member at \
         their next SSO login: use Test sign-in as an admin in that group first, or check the group's name"
    ))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    #[test]
    fn only_group_like_claims_are_kept_and_bounded() {
        let long: Vec<String> = (0..80).map(|i| format!("g{i}")).collect();
        let claims = json!({
            "sub": "123", "email": "a@example.com", "name": "Ada",
            "groups": ["sre", "keyward-admins"], "role": "admin", "roles": long,
            "mixed": ["a", 1], "nested": { "x": ["y"] }, "level": 3,
        });
        let kept = group_claims(&claims);
        assert_eq!(kept.keys().collect::<Vec<_>>(), vec!["groups", "role", "roles"]);
        assert_eq!(kept["role"], vec!["admin"]);
        assert_eq!(kept["roles"].len(), MAX_VALUES);
        assert!(group_claims(&json!("not an object")).is_empty());
    }

    fn config(claim: Option<&str>, value: Option<&str>) -> SsoConfig {
        SsoConfig {
            issuer: "https://idp.example.com".into(),
            client_id: "keyward".into(),
            client_secret: "sealed".into(),
            scopes: vec![],
            admin_group_claim: claim.map(Into::into),
            admin_group_value: value.map(Into::into),
            allowed_email_domains: vec![],
            updated_at: Utc::now(),
        }
    }

    fn admin(sso_linked: bool, groups: Option<Value>) -> AdminGroups {
        AdminGroups { username: "ada".into(), sso_linked, groups: groups.map(|g| group_claims(&g)) }
    }

    #[test]
    fn an_admin_group_that_no_admin_is_in_is_refused() {
        let admins_group = config(Some("groups"), Some("keyward-admins"));
        let in_group = admin(true, Some(json!({ "groups": ["keyward-admins"] })));
        let outside = admin(true, Some(json!({ "groups": ["sre"] })));
        let unknown = admin(true, None);
        assert_eq!(admin_group_refusal(&admins_group, &[outside.clone(), in_group]), None);
        let refusal = admin_group_refusal(&admins_group, &[outside.clone(), unknown.clone()]).expect("refused");
        assert!(refusal.contains("keyward-admins") && refusal.contains("Test sign-in"), "{refusal}");
        assert_eq!(admin_group_refusal(&admins_group, &[unknown, admin(false, None)]), None, "backup-only admins stay");
        assert_eq!(
            admin_group_refusal(&config(None, None), std::slice::from_ref(&outside)),
            None,
            "no admin group, no demotion"
        );
        let wrong_claim = config(Some("roles"), Some("keyward-admins"));
        assert!(
            admin_group_refusal(&wrong_claim, &[admin(true, Some(json!({ "groups": ["keyward-admins"] })))]).is_some()
        );
    }
}
