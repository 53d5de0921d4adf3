//! Settings that can lock people out are previewed and refused before they apply: what a WebAuthn
//! policy change touches, and whether it would leave the acting admin, or every admin, without a
//! key it accepts.

use crate::ids::MemberId;
use crate::webauthn_policy::WebauthnPolicy;

/// One field a policy change touches, with both values as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// The API's name of the field (`userVerification`).
    pub field: &'static str,
    /// The stored value.
    pub from: String,
    /// The new value.
    pub to: String,
}

fn list(ids: &[uuid::Uuid]) -> String {
    if ids.is_empty() { "none".to_owned() } else { ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ") }
}

/// The fields that differ between `from` and `to`, in the order the settings page shows them.
pub fn policy_changes(from: &WebauthnPolicy, to: &WebauthnPolicy) -> Vec<FieldChange> {
    let upper = |v: &dyn std::fmt::Debug| format!("{v:?}").to_uppercase();
    let fields = [
        ("userVerification", upper(&from.user_verification), upper(&to.user_verification)),
        ("attestation", upper(&from.attestation), upper(&to.attestation)),
        ("allowedAaguids", list(&from.allowed_aaguids), list(&to.allowed_aaguids)),
        ("deniedAaguids", list(&from.denied_aaguids), list(&to.denied_aaguids)),
        ("deviceBoundOnly", from.device_bound_only.to_string(), to.device_bound_only.to_string()),
        ("ceremonyTimeoutSeconds", from.ceremony_timeout_seconds.to_string(), to.ceremony_timeout_seconds.to_string()),
        (
            "rejectCounterRegression",
            from.reject_counter_regression.to_string(),
            to.reject_counter_regression.to_string(),
        ),
    ];
    fields.into_iter().filter(|(_, a, b)| a != b).map(|(field, from, to)| FieldChange { field, from, to }).collect()
}

/// An active admin as a lock-out check sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminKeys {
    /// The admin.
    pub member: MemberId,
    /// They have at least one key.
    pub has_keys: bool,
    /// The new setting refuses every one of their keys.
    pub all_refused: bool,
}

/// Why a setting must not be saved, or `None`: refused when it would take away every accepted key
/// of the acting admin, or of every admin who has keys (then nobody could log in to undo it).
pub fn lockout_refusal(actor: MemberId, admins: &[AdminKeys]) -> Option<String> {
    let locked_out = |a: &&AdminKeys| a.has_keys && a.all_refused;
    if admins.iter().filter(|a| a.member == actor).any(|a| locked_out(&a)) {
        return Some(
            "this policy refuses every one of your security keys, so you could not log in again: register a key it \
             accepts first"
                .into(),
        );
    }
    let with_keys: Vec<&AdminKeys> = admins.iter().filter(|a| a.has_keys).collect();
    if !with_keys.is_empty() && with_keys.iter().all(locked_out) {
        return Some("this policy refuses every key of every admin, so no admin could log in to change it back".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webauthn_policy::UserVerification;

    #[test]
    fn only_changed_fields_are_listed() {
        let from = WebauthnPolicy::default();
        assert!(policy_changes(&from, &from).is_empty());
        let model: uuid::Uuid = "ee882879-721c-4913-9775-3dfcce97072a".parse().unwrap();
        let to = WebauthnPolicy {
            user_verification: UserVerification::Required,
            allowed_aaguids: vec![model],
            ceremony_timeout_seconds: 60,
            ..from.clone()
        };
        let changes = policy_changes(&from, &to);
        let summary: Vec<_> = changes.iter().map(|c| (c.field, c.from.as_str(), c.to.as_str())).collect();
        assert_eq!(
            summary,
            vec![
                ("userVerification", "PREFERRED", "REQUIRED"),
                ("allowedAaguids", "none", "ee882879-721c-4913-9775-3dfcce97072a"),
                ("ceremonyTimeoutSeconds", "300", "60"),
            ]
        );
    }

    fn admin(has_keys: bool, all_refused: bool) -> AdminKeys {
        AdminKeys { member: MemberId::new(), has_keys, all_refused }
    }

    #[test]
    fn the_acting_admin_is_never_locked_out() {
        let me = admin(true, true);
        let other = admin(true, false);
        let refusal = lockout_refusal(me.member, &[me, other]).expect("refused");
        assert!(refusal.contains("your security keys"), "{refusal}");
        let fine = admin(true, false);
        assert_eq!(lockout_refusal(fine.member, &[fine, admin(true, true)]), None, "another admin may lose keys");
    }

    #[test]
    fn not_every_admin_may_be_locked_out() {
        let me = admin(false, false);
        let refusal = lockout_refusal(me.member, &[me, admin(true, true), admin(true, true)]).expect("refused");
        assert!(refusal.contains("every admin"), "{refusal}");
        assert_eq!(lockout_refusal(me.member, &[me, admin(true, true), admin(true, false)]), None);
        assert_eq!(lockout_refusal(me.member, &[me]), None, "no admin has a key: the policy takes nothing away");
    }
}
