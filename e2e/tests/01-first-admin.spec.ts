// Journey 1 (part): the first admin logs in with backup credentials, registers a key, logs out,
// and at the next login the key is required and accepted.
import { expect, test } from '@playwright/test';
import { addSecurityKey, backendState, screens } from './support';

test('first admin: backup credentials, a key, then the key at the next login', async ({ page, context }, testInfo) => {
  const { secret } = backendState(testInfo);
  await addSecurityKey(context, page);

  await page.goto('/login');
  await expect(page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  await screens(page, testInfo, 'login');
  await page.getByRole('button', { name: /backup credentials/i }).click();
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel(/secret/i).fill(secret);
  await page.getByRole('button', { name: /^log in/i }).click();
  await expect(page.getByRole('heading', { name: /welcome/i })).toBeVisible();
  await screens(page, testInfo, 'home');

  await page.getByRole('link', { name: /multi-factor|security keys|manage/i }).first().click();
  await page.getByLabel('Key name').fill('Desk key');
  await page.getByRole('button', { name: /add key/i }).click();
  await expect(page.getByText('Desk key', { exact: true })).toBeVisible();
  await screens(page, testInfo, 'mfa-settings');

  await page.getByRole('button', { name: /log out/i }).first().click();
  await expect(page.getByRole('heading', { name: 'Log in to Keyward' })).toBeVisible();
  await page.getByRole('button', { name: /backup credentials/i }).click();
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel(/secret/i).fill(secret);
  await page.getByRole('button', { name: /^log in/i }).click();
  await expect(page.getByRole('heading', { name: 'Use your security key' })).toBeVisible();
  await screens(page, testInfo, 'security-key-step');
  await page.getByRole('button', { name: /use security key/i }).click();
  await expect(page.getByRole('heading', { name: /welcome/i })).toBeVisible();

  // The admin's organization page lists the members with their keys.
  await page.getByRole('link', { name: 'Organization' }).click();
  await expect(page.getByRole('heading', { name: 'Enforcement' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Members' })).toBeVisible();
  await screens(page, testInfo, 'org-mfa');
});
