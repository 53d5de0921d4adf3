import { defineConfig } from '@playwright/test';
import { BACKENDS } from './stack';

// The journeys (tests/01-… to 07-…) build on one another on one stack per backend, so they run in
// file order on one worker; a journey whose prerequisites failed skips itself and says which.
export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  // SSO logins go through several pages and a backup login hashes with argon2id: allow a slow machine.
  expect: { timeout: 10_000 },
  workers: 1,
  fullyParallel: false,
  // A retry would run a journey against state its first attempt already changed.
  retries: 0,
  reporter: [['list']],
  outputDir: './artifacts/results',
  globalSetup: './global-setup.ts',
  use: {
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      // --disable-dev-shm-usage: containers often have a tiny /dev/shm, where Chromium's renderers crash.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
    },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: BACKENDS.map((backend) => ({ name: backend.name, use: { baseURL: `http://localhost:${backend.port}` } })),
});
