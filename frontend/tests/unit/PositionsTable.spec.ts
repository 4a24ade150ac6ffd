import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import PositionsTable from '@/components/PositionsTable.vue'
import { positionMake } from './fixtures'

describe('PositionsTable', () => {
  it('has the columns of the spec and shows SL and TP', () => {
    const table = mount(PositionsTable, { props: { positions: [positionMake()] } })

    expect(table.findAll('th').map((th) => th.text())).toEqual([
      'Symbol',
      'Side',
      'Quantity',
      'Entry price',
      'Current price',
      'SL',
      'TP',
      'P&L',
    ])
    const row = table.get('[data-testid="position-row"]')
    expect(row.get('[data-role="sl"]').text()).toBe('38,000')
    expect(row.get('[data-role="tp"]').text()).toBe('46,000')
    expect(row.text()).toContain('0.124875')
  })

  it('shows a gain in green and a loss in red', () => {
    const table = mount(PositionsTable, {
      props: {
        positions: [positionMake({ id: 1, unrealized_pnl: '12.5' }), positionMake({ id: 2, unrealized_pnl: '-7.25' })],
      },
    })
    const tones = table.findAll('[data-role="pnl"] .pnl').map((cell) => cell.attributes('data-tone'))

    expect(tones).toEqual(['success', 'danger'])
  })

  it('shows a warning badge, with the difference as its tooltip, when the books differ', () => {
    const warning = 'the exchange holds 5500 DOGE but the open position (DOGE/USDT) holds 7302 DOGE'
    const table = mount(PositionsTable, {
      props: { positions: [positionMake({ id: 1, book_warning: warning }), positionMake({ id: 2 })] },
    })
    const badges = table.findAll('[data-testid="book-warning"]')

    expect(badges).toHaveLength(1)
    expect(badges[0].attributes('title')).toBe(warning)
    expect(badges[0].text()).toBe('books differ')
  })

  it('shows the realised P&L of a closed position', () => {
    const table = mount(PositionsTable, {
      props: { positions: [positionMake({ status: 'closed', unrealized_pnl: '0', realized_pnl: '-20' })], history: true },
    })

    expect(table.get('[data-role="pnl"]').text()).toBe('-20.00')
    expect(table.get('[data-role="pnl"] .pnl').attributes('data-tone')).toBe('danger')
  })
})
