// Journey 1: the first admin logs in with the backup credentials, configures SSO against the test
// IdP (an unsafe IdP address is refused), links their own IdP account, registers a key, rotates the
// backup secret, looks at the WebAuthn policy, logs out, and logs in by SSO plus the key.
//
// Expects: a fresh gateway (the backup secret it printed is in `.state/<backend>.json`; no SSO, no
// keys, nobody else). Uses one backup-credential login of the five allowed per 5 minutes.
// Leaves: SSO configured, the admin linked to the IdP's `admin` (group keyward-admins) with
// "Admin desk key"; a rotated backup secret (saved in `.state/<backend>.json`); MFA not enforced.
import { IDP_ORIGIN } from '../stack';
import { answerOnce, backendState, expect, journeyPassed, passIdp, saveBackupSecret, test } from './support';

test('journey 1: first admin: backup credentials, SSO setup, link, a key, then SSO plus the key', async ({ open }, testInfo) => {
  const { secret } = backendState(testInfo);
  const admin = await open('admin');
  const page = admin.page;

  await admin.gotoLogin();
  // Every journey runs the SPA under the gateway's strict CSP, and a violation fails it (support.ts).
  const csp = (await page.request.get('/login')).headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  await admin.screens('login');
  await page.getByRole('button', { name: 'Use backup credentials' }).click();
  await page.getByRole('textbox', { name: 'Username' }).fill('admin');
  await page.getByLabel('Secret', { exact: true }).fill(secret);
  await admin.screens('login-backup');
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await admin.expectHome();
  await admin.screens('admin-home');

  // Organization → Single sign-on.
  await admin.nav('Organization').click();
  await admin.orgNav('Single sign-on').click();
  await expect(page.getByRole('heading', { name: 'Single sign-on', level: 1 })).toBeVisible();
  await expect(page).toHaveURL(/\/org\/sso$/);
  await expect(page.getByTestId('sso-not-configured')).toBeVisible();
  await expect(page.getByLabel('Redirect URI', { exact: true })).toHaveValue(`${testInfo.project.use.baseURL}/auth/sso/callback`);
  await admin.screens('sso-empty');

  await page.getByLabel('Issuer URL', { exact: true }).fill(IDP_ORIGIN);
  await page.getByLabel('Client ID', { exact: true }).fill('keyward-e2e');
  await page.getByLabel('Client secret', { exact: true }).fill('keyward-e2e-secret');
  await page.getByLabel('Scopes', { exact: true }).fill('email profile groups');
  await page.getByLabel('Admin group claim', { exact: true }).fill('groups');
  await page.getByLabel('Admin group value', { exact: true }).fill('keyward-admins');
  await page.getByRole('button', { name: 'Save SSO settings' }).click();
  await expect(page.getByText('SSO settings saved').first()).toBeVisible();
  const current = page.getByTestId('sso-current');
  await expect(current).toContainText(IDP_ORIGIN);
  await expect(current).toContainText('keyward-e2e');
  await expect(current).toContainText('email profile groups');
  await expect(page.getByLabel('Client secret', { exact: true }), 'the secret is never shown again').toHaveValue('');
  await admin.screens('sso-configured');

  // An IdP address that is not http(s) is refused (the real server never sends one: stubbed).
  await answerOnce(page, 'SsoLinkStart', { ssoLinkStart: { authorizationUrl: "javascript:document.title='hijacked'" } });
  await page.getByRole('button', { name: 'Link my IdP account' }).click();
  const unsafe = page.getByRole('alert').filter({ hasText: 'The identity provider returned an unsafe sign-in address.' });
  await expect(unsafe).toHaveAttribute('data-code', 'UNSAFE_REDIRECT');
  await expect(page).toHaveURL(/\/org\/sso$/);
  await expect(page).toHaveTitle('Keyward');

  // Link the admin's own IdP account (through the IdP's login and consent forms).
  const ssoPage = page.url();
  await page.getByRole('button', { name: 'Link my IdP account' }).click();
  await passIdp(page, 'admin', ssoPage);
  await expect(page).toHaveURL(/\/org\/sso\?linked=1$/);
  await expect(page.getByTestId('sso-linked-notice')).toBeVisible();
  await expect(page.getByTestId('sso-linked')).toBeVisible();
  await admin.screens('sso-linked');

  // A key.
  await admin.nav('Security keys').click();
  await expect(page.getByTestId('no-keys')).toBeVisible();
  await admin.addKeyOnSettingsPage('Admin desk key');
  await admin.screens('admin-keys');

  // The first-start secret went through a terminal (and maybe a log): rotate it; shown once.
  await admin.nav('Organization').click();
  await admin.orgNav('Single sign-on').click();
  await page.getByRole('button', { name: 'Rotate backup secret' }).click();
  const rotate = page.getByRole('dialog', { name: 'Rotate the backup secret?' });
  await rotate.getByRole('button', { name: 'Rotate', exact: true }).click();
  await expect(rotate).toBeHidden();
  const fresh = page.getByTestId('new-backup-secret');
  await expect(fresh).toContainText('This secret is shown only once.');
  const newSecret = await fresh.getByRole('textbox', { name: 'New backup secret' }).inputValue();
  expect(newSecret.length).toBeGreaterThanOrEqual(20);
  expect(newSecret).not.toBe(secret);
  saveBackupSecret(testInfo, newSecret);
  await admin.screens('backup-secret-rotated');
  await fresh.getByRole('button', { name: 'Done' }).click();
  await expect(fresh).toBeHidden();
  await expect(page.getByRole('button', { name: 'Rotate backup secret' })).toBeFocused();

  // The WebAuthn policy screen (its defaults stay: the journeys after this one rely on them).
  await admin.orgNav('WebAuthn policy').click();
  await expect(page.getByRole('heading', { name: 'WebAuthn policy', level: 1 })).toBeVisible();
  await expect(page.getByLabel('User verification', { exact: true })).toBeVisible();
  await admin.screens('webauthn-policy');

  // Log out; log in by SSO (the IdP remembers the admin) and the key.
  await admin.logout();
  await admin.ssoFromLoginPage();
  await admin.touchKeyToLogin();
  await expect(admin.nav('Organization'), 'still an admin: the IdP group keyward-admins maps to ADMIN').toBeVisible();

  journeyPassed(testInfo, '1');
});
