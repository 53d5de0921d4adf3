// Journey 3: the admin opens the enforcement preview, which lists the member without a key (bob),
// and enforces MFA. Alice's browser, open and logged in before, is logged out at its next action;
// bob, who has no key, must register one at his next login.
//
// Expects: journeys 1 and 2 passed (the admin and alice each have a key; bob has never logged in;
// MFA not enforced). Leaves: MFA enforced without a grace period; bob with "Bob key".
import { expect, journeyPassed, requireJourneys, test } from './support';

test('journey 3: enforcement preview, enforce, open sessions end, a keyless member must register', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '1', '2');

  // Bob logs in once by SSO, without a key, and keeps his browser open.
  const bob = await open('bob');
  await bob.ssoLogin();
  await bob.expectHome();

  // Alice is logged in (SSO and her key) in her own browser.
  const alice = await open('alice');
  await alice.loadKeys();
  await alice.fullLogin();

  const admin = await open('admin');
  await admin.loadKeys();
  await admin.fullLogin();
  const page = admin.page;
  await admin.nav('Organization').click();
  await expect(page).toHaveURL(/\/org$/, { timeout: 10_000 });
  await admin.orgNav('MFA').click();
  await expect(page.getByRole('heading', { name: 'Enforcement' })).toBeVisible();
  await expect(page.getByTestId('enforcement-state')).toContainText('MFA is not enforced.');

  // The members table (its own tab), filtered to members without a key: only bob.
  await admin.orgNav('Members').click();
  const members = page.getByTestId('members-table');
  await expect(members.getByRole('link', { name: 'alice' })).toBeVisible();
  await expect(members.getByRole('link', { name: 'bob' })).toBeVisible();
  await admin.screens('org-members');
  await page.getByLabel('Only members without a key').check();
  await expect(members.getByRole('link', { name: 'alice' })).toHaveCount(0);
  await expect(members.getByRole('row').filter({ hasText: 'bob' })).toContainText('No key');
  await expect(members.getByRole('row')).toHaveCount(2);
  await admin.screens('org-members-without-key');
  await page.getByLabel('Only members without a key').uncheck();
  await expect(members.getByRole('link', { name: 'alice' })).toBeVisible();
  await admin.orgNav('MFA').click();

  // The preview: bob has no key and one active session; alice's and bob's sessions will end.
  await page.getByRole('button', { name: 'Enforce MFA…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Enforce MFA?' });
  await expect(dialog.getByTestId('enforcement-preview')).toBeVisible();
  await expect(dialog.getByRole('heading', { name: 'Members without a key (1)' })).toBeVisible();
  const withoutKey = dialog.getByTestId('preview-without-key');
  await expect(withoutKey.getByRole('listitem')).toHaveCount(1);
  await expect(withoutKey).toContainText('bob');
  await expect(withoutKey).toContainText('1 active session');
  const ending = await dialog.getByText(/\d+ sessions? will end/).textContent();
  expect(Number(/(\d+)/.exec(ending ?? '')?.[1]), 'alice and bob are logged in elsewhere').toBeGreaterThanOrEqual(2);
  await admin.screens('enforce-preview');

  // No grace period here (the default is 14 days): bob must register at his next login.
  await dialog.getByLabel('Give members without a key a grace period').uncheck();
  await dialog.getByRole('button', { name: /^Enforce MFA and end \d+ sessions?$/ }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('org-status')).toContainText(/MFA is now enforced: \d+ sessions? ended, 1 member without a key\./);
  await expect(page.getByTestId('enforcement-state')).toContainText('MFA is enforced.');
  await admin.screens('enforced');
  // The admin's own session survives enforcement.
  await page.reload();
  await expect(page.getByTestId('enforcement-state')).toContainText('MFA is enforced.');

  // Alice's open browser: her next action finds her session ended; her key still logs her in.
  await alice.nav('Security keys').click();
  await alice.expectSessionEnded();
  await alice.screens('session-ended');
  await alice.ssoFromLoginPage();
  await alice.touchKeyToLogin();

  // Bob's open browser: logged out too, and his next login requires registering a key.
  await bob.nav('Security keys').click();
  await bob.expectSessionEnded();
  await bob.ssoFromLoginPage();
  await expect(bob.page.getByRole('heading', { name: 'Register a security key' })).toBeVisible();
  await expect(bob.nav('Home'), 'nothing but registration until he has a key').toHaveCount(0);
  await bob.screens('register-forced');
  await bob.registerOnForcedScreen('Bob key');
  await bob.screens('recovery-codes-step');
  await bob.skipRecoveryCodesStep();
  await bob.screens('home-recovery-reminder-after-skip');

  journeyPassed(testInfo, '3');
});
