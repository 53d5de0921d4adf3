//! The session record in Redis: one string of `|`-separated fields (about 150 bytes), read by the
//! scripts without parsing the facts only Rust needs.

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

/// A session's record without the epochs (the scripts stamp those): the fields the scripts read,
/// then the rest as one `tail` of `|`-separated fields the scripts keep as they are.
pub struct Record {
    /// Last seen, ms.
    pub ls: String,
    /// Idle timeout, s.
    pub it: String,
    /// Absolute expiry, ms.
    pub ab: String,
    /// The member (simple UUID).
    pub m: String,
    /// The key that confirmed the session (simple UUID), or empty.
    pub k: String,
    /// `r|st|mt|c|mv|g|u|gp|ip|dv|kf|gr`: empty when a fact is unknown; text escaped (see [`escape`]).
    pub tail: String,
}

/// Record layout version 2: `2|m|oe|me|ke|ls|it|ab|k|r|st|mt|c|mv|g|u|gp|ip|dv|kf|gr`: the member
/// first, so a purge reads it with the shortest match.
const VERSION: &str = "2";
/// Fields before the tail, the version included.
const HEAD: usize = 9;

/// `%` and `|` as `%25` and `%7C`, so free text cannot split a record.
fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['%', '|']) { text.replace('%', "%25").replace('|', "%7C").into() } else { text.into() }
}

fn unescape(text: &str) -> String {
    if text.contains('%') { text.replace("%7C", "|").replace("%25", "%") } else { text.to_owned() }
}

/// The session as a record (see [`Record`]); optional facts cost one separator when empty.
pub fn encode(session: &Session) -> Record {
    let facts = &session.facts;
    let groups =
        if facts.groups.is_empty() { String::new() } else { serde_json::Value::from(facts.groups.clone()).to_string() };
    let grants = if session.grants.is_empty() { String::new() } else { encode_grants(&session.grants) };
    let methods: String = session.methods.iter().copied().map(method_code).collect();
    let tail = [
        role_code(session.role),
        stage_code(session.stage),
        &methods,
        &ms(session.created_at),
        &opt_ms(session.mfa_verified_at),
        &opt_ms(session.grace_period_ends_at),
        &escape(&facts.username),
        &escape(&groups),
        &escape(facts.login_ip.as_deref().unwrap_or_default()),
        &escape(facts.device.as_deref().unwrap_or_default()),
        &facts.key.as_ref().map(encode_key_facts).unwrap_or_default(),
        &escape(&grants),
    ]
    .join("|");
    Record {
        ls: ms(session.last_seen_at),
        it: session.idle_timeout_secs.to_string(),
        ab: ms(session.absolute_expires_at),
        m: session.member_id.0.simple().to_string(),
        k: session.key_id.map(|k| k.0.simple().to_string()).unwrap_or_default(),
        tail,
    }
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

fn number<T: std::str::FromStr>(text: &str, name: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| corrupt(name))
}

fn time(text: &str, name: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(number(text, name)?).ok_or_else(|| corrupt(name))
}

fn opt_time(text: &str, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    if text.is_empty() { Ok(None) } else { time(text, name).map(Some) }
}

fn opt_text(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| unescape(text))
}

/// Rebuilds a session from its record (as a script returned it, epochs included) and the
/// organization's step-up policy version. Fields after the last known one (a later version's)
/// are skipped, never an error.
pub fn decode(
    org_id: OrgId,
    token_hash: &TokenHash,
    record: &str,
    policy_version: Option<u64>,
) -> Result<Session, StoreError> {
    let f: Vec<&str> = record.split('|').collect();
    if f.len() < HEAD + 12 || f[0] != VERSION {
        return Err(corrupt("record"));
    }
    let role = match f[HEAD] {
        "A" => Role::Admin,
        "M" => Role::Member,
        _ => return Err(corrupt("r")),
    };
    let stage = match f[HEAD + 1] {
        "R" => SessionStage::MfaRequired,
        "G" => SessionStage::MfaRegistrationRequired,
        "A" => SessionStage::Authenticated,
        _ => return Err(corrupt("st")),
    };
    let methods = f[HEAD + 2]
        .chars()
        .map(|c| match c {
            'S' => Ok(AuthMethod::Sso),
            'B' => Ok(AuthMethod::BackupCredentials),
            'C' => Ok(AuthMethod::RecoveryCode),
            'K' => Ok(AuthMethod::SecurityKey),
            _ => Err(corrupt("mt")),
        })
        .collect::<Result<_, _>>()?;
    let key_id = match f[8] {
        "" => None,
        k => Some(SecurityKeyId(k.parse().map_err(|_| corrupt("k"))?)),
    };
    let groups = match f[HEAD + 7] {
        "" => Vec::new(),
        text => serde_json::from_str(&unescape(text)).map_err(|_| corrupt("gp"))?,
    };
    let grants = match f[HEAD + 11] {
        "" => Vec::new(),
        text => decode_grants(&unescape(text))?,
    };
    Ok(Session {
        token_hash: token_hash.clone(),
        org_id,
        member_id: MemberId(f[1].parse().map_err(|_| corrupt("m"))?),
        role,
        stage,
        methods,
        created_at: time(f[HEAD + 3], "c")?,
        last_seen_at: time(f[5], "ls")?,
        absolute_expires_at: time(f[7], "ab")?,
        idle_timeout_secs: number(f[6], "it")?,
        mfa_verified_at: opt_time(f[HEAD + 4], "mv")?,
        key_id,
        grace_period_ends_at: opt_time(f[HEAD + 5], "g")?,
        org_epoch: number(f[2], "oe")?,
        member_epoch: number(f[3], "me")?,
        keyless_epoch: number(f[4], "ke")?,
        facts: SessionFacts {
            username: unescape(f[HEAD + 6]),
            groups,
            login_ip: opt_text(f[HEAD + 8]),
            device: opt_text(f[HEAD + 9]),
            key: match f[HEAD + 10] {
                "" => None,
                text => Some(decode_key_facts(text)?),
            },
        },
        grants,
        policy_version,
        webauthn_policy_version: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, SubsecRound};
    use keyward_domain::session::{NewSession, SessionLifetimes};

    /// The record as the scripts store it: the epochs stamped in.
    fn stamped(record: &Record, oe: u64, me: u64, ke: u64) -> String {
        let Record { ls, it, ab, m, k, tail } = record;
        format!("2|{m}|{oe}|{me}|{ke}|{ls}|{it}|{ab}|{k}|{tail}")
    }

    fn session(now: DateTime<Utc>) -> Session {
        NewSession {
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
        )
    }

    #[test]
    fn sessions_survive_the_encoding() {
        let now = Utc::now().trunc_subsecs(3);
        let mut session = session(now);
        session.mfa_verified_at = Some(now);
        session.key_id = Some(SecurityKeyId::new());
        session.facts = SessionFacts {
            username: "alice|100%".into(),
            groups: vec!["platform".into(), "on,call|%7C".into()],
            login_ip: Some("2001:db8::1".into()),
            device: Some("Firefox 133 | Linux".into()),
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
                resource: Some("prod/a,\"b\"|c%".into()),
                touched_at: now,
                expires_at: now + Duration::minutes(5),
            },
            Grant { scope: GrantScope::Class("security_key".into()), resource: None, touched_at: now, expires_at: now },
        ];
        let record = stamped(&encode(&session), 4, 2, 1);
        assert_eq!(record.split('|').count(), HEAD + 12, "text with separators is escaped: {record}");
        let decoded = decode(session.org_id, &session.token_hash, &record, None).unwrap();
        assert_eq!(decoded, session);
        // During a rolling upgrade an older instance reads records a newer one wrote: fields it
        // does not know come last and are skipped, never an error.
        let newer = format!("{record}|a field from a later version");
        assert_eq!(decode(session.org_id, &session.token_hash, &newer, None).unwrap(), session);
        assert_eq!(decode(session.org_id, &session.token_hash, &record, Some(7)).unwrap().policy_version, Some(7));
    }

    #[test]
    fn a_session_without_facts_is_a_short_record() {
        let now = Utc::now().trunc_subsecs(3);
        let session = session(now);
        let record = stamped(&encode(&session), 4, 2, 1);
        assert!(record.len() < 120, "{} bytes: {record}", record.len());
        assert_eq!(decode(session.org_id, &session.token_hash, &record, None).unwrap(), session);
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let now = Utc::now().trunc_subsecs(3);
        let session = session(now);
        let record = stamped(&encode(&session), 4, 2, 1);
        let org = session.org_id;
        for broken in [
            String::new(),
            "2".into(),
            record.replacen('2', "1", 1),
            record.rsplitn(3, '|').nth(2).unwrap().to_owned(),
            record.replace("|A|R|", "|X|R|"),
            record.replace(&session.member_id.0.simple().to_string(), "nope"),
        ] {
            assert!(decode(org, &session.token_hash, &broken, None).is_err(), "{broken}");
        }
    }
}
