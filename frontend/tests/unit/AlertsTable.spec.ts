import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import AlertsTable from '@/components/AlertsTable.vue'
import { alertMake } from './fixtures'

const alerts = [
  alertMake({ id: 1, action: 'BuyMarket', status: 'processed' }),
  alertMake({ id: 2, action: 'SellMarket', status: 'error', error_message: 'broker Paper is OFF' }),
  alertMake({ id: 3, action: 'MISS', status: 'miss', order_id: '', prix: null }),
  alertMake({ id: 4, action: 'PING', status: 'processing' }),
  alertMake({ id: 5, action: 'MAJ', status: 'processed' }),
]

describe('AlertsTable', () => {
  it('has the eight columns of the spec', () => {
    const table = mount(AlertsTable, { props: { alerts } })

    expect(table.findAll('th').map((th) => th.text())).toEqual([
      'Date / time',
      'Exchange',
      'Symbol',
      'Action',
      'Price',
      '%',
      'Status',
      'Order id',
    ])
    expect(table.findAll('[data-testid="alert-row"]')[0].findAll('td')).toHaveLength(8)
  })

  it('marks each row with its status and action for the browser tests', () => {
    const table = mount(AlertsTable, { props: { alerts } })
    const rows = table.findAll('[data-testid="alert-row"]')

    expect(rows.map((row) => [row.attributes('data-action'), row.attributes('data-status')])).toEqual([
      ['BuyMarket', 'processed'],
      ['SellMarket', 'error'],
      ['MISS', 'miss'],
      ['PING', 'processing'],
      ['MAJ', 'processed'],
    ])
  })

  it('colours actions and statuses', () => {
    const table = mount(AlertsTable, { props: { alerts } })
    const rows = table.findAll('[data-testid="alert-row"]')
    const tones = rows.map((row) => [
      row.get('[data-testid="action-badge"]').attributes('data-tone'),
      row.get('[data-testid="status-badge"]').attributes('data-tone'),
    ])

    expect(tones).toEqual([
      ['success', 'success'],
      ['danger', 'danger'],
      ['warning', 'muted'],
      ['muted', 'warning'],
      ['info', 'success'],
    ])
  })

  it('highlights error and MISS rows only', () => {
    const table = mount(AlertsTable, { props: { alerts } })
    const highlighted = table
      .findAll('[data-testid="alert-row"]')
      .filter((row) => row.classes().includes('attention'))
      .map((row) => row.attributes('data-id'))

    expect(highlighted).toEqual(['2', '3'])
    expect(table.get('[data-id="3"]').classes()).toContain('miss')
  })

  it('shows the error message on hover', () => {
    const table = mount(AlertsTable, { props: { alerts } })

    expect(table.get('[data-id="2"]').attributes('title')).toBe('Error: broker Paper is OFF')
    expect(table.get('[data-id="1"]').attributes('title')).toBeUndefined()
  })

  it('opens the alert clicked', async () => {
    const table = mount(AlertsTable, { props: { alerts } })

    await table.get('[data-id="2"]').trigger('click')

    expect(table.emitted('open')?.[0]?.[0]).toMatchObject({ id: 2 })
  })

  it('says when there is nothing in the period', () => {
    const table = mount(AlertsTable, { props: { alerts: [] } })

    expect(table.text()).toContain('No alerts in this period.')
  })
})
