// The broker filter and the period selector drive every zone of the webhooks view: the four
// figures, the alerts and the positions.
import type { Page } from '@playwright/test'
import { api, backdateAlert, demoAlert, expect, sendAlert, signIn, test, unique } from './fixtures'

interface Broker {
  id: number
  name: string
}
interface AlertPage {
  count: number
  results: { id: number; status: string }[]
}

async function paperBroker(page: Page, name: string, type: 'OFF' | 'Webhooks'): Promise<Broker> {
  return api<Broker>(page, 'POST', '/api/brokers/', {
    name,
    exchange: 'paper',
    type_de_trading: type,
    is_testnet: false,
    is_active: true,
    is_default: false,
  })
}

function statValue(page: Page, card: string) {
  return page.getByTestId(card).locator('[data-role="value"]')
}

/** The page's answers for exactly these filters: its alert list and its figures (start waiting
 * before changing the filters, then await it before asserting what the page shows). */
async function filteredAnswers(page: Page, broker: number, period: string): Promise<{ alerts: number; figures: number }> {
  const answerFor = (path: string, brokerParam: string) =>
    page.waitForResponse((answer) => {
      const url = new URL(answer.url())
      return (
        url.pathname === path && url.searchParams.get(brokerParam) === String(broker) && url.searchParams.get('period') === period
      )
    })
  const [alerts, figures] = await Promise.all([answerFor('/api/webhooks/', 'broker'), answerFor('/api/webhooks/stats/', 'broker_id')])
  expect(alerts.status()).toBe(200)
  expect(figures.status()).toBe(200)
  return {
    alerts: ((await alerts.json()) as AlertPage).count,
    figures: ((await figures.json()) as { total_webhooks: number }).total_webhooks,
  }
}

test('the broker filter and the period change the figures, the alerts and the positions', async ({ page, request, stack }) => {
  await signIn(page)
  // A broker that never received anything, and one whose only alert is three days old.
  const quiet = await paperBroker(page, unique('Quiet'), 'OFF')
  const lastWeek = await paperBroker(page, unique('Last week'), 'Webhooks')
  expect(await sendAlert(request, stack.webhook_url, demoAlert({ Action: 'PING', UserExchangeID: lastWeek.id }))).toBe(200)
  // And something recent on the demo broker, so that "all brokers" is not empty either.
  expect(await sendAlert(request, stack.webhook_url, demoAlert({ Action: 'PING' }))).toBe(200)
  let old: AlertPage = { count: 0, results: [] }
  await expect
    .poll(async () => {
      old = await api<AlertPage>(page, 'GET', `/api/webhooks/?broker=${lastWeek.id}&period=24h`)
      return old.results.map((alert) => alert.status)
    }, { timeout: 20_000 })
    .toEqual(['processed'])
  backdateAlert(old.results[0].id, 3)

  await page.reload() // the new brokers join the filter's list
  const alertRows = page.getByTestId('alerts-table').getByTestId('alert-row')
  await page.getByTestId('period-select').selectOption('24h')
  await page.getByTestId('broker-filter').selectOption('')
  await expect(alertRows.first()).toBeVisible()
  await expect(statValue(page, 'stat-card-alerts')).not.toHaveText('0')

  // The quiet broker: every zone empties.
  await page.getByTestId('broker-filter').selectOption(String(quiet.id))
  await expect(page).toHaveURL(new RegExp(`broker=${quiet.id}`))
  await expect(alertRows).toHaveCount(0)
  await expect(page.getByTestId('positions-table').getByTestId('position-row')).toHaveCount(0)
  await expect(statValue(page, 'stat-card-alerts')).toHaveText('0')
  await expect(statValue(page, 'stat-card-positions')).toHaveText('0')

  // Last week's broker: nothing in 24 hours, its alert over 7 and 30 days.
  // Quiet already shows zeros: wait for this broker's own answer before asserting them.
  const lastWeekToday = filteredAnswers(page, lastWeek.id, '24h')
  await page.getByTestId('broker-filter').selectOption(String(lastWeek.id))
  await expect(page).toHaveURL(new RegExp(`broker=${lastWeek.id}`))
  expect(await lastWeekToday).toEqual({ alerts: 0, figures: 0 })
  await expect(alertRows).toHaveCount(0)
  await expect(statValue(page, 'stat-card-alerts')).toHaveText('0')
  await page.getByTestId('period-select').selectOption('7d')
  await expect(page).toHaveURL(/period=7d/)
  await expect(alertRows).toHaveCount(1)
  await expect(alertRows.first()).toHaveAttribute('data-id', String(old.results[0].id))
  await expect(alertRows.first()).toHaveAttribute('data-action', 'PING')
  await expect(statValue(page, 'stat-card-alerts')).toHaveText('1')
  const lastWeekMonth = filteredAnswers(page, lastWeek.id, '30d')
  await page.getByTestId('period-select').selectOption('30d')
  await expect(page).toHaveURL(/period=30d/)
  expect(await lastWeekMonth).toEqual({ alerts: 1, figures: 1 })
  await expect(alertRows).toHaveCount(1)

  // The filters live in the URL: a reload keeps them.
  await page.reload()
  await expect(page.getByTestId('broker-filter')).toHaveValue(String(lastWeek.id))
  await expect(page.getByTestId('period-select')).toHaveValue('30d')
  await expect(alertRows).toHaveCount(1)
})
