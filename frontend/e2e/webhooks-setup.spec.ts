// The first hour of a new trader, all in the browser: add a paper broker, switch it to
// Webhooks, create a token, copy the alert message, send a test alert and watch it arrive.
import type { Page } from '@playwright/test'
import { expect, sendAlert, signIn, test, unique } from './fixtures'

async function clipboard(page: Page): Promise<string> {
  return page.evaluate(() => navigator.clipboard.readText())
}

test('add a paper broker, switch it to Webhooks, create a token and watch a test alert arrive', async ({
  page,
  context,
  request,
  stack,
}) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.web_url })
  await signIn(page)

  // 1. A paper broker, added in the OFF mode the form starts with.
  await page.getByTestId('nav-brokers').click()
  await page.getByTestId('broker-add').click()
  const name = unique('Paper desk')
  await page.getByTestId('broker-name').fill(name)
  await page.getByTestId('broker-exchange').fill('paper')
  await expect(page.getByTestId('broker-type')).toHaveValue('OFF')
  await page.getByTestId('broker-save').click()
  const row = page.locator(`[data-testid="broker-row"][data-name="${name}"]`)
  await expect(row).toHaveAttribute('data-type', 'OFF')
  const brokerId = await row.getAttribute('data-id')
  expect(brokerId).toMatch(/^\d+$/)

  // 2. Switched to Webhooks (paper is not real money: no warning to confirm).
  await row.getByTestId('broker-edit').click()
  await expect(page.getByTestId('broker-name')).toHaveValue(name)
  await page.getByTestId('broker-type').selectOption('Webhooks')
  await page.getByTestId('broker-save').click()
  await expect(page.getByTestId('broker-live-warning')).toHaveCount(0)
  await expect(row).toHaveAttribute('data-type', 'Webhooks')

  // Its connection works, through the gateway.
  await row.getByTestId('broker-test').click()
  await expect(page.getByTestId('broker-result')).toHaveClass(/ok-text/, { timeout: 20_000 })

  // 3. A token, shown once, copied.
  await page.getByTestId('nav-tradingview').click()
  const label = unique('e2e strategy')
  await page.getByTestId('token-label').fill(label)
  await page.getByTestId('token-create').click()
  const tokenValue = page.getByTestId('token-value')
  await expect(tokenValue).toHaveText(/^\S{20,}$/)
  const token = (await tokenValue.textContent())!.trim()
  await expect(page.getByTestId('webhook-url').first()).toHaveText(`${stack.receiver_url}/webhook/${token}`)
  await page.getByTestId('token-copy').click()
  await expect.poll(() => clipboard(page)).toBe(token)
  const tokenRow = page.getByTestId('token-row').filter({ hasText: label })
  await expect(tokenRow).toHaveAttribute('data-revoked', 'false')
  await expect(tokenRow).not.toContainText(token) // the list shows a prefix, never the token

  // 4. The alert message for the new broker, copied as it is to be pasted in TradingView.
  await page.getByTestId('template-broker').selectOption(brokerId!)
  await expect(page.getByTestId('template-broker-warning')).toHaveCount(0)
  const buyTemplate = page.locator('[data-testid="alert-template"][data-action="BuyMarket"]')
  await buyTemplate.getByTestId('template-copy').click()
  await expect.poll(() => clipboard(page)).toContain('"Action": "BuyMarket"')
  const message = JSON.parse(await clipboard(page)) as Record<string, string>
  expect(message).toMatchObject({ Token: token, Action: 'BuyMarket', UserExchangeID: brokerId, Symbol: '{{ticker}}' })

  // 5. A test alert through the real receiver, watched until it is recorded.
  await page.getByTestId('send-test-alert').click()
  const status = page.getByTestId('test-alert-status')
  await expect(status).toHaveAttribute('data-state', 'arrived', { timeout: 30_000 })
  await expect(status).toContainText('processed')

  // ... and the PING is there on the webhooks view, for the new broker.
  await page.getByTestId('nav-webhooks').click()
  await page.getByTestId('broker-filter').selectOption(brokerId!)
  const pings = page.locator('[data-testid="alert-row"][data-action="PING"]')
  await expect(pings).toHaveCount(1)
  await expect(pings).toHaveAttribute('data-status', 'processed')

  // 6. Revoked, the token no longer opens the receiver.
  await page.getByTestId('nav-tradingview').click()
  const revokedRow = page.getByTestId('token-row').filter({ hasText: label })
  await revokedRow.getByTestId('token-revoke').click()
  await revokedRow.getByTestId('token-revoke').click() // confirm
  await expect(revokedRow).toHaveAttribute('data-revoked', 'true')
  await expect
    .poll(() => sendAlert(request, `${stack.receiver_url}/webhook/${token}`, { Action: 'PING', Symbol: 'BTCUSDT' }), {
      timeout: 2_000,
    })
    .toBe(401)
})
