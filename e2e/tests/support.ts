// Helpers for the e2e journeys: backend state, journey bookkeeping, browser contexts, CDP virtual
// authenticators with a key ring that carries credentials from one journey to the next, the IdP's
// forms, and screenshots of every screen at desktop width and at 375 px.
//
// The journeys share one stack per backend and build on one another (01 → 07, run in file order by
// one worker). Each journey records that it passed in `.state/<backend>-journeys.json`; a journey
// whose prerequisites did not pass is skipped with a sentence naming them, instead of failing with
// an error that only repeats the first failure.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type Browser, type BrowserContext, type CDPSession, type Page, type Route, type TestInfo } from '@playwright/test';
import { IDP_ORIGIN, ORGANIZATION } from '../stack';

const HERE = dirname(fileURLToPath(import.meta.url));
const STATE = join(HERE, '..', '.state');

export type User = 'admin' | 'alice' | 'bob' | 'dana';

/** Names shown by the SPA (display names from the IdP; the backup admin keeps "Administrator"). */
export const DISPLAY_NAMES: Record<User, string> = { admin: 'Administrator', alice: 'Alice Member', bob: 'Bob Member', dana: 'Dana Admin' };

export function backendState(testInfo: TestInfo): { secret: string; databaseUrl: string } {
  return JSON.parse(readFileSync(join(STATE, `${testInfo.project.name}.json`), 'utf8'));
}

/** Remembers a rotated backup secret for the rest of the run. */
export function saveBackupSecret(testInfo: TestInfo, secret: string) {
  writeFileSync(join(STATE, `${testInfo.project.name}.json`), JSON.stringify({ ...backendState(testInfo), secret }));
}

// --- journeys ------------------------------------------------------------------------------------

function journeysFile(testInfo: TestInfo): string {
  return join(STATE, `${testInfo.project.name}-journeys.json`);
}

/** The journeys (or journey parts, e.g. `6-cancel`) that passed on this backend in this run. */
export function journeysPassed(testInfo: TestInfo): string[] {
  const file = journeysFile(testInfo);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
}

/** Records that `journey` passed; call it as the last line of the test. */
export function journeyPassed(testInfo: TestInfo, journey: string) {
  const passed = new Set(journeysPassed(testInfo));
  passed.add(journey);
  writeFileSync(journeysFile(testInfo), JSON.stringify([...passed]));
}

/** Skips the current test, saying why, unless every journey it builds on passed on this backend. */
export function requireJourneys(testInfo: TestInfo, ...journeys: string[]) {
  const passed = new Set(journeysPassed(testInfo));
  const missing = journeys.filter((j) => !passed.has(j));
  if (missing.length === 0) return;
  const why = `builds on journey ${missing.join(', ')}, which did not pass on ${testInfo.project.name} in this run (it failed or was not run)`;
  // The list reporter does not print skip reasons: say it on the test's output too.
  console.log(`skipped "${testInfo.title}": ${why}`);
  base.skip(true, why);
}

// --- browser contexts ----------------------------------------------------------------------------

/** The IdP's built-in pages import a web font; nothing outside the stack is reachable (or needed). */
async function keepLocal(context: BrowserContext) {
  await context.route(/^https?:\/\/(?!localhost[:/]|127\.0\.0\.1[:/])/, (route) => route.abort());
}

/**
 * Collects what the browser reports as Content-Security-Policy violations on the gateway's pages (the
 * SPA must run under the gateway's strict CSP: no inline script or style); other origins (the IdP's
 * forms) are not ours.
 */
function watchCsp(context: BrowserContext, testInfo: TestInfo, violations: string[]) {
  const origin = new URL(testInfo.project.use.baseURL!).origin;
  context.on('console', (message) => {
    const at = message.page()?.url() ?? message.location().url;
    if (/Content[- ]Security[- ]Policy/i.test(message.text()) && at.startsWith(origin)) violations.push(`${at}: ${message.text()}`);
  });
}

/**
 * `test` with the default context kept local, and `open()` for further people in their own browsers;
 * a test fails when a gateway page broke its Content-Security-Policy.
 */
export const test = base.extend<{ open: (user: User) => Promise<Person>; cspViolations: string[] }>({
  cspViolations: async ({}, use) => {
    const violations: string[] = [];
    await use(violations);
    expect(violations, 'no Content-Security-Policy violations on Keyward pages').toEqual([]);
  },
  context: async ({ context, cspViolations }, use, testInfo) => {
    await keepLocal(context);
    watchCsp(context, testInfo, cspViolations);
    await use(context);
  },
  open: async ({ browser, cspViolations }, use, testInfo) => {
    const contexts: BrowserContext[] = [];
    await use(async (user) => {
      const context = await newContext(browser, testInfo);
      watchCsp(context, testInfo, cspViolations);
      contexts.push(context);
      return Person.start(user, await context.newPage(), testInfo);
    });
    for (const context of contexts) await context.close();
  },
});
export { expect };

/** Opens `user`'s own browser with every key of their ring and logs them in (SSO, then a key). */
export async function loggedIn(open: (user: User) => Promise<Person>, user: User): Promise<Person> {
  const person = await open(user);
  await person.loadKeys();
  await person.fullLogin();
  return person;
}

async function newContext(browser: Browser, testInfo: TestInfo): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
  await keepLocal(context);
  return context;
}

// --- virtual authenticators and the key ring -----------------------------------------------------

/** A credential as CDP's WebAuthn domain describes it (binary fields in base64). */
export interface Credential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

const cdpSessions = new WeakMap<Page, Promise<CDPSession>>();

function cdpFor(page: Page): Promise<CDPSession> {
  let session = cdpSessions.get(page);
  if (!session) {
    session = (async () => {
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      return cdp;
    })();
    cdpSessions.set(page, session);
  }
  return session;
}

/** A security key plugged into one page: a CTAP2 USB authenticator with user verification. */
export class Authenticator {
  private constructor(
    private readonly cdp: CDPSession,
    readonly id: string,
  ) {}

  /** With `synced`, the credentials it creates are synced passkeys (backup eligible and backed up). */
  static async plugIn(page: Page, { synced = false }: { synced?: boolean } = {}): Promise<Authenticator> {
    const cdp = await cdpFor(page);
    const backup = synced ? { defaultBackupEligibility: true, defaultBackupState: true } : {};
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, ...backup },
    });
    return new Authenticator(cdp, authenticatorId);
  }

  async credentials(): Promise<Credential[]> {
    const { credentials } = await this.cdp.send('WebAuthn.getCredentials', { authenticatorId: this.id });
    return credentials;
  }

  async add(credential: Credential) {
    await this.cdp.send('WebAuthn.addCredential', { authenticatorId: this.id, credential });
  }

  /** Whether the key "verifies the user" (PIN or biometric); false makes the browser report NotAllowedError. */
  async setUserVerified(isUserVerified: boolean) {
    await this.cdp.send('WebAuthn.setUserVerified', { authenticatorId: this.id, isUserVerified });
  }

  async unplug() {
    await this.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: this.id });
  }
}

/**
 * The keys a user registered in earlier journeys, by name, in `.state/<backend>-<user>.json`. Each
 * Playwright test has a fresh browser context, so its virtual authenticator starts empty: a journey
 * loads the keys it needs, and saves the sign counters back after each use (a counter that goes
 * backwards would be an audit signal, not what these journeys are about).
 */
export class KeyRing {
  constructor(
    private readonly testInfo: TestInfo,
    readonly user: User,
  ) {}

  private get file(): string {
    return join(STATE, `${this.testInfo.project.name}-${this.user}.json`);
  }

  all(): Record<string, Credential> {
    return existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {};
  }

  names(): string[] {
    return Object.keys(this.all());
  }

  get(name: string): Credential {
    const credential = this.all()[name];
    if (!credential) throw new Error(`${this.user} has no key "${name}" in the key ring (has: ${this.names().join(', ') || 'none'})`);
    return credential;
  }

  put(name: string, credential: Credential) {
    writeFileSync(this.file, JSON.stringify({ ...this.all(), [name]: credential }, null, 2));
  }

  rename(from: string, to: string) {
    const credential = this.get(from);
    this.remove(from);
    this.put(to, credential);
  }

  remove(name: string) {
    const all = this.all();
    delete all[name];
    writeFileSync(this.file, JSON.stringify(all, null, 2));
  }

  /** Copies the named keys (default: all) into `authenticator`. */
  async loadInto(authenticator: Authenticator, names: string[] = this.names()) {
    for (const name of names) await authenticator.add(this.get(name));
  }

  /** Saves the sign counters of this ring's keys that `authenticator` holds. */
  async sync(authenticator: Authenticator) {
    const all = this.all();
    const held = new Map((await authenticator.credentials()).map((c) => [c.credentialId, c]));
    for (const [name, credential] of Object.entries(all)) {
      const now = held.get(credential.credentialId);
      if (now) all[name] = { ...credential, signCount: now.signCount };
    }
    writeFileSync(this.file, JSON.stringify(all, null, 2));
  }
}

/**
 * A copy of `credential` with the same ID but a freshly generated private key: the browser offers
 * it for that credential ID and signs, and the server, holding the real public key, must refuse.
 */
export function impostorOf(credential: Credential): Credential {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    ...credential,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
  };
}

// --- people ---------------------------------------------------------------------------------------

/** One person at one browser: their page, the security key plugged into it, and their key ring. */
export class Person {
  private constructor(
    readonly user: User,
    readonly page: Page,
    /** The security key plugged in now; `replaceKey()` swaps it for an empty one. */
    public key: Authenticator,
    readonly ring: KeyRing,
    readonly testInfo: TestInfo,
  ) {}

  /** Plugs an empty key into `page`; load keys from the ring with `loadKeys()`. */
  static async start(user: User, page: Page, testInfo: TestInfo): Promise<Person> {
    return new Person(user, page, await Authenticator.plugIn(page), new KeyRing(testInfo, user), testInfo);
  }

  async loadKeys(names?: string[]): Promise<this> {
    await this.ring.loadInto(this.key, names);
    return this;
  }

  /**
   * Unplugs the current key and plugs in an empty one (a second key: the server lists the
   * registered ones in excludeCredentials, so one authenticator cannot register twice; or a lost key).
   */
  async replaceKey({ synced = false }: { synced?: boolean } = {}): Promise<Authenticator> {
    await this.key.unplug();
    this.key = await Authenticator.plugIn(this.page, { synced });
    return this.key;
  }

  screens(name: string) {
    return screens(this.page, this.testInfo, name);
  }

  /** The login screen, fresh. */
  async gotoLogin() {
    await this.page.goto('/login');
    await expect(this.page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  }

  /** From the login screen: "Log in with SSO", then the IdP's forms. Ends back at the gateway. */
  async ssoFromLoginPage() {
    const page = this.page;
    await page.getByLabel('Organization').fill(ORGANIZATION);
    const start = page.url();
    await page.getByRole('button', { name: 'Log in with SSO' }).click();
    await passIdp(page, this.user, start);
  }

  /** Logs in by SSO from a fresh login screen (the key step, if any, is left to the caller). */
  async ssoLogin() {
    await this.gotoLogin();
    await this.ssoFromLoginPage();
  }

  /** The security-key step of login, expected to succeed. */
  async touchKeyToLogin() {
    const page = this.page;
    await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
    await page.getByRole('button', { name: 'Use security key' }).click();
    await this.expectHome();
    await this.ring.sync(this.key);
  }

  /** SSO, then the key. */
  async fullLogin() {
    await this.ssoLogin();
    await this.touchKeyToLogin();
  }

  async expectHome() {
    await expect(this.page.getByRole('heading', { name: `Welcome, ${DISPLAY_NAMES[this.user]}` })).toBeVisible();
  }

  async logout() {
    await this.page.getByRole('button', { name: 'Log out' }).first().click();
    await expect(this.page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  }

  /** The main navigation (only shown when fully logged in). */
  nav(label: 'Home' | 'Security keys' | 'Organization') {
    return this.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true });
  }

  /** The organization settings' sub-navigation (admins, on /org/ pages). */
  orgNav(label: 'Overview' | 'Members' | 'MFA' | 'Single sign-on' | 'WebAuthn policy' | 'Step-up policy' | 'Approval policy' | 'API keys' | 'Webhook' | 'Audit log') {
    return this.page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: label, exact: true });
  }

  /**
   * Names a new key and registers it with this person's authenticator by pressing `submit`
   * ("Add key" on the settings page, "Register security key" when registration is forced), waits
   * for `done` (what the screen shows on success), then saves the new credential in the ring.
   */
  async registerKey(name: string, submit: string, done: () => Promise<void>) {
    const before = new Set((await this.key.credentials()).map((c) => c.credentialId));
    await this.page.getByLabel('Key name').fill(name);
    await this.page.getByRole('button', { name: submit, exact: true }).click();
    await done();
    const created = (await this.key.credentials()).filter((c) => !before.has(c.credentialId));
    expect(created, `one new credential in the authenticator after registering "${name}"`).toHaveLength(1);
    this.ring.put(name, created[0]);
  }

  /** Registers a key from the personal settings page. */
  async addKeyOnSettingsPage(name: string) {
    await this.registerKey(name, 'Add key', async () => {
      await expect(this.page.getByText(`Registered “${name}”.`)).toBeVisible();
      await expect(this.keyRow(name)).toBeVisible();
    });
  }

  /**
   * Registers a key on the forced "Register a security key" screen; a first key leads to the "Save your
   * recovery codes" step (left to the caller: `skipRecoveryCodesStep()` or generate).
   */
  async registerOnForcedScreen(name: string) {
    await expect(this.page.getByRole('heading', { name: 'Register a security key' })).toBeVisible();
    await this.registerKey(name, 'Register security key', () => this.expectRecoveryCodesStep());
  }

  /** Sees the "Save your recovery codes" step (its own screen after a forced first key). */
  async expectRecoveryCodesStep() {
    await expect(this.page.getByRole('heading', { name: 'Save your recovery codes', level: 1 })).toBeVisible();
    await expect(this.page).toHaveURL(/\/recovery-codes$/);
  }

  /** Skips the recovery-codes step; it leads home, where a reminder stays until codes exist. */
  async skipRecoveryCodesStep() {
    await this.page.getByRole('button', { name: 'Skip for now' }).click();
    await this.expectHome();
    await expect(this.page.getByTestId('recovery-codes-reminder')).toBeVisible();
  }

  /** A row of the personal keys table. */
  keyRow(name: string) {
    return this.page.getByRole('table', { name: 'Your security keys' }).getByRole('row').filter({ has: this.page.getByText(name, { exact: true }) });
  }

  /** Sees the login screen with the "session ended" notice (after the server revoked the session). */
  async expectSessionEnded() {
    await expect(this.page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
    await expect(this.page.getByRole('alert').filter({ hasText: 'Your session ended; log in again.' })).toBeVisible();
  }
}

/**
 * Goes through the test IdP (oidc-provider's devInteractions): the login form (any password), then
 * the consent form, whichever of them it shows, until the browser is back at the gateway on a URL
 * other than `start`. An IdP that remembers the user and the grant sends the browser straight back.
 */
export async function passIdp(page: Page, user: User, start: string) {
  const gateway = new URL(start).origin;
  let seen = start;
  for (let step = 0; step < 4; step++) {
    await page.waitForURL((url) => url.href !== seen && (url.origin === gateway || (url.origin === IDP_ORIGIN && url.pathname.startsWith('/interaction/'))));
    const url = new URL(page.url());
    if (url.origin === gateway) return;
    seen = url.href;
    const prompt = await page.locator('input[name=prompt]').inputValue();
    if (prompt === 'login') {
      await page.locator('input[name=login]').fill(user);
      await page.locator('input[name=password]').fill('any password');
    }
    await page.locator('button[type=submit]').click();
  }
  throw new Error(`the IdP did not send the browser back to ${gateway} (last at ${page.url()})`);
}

/**
 * Answers the next GraphQL request for `operationName` with `data` in place of the server (e.g. an
 * address the real server would never send); every other request, and any later one, goes through.
 */
export async function answerOnce(page: Page, operationName: string, data: unknown) {
  let answered = false;
  const handler = async (route: Route) => {
    if (answered || route.request().postDataJSON()?.operationName !== operationName) return route.fallback();
    answered = true;
    await route.fulfill({ json: { data } });
    await page.unroute('**/graphql', handler);
  };
  await page.route('**/graphql', handler);
}

/** Impacts that fail a journey; moderate and minor findings are only written to the report. */
const FAILING_IMPACTS = new Set(['serious', 'critical']);

/** One axe finding, said so that a failure message is enough to find and fix it. */
export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/** The failing findings of an axe result as lines: rule id, impact, what it means and the elements. */
export function describeFindings(findings: AxeFinding[]): string {
  return findings.map((f) => `[${f.impact}] ${f.id}: ${f.help}\n    ${f.targets.join('\n    ')}`).join('\n');
}

/**
 * Runs axe on the current screen (Keyward's pages only: the IdP's forms are not ours), writes every
 * finding to artifacts/axe/<backend>-<name>-<width>.json, and fails the test (softly, so the journey
 * goes on and every screen is checked) on serious or critical ones.
 */
export async function checkAccessibility(page: Page, testInfo: TestInfo, name: string) {
  if (new URL(page.url()).origin !== new URL(testInfo.project.use.baseURL!).origin) return;
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const findings: AxeFinding[] = results.violations.map((v) => ({
    id: v.id,
    impact: v.impact ?? 'unknown',
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(' ')),
  }));
  const dir = join(HERE, '..', 'artifacts', 'axe');
  mkdirSync(dir, { recursive: true });
  // The rules that passed and the ones axe could not decide (e.g. contrast over an image) show it ran.
  const report = { findings, passed: results.passes.map((p) => p.id), incomplete: results.incomplete.map((i) => i.id) };
  writeFileSync(join(dir, `${testInfo.project.name}-${name}.json`), JSON.stringify(report, null, 2));
  const failing = findings.filter((f) => FAILING_IMPACTS.has(f.impact));
  expect.soft(failing, `accessibility of "${name}" at ${page.viewportSize()?.width} px (serious or critical axe findings):\n${describeFindings(failing)}`).toEqual([]);
}

/** Saves the current screen at 1440 px and at 375 px under artifacts/screens, and checks each with axe. */
export async function screens(page: Page, testInfo: TestInfo, name: string) {
  const original = page.viewportSize();
  for (const [label, width] of [['desktop', 1440], ['mobile', 375]] as const) {
    await page.setViewportSize({ width, height: width === 375 ? 812 : 900 });
    await page.screenshot({ path: join(HERE, '..', 'artifacts', 'screens', `${testInfo.project.name}-${name}-${label}.png`), fullPage: true });
    await checkAccessibility(page, testInfo, `${name}-${label}`);
  }
  if (original) await page.setViewportSize(original);
}
