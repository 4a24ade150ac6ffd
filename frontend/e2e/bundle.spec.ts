// The production bundle (frontend/dist, built by `npm run build`) as Django serves it: every
// page loads, deep links work, and not one console error or failed request on the way (the
// fixture fails the test on any).
import { expect, signIn, test } from './fixtures'

const PAGES = [
  { nav: 'nav-webhooks', path: '/webhooks', ready: 'alerts-table' },
  { nav: 'nav-positions', path: '/positions', ready: 'positions-table' },
  { nav: 'nav-orders', path: '/orders', ready: 'orders-table' },
  { nav: 'nav-brokers', path: '/brokers', ready: 'brokers-table' },
  { nav: 'nav-tradingview', path: '/tradingview', ready: 'token-create' },
]

test('Django serves the built app, not the development one', async ({ request }) => {
  const index = await request.get('/webhooks')
  expect(index.status()).toBe(200)
  expect(index.headers()['content-type']).toContain('text/html')
  const html = await index.text()
  expect(html).not.toContain('/src/main.ts')
  const scripts = [...html.matchAll(/<script[^>]+src="([^"]+)"/g)].map((match) => match[1])
  expect(scripts.length).toBeGreaterThan(0)
  for (const src of scripts) {
    expect(src).toMatch(/^\/static\/app\/assets\/.+\.js$/)
    const asset = await request.get(src)
    expect(asset.status(), src).toBe(200)
    expect(asset.headers()['content-type'], src).toMatch(/javascript/)
  }
})

test('every page of the bundle loads, by the menu and by its address, without a console error', async ({ page }) => {
  await signIn(page)
  for (const { nav, path, ready } of PAGES) {
    await page.getByTestId(nav).click()
    await expect(page).toHaveURL(new RegExp(`${path}(\\?.*)?$`))
    await expect(page.getByTestId(ready).first()).toBeVisible()
    await page.waitForLoadState('networkidle')
  }
  for (const { path, ready } of PAGES) {
    await page.goto(path)
    await expect(page.getByTestId(ready).first()).toBeVisible()
    await expect(page.getByTestId('api-error-banner')).toHaveCount(0)
    await page.waitForLoadState('networkidle')
  }
})
