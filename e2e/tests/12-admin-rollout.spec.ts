// Journey 12: the admin drives a rollout. The overview says, at a glance, how many members have a key,
// whether MFA is enforced, whether SSO is set up and whether the audit chain holds; the Members tab
// searches and exports who has no key as CSV; a member's page lists their active sessions and leads to
// their audit events; the audit log reads by name and label, looks members up for its filters, and a
// filtered export says it is a subset. Then (12-enforcement) the grace period can be moved while enforced,
// and re-enforcing can keep the sessions of members who log in with a key.
//
// Expects: journeys 1, 2 and 3 passed (the admin, alice and bob each with a key; MFA enforced, no grace
// period). Leaves: MFA enforced without a grace period, as it found it.
import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { DISPLAY_NAMES, expect, journeyPassed, loggedIn, passIdp, requireJourneys, test, type Person } from './support';

const SUMMARY = /^(\d[\d,]*) of (\d[\d,]*) have a key, (\d+)% · (\d[\d,]*) without · (\d[\d,]*) with only one$/;

/** The numbers in the member summary line. */
async function summaryNumbers(page: Page): Promise<{ withKey: number; members: number; share: number; without: number; one: number }> {
  const text = (await page.getByTestId('member-summary').first().textContent()) ?? '';
  const match = SUMMARY.exec(text.trim());
  expect(match, `the summary reads like "412 of 500 have a key, 82% · 88 without · 140 with only one": ${text}`).not.toBeNull();
  const [withKey, members, share, without, one] = match!.slice(1).map((n) => Number(n.replaceAll(',', '')));
  return { withKey, members, share, without, one };
}

/** The browser's own time zone, as the SPA names it. */
function browserZone(page: Page): Promise<string> {
  return page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
}

/** The admin's own member ID, from the link on the Members tab. */
async function memberIdOf(admin: Person, username: string): Promise<string> {
  const page = admin.page;
  await admin.orgNav('Members').click();
  const link = page.getByTestId('members-table').getByRole('link', { name: username, exact: true });
  const href = (await link.getAttribute('href')) ?? '';
  return decodeURIComponent(href.replace('/org/members/', ''));
}

test('journey 12: overview, members search and CSV, sessions, audit by name and a subset export', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '1', '2', '3');
  const admin = await loggedIn(open, 'admin');
  const page = admin.page;

  // An admin's Home shows the organization at a glance: the same tiles as the overview.
  const glance = page.getByTestId('home-org-glance');
  await expect(glance.getByTestId('overview-enforcement')).toContainText('Enforced');
  await expect(glance.getByTestId('overview-sso')).toContainText('Configured');
  await expect(glance.getByTestId('overview-chain')).toContainText(/Verified \d[\d,]* events, unbroken\./);
  await expect(glance.getByTestId('member-summary')).toBeVisible();
  await expect(glance.getByRole('heading', { name: 'MFA enforcement', level: 3 })).toBeVisible();
  await admin.screens('admin-home');

  // The overview: four tiles, each linking to its page. Organization opens it.
  await admin.nav('Organization').click();
  await expect(page).toHaveURL(/\/org$/);
  const numbers = await summaryNumbers(page);
  expect(numbers.members).toBe(numbers.withKey + numbers.without);
  expect(numbers.share).toBe(Math.floor((numbers.withKey * 100) / numbers.members));
  await expect(page.getByTestId('overview-enforcement')).toContainText('Enforced');
  await expect(page.getByTestId('overview-sso')).toContainText('Configured');
  await expect(page.getByTestId('overview-sso')).toContainText('Any e-mail domain may sign in.');
  await expect(page.getByTestId('overview-chain')).toContainText(/Verified \d[\d,]* events, unbroken\./);
  await admin.screens('org-overview');
  await page.getByTestId('overview-audit').getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByRole('heading', { name: 'Audit log', level: 1 })).toBeVisible();

  // Members: the same summary, a search by name and by e-mail, and the list of who has no key.
  await admin.orgNav('Members').click();
  expect(await summaryNumbers(page)).toEqual(numbers);
  const members = page.getByTestId('members-table');
  const rows = members.locator('tbody tr');
  await expect(members.getByRole('link', { name: 'alice', exact: true })).toBeVisible();
  const search = page.getByLabel('Search members');
  await search.fill('alice m');
  await expect(members.getByRole('link', { name: 'bob', exact: true })).toHaveCount(0);
  await expect(rows).toHaveCount(1);
  await expect(members.getByRole('link', { name: 'alice', exact: true })).toBeVisible();
  await admin.screens('organization-members');
  const bobEmail = await (async () => {
    await search.fill('BOB');
    await expect(members.getByRole('link', { name: 'bob', exact: true })).toBeVisible();
    await expect(rows).toHaveCount(1);
    return (await rows.locator('td[data-label="E-mail"]').textContent())?.trim() ?? '';
  })();
  if (bobEmail.includes('@')) {
    await search.fill('zz-nobody');
    await expect(page.getByTestId('no-members')).toBeVisible();
    await search.fill(bobEmail.toUpperCase());
    await expect(members.getByRole('link', { name: 'bob', exact: true })).toBeVisible();
    await expect(rows).toHaveCount(1);
  }
  await search.fill('no-such-member-zz');
  await expect(page.getByTestId('no-members')).toHaveText('No member matches “no-such-member-zz”.');
  await search.fill('');
  await expect(members.getByRole('link', { name: 'bob', exact: true })).toBeVisible();

  // The CSV of members without a key: a header, then exactly as many as the summary counts.
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export members without a key (CSV)' }).click();
  const file = testInfo.outputPath('members-without-key.csv');
  const csvDownload = await download;
  expect(csvDownload.suggestedFilename()).toBe('keyward-members-without-key-default.csv');
  await csvDownload.saveAs(file);
  await expect(page.getByTestId('members-export-progress')).toContainText(`Exported ${numbers.without} member`);
  const lines = readFileSync(file, 'utf8').split('\r\n');
  expect(lines[0]).toBe('username,display name,e-mail,created,last login');
  expect(lines.at(-1), 'the file ends with a line break').toBe('');
  expect(lines.slice(1, -1)).toHaveLength(numbers.without);

  // A member's page: their active sessions (this one marked) and links to what they did.
  const adminId = await memberIdOf(admin, 'admin');
  await members.getByRole('link', { name: 'admin', exact: true }).click();
  await expect(page.getByRole('heading', { name: DISPLAY_NAMES.admin, level: 1 })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Active sessions' })).toBeVisible();
  const sessions = page.getByTestId('member-sessions');
  const mine = sessions.locator('tbody tr').filter({ hasText: 'this session' });
  await expect(mine).toHaveCount(1);
  await expect(mine.locator('td[data-label="Device"]')).toContainText(/Chrom/);
  await expect(mine.locator('td[data-label="IP address"]')).toContainText(/\d|:/);
  await admin.screens('member-page-sessions');
  await page.getByTestId('member-audit-actor').click();

  // The audit log, filtered by the address to the admin's own events, by name, with labels.
  await expect(page).toHaveURL(/\/org\/audit\?actor=member%3A/);
  await expect(page.getByLabel('Actor', { exact: true })).toHaveValue(`member:${adminId}`);
  const table = page.getByTestId('audit-table');
  const events = table.locator('tbody tr[data-testid^="audit-event-"]');
  await expect(events.first()).toBeVisible();
  await expect.poll(() => events.evaluateAll((trs) => [...new Set(trs.map((tr) => tr.getAttribute('data-actor')))])).toEqual([`member:${adminId}`]);
  // By name (the admin's audit name is their username or display name), linked to their page.
  await expect(events.first().locator('td[data-label="Actor"]').getByRole('link', { name: /^(admin|Administrator)$/ })).toHaveAttribute(
    'href',
    `/org/members/${adminId}`,
  );
  const login = table.locator('tr[data-action="mfa.login"]').first();
  const label = ((await login.locator('td[data-label="Action"]').textContent()) ?? '').trim();
  expect(label, 'actions read as labels, not codes').not.toMatch(/^[a-z_.]+$/);
  await expect(page.getByTestId('audit-zone')).toContainText(`${await browserZone(page)} (UTC`);
  // Details keep the raw IDs.
  await login.getByRole('button', { name: /^Details/ }).click();
  await expect(table.locator('.audit-details').first()).toContainText(`member:${adminId}`);
  await admin.screens('audit-log');

  // The action dropdown lists labels; choosing one filters to that action.
  const action = page.getByLabel('Action', { exact: true });
  await expect(action.locator('option', { hasText: label })).toHaveCount(1);
  await action.selectOption({ label });
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page.getByText(/events? shown \(filtered\)/)).toBeVisible();
  await expect.poll(() => events.evaluateAll((trs) => [...new Set(trs.map((tr) => tr.getAttribute('data-action')))])).toEqual(['mfa.login']);

  // The actor field looks members up by name and fills in member:<id>.
  await page.getByRole('button', { name: 'Clear' }).click();
  const actor = page.getByLabel('Actor', { exact: true });
  await actor.fill('Alice');
  await page.getByRole('button', { name: new RegExp(`^${DISPLAY_NAMES.alice}`) }).click();
  await expect(actor).toHaveValue(/^member:\S+$/);
  await expect(page.getByText(`Member: ${DISPLAY_NAMES.alice}`)).toBeVisible();
  const aliceActor = await actor.inputValue();
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(/actor=member/);
  await expect.poll(() => events.evaluateAll((trs) => [...new Set(trs.map((tr) => tr.getAttribute('data-actor')))])).toEqual([aliceActor]);
  await admin.screens('audit-log-filtered');

  // A filtered export says it is a subset, on the page and in the file.
  await expect(page.getByTestId('export-subset')).toContainText('cannot be checked on its own');
  const subsetDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export the filtered subset (JSON Lines)' }).click();
  const subset = await subsetDownload;
  expect(subset.suggestedFilename()).toBe('keyward-audit-default-subset.jsonl');
  const subsetFile = testInfo.outputPath('audit-subset.jsonl');
  await subset.saveAs(subsetFile);
  const [header, ...exported] = readFileSync(subsetFile, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
  expect(header.keyward_audit_export).toMatchObject({ subset: true, filter: { actor: aliceActor }, organization: 'default' });
  expect(header.keyward_audit_export.note).toContain('cannot be checked on its own');
  expect(exported.length).toBe(header.keyward_audit_export.events);
  expect(exported.length).toBeGreaterThan(0);
  for (const event of exported) expect(event.actor).toBe(aliceActor);

  journeyPassed(testInfo, '12');
});

test('journey 12-enforcement: move the grace period while enforced; re-enforce keeping keyed sessions', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '12');
  const alice = await loggedIn(open, 'alice');
  const admin = await loggedIn(open, 'admin');
  const page = admin.page;
  const zone = await browserZone(page);
  await admin.nav('Organization').click();
  await admin.orgNav('MFA').click();
  await expect(page.getByTestId('enforcement-state')).toContainText('MFA is enforced.');

  // Enforced without a grace period: give one (14 days by default, in the browser's named zone). Nothing ends.
  await page.getByRole('button', { name: 'Change the grace period…' }).click();
  const change = page.getByRole('dialog', { name: 'Change the grace period' });
  await change.getByLabel('Members without a key have a grace period').check();
  const expected = await page.evaluate(() => {
    const d = new Date(Date.now() + 14 * 24 * 3600 * 1000);
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  });
  await expect(change.getByTestId('grace-input')).toHaveValue(expected);
  await expect(change.getByTestId('grace-zone')).toHaveText(new RegExp(`^${zone.replace('/', '\\/')} \\(UTC[+-]\\d\\d:\\d\\d\\)$`));
  await admin.screens('grace-change');
  await change.getByRole('button', { name: 'Save the grace period' }).click();
  await expect(change).toBeHidden();
  await expect(page.getByTestId('org-status')).toHaveText('Grace period changed; no session ended.');
  await expect(page.getByTestId('grace-deadline')).toContainText(`${zone} (UTC`);
  // Alice's session survived the update.
  await alice.nav('Security keys').click();
  await expect(alice.page.getByRole('table', { name: 'Your security keys' })).toBeVisible();

  // Stop enforcing, then enforce again keeping the sessions that a key confirmed (alice's).
  await page.getByRole('button', { name: 'Stop enforcing MFA…' }).click();
  await page.getByRole('dialog', { name: 'Stop enforcing MFA?' }).getByRole('button', { name: 'Stop enforcing' }).click();
  await expect(page.getByTestId('enforcement-state')).toContainText('MFA is not enforced.');
  await page.getByRole('button', { name: 'Enforce MFA…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Enforce MFA?' });
  await expect(dialog.getByTestId('enforcement-preview')).toBeVisible();
  await expect(dialog.getByTestId('grace-input'), 'a 14-day grace period by default').toHaveValue(expected);
  const all = dialog.getByRole('button', { name: /^Enforce MFA and end (\d[\d,]*) sessions?$/ });
  const allCount = Number(/(\d[\d,]*) session/.exec((await all.textContent()) ?? '')![1].replaceAll(',', ''));
  expect(allCount, "alice's session at least").toBeGreaterThanOrEqual(1);
  await admin.screens('enforcement-preview');
  await dialog.getByLabel('Keep the sessions of members who already log in with a key (only keyless sessions end)').check();
  const keyless = dialog.getByRole('button', { name: /^Enforce MFA (and end \d[\d,]* sessions?|\(no session ends\))$/ });
  const keylessText = (await keyless.textContent()) ?? '';
  const keylessCount = /no session ends/.test(keylessText) ? 0 : Number(/(\d[\d,]*) session/.exec(keylessText)![1]);
  expect(keylessCount, "alice logged in with her key: her session is not counted").toBeLessThan(allCount);
  await dialog.getByLabel('Give members without a key a grace period').uncheck();
  await keyless.click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('org-status')).toContainText(`MFA is now enforced: ${keylessCount} session`);
  await expect(page.getByTestId('grace-deadline')).toHaveCount(0);

  // Alice keeps working.
  await alice.nav('Home').click();
  await alice.expectHome();
  await alice.nav('Security keys').click();
  await expect(alice.page.getByRole('table', { name: 'Your security keys' })).toBeVisible();

  journeyPassed(testInfo, '12-enforcement');
});

/** A GraphQL request from the page itself (its session cookie, same origin), answered as JSON. */
function graphql(page: Page, query: string, variables: Record<string, unknown>) {
  return page.evaluate(
    async ({ query, variables }) =>
      (await fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) })).json(),
    { query, variables },
  );
}

test('journey 12-settings: policy changes are previewed and refused when they lock everyone out; SSO keeps its secret and tests a sign-in', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '1', '2', '3');
  const admin = await loggedIn(open, 'admin');
  const page = admin.page;
  await admin.nav('Organization').click();

  // WebAuthn policy: allow only one model, picked by name. The preview lists every member with keys, and
  // the save is refused (it would leave every admin without an accepted key).
  await admin.orgNav('WebAuthn policy').click();
  // Model lists need attestation (DIRECT): a key's model is known only from its attestation.
  const attestation = page.getByLabel('Attestation', { exact: true });
  const storedAttestation = await attestation.inputValue();
  await attestation.selectOption('DIRECT');
  const allowed = page.getByRole('group', { name: 'Allowed authenticator models' });
  await allowed.getByLabel('Find a model for allowed authenticator models').fill('YubiKey 5');
  const model = allowed.getByRole('list', { name: /^Models matching/ }).getByRole('button').first();
  const modelText = (await model.textContent()) ?? '';
  await model.click();
  const chosen = allowed.getByRole('list', { name: 'Allowed authenticator models: chosen' });
  await expect(chosen.getByRole('listitem')).toHaveCount(1);
  await expect(chosen).toContainText(/YubiKey 5/);
  await expect(chosen.locator('small')).toHaveText(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const aaguid = (await chosen.locator('small').textContent())!;
  expect(modelText).toContain(aaguid);
  // This server trusts no attestation roots: the preview answers like the save would, under the field.
  await page.getByRole('button', { name: 'Save policy…' }).click();
  await expect(allowed.locator('.field-error')).toContainText('attestation_roots');
  await admin.screens('webauthn-policy-no-roots');

  // Back as it was; the real refusal needs no roots: Dana, a second admin whose only key is a synced passkey,
  // would lock herself out with "device-bound keys only". The server's preview names her and refuses, and
  // so does the save itself, for a script as much as for this page.
  await chosen.getByRole('button', { name: /^Remove/ }).click();
  await expect(chosen).toHaveCount(0);
  await attestation.selectOption(storedAttestation);
  const dana = await open('dana');
  await dana.replaceKey({ synced: true });
  await dana.ssoLogin();
  await dana.registerOnForcedScreen('Dana phone passkey');
  await dana.skipRecoveryCodesStep();
  const danaPage = dana.page;
  await dana.nav('Organization').click();
  await dana.orgNav('WebAuthn policy').click();
  await danaPage.getByLabel('Device-bound keys only').check();
  await danaPage.getByRole('button', { name: 'Save policy…' }).click();
  const danaPreview = danaPage.getByRole('dialog', { name: 'Save this WebAuthn policy?' });
  await expect(danaPreview.getByTestId('policy-changes').getByRole('row', { name: /Device-bound keys only/ })).toBeVisible();
  const danaAtRisk = danaPreview.getByTestId('policy-at-risk').getByRole('listitem').filter({ hasText: DISPLAY_NAMES.dana }).first();
  await expect(danaAtRisk).toContainText('“Dana phone passkey”: your organization accepts only device-bound security keys, not synced passkeys');
  const refusal = 'this policy refuses every one of your security keys, so you could not log in again: register a key it accepts first';
  await expect(danaPreview.getByTestId('policy-refusal')).toHaveText(`This policy cannot be saved: ${refusal}`);
  await expect(danaPreview.getByRole('button', { name: /^Save/ })).toBeDisabled();
  await dana.screens('webauthn-policy-preview');
  await danaPreview.getByRole('button', { name: 'Cancel' }).click();
  const policy = (await graphql(danaPage, '{ organization { webauthnPolicy { userVerification attestation deviceBoundOnly ceremonyTimeoutSeconds } } }', {})).data
    .organization.webauthnPolicy;
  const saved = await graphql(
    danaPage,
    'mutation($p: WebauthnPolicyInput!) { webauthnPolicyUpdate(input: $p) { deviceBoundOnly } }',
    { p: { ...policy, deviceBoundOnly: true } },
  );
  expect(saved.errors?.[0]?.extensions?.code, JSON.stringify(saved)).toBe('POLICY_DENIED');
  expect(saved.errors[0].message).toBe(refusal);
  // The admin, whose keys are device-bound, may save it: the preview names Dana, and nobody else refuses.
  await page.getByLabel('Device-bound keys only').check();
  await page.getByRole('button', { name: 'Save policy…' }).click();
  const preview = page.getByRole('dialog', { name: 'Save this WebAuthn policy?' });
  await expect(preview.getByTestId('policy-at-risk')).toContainText(DISPLAY_NAMES.dana);
  await expect(preview.getByTestId('policy-refusal')).toHaveCount(0);
  await expect(preview.getByRole('button', { name: /^Save/ })).toBeEnabled();
  await preview.getByRole('button', { name: 'Cancel' }).click();
  await page.getByLabel('Device-bound keys only').uncheck();

  // A harmless change: the preview shows it, locks nobody out, and saves.
  const timeout = page.getByLabel('Security key prompt timeout (seconds)');
  const before = await timeout.inputValue();
  const after = before === '90' ? '120' : '90';
  await timeout.fill(after);
  await page.getByRole('button', { name: 'Save policy…' }).click();
  await expect(preview.getByTestId('policy-changes').getByRole('row', { name: /Security key prompt timeout/ })).toContainText(after);
  await expect(preview.getByTestId('policy-nobody-locked-out')).toBeVisible();
  await preview.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByTestId('form-status')).toHaveText('Policy saved. It applies from the next registration or login.');
  // Back as it was.
  await timeout.fill(before);
  await page.getByRole('button', { name: 'Save policy…' }).click();
  await preview.getByRole('button', { name: 'Save policy' }).click();
  await expect(preview).toBeHidden();
  await expect(page.getByTestId('form-status')).toHaveText('Policy saved. It applies from the next registration or login.');

  // SSO: the stored secret stays unless a new one is typed; open domains are warned about.
  await admin.orgNav('Single sign-on').click();
  const secret = page.getByLabel('Client secret', { exact: true });
  await expect(secret).toHaveAttribute('placeholder', 'stored — leave empty to keep');
  await expect(page.getByTestId('sso-current')).toContainText('stored');
  await expect(page.getByTestId('sso-any-domain')).toHaveText(
    'No allowed domains: anyone with an account at your IdP can sign in and get a Keyward account.',
  );
  await page.getByRole('button', { name: 'Save SSO settings' }).click();
  await expect(page.getByText('SSO settings saved').first()).toBeVisible();

  // An admin group nobody is in would leave no admin: refused, next to the group fields.
  const group = page.getByLabel('Admin group value', { exact: true });
  await group.fill('nobody-is-in-this-group');
  await page.getByRole('button', { name: 'Save SSO settings' }).click();
  const groupRefusal = page.getByTestId('sso-group-refusal');
  await expect(groupRefusal.getByRole('alert')).toHaveAttribute('data-code', 'POLICY_DENIED');
  await admin.screens('sso-group-refused');
  await group.fill('keyward-admins');

  // Test sign-in with the form's unsaved values: a domain the admin's address is not in.
  const domains = page.getByLabel('Allowed e-mail domains', { exact: true });
  await domains.fill('example.invalid');
  await expect(page.getByTestId('sso-any-domain')).toHaveCount(0);
  const start = page.url();
  await page.getByRole('button', { name: 'Test sign-in' }).click();
  await passIdp(page, 'admin', start);
  await expect(page).toHaveURL(/\/org\/sso\?tested=1$/);
  const result = page.getByTestId('sso-test-result');
  await expect(result.getByTestId('sso-test-role')).toHaveText('Admin');
  await expect(result).toContainText(`${DISPLAY_NAMES.admin} (admin)`);
  await expect(result).toContainText('keyward-admins');
  await expect(result.getByTestId('sso-test-problems'), 'the address is outside example.invalid').toBeVisible();
  await expect(domains, 'the unsaved form values came back').toHaveValue('example.invalid');
  await admin.screens('single-sign-on');
  await result.getByRole('link', { name: 'Back to the form' }).click();
  await expect(result).toBeHidden();
  // Nothing was saved by the test.
  await expect(page.getByTestId('sso-current')).not.toContainText('example.invalid');

  journeyPassed(testInfo, '12-settings');
});
