// Journey 4: while MFA is enforced, alice cannot delete her last key and is told why; the admin
// deletes it from her member page, her session ends, and at her next login she must register a key.
// Then offboarding (4-offboarding): the admin deactivates alice, her open browser is logged out and
// her login is refused; the admin cannot deactivate themselves; reactivated, alice logs in.
//
// Expects: journey 3 passed (MFA enforced; alice with exactly one key; the admin with a key).
// Leaves: alice with one key, "Alice new key", and active again.
import { expect, journeyPassed, loggedIn, requireJourneys, test } from './support';

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
  await admin.orgNav('Members').click();
  await page.getByTestId('members-table').getByRole('link', { name: 'alice', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Alice Member' })).toBeVisible();
  await expect(page.getByTestId('member-live-sessions')).toContainText(/Alice Member has [1-9]\d* active sessions?\./);
  await admin.screens('member-page');
  await page.getByRole('button', { name: `Delete ${lastKey}` }).click();
  const confirm = page.getByRole('dialog', { name: `Delete “${lastKey}”?` });
  await expect(confirm).toContainText('This is their last key: they will have to register a new one at their next login.');
  await admin.screens('member-key-delete-dialog');
  await confirm.getByRole('button', { name: 'Delete key' }).click();
  await expect(confirm).toBeHidden();
  await expect(page.getByTestId('member-status')).toContainText(new RegExp(`Deleted “${lastKey}”; [1-9]\\d* sessions? ended\\.`));
  await expect(page.getByTestId('member-no-keys')).toHaveText('Alice Member has no security keys.');
  await expect(page.getByTestId('member-live-sessions')).toContainText('Alice Member has 0 active sessions.');
  alice.ring.remove(lastKey);

  // Alice's session ended: her next action (Home, which asks the server for her keys) shows it, and
  // her next login requires a new key.
  await alice.nav('Home').click();
  await alice.expectSessionEnded();
  await alice.ssoFromLoginPage();
  await expect(alice.page.getByRole('heading', { name: 'Register a security key' })).toBeVisible();
  await alice.replaceKey();
  await alice.registerOnForcedScreen('Alice new key');
  await alice.skipRecoveryCodesStep();

  journeyPassed(testInfo, '4');
});

const DEACTIVATED = 'Your account in this organization is deactivated. Ask an admin.';

test('journey 4-offboarding: a deactivated member is logged out and cannot log in until reactivated', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '4');
  // Alice is logged in, in her own browser.
  const alice = await loggedIn(open, 'alice');
  const admin = await loggedIn(open, 'admin');
  const page = admin.page;
  await admin.nav('Organization').click();
  await admin.orgNav('Members').click();
  const members = page.getByTestId('members-table');
  const aliceRow = members.getByRole('row').filter({ has: page.getByRole('link', { name: 'alice', exact: true }) });
  await expect(aliceRow.locator('td[data-label="Status"]')).toHaveText('Active');
  await aliceRow.getByRole('link', { name: 'alice', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Alice Member' })).toBeVisible();
  await expect(page.getByTestId('member-state')).toHaveText('Active');
  await expect(page.getByTestId('member-live-sessions')).toContainText(/Alice Member has [1-9]\d* active sessions?\./);

  // Deactivate, through a dialog that says what it does.
  await page.getByRole('button', { name: 'Deactivate member' }).click();
  const confirm = page.getByRole('dialog', { name: 'Deactivate Alice Member?' });
  await expect(confirm).toContainText('All sessions of Alice Member end at once');
  await expect(confirm).toContainText('they can no longer log in');
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await admin.screens('member-deactivate-dialog');
  await confirm.getByRole('button', { name: 'Deactivate', exact: true }).click();
  await expect(confirm).toBeHidden();
  await expect(page.getByTestId('member-status')).toContainText('Deactivated Alice Member: their sessions ended and they can no longer log in.');
  await expect(page.getByTestId('member-state')).toContainText('Deactivated');
  await expect(page.getByTestId('member-deactivated')).toContainText('Alice Member was deactivated on');
  await expect(page.getByTestId('member-live-sessions')).toContainText('Alice Member has 0 active sessions.');
  await expect(page.getByRole('button', { name: 'Deactivate member' })).toHaveCount(0);
  await admin.screens('member-deactivated');

  // The member list says so too, with the date.
  await page.getByRole('link', { name: '← All members' }).click();
  await expect(aliceRow.locator('td[data-label="Status"]')).toContainText('Deactivated');
  await expect(aliceRow.locator('td[data-label="Status"] time')).toHaveCount(1);
  await admin.screens('org-members-deactivated');

  // Alice's open browser: her next action finds her logged out, and her login is refused, with why.
  await alice.nav('Security keys').click();
  await alice.expectSessionEnded();
  await alice.ssoFromLoginPage();
  const refused = alice.page.getByRole('alert').filter({ hasText: DEACTIVATED });
  await expect(refused).toBeVisible();
  await expect(refused).toHaveAttribute('data-code', 'MEMBER_DEACTIVATED');
  await expect(alice.page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  await alice.screens('login-deactivated');

  // An admin cannot deactivate themselves (so the last active admin always stays).
  const own = members.getByRole('row').filter({ has: page.getByRole('link', { name: 'admin', exact: true }) });
  await own.getByRole('link', { name: 'admin', exact: true }).click();
  await expect(page.getByTestId('member-self')).toHaveText('This is you. You cannot deactivate yourself; another admin can.');
  await expect(page.getByRole('button', { name: 'Deactivate member' })).toHaveCount(0);
  await expect(page.getByTestId('member-state')).toHaveText('Active');

  // Reactivated, alice logs in again (SSO and her key).
  await page.getByRole('link', { name: '← All members' }).click();
  await aliceRow.getByRole('link', { name: 'alice', exact: true }).click();
  await page.getByRole('button', { name: 'Reactivate member' }).click();
  await expect(page.getByTestId('member-status')).toContainText('Reactivated Alice Member: they can log in again.');
  await expect(page.getByTestId('member-state')).toHaveText('Active');
  await expect(page.getByRole('button', { name: 'Deactivate member' })).toBeVisible();
  await alice.ssoFromLoginPage();
  await alice.touchKeyToLogin();

  journeyPassed(testInfo, '4-offboarding');
});
