import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import ActionBadge from '@/components/ActionBadge.vue'
import PnlValue from '@/components/PnlValue.vue'
import StatusBadge from '@/components/StatusBadge.vue'

describe('ActionBadge', () => {
  it.each([
    ['BuyMarket', 'success'],
    ['BuyLimit', 'success'],
    ['SellMarket', 'danger'],
    ['SellLimit', 'danger'],
    ['MAJ', 'info'],
    ['PING', 'muted'],
    ['MISS', 'warning'],
  ])('colours %s as %s', (action, tone) => {
    const badge = mount(ActionBadge, { props: { action } })

    expect(badge.text()).toBe(action)
    expect(badge.attributes('data-tone')).toBe(tone)
    expect(badge.classes()).toContain(`tone-${tone}`)
  })
})

describe('StatusBadge', () => {
  it.each([
    ['processed', 'success'],
    ['error', 'danger'],
    ['processing', 'warning'],
    ['received', 'warning'],
  ])('colours %s as %s', (status, tone) => {
    const badge = mount(StatusBadge, { props: { status } })

    expect(badge.attributes('data-tone')).toBe(tone)
    expect(badge.classes()).toContain(`tone-${tone}`)
  })

  it('carries the error message as its hover text', () => {
    const badge = mount(StatusBadge, { props: { status: 'error', title: 'broker is OFF' } })

    expect(badge.attributes('title')).toBe('broker is OFF')
  })
})

describe('PnlValue', () => {
  it.each([
    ['124.875', 'success', '+124.88'],
    ['-3.5', 'danger', '-3.50'],
    ['0', 'neutral', '0.00'],
    [null, 'neutral', '—'],
  ])('shows %s in %s as %s', (value, tone, text) => {
    const pnl = mount(PnlValue, { props: { value } })

    expect(pnl.attributes('data-tone')).toBe(tone)
    expect(pnl.classes()).toContain(`tone-${tone}`)
    expect(pnl.text()).toBe(text)
  })
})
