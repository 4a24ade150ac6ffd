import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import DashboardFilters from '@/components/DashboardFilters.vue'
import { brokerMake } from './fixtures'

const brokers = [brokerMake({ id: 5, name: 'Paper' }), brokerMake({ id: 9, name: 'Binance', exchange: 'binance' })]

describe('DashboardFilters', () => {
  it('offers all brokers and each of yours', () => {
    const filters = mount(DashboardFilters, { props: { brokers, broker: '', period: '24h' } })

    expect(filters.findAll('[data-testid="broker-filter"] option').map((option) => option.text())).toEqual([
      'All brokers',
      'Paper (paper)',
      'Binance (binance)',
    ])
    expect(filters.findAll('[data-testid="period-select"] option').map((option) => option.text())).toEqual(['24h', '7d', '30d'])
  })

  it('emits the broker id chosen, as a number', async () => {
    const filters = mount(DashboardFilters, { props: { brokers, broker: '', period: '24h' } })

    await filters.get('[data-testid="broker-filter"]').setValue('9')

    expect(filters.emitted('update:broker')?.[0]).toEqual([9])
  })

  it('emits an empty broker for "all brokers"', async () => {
    const filters = mount(DashboardFilters, { props: { brokers, broker: 9, period: '24h' } })

    await filters.get('[data-testid="broker-filter"]').setValue('')

    expect(filters.emitted('update:broker')?.[0]).toEqual([''])
  })

  it('emits the period chosen', async () => {
    const filters = mount(DashboardFilters, { props: { brokers, broker: '', period: '24h' } })

    await filters.get('[data-testid="period-select"]').setValue('7d')

    expect(filters.emitted('update:period')?.[0]).toEqual(['7d'])
  })

  it('has no period selector where a page has no period', () => {
    const filters = mount(DashboardFilters, { props: { brokers, broker: '' } })

    expect(filters.find('[data-testid="period-select"]').exists()).toBe(false)
  })
})
