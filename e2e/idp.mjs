// A real OIDC identity provider for the e2e tests (the `oidc-provider` package), with a few users
// and a `groups` claim that makes `admin@example.com` an admin. Started by global-setup.
import Provider from 'oidc-provider';

export const USERS = {
  admin: { sub: 'idp-admin', email: 'admin@example.com', name: 'Ada Admin', groups: ['keyward-admins'] },
  alice: { sub: 'idp-alice', email: 'alice@example.com', name: 'Alice Member', groups: [] },
  bob: { sub: 'idp-bob', email: 'bob@example.com', name: 'Bob Member', groups: [] },
  dana: { sub: 'idp-dana', email: 'dana@example.com', name: 'Dana Admin', groups: ['keyward-admins'] },
};

export const CLIENT_ID = 'keyward-e2e';
export const CLIENT_SECRET = 'keyward-e2e-secret';

export async function startIdp(port, redirectUris) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    // devInteractions keeps the typed login as the session's account ID, and oidc-provider
    // requires findAccount to answer with that same ID (else "accountId mismatch" at consent):
    // the account ID is the login, while the `sub` claim stays the IdP's stable subject.
    async findAccount(_ctx, id) {
      const user = Object.entries(USERS).find(([login]) => login === id);
      if (!user) return undefined;
      const [login, u] = user;
      return {
        accountId: login,
        async claims() {
          return { sub: u.sub, email: u.email, email_verified: true, name: u.name, preferred_username: login, groups: u.groups };
        },
      };
    },
  });
  provider.proxy = false;
  const server = provider.listen(port);
  await new Promise((resolve) => server.once('listening', resolve));
  return { issuer, close: () => new Promise((resolve) => server.close(resolve)) };
}
