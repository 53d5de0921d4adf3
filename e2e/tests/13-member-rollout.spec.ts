// Journey 13: a member's rollout experience (issue 14). Bob, who skipped the recovery codes in journey 3,
// sees a reminder on Home until he has codes; he saves them from the step; the security keys page says how
// many are left and why the Model column says nothing; the phone layout keeps one header row and one
// scrolling navigation row, with 44 px targets; inputs and the focus ring keep 3:1 contrast.
//
// Expects: journey 3 passed (bob has "Bob key", no recovery codes; MFA enforced). Leaves: bob with ten
// unused recovery codes.
import type { Locator, Page } from '@playwright/test';
import { expect, journeyPassed, loggedIn, requireJourneys, test } from './support';

/** Where each element `locator` matches sits on the screen, in document order. */
async function boxes(locator: Locator): Promise<DOMRect[]> {
  return locator.evaluateAll((els) => els.map((el) => el.getBoundingClientRect().toJSON() as DOMRect));
}

/** At 375 px: the header is compact, and the main navigation is one row that scrolls sideways. */
async function expectCompactHeader(page: Page) {
  await page.setViewportSize({ width: 375, height: 812 });
  const header = page.locator('header.topbar');
  const headerBox = (await header.boundingBox())!;
  // Two rows of 44 px targets and a little padding; the old header stacked brand, links and who in three or more.
  expect(headerBox.height, 'the header is two rows: brand, who and Log out, then the navigation').toBeLessThanOrEqual(112);
  const [brand] = await boxes(header.getByRole('link', { name: 'Keyward' }));
  const [logout] = await boxes(header.getByRole('button', { name: 'Log out' }));
  expect(Math.abs(brand.top + brand.height / 2 - (logout.top + logout.height / 2)), 'Log out sits on the brand row').toBeLessThan(12);
  expect(logout.height, 'Log out stays on one line').toBeLessThanOrEqual(48);
  const links = await boxes(page.getByRole('navigation', { name: 'Main' }).getByRole('link'));
  expect(new Set(links.map((b) => Math.round(b.top))).size, 'the main navigation is a single row').toBe(1);
  for (const link of links) expect(link.height, 'navigation links are 44 px tap targets').toBeGreaterThanOrEqual(44);
  const overflowX = await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
  expect(overflowX, 'nothing makes the page scroll sideways').toBe(true);
}

test('journey 13: recovery-code reminder and step, status line, model hint, phone layout and contrast', async ({ open }, testInfo) => {
  requireJourneys(testInfo, '3');
  const bob = await loggedIn(open, 'bob');
  const page = bob.page;

  // No codes yet (he skipped them in journey 3): Home reminds him, at every login, until he has some.
  const reminder = page.getByTestId('recovery-codes-reminder');
  await expect(reminder.getByRole('heading', { name: 'Save your recovery codes' })).toBeVisible();
  await bob.screens('home-recovery-reminder-again');
  await expectCompactHeader(page);
  await page.setViewportSize({ width: 1280, height: 900 });

  // The step: generate (the login's touch is fresh enough; a step-up dialog would ask otherwise), show, save.
  await reminder.getByRole('link', { name: 'Set up recovery codes' }).click();
  await expect(page).toHaveURL(/\/recovery-codes$/);
  const step = page.getByTestId('recovery-codes-step');
  await expect(step.getByRole('button', { name: 'Skip for now' })).toBeVisible();
  await step.getByRole('button', { name: 'Generate recovery codes' }).click();
  const stepUp = page.getByRole('dialog', { name: 'Confirm with your security key' });
  const listed = step.getByTestId('recovery-codes').getByRole('listitem');
  await expect(listed.or(stepUp).first()).toBeVisible();
  if (await stepUp.isVisible()) await stepUp.getByRole('button', { name: 'Touch your security key' }).click();
  await expect(listed).toHaveCount(10);
  await expect(step.getByRole('button', { name: 'Copy all' })).toBeVisible();
  await expect(step.getByRole('button', { name: 'Download (.txt)' })).toBeVisible();
  await bob.screens('recovery-codes-step-saved');
  await step.getByRole('button', { name: 'I have saved them' }).click();
  await bob.expectHome();
  await expect(reminder).toHaveCount(0);

  // The security keys page: one name everywhere, the codes' status, the Model column explained.
  await bob.nav('Security keys').click();
  await expect(page.getByRole('heading', { name: 'Security keys', exact: true, level: 1 })).toBeVisible();
  const status = page.getByTestId('recovery-codes-status');
  await expect(status).toHaveText(/^10 of 10 recovery codes unused · generated \S.+$/);
  await expect(status).not.toHaveClass(/alert-warning/);
  await expect(page.getByTestId('model-hint')).toContainText('does not ask keys to prove their model');
  await expect(bob.keyRow('Bob key').getByText('Unknown model')).toBeVisible();

  // Contrast (WCAG 1.4.11): input borders and the focus ring use the colours whose ratios styles.css states.
  const input = page.getByLabel('Key name');
  await input.focus();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  const look = await input.evaluate((el) => {
    const style = getComputedStyle(el);
    return { border: style.borderTopColor, outline: style.outlineColor, outlineWidth: style.outlineWidth };
  });
  expect(look).toEqual({ border: 'rgb(107, 116, 128)', outline: 'rgb(26, 79, 160)', outlineWidth: '3px' });

  // Phone width: 44 px targets, with room between Rename and Delete.
  await expectCompactHeader(page);
  const row = bob.keyRow('Bob key');
  const [rename, remove] = await boxes(row.getByRole('button', { name: /^(Rename|Delete) Bob key$/ }));
  expect(rename.height).toBeGreaterThanOrEqual(44);
  expect(remove.height).toBeGreaterThanOrEqual(44);
  const gap = remove.top >= rename.bottom ? remove.top - rename.bottom : remove.left - rename.right;
  expect(gap, 'space between Rename and Delete').toBeGreaterThanOrEqual(8);
  await bob.screens('security-keys');

  // The login page: backup credentials under "Other ways to log in", below single sign-on.
  await bob.logout();
  const other = page.getByRole('region', { name: 'Other ways to log in' });
  await expect(other.getByRole('button', { name: 'Use backup credentials' })).toBeVisible();
  await bob.screens('login-other-ways');

  journeyPassed(testInfo, '13');
});
