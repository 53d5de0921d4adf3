// Journey 5: recovery codes. Alice generates codes and logs out; her key is lost. She logs in by SSO,
// and at the security-key step uses a recovery code in place of the key ("Lost your key?"), registers
// a new key, is told to delete the lost one, and does. The code does not work a second time, and
// guessing codes is soon refused.
//
// Expects: journey 4 passed (MFA enforced; alice with one key). Leaves: alice with one key, "Alice
// recovered key"; nine unused recovery codes (one of them offered while rate limited).
import { readFileSync } from 'node:fs';
import { ORGANIZATION } from '../stack';
import { expect, journeyPassed, requireJourneys, test } from './support';

test('journey 5: recovery codes: generate, replace a lost key with one at the key step, register a new key', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '4');
  const alice = await open('alice');
  const page = alice.page;
  await alice.loadKeys();
  expect(alice.ring.names(), 'alice has one key').toHaveLength(1);
  const [lostKey] = alice.ring.names();
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
  // The file names the organization, the username, this Keyward's address and the day, then the codes.
  const [download] = await Promise.all([page.waitForEvent('download'), shown.getByRole('button', { name: 'Download (.txt)' }).click()]);
  const day = new Date().toISOString().slice(0, 10);
  expect(download.suggestedFilename()).toBe(`keyward-recovery-codes-${ORGANIZATION}-alice-${day}.txt`);
  const file = readFileSync((await download.path())!, 'utf8');
  expect(file).toContain(`(${ORGANIZATION})`);
  expect(file).toContain('Username:     alice');
  expect(file).toContain(`Keyward:      ${new URL(page.url()).origin}`);
  expect(file).toContain(`Generated:    ${day}`);
  for (const code of codes) expect(file).toContain(code);
  await alice.screens('recovery-codes');
  await shown.getByRole('button', { name: 'I have saved them' }).click();
  await expect(shown).toBeHidden();
  await expect(page.getByTestId('recovery-codes-status')).toHaveText(/^10 of 10 recovery codes unused · generated \S.+$/);
  await alice.logout();

  // A recovery code is no first factor: the login screen offers none.
  await expect(page.getByRole('button', { name: /recovery code/i })).toHaveCount(0);

  // Her key is lost: an empty authenticator from now on. SSO first, then the code instead of the key.
  await alice.replaceKey();
  await alice.ssoFromLoginPage();
  await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
  await page.getByRole('button', { name: 'Lost your key? Use a recovery code' }).click();
  const form = page.getByRole('form', { name: 'Recovery code' });
  await expect(form.getByRole('textbox', { name: 'Recovery code' })).toBeFocused();
  await form.getByRole('textbox', { name: 'Recovery code' }).fill(codes[0]);
  await alice.screens('recovery-key-step');
  await form.getByRole('button', { name: 'Use recovery code' }).click();

  // The code took the key's place: nothing but registering a new key until she has one.
  await expect(page.getByRole('heading', { name: 'Register a security key' })).toBeVisible();
  await expect(page.getByTestId('register-after-recovery')).toContainText('You used a recovery code in place of your security key.');
  await expect(alice.nav('Home')).toHaveCount(0);
  await alice.screens('recovery-register');
  await alice.registerKey('Alice recovered key', 'Register security key', async () => {
    await expect(page.getByRole('heading', { name: 'Security keys', exact: true, level: 1 })).toBeVisible();
  });

  // The keys page suggests removing the lost key, which is still registered, and lists it (only it: not the
  // new key) with a Remove button; she removes it.
  const notice = page.getByTestId('recovered-notice');
  await expect(notice.getByRole('heading', { name: 'Remove the key you lost' })).toBeVisible();
  await expect(notice.getByRole('listitem')).toHaveCount(1);
  await expect(notice.getByRole('button', { name: `Remove ${lostKey}` })).toBeVisible();
  await expect(notice.getByRole('button', { name: 'Remove Alice recovered key' })).toHaveCount(0);
  await expect(alice.keyRow(lostKey)).toBeVisible();
  await expect(alice.keyRow('Alice recovered key')).toBeVisible();
  await expect(page.getByTestId('recovery-codes-status')).toHaveText(/^9 of 10 recovery codes unused · generated /);
  await alice.screens('recovery-delete-lost-key');
  await notice.getByRole('button', { name: `Remove ${lostKey}` }).click();
  const confirm = page.getByRole('dialog', { name: `Delete “${lostKey}”?` });
  await confirm.getByRole('button', { name: 'Delete key' }).click();
  await expect(page.getByText(`Deleted “${lostKey}”.`)).toBeVisible();
  await expect(alice.keyRow(lostKey)).toHaveCount(0);
  await expect(notice).toBeHidden();
  alice.ring.remove(lostKey);
  // Deleting a key rotated her session's token: the next request works with the new cookie.
  await alice.nav('Home').click();
  await alice.expectHome();
  await page.reload();
  await alice.expectHome();

  // A code works once: at the next login's key step, the used code is refused, and says why.
  await alice.logout();
  await alice.replaceKey();
  await alice.ssoFromLoginPage();
  await page.getByRole('button', { name: 'Lost your key? Use a recovery code' }).click();
  await form.getByRole('textbox', { name: 'Recovery code' }).fill(codes[0]);
  await form.getByRole('button', { name: 'Use recovery code' }).click();
  const field = form.getByRole('textbox', { name: 'Recovery code' });
  const fieldError = form.locator('.field-error');
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(fieldError).toHaveText('That recovery code is not valid or was already used.');
  await expect(field).toBeFocused();
  await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
  await alice.screens('recovery-code-reused');

  // Guessing is cut short: after five wrong codes in one login, the next try is refused, with the wait.
  for (const guess of ['2222-3333-4444-5555', '3333-4444-5555-6666', '4444-5555-6666-7777', '5555-6666-7777-8888']) {
    await field.fill(guess);
    await form.getByRole('button', { name: 'Use recovery code' }).click();
    await expect(fieldError).toHaveText('That recovery code is not valid or was already used.');
    await expect(form.getByRole('button', { name: 'Use recovery code' })).toBeEnabled();
  }
  await field.fill(codes[1]);
  await form.getByRole('button', { name: 'Use recovery code' }).click();
  const limited = form.getByRole('alert');
  await expect(limited).toHaveAttribute('data-code', 'RATE_LIMITED');
  await expect(limited).toContainText(/^Too many attempts\. Try again in \d+ (seconds|minutes?)\.$/);
  await alice.screens('recovery-code-rate-limited');

  // Her new key still logs her in from the same step.
  await page.getByRole('button', { name: 'Use my security key instead' }).click();
  await alice.loadKeys(['Alice recovered key']);
  await alice.touchKeyToLogin();

  journeyPassed(testInfo, '5');
});
