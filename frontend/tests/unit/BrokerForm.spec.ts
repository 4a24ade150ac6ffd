import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import BrokerForm from '@/components/BrokerForm.vue'
import { liveSwitchNeedsConfirmation } from '@/utils/brokers'
import { brokerMake, cookiesClear, jsonResponse } from './fixtures'

function backend() {
  const sent: { url: string; method: string; body: Record<string, unknown> }[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      sent.push({ url, method: String(init.method), body: JSON.parse(String(init.body ?? '{}')) })
      return jsonResponse(brokerMake({ id: 11 }), init.method === 'POST' ? 201 : 200)
    }),
  )
  return sent
}

beforeEach(() => {
  cookiesClear()
  document.cookie = 'csrftoken=t; path=/'
})

afterEach(() => vi.unstubAllGlobals())

describe('BrokerForm', () => {
  it('creates a paper broker without keys', async () => {
    const sent = backend()
    const form = mount(BrokerForm, { props: { broker: null } })

    await form.get('[data-testid="broker-name"]').setValue('My paper')
    await form.get('[data-testid="broker-type"]').setValue('Webhooks')
    await form.get('form').trigger('submit')
    await flushPromises()

    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ url: '/api/brokers/', method: 'POST' })
    expect(sent[0].body).toEqual({
      name: 'My paper',
      exchange: 'paper',
      api_base_url: '',
      is_testnet: false,
      is_active: true,
      is_default: false,
      type_de_trading: 'Webhooks',
    })
    expect(form.emitted('saved')).toHaveLength(1)
  })

  it('sends a key only when typed, never shows a stored one', async () => {
    const sent = backend()
    const broker = brokerMake({ id: 4, exchange: 'binance', is_testnet: true, has_api_key: true, has_api_secret: false, type_de_trading: 'OFF' })
    const form = mount(BrokerForm, { props: { broker } })

    expect((form.get('[data-testid="broker-api-key"]').element as HTMLInputElement).value).toBe('')
    expect(form.get('[data-testid="broker-key-state"]').text()).toBe('stored: set')
    await form.get('[data-testid="broker-api-secret"]').setValue('s3cret')
    await form.get('form').trigger('submit')
    await flushPromises()

    expect(sent[0]).toMatchObject({ url: '/api/brokers/4/', method: 'PATCH' })
    expect(sent[0].body.api_secret).toBe('s3cret')
    expect(sent[0].body).not.toHaveProperty('api_key')
  })

  it('warns before a live broker starts trading from alerts, and saves only once confirmed', async () => {
    const sent = backend()
    const broker = brokerMake({ id: 4, name: 'Binance', exchange: 'binance', is_testnet: false, type_de_trading: 'OFF' })
    const form = mount(BrokerForm, { props: { broker } })

    await form.get('[data-testid="broker-type"]').setValue('Webhooks')
    await form.get('form').trigger('submit')
    await flushPromises()

    expect(form.find('[data-testid="broker-live-warning"]').exists()).toBe(true)
    expect(sent).toHaveLength(0)

    await form.get('[data-testid="broker-live-confirm"]').trigger('click')
    await flushPromises()

    expect(sent).toHaveLength(1)
    expect(sent[0].body.type_de_trading).toBe('Webhooks')
  })

  it('does not warn for a testnet or paper broker', async () => {
    const sent = backend()
    const broker = brokerMake({ id: 4, exchange: 'binance', is_testnet: true, type_de_trading: 'OFF' })
    const form = mount(BrokerForm, { props: { broker } })

    await form.get('[data-testid="broker-type"]').setValue('Webhooks')
    await form.get('form').trigger('submit')
    await flushPromises()

    expect(form.find('[data-testid="broker-live-warning"]').exists()).toBe(false)
    expect(sent).toHaveLength(1)
  })

  it('shows the field the API refused', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => jsonResponse({ message: "name: you already have a broker named 'A'", errors: { name: ["you already have a broker named 'A'"] } }, 400)),
    )
    const form = mount(BrokerForm, { props: { broker: null } })

    await form.get('[data-testid="broker-name"]').setValue('A')
    await form.get('form').trigger('submit')
    await flushPromises()

    expect(form.get('[data-testid="broker-form-error"]').text()).toContain('already have a broker')
    expect(form.emitted('saved')).toBeUndefined()
  })
})

describe('live switch rule', () => {
  const mode = (exchange: string, is_testnet: boolean, type_de_trading: 'OFF' | 'Webhooks') => ({ exchange, is_testnet, type_de_trading })

  it('asks only when the save makes a real-money broker act on alerts', () => {
    expect(liveSwitchNeedsConfirmation(mode('binance', false, 'OFF'), mode('binance', false, 'Webhooks'))).toBe(true)
    expect(liveSwitchNeedsConfirmation(mode('binance', true, 'Webhooks'), mode('binance', false, 'Webhooks'))).toBe(true)
    expect(liveSwitchNeedsConfirmation(null, mode('okx', false, 'Webhooks'))).toBe(true)
    expect(liveSwitchNeedsConfirmation(mode('binance', false, 'Webhooks'), mode('binance', false, 'Webhooks'))).toBe(false)
    expect(liveSwitchNeedsConfirmation(null, mode('paper', false, 'Webhooks'))).toBe(false)
    expect(liveSwitchNeedsConfirmation(null, mode('binance', false, 'OFF'))).toBe(false)
  })
})
