// Journey 4: while MFA is enforced, alice cannot delete her last key and is told why; the admin
// deletes it from her member page, her session ends, and at her next login she must register a key.
//
// Expects: journey 3 passed (MFA enforced; alice with exactly one key; the admin with a key).
// Leaves: alice with one key, "Alice new key".
import { expect, journeyPassed, requireJourneys, test } from './support';

const LAST_KEY_ENFORCED =
  'Your organization requires a security key, so you cannot delete your last one. Add another key first, or ask an admin.';

test('journey 4: the last key cannot be deleted by its owner; the admin deletes it and she re-registers', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '3');
  const alice = await open('alice');
  await alice.loadKeys();
  const [lastKey] = alice.ring.names();
  expect(alice.ring.names(), 'alice has one key').toHaveLength(1);
  await alice.fullLogin();

  // Alice tries to delete her only key: refused, with the reason, and the key stays.
  await alice.nav('Security keys').click();
  await expect(alice.keyRow(lastKey)).toBeVisible();
  await alice.page.getByRole('button', { name: `Delete ${lastKey}` }).click();
  const refusal = alice.page.getByRole('dialog', { name: `Delete “${lastKey}”?` });
  await refusal.getByRole('button', { name: 'Delete key' }).click();
  const alert = refusal.getByRole('alert');
  await expect(alert).toHaveAttribute('data-code', 'LAST_KEY_ENFORCED');
  await expect(alert).toContainText(LAST_KEY_ENFORCED);
  await expect(refusal.getByRole('button', { name: 'Delete key' })).toBeDisabled();
  await alice.screens('last-key-refused');
  await refusal.getByRole('button', { name: 'Cancel' }).click();
  await expect(refusal).toBeHidden();
  await expect(alice.keyRow(lastKey)).toBeVisible();

  // The admin deletes it from alice's member page.
  const admin = await open('admin');
  await admin.loadKeys();
  await admin.fullLogin();
  const page = admin.page;
  await admin.nav('Organization').click();
  await page.getByTestId('members-table').getByRole('link', { name: 'alice', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Alice Member' })).toBeVisible();
  await expect(page.getByTestId('member-live-sessions')).toContainText(/Alice Member has [1-9]\d* live sessions?\./);
  await admin.screens('member-page');
  await page.getByRole('button', { name: `Delete ${lastKey}` }).click();
  const confirm = page.getByRole('dialog', { name: `Delete “${lastKey}”?` });
  await expect(confirm).toContainText('This is their last key: they will have to register a new one at their next login.');
  await admin.screens('member-key-delete-dialog');
  await confirm.getByRole('button', { name: 'Delete key' }).click();
  await expect(confirm).toBeHidden();
  await expect(page.getByTestId('member-status')).toContainText(new RegExp(`Deleted “${lastKey}”; [1-9]\\d* sessions? ended\\.`));
  await expect(page.getByTestId('member-no-keys')).toHaveText('Alice Member has no security keys.');
  await expect(page.getByTestId('member-live-sessions')).toContainText('Alice Member has 0 live sessions.');
  alice.ring.remove(lastKey);

  // Alice's session ended: her next action (away and back to her keys, which asks the server)
  // shows it, and her next login requires a new key.
  await alice.nav('Home').click();
  await alice.nav('Security keys').click();
  await alice.expectSessionEnded();
  await alice.ssoFromLoginPage();
  await expect(alice.page.getByRole('heading', { name: 'Register a security key' })).toBeVisible();
  await alice.replaceKey();
  await alice.registerOnForcedScreen('Alice new key');

  journeyPassed(testInfo, '4');
});
