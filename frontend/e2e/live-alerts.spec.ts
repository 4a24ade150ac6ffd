// The dashboard a trader watches all day: an alert TradingView sends shows up by itself, with
// the position it opened and that position's stop-loss and take-profit.
import path from 'node:path'
import type { Page, WebSocket } from '@playwright/test'
import { demoAlert, expect, sendAlert, signIn, test } from './fixtures'

/** The ids of the alert rows shown now, optionally only those of one action. */
async function alertRowIds(page: Page, action?: string): Promise<string[]> {
  const selector = action ? `[data-testid="alert-row"][data-action="${action}"]` : '[data-testid="alert-row"]'
  return page.locator(selector).evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.id ?? ''))
}

test('an alert sent through the receiver appears live, with its position, SL and TP', async ({ page, request, stack }, testInfo) => {
  // What the push carried, to tell a live update from the 10-second refresh.
  const pushed: unknown[] = []
  page.on('websocket', (socket) => {
    if (!socket.url().includes('/ws/webhooks/')) return
    socket.on('framereceived', ({ payload }) => {
      try {
        pushed.push(JSON.parse(String(payload)))
      } catch {
        pushed.push(String(payload))
      }
    })
  })

  await signIn(page)
  await expect(page.getByTestId('live-indicator').first()).toHaveAttribute('data-state', 'open')
  const before = await alertRowIds(page)
  await page.evaluate(() => {
    ;(window as unknown as { e2eNotReloaded: boolean }).e2eNotReloaded = true
  })

  expect(await sendAlert(request, stack.webhook_url, demoAlert({ Action: 'BuyMarket' }))).toBe(200)

  // The new BuyMarket row appears and turns processed, on the same page (no reload).
  await expect.poll(async () => (await alertRowIds(page, 'BuyMarket')).filter((id) => !before.includes(id)), {
    timeout: 20_000,
  }).toHaveLength(1)
  const [alertId] = (await alertRowIds(page, 'BuyMarket')).filter((id) => !before.includes(id))
  const row = page.locator(`[data-testid="alert-row"][data-id="${alertId}"]`)
  await expect(row).toHaveAttribute('data-status', 'processed', { timeout: 20_000 })
  await expect(row).toContainText(/BTC\/?USDT/)
  expect(await page.evaluate(() => (window as unknown as { e2eNotReloaded?: boolean }).e2eNotReloaded)).toBe(true)

  // The WebSocket carried this alert: the table did not merely wait for its next poll.
  await expect
    .poll(() =>
      pushed.some((message) => {
        const event = message as { type?: string; data?: { id?: number } }
        return event?.type === 'webhook' && String(event.data?.id) === alertId
      }),
    )
    .toBe(true)

  // The position it opened, protected by the alert's SL and TP.
  const position = page.locator('[data-testid="position-row"][data-symbol="BTC/USDT"][data-status="open"]')
  await expect(position).toBeVisible({ timeout: 20_000 })
  await expect(position.locator('[data-role="sl"]')).toHaveText('38,000', { timeout: 20_000 })
  await expect(position.locator('[data-role="tp"]')).toHaveText('46,000')
  await expect(page.getByTestId('stat-card-positions').locator('[data-role="value"]')).not.toHaveText('0')
  await expect(page.getByTestId('stat-card-alerts').locator('[data-role="value"]')).not.toHaveText('0')

  // Opening the alert shows what TradingView sent (without the token) and the orders it caused.
  await row.click()
  const detail = page.getByTestId('alert-detail')
  await expect(detail.getByTestId('alert-raw-payload')).toContainText('"PrixSL": "38000"')
  await expect(detail.getByTestId('alert-raw-payload')).not.toContainText(stack.webhook_url.split('/').pop()!)
  await expect(detail.getByTestId('order-row').first()).toBeVisible()
  await detail.getByTestId('alert-detail-close').click()
  await expect(detail).toHaveCount(0)

  // The picture of the webhooks view this run leaves behind.
  const screenshot = path.join(testInfo.project.outputDir, 'webhooks-view.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  await testInfo.attach('webhooks view', { path: screenshot, contentType: 'image/png' })
})

test('the live push stays connected while the trader watches', async ({ page }) => {
  const sockets: WebSocket[] = []
  page.on('websocket', (socket) => {
    if (socket.url().includes('/ws/webhooks/')) sockets.push(socket)
  })
  await signIn(page)
  await expect(page.getByTestId('live-indicator').first()).toHaveAttribute('data-state', 'open')
  const socket = sockets.find((candidate) => !candidate.isClosed())
  expect(socket, 'the dashboard opened /ws/webhooks/').toBeDefined()
  // Longer than the channel layer's blocking reads (5 s): a push that drops and reconnects
  // whenever nothing happens for a while shows here as a close.
  const closed = await socket!.waitForEvent('close', { timeout: 8_000 }).then(
    () => true,
    () => false,
  )
  expect(closed, 'the server closed the live push (see the web log for why)').toBe(false)
  await expect(page.getByTestId('live-indicator').first()).toHaveAttribute('data-state', 'open')
})
