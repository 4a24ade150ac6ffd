import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import ApiErrorBanner from '@/components/ApiErrorBanner.vue'
import LiveIndicator from '@/components/LiveIndicator.vue'
import { PUSH_GRACE_MS, useConnectionStore } from '@/stores/connection'

beforeEach(() => setActivePinia(createPinia()))

describe('connection banner and live indicator', () => {
  it('says nothing while everything answers', () => {
    const connection = useConnectionStore()
    connection.socketWanted = true
    connection.socketStateSet('open')

    expect(mount(ApiErrorBanner).find('[data-testid="api-error-banner"]').exists()).toBe(false)
    expect(mount(LiveIndicator).get('[data-testid="live-indicator"]').attributes('data-state')).toBe('open')
    expect(mount(LiveIndicator).text()).toContain('Live')
  })

  it('says when the API cannot be reached, and clears once it answers', async () => {
    const connection = useConnectionStore()
    const banner = mount(ApiErrorBanner)

    connection.apiDown('The server cannot be reached.')
    await banner.vm.$nextTick()
    expect(banner.get('[data-testid="api-error-banner"]').text()).toContain('API unreachable')

    connection.apiUp()
    await banner.vm.$nextTick()
    expect(banner.find('[data-testid="api-error-banner"]').exists()).toBe(false)
  })

  it('says when the push is down for longer than a brief reconnect', () => {
    const connection = useConnectionStore()
    connection.socketWanted = true
    connection.socketStateSet('closed')
    const since = connection.socketDownSince as number

    connection.tick(since + PUSH_GRACE_MS - 1)
    expect(connection.banner).toBe('')
    connection.tick(since + PUSH_GRACE_MS)
    expect(connection.banner).toMatch(/Live updates unreachable/)
  })
})
