// Helpers for the e2e journeys: backend state, a CDP virtual authenticator per browser context,
// and screenshots of every screen at desktop width and at 375 px.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, CDPSession, Page, TestInfo } from '@playwright/test';

const HERE = dirname(fileURLToPath(import.meta.url));

export function backendState(testInfo: TestInfo): { secret: string; databaseUrl: string } {
  return JSON.parse(readFileSync(join(HERE, '..', '.state', `${testInfo.project.name}.json`), 'utf8'));
}

/** A security key in the browser: a CTAP2 USB authenticator with user verification. */
export async function addSecurityKey(context: BrowserContext, page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  return { cdp, authenticatorId };
}

/** Saves the current screen at 1440 px and at 375 px under artifacts/screens. */
export async function screens(page: Page, testInfo: TestInfo, name: string) {
  const original = page.viewportSize();
  for (const [label, width] of [['desktop', 1440], ['mobile', 375]] as const) {
    await page.setViewportSize({ width, height: width === 375 ? 812 : 900 });
    await page.screenshot({ path: join(HERE, '..', 'artifacts', 'screens', `${testInfo.project.name}-${name}-${label}.png`), fullPage: true });
  }
  if (original) await page.setViewportSize(original);
}
