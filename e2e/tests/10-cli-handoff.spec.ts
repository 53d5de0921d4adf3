// Journey 10: the CLI flow completes in the browser. A terminal (this test, plain HTTP from Node, no
// browser) asks Keyward for a login hand-off and polls it: pending. The admin opens the verification
// URL the terminal printed, logs in (SSO, then the key) and is brought back to /step-up, which shows the
// code the terminal printed; one key touch, and the terminal's next poll receives a session of its own,
// once. Then the terminal asks for a step-up token for db.restart on prod; the admin, still logged in,
// touches the key on its page, and the poll delivers an ES256 JWT that verifies against the JWKS with
// `jose` (a JOSE library independent of the gateway's) and names that action and resource.
//
// Expects: journey 1 passed (SSO configured, the admin with "Admin desk key"); works with MFA enforced or
// not, and with journey 8's step-up policy or the built-in one. Leaves: a CLI session for the admin (it
// expires like any session); nothing else changes.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { expect, journeyPassed, requireJourneys, test } from './support';

const STEP_UP_HEADING = 'Confirm with your security key';
/** RFC 8628-style user codes: two groups of four consonants (crates/domain/src/handoff.rs). */
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

/** `POST /cli/handoff`'s answer. */
interface Handoff {
  id: string;
  userCode: string;
  verificationUrl: string;
  pollSecret: string;
  expiresIn: number;
  interval: number;
}

/** A terminal: plain `fetch` from Node against the gateway, the way `keyward login` talks to it. */
class Terminal {
  constructor(readonly backend: string) {}

  private async post(path: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(new URL(path, this.backend), { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: response.status, body: await response.json() };
  }

  /** Asks for a hand-off; fails the test unless the gateway answers 200 with every field. */
  async handoff(request: Record<string, unknown>): Promise<Handoff> {
    const { status, body } = await this.post('/cli/handoff', request);
    expect(status, `POST /cli/handoff ${JSON.stringify(request)} answered ${JSON.stringify(body)}`).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['expiresIn', 'id', 'interval', 'pollSecret', 'userCode', 'verificationUrl']);
    expect(body.userCode).toMatch(USER_CODE);
    expect(body.interval).toBeGreaterThan(0);
    expect(body.expiresIn).toBeGreaterThan(0);
    return body;
  }

  poll(handoff: Handoff): Promise<{ status: number; body: any }> {
    return this.post('/cli/handoff/poll', { id: handoff.id, pollSecret: handoff.pollSecret });
  }

  /** `POST /graphql` with the terminal's session token; fails the test on GraphQL errors. */
  async graphql(token: string, query: string): Promise<any> {
    const { status, body } = await this.post('/graphql', { query }, token);
    expect(body.errors, `GraphQL errors for ${query}`).toBeUndefined();
    expect(status).toBe(200);
    return body.data;
  }
}

test('journey 10: the CLI flow completes in the browser: a terminal logs in, then gets a step-up token', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '1');
  const backend = testInfo.project.use.baseURL!;
  const terminal = new Terminal(backend);

  // The terminal asks to log in and prints the URL and the code; nobody has approved yet.
  const login = await terminal.handoff({ kind: 'login' });
  const loginUrl = new URL(login.verificationUrl);
  expect(`${loginUrl.origin}${loginUrl.pathname}`).toBe(`${backend}/step-up`);
  expect(Object.fromEntries(loginUrl.searchParams)).toEqual({
    action: 'cli.login',
    resource: `handoff:${login.id}`,
    handoff: login.id,
    code: login.userCode,
  });
  expect(await terminal.poll(login)).toEqual({ status: 202, body: { status: 'pending' } });
  // Only the holder of the poll secret learns anything: a wrong one is "unknown".
  const guessed = await terminal.poll({ ...login, pollSecret: `${login.pollSecret}x` });
  expect([guessed.status, guessed.body.code]).toEqual([404, 'NOT_FOUND']);

  // The admin opens the URL in a browser that is not logged in: the login first, then back to the page.
  const admin = await open('admin');
  await admin.loadKeys();
  const page = admin.page;
  await page.goto(login.verificationUrl);
  await expect(page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  await admin.ssoFromLoginPage();
  await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
  await page.getByRole('button', { name: 'Use security key' }).click();
  await expect(page.getByRole('heading', { name: STEP_UP_HEADING, level: 1 })).toBeVisible();
  expect(new URL(page.url()).searchParams.get('handoff'), 'back on the page of the same hand-off').toBe(login.id);
  // The page shows the code the terminal printed, and says what the touch is for.
  await expect(page.getByTestId('handoff-code')).toHaveText(login.userCode);
  await expect(page.getByTestId('step-up-what')).toHaveText('Log in to the Keyward command-line tool');
  await expect(page.getByText('Logged in as Administrator.')).toBeVisible();
  await admin.screens('cli-login-handoff');
  expect(await terminal.poll(login), 'logging in to the browser approves nothing').toEqual({ status: 202, body: { status: 'pending' } });

  await page.getByRole('button', { name: 'Touch your security key' }).click();
  await expect(page.getByTestId('step-up-done')).toHaveText('Done. You can return to your terminal.');
  await admin.ring.sync(admin.key);

  // The terminal's next poll receives a session of its own, once.
  const approved = await terminal.poll(login);
  expect(approved.status).toBe(200);
  expect(Object.keys(approved.body).sort()).toEqual(['sessionToken', 'status']);
  expect(approved.body.status).toBe('complete');
  const sessionToken: string = approved.body.sessionToken;
  expect(sessionToken).toEqual(expect.any(String));
  const again = await terminal.poll(login);
  expect([again.status, again.body.code], 'the result is delivered once').toEqual([404, 'NOT_FOUND']);
  const browserSessions = (await page.context().cookies()).map((cookie) => cookie.value);
  expect(browserSessions, "the terminal's session is not the browser's").not.toContain(sessionToken);
  const { viewer } = await terminal.graphql(sessionToken, '{ viewer { member { id username } organization { id } } }');
  expect(viewer.member.username).toBe('admin');

  // The terminal asks for a step-up token (no session bound: only a token can come back).
  const stepUp = await terminal.handoff({ kind: 'step_up', action: 'db.restart', resource: 'prod', token: true });
  expect(stepUp.id).not.toBe(login.id);
  expect(stepUp.userCode).not.toBe(login.userCode);
  const stepUpUrl = new URL(stepUp.verificationUrl);
  expect(`${stepUpUrl.origin}${stepUpUrl.pathname}`).toBe(`${backend}/step-up`);
  expect(Object.fromEntries(stepUpUrl.searchParams)).toEqual({ action: 'db.restart', resource: 'prod', handoff: stepUp.id, code: stepUp.userCode });
  expect(await terminal.poll(stepUp)).toEqual({ status: 202, body: { status: 'pending' } });

  // Still logged in, the admin goes straight to the page, compares the code and touches the key.
  await page.goto(stepUp.verificationUrl);
  await expect(page.getByRole('heading', { name: STEP_UP_HEADING, level: 1 })).toBeVisible();
  await expect(page.getByTestId('handoff-code')).toHaveText(stepUp.userCode);
  await expect(page.getByTestId('step-up-what')).toHaveText('db.restart on prod');
  await admin.screens('cli-step-up-handoff');
  await page.getByRole('button', { name: 'Touch your security key' }).click();
  await expect(page.getByTestId('step-up-done')).toHaveText('Done. You can return to your terminal.');
  await admin.ring.sync(admin.key);

  const issued = await terminal.poll(stepUp);
  expect(issued.status).toBe(200);
  expect(Object.keys(issued.body).sort(), 'a token and nothing else: no session was bound').toEqual(['status', 'token']);
  expect(issued.body.status).toBe('complete');
  const token: string = issued.body.token;
  const taken = await terminal.poll(stepUp);
  expect([taken.status, taken.body.code], 'the token is delivered once').toEqual([404, 'NOT_FOUND']);

  // A tool checks the token offline against the published keys: ES256 only, Keyward as the issuer.
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', backend));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: backend,
    algorithms: ['ES256'],
    typ: 'JWT',
    requiredClaims: ['sub', 'iat', 'exp', 'jti', 'auth_time'],
  });
  expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'JWT', kid: expect.any(String) });
  expect(payload).toMatchObject({
    action: 'db.restart',
    resource: 'prod',
    sub: viewer.member.id,
    org: viewer.organization.id,
    acr: 'urn:keyward:acr:hwk',
  });
  expect(payload.amr).toContain('hwk');

  journeyPassed(testInfo, '10');
});
