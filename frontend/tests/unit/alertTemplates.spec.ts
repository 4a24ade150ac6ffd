import { describe, expect, it } from 'vitest'
import { TRADINGVIEW_ACTIONS } from '@/api/types'
import { alertFields, alertMessage, testPing } from '@/utils/alertTemplates'

const context = { token: 'abt_secret', userId: 3, brokerId: 5 }

describe('alert templates', () => {
  it('fill the fixed field names with the user and broker ids', () => {
    expect(alertFields('BuyMarket', context)).toEqual({
      Token: 'abt_secret',
      Symbol: '{{ticker}}',
      Exchange: '{{exchange}}',
      Interval: '{{interval}}',
      BarTime: '{{timenow}}',
      Action: 'BuyMarket',
      Prix: '{{close}}',
      PrixSL: '38000',
      PrixTP: '46000',
      PourCent: '50',
      UserID: '3',
      UserExchangeID: '5',
    })
  })

  it('use only the fields of DESIGN §3', () => {
    const allowed = new Set(['Token', 'Symbol', 'Exchange', 'Interval', 'BarTime', 'Action', 'Prix', 'PrixSL', 'PrixTP', 'PourCent', 'UserID', 'UserExchangeID'])
    for (const action of TRADINGVIEW_ACTIONS) {
      for (const field of Object.keys(alertFields(action, context))) expect(allowed).toContain(field)
    }
  })

  it('require a price for limit orders and SL/TP for MAJ', () => {
    expect(alertFields('BuyLimit', context).Prix).toMatch(/^\d+$/)
    expect(alertFields('SellLimit', context).Prix).toMatch(/^\d+$/)
    expect(alertFields('MAJ', context)).toMatchObject({ PrixSL: '41000', PrixTP: '48000' })
  })

  it('leave out the broker to use the default one', () => {
    expect(alertFields('PING', { ...context, brokerId: '' })).not.toHaveProperty('UserExchangeID')
  })

  it('are valid JSON on one line, ready to paste', () => {
    for (const action of TRADINGVIEW_ACTIONS) {
      const message = alertMessage(action, context)
      expect(message).not.toContain('\n')
      expect(JSON.parse(message)).toEqual(alertFields(action, context))
    }
  })

  it('make a test PING with a unique bar time', () => {
    const ping = testPing(context, new Date('2026-01-05T10:00:00.123Z'))

    expect(ping).toMatchObject({ Action: 'PING', Symbol: 'BTCUSDT', BarTime: '2026-01-05T10:00:00.123Z', UserExchangeID: '5' })
  })
})
