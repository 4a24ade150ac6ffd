// The REST endpoints the dashboard uses, one small function each (paths and names: issue 5).
import { api, type Query } from './client'
import type {
  Alert,
  AlertStats,
  Broker,
  BrokerInput,
  CreatedWebhookToken,
  Order,
  Page,
  Period,
  Position,
  PositionSummary,
  User,
  WebhookToken,
} from './types'

const id = (value: number): string => String(Math.trunc(value))

export const authApi = {
  me: () => api<User>('/api/auth/me/'),
  login: (username: string, password: string) =>
    api<User>('/api/auth/login/', { method: 'POST', body: { username, password } }),
  logout: () => api<null>('/api/auth/logout/', { method: 'POST' }),
}

export interface AlertFilters {
  period?: Period
  broker?: number | ''
  symbol?: string
  action?: string
  status?: string
  ordering?: string
  page?: number
  page_size?: number
}

export const alertsApi = {
  list: (filters: AlertFilters = {}) =>
    api<Page<Alert>>('/api/webhooks/', { query: { ordering: '-received_at', ...filters } as Query }),
  get: (alertId: number) => api<Alert & { orders?: Order[] }>(`/api/webhooks/${id(alertId)}/`),
  stats: (period: Period, brokerId: number | '' = '') =>
    api<AlertStats>('/api/webhooks/stats/', { query: { period, broker_id: brokerId } }),
}

export interface PositionFilters {
  status?: string
  broker?: number | ''
  symbol?: string
  ordering?: string
  page?: number
  page_size?: number
}

export const positionsApi = {
  list: (filters: PositionFilters = {}) => api<Page<Position>>('/api/webhook-states/', { query: filters as Query }),
  summary: (brokerId: number | '' = '') =>
    api<PositionSummary>('/api/webhook-states/summary/', { query: { broker: brokerId } }),
}

export interface OrderFilters {
  broker?: number | ''
  symbol?: string
  status?: string
  webhook?: number | ''
  position?: number | ''
  page?: number
  page_size?: number
}

export const ordersApi = {
  list: (filters: OrderFilters = {}) => api<Page<Order>>('/api/orders/', { query: filters as Query }),
}

/** A list endpoint may answer a page or, unpaginated, a plain array. */
export function rows<T>(answer: Page<T> | T[]): T[] {
  return Array.isArray(answer) ? answer : answer.results
}

export const brokersApi = {
  list: () => api<Page<Broker> | Broker[]>('/api/brokers/', { query: { page_size: 100 } }),
  create: (input: BrokerInput) => api<Broker>('/api/brokers/', { method: 'POST', body: input }),
  update: (brokerId: number, input: Partial<BrokerInput>) =>
    api<Broker>(`/api/brokers/${id(brokerId)}/`, { method: 'PATCH', body: input }),
  remove: (brokerId: number) => api<null>(`/api/brokers/${id(brokerId)}/`, { method: 'DELETE' }),
  testConnection: (brokerId: number) =>
    api<Record<string, unknown>>(`/api/brokers/${id(brokerId)}/test-connection/`, { method: 'POST' }),
  balance: (brokerId: number) => api<Record<string, unknown>>(`/api/brokers/${id(brokerId)}/balance/`),
}

export const tokensApi = {
  list: () => api<Page<WebhookToken> | WebhookToken[]>('/api/webhook-tokens/', { query: { page_size: 100 } }),
  create: (label: string) => api<CreatedWebhookToken>('/api/webhook-tokens/', { method: 'POST', body: { label } }),
  revoke: (tokenId: number) => api<null>(`/api/webhook-tokens/${id(tokenId)}/`, { method: 'DELETE' }),
}
