//! The compact hash encoding of a session in Redis (a few hundred bytes, listpack-encoded).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::member::Role;
use keyward_domain::session::{AuthMethod, Session, SessionStage, TokenHash};

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

/// The session's fields, without the epochs (the scripts stamp those).
pub fn encode(session: &Session) -> Vec<(&'static str, String)> {
    vec![
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
    ]
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
        let mut list: Vec<String> = encode(&session).into_iter().flat_map(|(k, v)| [k.to_owned(), v]).collect();
        list.extend(["oe".into(), "4".into(), "me".into(), "2".into(), "ke".into(), "1".into()]);
        let decoded = decode(session.org_id, &session.token_hash, list).unwrap();
        assert_eq!(decoded, session);
    }
}
