import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import WebhooksView from '@/views/WebhooksView.vue'
import { alertMake, brokerMake, jsonResponse, positionMake, statsMake } from './fixtures'

const page = <T>(results: T[]) => ({ count: results.length, next: null, previous: null, results })

function backend(failing: string[] = []) {
  const calls: URL[] = []
  const fetch = vi.fn(async (input: string) => {
    const url = new URL(input, 'http://localhost')
    calls.push(url)
    if (failing.includes(url.pathname)) return jsonResponse({ message: 'internal error: the server logged the details' }, 500)
    switch (url.pathname) {
      case '/api/webhooks/stats/':
        return jsonResponse(statsMake({ total_webhooks: url.searchParams.get('period') === '7d' ? 700 : 120 }))
      case '/api/webhooks/':
        return jsonResponse(
          page([alertMake({ id: 1 }), alertMake({ id: 2, status: 'error', action: 'SellMarket', error_message: 'broker is OFF' })]),
        )
      case '/api/webhook-states/':
        return jsonResponse(page([positionMake({ unrealized_pnl: '-3.5' })]))
      case '/api/webhook-states/summary/':
        return jsonResponse({ open_positions_count: 1, total_unrealized_pnl: '-3.5', active_symbols: ['BTC/USDT'] })
      case '/api/brokers/':
        return jsonResponse(page([brokerMake({ id: 5 }), brokerMake({ id: 9, name: 'Other', is_default: false })]))
      default:
        return jsonResponse({ message: 'Not found.' }, 404)
    }
  })
  vi.stubGlobal('fetch', fetch)
  return calls
}

async function mountView() {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/webhooks', name: 'webhooks', component: WebhooksView },
      { path: '/orders', name: 'orders', component: { template: '<div />' } },
    ],
  })
  await router.push('/webhooks')
  const view = mount(WebhooksView, { global: { plugins: [router] } })
  await flushPromises()
  return { view, router }
}

function callsTo(calls: URL[], path: string): URL[] {
  return calls.filter((url) => url.pathname === path)
}

beforeEach(() => {
  setActivePinia(createPinia())
  vi.useFakeTimers({ shouldAdvanceTime: true })
})

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('WebhooksView', () => {
  it('fills the four stat cards', async () => {
    backend()
    const { view } = await mountView()

    expect(view.get('[data-testid="stat-card-alerts"] [data-role="value"]').text()).toBe('120')
    expect(view.get('[data-testid="stat-card-success"] [data-role="value"]').text()).toBe('84 %')
    expect(view.get('[data-testid="stat-card-errors"] [data-role="value"]').text()).toBe('15')
    expect(view.get('[data-testid="stat-card-errors"] [data-role="value"]').classes()).toContain('tone-danger')
    expect(view.get('[data-testid="stat-card-positions"] [data-role="value"]').text()).toBe('1')
    expect(view.get('[data-testid="stat-card-positions"] [data-role="sub"]').text()).toContain('-3.50')
    expect(view.get('[data-testid="stat-card-positions"] [data-role="sub"]').classes()).toContain('tone-danger')
  })

  it('shows the alerts and the open positions', async () => {
    backend()
    const { view } = await mountView()

    expect(view.findAll('[data-testid="alert-row"]')).toHaveLength(2)
    expect(view.get('[data-testid="alert-row"][data-status="error"]').classes()).toContain('attention')
    expect(view.findAll('[data-testid="position-row"]')).toHaveLength(1)
  })

  it('asks every zone again with the period chosen', async () => {
    const calls = backend()
    const { view } = await mountView()
    calls.length = 0

    await view.get('[data-testid="period-select"]').setValue('7d')
    await flushPromises()

    expect(callsTo(calls, '/api/webhooks/stats/')[0].searchParams.get('period')).toBe('7d')
    expect(callsTo(calls, '/api/webhooks/')[0].searchParams.get('period')).toBe('7d')
    expect(view.get('[data-testid="stat-card-alerts"] [data-role="value"]').text()).toBe('700')
  })

  it('asks every zone again for the broker chosen', async () => {
    const calls = backend()
    const { view, router } = await mountView()
    calls.length = 0

    await view.get('[data-testid="broker-filter"]').setValue('9')
    await flushPromises()

    expect(callsTo(calls, '/api/webhooks/stats/')[0].searchParams.get('broker_id')).toBe('9')
    expect(callsTo(calls, '/api/webhooks/')[0].searchParams.get('broker')).toBe('9')
    expect(callsTo(calls, '/api/webhook-states/')[0].searchParams.get('broker')).toBe('9')
    expect(callsTo(calls, '/api/webhook-states/')[0].searchParams.get('status')).toBe('open')
    expect(callsTo(calls, '/api/webhook-states/summary/')[0].searchParams.get('broker')).toBe('9')
    expect(router.currentRoute.value.query.broker).toBe('9')
  })

  it('refreshes every 10 seconds', async () => {
    const calls = backend()
    await mountView()
    calls.length = 0

    await vi.advanceTimersByTimeAsync(10_000)
    await flushPromises()

    expect(callsTo(calls, '/api/webhooks/stats/')).toHaveLength(1)
    expect(callsTo(calls, '/api/webhooks/')).toHaveLength(1)
  })

  it('opens an alert with its raw message and its orders', async () => {
    const calls = backend()
    const { view } = await mountView()

    await view.get('[data-testid="alert-row"][data-status="error"]').trigger('click')
    await flushPromises()

    expect(view.get('[data-testid="alert-error-message"]').text()).toBe('broker is OFF')
    expect(view.get('[data-testid="alert-raw-payload"]').text()).toContain('"Action": "BuyMarket"')
    expect(callsTo(calls, '/api/orders/')[0].searchParams.get('webhook')).toBe('2')
  })

  it('keeps the opened alert up to date, and shows its last copy once it leaves the list', async () => {
    backend()
    const { view } = await mountView()
    await view.get('[data-testid="alert-row"][data-status="error"]').trigger('click')
    await flushPromises()

    // The next refresh: alert 2 has a new error message; the one after: alert 2 is no longer listed.
    let listed = [alertMake({ id: 1 }), alertMake({ id: 2, status: 'error', action: 'SellMarket', error_message: 'retried: broker is OFF' })]
    const real = globalThis.fetch as unknown as (input: string) => Promise<Response>
    vi.stubGlobal('fetch', async (input: string) =>
      new URL(input, 'http://localhost').pathname === '/api/webhooks/' ? jsonResponse(page(listed)) : real(input),
    )
    await vi.advanceTimersByTimeAsync(10_000)
    await flushPromises()
    expect(view.get('[data-testid="alert-error-message"]').text()).toBe('retried: broker is OFF')

    listed = [alertMake({ id: 3 })]
    await vi.advanceTimersByTimeAsync(10_000)
    await flushPromises()
    expect(view.get('[data-testid="alert-detail"]').attributes('aria-label')).toBe('Alert #2')
    expect(view.get('[data-testid="alert-error-message"]').text()).toBe('retried: broker is OFF')

    await view.get('[data-testid="alert-detail-close"]').trigger('click')
    await flushPromises()
    expect(view.find('[data-testid="alert-detail"]').exists()).toBe(false)
  })

  it('keeps the other zones fresh when one endpoint fails, and says which', async () => {
    backend(['/api/webhooks/stats/'])
    const { view } = await mountView()

    expect(view.findAll('[data-testid="alert-row"]')).toHaveLength(2)
    expect(view.findAll('[data-testid="position-row"]')).toHaveLength(1)
    expect(view.get('[data-testid="stat-card-alerts"] [data-role="value"]').text()).toBe('—')
    expect(view.get('[data-testid="webhooks-error"]').text()).toContain('figures: internal error')
  })
})
