//! The compact hash encoding of a session in Redis (a few hundred bytes, listpack-encoded).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::member::Role;
use keyward_domain::session::{AuthMethod, KeyFacts, Session, SessionFacts, SessionStage, TokenHash};
use keyward_domain::step_up::{Grant, GrantScope};

fn role_code(role: Role) -> &'static str {
    match role {
        Role::Admin => "A",
        Role::Member => "M",
    }
}

fn stage_code(stage: SessionStage) -> &'static str {
    match stage {
        SessionStage::MfaRequired => "R",
        SessionStage::MfaRegistrationRequired => "G",
        SessionStage::Authenticated => "A",
    }
}

fn method_code(method: AuthMethod) -> char {
    match method {
        AuthMethod::Sso => 'S',
        AuthMethod::BackupCredentials => 'B',
        AuthMethod::RecoveryCode => 'C',
        AuthMethod::SecurityKey => 'K',
    }
}

fn ms(at: DateTime<Utc>) -> String {
    at.timestamp_millis().to_string()
}

fn opt_ms(at: Option<DateTime<Utc>>) -> String {
    at.map(ms).unwrap_or_default()
}

/// The session's fields, without the epochs (the scripts stamp those). Optional facts are left
/// out when empty, so a session costs only what it uses.
pub fn encode(session: &Session) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("m", session.member_id.0.simple().to_string()),
        ("r", role_code(session.role).to_owned()),
        ("st", stage_code(session.stage).to_owned()),
        ("mt", session.methods.iter().copied().map(method_code).collect()),
        ("c", ms(session.created_at)),
        ("ls", ms(session.last_seen_at)),
        ("ab", ms(session.absolute_expires_at)),
        ("it", session.idle_timeout_secs.to_string()),
        ("mv", opt_ms(session.mfa_verified_at)),
        ("k", session.key_id.map(|k| k.0.simple().to_string()).unwrap_or_default()),
        ("g", opt_ms(session.grace_period_ends_at)),
    ];
    let facts = &session.facts;
    if !facts.username.is_empty() {
        fields.push(("u", facts.username.clone()));
    }
    if !facts.groups.is_empty() {
        fields.push(("gp", serde_json::Value::from(facts.groups.clone()).to_string()));
    }
    if let Some(ip) = &facts.login_ip {
        fields.push(("ip", ip.clone()));
    }
    if let Some(device) = &facts.device {
        fields.push(("dv", device.clone()));
    }
    if let Some(key) = &facts.key {
        fields.push(("kf", encode_key_facts(key)));
    }
    if !session.grants.is_empty() {
        fields.push(("gr", encode_grants(&session.grants)));
    }
    fields
}

fn encode_key_facts(key: &KeyFacts) -> String {
    let aaguid = key.aaguid.map(|a| a.simple().to_string()).unwrap_or_default();
    let flags: String = [(key.backup_eligible, 'E'), (key.backup_state, 'B'), (key.user_verified, 'U')]
        .into_iter()
        .filter_map(|(set, flag)| set.then_some(flag))
        .collect();
    format!("{aaguid},{flags}")
}

fn decode_key_facts(text: &str) -> Result<KeyFacts, StoreError> {
    let (aaguid, flags) = text.split_once(',').ok_or_else(|| corrupt("kf"))?;
    Ok(KeyFacts {
        aaguid: match aaguid {
            "" => None,
            a => Some(a.parse().map_err(|_| corrupt("kf"))?),
        },
        backup_eligible: flags.contains('E'),
        backup_state: flags.contains('B'),
        user_verified: flags.contains('U'),
    })
}

/// Grants as a compact JSON array of `[kind, name, resource, touched ms, expires ms]`.
fn encode_grants(grants: &[Grant]) -> String {
    let rows: Vec<serde_json::Value> = grants
        .iter()
        .map(|g| {
            let (kind, name) = match &g.scope {
                GrantScope::Action(action) => ("a", action),
                GrantScope::Class(class) => ("c", class),
            };
            serde_json::json!([
                kind,
                name,
                g.resource,
                g.touched_at.timestamp_millis(),
                g.expires_at.timestamp_millis()
            ])
        })
        .collect();
    serde_json::Value::from(rows).to_string()
}

fn decode_grants(text: &str) -> Result<Vec<Grant>, StoreError> {
    type Row = (String, String, Option<String>, i64, i64);
    let rows: Vec<Row> = serde_json::from_str(text).map_err(|_| corrupt("gr"))?;
    rows.into_iter()
        .map(|(kind, name, resource, touched, expires)| {
            let scope = match kind.as_str() {
                "a" => GrantScope::Action(name),
                "c" => GrantScope::Class(name),
                _ => return Err(corrupt("gr")),
            };
            let time = |ms| DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt("gr"));
            Ok(Grant { scope, resource, touched_at: time(touched)?, expires_at: time(expires)? })
        })
        .collect()
}

fn corrupt(field: &str) -> StoreError {
    StoreError::Unexpected(format!("corrupt session field {field:?} in Redis"))
}

struct Fields(HashMap<String, String>);

impl Fields {
    fn get(&self, name: &str) -> Result<&str, StoreError> {
        self.0.get(name).map(String::as_str).ok_or_else(|| corrupt(name))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.get(name)?.parse().map_err(|_| corrupt(name))
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        DateTime::from_timestamp_millis(self.number(name)?).ok_or_else(|| corrupt(name))
    }

    fn opt_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.get(name)? {
            "" => Ok(None),
            _ => self.time(name).map(Some),
        }
    }
}

/// Rebuilds a session from the flat field/value list a script returned.
pub fn decode(org_id: OrgId, token_hash: &TokenHash, list: Vec<String>) -> Result<Session, StoreError> {
    let mut map = HashMap::with_capacity(list.len() / 2);
    let mut items = list.into_iter();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        map.insert(k, v);
    }
    let f = Fields(map);
    let role = match f.get("r")? {
        "A" => Role::Admin,
        "M" => Role::Member,
        _ => return Err(corrupt("r")),
    };
    let stage = match f.get("st")? {
        "R" => SessionStage::MfaRequired,
        "G" => SessionStage::MfaRegistrationRequired,
        "A" => SessionStage::Authenticated,
        _ => return Err(corrupt("st")),
    };
    let methods = f
        .get("mt")?
        .chars()
        .map(|c| match c {
            'S' => Ok(AuthMethod::Sso),
            'B' => Ok(AuthMethod::BackupCredentials),
            'C' => Ok(AuthMethod::RecoveryCode),
            'K' => Ok(AuthMethod::SecurityKey),
            _ => Err(corrupt("mt")),
        })
        .collect::<Result<_, _>>()?;
    let key_id = match f.get("k")? {
        "" => None,
        k => Some(SecurityKeyId(k.parse().map_err(|_| corrupt("k"))?)),
    };
    Ok(Session {
        token_hash: token_hash.clone(),
        org_id,
        member_id: MemberId(f.get("m")?.parse().map_err(|_| corrupt("m"))?),
        role,
        stage,
        methods,
        created_at: f.time("c")?,
        last_seen_at: f.time("ls")?,
        absolute_expires_at: f.time("ab")?,
        idle_timeout_secs: f.number("it")?,
        mfa_verified_at: f.opt_time("mv")?,
        key_id,
        grace_period_ends_at: f.opt_time("g")?,
        org_epoch: f.number("oe")?,
        member_epoch: f.number("me")?,
        // Sessions written before the keyless epoch existed carry none: they belong to epoch 0.
        keyless_epoch: match f.0.get("ke") {
            Some(_) => f.number("ke")?,
            None => 0,
        },
        // Sessions written before step-up carry none of these: they read as empty.
        facts: SessionFacts {
            username: f.0.get("u").cloned().unwrap_or_default(),
            groups: match f.0.get("gp") {
                Some(text) => serde_json::from_str(text).map_err(|_| corrupt("gp"))?,
                None => Vec::new(),
            },
            login_ip: f.0.get("ip").cloned(),
            device: f.0.get("dv").cloned(),
            key: f.0.get("kf").map(|text| decode_key_facts(text)).transpose()?,
        },
        grants: f.0.get("gr").map(|text| decode_grants(text)).transpose()?.unwrap_or_default(),
        policy_version: f.0.get("pv").map(|v| v.parse().map_err(|_| corrupt("pv"))).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, SubsecRound};
    use keyward_domain::session::{NewSession, SessionLifetimes};

    #[test]
    fn sessions_survive_the_encoding() {
        let now = Utc::now().trunc_subsecs(3);
        let mut session = NewSession {
            token_hash: TokenHash("abc".into()),
            org_id: OrgId::new(),
            member_id: MemberId::new(),
            role: Role::Admin,
            stage: SessionStage::MfaRequired,
            methods: vec![AuthMethod::BackupCredentials, AuthMethod::SecurityKey],
            grace_period_ends_at: Some(now + Duration::days(2)),
            facts: Default::default(),
        }
        .start(
            now,
            SessionLifetimes {
                absolute: Duration::hours(12),
                idle: Duration::minutes(30),
                pending: Duration::minutes(10),
            },
            keyward_domain::session::Epochs { org: 4, member: 2, keyless: 1 },
        );
        session.mfa_verified_at = Some(now);
        session.key_id = Some(SecurityKeyId::new());
        session.facts = SessionFacts {
            username: "alice".into(),
            groups: vec!["platform".into(), "on,call".into()],
            login_ip: Some("2001:db8::1".into()),
            device: Some("Firefox 133 on Linux".into()),
            key: Some(KeyFacts {
                aaguid: Some(uuid::Uuid::new_v4()),
                backup_eligible: true,
                backup_state: false,
                user_verified: true,
            }),
        };
        session.grants = vec![
            Grant {
                scope: GrantScope::Action("k8s.exec".into()),
                resource: Some("prod/a,\"b\"".into()),
                touched_at: now,
                expires_at: now + Duration::minutes(5),
            },
            Grant { scope: GrantScope::Class("security_key".into()), resource: None, touched_at: now, expires_at: now },
        ];
        let mut list: Vec<String> = encode(&session).into_iter().flat_map(|(k, v)| [k.to_owned(), v]).collect();
        list.extend(["oe".into(), "4".into(), "me".into(), "2".into(), "ke".into(), "1".into()]);
        let decoded = decode(session.org_id, &session.token_hash, list.clone()).unwrap();
        assert_eq!(decoded, session);
        // During a rolling upgrade an older instance reads sessions a newer one wrote: a field it
        // does not know is skipped, never an error.
        let mut newer = list.clone();
        newer.extend(["zz".into(), "a field from a later version".into()]);
        assert_eq!(decode(session.org_id, &session.token_hash, newer).unwrap(), session);
        list.extend(["pv".into(), "7".into()]);
        assert_eq!(decode(session.org_id, &session.token_hash, list).unwrap().policy_version, Some(7));
    }

    #[test]
    fn sessions_written_before_step_up_read_with_empty_facts() {
        let list: Vec<String> = [
            ("m", MemberId::new().0.simple().to_string()),
            ("r", "M".into()),
            ("st", "A".into()),
            ("mt", "S".into()),
            ("c", "1".into()),
            ("ls", "1".into()),
            ("ab", "2".into()),
            ("it", "60".into()),
            ("mv", String::new()),
            ("k", String::new()),
            ("g", String::new()),
            ("oe", "0".into()),
            ("me", "0".into()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_owned(), v])
        .collect();
        let session = decode(OrgId::new(), &TokenHash("h".into()), list).unwrap();
        assert_eq!((session.facts, session.grants, session.policy_version), (SessionFacts::default(), vec![], None));
    }
}
