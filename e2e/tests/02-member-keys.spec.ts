// Journey 2: a member (alice) logs in by SSO, adds two keys, renames one, deletes the other, logs
// out, and logs in with the remaining key.
//
// Expects: journey 1 passed (SSO configured against the test IdP; MFA not enforced; alice has
// never logged in). Leaves: alice with one key, "Alice travel key", in the key ring.
import { expect, journeyPassed, requireJourneys, test } from './support';

test('journey 2: a member adds two keys, renames one, deletes one, and logs in with the other', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '1');
  const alice = await open('alice');
  const page = alice.page;

  // First SSO login: provisioned just in time; no key and no enforcement, so straight in.
  await alice.ssoLogin();
  await alice.expectHome();
  await expect(alice.nav('Security keys')).toBeVisible();
  await expect(alice.nav('Organization'), 'a member has no organization settings').toHaveCount(0);
  await alice.screens('member-home');

  await alice.nav('Security keys').click();
  await expect(page.getByRole('heading', { name: 'Security keys', exact: true, level: 1 })).toBeVisible();
  await expect(page.getByTestId('no-keys')).toBeVisible();
  await alice.screens('keys-empty');

  await alice.addKeyOnSettingsPage('Alice desk key');
  await expect(page.getByText('Register a second one as a backup', { exact: false })).toBeVisible();
  // The first key: the page offers recovery codes right away; alice skips (journey 5 generates them).
  const step = page.getByTestId('recovery-codes-step');
  await expect(step.getByRole('heading', { name: 'Save your recovery codes' })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Registered “Alice desk key”.' })).toHaveClass(/notice-success/);
  await expect(page.getByTestId('recovery-codes-status')).toHaveText('You have no recovery codes yet.');
  await alice.screens('keys-one');
  await step.getByRole('button', { name: 'Skip for now' }).click();
  await expect(step).toHaveCount(0);

  // The second key is another authenticator: the first is listed in excludeCredentials.
  await alice.replaceKey();
  await alice.addKeyOnSettingsPage('Alice spare key');
  await expect(page.getByRole('table', { name: 'Your security keys' }).getByRole('row')).toHaveCount(3);
  await expect(page.getByText('Register a second one as a backup', { exact: false })).toBeHidden();
  await alice.screens('keys-two');

  // Rename the spare key.
  await page.getByRole('button', { name: 'Rename Alice spare key' }).click();
  const renameBox = page.getByLabel('New name for Alice spare key');
  await expect(renameBox).toBeFocused();
  await alice.screens('key-rename');
  await renameBox.fill('Alice travel key');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText('Renamed the key to “Alice travel key”.')).toBeVisible();
  await expect(alice.keyRow('Alice travel key')).toBeVisible();
  await expect(alice.keyRow('Alice spare key')).toHaveCount(0);
  alice.ring.rename('Alice spare key', 'Alice travel key');

  // Delete the desk key, through the confirmation dialog.
  await page.getByRole('button', { name: 'Delete Alice desk key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete “Alice desk key”?' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await alice.screens('key-delete-dialog');
  await dialog.getByRole('button', { name: 'Delete key' }).click();
  await expect(page.getByText('Deleted “Alice desk key”.')).toBeVisible();
  await expect(dialog).toBeHidden();
  await expect(alice.keyRow('Alice desk key')).toHaveCount(0);
  await expect(page.getByRole('table', { name: 'Your security keys' }).getByRole('row')).toHaveCount(2);
  alice.ring.remove('Alice desk key');

  // Log out; the next login asks for the remaining key (the one plugged in) and accepts it.
  await alice.logout();
  await alice.ssoFromLoginPage();
  await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
  await alice.screens('key-step');
  await alice.touchKeyToLogin();

  journeyPassed(testInfo, '2');
});
