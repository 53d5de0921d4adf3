// Journey 11: pipeline approvals. The admin creates an API key for a pipeline (its secret shown once) and saves
// an approval policy (production: two approvals, never the requester or the commit author). A pipeline
// (examples/pipeline-demo.sh, with that key) asks to deploy to production on alice's behalf and waits. Alice
// opens the link it printed: she is told she cannot approve her own request, and the server refuses her when
// she tries anyway. The admin and bob approve with their keys in the inbox; the waiting pipeline gets the
// token, verifies it offline and deploys; the request page shows both votes, the keys they used and the
// token's jti. Then (11-reject) another run is rejected with a reason, and the pipeline exits 1.
//
// Expects: journeys 1, 2 and 3 passed (the admin, alice and bob each with a key; MFA enforced) and 8's
// step-up policy or the built-in one (saving a policy or an API key within 5 minutes of the login touch
// needs no second touch). Leaves: an active API key "pipeline-demo (e2e)", approval policy saved, one
// approved and one rejected request.

import type { Page } from '@playwright/test';
import { PipelineRun, saveApiKey, savedApiKey } from './pipeline';
import { expect, journeyPassed, loggedIn, requireJourneys, test, type Person } from './support';

/** Production needs two approvers who are neither the requester nor the commit author; the rest one. */
const POLICY = `package keyward.approval

import rego.v1

default decision := {"outcome": "PENDING", "requirements": {"count": 1, "expires_in_seconds": 900}, "reason": "One approval outside production."}

decision := {
	"outcome": "PENDING",
	"requirements": {"count": 2, "exclude_requester": true, "exclude_commit_author": true, "distinct_keys": true, "expires_in_seconds": 900},
	"reason": "Production needs two approvers.",
} if {
	input.environment == "production"
}
`;

const API_KEY_NAME = 'pipeline-demo (e2e)';
const COMMIT_SHA = '5d1e0c0ffee5d1e0c0ffee5d1e0c0ffee5d1e0c0';

/** The demo pipeline's settings for one run: alice asks, someone outside the organization wrote the commit. */
function runSettings(runId: string): Record<string, string> {
  return {
    PIPELINE: 'demo/web-shop',
    RUN_ID: runId,
    STAGE: 'deploy',
    ENVIRONMENT: 'production',
    COMMIT_SHA,
    COMMIT_AUTHOR: 'contractor@example.com',
    REQUESTER: 'alice',
    SENSITIVE: 'iam,database',
  };
}

/**
 * Tries to approve request `id` as whoever is logged in on `page`, straight through the API (begin, the
 * browser's key, finish), as a member would with the buttons hidden; the error's extensions, or
 * `{ code: 'OK' }`. The server may refuse at begin or at finish: either counts.
 */
async function tryApprove(page: Page, id: string): Promise<Record<string, unknown>> {
  return page.evaluate(async (requestId) => {
    const gql = async (query: string, variables: Record<string, unknown>) =>
      (await fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) })).json();
    const b64 = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
    const enc = (buffer: ArrayBuffer | null) =>
      buffer ? btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') : null;
    const begin = await gql('mutation ($id: ID!) { approvalBegin(id: $id) { ceremonyId options } }', { id: requestId });
    if (begin.errors) return begin.errors[0].extensions ?? { code: 'NO_CODE' };
    const { ceremonyId, options } = begin.data.approvalBegin;
    const o = options.publicKey ?? options;
    const credential = (await navigator.credentials.get({
      publicKey: {
        ...o,
        challenge: b64(o.challenge),
        allowCredentials: (o.allowCredentials ?? []).map((c: { id: string; type: 'public-key' }) => ({ ...c, id: b64(c.id) })),
      },
    })) as PublicKeyCredential;
    const answer = credential.response as AuthenticatorAssertionResponse;
    const response = {
      id: credential.id,
      rawId: enc(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: enc(answer.clientDataJSON),
        authenticatorData: enc(answer.authenticatorData),
        signature: enc(answer.signature),
        userHandle: enc(answer.userHandle),
      },
      clientExtensionResults: {},
    };
    const finish = await gql(
      'mutation ($id: ID!, $c: ID!, $r: JSON!) { approvalFinish(id: $id, ceremonyId: $c, response: $r) { status } }',
      { id: requestId, c: ceremonyId, r: response },
    );
    return finish.errors ? (finish.errors[0].extensions ?? { code: 'NO_CODE' }) : { code: 'OK' };
  }, id);
}

/** Opens the Approvals inbox from the main navigation and returns the request's card. */
async function inboxCard(person: Person, requestId: string) {
  await person.page.getByTestId('nav-approvals').click();
  await expect(person.page.getByRole('heading', { name: 'Approvals', level: 1 })).toBeVisible();
  const card = person.page.getByTestId(`approval-${requestId}`);
  await expect(card).toBeVisible();
  return card;
}

test.describe('journey 11: pipeline approvals', () => {
  test('journey 11-setup: the admin creates an API key (secret shown once) and an approval policy', async ({ open }, testInfo) => {
    requireJourneys(testInfo, '1');
    const admin = await loggedIn(open, 'admin');
    const page = admin.page;

    await admin.nav('Organization').click();
    await admin.orgNav('API keys').click();
    await expect(page.getByRole('heading', { name: 'API keys', level: 1 })).toBeVisible();
    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create an API key' });
    await dialog.getByRole('button', { name: 'Create key' }).click();
    await expect(dialog.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
    await dialog.getByLabel('Name').fill(API_KEY_NAME);
    await expect(dialog.getByLabel('approvals:request')).toBeChecked();
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const created = page.getByRole('dialog', { name: 'API key created' });
    const secret = await created.getByLabel(`Secret of “${API_KEY_NAME}”`).inputValue();
    expect(secret).toMatch(/^kwk_[A-Za-z0-9_-]{43}$/);
    await expect(created).toContainText('This secret is shown only once.');
    await admin.screens('api-key-created');
    await created.getByRole('button', { name: 'Done' }).click();
    const row = page.getByTestId('api-keys').getByRole('row').filter({ hasText: API_KEY_NAME });
    await expect(row).toContainText(secret.slice(0, 12));
    await expect(row).toContainText('approvals:request');
    await expect(row).not.toContainText(secret.slice(12));
    saveApiKey(testInfo, secret);
    await admin.screens('api-keys');

    await admin.orgNav('Approval policy').click();
    const editor = page.getByLabel('Policy (Rego)', { exact: true });
    await editor.fill(POLICY);
    const input = page.getByLabel('Input (JSON)', { exact: true });
    expect(JSON.parse(await input.inputValue()).environment).toBe('production');
    await page.getByRole('button', { name: 'Evaluate' }).click();
    await expect(page.getByTestId('evaluation-outcome')).toHaveAttribute('data-outcome', 'PENDING');
    await expect(page.getByTestId('evaluation-requirements')).toContainText('2 approvals, each from a different person.');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await expect(page.getByTestId('form-status')).toContainText(/Saved: the approval policy is now version \d+\./);
    await admin.screens('approval-policy');

    journeyPassed(testInfo, '11-setup');
  });

  test('journey 11: two members approve a production deploy while the pipeline waits; the requester cannot approve it', async ({ open }, testInfo) => {
    requireJourneys(testInfo, '11-setup', '2', '3');
    test.setTimeout(240_000);
    const backend = testInfo.project.use.baseURL!;
    const run = PipelineRun.start(backend, savedApiKey(testInfo), runSettings(`e2e-approve-${Date.now()}`));
    try {
      const requestId = await run.field('request-id');
      const url = await run.field('approval-url');
      expect(url).toBe(`${backend}/approvals/${requestId}`);
      expect(await run.field('status')).toBe('PENDING');

      // Alice, the requester, opens the link from a browser that is not logged in: the login, then the request.
      const alice = await open('alice');
      await alice.loadKeys();
      await alice.page.goto(url);
      await expect(alice.page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
      await alice.ssoFromLoginPage();
      await alice.page.getByRole('button', { name: 'Use security key' }).click();
      await expect(alice.page.getByRole('heading', { name: 'demo/web-shop: deploy → production', level: 1 })).toBeVisible();
      await expect(alice.page).toHaveURL(url);
      await expect(alice.page.getByTestId('approval-blocked')).toHaveText('You requested this run, so you cannot approve it yourself: another member must.');
      await expect(alice.page.getByRole('button', { name: 'Approve', exact: true })).toHaveCount(0);
      await expect(alice.page.getByTestId('requirements')).toContainText('Not the requester, and not the author of the commit.');
      await expect(alice.page.getByTestId('approval-reason')).toHaveText('Production needs two approvers.');
      await alice.screens('approval-requester-blocked');
      // Straight through the API, with her key: refused, naming why.
      expect(await tryApprove(alice.page, requestId)).toMatchObject({ code: 'APPROVER_NOT_ELIGIBLE', reason: 'REQUESTER' });
      await alice.ring.sync(alice.key);

      // The admin approves in the inbox: everything a decision needs is on the card.
      const admin = await loggedIn(open, 'admin');
      const card = await inboxCard(admin, requestId);
      await expect(card.getByTestId('commit-short')).toHaveText(COMMIT_SHA.slice(0, 7));
      await expect(card.getByTestId('requester')).toContainText('alice');
      await expect(card.getByTestId('sensitive-flags')).toContainText('iam');
      await expect(card.getByTestId('sensitive-flags')).toContainText('database');
      await expect(card.getByTestId('time-left')).toContainText(/\d left/);
      await expect(card.getByTestId('approval-progress')).toHaveText('0 of 2 approvals');
      await admin.screens('approvals-inbox');
      await card.getByRole('button', { name: 'Approve', exact: true }).click();
      await expect(admin.page.getByTestId('approvals-status')).toHaveText('You approved “demo/web-shop: deploy → production”: 1 of 2 approvals so far.');
      await expect(card.getByTestId('approval-blocked')).toHaveText('You have already decided on this request; each person counts once.');
      await admin.ring.sync(admin.key);
      expect(run.running(), 'one approval of two: the pipeline still waits').toBe(true);

      // Alice's open page follows along without a reload.
      await expect(alice.page.getByTestId('vote-admin')).toContainText('Admin desk key');

      // Bob sees the pending count and approves: the request is approved.
      const bob = await loggedIn(open, 'bob');
      await expect(bob.page.getByTestId('pending-count')).toBeVisible();
      const bobCard = await inboxCard(bob, requestId);
      await expect(bobCard.getByTestId('approval-progress')).toContainText('1 of 2 approvals');
      await bobCard.getByRole('button', { name: 'Approve', exact: true }).click();
      await expect(bob.page.getByTestId('approvals-status')).toContainText('it is approved, and the pipeline can go on');
      await bob.ring.sync(bob.key);

      // The pipeline gets the token, verifies it offline and deploys.
      expect(await run.exit(60_000), run.output()).toBe(0);
      expect(run.output()).toContain('==> token verified');
      expect(run.output()).toContain('deployed demo/web-shop');
      const claims = run.claims();
      expect(claims).toMatchObject({ sub: requestId, token_use: 'approval', stage: 'deploy', environment: 'production', commit: COMMIT_SHA, amr: ['hwk'] });
      expect(claims.approvers).toHaveLength(2);

      // The request page: approved, by whom with which key, and the token's jti.
      await admin.page.goto(`/approvals/${requestId}`);
      await expect(admin.page.getByTestId('approval-outcome')).toHaveAttribute('data-status', 'APPROVED');
      await expect(admin.page.getByTestId('token-jti')).toHaveText(claims.jti);
      await expect(admin.page.getByTestId('vote-admin')).toContainText('Admin desk key');
      await expect(admin.page.getByTestId('vote-bob')).toContainText('Bob key');
      await expect(admin.page.getByTestId('decision-log').locator('li[data-kind="POLICY"]')).not.toHaveCount(0);
      await expect(admin.page.getByTestId('decision-log').locator('li[data-kind="TOKEN"]')).toContainText(claims.jti);
      await admin.screens('approval-request-approved');
    } finally {
      run.stop();
    }
    journeyPassed(testInfo, '11');
  });

  test('journey 11-reject: a rejection with a reason ends the wait with exit code 1', async ({ open }, testInfo) => {
    requireJourneys(testInfo, '11-setup');
    test.setTimeout(120_000);
    const backend = testInfo.project.use.baseURL!;
    const run = PipelineRun.start(backend, savedApiKey(testInfo), runSettings(`e2e-reject-${Date.now()}`));
    try {
      const url = await run.field('approval-url');
      const admin = await loggedIn(open, 'admin');
      const page = admin.page;
      await page.goto(url);
      await page.getByRole('button', { name: 'Reject', exact: true }).click();
      const dialog = page.getByRole('dialog', { name: 'Reject this request?' });
      // A reason is required.
      await dialog.getByRole('button', { name: 'Reject with security key' }).click();
      await expect(dialog.getByRole('alert')).toContainText('Say why you reject it');
      await dialog.getByLabel('Reason').fill('Change freeze until Monday.');
      await admin.screens('approval-reject-dialog');
      await dialog.getByRole('button', { name: 'Reject with security key' }).click();
      await expect(dialog).toBeHidden();
      await expect(page.getByTestId('approval-outcome')).toHaveAttribute('data-status', 'REJECTED');
      await expect(page.getByTestId('approval-outcome')).toContainText('Change freeze until Monday.');
      await admin.ring.sync(admin.key);

      expect(await run.exit(60_000), run.output()).toBe(1);
      expect(run.output()).toContain('==> rejected: not deploying');
      expect(run.output()).not.toContain('deploying…');
      await admin.screens('approval-request-rejected');
    } finally {
      run.stop();
    }
    journeyPassed(testInfo, '11-reject');
  });
});
