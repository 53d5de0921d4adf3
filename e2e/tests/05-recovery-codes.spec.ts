// Journey 5: recovery codes. Alice generates codes, logs out, loses her key, logs in with a code,
// registers a new key; the code does not work a second time.
//
// Expects: journey 4 passed (MFA enforced; alice with one key). Leaves: alice with her previous
// key and "Alice recovered key"; nine unused recovery codes.
import { expect, journeyPassed, requireJourneys, test } from './support';

test('journey 5: recovery codes: generate, log in with one, register a new key', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '4');
  const alice = await open('alice');
  const page = alice.page;
  await alice.loadKeys();
  await alice.fullLogin();

  await alice.nav('Security keys').click();
  await page.getByRole('button', { name: 'Generate recovery codes' }).click();
  const warning = page.getByRole('dialog', { name: 'Generate recovery codes' });
  await expect(warning).toContainText('New codes replace your old ones');
  await warning.getByRole('button', { name: 'Generate new codes' }).click();
  const shown = page.getByRole('dialog', { name: 'Your recovery codes' });
  const listed = shown.getByTestId('recovery-codes').getByRole('listitem');
  await expect(listed).toHaveCount(10);
  const codes = await listed.allTextContents();
  for (const code of codes) expect(code).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  expect(new Set(codes).size).toBe(10);
  await expect(shown.getByRole('button', { name: 'Copy all' })).toBeVisible();
  await expect(shown.getByRole('button', { name: 'Download (.txt)' })).toBeVisible();
  await alice.screens('recovery-codes');
  await shown.getByRole('button', { name: 'I have saved them' }).click();
  await expect(shown).toBeHidden();
  await alice.logout();

  // Her key is lost: an empty authenticator from now on.
  await alice.replaceKey();
  await page.getByRole('button', { name: 'Use a recovery code' }).click();
  await page.getByRole('textbox', { name: 'Username' }).fill('alice');
  await page.getByRole('textbox', { name: 'Recovery code' }).fill(codes[0]);
  await alice.screens('recovery-login');
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Register a security key' })).toBeVisible();
  await alice.registerOnForcedScreen('Alice recovered key');

  await alice.nav('Security keys').click();
  await expect(alice.keyRow('Alice recovered key')).toBeVisible();
  await expect(page.getByRole('table', { name: 'Your security keys' }).getByRole('row')).toHaveCount(3);

  // A code works once.
  await alice.logout();
  await page.getByRole('button', { name: 'Use a recovery code' }).click();
  await page.getByRole('textbox', { name: 'Username' }).fill('alice');
  await page.getByRole('textbox', { name: 'Recovery code' }).fill(codes[0]);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText(
    'The organization, username or recovery code is not right, or the code was already used.',
  );
  await alice.screens('recovery-code-reused');

  journeyPassed(testInfo, '5');
});
