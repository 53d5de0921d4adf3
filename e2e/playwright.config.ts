import { defineConfig } from '@playwright/test';
import { BACKENDS } from './stack';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  workers: 1,
  fullyParallel: false,
  reporter: [['list']],
  outputDir: './artifacts/results',
  globalSetup: './global-setup.ts',
  use: {
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
    },
    screenshot: 'only-on-failure',
  },
  projects: BACKENDS.map((backend) => ({ name: backend.name, use: { baseURL: `http://localhost:${backend.port}` } })),
});
