// Ready TradingView alert messages, one per action, with the fixed field names of DESIGN §3 and
// README's "Pointing a TradingView alert at Aristobot" (the same examples, filled with the user's ids).
import type { TradingViewAction } from '@/api/types'

export interface TemplateContext {
  token: string
  userId: number | string
  brokerId: number | string
}

const DESCRIPTIONS: Record<TradingViewAction, string> = {
  BuyMarket: 'Buy with PourCent % of the free quote balance; protected with PrixSL / PrixTP once filled.',
  BuyLimit: 'A limit buy at Prix (required), protected once filled.',
  SellMarket: 'Sell PourCent % of the position (100 closes it and cancels its protection).',
  SellLimit: 'A limit sell of PourCent % of the position at Prix (required).',
  MAJ: 'Replace the stop-loss and take-profit of the open position (PrixSL or PrixTP required).',
  PING: 'Liveness once per bar: recorded, nothing traded.',
}

/** The action-specific fields, in README's order; the numbers are examples to replace. */
const FIELDS: Record<TradingViewAction, Record<string, string>> = {
  BuyMarket: { Prix: '{{close}}', PrixSL: '38000', PrixTP: '46000', PourCent: '50' },
  BuyLimit: { Prix: '39500', PrixSL: '38000', PrixTP: '46000', PourCent: '50' },
  SellMarket: { Prix: '{{close}}', PourCent: '100' },
  SellLimit: { Prix: '45000', PourCent: '100' },
  MAJ: { Prix: '{{close}}', PrixSL: '41000', PrixTP: '48000' },
  PING: { Prix: '{{close}}' },
}

export function templateDescription(action: TradingViewAction): string {
  return DESCRIPTIONS[action]
}

/** The alert's fields as an object (TradingView replaces the {{…}} placeholders). */
export function alertFields(action: TradingViewAction, context: TemplateContext): Record<string, string> {
  return {
    Token: context.token,
    Symbol: '{{ticker}}',
    Exchange: '{{exchange}}',
    Interval: '{{interval}}',
    BarTime: '{{timenow}}',
    Action: action,
    ...FIELDS[action],
    UserID: String(context.userId),
    ...brokerField(context),
  }
}

/** Without a broker id the user's default broker is used: then the field is left out. */
function brokerField(context: TemplateContext): Record<string, string> {
  return context.brokerId === '' ? {} : { UserExchangeID: String(context.brokerId) }
}

/** The text to paste in the alert's Message box. */
export function alertMessage(action: TradingViewAction, context: TemplateContext): string {
  const fields = Object.entries(alertFields(action, context))
  return `{${fields.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(', ')}}`
}

/** A PING like TradingView would send, with concrete values, for "send a test alert". */
export function testPing(context: TemplateContext, now: Date = new Date()): Record<string, string> {
  return {
    Token: context.token,
    Symbol: 'BTCUSDT',
    Exchange: 'BINANCE',
    Interval: '1',
    BarTime: now.toISOString(),
    Action: 'PING',
    UserID: String(context.userId),
    ...brokerField(context),
  }
}
