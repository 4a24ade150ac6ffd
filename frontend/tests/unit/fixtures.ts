// Objects shaped like the API's answers, for the component tests.
import type { Alert, AlertStats, Broker, Position } from '@/api/types'

export function alertMake(overrides: Partial<Alert> = {}): Alert {
  return {
    id: 1,
    user: 3,
    user_username: 'alice',
    broker: 5,
    broker_name: 'Paper',
    exchange_name: 'paper',
    symbol: 'BTCUSDT',
    exchange: 'BINANCE',
    interval: '5',
    action: 'BuyMarket',
    prix: '40000',
    prix_sl: '38000',
    prix_tp: '46000',
    pour_cent: '50',
    status: 'processed',
    order_id: '17',
    error_message: '',
    raw_payload: { Symbol: 'BTCUSDT', Action: 'BuyMarket' },
    received_at: '2026-01-05T10:00:00.123Z',
    processed_at: '2026-01-05T10:00:00.180Z',
    ...overrides,
  }
}

export function positionMake(overrides: Partial<Position> = {}): Position {
  return {
    id: 7,
    user: 3,
    user_username: 'alice',
    broker: 5,
    broker_name: 'Paper',
    exchange_name: 'paper',
    symbol: 'BTC/USDT',
    side: 'long',
    quantity: '0.124875',
    entry_price: '40000',
    current_price: '41000',
    stop_loss_price: '38000',
    stop_loss_order_id: 'sl-1',
    take_profit_price: '46000',
    take_profit_order_id: 'tp-1',
    unrealized_pnl: '124.875',
    realized_pnl: '0',
    status: 'open',
    opened_at: '2026-01-05T10:00:00Z',
    updated_at: '2026-01-05T10:05:00Z',
    closed_at: null,
    book_warning: '',
    ...overrides,
  }
}

export function statsMake(overrides: Partial<AlertStats> = {}): AlertStats {
  return {
    total_webhooks: 120,
    received: 0,
    processing: 1,
    processed: 100,
    errors: 15,
    missed: 4,
    actions_breakdown: { PING: 60, BuyMarket: 20 },
    success_rate: 84.03,
    last_webhook_time: '2026-01-05T10:00:00Z',
    period_start: '2026-01-04T10:00:05Z',
    period_end: '2026-01-05T10:00:05Z',
    ...overrides,
  }
}

export function brokerMake(overrides: Partial<Broker> = {}): Broker {
  return {
    id: 5,
    name: 'Paper',
    exchange: 'paper',
    api_base_url: '',
    is_testnet: false,
    is_active: true,
    is_default: true,
    type_de_trading: 'Webhooks',
    has_api_key: false,
    has_api_secret: false,
    has_api_password: false,
    ...overrides,
  }
}

/** A JSON Response like Django's. */
export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

/** Every cookie of the jsdom document removed. */
export function cookiesClear(): void {
  for (const part of document.cookie.split(';')) {
    const name = part.split('=')[0].trim()
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`
  }
}
