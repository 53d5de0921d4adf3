// Journey 7: the audit log shows the events of the journeys before it, the hash chain verifies,
// the filters narrow the list, and the JSON Lines export downloads every event, each line parsing.
//
// Expects: journey 1 passed (the admin logs in by SSO and a key). Checks the events of every
// earlier journey that passed on this backend in this run, so one failure upstream does not hide
// what the others recorded. Changes nothing but the admin's own login events.
import { readFileSync } from 'node:fs';
import { expect, journeysPassed, requireJourneys, test } from './support';

/** `action` or `action FAILURE`: what each journey must have left in the trail. */
const EXPECTED: Record<string, string[]> = {
  '1': [
    'org.bootstrapped',
    'backup_credentials.login',
    'org.sso.configured',
    'member.sso.linked',
    'security_key.registered',
    'backup_credentials.rotated',
    'session.logout',
    'sso.login',
    'mfa.login',
  ],
  '2': ['member.provisioned', 'security_key.renamed', 'security_key.deleted'],
  '3': ['org.mfa_enforcement.enabled'],
  '4': ['member.security_key.deleted'],
  '4-offboarding': ['member.deactivated', 'member.reactivated'],
  '5': ['recovery_codes.generated', 'recovery_code.used', 'recovery_code.used FAILURE', 'member.sessions.revoked'],
  '6-wrong-key': ['mfa.login FAILURE'],
  '6-expired': ['mfa.login FAILURE'],
};

interface ExportedEvent {
  seq: number;
  at: string;
  actor: string;
  actor_name: string | null;
  action: string;
  target: string | null;
  target_name: string | null;
  outcome: string;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: unknown;
  hash_version: number;
  prev_hash: string;
  hash: string;
}

/** The keys of `keyward audit export --format jsonl`, in its order (pinned in the gateway's tests too). */
const EXPORT_KEYS = [
  'action', 'actor', 'actor_name', 'at', 'details', 'hash', 'hash_version', 'ip', 'org_id', 'organization',
  'outcome', 'prev_hash', 'request_id', 'seq', 'target', 'target_name', 'user_agent',
];

test('journey 7: the audit log shows every journey, the chain verifies, filters work, the export parses', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '1');
  const passed = journeysPassed(testInfo);
  const expected = [...new Set(passed.flatMap((journey) => EXPECTED[journey] ?? []))].sort();

  const admin = await open('admin');
  await admin.loadKeys();
  await admin.fullLogin();
  const page = admin.page;
  await admin.nav('Organization').click();
  await admin.orgNav('Audit log').click();
  await expect(page.getByRole('heading', { name: 'Audit log', level: 1 })).toBeVisible();

  // The chain verifies.
  const chain = page.getByRole('status').filter({ hasText: /^Chain verified: \d+ events?$/ });
  await expect(chain).toBeVisible();
  const total = Number(/(\d+)/.exec((await chain.textContent()) ?? '')?.[1]);
  expect(total).toBeGreaterThan(expected.length);

  // Every event, page by page, newest first.
  const table = page.getByTestId('audit-table');
  const rows = table.locator('tbody tr[data-testid^="audit-event-"]');
  await expect(rows.first()).toBeVisible();
  await admin.screens('audit');
  const loadMore = page.getByRole('button', { name: 'Load more' });
  while ((await loadMore.count()) > 0) {
    const before = await rows.count();
    await loadMore.click();
    await expect.poll(() => rows.count()).toBeGreaterThan(before);
  }
  await expect(rows).toHaveCount(total);
  const seqs = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-testid')!.replace('audit-event-', ''))));
  expect(seqs).toEqual(Array.from({ length: total }, (_, i) => total - i));
  const shown = await onScreen(page);
  for (const want of expected) expect(shown, `the audit log lists ${want}`).toContain(want);

  // Filters: by action, target, actor and time; Clear goes back to the first page of everything.
  // (Polled: for a moment after Apply the table may still hold the previous list.)
  const unfiltered = page.getByText(/^Newest first\. \d+ events? shown\.$/);
  const filtered = page.getByText(/events? shown \(filtered\)/);
  // Cells show names and labels; each row carries the raw action, actor and target.
  const column = (label: 'Action' | 'Actor' | 'Target') =>
    rows.evaluateAll((trs, attr) => trs.map((tr) => tr.getAttribute(attr) ?? ''), `data-${label.toLowerCase()}`);
  const distinct = async (label: 'Action' | 'Actor' | 'Target') => [...new Set(await column(label))].sort();
  const apply = async (fields: Record<string, string>) => {
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect(unfiltered).toBeVisible();
    for (const [label, value] of Object.entries(fields)) {
      const field = page.getByLabel(label, { exact: true });
      if (label === 'Action') await field.selectOption(value);
      else await field.fill(value);
    }
    await page.getByRole('button', { name: 'Apply filters' }).click();
  };

  await apply({ Action: 'security_key.registered' });
  await expect(filtered).toBeVisible();
  await expect.poll(() => distinct('Action')).toEqual(['security_key.registered']);
  await admin.screens('audit-filtered');
  const target = (await column('Target'))[0];
  expect(target).toMatch(/^\w+:\S+$/);

  await apply({ Target: target });
  await expect(filtered).toBeVisible();
  await expect.poll(() => distinct('Target')).toEqual([target]);

  await apply({ Actor: 'system' });
  await expect(filtered).toBeVisible();
  await expect.poll(() => distinct('Actor')).toEqual(['system']);
  await expect(table.locator('tr[data-action="org.bootstrapped"]')).toHaveCount(1);

  await apply({ To: '2001-01-01T00:00' });
  await expect(page.getByTestId('no-audit-events')).toHaveText('No events match these filters.');
  await apply({ From: '2100-01-01T00:00' });
  await expect(page.getByTestId('no-audit-events')).toHaveText('No events match these filters.');
  await apply({ From: '2001-01-01T00:00', Action: 'org.bootstrapped' });
  await expect.poll(() => column('Action')).toEqual(['org.bootstrapped']);

  await page.getByRole('button', { name: 'Clear' }).click();
  await expect(unfiltered).toBeVisible();

  // The export: every event as JSON Lines, oldest first, hash-linked, in the format of `keyward audit export`.
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export JSON Lines' }).click();
  const file = testInfo.outputPath('audit.jsonl');
  await (await download).saveAs(file);
  await expect(page.getByTestId('export-progress')).toContainText(`Exported ${total} events`);
  await admin.screens('audit-exported');
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const events = text.trimEnd().split('\n').map((line, i) => {
    try {
      return JSON.parse(line) as ExportedEvent;
    } catch (err) {
      throw new Error(`line ${i + 1} of the export is not JSON: ${line}\n${err}`);
    }
  });
  expect(events).toHaveLength(total);
  events.forEach((event, i) => {
    expect(Object.keys(event), `event ${event.seq} has the keys of the CLI export`).toEqual(EXPORT_KEYS);
    expect(event.seq).toBe(i + 1);
    expect(event.hash).toMatch(/\S/);
    if (i > 0) expect(event.prev_hash, `event ${event.seq} links to the one before`).toBe(events[i - 1].hash);
  });
  // Events written by the browser's requests say which request and browser wrote them.
  const logins = events.filter((e) => e.action === 'mfa.login' && e.outcome === 'SUCCESS');
  expect(logins.length).toBeGreaterThan(0);
  for (const login of logins) {
    expect(login.request_id, `event ${login.seq} records its request`).toMatch(/\S/);
    expect(login.user_agent, `event ${login.seq} records the browser`).toMatch(/Chrom/);
    expect(login.actor_name, `event ${login.seq} names who logged in`).toMatch(/\S/);
  }
  const exported = events.map((e) => (e.outcome === 'FAILURE' ? `${e.action} FAILURE` : e.action));
  for (const want of expected) expect(exported, `the export holds ${want}`).toContain(want);
});

/** The actions in the table, with ` FAILURE` appended to failed ones. */
async function onScreen(page: import('@playwright/test').Page): Promise<string[]> {
  return page.getByTestId('audit-table').locator('tbody tr[data-testid^="audit-event-"]').evaluateAll((rows) =>
    rows.map((row) => {
      const action = row.getAttribute('data-action') ?? '';
      const outcome = row.querySelector('td[data-label="Outcome"]')?.textContent ?? '';
      return outcome === 'Failure' ? `${action} FAILURE` : action;
    }),
  );
}
