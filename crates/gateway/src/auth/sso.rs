//! OIDC single sign-on: Authorization Code with PKCE (S256), nonce and single-use state bound to
//! the browser that started it (a binding cookie), and just-in-time provisioning by (`iss`,
//! `sub`). The ID token is checked for signature (JWKS, refetched once on an unknown key), `iss`,
//! `aud`, `azp`, `exp`, `iat` and `nonce`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ceremony::CeremonyPurpose;
use keyward_domain::change::AuthzChange;
use keyward_domain::ids::{CeremonyId, OrgId};
use keyward_domain::member::{Member, NewMember, OidcIdentity, Role};
use keyward_domain::org::Organization;
use keyward_domain::rate_limit::limits;
use keyward_domain::repo::{AuditRepo, MemberRepo, OrganizationRepo, SsoConfig, SsoConfigRepo};
use keyward_domain::session::{AuthMethod, TokenHash};
use keyward_domain::sso::SsoSettings;
use keyward_domain::sso_groups::{admin_group_refusal, group_claims};
use keyward_domain::{DomainError, StoreError};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope, TokenResponse,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::changes;
use super::discovery::{DiscoveryError, describe_error};
use super::session::{self, Issued};
use crate::secrets::random_secret;
use crate::state::AppState;

/// Leeway for `iat` in the future (clock skew between us and the IdP).
const IAT_LEEWAY_SECONDS: i64 = 60;
/// Oldest `iat` accepted: a code is exchanged right after login.
const IAT_MAX_AGE_SECONDS: i64 = 600;

/// Saves SSO settings after checking them (domain rules) and that the issuer's discovery
/// document loads.
pub async fn configure(
    app: &AppState,
    org: OrgId,
    actor: Actor,
    settings: SsoSettings,
    ip: Option<String>,
) -> Result<SsoConfig, DomainError> {
    let config = checked_config(app, org, settings).await?;
    let admins = app.db.admin_idp_groups(org).await?;
    if let Some(refusal) = admin_group_refusal(&config, &admins) {
        return Err(DomainError::PolicyDenied(refusal));
    }
    let record = AuditRecord::new(actor, "org.sso.configured")
        .target(format!("org:{org}"))
        .ip(ip)
        .details(json!({ "issuer": config.issuer, "clientId": config.client_id, "scopes": config.scopes }));
    app.db.put_sso_config(org, config.clone(), record).await?;
    Ok(config)
}

/// Settings checked (domain rules, the stored secret kept unless a new one is given) and their
/// issuer's discovery document loaded, ready to save or to test.
pub(super) async fn checked_config(
    app: &AppState,
    org: OrgId,
    settings: SsoSettings,
) -> Result<SsoConfig, DomainError> {
    let stored = app.db.sso_config(org).await?;
    let config = settings.into_config(|secret| app.sealer.seal(secret), stored.as_ref(), Utc::now())?;
    let issuer = &config.issuer;
    app.oidc.metadata(issuer, true).await.map_err(|e| match e {
        DiscoveryError::Unreachable(why) => {
            DomainError::bad_input("issuer", format!("could not load {issuer}/.well-known/openid-configuration: {why}"))
        }
        unsafe_document => DomainError::bad_input("issuer", unsafe_document.to_string()),
    })?;
    Ok(config)
}

/// The callback URL the IdP must redirect to; admins register it at their IdP.
pub fn redirect_url(app: &AppState) -> String {
    format!("{}auth/sso/callback", app.config.public_url)
}

fn client(
    metadata: CoreProviderMetadata,
    config: &SsoConfig,
    app: &AppState,
) -> Result<ClientWithRedirect, DomainError> {
    let secret = app
        .sealer
        .open(&config.client_secret)
        .map_err(|why| DomainError::Store(StoreError::Unexpected(format!("SSO client secret: {why}"))))?;
    let redirect = RedirectUrl::new(redirect_url(app))
        .map_err(|e| DomainError::Store(StoreError::Unexpected(format!("redirect URL: {e}"))))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(redirect))
}

type ClientWithRedirect = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The organization and its SSO settings. An unknown organization answers exactly like one
/// without SSO, so that logins cannot be used to list which organizations exist.
async fn org_and_config(app: &AppState, slug: &str) -> Result<(Organization, SsoConfig), DomainError> {
    let org = app.db.organization_by_slug(slug.trim()).await?.ok_or(DomainError::SsoNotConfigured)?;
    let config = app.db.sso_config(org.id).await?.ok_or(DomainError::SsoNotConfigured)?;
    Ok((org, config))
}

/// A login or link begun.
pub struct Started {
    /// The IdP authorization URL to send the browser to.
    pub authorization_url: String,
    /// The value of the browser's SSO binding cookie; the ceremony keeps only its hash.
    pub binding: String,
}

/// Starts a login: the IdP authorization URL, and the binding cookie for the browser.
pub async fn start(app: &AppState, organization: &str, ip: Option<String>) -> Result<Started, DomainError> {
    let now = Utc::now();
    super::limit(app, &[(format!("sso-ip:{}", ip.as_deref().unwrap_or("unknown")), limits::SSO_START_PER_IP)], now)
        .await?;
    let (org, config) = org_and_config(app, organization).await?;
    authorization_url(app, org.id, &config, Flow::Login, now).await
}

/// What an SSO ceremony is for.
pub(super) enum Flow {
    /// A login.
    Login,
    /// Linking an IdP account to the member of this session.
    Link(TokenHash),
    /// A test sign-in by this session's admin with unsaved settings.
    Test(TokenHash),
}

/// Builds the IdP authorization URL and stores the ceremony (PKCE verifier, nonce, CSRF, the
/// hash of the browser binding) it needs. A link or test ceremony belongs to its session, and its
/// state carries a `.link` or `.test` suffix so the callback can tell; a test keeps the settings
/// it tries (their secret sealed) in the ceremony.
pub(super) async fn authorization_url(
    app: &AppState,
    org: OrgId,
    config: &SsoConfig,
    flow: Flow,
    now: chrono::DateTime<Utc>,
) -> Result<Started, DomainError> {
    // Fails closed: a document that no longer passes the checks is never used.
    let metadata = app
        .oidc
        .metadata(&config.issuer, false)
        .await
        .map_err(|e| DomainError::CeremonyFailed(format!("cannot use the identity provider: {e}")))?;
    let client = client(metadata, config, app)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let csrf = random_secret();
    let nonce = random_secret();
    let binding = random_secret();
    let mut state =
        json!({ "csrf": csrf, "nonce": nonce, "pkce": verifier.secret(), "binding": binding_hash(&binding) });
    let (purpose, suffix, session) = match flow {
        Flow::Login => (CeremonyPurpose::SsoLogin, "", None),
        Flow::Link(session) => (CeremonyPurpose::SsoLink, LINK_SUFFIX, Some(session)),
        Flow::Test(session) => {
            state["candidate"] = serde_json::to_value(config)
                .map_err(|e| DomainError::Store(StoreError::Unexpected(format!("SSO settings: {e}"))))?;
            (CeremonyPurpose::SsoTest, TEST_SUFFIX, Some(session))
        }
    };
    let ceremony_id = super::begin_ceremony(app, org, session, purpose, state, now).await?;
    let state = format!("{}.{}.{}{suffix}", org.0.simple(), ceremony_id.0.simple(), csrf);
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        move || CsrfToken::new(state),
        move || Nonce::new(nonce),
    );
    for scope in &config.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, _, _) = request.set_pkce_challenge(challenge).url();
    Ok(Started { authorization_url: url.to_string(), binding })
}

fn binding_hash(binding: &str) -> String {
    hex::encode(Sha256::digest(binding.as_bytes()))
}

/// Checks that the browser finishing a ceremony is the one that started it: it presents the
/// binding cookie whose hash the ceremony kept (RFC 6749 §10.12). Without this, a code and state
/// would work from any browser: an attacker could plant their own login in a victim's browser,
/// and a leaked callback URL would be a whole first-factor login.
pub(super) fn check_binding(ceremony: &Value, presented: Option<&str>) -> Result<(), DomainError> {
    let expected = ceremony["binding"].as_str().unwrap_or_default();
    let presented = presented.map(binding_hash).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), presented.as_bytes()) {
        return Err(DomainError::SsoStateMismatch);
    }
    Ok(())
}

/// Marks the `state` of a linking ceremony.
const LINK_SUFFIX: &str = ".link";
/// Marks the `state` of a test sign-in.
const TEST_SUFFIX: &str = ".test";

/// Whether `state` belongs to a linking ceremony rather than a login.
pub fn is_link_state(state: &str) -> bool {
    state.ends_with(LINK_SUFFIX)
}

/// Whether `state` belongs to an admin's test sign-in rather than a login.
pub fn is_test_state(state: &str) -> bool {
    state.ends_with(TEST_SUFFIX)
}

pub(super) fn parse_state(state: &str) -> Result<(OrgId, CeremonyId, &str), DomainError> {
    let bad = || DomainError::bad_input("state", "not a state this server issued");
    let state = state.strip_suffix(LINK_SUFFIX).or_else(|| state.strip_suffix(TEST_SUFFIX)).unwrap_or(state);
    let mut parts = state.split('.');
    let (org, ceremony, csrf) =
        (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok((org.parse().map_err(|_| bad())?, ceremony.parse().map_err(|_| bad())?, csrf))
}

/// Takes the ceremony of kind `kind` that `state` names, for a flow that belongs to `session` (a
/// link or a test sign-in): started in the session's organization, by the session, with the
/// CSRF value it carries. `what` names the flow in the refusals.
pub(super) async fn take_session_ceremony(
    app: &AppState,
    session: &keyward_domain::session::Session,
    state: &str,
    kind: &str,
    what: &str,
) -> Result<keyward_domain::ceremony::Ceremony, DomainError> {
    let (org_id, ceremony_id, csrf) = parse_state(state)?;
    if org_id != session.org_id {
        return Err(DomainError::CeremonyFailed(format!("this {what} was started in another organization")));
    }
    let ceremony =
        super::take_ceremony(app, org_id, &ceremony_id.to_string(), kind, Some(&session.token_hash), Utc::now())
            .await?;
    let expected_csrf = ceremony.state["csrf"].as_str().unwrap_or_default();
    if !constant_time_eq(expected_csrf.as_bytes(), csrf.as_bytes()) {
        return Err(DomainError::CeremonyFailed(format!("the {what} state does not match")));
    }
    Ok(ceremony)
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The claims Keyward uses from a verified ID token.
pub(super) struct Identity {
    pub(super) issuer: String,
    pub(super) subject: String,
    pub(super) email: Option<String>,
    pub(super) email_verified: bool,
    pub(super) username: Option<String>,
    pub(super) name: Option<String>,
    pub(super) raw: Value,
}

/// Finishes a login from the browser presenting `binding` (its SSO binding cookie): exchanges the
/// code, verifies the ID token, provisions the member and starts a session at the stage the rules
/// give.
pub async fn finish(
    app: &AppState,
    code: &str,
    state: &str,
    binding: Option<&str>,
    ip: Option<String>,
) -> Result<Issued, DomainError> {
    let now = Utc::now();
    let (org_id, ceremony_id, csrf) = parse_state(state)?;
    let ceremony = super::take_ceremony(app, org_id, &ceremony_id.to_string(), "SSO_LOGIN", None, now).await?;
    let expected_csrf = ceremony.state["csrf"].as_str().unwrap_or_default();
    if !constant_time_eq(expected_csrf.as_bytes(), csrf.as_bytes()) {
        return Err(DomainError::CeremonyFailed("the login state does not match".into()));
    }
    let org = app.db.organization(org_id).await?.ok_or(DomainError::SsoNotConfigured)?;
    let config = app.db.sso_config(org_id).await?.ok_or(DomainError::SsoNotConfigured)?;
    let result = match check_binding(&ceremony.state, binding) {
        Ok(()) => verify(app, &config, &ceremony.state, code).await,
        Err(err) => Err(err),
    };
    let identity = match result {
        Ok(identity) => identity,
        Err(err) => {
            let record = AuditRecord::new(Actor::Anonymous, "sso.login")
                .failed()
                .ip(ip)
                .details(json!({ "reason": err.to_string() }));
            app.db.append_audit(org_id, record).await?;
            return Err(err);
        }
    };
    config.check_email(identity.email.as_deref(), identity.email_verified)?;
    let member = provision(app, &org, &config, &identity).await?;
    app.db.record_idp_groups(org_id, member.id, &group_claims(&identity.raw)).await?;
    let origin = session::LoginOrigin { ip: ip.clone(), groups: config.groups_from_claims(&identity.raw) };
    let issued = session::start(app, &org, &member, AuthMethod::Sso, origin, now).await?;
    let record = AuditRecord::new(Actor::Member(member.id), "sso.login")
        .target(format!("member:{}", member.id))
        .ip(ip)
        .details(json!({ "issuer": identity.issuer, "subject": identity.subject, "stage": issued.session.stage }));
    app.db.append_audit(org_id, record).await?;
    Ok(issued)
}

pub(super) async fn verify(
    app: &AppState,
    config: &SsoConfig,
    state: &Value,
    code: &str,
) -> Result<Identity, DomainError> {
    let failed = |what: &str, e: String| DomainError::CeremonyFailed(format!("{what}: {e}"));
    let unusable = |e: DiscoveryError| failed("cannot use the identity provider", e.to_string());
    let nonce = Nonce::new(state["nonce"].as_str().unwrap_or_default().to_owned());
    let verifier = PkceCodeVerifier::new(state["pkce"].as_str().unwrap_or_default().to_owned());
    let metadata = app.oidc.metadata(&config.issuer, false).await.map_err(unusable)?;
    let token = client(metadata, config, app)?
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| failed("the identity provider has no token endpoint", e.to_string()))?
        .set_pkce_verifier(verifier)
        .request_async(&app.oidc.http)
        .await
        .map_err(|e| failed("the identity provider refused the code", describe_error(&e)))?;
    let id_token =
        token.id_token().ok_or_else(|| DomainError::CeremonyFailed("the identity provider sent no ID token".into()))?;
    // The code is spent; if the token is signed with a key we have not seen, refetch the JWKS
    // (key rotation) and verify the same token again, once.
    for refresh in [false, true] {
        let metadata = app.oidc.metadata(&config.issuer, refresh).await.map_err(unusable)?;
        let client = client(metadata, config, app)?;
        let now = Utc::now();
        let verifier = client.id_token_verifier().set_issue_time_verifier_fn(move |iat| {
            let age = now.signed_duration_since(iat).num_seconds();
            if age < -IAT_LEEWAY_SECONDS {
                Err("issued in the future".into())
            } else if age > IAT_MAX_AGE_SECONDS {
                Err("issued too long ago".into())
            } else {
                Ok(())
            }
        });
        match id_token.claims(&verifier, &nonce) {
            Ok(claims) => {
                let raw = id_token
                    .to_string()
                    .split('.')
                    .nth(1)
                    .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .unwrap_or(Value::Null);
                return Ok(Identity {
                    issuer: claims.issuer().to_string(),
                    subject: claims.subject().to_string(),
                    email: claims.email().map(|e| e.to_string()),
                    email_verified: claims.email_verified().unwrap_or(false),
                    username: claims.preferred_username().map(|u| u.to_string()),
                    name: claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
                    raw,
                });
            }
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) if !refresh => continue,
            Err(err) => return Err(failed("the ID token did not verify", describe_error(&err))),
        }
    }
    Err(DomainError::CeremonyFailed("the ID token did not verify".into()))
}

/// When an admin group is configured, the IdP's groups decide the role at every login.
async fn sync_role(
    app: &AppState,
    org: &Organization,
    config: &SsoConfig,
    identity: &Identity,
    member: Member,
) -> Result<Member, DomainError> {
    let Some(role) = config.role_from_claims(&identity.raw) else {
        return Ok(member);
    };
    if role == member.role {
        return Ok(member);
    }
    let record = AuditRecord::new(Actor::System, "member.role.changed")
        .target(format!("member:{}", member.id))
        .details(json!({ "from": member.role.as_str(), "to": role.as_str(), "source": "sso group claim" }));
    let member = app.db.set_role(org.id, member.id, role, record).await?;
    // Every other session of theirs cached the old role: it ends now, on every instance.
    changes::apply(app, org.id, &AuthzChange::RoleChanged(member.id), None, None, Utc::now()).await?;
    Ok(member)
}

async fn provision(
    app: &AppState,
    org: &Organization,
    config: &SsoConfig,
    identity: &Identity,
) -> Result<Member, DomainError> {
    let oidc = OidcIdentity { issuer: identity.issuer.clone(), subject: identity.subject.clone() };
    if let Some(member) = app.db.member_by_oidc(org.id, &oidc).await? {
        return sync_role(app, org, config, identity, member).await;
    }
    let base = identity.username.clone().or_else(|| identity.email.clone()).unwrap_or_else(|| identity.subject.clone());
    let role = config.role_from_claims(&identity.raw).unwrap_or(Role::Member);
    let mut username = base.clone();
    for attempt in 0..3 {
        let new = NewMember {
            org_id: org.id,
            username: username.clone(),
            display_name: identity.name.clone().unwrap_or_else(|| base.clone()),
            email: identity.email.clone(),
            role,
            oidc: Some(oidc.clone()),
        };
        let record = AuditRecord::new(Actor::System, "member.provisioned")
            .target(format!("oidc:{}", identity.subject))
            .details(json!({ "issuer": identity.issuer, "username": username, "role": role.as_str() }));
        match app.db.create_member(new, Utc::now(), record).await {
            Ok(member) => return Ok(member),
            Err(StoreError::Conflict(_)) => {
                if let Some(member) = app.db.member_by_oidc(org.id, &oidc).await? {
                    return Ok(member);
                }
                username = format!("{base}-{}", &crate::secrets::random_secret()[..4 + attempt]);
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(DomainError::Store(StoreError::Unexpected("could not find a free username".into())))
}

#[cfg(test)]
mod fuzz {
    //! Property tests of the `state` a browser brings back from the IdP: untrusted text.
    use proptest::prelude::*;

    use super::*;

    fn cases() -> proptest::test_runner::Config {
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
        proptest::test_runner::Config { cases, failure_persistence: None, ..Default::default() }
    }

    proptest! {
        #![proptest_config(cases())]

        #[test]
        fn state_parses_or_is_refused_as_bad_input(
            raw in prop_oneof![
                "[0-9a-f-]{32,36}\\.[0-9a-f-]{32,36}\\.\\PC{0,20}(\\.link)?",
                "(\\PC{0,12}\\.){0,5}\\PC{0,12}",
                any::<String>(),
            ]
        ) {
            match parse_state(&raw) {
                Ok((org, ceremony, csrf)) => {
                    prop_assert!(!csrf.contains('.'));
                    let rebuilt = format!("{}.{}.{csrf}", org.0.simple(), ceremony.0.simple());
                    let (org2, ceremony2, csrf2) = parse_state(&rebuilt).unwrap();
                    prop_assert_eq!((org2, ceremony2, csrf2), (org, ceremony, csrf));
                }
                Err(err) => prop_assert!(matches!(err, DomainError::BadInput { .. }), "{err:?}"),
            }
            prop_assert_eq!(is_link_state(&raw), raw.ends_with(".link"));
        }
    }
}
