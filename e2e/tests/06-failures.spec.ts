// Journey 6: the security-key step fails, says why, and a retry succeeds: the user cancels the
// prompt; a wrong key answers; the ceremony expires before it is finished. And the login screen
// refuses to follow an IdP address that is not http(s).
//
// Expects: journey 3 passed (bob has "Bob key"; MFA enforced). Each test logs bob in afresh in its
// own browser and leaves him logged in; nothing else changes. The unsafe-address test needs nothing.
import { CEREMONY_TTL_SECONDS } from '../stack';
import type { Page } from '@playwright/test';
import { KeyRing, answerOnce, expect, impostorOf, journeyPassed, requireJourneys, screens, test } from './support';

/** Opens the "Technical details" disclosure of the alert and expects `text` in it. */
async function expectTechnicalDetails(page: Page, text: string | RegExp) {
  const details = page.getByRole('alert').locator('details');
  await details.getByText('Technical details').click();
  await expect(details).toContainText(text);
}

test('the login screen refuses an IdP address that is not http(s), and says so', async ({ page }, testInfo) => {
  for (const address of ["javascript:document.title='hijacked'", 'data:text/html,<h1>hijacked</h1>', 'not a url']) {
    await page.goto('/login');
    await answerOnce(page, 'SsoLoginStart', { ssoLoginStart: { authorizationUrl: address } });
    await page.getByLabel('Organization').fill('default');
    await page.getByRole('button', { name: 'Log in with SSO' }).click();
    const alert = page.getByRole('alert');
    await expect(alert).toHaveAttribute('data-code', 'UNSAFE_REDIRECT');
    await expect(alert).toHaveText('The identity provider returned an unsafe sign-in address.');
    await expect(page).toHaveURL(/\/login$/);
    await expect(page).toHaveTitle('Keyward');
    await expect(page.getByRole('button', { name: 'Log in with SSO' })).toBeEnabled();
  }
  await screens(page, testInfo, 'login-unsafe-sso');
  journeyPassed(testInfo, '6-unsafe-sso');
});

test.describe('journey 6: failure paths at the security-key step', () => {
  test.beforeEach(async ({}, testInfo) => requireJourneys(testInfo, '3'));

  test('the user cancels the key prompt, sees why, and retries', async ({ open }, testInfo) => {
    const bob = await open('bob');
    await bob.loadKeys();
    await bob.ssoLogin();
    const page = bob.page;
    await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();

    // Refusing user verification at the key is what cancelling the browser's prompt looks like to
    // the page: the WebAuthn call fails with NotAllowedError.
    await bob.key.setUserVerified(false);
    await page.getByRole('button', { name: 'Use security key' }).click();
    const alert = page.getByRole('alert');
    await expect(alert).toHaveAttribute('data-code', 'WEBAUTHN_CANCELLED');
    await expect(alert).toContainText(
      'Your security key did not answer in time, or the request was cancelled. Press Retry and touch your key, or use a recovery code.',
    );
    await expectTechnicalDetails(page, 'NotAllowedError');
    await bob.screens('key-cancelled');

    await bob.key.setUserVerified(true);
    await page.getByRole('button', { name: 'Retry' }).click();
    await bob.expectHome();
    await bob.ring.sync(bob.key);
    journeyPassed(testInfo, '6-cancel');
  });

  test('a wrong key is refused with a clear message, and the right key then works', async ({ open }, testInfo) => {
    const bob = await open('bob');
    // Same credential ID as bob's key, different private key: the browser signs, the server refuses.
    await bob.key.add(impostorOf(bob.ring.get('Bob key')));
    await bob.ssoLogin();
    const page = bob.page;
    await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
    await page.getByRole('button', { name: 'Use security key' }).click();
    const alert = page.getByRole('alert');
    await expect(alert).toHaveAttribute('data-code', 'CEREMONY_FAILED');
    await expect(alert).toContainText('Your security key was not accepted. Try again with a key registered to Bob Member, or use a recovery code.');
    await expectTechnicalDetails(page, /^Technical details\s*CEREMONY_FAILED/);
    await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
    await bob.screens('key-wrong');

    await bob.replaceKey();
    await bob.loadKeys();
    await page.getByRole('button', { name: 'Retry' }).click();
    await bob.expectHome();
    await bob.ring.sync(bob.key);
    journeyPassed(testInfo, '6-wrong-key');
  });

  test("someone else's key is refused as not registered to bob, with what to do next", async ({ open }, testInfo) => {
    const bob = await open('bob');
    const page = bob.page;
    // The admin's key in bob's browser, and the login's request rewritten to ask for it: the browser signs
    // with a key Keyward knows, but not as one of bob's.
    const adminRing = new KeyRing(testInfo, 'admin');
    const adminKey = adminRing.get('Admin desk key');
    await bob.key.add(adminKey);
    const id = Buffer.from(adminKey.credentialId, 'base64').toString('base64url');
    await page.route('**/graphql', async (route) => {
      if (route.request().postDataJSON()?.operationName !== 'MfaLoginBegin') return route.fallback();
      const response = await route.fetch();
      const json = await response.json();
      const options = json.data.mfaLoginBegin.options;
      (options.publicKey ?? options).allowCredentials = [{ type: 'public-key', id }];
      await route.fulfill({ response, json });
    });
    await bob.ssoLogin();
    await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
    await page.getByRole('button', { name: 'Use security key' }).click();
    const alert = page.getByRole('alert');
    await expect(alert).toHaveAttribute('data-code', 'KEY_NOT_REGISTERED');
    await expect(alert).toHaveText(/^That key isn't registered to Bob Member\. Try another key or use a recovery code\./);
    await expectTechnicalDetails(page, 'KEY_NOT_REGISTERED');
    await bob.screens('key-not-registered');

    // The admin's key signed once here: keep the ring's counter ahead, so the next login is no counter regression.
    await adminRing.sync(bob.key);
    await page.unroute('**/graphql');
    await bob.replaceKey();
    await bob.loadKeys();
    await page.getByRole('button', { name: 'Retry' }).click();
    await bob.expectHome();
    await bob.ring.sync(bob.key);
    journeyPassed(testInfo, '6-not-registered');
  });

  test('an expired ceremony says so, and a retry starts a new one that works', async ({ open }, testInfo) => {
    test.setTimeout(60_000 + CEREMONY_TTL_SECONDS * 1000);
    const bob = await open('bob');
    await bob.loadKeys();
    await bob.ssoLogin();
    const page = bob.page;
    await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();

    // Hold the first finish request until the ceremony's TTL has passed (the one fixed wait: the
    // server's clock must move past the TTL), then let it through.
    let held = false;
    let released!: () => void;
    const release = new Promise<void>((resolve) => (released = resolve));
    await page.route('**/graphql', async (route) => {
      if (!held && route.request().postDataJSON()?.operationName === 'MfaLoginFinish') {
        held = true;
        await new Promise((resolve) => setTimeout(resolve, (CEREMONY_TTL_SECONDS + 2) * 1000));
        await route.continue();
        released();
        return;
      }
      await route.continue();
    });
    await page.getByRole('button', { name: 'Use security key' }).click();
    await release;
    const alert = page.getByRole('alert');
    await expect(alert).toHaveAttribute('data-code', 'CEREMONY_EXPIRED');
    await expect(alert).toContainText('The request expired before your key answered. Press Retry to start a new one.');
    await expectTechnicalDetails(page, 'CEREMONY_EXPIRED');
    await bob.screens('key-expired');

    await page.unroute('**/graphql');
    await page.getByRole('button', { name: 'Retry' }).click();
    await bob.expectHome();
    await bob.ring.sync(bob.key);
    journeyPassed(testInfo, '6-expired');
  });
});
