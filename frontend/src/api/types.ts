// The API's shapes (issue 5's contract). Money and quantities are exact decimal strings.

export type Decimal = string

export interface User {
  id: number
  username: string
  email: string
  first_name: string
  last_name: string
  is_staff: boolean
}

export interface Page<T> {
  count: number
  next: string | null
  previous: string | null
  results: T[]
}

export type Period = '24h' | '7d' | '30d'
export const PERIODS: readonly Period[] = ['24h', '7d', '30d']

export type AlertAction = 'BuyMarket' | 'BuyLimit' | 'SellMarket' | 'SellLimit' | 'MAJ' | 'PING' | 'MISS'
export const TRADINGVIEW_ACTIONS = ['BuyMarket', 'BuyLimit', 'SellMarket', 'SellLimit', 'MAJ', 'PING'] as const
export type TradingViewAction = (typeof TRADINGVIEW_ACTIONS)[number]

export type AlertStatus = 'received' | 'processing' | 'processed' | 'error' | 'miss'

export interface Alert {
  id: number
  user: number | null
  user_username: string | null
  broker: number | null
  broker_name: string | null
  exchange_name: string | null
  symbol: string
  exchange: string
  interval: string
  action: string
  prix: Decimal | null
  prix_sl: Decimal | null
  prix_tp: Decimal | null
  pour_cent: Decimal | null
  status: AlertStatus | string
  order_id: string
  error_message: string
  raw_payload: Record<string, unknown>
  received_at: string
  processed_at: string | null
}

export interface AlertStats {
  total_webhooks: number
  received: number
  processing: number
  processed: number
  errors: number
  missed: number
  actions_breakdown: Record<string, number>
  success_rate: number | string | null
  last_webhook_time: string | null
  period_start: string
  period_end: string
}

export type PositionStatus = 'open' | 'closed'

export interface Position {
  id: number
  user: number
  user_username: string
  broker: number
  broker_name: string
  exchange_name: string
  symbol: string
  side: string
  quantity: Decimal
  entry_price: Decimal
  current_price: Decimal | null
  stop_loss_price: Decimal | null
  stop_loss_order_id: string
  take_profit_price: Decimal | null
  take_profit_order_id: string
  unrealized_pnl: Decimal
  realized_pnl: Decimal
  status: PositionStatus | string
  opened_at: string
  updated_at: string
  closed_at: string | null
  /** A difference between these books and the exchange's (shown until it agrees again); '' when none. */
  book_warning: string
}

export interface PositionSummary {
  open_positions_count: number
  total_unrealized_pnl: Decimal | number
  active_symbols: string[]
}

export interface Order {
  id: number
  user: number
  broker: number
  broker_name: string
  exchange_name: string
  webhook: number | null
  position: number | null
  client_order_id: string
  exchange_order_id: string
  symbol: string
  kind: string
  side: string
  type: string
  amount: Decimal
  price: Decimal | null
  stop_price: Decimal | null
  status: string
  filled: Decimal
  average_price: Decimal | null
  fee: Decimal
  error_message: string
  created_at: string
  updated_at: string
}

export type TypeDeTrading = 'OFF' | 'Strategie' | 'Webhooks'
export const TYPES_DE_TRADING: readonly TypeDeTrading[] = ['OFF', 'Strategie', 'Webhooks']

/** A broker's settings: what the API answers and what the form sends alike. */
interface BrokerSettings {
  name: string
  exchange: string
  api_base_url?: string
  is_testnet: boolean
  is_active: boolean
  is_default: boolean
  type_de_trading: TypeDeTrading
}

export interface Broker extends BrokerSettings {
  id: number
  has_api_key: boolean
  has_api_secret: boolean
  has_api_password?: boolean
  created_at?: string
  updated_at?: string
}

/** What the brokers form sends: credentials only when typed (write-only, never read back). */
export interface BrokerInput extends BrokerSettings {
  api_key?: string
  api_secret?: string
  api_password?: string
}

export interface WebhookToken {
  id: number
  prefix: string
  label: string
  created_at: string
  revoked_at?: string | null
}

/** The answer to a token creation: the only time the plain token is shown. */
export interface CreatedWebhookToken extends WebhookToken {
  token: string
  webhook_url: string
}

/** A live push message from /ws/webhooks/. */
export interface LiveEvent {
  type: 'webhook' | 'position' | 'order'
  event: 'created' | 'updated'
  data: Record<string, unknown>
}
