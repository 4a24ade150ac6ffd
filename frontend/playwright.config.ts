// Browser tests of the dashboard: Debian's headless Chromium against the real stack (daphne,
// receiver, engine, gateway, heartbeat, Redis, paper exchange) that e2e/global-setup.ts starts
// with scripts/e2e_stack.py on free ports. Build the bundle first: `npm run build`.
import { defineConfig } from '@playwright/test'

// Playwright's own browser download is not reachable here: use the system's Chromium.
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

export default defineConfig({
  testDir: './e2e',
  testMatch: '**/*.spec.ts',
  globalSetup: './e2e/global-setup.ts',
  outputDir: 'test-results',
  // One stack and one demo user for every test: one worker keeps the flows independent.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 45_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1440, height: 900 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath,
      // A closed network: no calls home, no QUIC, no sandbox (CI runs as root).
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    },
  },
})
