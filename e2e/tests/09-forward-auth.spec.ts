// Journey 9: forward auth behind a real nginx (e2e/nginx.ts). A tool at /tool/ is protected by
// `auth_request` against Keyward's `GET /auth/verify?action=k8s.exec&resource=prod/cluster-a`.
// Without a session nginx sends the browser to log in, and the tool sees nothing. Logged in with a
// fresh key touch, the tool opens and receives who Keyward says this is (X-Keyward-Member, never a
// value the browser sent, and never Keyward's session cookie). Once the touch is older than the
// policy allows, Keyward answers 403 STEP_UP_REQUIRED, nginx sends the browser to /step-up with the
// action, resource and return path; one key touch there leads back to the tool, which opens.
//
// Expects: nothing from the other journeys. It runs its own gateway (fresh database, public_url =
// nginx's URL, so WebAuthn works through nginx) and logs in with that gateway's backup credentials.
import { type ForwardAuthStack, startForwardAuthStack, TOOL_ACTION, TOOL_RESOURCE } from '../nginx';
import { Authenticator, expect, journeyPassed, screens, test } from './support';

/** The policy under test: k8s.exec needs a key touch within the last 20 s. */
const MAX_AGE_SECONDS = 20;
const POLICY = `package keyward.step_up

import rego.v1

decision := {"max_age_seconds": ${MAX_AGE_SECONDS}, "reuse": "action"} if input.action == "k8s.exec"
`;

const withNginx = test.extend<{ stack: ForwardAuthStack }>({
  stack: async ({}, use, testInfo) => {
    const stack = await startForwardAuthStack(testInfo.project.name);
    await use(stack);
    await stack.close();
  },
});

withNginx('journey 9: a tool behind nginx forward auth: refused without a session, step-up when the key touch is stale, then open', async ({ page, stack }, testInfo) => {
  // Starting a gateway, two backup logins (argon2id) and the 21 s wait for the touch to go stale.
  test.setTimeout(180_000);
  const tool = `${stack.url}/tool/`;
  const verify = `${stack.url}/auth/verify?action=${TOOL_ACTION}&resource=${encodeURIComponent(TOOL_RESOURCE)}`;
  // Keyward's pages keep their Content-Security-Policy through nginx.
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content[- ]Security[- ]Policy/i.test(message.text()) && page.url().startsWith(stack.url)) cspViolations.push(`${page.url()}: ${message.text()}`);
  });
  const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
    const response = await page.request.post(`${stack.url}/graphql`, { data: { query, variables } });
    const body = await response.json();
    expect(body.errors, `GraphQL errors for ${query}`).toBeUndefined();
    return body.data;
  };

  // No session: Keyward answers nginx's subrequest 401, nginx sends the browser to log in.
  expect((await page.request.get(verify)).status()).toBe(401);
  const anonymous = await page.request.get(tool, { maxRedirects: 0 });
  expect(anonymous.status()).toBe(302);
  expect(anonymous.headers().location).toBe('/login');
  await page.goto(tool);
  await expect(page).toHaveURL(`${stack.url}/login`);
  await expect(page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  expect(stack.toolRequests, 'the tool never saw a request without a session').toEqual([]);

  // The admin logs in through nginx with the backup credentials and registers a key.
  const key = await Authenticator.plugIn(page);
  const backupLogin = async () => {
    await page.getByRole('button', { name: 'Use backup credentials' }).click();
    await page.getByRole('textbox', { name: 'Username' }).fill('admin');
    await page.getByLabel('Secret', { exact: true }).fill(stack.secret);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
  };
  const home = page.getByRole('heading', { name: 'Welcome, Administrator' });
  await backupLogin();
  await expect(home).toBeVisible();
  // A login without a key has nothing to step up with: the tool stays closed.
  const keyless = await page.request.get(tool, { maxRedirects: 0 });
  expect(keyless.status()).toBe(302);
  expect(keyless.headers().location).toMatch(/^\/step-up\?/);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security keys', exact: true }).click();
  await page.getByLabel('Key name').fill('Tool key');
  await page.getByRole('button', { name: 'Add key', exact: true }).click();
  await expect(page.getByText('Registered “Tool key”.')).toBeVisible();
  expect(await key.credentials()).toHaveLength(1);

  // Log out, and log in again: backup credentials, then the key.
  await page.getByRole('button', { name: 'Log out' }).first().click();
  await expect(page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  await backupLogin();
  await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
  await page.getByRole('button', { name: 'Use security key' }).click();
  await expect(home).toBeVisible();
  const touchedAt = Date.now();
  const { viewer } = await graphql('query { viewer { member { id username } organization { id } } }');

  // The policy: k8s.exec needs a touch within 20 s (saving it needs a recent touch: this login's).
  const { stepUpPolicySet } = await graphql('mutation($rego: String!) { stepUpPolicySet(rego: $rego) { version builtIn } }', { rego: POLICY });
  expect(stepUpPolicySet).toEqual({ version: 1, builtIn: false });

  // The touch is fresh: the tool opens and is told who this is.
  await page.goto(tool);
  await expect(page.getByRole('heading', { name: 'protected tool' })).toBeVisible();
  await expect(page.getByTestId('member')).toHaveText(viewer.member.id);
  await expect(page.getByTestId('user')).toHaveText('admin');
  await expect(page.getByTestId('org')).toHaveText(viewer.organization.id);
  // A header the browser makes up is replaced, and Keyward's session cookie stays out of the tool.
  const forged = await page.request.get(tool, { headers: { 'X-Keyward-Member': 'forged-member' } });
  expect(forged.status()).toBe(200);
  expect(await forged.text()).toContain(viewer.member.id);
  expect(stack.toolRequests.map((r) => r.member)).not.toContain('forged-member');
  expect(stack.toolRequests.filter((r) => /keyward_session=/.test(r.cookie ?? '')), 'no request carried the session cookie to the tool').toEqual([]);

  // Let the login's touch grow older than the policy allows (a wait, not a timed assertion).
  await page.waitForTimeout(Math.max(0, touchedAt + (MAX_AGE_SECONDS + 1) * 1000 - Date.now()));

  // Now Keyward answers 403 STEP_UP_REQUIRED, with its step-up address on nginx's origin.
  const stale = await page.request.get(verify, { headers: { 'X-Original-URI': '/tool/' } });
  expect(stale.status()).toBe(403);
  expect(await stale.json()).toMatchObject({
    code: 'STEP_UP_REQUIRED',
    action: TOOL_ACTION,
    resource: TOOL_RESOURCE,
    maxAgeSeconds: MAX_AGE_SECONDS,
    stepUpUrl: `${stack.url}/step-up?action=k8s.exec&resource=prod%2Fcluster-a&return=%2Ftool%2F`,
  });
  const refused = await page.request.get(tool, { maxRedirects: 0 });
  expect(refused.status()).toBe(302);
  expect(refused.headers().location).toBe(`/step-up?action=${TOOL_ACTION}&resource=${TOOL_RESOURCE}&return=/tool/`);

  // The browser lands on the step-up page, which names the action and the resource.
  const seen = stack.toolRequests.length;
  await page.goto(tool);
  await expect(page).toHaveURL((url) => url.pathname === '/step-up');
  const asked = new URL(page.url()).searchParams;
  expect([asked.get('action'), asked.get('resource'), asked.get('return')]).toEqual([TOOL_ACTION, TOOL_RESOURCE, '/tool/']);
  await expect(page.getByRole('heading', { name: 'Confirm with your security key', level: 1 })).toBeVisible();
  await expect(page.getByTestId('step-up-what')).toHaveText(`${TOOL_ACTION} on ${TOOL_RESOURCE}`);
  await expect(page.getByText('Afterwards you go back to /tool/.')).toBeVisible();
  const touch = page.getByRole('button', { name: 'Touch your security key' });
  await screens(page, testInfo, 'step-up-forward-auth');
  expect(stack.toolRequests.length, 'the tool saw nothing of the refused request').toBe(seen);

  // One touch, and the browser is back at the tool, which opens.
  await touch.click();
  await expect(page).toHaveURL(tool);
  await expect(page.getByRole('heading', { name: 'protected tool' })).toBeVisible();
  await expect(page.getByTestId('member')).toHaveText(viewer.member.id);
  expect((await page.request.get(verify)).status(), 'the grant covers k8s.exec on prod/cluster-a').toBe(200);
  const other = `${stack.url}/auth/verify?action=${TOOL_ACTION}&resource=prod%2Fcluster-b`;
  expect((await page.request.get(other)).status(), 'and only that resource').toBe(403);

  expect(cspViolations).toEqual([]);
  journeyPassed(testInfo, '9');
});
