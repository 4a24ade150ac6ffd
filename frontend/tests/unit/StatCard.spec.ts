import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import StatCard from '@/components/StatCard.vue'

describe('StatCard', () => {
  it('shows its label, value and the line under it', () => {
    const card = mount(StatCard, { props: { label: 'Errors', value: '15', sub: '4 missed bars', tone: 'danger' } })

    expect(card.text()).toContain('Errors')
    expect(card.get('[data-role="value"]').text()).toBe('15')
    expect(card.get('[data-role="value"]').classes()).toContain('tone-danger')
    expect(card.get('[data-role="sub"]').text()).toBe('4 missed bars')
  })

  it('leaves out the line under the value when there is none', () => {
    const card = mount(StatCard, { props: { label: 'Alerts', value: '0' } })

    expect(card.find('[data-role="sub"]').exists()).toBe(false)
    expect(card.get('[data-role="value"]').classes()).toContain('tone-neutral')
  })

  it('colours the P&L line by its sign', () => {
    const card = mount(StatCard, { props: { label: 'Open positions', value: '2', sub: 'Unrealised P&L -3.00', subTone: 'danger' } })

    expect(card.get('[data-role="sub"]').classes()).toContain('tone-danger')
  })
})
