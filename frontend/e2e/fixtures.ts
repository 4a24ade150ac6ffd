// What every browser test shares: the running stack's addresses, a page that fails the test
// on any console error or failed request, and the few steps a trader repeats (sign in, send an
// alert, call the API as the signed-in user).
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test'

import { FRONTEND, PYTHON } from './paths'

/** The JSON line scripts/e2e_stack.py prints once the stack answers (see scripts/run.py). */
export interface StackInfo {
  ready: boolean
  web_url: string
  receiver_url: string
  webhook_url: string
  demo_alert: Record<string, string | number>
  redis_url: string
  database_url: string
  processes: string[]
}

export const DEMO = { username: 'demo', password: 'demo' }

export function stackInfo(): StackInfo {
  const raw = process.env.E2E_STACK
  if (!raw) throw new Error('E2E_STACK is not set: run the tests with `npx playwright test` (global setup starts the stack)')
  return JSON.parse(raw) as StackInfo
}

/** Whether a failed answer is one the app meets by design: the signed-out check, a refused sign-in. */
function expectedFailure(url: string, status: number): boolean {
  const { pathname } = new URL(url)
  if (pathname === '/api/auth/me/') return status === 401 || status === 403
  if (pathname === '/api/auth/login/') return status === 400 || status === 401 || status === 403
  return false
}

/** Watches a page for console errors, uncaught exceptions, failed requests and error answers;
 * the function it answers lists them (call it at the end: Chromium's console line about a
 * failed answer may come before or after the answer's own event). */
export function watchProblems(page: Page): () => string[] {
  const problems: string[] = []
  const failedLoads: { text: string; url: string }[] = []
  const expectedUrls = new Set<string>()
  page.on('response', (response) => {
    if (expectedFailure(response.url(), response.status())) {
      expectedUrls.add(response.url())
    } else if (response.status() >= 400) {
      problems.push(`HTTP ${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`)
    }
  })
  page.on('requestfailed', (request) => {
    const error = request.failure()?.errorText ?? 'failed'
    // An aborted request is one the page no longer wanted (it navigated away).
    if (error !== 'net::ERR_ABORTED') problems.push(`request failed: ${request.method()} ${request.url()} (${error})`)
  })
  page.on('pageerror', (error) => problems.push(`uncaught exception: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    const url = message.location().url
    if (message.text().startsWith('Failed to load resource') && url) {
      failedLoads.push({ text: message.text(), url })
    } else {
      problems.push(`console error: ${message.text()}${url ? ` (${url})` : ''}`)
    }
  })
  return () => [
    ...problems,
    ...failedLoads
      .filter(({ url }) => !expectedUrls.has(url))
      .map(({ text, url }) => `console error: ${text} (${url})`),
  ]
}

export const test = base.extend<{ stack: StackInfo; problems: () => string[] }>({
  stack: async ({}, use) => {
    await use(stackInfo())
  },
  baseURL: async ({}, use) => {
    await use(stackInfo().web_url)
  },
  // Automatic: every test fails on a console error or a failed request, named or not.
  problems: [
    async ({ page }, use) => {
      const problems = watchProblems(page)
      await use(problems)
      expect(problems(), 'console errors and failed requests on the pages visited').toEqual([])
    },
    { auto: true },
  ],
})

export { expect }

/** Sign in through the sign-in page and wait for the dashboard. */
export async function signIn(page: Page, { username, password } = DEMO): Promise<void> {
  await page.goto('/login')
  await page.getByTestId('login-username').fill(username)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
  await expect(page.getByTestId('nav-webhooks')).toBeVisible()
}

/** POST an alert to the receiver as TradingView does (text/plain JSON); returns the HTTP status. */
export async function sendAlert(
  request: APIRequestContext,
  url: string,
  alert: Record<string, string | number>,
): Promise<number> {
  const response = await request.post(url, {
    headers: { 'Content-Type': 'text/plain' },
    data: JSON.stringify(alert),
  })
  return response.status()
}

/** Call the REST API as the page's signed-in user (its session cookie and CSRF token). */
export async function api<T = unknown>(
  page: Page,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  data?: unknown,
): Promise<T> {
  const { web_url } = stackInfo()
  const csrfCookie = async () =>
    (await page.context().cookies(web_url)).find((cookie) => cookie.name === 'csrftoken')?.value
  if (method !== 'GET' && !(await csrfCookie())) await page.request.get(`${web_url}/api/auth/csrf/`)
  const response = await page.request.fetch(`${web_url}${url}`, {
    method,
    data: data === undefined ? undefined : JSON.stringify(data),
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': (await csrfCookie()) ?? '', Referer: `${web_url}/` },
  })
  expect(response.ok(), `${method} ${url} → ${response.status()} ${await response.text()}`).toBe(true)
  return (response.status() === 204 ? undefined : await response.json()) as T
}

/** Move an alert's receipt time `days` back, in the stack's database (see backdate_alert.py). */
export function backdateAlert(alertId: number, days: number): void {
  const script = path.join(FRONTEND, 'e2e', 'backdate_alert.py')
  execFileSync(PYTHON, [script, stackInfo().database_url, String(alertId), String(days)], { stdio: 'pipe' })
}

/** A TradingView alert for the demo user's paper broker; a fresh BarTime keeps it from being a repeat. */
export function demoAlert(changes: Record<string, string | number> = {}): Record<string, string | number> {
  return { ...stackInfo().demo_alert, BarTime: new Date().toISOString(), ...changes }
}

/** A label that differs on every run, so that tests never depend on each other's data. */
export function unique(prefix: string): string {
  return `${prefix} ${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`
}
