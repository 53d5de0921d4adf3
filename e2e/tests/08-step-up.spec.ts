// Journey 8: step-up. The admin edits the organization's step-up policy (a broken policy is marked at its
// line; the tester shows the decision; the fixed policy saves), then deletes a key: the app asks for a
// fresh key touch and finishes the deletion, and a second deletion inside the window does not ask again.
// The /step-up page (for tools behind Keyward and the CLI) sends a logged-out visitor through the login,
// takes a touch and goes back to the `return` path, or says "Done" when there is none or it is unsafe.
//
// Expects: journey 1 passed (SSO configured, the admin with "Admin desk key"); works with MFA enforced or
// not. Leaves: a saved step-up policy (security_key.delete: a touch within 20 s, reuse "class"; anything
// else: 300 s, reuse "action"); the admin's keys as they were (two keys are added and deleted again).
import { expect, journeyPassed, loggedIn, requireJourneys, test, type Person } from './support';

/** The policy the journeys save: deleting a key needs a touch within 20 s, reused for the whole class. */
const POLICY = `package keyward.step_up

import rego.v1

default decision := {"max_age_seconds": 300, "reuse": "action"}

decision := {"max_age_seconds": 20, "reuse": "class", "reason": "Deleting a security key needs a fresh touch."} if {
	input.action == "security_key.delete"
}
`;

/** The same policy with a syntax error on line 8. */
const BROKEN = POLICY.replace('input.action == "security_key.delete"', 'input.action == == "security_key.delete"');
const BROKEN_LINE = 8;

const MAX_AGE_SECONDS = 20;
const STEP_UP_DIALOG = 'Confirm with your security key';

/** Counts the step-up ceremonies the page begins (each is one "touch your key" the app asked for). */
function countStepUps(person: Person): () => number {
  let begun = 0;
  person.page.on('request', (request) => {
    if (request.url().endsWith('/graphql') && request.method() === 'POST' && request.postDataJSON()?.operationName === 'StepUpBegin') begun++;
  });
  return () => begun;
}

test('journey 8-policy: the step-up policy editor marks broken Rego at its line, tests it, and saves a fixed policy', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '1');
  const admin = await loggedIn(open, 'admin');
  const page = admin.page;
  await admin.nav('Organization').click();
  await admin.orgNav('Step-up policy').click();
  await expect(page.getByRole('heading', { name: 'Step-up policy', level: 1 })).toBeVisible();
  await expect(page).toHaveURL(/\/org\/step-up$/);
  await expect(page.getByTestId('step-up-policy-source')).toContainText('built-in');
  await expect(page.getByTestId('step-up-policy-self-rule')).toContainText('always needs a security key touch within the last 5 minutes');
  const editor = page.getByLabel('Policy (Rego)', { exact: true });
  await expect(editor).toHaveValue(/package keyward\.step_up/);
  await admin.screens('step-up-policy');

  // A policy that does not compile: refused, and the error is marked at its line.
  await editor.fill(BROKEN);
  await page.getByRole('button', { name: 'Save policy' }).click();
  const error = page.getByTestId('rego-error');
  await expect(error).toContainText(`Error at line ${BROKEN_LINE}`);
  await expect(page.getByTestId('rego-editor').locator(`[data-line="${BROKEN_LINE}"]`)).toHaveClass(/code-line-error/);
  await expect(page.getByTestId('rego-error-band')).toBeVisible();
  await expect(editor).toHaveAttribute('aria-invalid', 'true');
  await admin.screens('step-up-policy-error');
  await error.getByRole('button', { name: `Go to line ${BROKEN_LINE}` }).click();
  await expect(editor).toBeFocused();

  // Fixed, the tester runs the editor's text on the sample input (an own key's deletion).
  await editor.fill(POLICY);
  const input = page.getByLabel('Input (JSON)', { exact: true });
  expect(JSON.parse(await input.inputValue()).action).toBe('security_key.delete');
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(page.getByTestId('evaluation-max-age')).toContainText(`${MAX_AGE_SECONDS} seconds`);
  await expect(page.getByTestId('evaluation-reuse')).toContainText('reuse “class”');
  await expect(page.getByTestId('evaluation-time')).toHaveText(/^\d+ µs$/);
  await expect(error, 'a policy that compiles clears the mark').toHaveCount(0);
  // Another action falls to the default rule.
  await input.fill(JSON.stringify({ ...JSON.parse(await input.inputValue()), action: 'org.sso.configure' }, null, 2));
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(page.getByTestId('evaluation-max-age')).toContainText('300 seconds');
  await expect(page.getByTestId('evaluation-reuse')).toContainText('reuse “action”');
  await admin.screens('step-up-policy-test');

  // Saving needs a touch within 5 minutes; the login's own touch is that fresh, so no dialog.
  const stepUps = countStepUps(admin);
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByTestId('form-status')).toContainText(/Saved: the step-up policy is now version \d+\./);
  await expect(page.getByTestId('step-up-policy-source')).toContainText('Saved');
  await expect(editor).toHaveValue(POLICY);
  expect(stepUps(), 'the login touch is fresh enough to change the policy').toBe(0);
  await page.reload();
  await expect(page.getByLabel('Policy (Rego)', { exact: true })).toHaveValue(POLICY);

  journeyPassed(testInfo, '8-policy');
});

test('journey 8: deleting a key asks for a key touch, then deletes it; a second delete inside the window does not ask', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '8-policy');
  test.setTimeout(120_000 + MAX_AGE_SECONDS * 1000);
  const admin = await loggedIn(open, 'admin');
  const page = admin.page;
  const stepUps = countStepUps(admin);

  // Two keys to delete (each from a fresh authenticator: registered keys are excluded), then all of the
  // admin's keys in the one plugged in.
  await admin.nav('Security keys').click();
  for (const name of ['Admin step-up key A', 'Admin step-up key B']) {
    await admin.replaceKey();
    await admin.addKeyOnSettingsPage(name);
  }
  const lastTouch = Date.now();
  await admin.replaceKey();
  await admin.loadKeys();

  // The login's key touch satisfies a step-up while it is fresh: wait until it is older than the policy's
  // maximum age for deleting a key (the one fixed wait: the server's clock must move past it).
  await page.waitForTimeout(Math.max(0, lastTouch + (MAX_AGE_SECONDS + 1) * 1000 - Date.now()));

  // Delete key A: the app asks for a touch, naming the key and the policy's reason. Cancel first: the
  // deletion reports that it needs the touch, and nothing is deleted.
  await page.getByRole('button', { name: 'Delete Admin step-up key A' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete “Admin step-up key A”?' });
  await confirm.getByRole('button', { name: 'Delete key' }).click();
  const stepUp = page.getByRole('dialog', { name: STEP_UP_DIALOG });
  await expect(stepUp).toBeVisible();
  await expect(stepUp.getByTestId('step-up-what')).toHaveText('Delete security key ‘Admin step-up key A’');
  await expect(stepUp.getByTestId('step-up-reason')).toContainText('Deleting a security key needs a fresh touch.');
  await expect(stepUp.getByRole('button', { name: 'Touch your security key' })).toBeFocused();
  await stepUp.getByRole('button', { name: 'Cancel' }).click();
  await expect(stepUp).toBeHidden();
  await expect(confirm.getByRole('alert')).toHaveAttribute('data-code', 'STEP_UP_REQUIRED');
  await expect(admin.keyRow('Admin step-up key A')).toBeVisible();

  // Again; the browser's prompt is refused once (NotAllowedError), said in a sentence; then the touch works.
  await confirm.getByRole('button', { name: 'Delete key' }).click();
  await expect(stepUp).toBeVisible();
  await admin.screens('step-up-dialog');
  await admin.key.setUserVerified(false);
  await stepUp.getByRole('button', { name: 'Touch your security key' }).click();
  const refused = stepUp.getByRole('alert');
  await expect(refused).toHaveAttribute('data-code', 'WEBAUTHN_CANCELLED');
  await expect(refused).toHaveText('The security key request was cancelled or timed out; press “Touch your security key” to try again.');
  await admin.screens('step-up-dialog-cancelled');
  await admin.key.setUserVerified(true);
  await stepUp.getByRole('button', { name: 'Touch your security key' }).click();
  await expect(stepUp).toBeHidden();
  await expect(confirm).toBeHidden();
  await expect(page.getByText('Deleted “Admin step-up key A”.')).toBeVisible();
  await expect(admin.keyRow('Admin step-up key A')).toHaveCount(0);
  admin.ring.remove('Admin step-up key A');
  await admin.ring.sync(admin.key);
  const asked = stepUps();

  // Key B, inside the window: the touch just given covers the whole class; no dialog.
  await page.getByRole('button', { name: 'Delete Admin step-up key B' }).click();
  const confirmB = page.getByRole('dialog', { name: 'Delete “Admin step-up key B”?' });
  await confirmB.getByRole('button', { name: 'Delete key' }).click();
  await expect(page.getByText('Deleted “Admin step-up key B”.')).toBeVisible();
  await expect(admin.keyRow('Admin step-up key B')).toHaveCount(0);
  admin.ring.remove('Admin step-up key B');
  expect(stepUps(), 'no second key touch inside the window').toBe(asked);
  await expect(stepUp).toHaveCount(0);

  journeyPassed(testInfo, '8');
});

test('journey 8-page: /step-up logs a visitor in first, says what is asked, and returns to the path given', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '1');
  const admin = await open('admin');
  await admin.loadKeys();
  const page = admin.page;
  const ask = (extra: string) => `/step-up?action=deploy.production&resource=service%3Abilling${extra}`;

  // Not logged in: the login first (SSO, then the key), then back to the step-up page.
  await page.goto(ask('&return=%2Fsettings%2Fmfa%3Ffrom%3Dstep-up'));
  await expect(page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  await admin.ssoFromLoginPage();
  await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
  await page.getByRole('button', { name: 'Use security key' }).click();
  await expect(page.getByRole('heading', { name: STEP_UP_DIALOG, level: 1 })).toBeVisible();
  await expect(page).toHaveURL(/\/step-up\?action=deploy\.production&/);
  // An action Keyward has no words for is shown as it came.
  await expect(page.getByTestId('step-up-what')).toHaveText('deploy.production on service:billing');
  await expect(page.getByText('Afterwards you go back to /settings/mfa?from=step-up.')).toBeVisible();
  await admin.screens('step-up-page');
  await page.getByRole('button', { name: 'Touch your security key' }).click();
  await expect(page).toHaveURL(/\/settings\/mfa\?from=step-up$/);
  await expect(page.getByRole('heading', { name: 'Security keys', exact: true, level: 1 })).toBeVisible();

  // A return address on another host is ignored: the page says it is done instead.
  await page.goto(ask('&return=%2F%2Fevil.example%2Fx'));
  await expect(page.getByText('Afterwards you go back to')).toHaveCount(0);
  await page.getByRole('button', { name: 'Touch your security key' }).click();
  await expect(page.getByTestId('step-up-done')).toHaveText('Done. You can return to your terminal.');
  await expect(page).toHaveURL(/\/step-up\?/);
  await admin.screens('step-up-page-done');

  // For a terminal, the page shows the code to compare with the terminal's.
  await page.goto(ask('&handoff=00000000-0000-4000-8000-000000000000&code=WXYZ-2345'));
  await expect(page.getByTestId('handoff-code')).toHaveText('WXYZ-2345');
  await admin.screens('step-up-page-handoff');
  await admin.ring.sync(admin.key);

  journeyPassed(testInfo, '8-page');
});
